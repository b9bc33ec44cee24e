import { type ChildProcess, fork } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { transformSync } from "@swc/core";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Commit, StorageError } from "../contract.js";
import { describeAdapterContract } from "../testing/index.js";
import { SqliteAdapter, type SqliteAdapterOptions, sqlite } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "ratchet-sqlite-"));
let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);
const connections: Database.Database[] = [];

afterAll(() => {
  for (const db of connections) db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A direct connection to inspect a file behind the adapter's back. */
function inspect(path: string, options?: Database.Options): Database.Database {
  const db = new Database(path, options);
  connections.push(db);
  return db;
}

const newRun = (id: string) => ({ id, workflow: "order", version: "v1", args: "[]" });

describeAdapterContract("sqlite file", () => sqlite({ path: freshPath() }));
describeAdapterContract("sqlite on a passed connection with a table prefix", () =>
  sqlite({ database: inspect(":memory:"), tablePrefix: "wf_" }),
);

describe("sqlite adapter", () => {
  it("keeps runs when the file is reopened", async () => {
    const path = freshPath();
    const first = sqlite({ path });
    await first.init();
    const { run } = await first.createRun({ ...newRun("r1"), leaseOwner: "w", leaseMs: 60_000 });
    await first.commit({
      runId: "r1",
      expectedSeq: 0,
      owner: "w",
      status: "completed",
      frame: "f",
      result: '"ok"',
    });
    await first.close();

    const second = sqlite({ path });
    await second.init();
    expect(await second.loadRun("r1")).toMatchObject({
      ...run,
      status: "completed",
      seq: 1,
      frame: "f",
      result: '"ok"',
      leaseOwner: null,
      leaseExpiresAt: null,
      updatedAt: expect.any(Number),
    });
    await second.close();
  });

  it("migrates once, however often the file is opened and initialized", async () => {
    const path = freshPath();
    const a = sqlite({ path });
    const b = sqlite({ path });
    await Promise.all([a.init(), b.init(), a.init()]);
    await a.init();
    await a.createRun(newRun("r1"));
    expect(await b.loadRun("r1")).not.toBeNull();
    await Promise.all([a.close(), b.close()]);

    const db = inspect(path);
    expect(db.prepare("SELECT id, version FROM ratchet_schema").all()).toEqual([
      { id: 1, version: 6 },
    ]);
    const objects = db
      .prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'ratchet%' ORDER BY name")
      .pluck()
      .all();
    expect(objects).toEqual([
      "ratchet_events",
      "ratchet_events_pending",
      "ratchet_events_run_key",
      "ratchet_runs",
      "ratchet_runs_claim",
      "ratchet_runs_created",
      "ratchet_runs_free",
      "ratchet_runs_idempotency_key",
      "ratchet_runs_session",
      "ratchet_runs_status_created",
      "ratchet_runs_wait_event",
      "ratchet_runs_wake",
      "ratchet_runs_workflow_created",
      "ratchet_schema",
      "ratchet_sessions",
      "ratchet_steps",
      "ratchet_steps_run",
    ]);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
  });

  it("refuses a database written by a newer Ratchet, saying what to do", async () => {
    const path = freshPath();
    const adapter = sqlite({ path });
    await adapter.init();
    await adapter.close();
    inspect(path).prepare("UPDATE ratchet_schema SET version = 99").run();

    const newer = sqlite({ path });
    const init = newer.init();
    await expect(init).rejects.toBeInstanceOf(StorageError);
    await expect(init).rejects.toMatchObject({ code: "schema-too-new" });
    await expect(init).rejects.toThrow(/schema version 99.*knows only up to 6.*Upgrade ratchet/s);
    await expect(init).rejects.toThrow(path);
  });

  it("names the file and what to do when it is not a usable SQLite database", async () => {
    const garbage = freshPath();
    writeFileSync(garbage, "this is not a SQLite database, just text long enough to have a header");
    const notADatabase = sqlite({ path: garbage }).init();
    await expect(notADatabase).rejects.toMatchObject({ code: "unusable-store" });
    await expect(notADatabase).rejects.toThrow(garbage);
    await expect(notADatabase).rejects.toThrow(/SQLITE_NOTADB.*restored from a backup/s);

    const nowhere = join(dir, "no-such-directory", "store.db");
    const unreachable = sqlite({ path: nowhere }).init();
    await expect(unreachable).rejects.toMatchObject({ code: "unusable-store" });
    await expect(unreachable).rejects.toThrow(nowhere);
    await expect(unreachable).rejects.toThrow(/directory must exist/);
  });

  it("migrates a file written at schema version 1, keeping its runs", async () => {
    const path = freshPath();
    // Schema version 1 as released, copied here so that this test keeps describing the
    // files that exist even if the migration code changes.
    const v1 = new Database(path);
    v1.exec(`
      CREATE TABLE ratchet_schema (
        id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
      );
      INSERT INTO ratchet_schema (id, version) VALUES (1, 1);
      CREATE TABLE ratchet_runs (
        id               TEXT    NOT NULL PRIMARY KEY,
        workflow         TEXT    NOT NULL,
        version          TEXT    NOT NULL,
        status           TEXT    NOT NULL,
        seq              INTEGER NOT NULL,
        args             TEXT    NOT NULL,
        frame            TEXT,
        result           TEXT,
        error            TEXT,
        idempotency_key  TEXT,
        session_id       TEXT,
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX ratchet_runs_idempotency_key ON ratchet_runs (idempotency_key)
        WHERE idempotency_key IS NOT NULL;
      CREATE INDEX ratchet_runs_claim ON ratchet_runs (status, lease_expires_at);
      CREATE INDEX ratchet_runs_workflow_created ON ratchet_runs (workflow, created_at);
      INSERT INTO ratchet_runs VALUES
        ('old-1', 'order', 'v1', 'sleeping', 3, '["a"]', '{"pc":2}', NULL, NULL, 'key-1',
         'session-1', NULL, NULL, 1000, 2000),
        ('old-2', 'order', 'v1', 'running', 1, '[]', '{"pc":1}', NULL, NULL, NULL, NULL,
         'worker-a', 9999999999999, 1001, 1500);
    `);
    v1.close();

    const adapter = sqlite({ path });
    await adapter.init();
    expect(await adapter.loadRun("old-1")).toEqual({
      id: "old-1",
      workflow: "order",
      version: "v1",
      status: "sleeping",
      seq: 3,
      args: '["a"]',
      frame: '{"pc":2}',
      result: null,
      error: null,
      idempotencyKey: "key-1",
      sessionId: "session-1",
      leaseOwner: null,
      leaseExpiresAt: null,
      createdAt: 1000,
      updatedAt: 2000,
      wakeAt: null,
      wait: null,
      waitEvent: null,
      inbox: null,
    });
    expect(await adapter.loadRun("old-2")).toMatchObject({ leaseOwner: "worker-a", seq: 1 });
    // The old runs work with the new columns: the lease holder sleeps, the idempotency key
    // still finds its run, and the sleeper wakes.
    expect(
      await adapter.commit({
        runId: "old-2",
        expectedSeq: 1,
        owner: "worker-a",
        status: "sleeping",
        wakeAt: 5000,
      }),
    ).toEqual({ ok: true, seq: 2 });
    // …and the sessions of old runs start empty.
    expect(await adapter.loadSession!("session-1")).toEqual({ state: null, version: 0 });
    const again = await adapter.createRun({ ...newRun("other"), idempotencyKey: "key-1" });
    expect(again).toMatchObject({ created: false, run: { id: "old-1" } });
    const woken = await adapter.claimRunnable({
      owner: "w",
      leaseMs: 60_000,
      limit: 10,
      wakeBefore: 5000,
    });
    expect(woken.map((r) => [r.id, r.wakeAt])).toEqual([["old-2", 5000]]);
    await adapter.close();

    const db = inspect(path);
    expect(db.prepare("SELECT version FROM ratchet_schema").pluck().get()).toBe(6);
    const columns = db.prepare("SELECT name FROM pragma_table_info('ratchet_runs')").pluck().all();
    expect(columns.slice(-4)).toEqual(["wake_at", "wait", "wait_event", "inbox"]);
    const indexes = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'ratchet_runs'")
      .pluck()
      .all();
    expect(indexes).toEqual(
      expect.arrayContaining(["ratchet_runs_wake", "ratchet_runs_wait_event"]),
    );
  });

  it("keeps plain commits to their statement, and finds due and waiting runs by index", async () => {
    const executed: string[] = [];
    const db = inspect(freshPath(), { verbose: (sql) => executed.push(String(sql)) });
    const adapter = sqlite({ database: db });
    await adapter.init();
    await adapter.createRun({ ...newRun("r"), leaseOwner: "w", leaseMs: 60_000 });
    await adapter.createRun({ ...newRun("r2"), leaseOwner: "w", leaseMs: 60_000 });
    /** The statements `action` executed, as SQLite expanded them. */
    const statements = async (action: () => Promise<unknown>) => {
      executed.length = 0;
      await action();
      return [...executed];
    };
    const plan = (sql: string | undefined) =>
      db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all()
        .map((row) => (row as { detail: string }).detail)
        .join("\n");

    const base = { runId: "r", owner: "w", leaseMs: 60_000 } as const;
    const plain = await statements(() =>
      adapter.commit({ ...base, expectedSeq: 0, status: "running", frame: "f" }),
    );
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(/^UPDATE/);
    expect(plain[0]).not.toMatch(/wake_at|wait|inbox/);
    const waiting = await statements(() =>
      adapter.commit({
        ...base,
        expectedSeq: 1,
        status: "waiting",
        wait: { spec: "s", event: "paid" },
        wakeAt: 5,
        leaseMs: undefined,
      }),
    );
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatch(/^UPDATE.*wake_at/s);
    // A session write joins the same statement in one transaction, or rolls it back.
    const session = { id: "s", expectedVersion: 0, state: "{}" };
    const withSession = await statements(() =>
      adapter.commit({ ...base, runId: "r2", expectedSeq: 0, status: "running", session }),
    );
    expect(withSession.map((sql) => sql.split(/\s/)[0])).toEqual([
      "BEGIN",
      "UPDATE",
      "INSERT",
      "COMMIT",
    ]);
    expect(withSession[1]).not.toMatch(/wake_at|wait|inbox/);
    const conflicting = await statements(() =>
      adapter.commit({ ...base, runId: "r2", expectedSeq: 1, status: "running", session }),
    );
    expect(conflicting.map((sql) => sql.split(/\s/)[0])).toEqual([
      "BEGIN",
      "UPDATE",
      "INSERT",
      "ROLLBACK",
    ]);
    expect(await adapter.loadRun("r2")).toMatchObject({ seq: 1 });

    const claim = await statements(() =>
      adapter.claimRunnable({ owner: "x", leaseMs: 1000, limit: 5, wakeBefore: 10 }),
    );
    const claimPlan = plan(claim.find((sql) => sql.startsWith("SELECT")));
    expect(claimPlan).toMatch(/USING INDEX ratchet_runs_(claim|status_created)/);
    expect(claimPlan).toMatch(/USING INDEX ratchet_runs_wake/);
    const list = await statements(() => adapter.listRuns({ waitEvent: "paid" }));
    expect(list).toHaveLength(1);
    expect(plan(list[0])).toMatch(/USING INDEX ratchet_runs_wait_event/);
    expect(plan(list[0])).not.toMatch(/TEMP B-TREE/);
  });

  it("writes a checkpoint that keeps its status and lease as one page, and extends a lease past its half", async () => {
    const path = freshPath();
    const adapter = sqlite({ path, synchronous: "normal" });
    await adapter.init();
    const db = inspect(path);
    const leaseMs = 60_000;
    const { run } = await adapter.createRun({ ...newRun("r"), leaseOwner: "w", leaseMs });
    await adapter.createRun({ ...newRun("other"), leaseOwner: "w", leaseMs });
    const base = { runId: "r", owner: "w", leaseMs, status: "running" } as const;
    /** The pages the WAL gains from `action` (the log emptied first). */
    const pagesWritten = async (action: () => Promise<unknown>) => {
      db.pragma("wal_checkpoint(TRUNCATE)");
      await action();
      const { size } = statSync(`${path}-wal`);
      const pageSize = db.pragma("page_size", { simple: true }) as number;
      return size === 0 ? 0 : (size - 32) / (24 + pageSize);
    };

    // A lease that has more than half to run stays as it is: only the row's page is written.
    const kept = await pagesWritten(async () => {
      expect(await adapter.commit({ ...base, expectedSeq: 0, frame: "f1" })).toEqual({
        ok: true,
        seq: 1,
      });
    });
    expect(kept).toBe(1);
    expect(await adapter.loadRun("r")).toMatchObject({
      seq: 1,
      frame: "f1",
      status: "running",
      leaseOwner: "w",
      leaseExpiresAt: run.leaseExpiresAt,
    });

    // Less than half a lease left: the commit extends it to a whole lease from now.
    db.prepare("UPDATE ratchet_runs SET lease_expires_at = ? WHERE id = 'r'").run(
      Date.now() + 1000,
    );
    const before = Date.now();
    expect(await adapter.commit({ ...base, expectedSeq: 1, frame: "f2" })).toEqual({
      ok: true,
      seq: 2,
    });
    const extended = await adapter.loadRun("r");
    expect(extended).toMatchObject({ seq: 2, frame: "f2", leaseOwner: "w" });
    expect(extended!.leaseExpiresAt).toBeGreaterThanOrEqual(before + leaseMs);

    // The compare-and-set holds on that path too.
    expect(await adapter.commit({ ...base, expectedSeq: 1, frame: "late" })).toEqual({
      ok: false,
      reason: "conflict",
    });
    expect(await adapter.commit({ ...base, owner: "x", expectedSeq: 2, frame: "late" })).toEqual({
      ok: false,
      reason: "lease-lost",
    });
    expect(await adapter.loadRun("r")).toMatchObject({ seq: 2, frame: "f2" });
    await adapter.close();
  });

  it("checkpoints its log as a run's commits fill it, not at the next claim", async () => {
    const path = freshPath();
    // SQLite's own checkpoint, inside the commits (wal-checkpointer.test.ts has the thread's).
    const adapter = sqlite({ path, synchronous: "normal", walCheckpointThread: false });
    await adapter.init();
    await adapter.createRun({ ...newRun("r"), leaseOwner: "w", leaseMs: 60_000 });
    const base = { runId: "r", owner: "w", leaseMs: 60_000, status: "running" } as const;
    // One page each: past SQLite's automatic checkpoint at 1,000 pages.
    for (let seq = 0; seq < 1500; seq++) {
      await adapter.commit({ ...base, expectedSeq: seq, frame: `f${seq}` });
    }
    const [{ log }] = inspect(path).pragma("wal_checkpoint(PASSIVE)") as { log: number }[];
    expect(log).toBeLessThan(1000);
    await adapter.close();
  });

  it("keeps stores with different table prefixes in one file apart", async () => {
    const path = freshPath();
    const a = sqlite({ path, tablePrefix: "a_" });
    const b = sqlite({ path, tablePrefix: "b_" });
    await a.init();
    await b.init();
    await a.createRun(newRun("only-in-a"));
    expect(await b.loadRun("only-in-a")).toBeNull();
    expect(await b.listRuns()).toEqual([]);
    await b.createRun(newRun("only-in-a"));
    await Promise.all([a.close(), b.close()]);
  });

  it("configures a connection it opens for durability", () => {
    expect(new SqliteAdapter({ path: "x.db" }).config).toEqual({
      source: { kind: "path", path: "x.db" },
      synchronous: "full",
      busyTimeoutMs: 5000,
      tablePrefix: "ratchet_",
      groupCommit: { maxBatch: 256 },
      walCheckpointThread: false,
    });
  });

  it("changes only the settings you set on a connection you pass", async () => {
    const untouched = inspect(freshPath(), { timeout: 0 });
    untouched.pragma("synchronous = OFF");
    await sqlite({ database: untouched }).init();
    expect(untouched.pragma("synchronous", { simple: true })).toBe(0);
    expect(untouched.pragma("busy_timeout", { simple: true })).toBe(0);
    expect(untouched.pragma("journal_mode", { simple: true })).toBe("delete");

    const tuned = inspect(freshPath(), { timeout: 0 });
    await sqlite({ database: tuned, synchronous: "normal", busyTimeoutMs: 1234 }).init();
    expect(tuned.pragma("synchronous", { simple: true })).toBe(1);
    expect(tuned.pragma("busy_timeout", { simple: true })).toBe(1234);
  });

  it("closes a connection it opened, but not one you passed", async () => {
    const passed = inspect(":memory:");
    const onPassed = sqlite({ database: passed });
    await onPassed.init();
    await onPassed.close();
    expect(passed.open).toBe(true);

    const own = sqlite({ path: freshPath() });
    await own.init();
    await own.close();
    await own.close();
    await expect(own.loadRun("r")).rejects.toMatchObject({ code: "not-ready" });
    await expect(own.init()).rejects.toMatchObject({ code: "not-ready" });
  });

  it("refuses calls before init()", async () => {
    const adapter = sqlite({ path: freshPath() });
    await expect(adapter.createRun(newRun("r"))).rejects.toMatchObject({
      code: "not-ready",
      message: expect.stringContaining("createRun() before init()"),
    });
  });

  it.each<[string, unknown]>([
    ["no source", {}],
    ["an empty path", { path: "" }],
    ["both path and database", { path: "x.db", database: new Database(":memory:") }],
    ["a database that is not one", { database: {} }],
    ["a prefix that is not an identifier", { path: "x.db", tablePrefix: "x; DROP TABLE y" }],
    ["an unknown synchronous mode", { path: "x.db", synchronous: "off" }],
    ["a negative busy timeout", { path: "x.db", busyTimeoutMs: -1 }],
  ])("rejects options with %s", (_, options) => {
    expect(() => sqlite(options as SqliteAdapterOptions)).toThrow(
      expect.objectContaining({ code: "invalid-argument" }),
    );
  });

  it("freezes its configuration", () => {
    const adapter = new SqliteAdapter({ path: "x.db" });
    expect(Object.isFrozen(adapter.config)).toBe(true);
    expect(Object.isFrozen(adapter.config.source)).toBe(true);
  });
});

describe("sqlite group commit", () => {
  const hour = 3_600_000;
  /** A store on a watched connection with `count` runs r0… leased to `w`. */
  async function leasedRuns(count: number, options: { groupCommit?: false } = {}) {
    const executed: string[] = [];
    const db = inspect(freshPath(), { verbose: (sql) => executed.push(String(sql)) });
    const storage = sqlite({ database: db, synchronous: "full", ...options });
    await storage.init();
    for (let i = 0; i < count; i++) {
      await storage.createRun({ ...newRun(`r${i}`), leaseOwner: "w", leaseMs: hour });
    }
    // Let the window the creations' turn may have opened close.
    await new Promise((resolve) => setImmediate(resolve));
    executed.length = 0;
    return { storage, executed };
  }
  const transactions = (executed: string[]) =>
    executed.filter((sql) => sql.startsWith("BEGIN")).length;

  it("writes the commits of one turn in one transaction, refusing only the rows whose compare-and-set fails", async () => {
    const { storage, executed } = await leasedRuns(40);
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        storage.commit({
          runId: i === 39 ? "missing" : `r${i}`,
          expectedSeq: i === 7 ? 5 : 0,
          owner: i === 13 ? "stale" : "w",
          status: "running",
          frame: `{"at":${i}}`,
          leaseMs: hour,
        }),
      ),
    );
    expect(outcomes[7]).toEqual({ ok: false, reason: "conflict" });
    expect(outcomes[13]).toEqual({ ok: false, reason: "lease-lost" });
    expect(outcomes[39]).toEqual({ ok: false, reason: "not-found" });
    outcomes.forEach((outcome, i) => {
      if (![7, 13, 39].includes(i)) expect(outcome, `r${i}`).toEqual({ ok: true, seq: 1 });
    });
    // The first found the adapter idle and was written at once; the other 39 shared one.
    expect(transactions(executed)).toBe(1);
    for (let i = 0; i < 39; i++) {
      const run = await storage.loadRun(`r${i}`);
      if (i === 7 || i === 13) expect(run).toMatchObject({ seq: 0, frame: null });
      else expect(run).toMatchObject({ seq: 1, frame: `{"at":${i}}`, leaseOwner: "w" });
    }
  });

  it("stores exactly what one commit at a time stores", async () => {
    const kinds: Omit<Commit, "runId" | "expectedSeq" | "owner">[] = [
      { status: "running", frame: "f", leaseMs: hour },
      { status: "running", frame: "g" },
      { status: "sleeping", frame: "s", wakeAt: 1_700_000_000_123 },
      { status: "waiting", frame: "w", wakeAt: null, wait: { spec: "spec", event: "paid" } },
      { status: "running", frame: "i", wakeAt: null, wait: null, inbox: null, leaseMs: hour },
      { status: "completed", result: '"done"', leaseMs: hour },
      { status: "failed", error: '{"message":"no"}' },
      {
        status: "running",
        frame: "t",
        leaseMs: hour,
        session: { id: "s", expectedVersion: 0, state: "{}" },
      },
      // The same session at the same version: refused, and its run is left as it was.
      {
        status: "running",
        frame: "u",
        leaseMs: hour,
        session: { id: "s", expectedVersion: 0, state: "{}" },
      },
    ];
    const stored = async (options: { groupCommit?: false }) => {
      const { storage, executed } = await leasedRuns(kinds.length, options);
      const outcomes = await Promise.all(
        kinds.map((kind, i) =>
          storage.commit({ ...kind, runId: `r${i}`, expectedSeq: 0, owner: "w" }),
        ),
      );
      const runs = await storage.listRuns();
      return {
        transactions: transactions(executed),
        outcomes,
        runs: runs
          .map(({ updatedAt, createdAt, leaseExpiresAt, ...run }) => ({
            ...run,
            leased: leaseExpiresAt !== null,
          }))
          .sort((a, b) => a.id.localeCompare(b.id)),
        session: await storage.loadSession!("s"),
      };
    };
    const alone = await stored({ groupCommit: false });
    const grouped = await stored({});
    expect(grouped.outcomes.at(-1)).toEqual({ ok: false, reason: "session-conflict" });
    expect(grouped.transactions).toBeLessThan(alone.transactions);
    expect({ ...grouped, transactions: 0 }).toStrictEqual({ ...alone, transactions: 0 });
  });

  it("writes a lone run's checkpoints at once, without waiting a turn for company", async () => {
    const { storage, executed } = await leasedRuns(1);
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    for (let seq = 0; seq < 5; seq++) {
      const outcome = await storage.commit({
        runId: "r0",
        expectedSeq: seq,
        owner: "w",
        status: "running",
        leaseMs: hour,
      });
      expect(outcome).toEqual({ ok: true, seq: seq + 1 });
    }
    expect(turned).toBe(false);
    expect(transactions(executed)).toBe(0);
  });

  it("commits each alone when the shared transaction fails, so only the bad commit fails", async () => {
    const { storage } = await leasedRuns(12);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        storage.commit({
          runId: `r${i}`,
          expectedSeq: 0,
          owner: "w",
          status: "running",
          // Not a string: better-sqlite3 refuses to bind it.
          frame: i === 5 ? ({} as string) : `f${i}`,
          leaseMs: hour,
        }),
      ),
    );
    expect(outcomes[5].status).toBe("rejected");
    outcomes.forEach((outcome, i) => {
      if (i !== 5)
        expect(outcome, `r${i}`).toEqual({ status: "fulfilled", value: { ok: true, seq: 1 } });
    });
    expect(await storage.loadRun("r5")).toMatchObject({ seq: 0 });
  });

  it("bounds a transaction by maxBatch, and writes what is gathered before closing", async () => {
    const executed: string[] = [];
    const db = inspect(freshPath(), { verbose: (sql) => executed.push(String(sql)) });
    const storage = sqlite({ database: db, groupCommit: { maxBatch: 4 } });
    await storage.init();
    for (let i = 0; i < 13; i++) {
      await storage.createRun({ ...newRun(`r${i}`), leaseOwner: "w", leaseMs: hour });
    }
    await new Promise((resolve) => setImmediate(resolve));
    executed.length = 0;
    const commits = Array.from({ length: 13 }, (_, i) =>
      storage.commit({ runId: `r${i}`, expectedSeq: 0, owner: "w", status: "completed" }),
    );
    await storage.close();
    expect(await Promise.all(commits)).toEqual(Array(13).fill({ ok: true, seq: 1 }));
    // One at once, then 12 in transactions of 4.
    expect(transactions(executed)).toBe(3);
  });
});

