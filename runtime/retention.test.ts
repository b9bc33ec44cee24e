import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEngine,
  type Engine,
  type FunctionContext,
  fn,
  type StorageAdapter,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, afterEach, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "ratchet-retention-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let dbCount = 0;

const adapters: [string, () => StorageAdapter][] = [
  ["memory", () => memory()],
  ["sqlite", () => sqlite({ path: join(dir, `retention-${++dbCount}.db`) })],
];

const echo = fn(async (_ctx: FunctionContext, value: string) => value, { name: "echo" });
const boom = fn(
  async (_ctx: FunctionContext): Promise<string> => {
    throw new Error("boom");
  },
  { name: "boom", retries: 0 },
);

const greet = workflow(async (ctx, name: string) => {
  const shared = (await ctx.session.state.get<number>("count")) ?? 0;
  await ctx.session.state.set("count", shared + 1);
  return await ctx.step(echo, `hello ${name}`);
});
const crash = workflow(async (ctx) => await ctx.step(boom));
const nap = workflow(async (ctx) => {
  await ctx.sleep("1h");
});

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(adapters)("retention and purge (%s)", (_name, makeStorage) => {
  let engine: Engine | undefined;
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
  });

  it("purges finished runs by age and status, never unfinished ones", async () => {
    engine = createEngine({
      storage: makeStorage(),
      workflows: [greet, crash, nap],
      history: true,
    });
    await engine.run(greet, ["ada"], { sessionId: "s1", idempotencyKey: "greet-ada" });
    await expect(engine.run(crash, [])).rejects.toThrow("boom");
    const sleeper = await engine.start(nap, []);
    await until(async () => (await sleeper.status()) === "sleeping", "the nap");

    expect(await engine.purge()).toBe(0);
    expect(await engine.purge({ olderThan: "1h" })).toBe(0);
    await expect(engine.purge({ status: "sleeping" as never })).rejects.toThrow(
      /"sleeping" is not a finished status/,
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    const progress: number[] = [];
    expect(
      await engine.purge({ olderThan: 0, status: "failed", onProgress: (n) => progress.push(n) }),
    ).toBe(1);
    expect(progress).toEqual([1]);
    expect((await engine.list()).map((r) => r.workflow).sort()).toEqual(["greet", "nap"]);
    expect(await engine.purge({ olderThan: 0 })).toBe(1);
    expect((await engine.list()).map((r) => r.workflow)).toEqual(["nap"]);

    // The idempotency key is free again, and the session state went with its last run.
    const again = await engine.start(greet, ["ada"], {
      sessionId: "s1",
      idempotencyKey: "greet-ada",
    });
    expect(await again.result()).toBe("hello ada");
    expect((await again.info()).steps).toHaveLength(1);
  });

  it("deletes runs past the retention in the background", async () => {
    const logged: string[] = [];
    const logger = {
      debug() {},
      info: (_f: Record<string, unknown>, message: string) => void logged.push(message),
      warn() {},
      error() {},
    };
    engine = createEngine({
      storage: makeStorage(),
      workflows: [greet, nap],
      retention: "50ms",
      logger,
    });
    await engine.run(greet, ["bob"], { sessionId: "s2" });
    const sleeper = await engine.start(nap, []);
    await until(async () => (await engine!.list()).length === 1, "the finished run to be deleted");
    expect((await engine.list())[0]!.id).toBe(sleeper.id);
    expect(logged.some((m) => /deleted 1 finished run\(s\) past the retention/.test(m))).toBe(true);
  });

  it("keeps everything with retention: false", async () => {
    engine = createEngine({ storage: makeStorage(), workflows: [greet], retention: false });
    await engine.run(greet, ["cy"], { sessionId: "s3" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await engine.list()).toHaveLength(1);
  });
});
