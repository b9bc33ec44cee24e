/**
 * The concurrent checkpoint benchmark: one engine executing 1,000 runs at once, per adapter,
 * as commits per second against the same driver's raw single-row commit rate timed in the
 * same round. bench/README.md says what each figure measures.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createEngine, type StorageAdapter } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { openTestDatabase } from "../test/support/postgres.js";
import {
  plainAwaitMicros,
  postgresVersion,
  rawPostgresInsertMicros,
  rawPostgresPooledInsertMicros,
  rawSqliteInsertMicros,
  type SynchronousMode,
  sqliteVersion,
} from "./baselines.js";
import { loopSteps } from "./loop-workflows.js";
import {
  type Comparison,
  machineInfo,
  packageVersion,
  printTable,
  writeResults,
} from "./report.js";

const RUNS = 1000;
const STEPS = 10;
/** Every step's checkpoint and every run's end. */
const COMMITS = RUNS * (STEPS + 1);
const WARMUP_ROUNDS = 1;
/** `BENCH_ROUNDS` overrides it for a short run on a busy machine. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
/** `BENCH_STORES=postgres,sqlite` keeps only the rows whose name starts with one of these. */
const STORES = process.env.BENCH_STORES?.split(",").filter((name) => name !== "");
/** The pool the Postgres rows and the pooled baseline use (the adapter's default). */
const POOL = 10;
/** Raw single-row commits timed per baseline sample (as in the sequential benchmark). */
const BASELINE_OPS = 1000;
const AWAIT_REPEATS = 200;
/** Raw single-row commits issued at once through the pool, per pooled baseline sample. */
const BASELINE_POOLED_OPS = 5000;

/** One store, opened twice: by the engine that stores the runs, then by the one that runs them. */
interface Store {
  readonly producer: StorageAdapter;
  readonly worker: () => StorageAdapter;
  readonly dispose: () => Promise<void>;
}

/**
 * Microseconds of wall-clock time per commit while one engine (maxConcurrentRuns 1,000)
 * executes RUNS stored runs of STEPS no-op steps at once. The runs are stored and the
 * store is opened before the clock starts; it stops at the last run's final commit.
 */
async function concurrentMicros(store: Store): Promise<number> {
  try {
    const producer = createEngine({
      storage: store.producer,
      workflows: [loopSteps],
      worker: false,
    });
    for (let i = 0; i < RUNS; i++) await producer.start(loopSteps, [STEPS]);
    await producer.close();

    const storage = store.worker();
    await storage.init();
    let completed = 0;
    let allDone: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      allDone = resolve;
    });
    const commit = storage.commit.bind(storage);
    storage.commit = async (change) => {
      const outcome = await commit(change);
      if (outcome.ok && change.status === "completed" && ++completed === RUNS) allDone();
      return outcome;
    };
    const started = performance.now();
    const engine = createEngine({
      storage,
      workflows: [loopSteps],
      worker: { maxConcurrentRuns: RUNS, pollIntervalMs: 10 },
    });
    await done;
    const elapsed = performance.now() - started;
    await engine.close();
    return (elapsed * 1000) / COMMITS;
  } finally {
    await store.dispose();
  }
}

interface Pair {
  readonly name: string;
  readonly subject: string;
  readonly baseline: string;
  readonly runSubject: () => Promise<number>;
  readonly runBaseline: () => Promise<number>;
}

/**
 * Run the concurrent checkpoint benchmark: print its table and write
 * `bench/results/checkpoints-concurrent.json`.
 */
