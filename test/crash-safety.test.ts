import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { parse } from "devalue";
import { afterAll, describe, expect, it } from "vitest";
import { compileWorker } from "./support/compile-worker.js";
import { openTestDatabase } from "./support/postgres.js";

/**
 * Crash safety under hundreds of SIGKILLs. Worker processes share one store; each starts a
 * couple of new runs of an eight-step workflow and executes whatever it can claim, and is
 * killed with SIGKILL at a random moment (0–200 ms after its store is open: while starting
 * runs, inside steps, in the middle of commits, claims and lease renewals). Four of them
 * live at a time; as each dies, another takes its place, until at least 200 have been
 * killed. Then workers run unmolested until every run has ended.
 *
 * Every run must be there, completed, with the right result, each of its eight checkpoints
 * and its end committed exactly once (`seq` is 9), and its last frame must read back.
 * Leases are 200 ms, so the runs of a dead worker are taken over quickly.
 *
 * The worker (support/crash-worker.ts) is compiled once here and run as plain JavaScript
 * (support/compile-worker.ts), so a process starts in 0.1–0.2 s.
 */
const db = await openTestDatabase();
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ratchet-crash-safety-"));
const worker = compileWorker(new URL("./support/crash-worker.ts", import.meta.url));
afterAll(async () => {
  await db.end();
  rmSync(dir, { recursive: true, force: true });
  worker.remove();
});

const KILLS = 200;
const LIVE_WORKERS = 4;
const RUNS_PER_WORKER = 2;
const KILL_WINDOW_MS = 200;
const STEPS = 8;

/** The result `chain(n)` must return (support/crash-worker.ts). */
function expected(n: number) {
  let acc = n;
  const trail: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    acc = (acc * 31 + i + 7) % 1_000_003;
    trail.push(acc);
  }
  return { n, acc, trail };
}

interface Row {
  readonly id: string;
  readonly status: string;
  readonly seq: number;
  readonly result: string | null;
  readonly frame: string | null;
}

/** A store the workers share, and how the test reads it. */
interface Target {
  readonly env: string;
  readonly rows: () => Promise<Row[]>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A worker process, with what it printed so far. */
interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  checkpoints: number;
  exitedEarly: boolean;
  stderr: string;
}

function startWorker(target: Target, create: readonly number[]): Worker {
  const child = spawn(process.execPath, [worker.path], {
    cwd: root,
    env: { ...process.env, RATCHET_STORE: target.env, RATCHET_CREATE: create.join(",") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let markReady: () => void = () => {};
  const state: Worker = {
    child,
    ready: new Promise((resolve) => {
      markReady = resolve;
    }),
    exited: new Promise((resolve) => child.once("exit", () => resolve())),
    checkpoints: 0,
    exitedEarly: false,
    stderr: "",
  };
  child.stdout!.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    if (text.includes("ready")) markReady();
    for (const ch of text) if (ch === "c") state.checkpoints++;
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    state.stderr += chunk.toString();
  });
  child.once("exit", (_code, signal) => {
    if (signal !== "SIGKILL") state.exitedEarly = true;
    markReady();
  });
  return state;
}

async function tortureAndCheck(target: Target, label: string): Promise<void> {
  const started = performance.now();
  let nextRun = 0;
  const assigned: number[] = [];
  const assign = (count: number) => {
    const runs = Array.from({ length: count }, () => nextRun++);
    assigned.push(...runs);
    return runs;
  };
  let kills = 0;
  let killsAfterACheckpoint = 0;
  const problems: string[] = [];

  // Phase 1: four workers at a time, each killed at a random moment, until 200 are dead.
  await Promise.all(
    Array.from({ length: LIVE_WORKERS }, async () => {
      while (kills < KILLS) {
        const w = startWorker(target, assign(RUNS_PER_WORKER));
        await w.ready;
        await sleep(Math.random() * KILL_WINDOW_MS);
        w.child.kill("SIGKILL");
        await w.exited;
        if (w.exitedEarly) problems.push(`a worker exited by itself: ${w.stderr}`);
        kills++;
        if (w.checkpoints > 0) killsAfterACheckpoint++;
      }
    }),
  );
  const killPhase = performance.now() - started;

  // Phase 2: start the runs whose creator died first, and let workers finish everything.
  const existing = new Set((await target.rows()).map((r) => r.id));
  const missing = assigned.filter((n) => !existing.has(`run-${n}`));
  const finishers = Array.from({ length: LIVE_WORKERS }, (_, i) =>
    startWorker(target, i === 0 ? missing : []),
  );
  let rows: Row[] = [];
  for (let i = 0; i < 600; i++) {
    rows = await target.rows();
    if (rows.length === assigned.length && rows.every((r) => r.status === "completed")) break;
    await sleep(50);
  }
  for (const w of finishers) w.child.kill("SIGKILL");
  await Promise.all(finishers.map((w) => w.exited));
  for (const w of finishers) {
    if (w.exitedEarly) problems.push(`a finishing worker exited by itself: ${w.stderr}`);
  }

  expect(problems).toEqual([]);
  expect(rows.map((r) => r.id).sort()).toEqual(assigned.map((n) => `run-${n}`).sort());
  const unfinished = rows.filter((r) => r.status !== "completed");
  expect(unfinished.map((r) => `${r.id}: ${r.status}`)).toEqual([]);
  for (const row of rows) {
    const n = Number(row.id.slice("run-".length));
    // Eight checkpoints and the end, each committed once, whoever executed them.
    expect(Number(row.seq), row.id).toBe(STEPS + 1);
    expect(parse(row.result!), row.id).toEqual(expected(n));
    // The last frame reads back and names a checkpoint.
    const frame = parse(row.frame!) as { cp: unknown };
    expect(typeof frame.cp, row.id).toBe("string");
  }
  console.log(
    `[crash-safety] ${label}: ${kills} SIGKILLs (${killsAfterACheckpoint} after the worker had committed a checkpoint) ` +
      `across ${assigned.length} runs of ${STEPS} steps (${missing.length} never started by their dying creator); ` +
      `every run completed once with its result; kill phase ${(killPhase / 1000).toFixed(1)} s, ` +
      `total ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  expect(kills).toBeGreaterThanOrEqual(KILLS);
  // Most kills must land while the worker is doing something, not while it is starting.
  expect(killsAfterACheckpoint).toBeGreaterThan(KILLS / 2);
}

describe("crash safety: 200 SIGKILLs at random moments", () => {
  it("on SQLite (one file, many processes)", { timeout: 180_000 }, async () => {
    const path = join(dir, "crash.db");
    const target: Target = {
      env: JSON.stringify({ kind: "sqlite", path }),
      async rows() {
        const raw = new Database(path, { readonly: true, fileMustExist: true });
        try {
          return raw
            .prepare("SELECT id, status, seq, result, frame FROM ratchet_runs")
            .all() as Row[];
        } finally {
          raw.close();
        }
      },
    };
    await tortureAndCheck(target, "SQLite");
  });

  it.skipIf(db.kind !== "server")(
    `on ${db.label} (needs a PostgreSQL server; skipped on PGlite)`,
    { timeout: 180_000 },
    async () => {
      const schema = db.freshSchema();
      const target: Target = {
        env: JSON.stringify({ kind: "postgres", url: db.url, schema }),
        async rows() {
          const exists = await db.query<{ n: string }>(
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'runs'",
            [schema],
          );
          if (Number(exists[0].n) === 0) return [];
          return db.query<Row>(`SELECT id, status, seq, result, frame FROM "${schema}".runs`);
        },
      };
      await tortureAndCheck(target, "PostgreSQL");
    },
  );
});
