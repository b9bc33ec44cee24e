import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEngine,
  createTestClock,
  type Engine,
  type Logger,
  type StorageAdapter,
  TimeoutError,
  type Workflow,
  workflow,
} from "ratchetjs";
import { terminalStatuses } from "ratchetjs/adapters";
import { memory } from "ratchetjs/adapters/memory";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { createTestEngine } from "ratchetjs/testing";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { toMilliseconds } from "../runtime/duration.js";
import { deserialize } from "../runtime/serialization.js";
import { durable } from "./support/durable-store.js";
import { load, type OracleCase } from "./support/oracle.js";
import { openTestDatabase } from "./support/postgres.js";
import { stepLog } from "./support/steps.js";

/**
 * `ctx.waitForEvent(name, { match: predicate })`: the run wakes for each event of that name,
 * tests it with the predicate in its own frame and waits again when it is refused, until the
 * deadline of the first wait. The oracle is the untransformed body against a plain `ctx` that
 * implements the documented semantics directly; the compiled workflow must give the same
 * result and steps — uninterrupted, and crashed after each of its commits (re-waits included)
 * and resumed by a second engine — on memory, a SQLite file and the real Postgres server.
 */

const dir = mkdtempSync(join(tmpdir(), "ratchet-wait-predicate-"));
const db = await openTestDatabase();
afterEach(() => db.cleanUp());
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await db.end();
});

/** What the test does while the run waits: emit an event, or move the clock. */
type Action =
  | {
      readonly emit: string;
      readonly payload: unknown;
      /** Address the event to the run: kept until it waits for it. */
      readonly toRun?: true;
      readonly key?: string;
    }
  | { readonly advance: string };

interface EventCase extends OracleCase {
  readonly name: string;
  readonly script: readonly Action[];
}

type Outcome =
  | { ok: true; value: unknown; steps: string[] }
  | { ok: false; error: string; steps: string[] };

/** A TimeoutError's message says where the wait was; compare its class only. */
const describeError = (error: unknown): string => {
  const e = error as Error;
  return e?.name === "TimeoutError" ? "TimeoutError" : `${e?.name}: ${e?.message}`;
};

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

/**
 * The documented semantics, written plainly: a wait takes the first event of its name
 * emitted after it began that its match accepts (a predicate is called with the payload; if
 * it throws, the wait throws that); its timeout counts from when it began; an event addressed
 * to the run is kept until the run waits for that name, and a predicate wait takes (consumes)
 * the kept events of its name oldest first until one is accepted; an idempotency key already
 * seen by the run delivers nothing.
 */
