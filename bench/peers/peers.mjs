/**
 * The peers benchmark: Ratchet, DBOS Transact and the Vercel Workflow SDK (its Postgres
 * world) on the same local PostgreSQL with the same workloads, each workload in a fresh
 * process, each system in a database of its own (so the server's transaction counter is
 * its alone). Prints one table and writes ../results/peers.json. README.md says what each
 * figure measures.
 *
 *   cd bench/peers && npm install && npm run bench
 *
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres, a user
 * who may create databases); PEERS_SYSTEMS (default ratchet,dbos,vercel);
 * PEERS_RESUME (default 10,1000,10000); PEERS_TIMEOUT_S per workload (default 600);
 * PEERS_WORKLOADS (default sequential,concurrent,resume): a system measured for some workloads
 * only keeps the figures of the others from the last results, each marked with its date.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const admin = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const systems = (process.env.PEERS_SYSTEMS ?? "ratchet,dbos,vercel").split(",");
const resumeAfter = (process.env.PEERS_RESUME ?? "10,1000,10000").split(",").map(Number);
const timeoutMs = Number(process.env.PEERS_TIMEOUT_S ?? 600) * 1000;
/** `PEERS_STEPS_<system>` (e.g. PEERS_STEPS_vercel=100) shortens one system's sequential run. */
const sequentialSteps = (system) => Number(process.env[`PEERS_STEPS_${system}`] ?? 1000);
/** `PEERS_RESUME_<system>` (e.g. PEERS_RESUME_vercel=10,1000) narrows one system's resumes. */
const resumesOf = (system) =>
  process.env[`PEERS_RESUME_${system}`]?.split(",").map(Number) ?? resumeAfter;
/** `PEERS_RUNS_<system>` (e.g. PEERS_RUNS_vercel=50) shortens one system's concurrent run. */
const concurrentRuns = (system) => Number(process.env[`PEERS_RUNS_${system}`] ?? 1000);
const workloads = new Set(
  (process.env.PEERS_WORKLOADS ?? "sequential,concurrent,resume").split(","),
);
const RUNS = 1000;
const RUN_STEPS = 10;
const RAW_INSERTS = 1000;

const urlOf = (database) => {
  const url = new URL(admin);
  url.pathname = `/${database}`;
  return url.toString();
};

/** A database for `name`, dropped and created afresh. */
async function freshDatabase(name) {
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return urlOf(name);
}

/** Committed transactions of a database so far (the statistics of idle backends included). */
async function transactions(url) {
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    );
    return Number(rows[0].xact_commit);
  } finally {
    await client.end();
  }
}

/** µs per single-row autocommit INSERT over one connection, prepared, into a fresh table. */
async function rawCommitMicros(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      "DROP TABLE IF EXISTS raw_t; CREATE TABLE raw_t (id int PRIMARY KEY, body text)",
    );
    const text = "INSERT INTO raw_t (id, body) VALUES ($1, $2)";
    const body = "x".repeat(100);
    await client.query({ name: "raw", text, values: [0, body] });
    const started = performance.now();
    for (let i = 1; i <= RAW_INSERTS; i++)
      await client.query({ name: "raw", text, values: [i, body] });
    return ((performance.now() - started) * 1000) / RAW_INSERTS;
  } finally {
    await client.query("DROP TABLE IF EXISTS raw_t");
    await client.end();
  }
}

/**
 * Run one workload in a fresh process; resolves to the JSON line it printed. With `kill`,
 * SIGKILL it once it printed a line (the prepared run hangs in its last step).
 */
