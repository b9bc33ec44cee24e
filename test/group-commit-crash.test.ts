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
 * SIGKILL in the middle of a group commit. A worker (support/group-commit-worker.ts) runs
 * 150 short runs at once, so its checkpoints are committed in groups, and says when a group
 * commit begins and ends; the test kills it right after a group began (at a random one of
 * the first few), starts another worker on the same store, and so on. Afterwards every run
 * must have completed exactly once: each of its six checkpoints and its end committed once
 * (`seq` 7), with the result the uninterrupted function gives. Ten kills per adapter in CI;
 * `npm run test:crash:long` makes it 200 per adapter (RATCHET_GROUP_COMMIT_KILLS=200).
 */
const db = await openTestDatabase();
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ratchet-group-commit-crash-"));
const worker = compileWorker(new URL("./support/group-commit-worker.ts", import.meta.url));
afterAll(async () => {
  await db.end();
  rmSync(dir, { recursive: true, force: true });
  worker.remove();
});

/** Kills per adapter: 10 in CI; `npm run test:crash:long` sets 200 (RATCHET_GROUP_COMMIT_KILLS). */
const KILLS = Number(process.env.RATCHET_GROUP_COMMIT_KILLS ?? 10);
/** Time limits grow with the kills (CI's 10 take well under the base ones). */
const SCALE = Math.max(1, KILLS / 10);
const RUNS_PER_WORKER = 150;
const STEPS = 6;

function expected(n: number): number {
  let acc = n;
  for (let i = 0; i < STEPS; i++) acc = (acc * 31 + i + 7) % 1_000_003;
  return acc;
}

interface Row {
  readonly id: string;
  readonly status: string;
  readonly seq: number | string;
  readonly result: string | null;
}

interface Worker {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Resolves once `count` group commits have begun (or the process ended). */
  began(count: number): Promise<void>;
  /** Whether a group commit had begun and not ended, as far as the output says. */
  inGroup(): boolean;
  exitedEarly: boolean;
  stderr: string;
}

function startWorker(env: string, first: number, create: number): Worker {
  const child = spawn(process.execPath, [worker.path], {
    cwd: root,
    env: {
      ...process.env,
      RATCHET_STORE: env,
      RATCHET_FIRST: String(first),
      RATCHET_CREATE: String(create),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let begun = 0;
  let open = false;
  const waiters: { count: number; resolve: () => void }[] = [];
  const state: Worker = {
    child,
    exited: new Promise((resolve) => child.once("exit", () => resolve())),
    began: (count) =>
      new Promise((resolve) => {
        if (begun >= count) resolve();
        else waiters.push({ count, resolve });
      }),
    inGroup: () => open,
    exitedEarly: false,
    stderr: "",
  };
  child.stdout!.on("data", (chunk: Buffer) => {
    for (const ch of chunk.toString()) {
      if (ch === "B") {
        begun++;
        open = true;
      } else if (ch === "E") open = false;
    }
    for (const waiter of waiters.filter((w) => begun >= w.count)) waiter.resolve();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    state.stderr += chunk.toString();
  });
  child.once("exit", (_code, signal) => {
    if (signal !== "SIGKILL") state.exitedEarly = true;
    for (const waiter of waiters) waiter.resolve();
  });
  return state;
}

async function killInGroups(env: string, rows: () => Promise<Row[]>, label: string) {
  let kills = 0;
  let killsInAGroup = 0;
  let created = 0;
  const problems: string[] = [];
  while (kills < KILLS) {
    const w = startWorker(env, created, RUNS_PER_WORKER);
    created += RUNS_PER_WORKER;
    await w.began(1 + Math.floor(Math.random() * 6));
    if (w.inGroup()) killsInAGroup++;
    w.child.kill("SIGKILL");
    await w.exited;
    if (w.exitedEarly) problems.push(`a worker exited by itself: ${w.stderr}`);
    kills++;
  }
  // A worker that creates nothing finishes what is left (its creators may have died first
  // without creating some: those are not expected).
  const finisher = startWorker(env, 0, 0);
  let stored: Row[] = [];
  const deadline = Date.now() + 120_000 * SCALE;
  while (Date.now() < deadline) {
    // A store that does not answer for a moment (a restarted server) is asked again.
    const read = await rows().catch(() => undefined);
    if (read === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    stored = read;
    if (stored.length > 0 && stored.every((r) => r.status === "completed")) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  finisher.child.kill("SIGKILL");
  await finisher.exited;
  expect(problems).toEqual([]);
  expect(stored.filter((r) => r.status !== "completed").map((r) => r.id)).toEqual([]);
  for (const row of stored) {
    const n = Number(row.id.slice("run-".length));
    expect(Number(row.seq), row.id).toBe(STEPS + 1);
    expect(parse(row.result!), row.id).toBe(expected(n));
  }
  console.log(
    `[group-commit-crash] ${label}: ${kills} SIGKILLs, ${killsInAGroup} while a group commit was open; ` +
      `${stored.length} runs completed exactly once`,
  );
  // The kill follows the group's start at once; most land before its end is reported.
  expect(killsInAGroup).toBeGreaterThanOrEqual(KILLS / 2);
  expect(stored.length).toBeGreaterThan(RUNS_PER_WORKER);
}

describe("SIGKILL in the middle of a group commit", () => {
  it("on SQLite", { timeout: 240_000 * SCALE }, async () => {
    const path = join(dir, "group.db");
    await killInGroups(
      JSON.stringify({ kind: "sqlite", path }),
      async () => {
        const raw = new Database(path, { readonly: true, fileMustExist: true });
        try {
          return raw.prepare("SELECT id, status, seq, result FROM ratchet_runs").all() as Row[];
        } finally {
          raw.close();
        }
      },
      "SQLite",
    );
  });

  it.skipIf(db.kind !== "server")(`on ${db.label}`, { timeout: 240_000 * SCALE }, async () => {
    const schema = db.freshSchema();
    await killInGroups(
      JSON.stringify({ kind: "postgres", url: db.url, schema }),
      async () => {
        const exists = await db.query<{ n: string }>(
          "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'runs'",
          [schema],
        );
        if (Number(exists[0].n) === 0) return [];
        return db.query<Row>(`SELECT id, status, seq, result FROM "${schema}".runs`);
      },
      "PostgreSQL",
    );
  });
});
