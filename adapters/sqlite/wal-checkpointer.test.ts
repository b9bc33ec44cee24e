import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../../test/support/eventually.js";
import { SqliteAdapter, type SqliteAdapterOptions, sqlite } from "./index.js";
import {
  connectionCheckpointPages,
  pagesPerCheckpoint,
  WalCheckpointer,
} from "./wal-checkpointer.js";

const dir = mkdtempSync(join(tmpdir(), "ratchet-wal-"));
let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A WAL file of `path` that never checkpoints by itself, with `rows` one-row commits. */
function uncheckpointedLog(path: string, rows: number): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("wal_autocheckpoint = 0");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
  for (let i = 0; i < rows; i++) insert.run("x".repeat(100));
  return db;
}

/** Frames in the log of `db`'s file: a checkpoint reports the log's length as `log`. */
const framesInLog = (db: Database.Database): number => {
  const [{ log }] = db.pragma("wal_checkpoint(PASSIVE)") as { log: number }[];
  return log;
};

/** Frames the log of `path` has held at most: frames of 4 KiB pages and 24-byte headers. */
const walFrames = (path: string) => (statSync(`${path}-wal`).size - 32) / (4096 + 24);

/** The files this process holds open. */
const heldFiles = () =>
  readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      return [readlinkSync(join("/proc/self/fd", fd))];
    } catch {
      return [];
    }
  });

/** The threads of this process: the checkpoint threads among them. */
const threads = () => readdirSync("/proc/self/task").length;

/** Pages the file of `path` holds: a checkpoint copies pages from the log into it. */
const pagesInFile = (path: string) => statSync(path).size / 4096;

describe("the WAL checkpoint thread", () => {
  it("checkpoints the log from its own connection when poked, so the next commit starts the log again", async () => {
    const path = freshPath();
    const db = uncheckpointedLog(path, 2000);
    const before = pagesInFile(path);
    const failed: unknown[] = [];
    const thread = WalCheckpointer.start(path, "normal", () => failed.push(true))!;
    expect(thread).toBeDefined();
    thread.poke();
    await eventually(
      async () => thread.checkpoints,
      (done) => done >= 1,
    );
    // Copied into the database file by the thread: this connection did nothing since.
    expect(pagesInFile(path)).toBeGreaterThan(before);
    // Every frame is in the file now, so the next commit writes the log from its start.
    db.prepare("INSERT INTO t (body) VALUES ('y')").run();
    expect(framesInLog(db)).toBeLessThan(10);
    await thread.stop();
    expect(failed).toEqual([]);
    db.close();
  });

  it("stops after the checkpoint in progress and closes its connection, so the last close removes the log", async () => {
    const path = freshPath();
    const db = uncheckpointedLog(path, 500);
    const thread = WalCheckpointer.start(path, "normal", () => {})!;
    thread.poke();
    await thread.stop();
    await thread.stop();
    db.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(new Database(path).prepare("SELECT count(*) AS n FROM t").get()).toEqual({ n: 500 });
  });

  it("reports a file it cannot open, and stops", async () => {
    let failed = 0;
    const thread = WalCheckpointer.start(join(dir, "missing", "no.db"), "normal", () => failed++)!;
    await eventually(
      async () => failed,
      (count) => count === 1,
    );
    await thread.stop();
  });
});

