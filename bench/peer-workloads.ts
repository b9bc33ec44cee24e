/**
 * Ratchet's side of the peers benchmark (`bench/peers/`, its own package): the same
 * workloads as the peers' scripts there, one per process, on the Postgres adapter in a
 * database only Ratchet uses (PEERS_URL) and a schema per workload (PEERS_SCHEMA). Run by
 * the peers harness as `node --import ratchetjs/register bench/peer-workloads.ts <mode> …`
 * from the repository root; prints one JSON line. The modes are those of
 * bench/peers/dbos.mjs.
 */
import { createRequire } from "node:module";
import { createEngine, type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";
import { postgres } from "ratchetjs/adapters/postgres";
import { loopSteps } from "./loop-workflows.js";

const require = createRequire(import.meta.url);
const pgClient = (
  require("pg") as { Client: { prototype: { query: (...a: unknown[]) => unknown } } }
).Client.prototype;
const query = pgClient.query;
let statements = 0;
pgClient.query = function (this: unknown, ...args: unknown[]) {
  statements++;
  return query.apply(this, args);
};

let onHang: () => void = () => {};
const noop = fn(async (_ctx: FunctionContext, n: number) => n, { retries: 0 });
const hang = fn(
  async () => {
    onHang();
    await new Promise(() => {});
  },
  { retries: 0 },
);

/** `k` no-op steps, then a step that never ends (the harness kills the process there). */
export const hangAfter = workflow(async (ctx: WorkflowContext, k: number) => {
  for (let i = 0; i < k; i++) await ctx.step(noop, i);
  await ctx.step(hang);
  return k;
});

const [mode, a, b] = process.argv.slice(2);
const storage = postgres({
  connectionString: process.env.PEERS_URL!,
  schema: process.env.PEERS_SCHEMA!,
});
const out = (result: object) => process.stdout.write(`${JSON.stringify(result)}\n`);
const leaseMs = 500;

if (mode === "sequential") {
  const engine = createEngine({ storage, workflows: [loopSteps, hangAfter] });
  const n = Number(a);
  await engine.run(loopSteps, [3]);
  const before = statements;
  const started = performance.now();
  await engine.run(loopSteps, [n]);
  const ms = performance.now() - started;
  out({ microsPerStep: (ms * 1000) / n, statementsPerStep: (statements - before) / n });
  await engine.close();
} else if (mode === "concurrent") {
  const runs = Number(a);
  const n = Number(b);
  const engine = createEngine({
    storage,
    workflows: [loopSteps, hangAfter],
    worker: { maxConcurrentRuns: runs },
  });
  await engine.list({ limit: 1 });
  const started = performance.now();
  const handles = await Promise.all(
    Array.from({ length: runs }, () => engine.start(loopSteps, [n])),
  );
  await Promise.all(handles.map((handle) => handle.result()));
  const ms = performance.now() - started;
  out({ microsPerStep: (ms * 1000) / (runs * n), stepsPerSecond: (runs * n * 1000) / ms });
  await engine.close();
} else if (mode === "prepare") {
  onHang = () => out({ hanging: true });
  const engine = createEngine({ storage, workflows: [loopSteps, hangAfter], worker: { leaseMs } });
  await engine.start(hangAfter, [Number(b)], { runId: a });
  // The harness kills this process once the run hangs in its last step.
  await new Promise(() => {});
} else if (mode === "resume") {
  await storage.init();
  // The killed worker's lease must run out before anyone may take the run over.
  await new Promise((resolve) => setTimeout(resolve, leaseMs + 100));
  const reached = new Promise<void>((resolve) => {
    onHang = resolve;
  });
  const started = performance.now();
  createEngine({ storage, workflows: [loopSteps, hangAfter] });
  await reached;
  out({ resumeMs: performance.now() - started });
  process.exit(0);
}
process.exit(0);
