/**
 * Run the report workflow once on in-memory storage: three fetches in parallel, then one
 * compile step.
 *
 *   node --import ratchetjs/register examples/report/main.ts
 */
import { createEngine } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { reportWorkflow, warehouse } from "./workflows.ts";

const engine = createEngine({
  storage: memory(),
  workflows: [reportWorkflow],
  onCheckpoint: (e) => console.log(`  checkpoint ${e.checkpoint.id} committed (seq ${e.seq})`),
});

console.log(
  `report: sales, inventory and customers fetched in parallel (each query takes ${warehouse.latencyMs} ms)`,
);
const started = performance.now();
const report = await engine.run(reportWorkflow, ["2026-W48"]);
const ms = performance.now() - started;
console.log(`${report.title}:`);
for (const line of report.lines) console.log(`  - ${line}`);
console.log(
  `${warehouse.queries.length} queries, up to ${warehouse.maxInFlight} at once; the run took ${ms.toFixed(0)} ms`,
);
await engine.close();