async function runPlainEvents(
  body: (ctx: unknown, ...args: unknown[]) => Promise<unknown>,
  args: readonly unknown[],
  script: readonly Action[],
): Promise<Outcome> {
  stepLog.length = 0;
  let now = 0;
  type Waiter = {
    name: string;
    match: unknown;
    deadline: number | null;
    resolve: (v: unknown) => void;
    reject: (e: unknown) => void;
  };
  let waiter: Waiter | undefined;
  let sleeper: { until: number; resolve: () => void } | undefined;
  const keys = new Set<string>();
  const kept: { name: string; payload: unknown }[] = [];
  /** Offer a payload to the waiter; whether it was taken (accepted, or the predicate threw). */
  const offer = (payload: unknown): boolean => {
    const w = waiter!;
    if (typeof w.match === "function") {
      let accepted: unknown;
      try {
        accepted = w.match(payload);
      } catch (error) {
        waiter = undefined;
        w.reject(error);
        return true;
      }
      if (!accepted) return false;
    } else if (w.match) {
      const fields = w.match as Record<string, unknown>;
      const p = payload as Record<string, unknown> | null;
      if (typeof p !== "object" || p === null) return false;
      if (!Object.entries(fields).every(([k, v]) => p[k] === v)) return false;
    }
    waiter = undefined;
    w.resolve(payload);
    return true;
  };
  const offerKept = () => {
    for (let i = 0; waiter && i < kept.length; ) {
      const event = kept[i]!;
      if (event.name !== waiter.name) {
        i++;
        continue;
      }
      if (typeof waiter.match === "function") {
        kept.splice(i, 1);
        if (offer(event.payload)) return;
      } else if (offer(event.payload)) {
        kept.splice(i, 1);
        return;
      } else {
        i++;
      }
    }
  };
  const ctx = {
    async step(target: unknown, ...rest: unknown[]) {
      if (typeof target === "string") return await (rest[0] as () => unknown)();
      return await (target as (c: unknown, ...a: unknown[]) => unknown)({}, ...rest);
    },
    sleep(duration: string) {
      return new Promise<void>((resolve) => {
        sleeper = { until: now + toMilliseconds(duration), resolve };
      });
    },
    waitForEvent(name: string, options: { match?: unknown; timeout?: string } = {}) {
      return new Promise((resolve, reject) => {
        waiter = {
          name,
          match: options.match,
          deadline: options.timeout === undefined ? null : now + toMilliseconds(options.timeout),
          resolve,
          reject,
        };
        offerKept();
      });
    },
  };
  let outcome: Outcome | undefined;
  body(ctx, ...args).then(
    (value) => {
      outcome = { ok: true, value, steps: [...stepLog] };
    },
    (error: unknown) => {
      outcome = { ok: false, error: describeError(error), steps: [...stepLog] };
    },
  );
  await settle();
  for (const action of script) {
    if (outcome) break;
    if ("advance" in action) {
      now += toMilliseconds(action.advance);
      if (sleeper && sleeper.until <= now) {
        const s = sleeper;
        sleeper = undefined;
        s.resolve();
      } else if (waiter && waiter.deadline !== null && waiter.deadline <= now) {
        const w = waiter;
        waiter = undefined;
        w.reject(new TimeoutError("timed out"));
      }
    } else {
      if (action.key !== undefined) {
        if (keys.has(action.key)) continue;
        keys.add(action.key);
      }
      if (action.toRun) {
        kept.push({ name: action.emit, payload: action.payload });
        if (waiter) offerKept();
      } else if (waiter && waiter.name === action.emit) {
        offer(action.payload);
      }
    }
    await settle();
  }
  if (!outcome) throw new Error("the plain body did not end with its script");
  return outcome;
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The compiled workflow on `storage`, driven by the script: each action once the run is
 * idle (waiting or sleeping with nothing due, nothing kept for it that its wait would take).
 * With `crashAfter` = k, the first engine stops right after its k-th commit and a second
 * engine on the same store (and clock) carries on.
 */
async function runCompiledEvents(
  workflow: Workflow,
  args: readonly unknown[],
  script: readonly Action[],
  storage: StorageAdapter,
  crashAfter?: number,
): Promise<Outcome & { commits: number }> {
  stepLog.length = 0;
  const clock = createTestClock(0);
  let commits = 0;
  let crashed = false;
  const open = (crashing: boolean): Engine =>
    createEngine({
      storage,
      workflows: [workflow],
      clock,
      logger: quiet,
      worker: { pollIntervalMs: 5 },
      ...(crashing
        ? {
            onCheckpoint: () => {
              commits++;
              if (commits === crashAfter) {
                crashed = true;
                void first.close();
              }
            },
          }
        : {}),
    });
  const first = open(true);
  let engine = first;
  const handle = await engine.start(workflow, [...args] as never);
  const idle = async (): Promise<boolean> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (crashed && engine === first) {
        await first.close();
        engine = open(false);
      }
      const run = (await storage.loadRun(handle.id))!;
      if (terminalStatuses.has(run.status)) return true;
      const due = run.wakeAt != null && run.wakeAt <= clock.now();
      if ((run.status === "waiting" || run.status === "sleeping") && !due && !run.leaseOwner) {
        const wait = run.wait ? (deserialize(run.wait) as { name?: string; tested?: true }) : {};
        const kept = (await storage.pendingEvents!(handle.id)).filter((e) => e.name === wait.name);
        // A field match leaves the kept events it refuses; a tested wait takes every one.
        if (run.status === "sleeping" || !wait.tested || kept.length === 0) return false;
      }
      if (Date.now() > deadline)
        throw new Error(`run ${handle.id} never became idle: ${run.status}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  try {
    let ended = await idle();
    for (const action of script) {
      if (ended) break;
      if ("advance" in action) clock.advance(toMilliseconds(action.advance));
      else {
        await engine.emit(action.emit, action.payload, {
          ...(action.toRun ? { runId: handle.id } : {}),
          ...(action.key === undefined ? {} : { idempotencyKey: action.key }),
        });
      }
      ended = await idle();
    }
    if (!ended) throw new Error(`run ${handle.id} still waits after the script`);
    try {
      const value = await (await engine.get(handle.id)).result();
      return { ok: true, value, steps: [...stepLog], commits };
    } catch (error) {
      return { ok: false, error: describeError(error), steps: [...stepLog], commits };
    }
  } finally {
    await first.close();
    if (engine !== first) await engine.close();
  }
}

const bids: EventCase = {
  name: "a predicate closing over workflow variables, tested once per event",
  params: "limit",
  args: [10],
  body: `
  let tested = 0;
  const min = await ctx.step(add, limit, 0);
  const bid = await ctx.waitForEvent("bid", { match: (b) => { tested++; return b.amount >= min; }, timeout: "1h" });
  await ctx.step(echo, bid.amount);
  return { bid, tested };`,
  script: [
    { emit: "bid", payload: { amount: 5 } },
    { emit: "other", payload: { amount: 50 } },
    { emit: "bid", payload: { amount: 7 } },
    { advance: "10m" },
    { emit: "bid", payload: { amount: 12 } },
    { emit: "bid", payload: { amount: 13 } },
  ],
};

const deadline: EventCase = {
  name: "the timeout counts from the first wait, not from the last refused event",
  params: "",
  args: [],
  body: `
  let tested = 0;
  try {
    await ctx.waitForEvent("bid", { match: (b) => { tested++; return b.amount > 100; }, timeout: "1h" });
    return "accepted";
  } catch (error) {
    await ctx.step(echo, tested);
    return [error.name, tested];
  }`,
  script: [
    { advance: "40m" },
    { emit: "bid", payload: { amount: 1 } },
    { advance: "30m" },
    { emit: "bid", payload: { amount: 500 } },
  ],
};

const uncaughtTimeout: EventCase = {
  name: "a timeout not caught ends the run with TimeoutError",
  params: "",
  args: [],
  body: `
  await ctx.waitForEvent("bid", { match: (b) => b.amount > 100, timeout: "5m" });
  return "accepted";`,
  script: [{ emit: "bid", payload: { amount: 1 } }, { advance: "5m" }],
};

const throwing: EventCase = {
  name: "a predicate that throws: the error is thrown at the await",
  params: "",
  args: [],
  body: `
  const seen = [];
  try {
    await ctx.waitForEvent("job", { match: (j) => { seen.push(j.id); if (j.bad) throw new RangeError("bad job " + j.id); return j.ok; } });
    return "done";
  } catch (error) {
    await ctx.step(echo, error.message);
    const next = await ctx.waitForEvent("job", { match: (j) => j.ok === true });
    return [error.name, error.message, seen, next.id];
  }`,
  script: [
    { emit: "job", payload: { id: 1, ok: false } },
    { emit: "job", payload: { id: 2, bad: true } },
    { emit: "job", payload: { id: 3, ok: false } },
    { emit: "job", payload: { id: 4, ok: true } },
  ],
};

const uncaughtThrow: EventCase = {
  name: "a predicate that throws, not caught, fails the run with that error",
  params: "",
  args: [],
  body: `
  await ctx.step(echo, "before");
  await ctx.waitForEvent("job", { match: (j) => { if (j.bad) throw new TypeError("no " + j.id); return false; } });
  return "unreachable";`,
  script: [
    { emit: "job", payload: { id: 1 } },
    { emit: "job", payload: { id: 2, bad: true } },
  ],
};

const loop: EventCase = {
  name: "predicates made in a loop, each reading its own iteration's variable",
  params: "",
  args: [],
  body: `
  const got = [];
  for (let i = 0; i < 3; i++) {
    const tick = await ctx.waitForEvent("tick", { match: (t) => t.n % 3 === i });
    got.push(tick.n);
    await ctx.step(echo, tick.n);
  }
  return got;`,
  script: [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => ({ emit: "tick", payload: { n } })),
};

const kept: EventCase = {
  name: "events kept for the run: refused ones are consumed, not offered again",
  params: "",
  args: [],
  body: `
  let tested = 0;
  await ctx.sleep("1m");
  const first = await ctx.waitForEvent("pay", { match: (p) => { tested++; return p.amount > 10; } });
  const second = await ctx.waitForEvent("pay", { match: (p) => { tested++; return p.amount > 0; }, timeout: "1h" });
  return [first.amount, second.amount, tested];`,
  script: [
    { emit: "pay", payload: { amount: 1 }, toRun: true },
    { emit: "pay", payload: { amount: 2 }, toRun: true },
    { emit: "pay", payload: { amount: 20 }, toRun: true },
    { emit: "pay", payload: { amount: 3 }, toRun: true },
    { advance: "1m" },
    { emit: "pay", payload: { amount: 4 }, toRun: true },
  ],
};

const keyed: EventCase = {
  name: "a repeated idempotency key delivers nothing: the predicate is not called again",
  params: "",
  args: [],
  body: `
  let tested = 0;
  const p = await ctx.waitForEvent("pay", { match: (p) => { tested++; return p.amount > 10; } });
  return [p.amount, tested];`,
  script: [
    { emit: "pay", payload: { amount: 1 }, key: "a" },
    { emit: "pay", payload: { amount: 1 }, key: "a" },
    { emit: "pay", payload: { amount: 50 }, key: "a" },
    { emit: "pay", payload: { amount: 2 }, key: "b" },
    { emit: "pay", payload: { amount: 30 }, key: "c" },
  ],
};

const mixed: EventCase = {
  name: "field matches, named predicates and named fields side by side",
  params: "order, limit",
  args: ["o-1", 10],
  body: `
  const big = (p) => p.order === order && p.amount > limit;
  const fields = { order };
  const a = await ctx.waitForEvent("pay", { match: { order } });
  const b = await ctx.waitForEvent("pay", { match: big, timeout: "1h" });
  await ctx.step(echo, b.amount);
  const c = await ctx.waitForEvent("pay", { match: fields });
  const match = function (p) { return p.amount === a.amount; };
  const d = await ctx.waitForEvent("pay", { match });
  return [a.amount, b.amount, c.amount, d.amount];`,
  script: [
    { emit: "pay", payload: { order: "o-2", amount: 1 } },
    { emit: "pay", payload: { order: "o-1", amount: 2 } },
    { emit: "pay", payload: { order: "o-1", amount: 3 } },
    { emit: "pay", payload: { order: "o-2", amount: 30 } },
    { emit: "pay", payload: { order: "o-1", amount: 40 } },
    { emit: "pay", payload: { order: "o-2", amount: 5 } },
    { emit: "pay", payload: { order: "o-1", amount: 6 } },
    { emit: "pay", payload: { order: "o-1", amount: 7 } },
    { emit: "pay", payload: { order: "o-3", amount: 2 } },
  ],
};

const lastMatch: EventCase = {
  name: "options with several match keys: the last one is the predicate",
  params: "extra",
  args: [{ match: { n: 1 } }],
  body: `
  const a = await ctx.waitForEvent("e", { ...extra, match: (p) => true, match: (p) => p.n === 2 });
  const b = await ctx.waitForEvent("e", { match: (p) => true, ...extra, match: (p) => p.n === 4 });
  return [a.n, b.n];`,
  script: [1, 2, 3, 4].map((n) => ({ emit: "e", payload: { n } })),
};

const cases = [
  bids,
  deadline,
  uncaughtTimeout,
  throwing,
  uncaughtThrow,
  loop,
  kept,
  keyed,
  mixed,
  lastMatch,
];

let files = 0;
const stores: [string, () => StorageAdapter][] = [
  ["memory", () => durable(memory())],
  ["sqlite", () => durable(sqlite({ path: join(dir, `events-${++files}.db`) }))],
  [db.label, () => durable(postgres({ pool: db.pool(), schema: db.freshSchema() }))],
];

describe.each(stores)("waitForEvent with a predicate on %s", (_name, store) => {
  it.each(cases.map((c) => [c.name, c] as const))(
    "%s: plain and compiled agree, uninterrupted and crashed after every commit",
    async (_title, c) => {
      const { plain, compiled } = await load(c);
      const expected = await runPlainEvents(plain, c.args, c.script);
      const { commits, ...uninterrupted } = await runCompiledEvents(
        compiled,
        c.args,
        c.script,
        store(),
      );
      expect(uninterrupted).toStrictEqual(expected);
      expect(commits).toBeGreaterThan(0);
      for (let k = 1; k <= commits; k++) {
        const { commits: _, ...resumed } = await runCompiledEvents(
          compiled,
          c.args,
          c.script,
          store(),
          k,
        );
        expect({ crashedAfter: k, ...resumed }).toStrictEqual({ crashedAfter: k, ...expected });
      }
    },
    120_000,
  );
});

const paid = workflow(async (ctx, order: string) => {
  const refused: number[] = [];
  const payment = await ctx.waitForEvent<{ order: string; n: number }>("paid", {
    match: (p) => {
      if (p.order === order && p.n !== 1) return true;
      refused.push(p.n);
      return false;
    },
    timeout: "1h",
  });
  return { n: payment.n, refused };
});

async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each([
  ["sqlite", () => sqlite({ path: join(dir, `gap-${++files}.db`) })],
  [db.label, () => postgres({ pool: db.pool(), schema: db.freshSchema() })],
] as [string, () => StorageAdapter][])(
  "an event delivered while no worker runs, on %s",
  (_name, store) => {
    it("is tested when a worker resumes the run; meanwhile a broadcast is missed, an event addressed to the run is kept", async () => {
      const storage = durable(store());
      const worker = createEngine({ storage, workflows: [paid], logger: quiet });
      const run = await worker.start(paid, ["o-1"]);
      await until(async () => (await run.status()) === "waiting");
      // The only worker stops (a crash): the next event wakes the run, and nothing tests it yet.
      await worker.close();
      const producer = createEngine({ storage, workflows: [paid], worker: false, logger: quiet });
      const woke = await producer.emit("paid", { order: "o-1", n: 1 });
      expect(woke.delivered).toStrictEqual([run.id]);
      expect((await storage.loadRun(run.id))!.status).toBe("pending");
      // Emitted while the run is between its wake and its next wait: a broadcast is not
      // delivered (the run is not waiting); an event addressed to the run is kept for it.
      expect((await producer.emit("paid", { order: "o-1", n: 2 })).delivered).toStrictEqual([]);
      const addressed = await producer.emit("paid", { order: "o-1", n: 3 }, { runId: run.id });
      expect(addressed.delivered).toStrictEqual([]);
      // A worker comes back: it tests n = 1 (refused), waits again and takes the kept n = 3.
      const resumed = createEngine({ storage, workflows: [paid], logger: quiet });
      expect(await (await resumed.get(run.id)).result()).toStrictEqual({ n: 3, refused: [1] });
      expect(await storage.pendingEvents!(run.id)).toStrictEqual([]);
      await resumed.close();
      await producer.close();
    }, 60_000);
  },
);

describe("waitForEvent with a predicate, in ratchetjs/testing", () => {
  it("skips to the deadline of the first wait, whatever was refused meanwhile", async () => {
    const t = createTestEngine({ workflows: [paid], logger: quiet });
    const started = t.clock.now();
    const run = await t.start(paid, ["o-1"]);
    await t.untilWaiting(run);
    await t.advance("50m");
    await t.emit("paid", { order: "o-2", n: 5 });
    await t.untilWaiting(run);
    await t.advance("9m");
    expect(await t.storage.loadRun(run.id)).toMatchObject({ status: "waiting" });
    await expect(t.finish(run)).rejects.toBeInstanceOf(TimeoutError);
    // The deadline is the first wait's: one hour after the start, not after the refused event.
    expect(t.clock.now() - started).toBe(3_600_000);
    await t.close();
  });

  it("delivers what the predicate accepts", async () => {
    const t = createTestEngine({ workflows: [paid], logger: quiet });
    const run = await t.start(paid, ["o-1"]);
    await t.untilWaiting(run);
    await t.emit("paid", { order: "o-1", n: 1 });
    await t.untilWaiting(run);
    await t.emit("paid", { order: "o-1", n: 2 });
    expect(await t.finish(run)).toStrictEqual({ n: 2, refused: [1] });
    await t.close();
  });
});

const unprepared = workflow(async (ctx, accepts: boolean) => {
  const options = { match: (p: unknown) => accepts && p !== null };
  return await ctx.waitForEvent("x", options);
});

describe("a predicate the compiler did not see", () => {
  it("fails the run with a TypeError that says how to write it, rather than taking any event", async () => {
    const engine = createEngine({ storage: memory(), workflows: [unprepared], logger: quiet });
    const run = await engine.start(unprepared, [true]);
    const error = await run.result().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error!.message).toMatch(/must be written in the call's options/);
    await engine.close();
  });
});
