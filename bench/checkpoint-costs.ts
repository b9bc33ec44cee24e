/**
 * Where a sequential Postgres checkpoint's time goes beyond a raw commit: one run of 1,000
 * no-op steps (`loopSteps`) against, in the same round, 1,000 raw single-row INSERTs and
 * 1,000 raw compare-and-set UPDATEs of one row shaped like a run's checkpoint, each over one
 * connection. For each: wall-clock µs per commit, this process's CPU time per commit and
 * the CPU time of its PostgreSQL backends per commit (a local server only). bench/README.md
 * says what the figures mean.
 */
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { createEngine } from "ratchetjs";
import { postgres } from "ratchetjs/adapters/postgres";
import { openTestDatabase, type TestDatabase } from "../test/support/postgres.js";
import { postgresVersion } from "./baselines.js";
import { loopSteps } from "./loop-workflows.js";
import {
  machineInfo,
  median,
  packageVersion,
  printRows,
  serverCpuBetween,
  serverCpuMicros,
  writeResults,
} from "./report.js";

const STEPS = 1000;
const WARMUP_ROUNDS = 1;
/** `BENCH_ROUNDS` overrides it for a short run on a busy machine. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);

interface Sample {
  /** Wall-clock µs per commit. */
  readonly wall: number;
  /** This process's CPU time per commit, µs. */
  readonly client: number;
  /** The backends' CPU time per commit, µs; `undefined` for a server elsewhere. */
  readonly server: number | undefined;
}

let samples = 0;
/** A connection string whose connections carry `name` (so their backends can be found). */
function named(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("application_name", name);
  return parsed.toString();
}

/** Time `body` (which makes STEPS commits on connections named `app`). */
async function timed(db: TestDatabase, app: string, body: () => Promise<void>): Promise<Sample> {
  const serverBefore = await serverCpuMicros(db.query, app);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await body();
  const wall = ((performance.now() - started) * 1000) / STEPS;
  const used = process.cpuUsage(cpu);
  const server = serverCpuBetween(serverBefore, await serverCpuMicros(db.query, app));
  return {
    wall,
    client: (used.user + used.system) / STEPS,
    server: server === undefined ? undefined : server / STEPS,
  };
}

/** One `engine.run` of STEPS no-op steps on a fresh schema (after a 3-step warm-up run). */
async function ratchet(db: TestDatabase, url: string): Promise<Sample> {
  const schema = db.freshSchema();
  const app = `ratchet_costs_${process.pid}_${++samples}`;
  const engine = createEngine({
    storage: postgres({ connectionString: named(url, app), schema }),
    workflows: [loopSteps],
  });
  try {
    await engine.run(loopSteps, [3]);
    return await timed(db, app, () => engine.run(loopSteps, [STEPS]).then(() => {}));
  } finally {
    await engine.close();
    await db.cleanUp();
  }
}

/**
 * STEPS raw statements over one connection, prepared and run once before the clock: a
 * single-row INSERT of a ~100-byte body into a two-column table, or the compare-and-set
 * UPDATE a checkpoint needs (seq, frame, lease and time of one row, fillfactor 70 as the
 * runs table) without Ratchet's other columns.
 */
