import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { compileWorker } from "./support/compile-worker.js";
import { eventually } from "./support/eventually.js";

/**
 * SIGKILL of a process whose SQLite log is checkpointed from the adapter's thread
 * (adapters/sqlite/wal-checkpointer.ts). A worker (support/wal-checkpoint-worker.ts) commits
 * checkpoints of four runs without a pause and says when it pokes the thread and when the
 * thread is done; the test kills it a few milliseconds after a poke, mostly while the thread
 * copies the log into the file, reopens the file, and checks every run: integrity, and the
 * seq the worker last reported committed (or one more, a commit in flight) with that seq's
 * frame. The next worker continues the same runs on the same file.
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ratchet-wal-crash-"));
const worker = compileWorker(new URL("./support/wal-checkpoint-worker.ts", import.meta.url));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  worker.remove();
});

const KILLS = 8;
const RUNS = 4;
/** As support/wal-checkpoint-worker.ts writes it. */
const frameFor = (run: string, seq: number) => `${run}:${seq}:${"x".repeat(1500)}`;

interface Worker {
  readonly child: ChildProcess;
  /** The exit code and signal. */
  readonly exited: Promise<[number | null, string | null]>;
  /** The last seq reported committed, by run. */
  readonly committed: Map<string, number>;
  /** Resolves at the `count`-th poke of the thread (or when the process ended). */
  poked(count: number): Promise<void>;
  /** Whether the last poke has no checkpoint reported done after it. */
  checkpointing(): boolean;
  ended(): boolean;
  stderr: string;
}

function startWorker(path: string, mode: string, commits = 0, prefix = "r"): Worker {
  const child = spawn(process.execPath, [worker.path], {
    cwd: root,
    env: {
      ...process.env,
      RATCHET_PATH: path,
      RATCHET_RUNS: String(RUNS),
      RATCHET_MODE: mode,
      RATCHET_COMMITS: String(commits),
      RATCHET_PREFIX: prefix,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let pokes = 0;
  let open = false;
  let end = false;
  let rest = "";
  const committed = new Map<string, number>();
  const waiters: { count: number; resolve: () => void }[] = [];
  const state: Worker = {
    child,
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve([code, signal]))),
    committed,
    poked: (count) =>
      new Promise((resolve) => {
        if (pokes >= count || child.exitCode !== null) resolve();
        else waiters.push({ count, resolve });
      }),
    checkpointing: () => open,
    ended: () => end,
    stderr: "",
  };
  child.stdout!.on("data", (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      if (line === "P") {
        pokes++;
        open = true;
      } else if (line === "D") open = false;
      else if (line === "end") end = true;
      else {
        const [, run, seq] = line.split(" ");
        committed.set(run, Number(seq));
      }
    }
    for (const waiter of waiters.filter((w) => pokes >= w.count)) waiter.resolve();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    state.stderr += chunk.toString();
  });
  child.once("exit", () => {
    for (const waiter of waiters) waiter.resolve();
  });
  return state;
}

/** Wait for `w` to exit, and expect it to have ended its work and exited 0, saying nothing. */
async function expectCleanEnd(w: Worker): Promise<void> {
  const [code, signal] = await w.exited;
  expect({ code, signal, stderr: w.stderr, ended: w.ended() }).toStrictEqual({
    code: 0,
    signal: null,
    stderr: "",
    ended: true,
  });
}

/** What the file holds now, read by a connection of its own (which recovers the log). */
function stored(path: string) {
  const db = new Database(path, { fileMustExist: true });
  try {
    const integrity = db.pragma("integrity_check", { simple: true });
    const rows = db.prepare("SELECT id, seq, frame FROM ratchet_runs ORDER BY id").all() as {
      id: string;
      seq: number;
      frame: string | null;
    }[];
    return { integrity, rows };
  } finally {
    db.close();
  }
}

/**
 * Every run of `prefix` holds the seq last reported committed or one more, with that seq's
 * frame.
 */
function expectCommittedKept(path: string, committed: ReadonlyMap<string, number>, prefix = "r") {
  const { integrity, rows: all } = stored(path);
  expect(integrity).toBe("ok");
  const rows = all.filter((row) => row.id.startsWith(prefix));
  const ids = Array.from({ length: RUNS }, (_, i) => `${prefix}${i}`);
  expect(rows.map((row) => row.id)).toStrictEqual(ids);
  for (const row of rows) {
    const reported = committed.get(row.id) ?? 0;
    expect([reported, reported + 1], row.id).toContain(row.seq);
    expect(row.frame, row.id).toBe(row.seq === 0 ? null : frameFor(row.id, row.seq));
  }
  return rows;
}

