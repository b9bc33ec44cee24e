/**
 * One process of the crash-safety test (test/crash-safety.test.ts). The test compiles this
 * file once with `ratchetjs/compiler` and runs the JavaScript with plain `node`, so a process
 * starts in about a tenth of a second and hundreds of them can be killed within seconds.
 *
 * Environment:
 * - RATCHET_STORE: `{"kind":"sqlite","path":…}` or `{"kind":"postgres","url":…,"schema":…}`
 * - RATCHET_CREATE: run numbers (comma-separated) to start before anything else; a run
 *   that already exists is left as it is (the run id is also the idempotency key)
 *
 * Prints `ready` once its store is open, then `c` after every checkpoint it commits. It
 * runs until it is killed.
 */
import { createEngine, type FunctionContext, fn, type StorageAdapter, workflow } from "ratchetjs";

/** One step: a little time inside it, then a number only the right inputs give. */
const mix = fn(
  async (_ctx: FunctionContext, acc: number, i: number) => {
    await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * 4));
    return (acc * 31 + i + 7) % 1_000_003;
  },
  { retries: 0 },
);

/** Eight checkpoints; the frame carries the trail so far, so it grows at every one. */
export const chain = workflow(async (ctx, n: number) => {
  let acc = n;
  const trail: number[] = [];
  for (let i = 0; i < 8; i++) {
    acc = await ctx.step(mix, acc, i);
    trail.push(acc);
  }
  return { n, acc, trail };
});

const store = JSON.parse(process.env.RATCHET_STORE!) as
  | { kind: "sqlite"; path: string }
  | { kind: "postgres"; url: string; schema: string };
const storage: StorageAdapter =
  store.kind === "sqlite"
    ? (await import("ratchetjs/adapters/sqlite")).sqlite({ path: store.path })
    : (await import("ratchetjs/adapters/postgres")).postgres({
        connectionString: store.url,
        schema: store.schema,
        maxConnections: 4,
      });

const engine = createEngine({
  storage,
  workflows: [chain],
  worker: { leaseMs: 200, pollIntervalMs: 20, maxConcurrentRuns: 8 },
  onCheckpoint: () => process.stdout.write("c\n"),
});
// Once the store is open and migrated (list() waits for it), the test's clock starts.
await engine.list({ limit: 1 });
process.stdout.write("ready\n");
for (const n of (process.env.RATCHET_CREATE ?? "").split(",").filter(Boolean)) {
  await engine.start(chain, [Number(n)], { runId: `run-${n}`, idempotencyKey: `run-${n}` });
}
