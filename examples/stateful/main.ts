/**
 * Run the stateful workflow three times in one session and twice at once in another, on
 * an SQLite file, and show the shared visit counter.
 *
 *   node --import ratchetjs/register examples/stateful/main.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine } from "ratchetjs";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { statefulWorkflow } from "./workflows.ts";

const dir = mkdtempSync(join(tmpdir(), "ratchet-stateful-"));
const engine = createEngine({
  storage: sqlite({ path: join(dir, "stateful.db") }),
  workflows: [statefulWorkflow],
});

console.log("stateful: run-scoped state (ctx.state) and session state (ctx.session.state)");
for (let i = 0; i < 3; i++) {
  const result = await engine.run(statefulWorkflow, ["ada"], { sessionId: "session-ada" });
  console.log(`  session-ada run ${i + 1}: ${JSON.stringify(result)}`);
}
const together = await Promise.all([
  engine.run(statefulWorkflow, ["grace"], { sessionId: "session-grace" }),
  engine.run(statefulWorkflow, ["grace"], { sessionId: "session-grace" }),
]);
console.log(`  session-grace, two runs at once: ${JSON.stringify(together)}`);
const max = Math.max(...together.map((r) => r.visits));
console.log(`  visit_count of session-grace is ${max}: neither run lost the other's update`);
await engine.close();
rmSync(dir, { recursive: true, force: true });
