import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEngine,
  type Engine,
  type FunctionContext,
  fn,
  type Logger,
  type StorageAdapter,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { faulty } from "./support/faulty-store.js";

/**
 * Storage faults around running workers: every storage call fails, hangs or loses its answer
 * at random (after it applied, as a connection dropped mid-commit does). Workers must retry,
 * resolve lost commit answers by re-reading the run, never exit or leave an unhandled
 * rejection (vitest fails the file on one), and finish every run exactly once.
 */
const dir = mkdtempSync(join(tmpdir(), "ratchet-faults-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const adapters: [string, () => StorageAdapter][] = [
  ["memory", () => memory()],
  [
    "sqlite",
    () => sqlite({ path: join(dir, `faults-${Math.random()}.db`), synchronous: "normal" }),
  ],
];

/** Executions of each step, by `runId:what`. */
const executions = new Map<string, number>();
const record = fn(
  async (ctx: FunctionContext, what: string, n: number) => {
    const key = `${ctx.runId}:${what}`;
    executions.set(key, (executions.get(key) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, 2));
    return n + 1;
  },
  { retries: 0 },
);

const mark = fn(
  async (ctx: FunctionContext, what: string) => {
    const key = `${ctx.runId}:${what}`;
    executions.set(key, (executions.get(key) ?? 0) + 1);
    return what;
  },
  { retries: 0 },
);

/** A run that is only ever read here. */
const readable = workflow(async () => "read");

const inner = workflow(async (ctx, n: number) => {
  const once = await ctx.step(record, "inner", n);
  return once * 10;
});

const flaky = workflow(async (ctx, n: number) => {
  const a = await ctx.step(record, "a", n);
  const [b, c] = await ctx.parallel(ctx.step(record, "b", a), ctx.step(record, "c", a));
  await ctx.sleep(5);
  const { results } = await ctx.batch(mark, ["x", "y", "z"], { maxConcurrency: 2 });
  const d = await ctx.child(inner, [b + c]);
  return { n, a, b, c, d, items: results.length };
});

const quiet: Logger & { lines: string[] } = {
  lines: [],
  debug() {},
  info() {},
  warn(_fields, message) {
    quiet.lines.push(message);
  },
  error(_fields, message) {
    quiet.lines.push(`error: ${message}`);
  },
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(adapters)("storage faults on %s", (_name, makeStorage) => {
  it("three workers over a store that fails, hangs and drops answers finish every run once", {
    timeout: 90_000,
  }, async () => {
    const store = makeStorage();
    await store.init();
    const runs = 24;
    const { storage, counts, setPlan } = faulty(store, {
      fail: 0.08,
      lose: 0.08,
      hang: 0.05,
      hangMs: 40,
    });
    const engines: Engine[] = Array.from({ length: 3 }, () =>
      createEngine({
        storage,
        workflows: [flaky, inner],
        logger: quiet,
        worker: { leaseMs: 5000, pollIntervalMs: 20, maxConcurrentRuns: 10 },
      }),
    );
    // Starts are the caller's to retry (with an idempotency key, a repeat starts nothing).
    const ids: string[] = [];
    for (let n = 0; n < runs; n++) {
      for (let attempt = 0; ; attempt++) {
        try {
          ids.push((await engines[n % 3]!.start(flaky, [n], { idempotencyKey: `k${n}` })).id);
          break;
        } catch (error) {
          if (attempt > 20) throw error;
          await sleep(5);
        }
      }
    }
    const deadline = performance.now() + 60_000;
    for (;;) {
      const done = (await store.listRuns({ workflow: "flaky", status: "completed" })).length;
      if (done === runs) break;
      if (performance.now() > deadline) {
        throw new Error(
          `only ${done} of ${runs} runs completed; faults: ${JSON.stringify(counts)}`,
        );
      }
      await sleep(50);
    }
    setPlan({});
    await Promise.all(engines.map((e) => e.close()));

    expect(counts.failed + counts.lost).toBeGreaterThan(20);
    const stored = await store.listRuns({ workflow: "flaky" });
    expect(stored).toHaveLength(runs);
    const reader = createEngine({ storage: store, workflows: [flaky, inner], worker: false });
    for (const run of stored) {
      expect(run.status, run.id).toBe("completed");
      const n = ids.indexOf(run.id);
      expect(await (await reader.get(run.id)).result()).toStrictEqual({
        n,
        a: n + 1,
        b: n + 2,
        c: n + 2,
        d: (2 * n + 4 + 1) * 10,
        items: 3,
      });
    }
    // Every step of every run ran exactly once: no lost answer made a step run again.
    for (const id of ids) {
      for (const what of ["a", "b", "c", "x", "y", "z"]) {
        expect(executions.get(`${id}:${what}`), `${id}:${what}`).toBe(1);
      }
    }
    const children = await store.listRuns({ workflow: "inner" });
    expect(children).toHaveLength(runs);
    for (const child of children) expect(executions.get(`${child.id}:inner`)).toBe(1);
    expect(quiet.lines.some((l) => l.includes("re-reading the run"))).toBe(true);
    await reader.close();
  });
});

describe("reads made for a caller under storage faults", () => {
  it("engine.get and a handle's status are retried; start rejects and is repeated with its key", async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const { storage, counts, setPlan } = faulty(memory(), {}, random);
    const quiet: Logger = { warn() {}, error() {}, info() {}, debug() {} };
    const engine = createEngine({ storage, workflows: [readable], worker: false, logger: quiet });
    const run = await engine.start(readable, [], { idempotencyKey: "once" });
    setPlan({ fail: 0.3 });
    for (let i = 0; i < 8; i++) {
      const handle = await engine.get(run.id);
      expect(await handle.status()).toBe("pending");
    }
    expect(counts.failed).toBeGreaterThan(0);
    // A creation is not repeated by the engine (its answer may be lost after it applied):
    // the caller sees the error, and calling again with the same key gives the one run.
    setPlan({ fail: 1 });
    await expect(engine.start(readable, [], { idempotencyKey: "twice" })).rejects.toThrow(
      /injected fault/,
    );
    setPlan({});
    const again = await engine.start(readable, [], { idempotencyKey: "once" });
    expect(again.id).toBe(run.id);
    await engine.close();
  });
});