export async function runCheckpointsConcurrent(): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "ratchet-bench-"));
  let fileCount = 0;
  const freshFile = (label: string) => path.join(tmp, `${label}-${++fileCount}.db`);
  const subject = (options: string) =>
    `one engine executing ${RUNS} stored runs of ${STEPS} no-op steps at once, ${options}`;

  const sqlitePair = (synchronous: SynchronousMode): Pair => ({
    name: `sqlite, synchronous ${synchronous}`,
    subject: subject(`sqlite({ path, synchronous: "${synchronous}" })`),
    baseline: "raw INSERT",
    runSubject: () => {
      const file = freshFile(`engine-${synchronous}`);
      return concurrentMicros({
        producer: sqlite({ path: file, synchronous }),
        worker: () => sqlite({ path: file, synchronous }),
        dispose: async () => {},
      });
    },
    runBaseline: async () =>
      rawSqliteInsertMicros(freshFile(`raw-${synchronous}`), synchronous, BASELINE_OPS),
  });

  const pairs: Pair[] = [
    {
      name: "memory",
      subject: subject("memory()"),
      baseline: "plain await",
      runSubject: () => {
        // The memory adapter keeps its runs after close(): one instance serves both engines.
        const storage = memory() as StorageAdapter;
        return concurrentMicros({
          producer: storage,
          worker: () => storage,
          dispose: async () => {},
        });
      },
      runBaseline: () => plainAwaitMicros(BASELINE_OPS, AWAIT_REPEATS),
    },
    sqlitePair("full"),
    sqlitePair("normal"),
  ];

  const db = await openTestDatabase();
  const server = db.kind === "server" ? db.url! : undefined;
  if (server === undefined) console.log("postgres: skipped, no PostgreSQL server answered");
  else {
    const postgresPair = (groupCommit: boolean): Pair => ({
      name: groupCommit ? "postgres" : "postgres, groupCommit: false",
      subject: subject(
        `postgres({ connectionString, schema${groupCommit ? "" : ", groupCommit: false"} }), a pool of ${POOL} connections`,
      ),
      baseline: `raw INSERT, pool of ${POOL}`,
      runSubject: () => {
        const schema = db.freshSchema();
        return concurrentMicros({
          producer: postgres({ connectionString: server, schema }),
          worker: () => postgres({ connectionString: server, schema, groupCommit }),
          dispose: () => db.cleanUp(),
        });
      },
      runBaseline: () =>
        rawPostgresPooledInsertMicros(server, db.freshSchema(), BASELINE_POOLED_OPS, POOL),
    });
    pairs.push(postgresPair(true), postgresPair(false), {
      name: "postgres, sequential baseline",
      subject: subject(`postgres({ connectionString, schema }), a pool of ${POOL} connections`),
      baseline: "raw INSERT, 1 connection",
      runSubject: () => {
        const schema = db.freshSchema();
        return concurrentMicros({
          producer: postgres({ connectionString: server, schema }),
          worker: () => postgres({ connectionString: server, schema }),
          dispose: () => db.cleanUp(),
        });
      },
      runBaseline: () => rawPostgresInsertMicros(server, db.freshSchema(), BASELINE_OPS),
    });
  }
  const chosen = pairs.filter(
    (pair) => STORES === undefined || STORES.some((store) => pair.name.startsWith(store)),
  );
  pairs.splice(0, pairs.length, ...chosen);

  const samples = pairs.map(() => ({ subject: [] as number[], baseline: [] as number[] }));
  const started = performance.now();
  const loadBefore = os.loadavg();
  try {
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      for (const [i, pair] of pairs.entries()) {
        const subjectFirst = round % 2 === 0;
        const first = subjectFirst ? pair.runSubject : pair.runBaseline;
        const second = subjectFirst ? pair.runBaseline : pair.runSubject;
        const a = await first();
        const b = await second();
        if (round < 0) continue;
        samples[i].subject.push(subjectFirst ? a : b);
        samples[i].baseline.push(subjectFirst ? b : a);
      }
      process.stdout.write(round < 0 ? "warm-up done\n" : `round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await db.end();
  }

  const comparisons: Comparison[] = pairs.map((pair, i) => ({
    name: pair.name,
    subject: pair.subject,
    baseline: pair.baseline,
    subjectMicros: samples[i].subject,
    baselineMicros: samples[i].baseline,
  }));
  printTable(
    `Checkpoints of ${RUNS} concurrent runs (${STEPS} no-op steps each: ${COMMITS} commits), ` +
      `median of ${ROUNDS} rounds (${((performance.now() - started) / 1000).toFixed(0)} s, ` +
      `load average ${loadBefore[0].toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after); ` +
      "group commit on unless the row says groupCommit: false",
    comparisons,
    "commit",
  );
  const written = await writeResults("checkpoints-concurrent", {
    description:
      `Wall-clock µs per commit while one engine (maxConcurrentRuns ${RUNS}) executes ${RUNS} ` +
      `runs of ${STEPS} no-op steps stored beforehand (${COMMITS} commits: every checkpoint and ` +
      "every end), from the engine's creation on an open store to the last run's final commit; " +
      "against, in the same round, the same driver's raw single-row commit: a plain " +
      "`await Promise.resolve(i)` loop for memory(), one autocommit single-row INSERT " +
      "(better-sqlite3 with the adapter's pragmas) for sqlite(); for postgres(), " +
      `${BASELINE_POOLED_OPS} autocommit single-row INSERTs issued at once through a pool of ` +
      `${POOL} (the raw one-row-per-transaction rate of the same pool), and for the last row ` +
      "one at a time over one connection. Group commit is on (the adapters' default) unless " +
      "the row says groupCommit: false. ratioMedian is the median of the per-round ratios; " +
      "below 1 means faster than the baseline.",
    settings: {
      runs: RUNS,
      steps: STEPS,
      commits: COMMITS,
      rounds: ROUNDS,
      warmupRounds: WARMUP_ROUNDS,
      baselineOps: BASELINE_OPS,
      tmpdir: os.tmpdir(),
    },
    machine: machineInfo({
      sqlite: sqliteVersion(),
      betterSqlite3: packageVersion("better-sqlite3"),
      ...(server === undefined
        ? {}
        : { postgresql: await postgresVersion(server), pg: packageVersion("pg") }),
    }),
    comparisons,
    extra: { loadAverageBefore: loadBefore, loadAverageAfter: os.loadavg() },
  });
  console.log(`wrote ${path.relative(process.cwd(), written)}`);
}
