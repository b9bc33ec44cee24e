/**
 * Run the notify workflow once on in-memory storage and show its checkpoints.
 *
 *   node --import ratchetjs/register examples/notify/main.ts
 */
import { createEngine } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { mailer, notifyWorkflow } from "./workflows.ts";

const engine = createEngine({
  storage: memory(),
  workflows: [notifyWorkflow],
  onCheckpoint: (e) => console.log(`  checkpoint ${e.checkpoint.id} committed`),
});

console.log("notify: fetch a user, then email them (two durable steps)");
const result = await engine.run(notifyWorkflow, ["u-1"]);
console.log(`result: ${JSON.stringify(result)}`);
for (const email of mailer.outbox) console.log(`outbox: "${email.subject}" to ${email.to}`);

console.log("\nan unknown user fails the run at once (FatalError: no retries):");
try {
  await engine.run(notifyWorkflow, ["u-404"]);
} catch (error) {
  console.log(`  ${(error as Error).name}: ${(error as Error).message}`);
}
await engine.close();
