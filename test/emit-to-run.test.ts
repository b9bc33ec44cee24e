import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEngine,
  DeliveryError,
  type RunHandle,
  RunNotFoundError,
  type StorageAdapter,
  TimeoutError,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "ratchet-emit-run-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Holds the run before its first wait until the test lets it go. */
let release: () => void = () => {};
let gate = Promise.resolve();
const closeGate = () => {
  gate = new Promise((resolve) => {
    release = resolve;
  });
};

/**
 * Waits for "go" twice, the second time briefly: a second delivery of one event would be
 * the second wait's answer instead of its timeout.
 */
const twice = workflow(async (ctx, order: string) => {
  await ctx.step("prepare", () => gate);
  const first = await ctx.waitForEvent<{ order: string; n: number }>("go", { match: { order } });
  let second: unknown = "timed out";
  try {
    second = await ctx.waitForEvent("go", { match: { order }, timeout: "300ms" });
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
  }
  return { first: first.n, second };
});

async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met within 20 s");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const waiting = (run: RunHandle) => until(async () => (await run.status()) === "waiting");

describe.each<[string, () => StorageAdapter]>([
  ["memory", () => memory()],
  ["sqlite", () => sqlite({ path: join(dir, `${Math.random()}.db`) })],
])("emit to one run on %s", (_name, storage) => {
  it("keeps an event emitted before the run waits, and delivers it once", async () => {
    const engine = createEngine({ storage: storage(), workflows: [twice] });
    try {
      closeGate();
      const run = await engine.start(twice, ["A"]);
      const other = await engine.start(twice, ["A"]);
      const outcome = await engine.emit("go", { order: "A", n: 1 }, { runId: run.id });
      expect(outcome).toStrictEqual({ started: [], delivered: [], rejected: [] });
      release();
      expect(await run.result()).toStrictEqual({ first: 1, second: "timed out" });
      // Addressed to one run: the other, waiting for a matching event, got nothing.
      await waiting(other);
      await engine.emit("go", { order: "A", n: 2 });
      expect(await other.result()).toStrictEqual({ first: 2, second: "timed out" });
    } finally {
      await engine.close();
    }
  });

  it("delivers at once to a run waiting for it now, and keeps what its wait refuses", async () => {
    const engine = createEngine({ storage: storage(), workflows: [twice] });
    try {
      const run = await engine.start(twice, ["B"]);
      await waiting(run);
      const refused = await engine.emit("go", { order: "other", n: 0 }, { runId: run.id });
      expect(refused.delivered).toEqual([]);
      const now = await engine.emit("go", { order: "B", n: 1 }, { runId: run.id });
      expect(now.delivered).toEqual([run.id]);
      expect(await run.result()).toStrictEqual({ first: 1, second: "timed out" });
    } finally {
      await engine.close();
    }
  });

  it("delivers an event emitted twice with the same key once, addressed or not", async () => {
    const engine = createEngine({ storage: storage(), workflows: [twice] });
    try {
      const run = await engine.start(twice, ["C"]);
      await waiting(run);
      const first = await engine.emit("go", { order: "C", n: 1 }, { idempotencyKey: "evt-1" });
      expect(first.delivered).toEqual([run.id]);
      // The run waits again at once; the repeated key must not answer that wait.
      const again = await engine.emit("go", { order: "C", n: 1 }, { idempotencyKey: "evt-1" });
      expect(again.delivered).toEqual([]);
      expect(await run.result()).toStrictEqual({ first: 1, second: "timed out" });

      closeGate();
      const addressed = await engine.start(twice, ["D"]);
      for (let i = 0; i < 2; i++) {
        await engine.emit("go", { order: "D", n: 7 }, { runId: addressed.id, idempotencyKey: "e" });
      }
      release();
      expect(await addressed.result()).toStrictEqual({ first: 7, second: "timed out" });
    } finally {
      await engine.close();
    }
  });

  it("refuses an unknown run and one that has ended", async () => {
    const engine = createEngine({ storage: storage(), workflows: [twice] });
    try {
      await expect(engine.emit("go", {}, { runId: "ghost" })).rejects.toThrow(RunNotFoundError);
      const run = await engine.start(twice, ["E"]);
      await waiting(run);
      await run.cancel();
      await expect(engine.emit("go", {}, { runId: run.id })).rejects.toThrow(DeliveryError);
      await expect(engine.emit("go", {}, { runId: "" })).rejects.toThrow(
        /runId must be a non-empty string/,
      );
    } finally {
      await engine.close();
    }
  });
});

it("an event kept for a run survives an engine restart and is delivered once", async () => {
  const path = join(dir, "restart.db");
  gate = Promise.resolve();
  const producer = createEngine({ storage: sqlite({ path }), workflows: [twice], worker: false });
  let runId: string;
  try {
    runId = (await producer.start(twice, ["R"])).id;
    const outcome = await producer.emit("go", { order: "R", n: 3 }, { runId, idempotencyKey: "k" });
    expect(outcome.delivered).toEqual([]);
  } finally {
    await producer.close();
  }
  const worker = createEngine({ storage: sqlite({ path }), workflows: [twice] });
  try {
    const again = await worker.emit("go", { order: "R", n: 3 }, { runId, idempotencyKey: "k" });
    expect(again.delivered).toEqual([]);
    const run = await worker.get(runId);
    expect(await run.result()).toStrictEqual({ first: 3, second: "timed out" });
  } finally {
    await worker.close();
  }
});
