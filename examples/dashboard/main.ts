/**
 * Run the dashboard workflow once on in-memory storage: three metrics gathered by name.
 *
 *   node --import ratchetjs/register examples/dashboard/main.ts
 */
import { createEngine } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { dashboardWorkflow } from "./workflows.ts";

const engine = createEngine({ storage: memory(), workflows: [dashboardWorkflow] });

console.log("dashboard: revenue, active users and error rate, gathered by name");
const { revenue, users, errors, healthy } = await engine.run(dashboardWorkflow, []);
console.log(`  revenue today  $${revenue.today.toLocaleString("en-US")}`);
console.log(
  `  active users   ${users.count} (${users.changePct > 0 ? "+" : ""}${users.changePct}%)`,
);
console.log(`  error rate     ${errors.ratePct}% over ${errors.windowMinutes} min`);
console.log(healthy ? "status: healthy" : "status: degraded");
await engine.close();
