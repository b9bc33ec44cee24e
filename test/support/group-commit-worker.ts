/**
 * One process of the group-commit crash test (test/group-commit-crash.test.ts), compiled
 * once by the test and run with plain `node`. It executes many short runs at once, so its
 * commits are grouped, and reports where its group commits are, so the test can kill it in
 * the middle of one:
 *
 * - Postgres: `B` just before a grouped commit statement is sent, `E` when its answer came.
 * - SQLite: `B` when the second checkpoint's UPDATE of one transaction starts (a group
 *   commit, then), `E` at its COMMIT (better-sqlite3's verbose hook, called synchronously
 *   as each statement starts).
 *
 * Environment: RATCHET_STORE as in support/crash-worker.ts; RATCHET_CREATE: how many runs
 * to start (ids run-<first>…), from RATCHET_FIRST. Prints `ready` once its store is open.
 */
import { createEngine, type FunctionContext, fn, type StorageAdapter, workflow } from "ratchetjs";

const steps = 6;
const mix = fn(
  async (_ctx: FunctionContext, acc: number, i: number) => (acc * 31 + i + 7) % 1_000_003,
  {
    retries: 0,
  },
);

/** Six no-op-like steps: the process spends its time committing. */
export const quick = workflow(async (ctx, n: number) => {
  let acc = n;
  for (let i = 0; i < steps; i++) acc = await ctx.step(mix, acc, i);
  return acc;
});

const say = (text: string) => process.stdout.write(text);
const store = JSON.parse(process.env.RATCHET_STORE!) as
  | { kind: "sqlite"; path: string }
  | { kind: "postgres"; url: string; schema: string };
let storage: StorageAdapter;
if (store.kind === "sqlite") {
  const Database = (await import("better-sqlite3")).default;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  // A transaction is a group commit once a second checkpoint's UPDATE runs inside it.
  let commits = -1;
  const db = new Database(store.path, {
    verbose: (sql) => {
      const text = String(sql);
      if (text.startsWith("BEGIN")) commits = 0;
      else if (text === "COMMIT" || text === "ROLLBACK") {
        if (commits >= 2) say("E");
        commits = -1;
      } else if (commits >= 0 && text.includes("seq = seq + 1") && ++commits === 2) {
        say("B");
        // Stay inside the transaction a while, so the test's SIGKILL lands in it (a commit
        // of a few rows takes less time than delivering a signal).
        Atomics.wait(pause, 0, 0, 30);
      }
    },
  });
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
  storage = (await import("ratchetjs/adapters/sqlite")).sqlite({
    database: db,
    synchronous: "full",
  });
} else {
  const pg = (await import("pg")).default;
  const pool = new pg.Pool({ connectionString: store.url, max: 4 });
  pool.on("error", () => {});
  const query = pool.query.bind(pool) as (q: { name?: string }) => Promise<unknown>;
  storage = (await import("ratchetjs/adapters/postgres")).postgres({
    schema: store.schema,
    pool: {
      connect: () => pool.connect(),
      query: ((q: { name?: string }) => {
        if (!q.name?.endsWith("_commit_batch")) return query(q);
        say("B");
        return query(q).finally(() => say("E"));
      }) as never,
    },
  });
}

const engine = createEngine({
  storage,
  workflows: [quick],
  worker: { leaseMs: 300, pollIntervalMs: 20, maxConcurrentRuns: 200 },
});
await engine.list({ limit: 1 });
say("ready\n");
const first = Number(process.env.RATCHET_FIRST ?? 0);
await Promise.all(
  Array.from({ length: Number(process.env.RATCHET_CREATE ?? 0) }, (_, i) =>
    engine.start(quick, [first + i], {
      runId: `run-${first + i}`,
      idempotencyKey: `run-${first + i}`,
    }),
  ),
);
