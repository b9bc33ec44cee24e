import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, event, type StorageAdapter, workflow } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "ratchet-emit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const welcome = workflow(
  { triggers: [event("user.signup")] },
  async (ctx, user: { id: string }) => await ctx.step("greet", () => `hello ${user.id}`),
);
const audit = workflow(
  { triggers: [event("user.signup")] },
  async (ctx, user: { id: string }) => await ctx.step("log", () => `audited ${user.id}`),
);

describe.each<[string, () => StorageAdapter]>([
  ["memory", () => memory()],
  ["sqlite", () => sqlite({ path: join(dir, `${Math.random()}.db`) })],
])("emit with an idempotency key on %s", (_name, storage) => {
  it("starts each triggered workflow once however often the emit is repeated", async () => {
    const engine = createEngine({ storage: storage(), workflows: [welcome, audit] });
    try {
      const first = await engine.emit("user.signup", { id: "u1" }, { idempotencyKey: "evt_1" });
      const again = await engine.emit("user.signup", { id: "u1" }, { idempotencyKey: "evt_1" });
      expect(first.started).toHaveLength(2);
      expect(again.started).toStrictEqual(first.started);
      const other = await engine.emit("user.signup", { id: "u2" }, { idempotencyKey: "evt_2" });
      expect(other.started.filter((id) => first.started.includes(id))).toEqual([]);
      expect(await engine.list()).toHaveLength(4);
      for (const id of first.started) await (await engine.get(id)).result();
    } finally {
      await engine.close();
    }
  });
});

describe("emit options", () => {
  it("a retried emit from another process starts nothing new", async () => {
    const path = join(dir, "shared.db");
    const producer = createEngine({
      storage: sqlite({ path }),
      workflows: [welcome],
      worker: false,
    });
    const retried = createEngine({
      storage: sqlite({ path }),
      workflows: [welcome],
      worker: false,
    });
    try {
      const first = await producer.emit("user.signup", { id: "u9" }, { idempotencyKey: "evt_9" });
      const second = await retried.emit("user.signup", { id: "u9" }, { idempotencyKey: "evt_9" });
      expect(second.started).toStrictEqual(first.started);
      expect(await retried.list()).toHaveLength(1);
    } finally {
      await producer.close();
      await retried.close();
    }
  });

  it("refuses unknown options and a bad key, saying what is accepted", async () => {
    const engine = createEngine({ storage: memory(), workflows: [welcome], worker: false });
    try {
      await expect(engine.emit("user.signup", {}, { delay: 5 } as never)).rejects.toThrow(
        'engine.emit("user.signup", payload, options): unknown option "delay"; the options are idempotencyKey, runId.',
      );
      await expect(engine.emit("user.signup", {}, { idempotencyKey: "" })).rejects.toThrow(
        /idempotencyKey must be a non-empty string/,
      );
    } finally {
      await engine.close();
    }
  });
});