describe("sqlite adapter across processes", () => {
  /** The adapter compiled to plain ESM, with better-sqlite3 reachable. */
  let withDriver: string;
  /** The same build where better-sqlite3 cannot be found. */
  let withoutDriver: string;

  beforeAll(() => {
    const repo = fileURLToPath(new URL("../..", import.meta.url));
    const sources = [
      "adapters/contract.ts",
      "adapters/group-commit.ts",
      "adapters/sqlite/index.ts",
      "adapters/sqlite/sqlite-adapter.ts",
      "adapters/sqlite/sqlite-config.ts",
      "adapters/sqlite/sqlite-migrations.ts",
      "adapters/sqlite/wal-checkpointer.ts",
    ];
    withDriver = join(dir, "with-driver");
    withoutDriver = join(dir, "without-driver");
    for (const out of [withDriver, withoutDriver]) {
      for (const source of sources) {
        const { code } = transformSync(readFileSync(join(repo, source), "utf8"), {
          filename: source,
          jsc: { parser: { syntax: "typescript" }, target: "es2022" },
          module: { type: "es6" },
        });
        const target = join(out, source.replace(/\.ts$/, ".js"));
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, code);
      }
      writeFileSync(join(out, "package.json"), '{ "type": "module" }');
      writeFileSync(join(out, "worker.mjs"), workerScript);
    }
    symlinkSync(join(repo, "node_modules"), join(withDriver, "node_modules"), "dir");
  });

  it("never lets two processes claim the same run", async () => {
    const path = freshPath();
    const setup = sqlite({ path });
    await setup.init();
    const ids = Array.from({ length: 200 }, (_, i) => `run-${i}`);
    for (const id of ids) await setup.createRun(newRun(id));

    const workers = ["proc-a", "proc-b"].map((owner) => startWorker(withDriver, [path, owner]));
    await Promise.all(workers.map((w) => w.message("ready")));
    for (const w of workers) w.child.send("go");
    const results = await Promise.all(workers.map((w) => w.message("done")));
    await Promise.all(workers.map((w) => w.exit));

    const claimed = results.flatMap((r) => r.claimed as string[]);
    expect(claimed).toHaveLength(ids.length);
    expect(new Set(claimed)).toEqual(new Set(ids));
    for (const r of results) expect((r.claimed as string[]).length).toBeGreaterThan(0);
    for (const [i, owner] of ["proc-a", "proc-b"].entries()) {
      for (const id of results[i].claimed as string[]) {
        expect(await setup.loadRun(id)).toMatchObject({
          status: "completed",
          seq: 1,
          result: JSON.stringify(owner),
          leaseOwner: null,
        });
      }
    }
    await setup.close();
  });

  it("keeps a session's state exact when two processes write it with their commits", async () => {
    const path = freshPath();
    const setup = sqlite({ path });
    await setup.init();
    const ids = Array.from({ length: 100 }, (_, i) => `run-${i}`);
    for (const id of ids) await setup.createRun({ ...newRun(id), sessionId: "shared" });

    const workers = ["proc-a", "proc-b"].map((owner) =>
      startWorker(withDriver, [path, owner, "session"]),
    );
    await Promise.all(workers.map((w) => w.message("ready")));
    for (const w of workers) w.child.send("go");
    const results = await Promise.all(workers.map((w) => w.message("done")));
    await Promise.all(workers.map((w) => w.exit));

    // Every run added itself to the shared list exactly once: no write was lost to a race,
    // and no run committed without its session write or the other way round.
    const claimed = results.flatMap((r) => r.claimed as string[]);
    expect(claimed).toHaveLength(ids.length);
    const session = await setup.loadSession!("shared");
    expect(session.version).toBe(ids.length);
    expect((JSON.parse(session.state!) as string[]).sort()).toEqual([...claimed].sort());
    for (const id of ids) expect(await setup.loadRun(id)).toMatchObject({ seq: 1 });
    await setup.close();
  });

  it("imports without better-sqlite3 and says how to install it on init()", async () => {
    const worker = startWorker(withoutDriver, [freshPath(), "probe", "probe-driver"]);
    const report = await worker.message("driver");
    await worker.exit;
    expect(report).toEqual({
      type: "driver",
      imported: true,
      code: "driver-missing",
      message: expect.stringContaining("npm install better-sqlite3"),
    });
  });
});