describe("sqlite adapter with the WAL checkpoint thread", () => {
  const leased = { owner: "w", leaseMs: 60_000, status: "running" } as const;
  const run = { id: "r", workflow: "w", version: "v1", args: "[]" } as const;

  /** An adapter on a fresh file with one run "r" leased to `w`, and its path. */
  async function leasedRun(options: Partial<SqliteAdapterOptions> = {}) {
    const path = freshPath();
    const adapter = sqlite({ path, synchronous: "normal", ...options } as SqliteAdapterOptions);
    await adapter.init();
    await adapter.createRun({
      id: "r",
      workflow: "w",
      version: "v1",
      args: "[]",
      leaseOwner: "w",
      leaseMs: 60_000,
    });
    let seq = 0;
    const commits = async (count: number) => {
      for (let i = 0; i < count; i++, seq++) {
        const outcome = await adapter.commit({
          ...leased,
          runId: "r",
          expectedSeq: seq,
          frame: `f${seq}`,
        });
        expect(outcome).toEqual({ ok: true, seq: seq + 1 });
      }
    };
    return { path, adapter, commits };
  }

  it("runs with synchronous normal on a file it opens, and not otherwise unless asked", () => {
    expect(new SqliteAdapter({ path: "x.db", synchronous: "normal" }).config).toMatchObject({
      walCheckpointThread: true,
    });
    expect(new SqliteAdapter({ path: "x.db" }).config).toMatchObject({
      walCheckpointThread: false,
    });
    expect(
      new SqliteAdapter({ path: "x.db", synchronous: "full", walCheckpointThread: true }).config,
    ).toMatchObject({ walCheckpointThread: true });
    expect(
      new SqliteAdapter({ path: "x.db", synchronous: "normal", walCheckpointThread: false }).config,
    ).toMatchObject({ walCheckpointThread: false });
    expect(
      new SqliteAdapter({ database: new Database(":memory:"), synchronous: "normal" }).config,
    ).toMatchObject({ walCheckpointThread: false });
  });

  it.each<[string, unknown]>([
    ["a passed connection", { database: new Database(":memory:"), walCheckpointThread: true }],
    ["a value that is not a boolean", { path: "x.db", walCheckpointThread: "yes" }],
  ])("refuses the thread with %s", (_, options) => {
    expect(() => sqlite(options as SqliteAdapterOptions)).toThrow(
      expect.objectContaining({
        code: "invalid-argument",
        message: expect.stringContaining("walCheckpointThread"),
      }),
    );
  });

  it("gets the log's pages into the file after a thousand commits, with no more work on the adapter's connection", async () => {
    const { path, adapter, commits } = await leasedRun();
    const before = pagesInFile(path);
    await commits(pagesPerCheckpoint + 10);
    await eventually(
      async () => pagesInFile(path),
      (pages) => pages > before,
    );
    expect(await adapter.loadRun("r")).toMatchObject({ seq: pagesPerCheckpoint + 10 });
    await adapter.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it("keeps the log bounded while commits never pause (the connection checkpoints past its limit)", async () => {
    const { path, adapter, commits } = await leasedRun();
    try {
      await commits(connectionCheckpointPages + 2 * pagesPerCheckpoint);
      // The log file keeps its largest size: under the 6,000 pages written. A little past the
      // connection's limit is allowed: its checkpoint finds the thread's in progress now and
      // then (busy, skipped) and tries again at the next commit.
      expect(walFrames(path)).toBeLessThan(connectionCheckpointPages + pagesPerCheckpoint);
    } finally {
      await adapter.close();
    }
  });

  it("checkpoints the file it opened when the path is relative and the working directory changes after init()", async () => {
    const home = process.cwd();
    const here = join(dir, "cwd-here");
    const there = join(dir, "cwd-there");
    mkdirSync(here);
    mkdirSync(there);
    // Another store of the same name where the working directory goes next.
    uncheckpointedLog(join(there, "store.db"), 10).close();
    process.chdir(here);
    try {
      const adapter = sqlite({ path: "store.db", synchronous: "normal" });
      await adapter.init();
      process.chdir(there);
      await adapter.createRun({ ...run, leaseOwner: "w", leaseMs: 60_000 });
      const before = pagesInFile(join(here, "store.db"));
      for (let seq = 0; seq < pagesPerCheckpoint + 10; seq++) {
        await adapter.commit({ ...leased, runId: "r", expectedSeq: seq, frame: `f${seq}` });
      }
      await eventually(
        async () => pagesInFile(join(here, "store.db")),
        (pages) => pages > before,
      );
      // Nothing in this process holds the other file open.
      expect(heldFiles().filter((file) => file.startsWith(there))).toStrictEqual([]);
      await adapter.close();
      expect(existsSync(join(here, "store.db-wal"))).toBe(false);
    } finally {
      process.chdir(home);
    }
  });

  it("resolves every close() only once the file is closed, when close() is called twice at once", async () => {
    const { path, adapter, commits } = await leasedRun();
    // Enough for the thread to start: close() stops it first.
    await commits(pagesPerCheckpoint);
    const first = adapter.close();
    await adapter.close();
    // The last close removes the log: the thread's connection and the adapter's are gone.
    expect(existsSync(`${path}-wal`)).toBe(false);
    await first;
  });

  it("checkpoints from the thread after a thousand pages of writes of any kind, not only commits", async () => {
    const { path, adapter } = await leasedRun();
    const before = pagesInFile(path);
    // About four pages each (the row and its index entries, measured): 2,000 pages.
    for (let i = 0; i < 500; i++) {
      const stored = await adapter.storeEvent!({
        id: `e${i}`,
        runId: "r",
        name: "n",
        key: `k${i}`,
        payload: "p".repeat(200),
      });
      expect(stored).toBe(true);
    }
    // Below the connection's own limit: only the thread copies the log into the file.
    expect(walFrames(path)).toBeLessThan(connectionCheckpointPages);
    await eventually(
      async () => pagesInFile(path),
      (pages) => pages > before,
    );
    await adapter.close();
  });

  it("counts a large checkpoint as the pages it writes, so the thread copies them before the connection's own limit", async () => {
    const { path, adapter } = await leasedRun();
    const before = pagesInFile(path);
    // Ten pages a commit, 300 commits: 3,000 pages, under connectionCheckpointPages.
    const big = "b".repeat(40_000);
    for (let seq = 0; seq < 300; seq++) {
      const outcome = await adapter.commit({ ...leased, runId: "r", expectedSeq: seq, frame: big });
      expect(outcome).toStrictEqual({ ok: true, seq: seq + 1 });
    }
    expect(walFrames(path)).toBeLessThan(connectionCheckpointPages);
    await eventually(
      async () => pagesInFile(path),
      (pages) => pages > before,
    );
    await adapter.close();
  });

  /** What the process runs and holds without any adapter, once a first one came and went. */
  async function baseline() {
    const warm = sqlite({ path: freshPath(), synchronous: "normal" });
    await warm.init();
    await warm.close();
    return threads();
  }

  it("closes three adapters of one process on one file in any order, each with its thread", async () => {
    const idle = await baseline();
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const order of orders) {
      const path = freshPath();
      const adapters = [0, 1, 2].map(() => sqlite({ path, synchronous: "normal" }));
      await Promise.all(adapters.map((adapter) => adapter.init()));
      for (const [i, adapter] of adapters.entries()) {
        await adapter.createRun({ ...run, id: `r${i}`, leaseOwner: "w", leaseMs: 60_000 });
        for (let seq = 0; seq < pagesPerCheckpoint + 200; seq++) {
          await adapter.commit({ ...leased, runId: `r${i}`, expectedSeq: seq, frame: `f${seq}` });
        }
      }
      expect(threads()).toBe(idle + 3);
      for (const i of order) await adapters[i].close();
      expect(heldFiles().filter((file) => file.startsWith(path))).toStrictEqual([]);
      expect(existsSync(`${path}-wal`)).toBe(false);
      await eventually(
        async () => threads(),
        (count) => count === idle,
      );
      const db = new Database(path, { readonly: true });
      expect(db.prepare("SELECT id, seq FROM ratchet_runs ORDER BY id").all()).toStrictEqual([
        { id: "r0", seq: pagesPerCheckpoint + 200 },
        { id: "r1", seq: pagesPerCheckpoint + 200 },
        { id: "r2", seq: pagesPerCheckpoint + 200 },
      ]);
      db.close();
    }
  });

  it("starts no thread when close() comes while init() is opening, or init() fails", async () => {
    const idle = await baseline();
    const racing = sqlite({ path: freshPath(), synchronous: "normal" });
    const opened = racing.init().then(
      () => "opened",
      (error: { code: string }) => error.code,
    );
    await racing.close();
    expect(await opened).toBe("not-ready");
    // A store from a later version of the adapter: its migration refuses it.
    const path = freshPath();
    const first = sqlite({ path, synchronous: "normal" });
    await first.init();
    await first.close();
    const raw = new Database(path);
    raw.prepare("UPDATE ratchet_schema SET version = version + 1").run();
    raw.close();
    const refused = sqlite({ path, synchronous: "normal" });
    await expect(refused.init()).rejects.toMatchObject({ code: "schema-too-new" });
    await refused.close();
    await eventually(
      async () => threads(),
      (count) => count === idle,
    );
    expect(heldFiles().filter((file) => file.startsWith(dir))).toStrictEqual([]);
  });

  it("leaves no thread, descriptor or memory behind after 200 threads started and stopped", {
    timeout: 120_000,
  }, async () => {
    const idle = await baseline();
    const path = freshPath();
    uncheckpointedLog(path, 100).close();
    const cycle = async () => {
      const thread = WalCheckpointer.start(path, "normal", () => {})!;
      thread.poke();
      await thread.stop();
    };
    for (let i = 0; i < 20; i++) await cycle();
    const memory = process.memoryUsage().rss;
    for (let i = 0; i < 200; i++) await cycle();
    await eventually(
      async () => threads(),
      (count) => count === idle,
    );
    expect(heldFiles().filter((file) => file.startsWith(dir))).toStrictEqual([]);
    // A thread costs ~9 MB while it runs: 200 kept would be ~1.8 GB.
    expect(process.memoryUsage().rss - memory).toBeLessThan(100 * 1024 * 1024);
  });

  it("stops its thread at close(), adapter after adapter", async () => {
    const idle = await baseline();
    const path = freshPath();
    for (let i = 0; i < 20; i++) {
      const adapter = sqlite({ path, synchronous: "normal" });
      await adapter.init();
      await adapter.createRun({ ...run, id: `r${i}`, leaseOwner: "w", leaseMs: 60_000 });
      for (let seq = 0; seq < pagesPerCheckpoint; seq++) {
        await adapter.commit({ ...leased, runId: `r${i}`, expectedSeq: seq });
      }
      expect(threads()).toBe(idle + 1);
      await adapter.close();
      expect(heldFiles().filter((file) => file.startsWith(path))).toStrictEqual([]);
    }
    await eventually(
      async () => threads(),
      (count) => count === idle,
    );
  });

  it("checkpoints at SQLite's default again when the thread cannot open the file (moved after init())", async () => {
    const idle = await baseline();
    const path = freshPath();
    const adapter = sqlite({ path, synchronous: "normal" });
    await adapter.init();
    // Before the thread's first statement: the adapter's connection keeps the file it opened.
    renameSync(path, `${path}.moved`);
    await adapter.createRun({ ...run, leaseOwner: "w", leaseMs: 60_000 });
    let seq = 0;
    const commits = async (count: number) => {
      for (const end = seq + count; seq < end; seq++) {
        await adapter.commit({ ...leased, runId: "r", expectedSeq: seq, frame: `f${seq}` });
      }
    };
    await commits(pagesPerCheckpoint + 10);
    // The thread reported it and ended.
    await eventually(
      async () => threads(),
      (count) => count === idle,
    );
    const before = walFrames(path);
    await commits(3000);
    // SQLite's 1,000 pages, not the 4,000 the connection waits for while a thread runs.
    expect(walFrames(path)).toBeLessThanOrEqual(Math.max(before, 1100));
    expect(await adapter.loadRun("r")).toMatchObject({ seq: pagesPerCheckpoint + 3010 });
    await adapter.close();
  });

  it("starts its thread at the first thousand pages written, so an adapter that writes less runs none", async () => {
    const idle = await baseline();
    const adapters = Array.from({ length: 10 }, () =>
      sqlite({ path: freshPath(), synchronous: "normal" }),
    );
    for (const adapter of adapters) {
      await adapter.init();
      await adapter.createRun({ ...run, leaseOwner: "w", leaseMs: 60_000 });
      for (let seq = 0; seq < 100; seq++) {
        await adapter.commit({ ...leased, runId: "r", expectedSeq: seq });
      }
    }
    expect(threads()).toBe(idle);
    const [busy] = adapters;
    for (let seq = 100; seq < pagesPerCheckpoint; seq++) {
      await busy.commit({ ...leased, runId: "r", expectedSeq: seq });
    }
    expect(threads()).toBe(idle + 1);
    await Promise.all(adapters.map((adapter) => adapter.close()));
    await eventually(
      async () => threads(),
      (count) => count === idle,
    );
  });

  it('runs no thread on ":memory:", whose log is no file', async () => {
    const idle = await baseline();
    const adapter = sqlite({ path: ":memory:", synchronous: "normal" });
    await adapter.init();
    await adapter.createRun({ ...run, leaseOwner: "w", leaseMs: 60_000 });
    for (let seq = 0; seq < 2 * pagesPerCheckpoint; seq++) {
      await adapter.commit({ ...leased, runId: "r", expectedSeq: seq });
    }
    expect(threads()).toBe(idle);
    expect(await adapter.loadRun("r")).toMatchObject({ seq: 2 * pagesPerCheckpoint });
    await adapter.close();
  });
});
