import {
  CancelledError,
  createEngine,
  FrameTooLargeError,
  type FunctionContext,
  fn,
  LeaseLostError,
  type Logger,
  type RatchetError,
  registerClass,
  type StorageAdapter,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { describe, expect, it } from "vitest";
import { durable } from "../test/support/durable-store.js";

const logged: string[] = [];
const logger: Logger = {
  debug() {},
  info() {},
  warn(_f, message) {
    logged.push(message);
  },
  error(_f, message) {
    logged.push(message);
  },
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const echo = fn(async (_ctx: FunctionContext, value: unknown) => value, { retries: 0 });

describe("bad values fail one run, never the worker", () => {
  const big = workflow(async (ctx, size: number) => {
    const blob = "x".repeat(size);
    await ctx.step(echo, 1);
    return blob.length;
  });
  const late = workflow(async (ctx) => {
    await ctx.sleepUntil(1e20);
    return "woke";
  });
  const fine = workflow(async (ctx, n: number) => (await ctx.step(echo, n)) as number);

  it("a frame over maxFrameBytes is refused before commit, naming the variable", async () => {
    const engine = createEngine({
      storage: memory(),
      workflows: [big, late, fine],
      maxFrameBytes: 64 * 1024,
      logger,
    });
    const tooBig = await engine.start(big, [100_000]);
    const error = await tooBig.result().catch((e: unknown) => e);
    expect(error, String(error)).toBeInstanceOf(FrameTooLargeError);
    expect((error as FrameTooLargeError).code).toBe("RATCHET_FRAME_TOO_LARGE");
    expect((error as Error).message).toContain('variable "blob"');
    expect((error as Error).message).toContain(`of run ${tooBig.id}`);
    expect((error as Error).message).toContain("maxFrameBytes");
    // Under the limit, the same workflow completes; other runs never noticed.
    expect(await engine.run(big, [1000])).toBe(1000);
    expect(await engine.run(fine, [7])).toBe(7);
    await engine.close();
  });

  it("a wake time no store can hold fails that run with a clear error", async () => {
    const engine = createEngine({ storage: memory(), workflows: [late, fine], logger });
    const run = await engine.start(late, []);
    const error = (await run.result().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/wake time at checkpoint .* of run .* is 100000000000000000000/);
    expect(await engine.run(fine, [1])).toBe(1);
    await engine.close();
  });

  it("maxFrameBytes must be a whole number of bytes", () => {
    expect(() =>
      createEngine({ storage: memory(), workflows: [], maxFrameBytes: 1.5, worker: false }),
    ).toThrow(/maxFrameBytes must be a whole number/);
  });
});

describe("a frame naming a class this process does not register", () => {
  class Money {
    constructor(readonly cents: number) {}
  }
  const pay = fn(async (_ctx: FunctionContext, cents: number) => new Money(cents), { retries: 0 });
  const billing = workflow(async (ctx, cents: number) => {
    const money = await ctx.step(pay, cents);
    await ctx.sleep(50);
    return money.cents;
  });

  it("parks the run with that reason instead of failing it", async () => {
    const storage = durable(memory());
    registerClass(Money, {
      name: "ExecutorTestMoney",
      serialize: (m) => m.cents,
      deserialize: (cents) => new Money(cents as number),
    });
    const engine = createEngine({ storage, workflows: [billing], logger });
    const run = await engine.start(billing, [250]);
    await until(async () => (await run.status()) === "sleeping", "the run to sleep");
    await engine.close();
    // Corrupt nothing: rename the class in the stored frame, as a process that never
    // registered it would see the frame.
    const stored = (await storage.loadRun(run.id))!;
    const renamed = stored.frame!.replaceAll("ExecutorTestMoney", "ExecutorTestMissing");
    expect(renamed).not.toBe(stored.frame);
    await (storage as StorageAdapter & { init(): Promise<void> }).init();
    const seq = stored.seq;
    const claimed = await storage.claimRunnable({
      owner: "tamper",
      leaseMs: 1000,
      limit: 1,
      wakeBefore: Date.now() + 60_000,
    });
    expect(claimed.map((r) => r.id)).toEqual([run.id]);
    expect(
      (
        await storage.commit({
          runId: run.id,
          expectedSeq: seq,
          owner: "tamper",
          status: "pending",
          frame: renamed,
          wakeAt: null,
        })
      ).ok,
    ).toBe(true);

    const second = createEngine({
      storage,
      workflows: [billing],
      logger,
      worker: { pollIntervalMs: 5 },
    });
    const again = await second.get(run.id);
    await until(async () => (await again.status()) === "parked", "the run to be parked");
    expect(await again.parkedReason()).toMatch(/ExecutorTestMissing.*registerClass/s);
    // Once the process registers the class, its worker resumes the run where it was parked,
    // with no retry and no restart.
    class Missing {
      constructor(readonly cents: number) {}
    }
    registerClass(Missing, {
      name: "ExecutorTestMissing",
      serialize: (m) => m.cents,
      deserialize: (cents) => new Missing(cents as number),
    });
    expect(await again.result()).toBe(250);
    await second.close();
  });
});

describe("a lost lease stops work", () => {
  const seen: { aborted: boolean; reason: unknown }[] = [];
  const started: string[] = [];
  const hold = fn(
    async (ctx: FunctionContext, item: string) => {
      started.push(item);
      const signal = ctx.signal;
      await sleep(item === "slow" ? 600 : 20);
      if (item === "slow") seen.push({ aborted: signal.aborted, reason: signal.reason });
      return item;
    },
    { retries: 0 },
  );
  const batchy = workflow(async (ctx) => {
    const first = await ctx.step(hold, "slow");
    const { results } = await ctx.batch(hold, ["a", "b", "c", "d"], { maxConcurrency: 1 });
    return [first, results.length];
  });

  it("aborts ctx.signal and starts no further step once the lease lapsed and another worker took the run", async () => {
    const base = memory();
    // Renewals fail for a while (a network partition): the lease lapses while the first
    // step runs, and another worker claims the run; then renewals get through again.
    let partitioned = true;
    const storage: StorageAdapter = new Proxy(base, {
      get(target, key) {
        if (key === "renewLeases" && partitioned) {
          return async () => {
            throw Object.assign(new Error("injected: connection reset"), { code: "ECONNRESET" });
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const engine = createEngine({
      storage,
      workflows: [batchy],
      logger,
      worker: { leaseMs: 200, pollIntervalMs: 10_000 },
    });
    const run = await engine.start(batchy, []);
    // Past the lease, another worker claims the run while the slow step still runs.
    await sleep(300);
    const stolen = await base.claimRunnable({ owner: "thief", leaseMs: 60_000, limit: 1 });
    expect(stolen.map((r) => r.id)).toEqual([run.id]);
    partitioned = false;
    await until(() => seen.length === 1, "the slow step to end");
    expect(seen[0]!.aborted).toBe(true);
    expect(seen[0]!.reason).toBeInstanceOf(LeaseLostError);
    expect((seen[0]!.reason as RatchetError).code).toBe("RATCHET_LEASE_LOST");
    await sleep(100);
    // Its commit was refused and nothing after the step started in this process.
    expect(started).toEqual(["slow"]);
    expect((await base.loadRun(run.id))!.seq).toBe(0);
    await engine.close();
  });
});

describe("child runs", () => {
  const wait = fn(
    async (_ctx: FunctionContext, ms: number) => {
      await sleep(ms);
      return ms;
    },
    { retries: 0 },
  );
  const slowChild = workflow(async (ctx) => {
    await ctx.sleep("1h");
    return (await ctx.step(wait, 1)) as number;
  });
  const parent = workflow(async (ctx) => {
    try {
      return await ctx.child(slowChild, [], { runId: "the-child" });
    } catch (error) {
      return `${(error as Error).name}: ${(error as Error).message}`;
    }
  });

  it("a cancelled child ends its parent's wait with the CancelledError", async () => {
    const engine = createEngine({ storage: memory(), workflows: [parent, slowChild], logger });
    const run = await engine.start(parent, []);
    await until(async () => (await run.status()) === "waiting", "the parent to wait");
    expect(await (await engine.get("the-child")).cancel()).toBe(true);
    expect(await run.result()).toBe(`${CancelledError.name}: Run the-child was cancelled.`);
    await engine.close();
  });
});