async function raw(db: TestDatabase, url: string, kind: "insert" | "update"): Promise<Sample> {
  const app = `ratchet_costs_${process.pid}_${++samples}`;
  const table = `ratchet_costs_${process.pid}_${samples}`;
  const client = new pg.Client({ connectionString: named(url, app) });
  await client.connect();
  try {
    const body = "x".repeat(100);
    let text: string;
    let values: (i: number) => unknown[];
    if (kind === "insert") {
      await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, body text)`);
      text = `INSERT INTO ${table} (id, body) VALUES ($1, $2)`;
      values = (i) => [i, body];
    } else {
      await client.query(
        `CREATE TABLE ${table} (id text PRIMARY KEY, seq int8 NOT NULL, lease_owner text,
           frame text, lease_expires_at timestamptz, updated_at timestamptz)
         WITH (fillfactor = 70)`,
      );
      await client.query(`INSERT INTO ${table} VALUES ('run', 0, 'w', NULL, now(), now())`);
      text = `UPDATE ${table} SET seq = seq + 1, frame = $3,
          lease_expires_at = now() + interval '30 seconds', updated_at = now()
        WHERE id = $1 AND seq = $2 AND lease_owner = 'w' RETURNING seq`;
      values = (i) => ["run", i - 1, body];
    }
    await client.query({ name: "costs", text, values: values(kind === "insert" ? 0 : 1) });
    const offset = kind === "insert" ? 0 : 1;
    return await timed(db, app, async () => {
      for (let i = 1; i <= STEPS; i++) {
        await client.query({ name: "costs", text, values: values(i + offset) });
      }
    });
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await client.end();
  }
}

/** Run the benchmark: print its table and write `bench/results/checkpoint-costs.json`. */
export async function runCheckpointCosts(): Promise<void> {
  const db = await openTestDatabase();
  if (db.kind !== "server") {
    console.log("\ncheckpoint-costs: skipped, it needs a PostgreSQL server (DATABASE_URL)");
    await db.end();
    return;
  }
  const url = db.url!;
  const sides = {
    ratchet: () => ratchet(db, url),
    "raw INSERT": () => raw(db, url, "insert"),
    "raw compare-and-set UPDATE": () => raw(db, url, "update"),
  };
  const names = Object.keys(sides) as (keyof typeof sides)[];
  const taken = new Map(names.map((name) => [name, [] as Sample[]]));
  const loadBefore = os.loadavg();
  const started = performance.now();
  try {
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      // Rotate which side goes first.
      const order = names.map((_, i) => names[(i + Math.max(round, 0)) % names.length]);
      for (const name of order) {
        const sample = await sides[name]();
        if (round >= 0) taken.get(name)!.push(sample);
      }
      process.stdout.write(round < 0 ? "warm-up done\n" : `round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    await db.end();
  }
  const insert = taken.get("raw INSERT")!;
  const rows = names.map((name) => {
    const s = taken.get(name)!;
    const perRound = (pick: (x: Sample) => number | undefined) =>
      s.map((x, i) => {
        const a = pick(x);
        const b = pick(insert[i]);
        return a === undefined || b === undefined ? Number.NaN : a / b;
      });
    const servers = s.map((x) => x.server);
    return {
      name,
      wallMicros: s.map((x) => x.wall),
      clientCpuMicros: s.map((x) => x.client),
      serverCpuMicros: servers.includes(undefined) ? null : (servers as number[]),
      wallMedianMicros: median(s.map((x) => x.wall)),
      clientCpuMedianMicros: median(s.map((x) => x.client)),
      serverCpuMedianMicros: servers.includes(undefined) ? null : median(servers as number[]),
      wallRatioToInsertMedian: median(perRound((x) => x.wall)),
      clientCpuRatioToInsertMedian: median(perRound((x) => x.client)),
      serverCpuRatioToInsertMedian: servers.includes(undefined)
        ? null
        : median(perRound((x) => x.server)),
    };
  });
  const loadAfter = os.loadavg();
  printRows(
    `Sequential checkpoints on PostgreSQL, where the time goes (${STEPS} commits a sample, ` +
      `median of ${ROUNDS} rounds, ${((performance.now() - started) / 1000).toFixed(0)} s, load ` +
      `average ${loadBefore[0].toFixed(1)} before, ${loadAfter[0].toFixed(1)} after)`,
    [
      "side",
      "wall µs/commit",
      "÷ raw INSERT",
      "client CPU µs/commit",
      "÷ raw INSERT",
      "server CPU µs/commit",
      "÷ raw INSERT",
    ],
    rows.map((r) => [
      r.name,
      r.wallMedianMicros.toFixed(0),
      `${r.wallRatioToInsertMedian.toFixed(2)}×`,
      r.clientCpuMedianMicros.toFixed(1),
      `${r.clientCpuRatioToInsertMedian.toFixed(2)}×`,
      r.serverCpuMedianMicros === null ? "–" : r.serverCpuMedianMicros.toFixed(1),
      r.serverCpuRatioToInsertMedian === null
        ? "–"
        : `${r.serverCpuRatioToInsertMedian.toFixed(2)}×`,
    ]),
    [0],
  );
  const written = await writeResults("checkpoint-costs", {
    description:
      `One engine.run of ${STEPS} no-op steps (loopSteps) on postgres() against, in the same ` +
      `round, ${STEPS} raw single-row autocommit INSERTs (~100-byte body, two-column table) and ` +
      `${STEPS} raw compare-and-set UPDATEs of one row (seq, frame, lease, updated_at; ` +
      "fillfactor 70), each over one connection, prepared. Per commit: wall-clock µs, this " +
      "process's CPU time (user + system) and its PostgreSQL backends' CPU time (from /proc, a " +
      "local server only). Ratios are medians of the per-round ratios to the raw INSERT.",
    settings: { steps: STEPS, rounds: ROUNDS, warmupRounds: WARMUP_ROUNDS },
    machine: machineInfo({ postgresql: await postgresVersion(url), pg: packageVersion("pg") }),
    comparisons: [],
    extra: { rows, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
  });
  console.log(`wrote ${path.relative(process.cwd(), written)}`);
}