interface Worker {
  readonly child: ChildProcess;
  /** Resolves with the first message of this type. */
  message(type: string): Promise<Record<string, unknown>>;
  /** Resolves when the process exits with code 0. */
  readonly exit: Promise<void>;
}

function startWorker(buildDir: string, args: string[]): Worker {
  const child = fork(join(buildDir, "worker.mjs"), args, {
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const messages: Record<string, unknown>[] = [];
  const exit = new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`worker ${args.join(" ")} exited with ${code}`)),
    );
  });
  child.on("message", (m) => messages.push(m as Record<string, unknown>));
  return {
    child,
    exit,
    message: (type) =>
      new Promise((resolve, reject) => {
        const look = () => {
          const found = messages.find((m) => m.type === type);
          if (found !== undefined) {
            child.off("message", look);
            resolve(found);
          }
        };
        child.on("message", look);
        exit.then(() => reject(new Error(`worker exited before sending ${type}`)), reject);
        look();
      }),
  };
}

/**
 * The child process: the real adapter, claiming and completing runs until none is left.
 * With `probe-driver` it only reports what importing and init() do.
 */
const workerScript = `
const [path, owner, mode] = process.argv.slice(2);
const { sqlite } = await import("./adapters/sqlite/index.js");
const storage = sqlite({ path });
if (mode === "probe-driver") {
  const error = await storage.init().then(() => null, (e) => e);
  process.send({ type: "driver", imported: true, code: error?.code, message: error?.message });
  process.disconnect();
} else {
  await storage.init();
  process.once("message", async () => {
    const claimed = [];
    for (;;) {
      const runs = await storage.claimRunnable({ owner, leaseMs: 60000, limit: 2 });
      if (runs.length === 0) break;
      // Stand-in for executing the runs: the lock is free meanwhile, as in a real worker.
      await new Promise((resolve) => setTimeout(resolve, 1));
      for (const run of runs) {
        claimed.push(run.id);
        for (;;) {
          // With "session", each run appends its id to the shared session's list, retrying
          // from a fresh read whenever the other process wrote it first.
          const stored = mode === "session" ? await storage.loadSession("shared") : undefined;
          const session = stored && {
            id: "shared",
            expectedVersion: stored.version,
            state: JSON.stringify([...JSON.parse(stored.state ?? "[]"), run.id]),
          };
          const outcome = await storage.commit({
            runId: run.id, expectedSeq: run.seq, owner, status: "completed",
            result: JSON.stringify(owner), session,
          });
          if (outcome.ok) break;
          if (outcome.reason !== "session-conflict") throw new Error(run.id + ": " + outcome.reason);
        }
      }
    }
    await storage.close();
    process.send({ type: "done", claimed });
    process.disconnect();
  });
  process.send({ type: "ready" });
}
`;