function workload(system, args, env, { kill = false } = {}) {
  const command =
    system === "ratchet"
      ? [
          process.execPath,
          ["--import", "ratchetjs/register", "bench/peer-workloads.ts", ...args],
          repo,
        ]
      : [process.execPath, [`${system}.mjs`, ...args], here];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command[1], {
      cwd: command[2],
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let settled = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(new Error(`timed out after ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const finish = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(value);
    };
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      // A resume waits for its timing: the step it reaches may print a line of its own first.
      const line = stdout
        .split("\n")
        .find((l) => l.startsWith("{") && (args[0] !== "resume" || l.includes('"resumeMs"')));
      if (line && stdout.includes("\n")) {
        const value = JSON.parse(line);
        if (kill) {
          child.kill("SIGKILL");
          child.once("exit", () => finish(undefined, value));
        } else child.once("exit", () => finish(undefined, value));
      }
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.once("exit", (code, signal) => {
      if (!settled && !stdout.includes("{")) {
        finish(new Error(`exited (${code ?? signal}) without a result: ${stderr.slice(-2000)}`));
      }
    });
  });
}

const loadAverage = () => os.loadavg().map((l) => Number(l.toFixed(2)));
const results = [];
for (const system of systems) {
  const row = { system, loadAverageBefore: loadAverage(), errors: {} };
  results.push(row);
  const attempt = async (key, action) => {
    try {
      return await action();
    } catch (error) {
      row.errors[key] = String(error.message ?? error).slice(0, 2000);
      console.error(`${system} ${key}: ${row.errors[key]}`);
      return undefined;
    }
  };
  const url = await freshDatabase(`ratchet_peers_${system}`);
  if (system === "vercel") {
    // The world's tables and graphile-worker's schema, and the SDK's standalone build.
    await attempt(
      "setup",
      () =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, ["vercel.mjs", "setup"], {
            cwd: here,
            env: { ...process.env, PEERS_URL: url },
            stdio: "ignore",
          });
          child.once("exit", (code) =>
            code === 0 ? resolve() : reject(new Error(`setup exited ${code}`)),
          );
        }),
    );
  }
  const SEQUENTIAL_STEPS = sequentialSteps(system);
  row.sequentialSteps = SEQUENTIAL_STEPS;
  row.concurrentRuns = concurrentRuns(system);
  row.rawCommitMicros = await rawCommitMicros(url);
  let schemas = 0;
  const env = () => ({ PEERS_URL: url, PEERS_SCHEMA: `w${++schemas}` });
  const before = await transactions(url);
  const sequential =
    workloads.has("sequential") &&
    (await attempt("sequential", () =>
      workload(system, ["sequential", String(SEQUENTIAL_STEPS)], env()),
    ));
  if (sequential) {
    // The workload also ran a 3-step warm-up run and its setup; those are counted as well,
    // so this is an upper bound, close for 1,000 steps.
    row.transactionsPerStep = ((await transactions(url)) - before) / (SEQUENTIAL_STEPS + 3);
    row.sequentialMicrosPerStep = sequential.microsPerStep;
    row.statementsPerStep = sequential.statementsPerStep;
  }
  const concurrent =
    workloads.has("concurrent") &&
    (await attempt("concurrent", () =>
      workload(system, ["concurrent", String(row.concurrentRuns), String(RUN_STEPS)], env()),
    ));
  if (concurrent) {
    row.concurrentStepsPerSecond = concurrent.stepsPerSecond;
    row.concurrentMicrosPerStep = concurrent.microsPerStep;
  }
  row.resumeMs = {};
  for (const k of workloads.has("resume") ? resumesOf(system) : []) {
    await attempt(`resume-${k}`, async () => {
      const shared = env();
      const id = `resume-${k}-${Date.now()}`;
      await workload(system, ["prepare", id, String(k)], shared, { kill: true });
      const resumed = await workload(system, ["resume", id, String(k)], shared);
      row.resumeMs[k] = resumed.resumeMs;
    });
  }
  row.rawCommitMicrosAfter = await rawCommitMicros(url);
  row.loadAverageAfter = loadAverage();
  const raw = (row.rawCommitMicros + row.rawCommitMicrosAfter) / 2;
  row.sequentialRatio = row.sequentialMicrosPerStep && row.sequentialMicrosPerStep / raw;
  row.concurrentRatio = row.concurrentMicrosPerStep && row.concurrentMicrosPerStep / raw;
}

// A run of some systems only (PEERS_SYSTEMS) keeps the other systems' rows of the last
// results, each with the date it was measured, so the table stays one table.
const file = join(repo, "bench", "results", "peers.json");
let earlier = { date: undefined, results: [] };
try {
  earlier = JSON.parse(readFileSync(file, "utf8"));
} catch {}
/** What each workload left in a row: carried from the last results when not measured now. */
const fieldsOf = {
  sequential: [
    "sequentialSteps",
    "transactionsPerStep",
    "sequentialMicrosPerStep",
    "statementsPerStep",
    "sequentialRatio",
  ],
  concurrent: [
    "concurrentRuns",
    "concurrentStepsPerSecond",
    "concurrentMicrosPerStep",
    "concurrentRatio",
  ],
};
for (const row of earlier.results ?? []) {
  const current = results.find((r) => r.system === row.system);
  if (!current) {
    results.push({ measuredAt: earlier.date, ...row });
    continue;
  }
  const at = row.measuredAt ?? earlier.date;
  const carried = {};
  for (const [name, fields] of Object.entries(fieldsOf)) {
    if (workloads.has(name)) continue;
    for (const field of fields) current[field] = row[field];
    carried[name] = row.carried?.[name] ?? at;
  }
  // The raw commit is what the sequential and concurrent ratios were measured against.
  if (carried.sequential && carried.concurrent) {
    current.rawCommitMicros = row.rawCommitMicros;
    current.rawCommitMicrosAfter = row.rawCommitMicrosAfter;
  }
  for (const [k, ms] of Object.entries(row.resumeMs ?? {})) {
    if (current.resumeMs[k] !== undefined) continue;
    current.resumeMs[k] = ms;
    carried[`resume-${k}`] = row.carried?.[`resume-${k}`] ?? at;
  }
  if (Object.keys(carried).length > 0) current.carried = carried;
}
const order = ["ratchet", "dbos", "vercel"];
results.sort((a, b) => order.indexOf(a.system) - order.indexOf(b.system));
const now = new Date().toISOString();
for (const row of results) row.measuredAt ??= now;

const fmt = (value, digits = 0) =>
  value === undefined || value === null ? "–" : Number(value).toFixed(digits);
const header = [
  "system",
  "raw commit µs",
  "sequential µs/step",
  "× raw",
  "statements/step",
  "transactions/step",
  `runs×${RUN_STEPS} steps/s`,
  "µs/step × raw",
  ...resumeAfter.map((k) => `resume after ${k} (ms)`),
  "load avg",
  "measured (UTC)",
];
const rows = results.map((r) => [
  r.system,
  fmt((r.rawCommitMicros + r.rawCommitMicrosAfter) / 2),
  fmt(r.sequentialMicrosPerStep),
  fmt(r.sequentialRatio, 2),
  fmt(r.statementsPerStep, 2),
  fmt(r.transactionsPerStep, 2),
  fmt(r.concurrentStepsPerSecond),
  fmt(r.concurrentRatio, 3),
  ...resumeAfter.map((k) => fmt(r.resumeMs[k], 1)),
  `${r.loadAverageBefore[0]}–${r.loadAverageAfter[0]}`,
  r.measuredAt.slice(0, 16).replace("T", " "),
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(
  `\nPeers on one PostgreSQL (concurrent: ${results.map((r) => `${r.system} ${r.concurrentRuns}`).join(", ")} runs × ${RUN_STEPS} steps; sequential: ${results.map((r) => `${r.system} ${r.sequentialSteps}`).join(", ")} steps)\n`,
);
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
for (const r of results) {
  for (const [key, message] of Object.entries(r.errors))
    console.log(`${r.system} ${key}: ${message.split("\n")[0]}`);
}

let commit = "unknown";
let dirty = false;
try {
  commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repo, encoding: "utf8" }).trim();
  dirty =
    execFileSync("git", ["status", "--porcelain"], { cwd: repo, encoding: "utf8" }).trim() !== "";
} catch {}
writeFileSync(
  file,
  `${JSON.stringify(
    {
      benchmark: "peers",
      date: now,
      settings: {
        runs: RUNS,
        runSteps: RUN_STEPS,
        resumeAfter,
        rawInserts: RAW_INSERTS,
      },
      machine: { node: process.version, cpus: os.cpus().length, git: { commit, dirty } },
      results,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${file}`);
process.exit(0);
