/**
 * Three orders wait for a reviewer on in-memory storage: one is approved, one rejected, and
 * one never answered. A test clock makes its 48-hour timeout pass in an instant.
 *
 *   node --import ratchetjs/register examples/approval/main.ts
 */
import { createEngine, createTestClock, DeliveryError, type RunHandle } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { statusBecomes } from "../shared/status.ts";
import { approvalWorkflow, orderSystem } from "./workflows.ts";

const clock = createTestClock();
const engine = createEngine({
  storage: memory(),
  workflows: [approvalWorkflow],
  clock,
  worker: { pollIntervalMs: 20 },
});

console.log("approval: each order waits for a reviewer (timeout 48h)");
console.log("(a test clock stands in for real time: the 48 hours pass in an instant)\n");

const runs = new Map<string, RunHandle>();
for (const orderId of ["order-1001", "order-1002", "order-1003"]) {
  const run = await engine.start(approvalWorkflow, [orderId], { runId: `approve-${orderId}` });
  await statusBecomes(run, "waiting");
  runs.set(orderId, run);
}
console.log(`${(await engine.list({ status: "waiting" })).length} runs are waiting for an answer`);

const show = async (orderId: string) =>
  console.log(`  ${orderId} → ${JSON.stringify(await runs.get(orderId)!.result())}`);

await engine.respond(runs.get("order-1001")!.id, "approve");
console.log("reviewer approves order-1001:");
await show("order-1001");

try {
  await engine.respond(runs.get("order-1002")!.id, "maybe");
} catch (error) {
  if (!(error instanceof DeliveryError)) throw error;
  console.log(`an answer that is not an option ("maybe") is refused with ${error.name}`);
}
await engine.respond(runs.get("order-1002")!.id, "reject");
console.log("reviewer rejects order-1002:");
await show("order-1002");

console.log("nobody answers order-1003; 48 hours pass:");
clock.advance(48 * 60 * 60 * 1000);
await show("order-1003");

console.log("\norder system log:");
for (const line of orderSystem.log) console.log(`  ${line}`);
await engine.close();
