/**
 * The scale-out benchmark: how fast 1, 2 and 4 worker processes on one PostgreSQL schema get
 * through 1,000 stored runs, against a raw baseline timed in the same round (the same number
 * of processes making the same number of single-row compare-and-set UPDATEs with pg, no
 * Ratchet). bench/README.md says what each figure measures. Needs a PostgreSQL server.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { compileWorker } from "../test/support/compile-worker.js";
import { openTestDatabase, type TestDatabase } from "../test/support/postgres.js";
import {
  type Comparison,
  formatMicros,
  formatRatio,
  machineInfo,
  median,
  packageVersion,
  printRows,
  serverCpuBetween,
  serverCpuMicros,
  summarize,
  writeResults,
} from "./report.js";

const RUNS = 1000;
/** Three steps and the end: the commits each run makes. */
const COMMITS_PER_RUN = 4;
const WORKERS = [1, 2, 4] as const;
const WARMUP_ROUNDS = 1;
/** `BENCH_ROUNDS` overrides it for a short run on a busy machine. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

interface Child {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  /** Resolves once a line with `key` has been printed. */
  readonly printed: (key: string) => Promise<void>;
  readonly exited: Promise<number | null>;
}

function startChild(script: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [script, ...args], {
    env,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { key: string; resolve: () => void }[] = [];
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (!line.startsWith("{")) continue;
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      for (const w of waiters.filter((w) => w.key in parsed)) w.resolve();
    }
  });
  return {
    child,
    lines,
    printed: (key) =>
      lines.some((l) => key in l)
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ key, resolve })),
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Where one sample's time went: CPU time of the processes and of their server backends. */
interface Costs {
  readonly seconds: number;
  /** The worker (or raw) processes' CPU time from the go to the end, µs, summed. */
  readonly processCpuMicros: number;
  /** Their PostgreSQL backends' CPU time over the same span, µs (a local server only). */
  readonly serverCpuMicros: number | undefined;
}

/** One process's figure from its JSON lines (0 when it printed none). */
function reported(children: readonly Child[], key: string, field: string): number {
  let total = 0;
  for (const c of children) {
    const line = c.lines.find((l) => key in l);
    total += Number(line?.[field] ?? 0);
  }
  return total;
}