describe("SIGKILL while the SQLite log is checkpointed from a thread", () => {
  it("keeps every commit reported before the kill, mostly in the middle of a checkpoint", {
    timeout: 240_000,
  }, async () => {
    const path = join(dir, "burst.db");
    let committed = new Map<string, number>();
    let killsInCheckpoint = 0;
    let total = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const w = startWorker(path, "burst");
      await w.poked(1 + Math.floor(Math.random() * 3));
      // A few milliseconds into the thread's copy of ~1,000 pages and its two syncs.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 4)));
      if (w.checkpointing()) killsInCheckpoint++;
      w.child.kill("SIGKILL");
      const [code, signal] = await w.exited;
      expect({ code, signal, stderr: w.stderr }).toStrictEqual({
        code: null,
        signal: "SIGKILL",
        stderr: "",
      });
      // Every run was reported committed at least once by this worker.
      expect(w.committed.size).toBe(RUNS);
      const rows = expectCommittedKept(path, w.committed);
      for (const row of rows) {
        // Never behind what the previous worker left.
        expect(row.seq).toBeGreaterThanOrEqual(committed.get(row.id) ?? 0);
      }
      committed = new Map(rows.map((row) => [row.id, row.seq]));
      total = rows.reduce((sum, row) => sum + row.seq, 0);
    }
    console.log(
      `[wal-checkpoint-crash] ${KILLS} SIGKILLs, ${killsInCheckpoint} after a poke of the thread and before it reported the checkpoint done; ${total} commits kept`,
    );
    expect(killsInCheckpoint).toBeGreaterThanOrEqual(1);
    expect(total).toBeGreaterThan(KILLS * 500);
  });

  it("lets a process that never closes the adapter exit by itself, every commit kept", async () => {
    const path = join(dir, "leave.db");
    const w = startWorker(path, "leave", 1500);
    await expectCleanEnd(w);
    expect(expectCommittedKept(path, w.committed).map((row) => row.seq)).toStrictEqual(
      Array(RUNS).fill(1500),
    );
  });

  it("lets a process that awaits close() at the top level exit with 0, the log removed", async () => {
    const path = join(dir, "close.db");
    for (let round = 1; round <= 3; round++) {
      const w = startWorker(path, "close", 1500);
      await expectCleanEnd(w);
      expect(existsSync(`${path}-wal`)).toBe(false);
      expect(expectCommittedKept(path, w.committed).map((row) => row.seq)).toStrictEqual(
        Array(RUNS).fill(1500 * round),
      );
    }
  });

  it("keeps another process's commits and its own when one of two processes on the file is killed in a checkpoint", {
    timeout: 120_000,
  }, async () => {
    const path = join(dir, "two.db");
    const a = startWorker(path, "burst", 0, "a");
    const b = startWorker(path, "burst", 0, "b");
    await a.poked(2);
    a.child.kill("SIGKILL");
    expect((await a.exited)[1]).toBe("SIGKILL");
    // The other goes on, and its thread keeps checkpointing the file alone.
    const from = b.committed.get("b0") ?? 0;
    // A thousand commits more: at least one more poke of its thread.
    await eventually(
      async () => b.committed.get("b0") ?? 0,
      (seq) => seq > from + 1000,
    );
    b.child.kill("SIGKILL");
    expect((await b.exited)[1]).toBe("SIGKILL");
    expect({ a: a.stderr, b: b.stderr }).toStrictEqual({ a: "", b: "" });
    expectCommittedKept(path, a.committed, "a");
    expectCommittedKept(path, b.committed, "b");
  });

  it("leaves the file whole and its log removed when three processes with threads close in whatever order they end", {
    timeout: 120_000,
  }, async () => {
    const path = join(dir, "three.db");
    const workers = ["x", "y", "z"].map((prefix, i) =>
      startWorker(path, "close", 1000 * (i + 1), prefix),
    );
    const exits = await Promise.all(workers.map((w) => w.exited));
    expect(exits).toStrictEqual([
      [0, null],
      [0, null],
      [0, null],
    ]);
    expect(workers.map((w) => w.stderr)).toStrictEqual(["", "", ""]);
    expect(existsSync(`${path}-wal`)).toBe(false);
    for (const [i, w] of workers.entries()) {
      const prefix = ["x", "y", "z"][i];
      expect(expectCommittedKept(path, w.committed, prefix).map((row) => row.seq)).toStrictEqual(
        Array(RUNS).fill(1000 * (i + 1)),
      );
    }
  });
});
