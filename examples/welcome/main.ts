/**
 * Two users sign up: `engine.emit("user.signup", …)` starts a welcome run for each. One
 * verifies their email (another event, delivered to that user's run only); the other never
 * does, and a test clock makes the 3-day wait run out in an instant. In-memory storage.
 *
 *   node --import ratchetjs/register examples/welcome/main.ts
 */
import { createEngine, createTestClock, type RunHandle } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { statusBecomes } from "../shared/status.ts";
import { mailer, type SignupEvent, type VerifiedEvent, welcomeWorkflow } from "./workflows.ts";

const clock = createTestClock();
const engine = createEngine({
  storage: memory(),
  workflows: [welcomeWorkflow],
  clock,
  worker: { pollIntervalMs: 20 },
});

console.log(
  'welcome: started by the "user.signup" event, then waits up to 3 days for "user.verified"',
);
console.log("(a test clock stands in for real time: the 3 days pass in an instant)\n");

type WelcomeResult = { userId: string; verified: boolean };
const runs: RunHandle<WelcomeResult>[] = [];
for (const user of [
  { userId: "u-1", email: "ada@example.com", name: "Ada" },
  { userId: "u-2", email: "grace@example.com", name: "Grace" },
] satisfies SignupEvent[]) {
  const { started } = await engine.emit("user.signup", user);
  console.log(`emit user.signup for ${user.email}: started run ${started[0]!.slice(0, 8)}`);
  const run = await engine.get<WelcomeResult>(started[0]!);
  await statusBecomes(run, "waiting");
  runs.push(run);
}

const verified: VerifiedEvent = { userId: "u-1", verifiedAt: new Date(clock.now()).toISOString() };
const { delivered } = await engine.emit("user.verified", verified);
console.log(`emit user.verified for u-1: delivered to ${delivered.length} run`);
console.log(`  → ${JSON.stringify(await runs[0]!.result())}`);

console.log("u-2 never verifies; 3 days pass:");
clock.advance(3 * 24 * 60 * 60 * 1000);
console.log(`  → ${JSON.stringify(await runs[1]!.result())}`);

console.log("\nemails sent:");
for (const { to, template } of mailer.sent) console.log(`  ${template.padEnd(16)} to ${to}`);
await engine.close();
