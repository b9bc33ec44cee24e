/**
 * The follow-up workflow on an SQLite file, with a test clock so 24 hours pass in an
 * instant. One engine starts the run and closes while it sleeps (as if the process
 * stopped); a second engine on the same file wakes it once the clock has moved on.
 *
 *   node --import ratchetjs/register examples/follow-up/main.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, createTestClock } from "ratchetjs";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { statusBecomes } from "../shared/status.ts";
import { followUpWorkflow, mailer } from "./workflows.ts";

const dir = mkdtempSync(join(tmpdir(), "ratchet-follow-up-"));
const path = join(dir, "follow-up.db");
const clock = createTestClock(new Date("2026-12-01T09:00:00Z"));
mailer.now = clock.now;
const format = (at: number) => new Date(at).toISOString().slice(0, 16).replace("T", " ");
const time = () => format(clock.now());
const engineOn = () =>
  createEngine({
    storage: sqlite({ path }),
    workflows: [followUpWorkflow],
    clock,
    worker: { pollIntervalMs: 20 },
  });

console.log("follow-up: confirm, sleep 24h, follow up — on SQLite, with a test clock");
console.log("(the clock is simulated: the 24 hours pass in an instant)\n");

const first = engineOn();
const run = await first.start(followUpWorkflow, ["ada@example.com"]);
await statusBecomes(run, "sleeping");
const [stored] = await first.list({ status: "sleeping" });
console.log(`[${time()}] run ${run.id.slice(0, 8)} sent the confirmation and is sleeping`);
console.log(`                   until ${format(stored!.wakeAt!.getTime())} (stored with the run)`);
await first.close();
console.log(`[${time()}] engine 1 closed: nothing holds the sleeping run in memory`);

clock.advance(24 * 60 * 60 * 1000);
console.log(`[${time()}] 24 hours later, engine 2 opens the same database file`);
const second = engineOn();
const result = await (await second.get<string>(run.id)).result();
console.log(`[${time()}] result: ${JSON.stringify(result)}\n`);

console.log("emails sent (simulated time):");
for (const email of mailer.sent) {
  console.log(`  [${format(email.at)}] ${email.template} to ${email.to}`);
}
await second.close();
rmSync(dir, { recursive: true, force: true });
