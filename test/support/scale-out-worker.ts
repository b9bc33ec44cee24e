/**
 * One process of the Postgres scale-out test (test/postgres-scale-out.test.ts), run with
 * `node --import ratchet/register`.
 *
 *   produce N   store N runs of `pipeline` (a producer-only engine) and exit
 *   work        execute runs until SIGTERM, then print one JSON line of statistics
 *
 * Environment: DATABASE_URL, RATCHET_SCHEMA. Every step execution is recorded in the
 * schema's `effects` table, with this process's pid, so the test can see which steps ran
 * more than once.
 */

import pg from "pg";
import { createEngine, type FunctionContext, fn, workflow } from "ratchet";
import { postgres } from "ratchet/adapters/postgres";

const url = process.env.DATABASE_URL!;
const schema = process.env.RATCHET_SCHEMA!;
const effects = new pg.Pool({ connectionString: url, max: 4 });

async function record(runId: string, step: string): Promise<void> {
  await effects.query(`INSERT INTO "${schema}".effects (run_id, step, pid) VALUES ($1, $2, $3)`, [
    runId,
    step,
    process.pid,
  ]);
}

const square = fn(async (ctx: FunctionContext, n: number) => {
  await new Promise((resolve) => setTimeout(resolve, 10));
  await record(ctx.runId, "square");
  return n * n;
});
const add = fn(async (ctx: FunctionContext, a: number, b: number) => {
  await new Promise((resolve) => setTimeout(resolve, 10));
  await record(ctx.runId, "add");
  return a + b;
});

export const pipeline = workflow(async (ctx, n: number) => {
  const squared = await ctx.step(square, n);
  const sum = await ctx.step(add, squared, n);
  const label = await ctx.step("label", () => `n=${n}`);
  return { n, squared, sum, label };
});

const storage = postgres({ connectionString: url, schema, maxConnections: 5 });
const stats = {
  pid: process.pid,
  commits: 0,
  conflict: 0,
  "lease-lost": 0,
  "not-found": 0,
  "session-conflict": 0,
};
const commit = storage.commit.bind(storage);
storage.commit = async (change) => {
  const outcome = await commit(change);
  if (outcome.ok) stats.commits++;
  else stats[outcome.reason]++;
  return outcome;
};

const [mode, count] = process.argv.slice(2);
if (mode === "produce") {
  const producer = createEngine({ storage, workflows: [pipeline], worker: false });
  for (let n = 0; n < Number(count); n++)
    await producer.start(pipeline, [n], { runId: `run-${n}` });
  await producer.close();
  await effects.end();
} else {
  const engine = createEngine({
    storage,
    workflows: [pipeline],
    worker: { leaseMs: 1500, pollIntervalMs: 50, maxConcurrentRuns: 20 },
  });
  process.once("SIGTERM", async () => {
    await engine.close();
    await effects.end();
    console.log(JSON.stringify(stats));
    process.exit(0);
  });
  console.log(JSON.stringify({ ready: process.pid }));
}
