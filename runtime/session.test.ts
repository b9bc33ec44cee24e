import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, type FunctionContext, fn, type StorageAdapter, workflow } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "ratchet-session-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const adapters: [string, () => StorageAdapter][] = [
  ["memory", () => memory()],
  ["sqlite", () => sqlite({ path: join(dir, `session-${++files}.db`), synchronous: "normal" })],
];

const pause = fn(
  async (_ctx: FunctionContext, ms: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
  },
  { retries: 0 },
);

const visit = workflow(async (ctx, times: number) => {
  for (let i = 0; i < times; i++) {
    await ctx.step(pause, 1);
    // A read and the write after it in one stretch between checkpoints are atomic.
    const count = await ctx.session.state.get("visits", 0);
    await ctx.session.state.set("visits", (count ?? 0) + 1);
  }
  await ctx.state.set("done", true);
  return await ctx.session.state.get("visits");
});

const greet = workflow(async (ctx, name: string) => {
  const last = await ctx.session.state.get<string>("last");
  await ctx.session.state.set("last", name);
  await ctx.step(pause, 0);
  return last ?? "nobody";
});

describe.each(adapters)("session state on %s", (_name, makeStorage) => {
  it("is shared by the runs of one session and separate between sessions", async () => {
    const engine = createEngine({ storage: makeStorage(), workflows: [visit, greet] });
    expect(await engine.run(greet, ["ada"], { sessionId: "s1" })).toBe("nobody");
    expect(await engine.run(greet, ["grace"], { sessionId: "s1" })).toBe("ada");
    expect(await engine.run(greet, ["alan"], { sessionId: "s2" })).toBe("nobody");
    await engine.close();
  });

  it("two concurrent runs of one session never lose an update", async () => {
    const engine = createEngine({ storage: makeStorage(), workflows: [visit, greet] });
    const a = await engine.start(visit, [15], { sessionId: "shared" });
    const b = await engine.start(visit, [15], { sessionId: "shared" });
    const results = await Promise.all([a.result(), b.result()]);
    expect(Math.max(...(results as number[]))).toBe(30);
    await engine.close();
  });

  it("explains a session read in a run started without a session", async () => {
    const engine = createEngine({ storage: makeStorage(), workflows: [visit, greet] });
    await expect(engine.run(greet, ["x"])).rejects.toThrow(/sessionId/);
    await engine.close();
  });
});
