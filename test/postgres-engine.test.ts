import { createEngine, type FunctionContext, fn, workflow } from "ratchetjs";
import type { PostgresPool, PostgresQuery } from "ratchetjs/adapters/postgres";
import { postgres } from "ratchetjs/adapters/postgres";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openTestDatabase } from "./support/postgres.js";

/**
 * The engine end to end on PostgreSQL (the local server, or embedded PGlite when none
 * answers): compiled workflows started, executed, checkpointed and finished, by one process
 * and by a producer/worker pair sharing the store.
 */
const db = await openTestDatabase();
afterEach(() => db.cleanUp());
afterAll(() => db.end());

const calls: string[] = [];

const validate = fn(async (_ctx: FunctionContext, orderId: string) => {
  calls.push(`validate ${orderId}`);
  return { orderId, total: 89.99, valid: orderId !== "bad" };
});
const charge = fn(async (ctx: FunctionContext, orderId: string, amount: number) => {
  calls.push(`charge ${orderId} ${amount}`);
  return { chargeId: `ch_${ctx.idempotencyKey}`, amount };
});
const ship = fn(async (_ctx: FunctionContext, orderId: string) => {
  calls.push(`ship ${orderId}`);
  return `parcel-${orderId}`;
});

const order = workflow(async (ctx, orderId: string) => {
  const checked = await ctx.step(validate, orderId);
  if (!checked.valid) return { status: "invalid", orderId };
  const payment = await ctx.step(charge, orderId, checked.total);
  const [parcel, note] = await ctx.parallel(
    ctx.step(ship, orderId),
    ctx.step("note", () => `thanks for ${orderId}`),
  );
  return { status: "complete", orderId, chargeId: payment.chargeId, parcel, note };
});

/** A pool that records the statements it runs. */
function countingPool(pool: PostgresPool) {
  const queries: PostgresQuery[] = [];
  const counting: PostgresPool = {
    query: (query) => {
      queries.push(query);
      return pool.query(query);
    },
    connect: () => pool.connect(),
  };
  return { pool: counting, queries };
}

describe(`engine on postgres (${db.label})`, () => {
  it("runs a compiled workflow to its end, one statement per checkpoint", async () => {
    const { pool, queries } = countingPool(db.pool());
    const engine = createEngine({
      storage: postgres({ pool, schema: db.freshSchema() }),
      workflows: [order],
    });
    try {
      calls.length = 0;
      const before = queries.length;
      const handle = await engine.start(order, ["order-42"], { idempotencyKey: "order-42" });
      const result = await handle.result();
      expect(result).toEqual({
        status: "complete",
        orderId: "order-42",
        chargeId: expect.stringMatching(/^ch_.+/),
        parcel: "parcel-order-42",
        note: "thanks for order-42",
      });
      expect(calls).toEqual(["validate order-42", "charge order-42 89.99", "ship order-42"]);
      const kinds = queries.slice(before).map((q) => q.name?.replace(/^ratchet_[0-9a-f]+_/, ""));
      // A checkpoint that keeps its lease as it is takes `commit_kept_n` (`commit_kept` on a
      // pool without row counts), the others `commit`.
      const isCommit = (kind: string | undefined) =>
        kind === "commit" || kind === "commit_kept_n" || kind === "commit_kept";
      const commits = kinds.filter(isCommit).length;
      const stored = await engine.list({ status: "completed" });
      expect(stored).toHaveLength(1);
      // Checkpoints: validate, charge, the parallel (its branches may share one commit or
      // each get one), and the end.
      expect(stored[0].commits).toBe(commits);
      expect(commits).toBeGreaterThanOrEqual(4);
      // Besides the worker's polls and its one-time startup statements (events kept for runs,
      // parked runs, whether the pool reports row counts), which may land after `before`, the run cost one insert and its
      // commits, nothing else.
      const others = kinds.filter(
        (kind) =>
          !isCommit(kind) &&
          kind !== "purge" &&
          kind !== "pending_events" &&
          kind !== "count_probe" &&
          !kind?.startsWith("list") &&
          !kind?.startsWith("claim"),
      );
      expect(others).toEqual([expect.stringMatching(/^create(_notify)?$/)]);

      const again = await engine.start(order, ["order-42"], { idempotencyKey: "order-42" });
      expect(again.id).toBe(handle.id);
      expect(await engine.run(order, ["bad"])).toEqual({ status: "invalid", orderId: "bad" });
    } finally {
      await engine.close();
    }
  });

  it("executes runs a producer-only engine stores, in a worker engine on another pool", async () => {
    const schema = db.freshSchema();
    const producer = createEngine({
      storage: postgres({ pool: db.pool(), schema }),
      workflows: [order],
      worker: false,
    });
    const worker = createEngine({
      storage: postgres({ pool: db.pool(), schema }),
      workflows: [order],
      worker: { pollIntervalMs: 20, leaseMs: 5_000 },
    });
    try {
      const handles = await Promise.all(
        Array.from({ length: 20 }, (_, i) => producer.start(order, [`order-${i}`])),
      );
      const results = await Promise.all(handles.map((handle) => handle.result()));
      expect(results.map((r) => r.orderId)).toEqual(handles.map((_, i) => `order-${i}`));
      expect(new Set(results.map((r) => r.status))).toEqual(new Set(["complete"]));
      expect(await producer.list({ status: "completed" })).toHaveLength(20);
    } finally {
      await Promise.all([producer.close(), worker.close()]);
    }
  });
});
