/**
 * The resume benchmark: how long a run that has completed 10, 1,000 or 100,000 checkpoints
 * takes to resume in a fresh engine, per adapter, as ratios to the 10-checkpoint run timed in
 * the same round. Ratchet keeps a frame, not a history, so this must stay flat.
 * bench/README.md says what each figure measures.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createEngine, createTestClock, type StorageAdapter, type TestClock } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { openTestDatabase } from "../test/support/postgres.js";
import { postgresVersion, sqliteVersion } from "./baselines.js";
import { longRun } from "./loop-workflows.js";
import {
  type Comparison,
  formatMicros,
  formatRatio,
  machineInfo,
  packageVersion,
  printRows,
  summarize,
  writeResults,
} from "./report.js";

const LENGTHS = [10, 1_000, 100_000] as const;
const WARMUP_ROUNDS = 1;
const ROUNDS = 31;
/** More naps than any run takes: the run never ends. */
const NAPS = 1_000_000;
const HOUR = 3_600_000;

/**
 * A store every engine opens anew: the same runs, a fresh adapter object. Each run has a store
 * of its own, so moving the clock past its sleep wakes that run alone.
 */
interface Target {
  readonly name: string;
  readonly open: () => StorageAdapter;
  /** The run's own clock: moving it wakes no other run. */
  readonly clock: TestClock;
}

/** An engine on `target`, with `onCheckpoint` calls for `runId` passed to `seen`. */
function engineOn(target: Target, seen: (checkpoint: string) => void) {
  return createEngine({
    storage: target.open(),
    workflows: [longRun],
    clock: target.clock,
    worker: { pollIntervalMs: 60_000 },
    onCheckpoint: ({ checkpoint }) => seen(checkpoint.id),
  });
}

/** Resolves when `seen` has been called with `id`. */
function checkpointSeen() {
  const waiting = new Map<string, () => void>();
  return {
    seen: (id: string) => waiting.get(id)?.(),
    next: (id: string) => new Promise<void>((resolve) => waiting.set(id, resolve)),
  };
}

/** Start a run of `steps` steps and wait until it has done them all and sleeps. */
async function build(target: Target, steps: number): Promise<string> {
  const checkpoints = checkpointSeen();
  const engine = engineOn(target, checkpoints.seen);
  const asleep = checkpoints.next("sleep:1h");
  const run = await engine.start(longRun, [steps, NAPS]);
  await asleep;
  await engine.close();
  return run.id;
}

/**
 * Microseconds, in a fresh engine on an open store, for `engine.get(runId)` and then, once
 * the clock has moved past the run's sleep, for the worker to claim it, read its frame,
 * resume the machine, execute one no-op step and commit that checkpoint. The run then goes
 * back to sleep, ready for the next sample.
 */
async function resumeMicros(target: Target, runId: string): Promise<number> {
  const checkpoints = checkpointSeen();
  const engine = engineOn(target, checkpoints.seen);
  try {
    await engine.list({ limit: 1 });
    const stepped = checkpoints.next("step:noop#2");
    const asleep = checkpoints.next("sleep:1h");
    const started = performance.now();
    const handle = await engine.get(runId);
    target.clock.advance(2 * HOUR);
    await stepped;
    const elapsed = performance.now() - started;
    await asleep;
    if ((await handle.status()) !== "sleeping") throw new Error(`${runId} did not sleep again`);
    return elapsed * 1000;
  } finally {
    await engine.close();
  }
}

