/**
 * One process of the Postgres scale-out test (test/postgres-scale-out.test.ts) and benchmark
 * (bench/scale-out.ts). Compiled by support/compile-worker.ts and run with plain `node`.
 *
 *   produce N   store N runs of `pipeline` (run-0 … run-N-1, by a producer-only engine), exit
 *   work        execute runs until SIGTERM, then print one JSON line of statistics
 *   raw A B     the benchmark's baseline, no Ratchet: rows A … B-1 of the schema's `raw`
 *               table (which the caller fills) get four compare-and-set UPDATEs each, one
 *               after the other, 20 rows at a time on a pool of 5 connections (as `work`
 *               executes 20 runs at a time on the adapter's 5); prints `{"done":pid}`, exits
 *               (with RATCHET_GO=stdin, once a second line arrives)
 *
 * Environment:
 * - DATABASE_URL, RATCHET_SCHEMA: the store
 * - RATCHET_STEP_MS: how long each of the two timed steps waits (default 10; 0: no wait)
 * - RATCHET_EFFECTS=1: record every step execution, with this process's pid, in the
 *   schema's `effects` table (which the caller creates), so repeated steps can be seen
 * - RATCHET_GO=stdin: open the store, print `{"ready":pid}`, and start executing only when
 *   a line arrives on standard input (so a benchmark can start every worker at once);
 *   otherwise execute at once and print `{"ready":pid}` once the store is open
 *
 * - RATCHET_COUNT=1: count the statements this process sends (by prepared-statement name)
 *   from the go on, and report them with the process's CPU time since the go: `work` in its
 *   statistics line (`statements`, `cpuMicros`), `raw` in its `done` line (`cpuMicros`)
 *
 * A commit that fails its compare-and-set is printed at once as
 * `{"failed":reason,"run":id,"pid":pid}`, so the count survives a SIGKILL.
 */

import pg from "pg";
import { createEngine, type FunctionContext, fn, workflow } from "ratchetjs";
import { postgres } from "ratchetjs/adapters/postgres";

const url = process.env.DATABASE_URL!;
const schema = process.env.RATCHET_SCHEMA!;
const stepMs = Number(process.env.RATCHET_STEP_MS ?? 10);
const effects =
  process.env.RATCHET_EFFECTS === "1" ? new pg.Pool({ connectionString: url, max: 4 }) : null;
// A connection the server drops while idle (test/postgres-faults.test.ts kills them) is an
// `error` event on the pool: harmless, the next query reconnects.
effects?.on("error", () => {});

async function work(runId: string, step: string): Promise<void> {
  if (stepMs > 0) await new Promise((resolve) => setTimeout(resolve, stepMs));
  await effects?.query(`INSERT INTO "${schema}".effects (run_id, step, pid) VALUES ($1, $2, $3)`, [
    runId,
    step,
    process.pid,
  ]);
}

const square = fn(async (ctx: FunctionContext, n: number) => {
  await work(ctx.runId, "square");
  return n * n;
});
const add = fn(async (ctx: FunctionContext, a: number, b: number) => {
  await work(ctx.runId, "add");
  return a + b;
});

export const pipeline = workflow(async (ctx, n: number) => {
  const squared = await ctx.step(square, n);
  const sum = await ctx.step(add, squared, n);
  const label = await ctx.step("label", () => `n=${n}`);
  return { n, squared, sum, label };
});

const storage = postgres({ connectionString: url, schema, maxConnections: 5 });
const stats: Record<string, number> = {
  pid: process.pid,
  commits: 0,
  conflict: 0,
  "lease-lost": 0,
  "not-found": 0,
};
const commit = storage.commit.bind(storage);
storage.commit = async (change) => {
  const outcome = await commit(change);
  if (outcome.ok) stats.commits++;
  else {
    stats[outcome.reason] = (stats[outcome.reason] ?? 0) + 1;
    console.log(JSON.stringify({ failed: outcome.reason, run: change.runId, pid: process.pid }));
  }
  return outcome;
};

/** Statements sent since the go, by name (the adapter's without their schema hash). */
const statements: Record<string, number> = {};
let counting = false;
if (process.env.RATCHET_COUNT === "1") {
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (counting) {
      const config = args[0] as { name?: string } | string;
      const name =
        typeof config === "object" && config.name
          ? config.name.replace(/^ratchet_[0-9a-f]+_/, "")
          : "unnamed";
      statements[name] = (statements[name] ?? 0) + 1;
    }
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
}
/** The process's CPU time at the go. */
let cpuAtGo = process.cpuUsage();
const cpuMicros = () => {
  const used = process.cpuUsage(cpuAtGo);
  return used.user + used.system;
};

/** Open the store (or pool) first; with RATCHET_GO=stdin, then wait for the go. */
async function ready(open: () => Promise<unknown>): Promise<void> {
  await open();
  if (process.env.RATCHET_GO === "stdin") {
    console.log(JSON.stringify({ ready: process.pid }));
    await new Promise((resolve) => process.stdin.once("data", resolve));
    process.stdin.pause();
  }
  counting = true;
  cpuAtGo = process.cpuUsage();
}

const [mode, count, until] = process.argv.slice(2);
if (mode === "raw") {
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  // Every connection open before the clock starts, as the adapter's pool is after init().
  await ready(async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, () => pool.connect()));
    for (const client of clients) client.release();
  });
  const body = "x".repeat(100);
  const text = `UPDATE "${schema}".raw SET seq = seq + 1, body = $3 WHERE id = $1 AND seq = $2`;
  let next = Number(count);
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let id = next++; id < Number(until); id = next++) {
        for (let seq = 0; seq < 4; seq++) {
          await pool.query({ name: "raw-cas", text, values: [id, seq, body] });
        }
      }
    }),
  );
  console.log(JSON.stringify({ done: process.pid, cpuMicros: cpuMicros() }));
  // With RATCHET_GO=stdin the connections stay open until a second line comes, so the caller
  // can read their server backends' CPU time.
  if (process.env.RATCHET_GO === "stdin") {
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.once("data", resolve));
    // A standard input still open would keep the process alive, and its caller waiting.
    process.stdin.destroy();
  }
  await pool.end();
} else if (mode === "produce") {
  const producer = createEngine({ storage, workflows: [pipeline], worker: false });
  for (let n = 0; n < Number(count); n++) {
    await producer.start(pipeline, [n], { runId: `run-${n}` });
  }
  await producer.close();
  await effects?.end();
} else {
  await ready(async () => {
    await storage.init();
    // Five statements at once open the pool's five connections before the clock starts.
    await Promise.all(Array.from({ length: 5 }, () => storage.listRuns({ limit: 1 })));
  });
  const engine = createEngine({
    storage,
    workflows: [pipeline],
    worker: { leaseMs: 1500, pollIntervalMs: 50, maxConcurrentRuns: 20 },
  });
  process.once("SIGTERM", async () => {
    const cpu = cpuMicros();
    await engine.close();
    await effects?.end();
    console.log(
      JSON.stringify(
        process.env.RATCHET_COUNT === "1" ? { ...stats, cpuMicros: cpu, statements } : stats,
      ),
    );
    process.exit(0);
  });
  if (process.env.RATCHET_GO !== "stdin") console.log(JSON.stringify({ ready: process.pid }));
}
