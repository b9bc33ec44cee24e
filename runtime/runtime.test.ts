import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEngine,
  type Engine,
  FatalError,
  type FunctionContext,
  fn,
  RetryableError,
  SerializationError,
  type StorageAdapter,
  TimeoutError,
  UnknownWorkflowError,
  WorkflowNotCompiledError,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { evolvingV2 } from "../test/fixtures/evolving.js";
import { eventually } from "../test/support/eventually.js";

const dir = mkdtempSync(join(tmpdir(), "ratchet-runtime-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let dbCount = 0;

const adapters: [string, () => StorageAdapter][] = [
  ["memory", () => memory()],
  ["sqlite", () => sqlite({ path: join(dir, `runtime-${++dbCount}.db`) })],
];

const calls: string[] = [];
const fast = { initialDelay: 1, maxDelay: 5 } as const;

const double = fn(async (_ctx: FunctionContext, n: number) => {
  calls.push(`double(${n})`);
  return n * 2;
});

const addAll = workflow(async (ctx, a: number, b: number) => {
  const x = await ctx.step(double, a);
  const y = await ctx.step(double, b);
  const label = await ctx.step("label", () => `sum=${x + y}`);
  return { x, y, label };
});

/** Run 1 holds its step until `gates.open()`; the rest record that they ran. */
const gates = {
  entered: (): void => {},
  opened: Promise.resolve(),
  ran: [] as number[],
};
const gated = workflow(async (ctx, n: number) => {
  await ctx.step("hold", async () => {
    if (n === 1) {
      gates.entered();
      await gates.opened;
    }
    gates.ran.push(n);
  });
  return n;
});

const flaky = new Map<string, number>();
const attempts: FunctionContext[] = [];
const flakyStep = fn(
  async (ctx: FunctionContext, key: string, failures: number) => {
    attempts.push(ctx);
    const seen = (flaky.get(key) ?? 0) + 1;
    flaky.set(key, seen);
    if (seen <= failures) throw new RangeError(`attempt ${seen} of ${key} failed`);
    return `${key} ok after ${seen}`;
  },
  { retries: { max: 3, ...fast } },
);
const retrying = workflow(async (ctx, key: string, failures: number) => {
  const value = await ctx.step(flakyStep, key, failures);
  return value;
});

class PaymentDeclined extends Error {
  override name = "PaymentDeclined";
  readonly declineCode = "insufficient_funds";
}
let fatalCalls = 0;
const fatal = fn(
  async () => {
    fatalCalls++;
    throw new FatalError("card stolen");
  },
  { retries: 5 },
);
const declines = fn(
  async () => {
    throw new PaymentDeclined("declined");
  },
  { retries: { max: 1, ...fast } },
);
const fatalWorkflow = workflow(async (ctx) => {
  await ctx.step(fatal);
});
const declineWorkflow = workflow(async (ctx) => {
  await ctx.step(declines);
});

let retryAfterTimes: number[] = [];
const asksForRetry = fn(
  async (ctx: FunctionContext) => {
    retryAfterTimes.push(Date.now());
    if (ctx.attempt === 1) throw new RetryableError("busy", { retryAfter: "150ms" });
    return ctx.attempt;
  },
  { retries: 1 },
);
const retryAfterWorkflow = workflow(async (ctx) => {
  const attempt = await ctx.step(asksForRetry);
  return attempt;
});

let sawAbort = false;
const slow = fn(
  async (ctx: FunctionContext) => {
    ctx.signal.addEventListener("abort", () => {
      sawAbort = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    return "late";
  },
  { timeout: 20, retries: { max: 1, ...fast } },
);
const timeoutWorkflow = workflow(async (ctx) => {
  const value = await ctx.step(slow);
  return value;
});

class Connection {
  constructor(readonly url: string) {}
}
const keepsConnection = workflow(async (ctx, url: string) => {
  const conn = new Connection(url);
  const n = await ctx.step(double, 1);
  return `${conn.url}:${n}`;
});
const makeConnection = fn(async (_ctx: FunctionContext, url: string) => new Connection(url));
const returnsConnection = workflow(async (ctx, url: string) => {
  const conn = await ctx.step(makeConnection, url);
  return conn.url;
});
const dropsDeadValues = workflow(async (ctx, url: string) => {
  const conn = new Connection(url);
  const big = new Array(100_000).fill(conn.url);
  const size = big.length;
  const n = await ctx.step(double, size);
  return n;
});

const bodyThrows = workflow(async (ctx, n: number) => {
  const x = await ctx.step(double, n);
  if (x > 1) throw new TypeError(`too big: ${x}`);
  return x;
});

const evolving = workflow({ name: "evolving" }, async (ctx, id: string) => {
  const a = await ctx.step(double, id.length);
  return a;
});

const keys: string[] = [];
const recordKey = fn(async (ctx: FunctionContext) => {
  keys.push(ctx.idempotencyKey);
});
const loopKeys = workflow(async (ctx, n: number) => {
  for (let i = 0; i < n; i++) await ctx.step(recordKey);
});

let inFlight = 0;
let peak = 0;
const slowSquare = fn(
  async (_ctx: FunctionContext, n: number) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 5));
    inFlight--;
    return n * n;
  },
  { retries: 0 },
);
const batched = workflow(async (ctx, items: number[]) => {
  const squares = await ctx.map(slowSquare, items, { maxConcurrency: 3 });
  const [first, label] = await ctx.parallel(
    ctx.step(double, 1),
    ctx.step("label", () => "x"),
  );
  // Typed tuple: a number and a string.
  const typed: [number, string] = [first, label];
  return { squares, typed };
});

const alias = workflow;
const notCompiled = alias({ name: "notCompiled" }, async () => 1);

const all = [
  addAll,
  retrying,
  fatalWorkflow,
  declineWorkflow,
  retryAfterWorkflow,
  timeoutWorkflow,
  keepsConnection,
  returnsConnection,
  dropsDeadValues,
  bodyThrows,
  evolving,
  loopKeys,
  batched,
];

describe.each(adapters)("runtime on %s", (_name, makeStorage) => {
  let engine: Engine;
  let storage: StorageAdapter;
  const open = (options: { worker?: boolean } = {}) => {
    storage = makeStorage();
    engine = createEngine({
      storage,
      workflows: all,
      worker: options.worker ?? { pollIntervalMs: 20 },
    });
    return engine;
  };
  afterEach(async () => {
    await engine.close();
  });

  it("runs steps in order and checkpoints each one", async () => {
    calls.length = 0;
    const seen: string[] = [];
    storage = makeStorage();
    engine = createEngine({
      storage,
      workflows: all,
      onCheckpoint: (e) => seen.push(`${e.checkpoint.id}@${e.seq}`),
    });
    const run = await engine.start(addAll, [2, 5]);
    expect(await run.result()).toEqual({ x: 4, y: 10, label: "sum=14" });
    expect(await run.status()).toBe("completed");
    expect(calls).toEqual(["double(2)", "double(5)"]);
    expect(seen).toEqual([
      expect.stringMatching(/^step:double~[0-9a-f]{6}@1$/),
      expect.stringMatching(/^step:double~[0-9a-f]{6}@2$/),
      "step:label@3",
    ]);
    expect(seen[0]).not.toBe(seen[1]!.replace("@2", "@1"));
    const again = await engine.get<{ x: number }>(run.id);
    expect((await again.result()).x).toBe(4);
    const listed = await engine.list({ workflow: "addAll" });
    expect(listed.map((r) => r.id)).toContain(run.id);
  });

  it("starts a run waiting for capacity when a run ends, under fake timers", async () => {
    let open = (): void => {};
    const entered = new Promise<void>((resolve) => {
      gates.entered = resolve;
    });
    gates.opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    gates.ran = [];
    storage = makeStorage();
    // Both runs stored before a worker with room for one looks: run 2 waits for run 1's end.
    const client = createEngine({ storage, workflows: [gated], worker: false });
    await client.start(gated, [1]);
    await client.start(gated, [2]);
    engine = createEngine({
      storage,
      workflows: [gated],
      worker: { maxConcurrentRuns: 1, pollIntervalMs: 60_000 },
    });
    await entered;
    vi.useFakeTimers();
    try {
      open();
      // No timer is advanced: the end of run 1 alone must start run 2.
      for (let turn = 0; turn < 10_000 && gates.ran.length < 2; turn++) {
        await new Promise<void>((resolve) => process.nextTick(resolve));
      }
      expect(gates.ran).toStrictEqual([1, 2]);
    } finally {
      // The SQLite adapter writes steps at the next turn (setImmediate): let those go.
      await vi.runOnlyPendingTimersAsync();
      vi.useRealTimers();
    }
  });

  it("hands a run's result to its caller before the worker claims again", async () => {
    const events: string[] = [];
    const store = makeStorage();
    const claim = store.claimRunnable.bind(store);
    store.claimRunnable = (options) => {
      events.push("claim");
      return claim(options);
    };
    const commit = store.commit.bind(store);
    store.commit = (change) => {
      if (change.status === "completed") events.push("completed");
      return commit(change);
    };
    storage = store;
    engine = createEngine({ storage, workflows: all });
    await engine.list({ limit: 1 });
    const result = await engine.run(addAll, [1, 2]);
    events.push("result");
    expect(result).toEqual({ x: 2, y: 4, label: "sum=6" });
    // Whether or not a claim was under way before, the first one after the run ended comes
    // after its caller had the result. The worker claims again once woken by the run's end.
    await eventually(
      async () => events.slice(events.indexOf("completed")),
      (after) => after.includes("claim"),
    );
    expect(events.slice(events.indexOf("completed"))).toEqual(["completed", "result", "claim"]);
  });

  it("retries a failing step with the same idempotency key", async () => {
    open();
    attempts.length = 0;
    const key = `k-${Math.random()}`;
    const run = await engine.start(retrying, [key, 2]);
    expect(await run.result()).toBe(`${key} ok after 3`);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(new Set(attempts.map((a) => a.idempotencyKey)).size).toBe(1);
    expect(attempts[0]!.idempotencyKey).toBe(`${run.id}:step:flakyStep:1`);
  });

  it("gives every pass of a step in a loop its own idempotency key", async () => {
    open();
    keys.length = 0;
    const run = await engine.start(loopKeys, [3]);
    await run.result();
    expect(keys).toEqual([1, 2, 3].map((n) => `${run.id}:step:recordKey:${n}`));
  });

  it("honours maxConcurrency in ctx.map and types ctx.parallel as a tuple", async () => {
    open();
    peak = 0;
    const result = await engine.run(batched, [[1, 2, 3, 4, 5, 6, 7]]);
    expect(result.squares).toEqual([1, 4, 9, 16, 25, 36, 49]);
    expect(result.typed).toEqual([2, "x"]);
    expect(peak).toBe(3);
  });

  it("fails with the last attempt's error once retries are spent (retries: n means n + 1 runs)", async () => {
    open();
    attempts.length = 0;
    const key = `k-${Math.random()}`;
    const run = await engine.start(retrying, [key, 10]);
    const error = (await run.result().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe(`attempt 4 of ${key} failed`);
    expect(attempts).toHaveLength(4);
    expect(await run.status()).toBe("failed");
  });

  it("keeps the error's class name, message, data and stack", async () => {
    open();
    const error = (await engine
      .run(declineWorkflow, [])
      .catch((e: unknown) => e)) as PaymentDeclined;
    expect(error.name).toBe("PaymentDeclined");
    expect(error.message).toBe("declined");
    expect(error.declineCode).toBe("insufficient_funds");
    expect(error.stack).toContain("runtime.test.ts");
  });

  it("stops retrying at a FatalError", async () => {
    open();
    fatalCalls = 0;
    await expect(engine.run(fatalWorkflow, [])).rejects.toBeInstanceOf(FatalError);
    expect(fatalCalls).toBe(1);
  });

  it("waits retryAfter before the next attempt", async () => {
    open();
    retryAfterTimes = [];
    expect(await engine.run(retryAfterWorkflow, [])).toBe(2);
    expect(retryAfterTimes[1]! - retryAfterTimes[0]!).toBeGreaterThanOrEqual(140);
  });

  it("times out a slow attempt, aborts its signal and retries", async () => {
    open();
    sawAbort = false;
    await expect(engine.run(timeoutWorkflow, [])).rejects.toBeInstanceOf(TimeoutError);
    expect(sawAbort).toBe(true);
  });

  it("rejects a live unserializable variable naming it and the checkpoint, committing nothing", async () => {
    open();
    const run = await engine.start(keepsConnection, ["db://x"]);
    const error = (await run.result().catch((e: unknown) => e)) as SerializationError;
    expect(error).toBeInstanceOf(SerializationError);
    expect(error.message).toContain('variable "conn"');
    expect(error.message).toContain("step:double");
    expect(error.message).toContain("Connection");
    expect(error.message).toContain(run.id);
    const stored = await storage.loadRun(run.id);
    expect(stored!.frame).toBeNull();
    expect(stored!.status).toBe("failed");
  });

  it("rejects an unserializable step result by name", async () => {
    open();
    const error = (await engine
      .run(returnsConnection, ["db://y"])
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(SerializationError);
    expect(error.message).toContain("the result of step:makeConnection");
  });

  it("does not persist values dead at a checkpoint", async () => {
    open();
    const run = await engine.start(dropsDeadValues, ["db://z"]);
    expect(await run.result()).toBe(200_000);
    const stored = await storage.loadRun(run.id);
    expect(stored!.frame!.length).toBeLessThan(200);
  });

  it("fails with an error thrown by the body itself", async () => {
    open();
    const error = (await engine.run(bodyThrows, [3]).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe("too big: 6");
  });

  it("deduplicates starts by idempotency key", async () => {
    open();
    calls.length = 0;
    const first = await engine.start(addAll, [1, 1], { idempotencyKey: "once" });
    const second = await engine.start(addAll, [9, 9], { idempotencyKey: "once" });
    expect(second.id).toBe(first.id);
    expect(await second.result()).toEqual({ x: 2, y: 2, label: "sum=4" });
    expect(calls).toEqual(["double(1)", "double(1)"]);
  });

  it("explains unknown and uncompiled workflows", async () => {
    open();
    const stranger = alias({ name: "stranger" }, async () => 1);
    await expect(engine.start(stranger, [])).rejects.toBeInstanceOf(UnknownWorkflowError);
    await expect(engine.start(evolvingV2, ["x"])).rejects.toThrow(/is not the one registered/);
    const withUncompiled = createEngine({ storage: memory(), workflows: [notCompiled] });
    await expect(withUncompiled.start(notCompiled, [])).rejects.toThrow(WorkflowNotCompiledError);
    await expect(withUncompiled.start(notCompiled, [])).rejects.toThrow(/ratchetjs\/register/);
    await withUncompiled.close();
  });

  it("starts a run that reached no checkpoint on the code of the engine that claims it", async () => {
    storage = makeStorage();
    const producer = createEngine({ storage, workflows: [evolving], worker: false });
    const run = await producer.start(evolving, ["abc"]);
    expect(await run.status()).toBe("pending");
    engine = producer;
    // Nothing of the first version's position is stored yet: the new code runs it from the top.
    const v2 = createEngine({ storage, workflows: [evolvingV2], worker: { pollIntervalMs: 10 } });
    expect(await (await v2.get(run.id)).result()).toBe("abc!");
    await v2.close();
  });

  it("takes over a run whose owner died once its lease expires", async () => {
    storage = makeStorage();
    await storage.init();
    const argsText = "[[1,2],3,4]";
    await storage.createRun({
      id: "orphan",
      workflow: "addAll",
      version: addAll.compiled!.manifest.version,
      args: argsText,
      leaseOwner: "dead-process",
      leaseMs: 100,
    });
    engine = createEngine({ storage, workflows: all, worker: { pollIntervalMs: 10 } });
    const started = Date.now();
    expect(await (await engine.get("orphan")).result()).toEqual({ x: 6, y: 8, label: "sum=14" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });
});