/** Run the resume benchmark: print its table and write `bench/results/resume.json`. */
export async function runResume(): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "ratchet-bench-"));
  const db = await openTestDatabase();
  const server = db.kind === "server" ? db.url! : undefined;
  /** Per adapter, a function making a new store (for one run). */
  const adapters: { name: string; store: () => () => StorageAdapter }[] = [
    {
      name: "memory",
      store: () => {
        // The memory adapter keeps its runs after close(): every engine gets the one instance.
        const storage = memory() as StorageAdapter;
        return () => storage;
      },
    },
    {
      name: "sqlite, synchronous normal",
      store: () => {
        const file = path.join(tmp, `resume-${db.freshSchema()}.db`);
        return () => sqlite({ path: file, synchronous: "normal" });
      },
    },
  ];
  if (server === undefined) console.log("postgres: skipped, no PostgreSQL server answered");
  else {
    adapters.push({
      name: "postgres",
      store: () => {
        const schema = db.freshSchema();
        return () => postgres({ connectionString: server, schema });
      },
    });
  }
  const targets = adapters.map((adapter) =>
    LENGTHS.map(
      (): Target => ({
        name: adapter.name,
        open: adapter.store(),
        clock: createTestClock(new Date("2027-01-01T00:00:00Z")),
      }),
    ),
  );

  const started = performance.now();
  const loadBefore = os.loadavg();
  const runs: string[][] = [];
  const builds: { name: string; steps: number; seconds: number; frameBytes: number }[] = [];
  const samples = adapters.map(() => LENGTHS.map(() => [] as number[]));
  try {
    for (const [t, adapter] of adapters.entries()) {
      runs.push([]);
      for (const [i, steps] of LENGTHS.entries()) {
        const target = targets[t][i];
        const begun = performance.now();
        const id = await build(target, steps);
        runs[t].push(id);
        const storage = target.open();
        await storage.init();
        const stored = await storage.loadRun(id);
        await storage.close();
        if (stored === null || stored.seq < steps)
          throw new Error(`${id} did not run ${steps} steps`);
        const seconds = (performance.now() - begun) / 1000;
        builds.push({ name: adapter.name, steps, seconds, frameBytes: stored.frame!.length });
        console.log(
          `${target.name}: a run with ${steps} completed steps in ${seconds.toFixed(1)} s`,
        );
      }
    }
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      for (const t of adapters.keys()) {
        // Rotate which length goes first.
        for (let k = 0; k < LENGTHS.length; k++) {
          const i = (k + Math.max(round, 0)) % LENGTHS.length;
          const micros = await resumeMicros(targets[t][i], runs[t][i]);
          if (round >= 0) samples[t][i].push(micros);
        }
      }
      process.stdout.write(round < 0 ? "warm-up done\n" : `round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await db.end();
  }

  const comparisons = adapters.flatMap((target, t) =>
    LENGTHS.map((steps, i) => ({
      name: `${target.name}, after ${steps} steps`,
      subject: `engine.get(id), then resuming a sleeping run that has completed ${steps} steps to its next checkpoint, in a fresh engine`,
      baseline: "the same for the run that has completed 10 steps, in the same round",
      subjectMicros: samples[t][i],
      baselineMicros: samples[t][0],
      steps,
      frameBytes: builds.find((b) => b.name === target.name && b.steps === steps)!.frameBytes,
    })),
  ) satisfies Comparison[];
  printRows(
    `Resume time by completed steps, median of ${ROUNDS} rounds ` +
      `(${((performance.now() - started) / 1000).toFixed(0)} s, building the runs included)`,
    ["store", "completed steps", "resume µs", "÷ after 10 steps", "ratio range", "frame bytes"],
    comparisons.map((c) => {
      const s = summarize(c);
      return [
        c.name.slice(0, c.name.lastIndexOf(", after")),
        String(c.steps),
        formatMicros(s.subjectMedianMicros),
        `${formatRatio(s.ratioMedian)}×`,
        `${formatRatio(s.ratioMin)}–${formatRatio(s.ratioMax)}×`,
        String(c.frameBytes),
      ];
    }),
    [0],
  );
  const written = await writeResults("resume", {
    description:
      "µs for engine.get(id) and then resuming a sleeping run to its next checkpoint in a fresh " +
      "engine on an open store (the test clock moves past the sleep; the worker claims the run, " +
      "reads its frame, resumes the machine, executes one no-op step and commits), for runs of a " +
      `loop workflow that have completed ${LENGTHS.join(", ")} steps; the baseline is the same ` +
      "for the 10-step run in the same round, so ratioMedian (median of the per-round ratios) " +
      "near 1 means resume time does not grow with history.",
    settings: {
      lengths: LENGTHS,
      rounds: ROUNDS,
      warmupRounds: WARMUP_ROUNDS,
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
    extra: { builds, loadAverageBefore: loadBefore, loadAverageAfter: os.loadavg() },
  });
  console.log(`wrote ${path.relative(process.cwd(), written)}`);
}
