/**
 * The checkpoint benchmark: the cost of a checkpoint, as ratios to raw baselines timed in
 * the same rounds. bench/README.md says what each figure measures.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createEngine, type StorageAdapter, type Workflow } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { openTestDatabase } from "../test/support/postgres.js";
import {
  plainAwaitMicros,
  postgresVersion,
  rawPostgresInsertMicros,
  rawSqliteInsertMicros,
  type SynchronousMode,
  sqliteVersion,
} from "./baselines.js";
import {
  type Comparison,
  machineInfo,
  packageVersion,
  printTable,
  writeResults,
} from "./report.js";
import { writeStepsWorkflow } from "./workflow-source.js";

const STEPS = 1000;
const WARMUP_ROUNDS = 1;
/** `BENCH_ROUNDS` overrides it for a short run on a busy machine. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 31);
/** `BENCH_STORES=postgres,sqlite` keeps only the rows whose name starts with one of these. */
const STORES = process.env.BENCH_STORES?.split(",").filter((name) => name !== "");
/** Loops of STEPS awaits timed per round for the plain-await baseline. */
const AWAIT_REPEATS = 200;

/**
 * Microseconds per step of one `engine.run` of `workflow`, which has `steps` steps, on a
 * fresh engine over `storage`. The engine's default worker executes the run in this
 * process as soon as it is started. Opening and migrating the store happen before the
 * clock starts; creating the run and its final commit are inside the timing, spread over
 * the steps.
 */
export async function engineStepMicros(
  storage: StorageAdapter,
  workflow: Workflow<[], number>,
  steps: number,
): Promise<number> {
  const engine = createEngine({ storage, workflows: [workflow] });
  try {
    // Waits for storage.init(): list() runs after it. Then the engine's start settles before
    // the clock starts: the worker's first round (parked runs to resume, a first claim). A
    // long-lived worker pays it once, not per run. (The SQLite adapter's checkpoint thread
    // starts at its first ~1,000 pages written, near this run's end, inside the timing.)
    await engine.list({ limit: 1 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const started = performance.now();
    const result = await engine.run(workflow, []);
    const elapsed = performance.now() - started;
    if (result !== steps) throw new Error(`The workflow returned ${result}, expected ${steps}.`);
    return (elapsed * 1000) / steps;
  } finally {
    await engine.close();
  }
}

interface Pair {
  readonly name: string;
  readonly subject: string;
  readonly baseline: string;
  readonly runSubject: () => Promise<number>;
  readonly runBaseline: () => Promise<number>;
}

/** Run the checkpoint benchmark: print its table and write `bench/results/checkpoints.json`. */
export async function runCheckpoints(): Promise<void> {
  const workflowUrl = await writeStepsWorkflow(
    new URL("generated/", import.meta.url),
    STEPS,
    "noopSteps",
  );
  const { noopSteps } = (await import(workflowUrl.href)) as {
    noopSteps: Workflow<[], number>;
  };

  const tmp = await mkdtemp(path.join(os.tmpdir(), "ratchet-bench-"));
  let fileCount = 0;
  const freshFile = (label: string) => path.join(tmp, `${label}-${++fileCount}.db`);

  const sqlitePair = (
    synchronous: SynchronousMode,
    options: { groupCommit?: false; walCheckpointThread?: false } = {},
  ): Pair => {
    const set = Object.entries(options)
      .map(([key, value]) => `, ${key}: ${value}`)
      .join("");
    return {
      name: `sqlite, synchronous ${synchronous}${set}`,
      subject: `engine.run of ${STEPS} no-op steps, sqlite({ path, synchronous: "${synchronous}"${set} })`,
      baseline: "raw INSERT",
      runSubject: () =>
        engineStepMicros(
          sqlite({ path: freshFile(`engine-${synchronous}`), synchronous, ...options }),
          noopSteps,
          STEPS,
        ),
      runBaseline: async () =>
        rawSqliteInsertMicros(freshFile(`raw-${synchronous}`), synchronous, STEPS),
    };
  };

  const pairs: Pair[] = [
    {
      name: "memory",
      subject: `engine.run of ${STEPS} no-op steps, memory()`,
      baseline: "plain await",
      runSubject: () => engineStepMicros(memory() as StorageAdapter, noopSteps, STEPS),
      runBaseline: () => plainAwaitMicros(STEPS, AWAIT_REPEATS),
    },
    sqlitePair("full"),
    sqlitePair("normal"),
    sqlitePair("normal", { groupCommit: false }),
    // The log checkpointed inside the commits, as the raw INSERT loop's is: the engine's own
    // cost over the statement, without the thread's share.
    sqlitePair("normal", { walCheckpointThread: false }),
  ];

  // PostgreSQL: the server at DATABASE_URL (default the local one), a fresh schema per sample.
  // Embedded PGlite, the tests' fallback, is no measure of a server: without one, no row.
  const db = await openTestDatabase();
  const server = db.kind === "server" ? db.url! : undefined;
  if (server === undefined) console.log("postgres: skipped, no PostgreSQL server answered");
  else {
    const postgresPair = (groupCommit: boolean): Pair => ({
      name: groupCommit ? "postgres" : "postgres, groupCommit: false",
      subject: `engine.run of ${STEPS} no-op steps, postgres({ connectionString, schema${groupCommit ? "" : ", groupCommit: false"} })`,
      baseline: "raw INSERT",
      runSubject: async () => {
        try {
          return await engineStepMicros(
            postgres({ connectionString: server, schema: db.freshSchema(), groupCommit }),
            noopSteps,
            STEPS,
          );
        } finally {
          await db.cleanUp();
        }
      },
      runBaseline: () => rawPostgresInsertMicros(server, db.freshSchema(), STEPS),
    });
    pairs.push(postgresPair(true), postgresPair(false));
  }
  if (STORES !== undefined) {
    const chosen = pairs.filter((pair) => STORES.some((store) => pair.name.startsWith(store)));
    pairs.splice(0, pairs.length, ...chosen);
  }

  const samples = pairs.map(() => ({ subject: [] as number[], baseline: [] as number[] }));
  const started = performance.now();
  try {
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      for (const [i, pair] of pairs.entries()) {
        // Alternate which side goes first, so drift within a round does not favour one side.
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
    `Checkpoint cost: one run of ${STEPS} sequential no-op steps, median of ${ROUNDS} rounds ` +
      `(${((performance.now() - started) / 1000).toFixed(0)} s)`,
    comparisons,
  );
  const written = await writeResults("checkpoints", {
    description:
      `µs per step of one engine.run of a workflow of ${STEPS} sequential no-op steps (run ` +
      "creation and final commit included; the engine's start settles 150 ms first), against a baseline timed in the same round: a plain " +
      "`await Promise.resolve(i)` loop for memory(); one autocommit single-row better-sqlite3 " +
      "INSERT (~100-byte body, same pragmas as the adapter, fresh file; its connection " +
      "checkpoints the log itself, at SQLite's default 1,000 pages, as a plain application's " +
      "does, while the adapter's checkpoint thread does it with synchronous normal unless " +
      "walCheckpointThread: false) for sqlite(); one " +
      "autocommit single-row node-postgres INSERT (prepared, ~100-byte body, fresh table) for " +
      "postgres(). " +
      "ratioMedian is the median of the per-round ratios.",
    settings: {
      steps: STEPS,
      rounds: ROUNDS,
      warmupRounds: WARMUP_ROUNDS,
      awaitRepeats: AWAIT_REPEATS,
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
  });
  console.log(`wrote ${path.relative(process.cwd(), written)}`);
}