/** Seconds for `workers` processes to finish RUNS stored runs, and their failed commits. */
async function timeRatchet(
  db: TestDatabase,
  script: string,
  workers: number,
): Promise<Costs & { failedCommits: number; statements: Record<string, number> }> {
  const schema = db.freshSchema();
  const env = {
    ...process.env,
    DATABASE_URL: db.url,
    RATCHET_SCHEMA: schema,
    RATCHET_STEP_MS: "0",
    RATCHET_GO: "stdin",
    RATCHET_COUNT: "1",
    // The workers' connections are told apart from everyone else's by this name.
    PGAPPNAME: schema,
  };
  const produce = spawnSync(process.execPath, [script, "produce", String(RUNS)], {
    env,
    encoding: "utf8",
  });
  if (produce.status !== 0) throw new Error(`producing runs failed: ${produce.stderr}`);
  const children = Array.from({ length: workers }, () => startChild(script, ["work"], env));
  await Promise.all(children.map((c) => c.printed("ready")));
  const serverBefore = await serverCpuMicros(db.query, schema);
  const completed = async () =>
    Number(
      (
        await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM "${schema}".runs WHERE status = 'completed'`,
        )
      )[0].n,
    );
  const started = performance.now();
  for (const c of children) c.child.stdin!.write("go\n");
  while ((await completed()) < RUNS) {
    if (performance.now() - started > 300_000) throw new Error("the workers stalled");
    await sleep(5);
  }
  const seconds = (performance.now() - started) / 1000;
  const serverAfter = await serverCpuMicros(db.query, schema);
  for (const c of children) c.child.kill("SIGTERM");
  await Promise.all(children.map((c) => c.exited));
  const [{ n }] = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${schema}".runs WHERE status = 'completed' AND seq = ${COMMITS_PER_RUN}`,
  );
  if (Number(n) !== RUNS) throw new Error(`only ${n} of ${RUNS} runs completed once`);
  const failedCommits = children.flatMap((c) => c.lines.filter((l) => "failed" in l)).length;
  const statements: Record<string, number> = {};
  for (const c of children) {
    const sent = c.lines.find((l) => "statements" in l)?.statements as Record<string, number>;
    for (const [name, count] of Object.entries(sent ?? {})) {
      statements[name] = (statements[name] ?? 0) + count;
    }
  }
  await db.cleanUp();
  return {
    seconds,
    failedCommits,
    statements,
    processCpuMicros: reported(children, "commits", "cpuMicros"),
    serverCpuMicros: serverCpuBetween(serverBefore, serverAfter),
  };
}

/** Seconds for `workers` processes to make RUNS × 4 raw compare-and-set UPDATEs. */
async function timeRaw(db: TestDatabase, script: string, workers: number): Promise<Costs> {
  const schema = db.freshSchema();
  await db.query(`CREATE SCHEMA "${schema}"`);
  await db.query(
    `CREATE TABLE "${schema}".raw (id int PRIMARY KEY, seq int NOT NULL, body text NOT NULL)`,
  );
  await db.query(
    `INSERT INTO "${schema}".raw SELECT i, 0, '' FROM generate_series(0, ${RUNS - 1}) AS i`,
  );
  const env = {
    ...process.env,
    DATABASE_URL: db.url,
    RATCHET_SCHEMA: schema,
    RATCHET_GO: "stdin",
    RATCHET_COUNT: "1",
    PGAPPNAME: schema,
  };
  const share = Math.ceil(RUNS / workers);
  const children = Array.from({ length: workers }, (_, i) =>
    startChild(script, ["raw", String(i * share), String(Math.min(RUNS, (i + 1) * share))], env),
  );
  await Promise.all(children.map((c) => c.printed("ready")));
  const serverBefore = await serverCpuMicros(db.query, schema);
  const started = performance.now();
  for (const c of children) c.child.stdin!.write("go\n");
  await Promise.all(children.map((c) => c.printed("done")));
  const seconds = (performance.now() - started) / 1000;
  const serverAfter = await serverCpuMicros(db.query, schema);
  for (const c of children) c.child.stdin!.write("end\n");
  await Promise.all(children.map((c) => c.exited));
  const [{ n }] = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${schema}".raw WHERE seq = ${COMMITS_PER_RUN}`,
  );
  if (Number(n) !== RUNS) throw new Error(`only ${n} of ${RUNS} raw rows were updated 4 times`);
  await db.cleanUp();
  return {
    seconds,
    processCpuMicros: reported(children, "done", "cpuMicros"),
    serverCpuMicros: serverCpuBetween(serverBefore, serverAfter),
  };
}

/** The median of `micros / commits` over the rounds, or `null` when a round has no figure. */
function medianOf(micros: readonly (number | undefined)[], commits: number): number | null {
  if (micros.some((m) => m === undefined)) return null;
  return median(micros.map((m) => m! / commits));
}

/** Statements per commit by name, over every round. */
function perCommit(rounds: readonly Record<string, number>[], commits: number) {
  const total: Record<string, number> = {};
  for (const sent of rounds) {
    for (const [name, count] of Object.entries(sent)) total[name] = (total[name] ?? 0) + count;
  }
  for (const name of Object.keys(total)) total[name] /= commits * rounds.length;
  return total;
}

