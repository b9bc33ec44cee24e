/**
 * One worker process of the timing tests (test/takeover.test.ts): takeover after SIGKILL,
 * hand-over at SIGTERM, and timers on a skewed clock. Compiled by support/compile-worker.ts
 * and run with plain `node`.
 *
 *   work    execute runs until SIGTERM (then `engine.close()`, print `{"closed":pid}`, exit 0)
 *   start W PREFIX N ARGS   store N runs of workflow W (PREFIX0 … PREFIX<N-1>) with the
 *           JSON argument list ARGS, by a producer-only engine, and exit
 *
 * Environment:
 * - DATABASE_URL, RATCHET_SCHEMA: the store; the schema's `effects` table (which the caller
 *   creates) gets a row per step execution: run, step, pid and the server's time
 * - RATCHET_LEASE_MS, RATCHET_POLL_MS: the worker's lease and poll interval
 * - RATCHET_SKEW_MS: how far this process's clock (`Date.now`, hence the engine's default
 *   clock) is ahead of the real time (negative: behind)
 *
 * Prints `{"ready":pid}` once the engine is up.
 */

import pg from "pg";
import { createEngine, type FunctionContext, fn, workflow } from "ratchetjs";
import { postgres } from "ratchetjs/adapters/postgres";

const skew = Number(process.env.RATCHET_SKEW_MS ?? 0);
if (skew !== 0) {
  const real = Date.now.bind(Date);
  Date.now = () => real() + skew;
}

const url = process.env.DATABASE_URL!;
const schema = process.env.RATCHET_SCHEMA!;
const effects = new pg.Pool({ connectionString: url, max: 4 });
effects.on("error", () => {});

/** Record this execution of a step, with the server's time, then take `ms`. */
const mark = fn(
  async (ctx: FunctionContext, step: string, ms: number) => {
    await effects.query(
      `INSERT INTO "${schema}".effects (run_id, step, pid, at)
       VALUES ($1, $2, $3, (extract(epoch FROM clock_timestamp()) * 1000)::int8)`,
      [ctx.runId, step, process.pid],
    );
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    return step;
  },
  { retries: 0 },
);

/** Sleeps `ms`, then records that it woke. */
export const napper = workflow(async (ctx, ms: number) => {
  await ctx.sleep(ms);
  await ctx.step(mark, "woke", 0);
  return "rested";
});

/** `steps` steps of `stepMs` each, one after the other. */
export const plodder = workflow(async (ctx, steps: number, stepMs: number) => {
  let done = 0;
  for (let i = 0; i < steps; i++) {
    await ctx.step(mark, `s${i}`, stepMs);
    done++;
  }
  return done;
});

const [mode, name, prefix, count, args] = process.argv.slice(2);
if (mode === "start") {
  const storage = postgres({ connectionString: url, schema, maxConnections: 2 });
  const producer = createEngine({ storage, workflows: [napper, plodder], worker: false });
  const definition = (name === "napper" ? napper : plodder) as typeof napper;
  for (let n = 0; n < Number(count); n++) {
    await producer.start(definition, JSON.parse(args!) as [number], { runId: `${prefix}${n}` });
  }
  await producer.close();
  await effects.end();
  process.exit(0);
}

const engine = createEngine({
  storage: postgres({ connectionString: url, schema, maxConnections: 5 }),
  workflows: [napper, plodder],
  worker: {
    leaseMs: Number(process.env.RATCHET_LEASE_MS ?? 30_000),
    pollIntervalMs: Number(process.env.RATCHET_POLL_MS ?? 1000),
  },
});
process.once("SIGTERM", async () => {
  await engine.close();
  await effects.end();
  console.log(JSON.stringify({ closed: process.pid }));
  process.exit(0);
});
// One read through the engine, so its store is open before the caller goes on.
await engine.list({ limit: 1 });
console.log(JSON.stringify({ ready: process.pid }));
