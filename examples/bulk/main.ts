/**
 * Run the bulk processor over twelve documents on in-memory storage, four at a time.
 *
 *   node --import ratchetjs/register examples/bulk/main.ts
 */
import { createEngine } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { bulkProcessor, documentStore } from "./workflows.ts";

const engine = createEngine({ storage: memory(), workflows: [bulkProcessor] });
const docIds = Array.from({ length: 12 }, (_, i) => `doc-${String(i + 1).padStart(2, "0")}`);

console.log(`bulk: ${docIds.length} documents through ctx.batch, maxConcurrency 4`);
console.log(
  `  (${[...documentStore.corrupt].join(", ")} is corrupt; ${[...documentStore.flaky].join(", ")} fails once, then succeeds on retry)`,
);
const summary = await engine.run(bulkProcessor, [docIds]);
console.log(`processed: ${summary.processed}, failed: ${summary.failed}`);
for (const { docId, reason } of summary.failures) console.log(`  failed ${docId}: ${reason}`);
console.log(`  retried and processed: ${summary.retried.join(", ")}`);
console.log(`at most ${documentStore.maxInFlight} documents were processed at once`);
await engine.close();