/** Run the scale-out benchmark: print its table and write `bench/results/scale-out.json`. */
export async function runScaleOut(): Promise<void> {
  const db = await openTestDatabase();
  if (db.kind !== "server") {
    console.log(
      "\nscale-out: skipped, it needs a PostgreSQL server (DATABASE_URL, default the local one)",
    );
    await db.end();
    return;
  }
  const [{ server_version: serverVersion }] = await db.query<{ server_version: string }>(
    "SHOW server_version",
  );
  const worker = compileWorker(new URL("../test/support/scale-out-worker.ts", import.meta.url));
  const samples = WORKERS.map(() => ({
    ratchet: [] as number[],
    raw: [] as number[],
    failedCommits: [] as number[],
    ratchetCosts: [] as Costs[],
    rawCosts: [] as Costs[],
    statements: [] as Record<string, number>[],
  }));
  const started = performance.now();
  const loadBefore = os.loadavg();
  try {
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      // Rotate the order of the worker counts, and alternate which side goes first.
      const order = WORKERS.map((_, i) => (i + Math.max(round, 0)) % WORKERS.length);
      for (const i of order) {
        const workers = WORKERS[i];
        const ratchetFirst = round % 2 === 0;
        let ratchet: Awaited<ReturnType<typeof timeRatchet>>;
        let raw: Costs;
        if (ratchetFirst) {
          ratchet = await timeRatchet(db, worker.path, workers);
          raw = await timeRaw(db, worker.path, workers);
        } else {
          raw = await timeRaw(db, worker.path, workers);
          ratchet = await timeRatchet(db, worker.path, workers);
        }
        if (round < 0) continue;
        samples[i].ratchet.push(ratchet.seconds);
        samples[i].raw.push(raw.seconds);
        samples[i].failedCommits.push(ratchet.failedCommits);
        samples[i].ratchetCosts.push(ratchet);
        samples[i].rawCosts.push(raw);
        samples[i].statements.push(ratchet.statements);
      }
      process.stdout.write(round < 0 ? "warm-up done\n" : `round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    worker.remove();
    await db.end();
  }

  const commits = RUNS * COMMITS_PER_RUN;
  const comparisons = WORKERS.map((workers, i) => {
    const s = samples[i];
    // Speed-up over one worker within each round: the rounds' pairs ran back to back.
    const speedup = s.ratchet.map((seconds, r) => samples[0].ratchet[r] / seconds);
    const rawSpeedup = s.raw.map((seconds, r) => samples[0].raw[r] / seconds);
    return {
      name: `${workers} worker${workers === 1 ? "" : "s"}`,
      subject: `${workers} worker process(es) (maxConcurrentRuns 20, 5 connections each) executing ${RUNS} stored runs of 3 no-op steps`,
      baseline: `${workers} process(es) making ${commits} single-row compare-and-set UPDATEs, 20 rows at a time on 5 connections each`,
      subjectMicros: s.ratchet.map((seconds) => (seconds * 1e6) / commits),
      baselineMicros: s.raw.map((seconds) => (seconds * 1e6) / commits),
      workers,
      runsPerSecond: s.ratchet.map((seconds) => RUNS / seconds),
      runsPerSecondMedian: median(s.ratchet.map((seconds) => RUNS / seconds)),
      rawCommitsPerSecondMedian: median(s.raw.map((seconds) => commits / seconds)),
      speedupOverOneWorker: speedup,
      speedupOverOneWorkerMedian: median(speedup),
      rawSpeedupOverOneProcessMedian: median(rawSpeedup),
      failedCommits: s.failedCommits,
      // Where the time goes, per commit (medians over the rounds).
      processCpuMicrosPerCommit: median(s.ratchetCosts.map((c) => c.processCpuMicros / commits)),
      rawProcessCpuMicrosPerCommit: median(s.rawCosts.map((c) => c.processCpuMicros / commits)),
      serverCpuMicrosPerCommit: medianOf(
        s.ratchetCosts.map((c) => c.serverCpuMicros),
        commits,
      ),
      rawServerCpuMicrosPerCommit: medianOf(
        s.rawCosts.map((c) => c.serverCpuMicros),
        commits,
      ),
      statementsPerCommit: perCommit(s.statements, commits),
    } satisfies Comparison & Record<string, unknown>;
  });

  printRows(
    `Scale-out on PostgreSQL: ${RUNS} stored runs (3 no-op steps, ${COMMITS_PER_RUN} commits each), ` +
      `median of ${ROUNDS} rounds (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    [
      "workers",
      "runs/s",
      "checkpoints/s",
      "speed-up vs 1",
      "raw commits/s",
      "raw speed-up",
      "ratchet ÷ raw (µs/commit)",
      "failed CAS",
    ],
    comparisons.map((c) => {
      const summary = summarize(c);
      return [
        c.name,
        c.runsPerSecondMedian.toFixed(0),
        (c.runsPerSecondMedian * COMMITS_PER_RUN).toFixed(0),
        `${formatRatio(c.speedupOverOneWorkerMedian)}×`,
        c.rawCommitsPerSecondMedian.toFixed(0),
        `${formatRatio(c.rawSpeedupOverOneProcessMedian)}×`,
        `${formatRatio(summary.ratioMedian)}× (${formatMicros(summary.subjectMedianMicros)} ÷ ${formatMicros(summary.baselineMedianMicros)})`,
        String(c.failedCommits.reduce((a, b) => a + b, 0)),
      ];
    }),
    [0],
  );
  printRows(
    "Where the time goes, per commit (medians): CPU time of the worker processes and of their " +
      "PostgreSQL backends (a local server), Ratchet and raw, and the statements Ratchet sent",
    [
      "workers",
      "process CPU µs: ratchet / raw",
      "server CPU µs: ratchet / raw",
      "statements/commit",
      "of which: commit, batch, claim, renew, other",
    ],
    comparisons.map((c) => {
      const st = c.statementsPerCommit;
      const commitOne = st.commit ?? 0;
      const batch = st.commit_batch ?? 0;
      const claim = (st.claim ?? 0) + (st.claim_due ?? 0);
      const renew = st.renew ?? 0;
      const total = Object.values(st).reduce((a, b) => a + b, 0);
      const server = (micros: number | null) => (micros === null ? "–" : micros.toFixed(1));
      return [
        c.name,
        `${c.processCpuMicrosPerCommit.toFixed(1)} / ${c.rawProcessCpuMicrosPerCommit.toFixed(1)}`,
        `${server(c.serverCpuMicrosPerCommit)} / ${server(c.rawServerCpuMicrosPerCommit)}`,
        total.toFixed(3),
        [commitOne, batch, claim, renew, total - commitOne - batch - claim - renew]
          .map((n) => n.toFixed(3))
          .join(", "),
      ];
    }),
    [0],
  );
  const written = await writeResults("scale-out", {
    description:
      `Worker processes (1, 2, 4) on one PostgreSQL schema executing ${RUNS} runs stored ` +
      `beforehand (3 no-op steps: ${COMMITS_PER_RUN} commits a run), timed from the moment every ` +
      "worker has its store open to the last completion; against, in the same round, as many " +
      `processes making ${RUNS * COMMITS_PER_RUN} single-row compare-and-set UPDATEs with pg. ` +
      "subjectMicros / baselineMicros are wall-clock µs per commit; ratioMedian is the median of " +
      "the per-round ratios; speedupOverOneWorker compares with the 1-worker sample of the same round. " +
      "processCpuMicrosPerCommit / rawProcessCpuMicrosPerCommit: the processes' CPU time (user + " +
      "system) from the go to the end per commit; serverCpuMicrosPerCommit / " +
      "rawServerCpuMicrosPerCommit: their PostgreSQL backends' CPU time over the same span (from " +
      "/proc, a local server only; null otherwise); statementsPerCommit: statements Ratchet's " +
      "workers sent after the go, by prepared-statement name, per commit.",
    settings: {
      runs: RUNS,
      commitsPerRun: COMMITS_PER_RUN,
      workers: WORKERS,
      rounds: ROUNDS,
      warmupRounds: WARMUP_ROUNDS,
      worker: { maxConcurrentRuns: 20, connections: 5, leaseMs: 1500, pollIntervalMs: 50 },
    },
    machine: machineInfo({ postgresql: serverVersion, pg: packageVersion("pg") }),
    comparisons,
    // Other work on the machine slows both sides; the 1-, 5- and 15-minute load averages.
    extra: { loadAverageBefore: loadBefore, loadAverageAfter: os.loadavg() },
  });
  console.log(`wrote ${path.relative(process.cwd(), written)}`);
}
