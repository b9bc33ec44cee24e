/**
 * One worker process for the order workflow, on an SQLite file. It starts run "order-42",
 * or, when that run is already stored (a previous process died mid-way), waits for the dead
 * process's lease to expire and carries the run on from its last checkpoint.
 *
 *   node --import ratchetjs/register examples/order/main.ts
 *
 * Environment: RATCHET_DB (the SQLite file), RATCHET_LEDGER (a file where each step appends
 * a line), RATCHET_CRASH_AFTER=<checkpoint id> (SIGKILL this process right after that
 * checkpoint commits), RATCHET_CRASH_DURING=<validate|charge|confirm> (SIGKILL inside that
 * step, before its checkpoint commits), RATCHET_LEASE_MS, RATCHET_DEMO=1 (narrate).
 */
import { createEngine, type RunHandle } from "ratchetjs";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { orderWorkflow } from "./workflows.ts";

const path = process.env.RATCHET_DB ?? "ratchet-demo.db";
const crashAfter = process.env.RATCHET_CRASH_AFTER;
const leaseMs = Number(process.env.RATCHET_LEASE_MS ?? 2000);
const say = (line: string) => {
  if (process.env.RATCHET_DEMO === "1") console.log(line);
};

const engine = createEngine({
  storage: sqlite({ path }),
  workflows: [orderWorkflow],
  worker: { leaseMs, pollIntervalMs: 50 },
  onCheckpoint: (event) => {
    say(`    checkpoint ${event.checkpoint.index} committed: ${event.checkpoint.id}`);
    if (event.checkpoint.id === crashAfter) process.kill(process.pid, "SIGKILL");
  },
});

const runId = "order-42";
const stored = (await engine.list({ workflow: orderWorkflow.name })).find((r) => r.id === runId);
let handle: RunHandle;
if (stored) {
  const wait = Math.max(0, (stored.lease?.expiresAt.getTime() ?? 0) - Date.now());
  say(
    `  found run ${runId} (status ${stored.status}, ${stored.commits} checkpoint(s) committed); ` +
      `the dead process's lease expires in ${(wait / 1000).toFixed(1)} s, then this worker claims it`,
  );
  handle = await engine.get(runId);
} else {
  say(`  starting run ${runId}`);
  handle = await engine.start(orderWorkflow, ["order-42"], { runId });
}
const result = await handle.result();
say(`  run ${runId} ${await handle.status()}:`);
console.log(JSON.stringify(result));
await engine.close();
