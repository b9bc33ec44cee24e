import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { transformSync } from "@swc/core";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { openTestDatabase } from "../../test/support/postgres.js";
import { type Commit, StorageError } from "../contract.js";
import { describeAdapterContract } from "../testing/index.js";
import {
  PostgresAdapter,
  type PostgresAdapterOptions,
  type PostgresPool,
  type PostgresQuery,
  postgres,
} from "./index.js";

const db = await openTestDatabase();
const hour = 3_600_000;
const opened: PostgresAdapter[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((adapter) => adapter.close()));
  await db.cleanUp();
});
afterAll(() => db.end());

/** An adapter on a fresh schema, closed after the test. */
function fresh(options: { pool?: PostgresPool; schema?: string; notify?: boolean } = {}) {
  const schema = options.schema ?? db.freshSchema();
  const adapter =
    options.pool === undefined && db.url !== undefined
      ? postgres({ connectionString: db.url, schema, notify: options.notify })
      : postgres({ pool: options.pool ?? db.pool(), schema, notify: options.notify });
  opened.push(adapter);
  return adapter;
}

const newRun = (id: string) => ({ id, workflow: "order", version: "v1", args: "[]" });

/**
 * A pool that records every statement it is given, and every connection taken; with
 * `rowsOnly`, its results carry `rows` alone, as a pool of your own may, or with
 * `"counted"` a row count of the rows returned (not of those changed).
 */
function countingPool(pool: PostgresPool, rowsOnly: boolean | "counted" = false) {
  const queries: PostgresQuery[] = [];
  let connections = 0;
  const counting: PostgresPool = {
    query: async <Row>(query: PostgresQuery) => {
      queries.push(query);
      const result = await pool.query<Row>(query);
      if (rowsOnly === "counted") return { rows: result.rows, rowCount: result.rows.length };
      return rowsOnly ? { rows: result.rows } : result;
    },
    connect: () => {
      connections++;
      return pool.connect();
    },
  };
  return { pool: counting, queries, connections: () => connections };
}

/**
 * `subscribe()` sends LISTEN in the background: announce runs of another workflow through
 * `producer` until `wakes()` shows one got through, so later announcements are not missed.
 */
async function untilListening(producer: PostgresAdapter, wakes: () => number): Promise<void> {
  for (let i = 0; wakes() === 0 && i < 500; i++) {
    await producer.createRun({ ...newRun(`warm-up-${i}-${Date.now()}`), workflow: "warm-up" });
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(wakes()).toBeGreaterThan(0);
}

describeAdapterContract(`postgres on ${db.label}`, () => fresh());
describeAdapterContract(`postgres on ${db.label}, a passed pool, no NOTIFY`, () =>
  fresh({ pool: db.pool(), notify: false }),
);

describe(`postgres adapter on ${db.label}`, () => {
  it.each<[string, boolean | "counted", string]>([
    ["a pool that reports row counts (pg)", false, "commit_kept_n"],
    ["a pool that answers with rows alone", true, "commit_kept"],
    ["a pool that counts the rows it returns", "counted", "commit_kept"],
  ])(
    "keeps a lease with more than half to run as it is at a checkpoint, and extends one past its half, on %s",
    async (_, rowsOnly, kept) => {
      const { pool, queries } = countingPool(db.pool(), rowsOnly);
      const storage = fresh({ pool });
      await storage.init();
      const leaseMs = 60_000;
      const { run } = await storage.createRun({ ...newRun("r"), leaseOwner: "w", leaseMs });
      const base = { runId: "r", owner: "w", leaseMs, status: "running" } as const;
      const names = () => queries.map((q) => q.name?.replace(/^ratchet_[0-9a-f]+_/, ""));

      queries.length = 0;
      expect(await storage.commit({ ...base, expectedSeq: 0, frame: "f1" })).toEqual({
        ok: true,
        seq: 1,
      });
      expect(names()).toEqual([kept]);
      expect(await storage.loadRun("r")).toMatchObject({
        seq: 1,
        frame: "f1",
        status: "running",
        leaseOwner: "w",
        leaseExpiresAt: run.leaseExpiresAt,
      });

      // Less than half a lease left: the short statement does not apply, the full one extends it.
      const table = `"${storage.config.schema}".runs`;
      await pool.query({
        text: `UPDATE ${table} SET lease_expires_at = now() + interval '1 second' WHERE id = 'r'`,
      });
      queries.length = 0;
      const before = Date.now();
      expect(await storage.commit({ ...base, expectedSeq: 1, frame: "f2" })).toEqual({
        ok: true,
        seq: 2,
      });
      expect(names()).toEqual([kept, "commit"]);
      const extended = await storage.loadRun("r");
      expect(extended).toMatchObject({ seq: 2, frame: "f2", leaseOwner: "w" });
      // The server's clock decides; allow it a second of skew from this process's.
      expect(extended!.leaseExpiresAt).toBeGreaterThanOrEqual(before + leaseMs - 1000);

      // The compare-and-set holds on that path too.
      expect(await storage.commit({ ...base, expectedSeq: 1, frame: "late" })).toEqual({
        ok: false,
        reason: "conflict",
      });
      expect(await storage.commit({ ...base, owner: "x", expectedSeq: 2, frame: "late" })).toEqual({
        ok: false,
        reason: "lease-lost",
      });
      expect(await storage.loadRun("r")).toMatchObject({ seq: 2, frame: "f2" });
    },
  );

  it.skipIf(db.url === undefined)(
    "opens for a role that may not update schema_version, its checkpoints asking for their row back",
    async () => {
      // Migrated by an owner; the application's role reads and writes the runs, and reads
      // the schema's version only.
      const schema = db.freshSchema();
      await fresh({ schema }).init();
      const role = `ratchet_app_${process.pid}_${Date.now().toString(36)}`;
      const [{ d: database }] = await db.query<{ d: string }>("SELECT current_database() AS d");
      await db.query(`CREATE ROLE ${role}`);
      try {
        await db.query(`GRANT CREATE ON DATABASE "${database}" TO ${role}`);
        await db.query(`GRANT USAGE, CREATE ON SCHEMA "${schema}" TO ${role}`);
        await db.query(
          `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${role}`,
        );
        await db.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA "${schema}" TO ${role}`);
        await db.query(`REVOKE INSERT, UPDATE, DELETE ON "${schema}".schema_version FROM ${role}`);
        // The role set at each connection's start: a SET ROLE sent on "connect" raced the
        // pool's first query on that connection.
        const appPool = new pg.Pool({
          connectionString: db.url,
          max: 2,
          options: `-c role=${role}`,
        });
        appPool.on("error", () => {});
        try {
          const { pool, queries } = countingPool(appPool);
          const storage = postgres({ pool, schema });
          await storage.init();
          await storage.createRun({ ...newRun("r"), leaseOwner: "w", leaseMs: hour });
          queries.length = 0;
          const base = { runId: "r", owner: "w", leaseMs: hour, status: "running" } as const;
          expect(await storage.commit({ ...base, expectedSeq: 0, frame: "f1" })).toStrictEqual({
            ok: true,
            seq: 1,
          });
          expect(queries.map((q) => q.name?.replace(/^ratchet_[0-9a-f]+_/, ""))).toStrictEqual([
            "commit_kept",
          ]);
          expect(await storage.loadRun("r")).toMatchObject({ seq: 1, frame: "f1" });
          await storage.close();
        } finally {
          await appPool.end();
        }
      } finally {
        await db.query(`DROP OWNED BY ${role}`);
        await db.query(`REVOKE ALL ON DATABASE "${database}" FROM ${role}`);
        await db.query(`DROP ROLE ${role}`);
      }
    },
  );

  it("commits a checkpoint in exactly one statement, a prepared one", async () => {
    const { pool, queries, connections } = countingPool(db.pool());
    const storage = fresh({ pool });
    await storage.init();
    const { run } = await storage.createRun({ ...newRun("r1"), leaseOwner: "w", leaseMs: hour });
    const afterInit = connections();
    queries.length = 0;
    for (let seq = 0; seq < 50; seq++) {
      const outcome = await storage.commit({
        runId: run.id,
        expectedSeq: seq,
        owner: "w",
        status: seq === 49 ? "completed" : "running",
        frame: `{"pc":${seq},"big":"${"x".repeat(seq * 100)}"}`,
        result: seq === 49 ? '"done"' : undefined,
        leaseMs: hour,
      });
      expect(outcome).toEqual({ ok: true, seq: seq + 1 });
    }
    expect(queries).toHaveLength(50);
    // A checkpoint that keeps its status and lease takes the short statement; the end the
    // full one.
    expect(new Set(queries.slice(0, 49).map((q) => q.name)).size).toBe(1);
    expect(queries[0].name).toMatch(/^ratchet_[0-9a-f]{12}_commit_kept_n$/);
    expect(queries[49].name).toMatch(/^ratchet_[0-9a-f]{12}_commit$/);
    expect(connections()).toBe(afterInit);

    // Every other method is one statement too; only a failed commit reads again, to say why.
    const counted = async (action: () => Promise<unknown>) => {
      queries.length = 0;
      await action();
      return queries.length;
    };
    expect(await counted(() => storage.createRun(newRun("r2")))).toBe(1);
    expect(
      await counted(() => storage.claimRunnable({ owner: "w", leaseMs: hour, limit: 9 })),
    ).toBe(1);
    expect(await counted(() => storage.renewLeases("w", ["r2", "r1"], hour))).toBe(1);
    expect(await counted(() => storage.releaseLease("r2", "w"))).toBe(1);
    expect(await counted(() => storage.loadRun("r2"))).toBe(1);
    expect(await counted(() => storage.listRuns({ status: "pending", workflow: "order" }))).toBe(1);
    expect(
      await counted(() =>
        storage.commit({ runId: "r1", expectedSeq: 0, owner: "w", status: "running" }),
      ),
    ).toBe(2);
    expect(connections()).toBe(afterInit);
  });

  describe("group commit", () => {
    /** `count` runs r0… leased to `w`, in a store whose statements are recorded. */
    async function leasedRuns(count: number, options: { groupCommit?: false } = {}) {
      const counting = countingPool(db.pool());
      const schema = db.freshSchema();
      const storage = postgres({ pool: counting.pool, schema, ...options });
      opened.push(storage);
      await storage.init();
      for (let i = 0; i < count; i++) {
        await storage.createRun({ ...newRun(`r${i}`), leaseOwner: "w", leaseMs: hour });
      }
      counting.queries.length = 0;
      return { storage, schema, queries: counting.queries };
    }
    const batches = (queries: PostgresQuery[]) =>
      queries.filter((q) => q.name?.endsWith("_commit_batch"));

    it("writes checkpoints that arrive together in one statement, refusing only the rows whose compare-and-set fails", async () => {
      const { storage, queries } = await leasedRuns(40);
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          storage.commit({
            runId: i === 39 ? "missing" : `r${i}`,
            // r7's writer is behind (another commit of its owner won); r13's lease is gone.
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
      // Two commits found the adapter idle and went at once; the rest queued behind them.
      const grouped = batches(queries);
      expect(grouped.length).toBeGreaterThanOrEqual(1);
      expect(grouped.length).toBeLessThanOrEqual(2);
      const rows = grouped.flatMap((q) => JSON.parse(q.values![0] as string) as unknown[]);
      expect(rows.length).toBeGreaterThanOrEqual(36);
      for (let i = 0; i < 39; i++) {
        const run = await storage.loadRun(`r${i}`);
        if (i === 7 || i === 13) expect(run).toMatchObject({ seq: 0, frame: null });
        else expect(run).toMatchObject({ seq: 1, frame: `{"at":${i}}`, leaseOwner: "w" });
      }
    });

    it("renews leases while group commits of the same runs are in flight without deadlocking", async () => {
      const count = 1000;
      const deadlocks: unknown[] = [];
      const pool = db.pool();
      const watching: PostgresPool = {
        query: <Row>(query: PostgresQuery) =>
          pool.query<Row>(query).catch((error: { code?: string }) => {
            if (error.code === "40P01") deadlocks.push(error);
            throw error;
          }),
        connect: () => pool.connect(),
      };
      const storage = fresh({ pool: watching });
      await storage.init();
      const ids = Array.from({ length: count }, (_, i) => `r${i}`);
      await Promise.all(
        ids.map((id) => storage.createRun({ ...newRun(id), leaseOwner: "w", leaseMs: hour })),
      );
      // Ids in creation order ("r2" after "r19"…) are not in id order, as a uuid's never are.
      let committing = true;
      let renewals = 0;
      const renewing = (async () => {
        while (committing) {
          expect(await storage.renewLeases("w", [...ids].reverse(), hour)).toHaveLength(count);
          renewals++;
        }
      })();
      for (let seq = 0; seq < 5; seq++) {
        const outcomes = await Promise.all(
          ids.map((runId) =>
            storage.commit({
              runId,
              expectedSeq: seq,
              owner: "w",
              status: "running",
              leaseMs: hour,
            }),
          ),
        );
        expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
      }
      committing = false;
      await renewing;
      expect(renewals).toBeGreaterThan(0);
      expect(deadlocks).toEqual([]);
    });

    it("stores exactly what one commit at a time stores, for every kind of commit", async () => {
      const kinds: Omit<Commit, "runId" | "expectedSeq" | "owner">[] = [
        { status: "running", frame: "f", leaseMs: hour },
        { status: "running", frame: "g" },
        { status: "sleeping", frame: "s", wakeAt: 1_700_000_000_123 },
        { status: "waiting", frame: "w", wakeAt: null, wait: { spec: "spec", event: "paid" } },
        { status: "waiting", frame: "w", wait: { spec: "spec2", event: null }, leaseMs: hour },
        { status: "running", frame: "i", wakeAt: null, wait: null, inbox: null, leaseMs: hour },
        { status: "completed", result: '"done"', leaseMs: hour },
        { status: "failed", error: '{"message":"no"}' },
        { status: "parked", error: "reason", frame: "p" },
        { status: "running", frame: "nul\0 and \uffff", leaseMs: hour },
      ];
      const stored = async (options: { groupCommit?: false }) => {
        const { storage, queries } = await leasedRuns(kinds.length + 2, options);
        const outcomes = await Promise.all(
          [
            { status: "running" as const, leaseMs: hour },
            { status: "running" as const, leaseMs: hour },
            ...kinds,
          ].map((kind, i) =>
            storage.commit({ ...kind, runId: `r${i}`, expectedSeq: 0, owner: "w" }),
          ),
        );
        expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
        const runs = await storage.listRuns();
        return {
          batched: batches(queries).length,
          runs: runs
            .map(({ updatedAt, createdAt, leaseExpiresAt, ...run }) => ({
              ...run,
              leased: leaseExpiresAt !== null && leaseExpiresAt > Date.now(),
            }))
            .sort((a, b) => a.id.localeCompare(b.id)),
        };
      };
      const alone = await stored({ groupCommit: false });
      const grouped = await stored({});
      expect(alone.batched).toBe(0);
      expect(grouped.batched).toBeGreaterThan(0);
      expect(grouped.runs).toStrictEqual(alone.runs);
    });

    it("sends a lone commit at once, as one statement, with nothing in flight", async () => {
      const { storage, queries } = await leasedRuns(1);
      for (let seq = 0; seq < 5; seq++) {
        await storage.commit({
          runId: "r0",
          expectedSeq: seq,
          owner: "w",
          status: "running",
          leaseMs: hour,
        });
      }
      expect(queries.map((q) => q.name?.replace(/^ratchet_[0-9a-f]+_/, ""))).toEqual(
        Array(5).fill("commit"),
      );
    });

    it("bounds a batch by maxBatch, and keeps two commits of one run in separate statements", async () => {
      const counting = countingPool(db.pool());
      const storage = postgres({
        pool: counting.pool,
        schema: db.freshSchema(),
        groupCommit: { maxBatch: 5 },
      });
      opened.push(storage);
      await storage.init();
      for (let i = 0; i < 30; i++) {
        await storage.createRun({ ...newRun(`r${i}`), leaseOwner: "w", leaseMs: hour });
      }
      counting.queries.length = 0;
      const outcomes = await Promise.all([
        ...Array.from({ length: 30 }, (_, i) =>
          storage.commit({
            runId: `r${i}`,
            expectedSeq: 0,
            owner: "w",
            status: "running",
            leaseMs: hour,
          }),
        ),
        // The same run again at the same seq (two engines sharing the adapter): one wins.
        storage.commit({
          runId: "r29",
          expectedSeq: 0,
          owner: "w",
          status: "running",
          leaseMs: hour,
        }),
      ]);
      expect(outcomes.filter((o) => o.ok)).toHaveLength(30);
      expect(outcomes.filter((o) => !o.ok)).toEqual([{ ok: false, reason: "conflict" }]);
      for (const query of batches(counting.queries)) {
        const rows = JSON.parse(query.values![0] as string) as { i: string }[];
        expect(rows.length).toBeLessThanOrEqual(5);
        expect(new Set(rows.map((row) => row.i)).size).toBe(rows.length);
      }
    });

    it("creates runs started together in one statement, in order, each with its own outcome", async () => {
      const { storage, queries } = await leasedRuns(1);
      const results = await Promise.allSettled([
        ...Array.from({ length: 20 }, (_, i) =>
          storage.createRun({
            ...newRun(`n${i}`),
            leaseOwner: i % 2 ? "w" : undefined,
            leaseMs: hour,
          }),
        ),
        // An id already taken, and two starts with one idempotency key.
        storage.createRun(newRun("r0")),
        storage.createRun({ ...newRun("k1"), idempotencyKey: "key" }),
        storage.createRun({ ...newRun("k2"), idempotencyKey: "key" }),
      ]);
      expect(results[20]).toMatchObject({
        status: "rejected",
        reason: expect.objectContaining({ code: "run-exists" }),
      });
      const [first, second] = results.slice(21).map((r) => {
        if (r.status !== "fulfilled") throw r.reason;
        return r.value;
      });
      expect(first.run.id).toBe("k1");
      expect(first.created).toBe(true);
      expect(second).toEqual({ run: first.run, created: false });
      for (let i = 0; i < 20; i++) {
        const result = results[i];
        expect(result.status, `n${i}`).toBe("fulfilled");
        if (result.status === "fulfilled") {
          expect(result.value.created).toBe(true);
          expect(result.value.run).toMatchObject({
            id: `n${i}`,
            status: i % 2 ? "running" : "pending",
            leaseOwner: i % 2 ? "w" : null,
            seq: 0,
          });
        }
      }
      expect(queries.some((q) => /_create_batch(_notify)?$/.test(q.name ?? ""))).toBe(true);
      // Oldest first: the order the runs were created in.
      const claimed = await storage.claimRunnable({ owner: "x", leaseMs: hour, limit: 100 });
      expect(claimed.map((run) => run.id).filter((id) => id.startsWith("n"))).toEqual(
        Array.from({ length: 10 }, (_, i) => `n${i * 2}`),
      );
    });

    it("commits each run alone when the server refuses a batch, so only the bad row fails", async () => {
      const { storage } = await leasedRuns(12);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          storage.commit({
            runId: `r${i}`,
            expectedSeq: 0,
            owner: "w",
            status: "sleeping",
            // Not an int8: the server refuses the statement that carries it.
            wakeAt: i === 5 ? 1.5 : 1_700_000_000_000 + i,
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
  });

  it("commits a checkpoint with a session write in one statement, and needs no read to report session-conflict", async () => {
    const { pool, queries, connections } = countingPool(db.pool());
    const storage = fresh({ pool });
    await storage.init();
    const afterInit = connections();
    const leased = async (id: string) =>
      (await storage.createRun({ ...newRun(id), leaseOwner: "w", leaseMs: hour })).run;
    await leased("r1");
    await leased("r2");
    const counted = async (action: () => Promise<unknown>) => {
      queries.length = 0;
      const outcome = await action();
      return { outcome, statements: queries.map((q) => q.name) };
    };
    const base = { owner: "w", status: "running", leaseMs: hour } as const;
    const session = (expectedVersion: number) => ({ id: "s", expectedVersion, state: "{}" });
    expect(
      await counted(() =>
        storage.commit({ ...base, runId: "r1", expectedSeq: 0, session: session(0) }),
      ),
    ).toEqual({
      outcome: { ok: true, seq: 1 },
      statements: [expect.stringMatching(/^ratchet_[0-9a-f]{12}_commit_session$/)],
    });
    expect(
      await counted(() =>
        storage.commit({ ...base, runId: "r2", expectedSeq: 0, session: session(0) }),
      ),
    ).toMatchObject({ outcome: { ok: false, reason: "session-conflict" }, statements: [/./] });
    expect(
      await counted(() =>
        storage.commit({ ...base, runId: "r2", expectedSeq: 3, session: session(1) }),
      ),
    ).toMatchObject({ outcome: { ok: false, reason: "conflict" }, statements: [/./, /./] });
    expect(await storage.loadRun("r2")).toMatchObject({ seq: 0, frame: null });
    expect(await storage.loadSession("s")).toEqual({ state: "{}", version: 1 });
    expect(connections()).toBe(afterInit);
  });

  it("keeps a session's state exact while runs in two pools write it with their commits", async () => {
    const schema = db.freshSchema();
    const a = fresh({ pool: db.pool(), schema });
    const b = fresh({ pool: db.pool(), schema });
    await Promise.all([a.init(), b.init()]);
    const ids = Array.from({ length: 60 }, (_, i) => `run-${i}`);
    for (const id of ids) await a.createRun({ ...newRun(id), sessionId: "shared" });
    let conflicts = 0;
    const workers = [a, b].flatMap((storage, s) =>
      Array.from({ length: 5 }, async (_, w) => {
        const owner = `pool-${s}-worker-${w}`;
        for (;;) {
          const [run] = await storage.claimRunnable({ owner, leaseMs: hour, limit: 1 });
          if (run === undefined) return;
          // Append this run to the shared list; on session-conflict the run was not
          // committed either, so read the session again and retry at the same seq.
          for (;;) {
            const stored = await storage.loadSession("shared");
            const list = JSON.parse(stored.state ?? "[]") as string[];
            const outcome = await storage.commit({
              runId: run.id,
              expectedSeq: run.seq,
              owner,
              status: "completed",
              session: {
                id: "shared",
                expectedVersion: stored.version,
                state: JSON.stringify([...list, run.id]),
              },
            });
            if (outcome.ok) break;
            expect(outcome).toEqual({ ok: false, reason: "session-conflict" });
            conflicts++;
          }
        }
      }),
    );
    await Promise.all(workers);
    const session = await a.loadSession("shared");
    expect(session.version).toBe(ids.length);
    expect((JSON.parse(session.state!) as string[]).sort()).toEqual([...ids].sort());
    expect(conflicts).toBeGreaterThan(0);
    const rows = await db.query<{ seq: string }>(`SELECT seq FROM "${schema}".runs`);
    expect(rows.map((row) => Number(row.seq))).toEqual(ids.map(() => 1));
  });

  it("migrates a schema written at version 1, keeping its runs", async () => {
    const schema = db.freshSchema();
    const old = fresh({ schema });
    await old.init();
    await old.createRun({ ...newRun("old"), sessionId: "s", leaseOwner: "w", leaseMs: hour });
    await old.close();
    // Back to version 1 as released: the runs table alone.
    await db.query(`DROP TABLE "${schema}".sessions`);
    await db.query(`DROP TABLE "${schema}".steps`);
    await db.query(`DROP TABLE "${schema}".events`);
    await db.query(`DROP INDEX "${schema}".runs_status_created, "${schema}".runs_session`);
    await db.query(`ALTER TABLE "${schema}".runs RESET (fillfactor)`);
    await db.query(`DROP INDEX "${schema}".runs_free, "${schema}".runs_lease_expiry`);
    await db.query(
      `CREATE INDEX runs_claim ON "${schema}".runs (created_at, ord) WHERE status IN ('pending', 'running')`,
    );
    await db.query(`UPDATE "${schema}".schema_version SET version = 1`);

    const storage = fresh({ schema });
    await storage.init();
    expect(await db.query(`SELECT version FROM "${schema}".schema_version`)).toEqual([
      { version: 6 },
    ]);
    expect(
      await db.query(
        `SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = 'runs'`,
        [schema],
      ),
    ).toEqual([{ reloptions: ["fillfactor=70"] }]);
    expect(await storage.loadSession("s")).toEqual({ state: null, version: 0 });
    expect(
      await storage.commit({
        runId: "old",
        expectedSeq: 0,
        owner: "w",
        status: "completed",
        session: { id: "s", expectedVersion: 0, state: "[1]" },
      }),
    ).toEqual({ ok: true, seq: 1 });
    expect(await storage.loadSession("s")).toEqual({ state: "[1]", version: 1 });
  });

  it("never hands one run to two pools claiming at once", async () => {
    const schema = db.freshSchema();
    const a = fresh({ pool: db.pool(), schema });
    const b = fresh({ pool: db.pool(), schema });
    await Promise.all([a.init(), b.init()]);
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add((await a.createRun(newRun(`run-${i}`))).run.id);
    const claims = [a, b].flatMap((storage, s) =>
      Array.from({ length: 10 }, async (_, w) => {
        const owner = `pool-${s}-worker-${w}`;
        const mine: string[] = [];
        for (;;) {
          const runs = await storage.claimRunnable({ owner, leaseMs: hour, limit: 4 });
          if (runs.length === 0) return { owner, mine };
          for (const run of runs) {
            mine.push(run.id);
            const outcome = await storage.commit({
              runId: run.id,
              expectedSeq: run.seq,
              owner,
              status: "completed",
              result: JSON.stringify(owner),
            });
            expect(outcome.ok).toBe(true);
          }
        }
      }),
    );
    const results = await Promise.all(claims);
    const claimed = results.flatMap((r) => r.mine);
    expect(claimed).toHaveLength(200);
    expect(new Set(claimed)).toEqual(ids);
    for (const pool of [0, 1]) {
      const share = results.filter((r) => r.owner.startsWith(`pool-${pool}`));
      expect(share.flatMap((r) => r.mine).length).toBeGreaterThan(0);
    }
    const rows = await db.query<{ id: string; result: string }>(
      `SELECT id, result FROM "${schema}".runs WHERE status = 'completed'`,
    );
    const owners = new Map(results.flatMap((r) => r.mine.map((id) => [id, r.owner])));
    expect(rows).toHaveLength(200);
    for (const row of rows) expect(row.result).toBe(JSON.stringify(owners.get(row.id)));
  });

  describe("sleeps, waits, deliveries and cancellation", () => {
    const leased = async (storage: PostgresAdapter, id: string) =>
      (await storage.createRun({ ...newRun(id), leaseOwner: "w", leaseMs: hour })).run;

    it("stores wake times, waits and the inbox, keeping what a commit omits", async () => {
      const storage = fresh();
      await storage.init();
      const run = await leased(storage, "r");
      expect(run).toMatchObject({ wakeAt: null, wait: null, waitEvent: null, inbox: null });
      const base = { runId: "r", owner: "w", leaseMs: hour } as const;
      await storage.commit({
        ...base,
        expectedSeq: 0,
        status: "waiting",
        wakeAt: 1234,
        wait: { spec: "w\0spec", event: "paid" },
      });
      expect(await storage.loadRun("r")).toMatchObject({
        status: "waiting",
        wakeAt: 1234,
        wait: "w\0spec",
        waitEvent: "paid",
      });
      expect((await storage.listRuns({ waitEvent: "paid" })).map((r) => r.id)).toEqual(["r"]);
      expect(await storage.listRuns({ waitEvent: "other" })).toEqual([]);
      expect(await storage.listRuns({ waitEvent: "paid", status: "running" })).toEqual([]);
      await storage.commit({ ...base, expectedSeq: 1, status: "waiting" });
      expect(await storage.loadRun("r")).toMatchObject({ wakeAt: 1234, wait: "w\0spec" });
      await storage.commit({
        ...base,
        expectedSeq: 2,
        status: "running",
        wakeAt: null,
        wait: null,
      });
      expect(await storage.loadRun("r")).toMatchObject({
        wakeAt: null,
        wait: null,
        waitEvent: null,
      });
    });

    it("claims sleeping and waiting runs once wakeBefore reaches them, oldest first", async () => {
      const storage = fresh();
      await storage.init();
      const park = async (id: string, status: "sleeping" | "waiting", wakeAt: number | null) => {
        await leased(storage, id);
        await storage.commit({ runId: id, expectedSeq: 0, owner: "w", status, wakeAt });
      };
      await park("sleeps-long", "sleeping", 5_000);
      await park("sleeps-short", "sleeping", 1_000);
      await storage.createRun(newRun("pending"));
      await park("waits-forever", "waiting", null);
      await park("times-out", "waiting", 2_000);
      const claim = (wakeBefore?: number) =>
        storage.claimRunnable({ owner: "x", leaseMs: hour, limit: 10, wakeBefore });
      expect((await claim()).map((r) => r.id)).toEqual(["pending"]);
      expect(await claim(999)).toEqual([]);
      const woken = await claim(2_000);
      expect(woken.map((r) => [r.id, r.status, r.leaseOwner, r.wakeAt])).toEqual([
        ["sleeps-short", "running", "x", 1_000],
        ["times-out", "running", "x", 2_000],
      ]);
      expect((await claim(Number.MAX_SAFE_INTEGER)).map((r) => r.id)).toEqual(["sleeps-long"]);
      const first = await storage.claimRunnable({
        owner: "y",
        leaseMs: hour,
        limit: 1,
        wakeBefore: 0,
      });
      expect(first).toEqual([]);
    });

    it("delivers once to the wait it was meant for, and announces the run", async () => {
      const storage = fresh();
      await storage.init();
      let wakes = 0;
      storage.subscribe(() => wakes++);
      await untilListening(storage, () => wakes);
      await leased(storage, "r");
      wakes = 0;
      await storage.commit({
        runId: "r",
        expectedSeq: 0,
        owner: "w",
        status: "waiting",
        wakeAt: 99,
        wait: { spec: "approval#1", event: null },
      });
      const deliveries = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          storage.deliver({ runId: "r", wait: "approval#1", payload: `"yes ${i}"` }),
        ),
      );
      expect(deliveries.filter(Boolean)).toHaveLength(1);
      const delivered = await storage.loadRun("r");
      expect(delivered).toMatchObject({
        status: "pending",
        seq: 2,
        wakeAt: null,
        wait: null,
        waitEvent: null,
        inbox: expect.stringMatching(/^"yes \d"$/),
      });
      expect(await storage.deliver({ runId: "r", wait: "approval#1", payload: "x" })).toBe(false);
      expect(await storage.deliver({ runId: "ghost", wait: "approval#1", payload: "x" })).toBe(
        false,
      );
      for (let i = 0; i < 100 && wakes === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(wakes).toBeGreaterThan(0);
      const [claimed] = await storage.claimRunnable({
        owner: "x",
        leaseMs: hour,
        limit: 1,
        workflows: ["order"],
      });
      expect(claimed).toMatchObject({ id: "r", inbox: delivered!.inbox });
      await storage.commit({
        runId: "r",
        expectedSeq: 2,
        owner: "x",
        status: "running",
        inbox: null,
        leaseMs: hour,
      });
      expect((await storage.loadRun("r"))!.inbox).toBeNull();
    });

    it("cancels a run that has not ended, so its owner's next commit fails", async () => {
      const storage = fresh();
      await storage.init();
      await leased(storage, "r");
      expect(await storage.cancel("r", '"stop"')).toBe(true);
      expect(await storage.loadRun("r")).toMatchObject({
        status: "cancelled",
        seq: 1,
        error: '"stop"',
        leaseOwner: null,
        leaseExpiresAt: null,
      });
      expect(
        await storage.commit({ runId: "r", expectedSeq: 0, owner: "w", status: "running" }),
      ).toEqual({ ok: false, reason: "lease-lost" });
      expect(await storage.cancel("r", '"again"')).toBe(false);
      expect(await storage.cancel("ghost", '"x"')).toBe(false);
    });
  });

  it("migrates once, however many adapters initialize the schema at once", async () => {
    const schema = db.freshSchema();
    const adapters = Array.from({ length: 5 }, () => fresh({ pool: db.pool(), schema }));
    await Promise.all(adapters.flatMap((adapter) => [adapter.init(), adapter.init()]));
    await adapters[0].createRun(newRun("r1"));
    expect(await adapters[4].loadRun("r1")).not.toBeNull();
    expect(await db.query(`SELECT id, version FROM "${schema}".schema_version`)).toEqual([
      { id: 1, version: 6 },
    ]);
    const objects = await db.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'i') ORDER BY c.relname`,
      [schema],
    );
    expect(objects.map((o) => o.relname)).toEqual([
      "events",
      "events_pending",
      "events_pkey",
      "events_run_key",
      "runs",
      "runs_created",
      "runs_free",
      "runs_idempotency_key",
      "runs_lease_expiry",
      "runs_pkey",
      "runs_session",
      "runs_status_created",
      "runs_wait_event",
      "runs_wake",
      "runs_workflow_created",
      "schema_version",
      "schema_version_pkey",
      "sessions",
      "sessions_pkey",
      "steps",
      "steps_run",
    ]);
  });

  it("refuses a schema written by a newer Ratchet, saying what to do", async () => {
    const schema = db.freshSchema();
    await fresh({ schema }).init();
    await db.query(`UPDATE "${schema}".schema_version SET version = 99`);
    const init = fresh({ schema }).init();
    await expect(init).rejects.toBeInstanceOf(StorageError);
    await expect(init).rejects.toMatchObject({ code: "schema-too-new" });
    await expect(init).rejects.toThrow(/version 99.*knows only up to 6.*Upgrade ratchet/s);
    await expect(init).rejects.toThrow(schema);
  });

  it("keeps stores in different schemas of one database apart", async () => {
    const pool = db.pool();
    const a = fresh({ pool });
    const b = fresh({ pool });
    await a.init();
    await b.init();
    await a.createRun(newRun("only-in-a"));
    expect(await b.loadRun("only-in-a")).toBeNull();
    expect(await b.listRuns()).toEqual([]);
    await b.createRun(newRun("only-in-a"));
  });

  it("stores U+0000 and U+FFFF, and leaves other strings as they are in the table", async () => {
    const schema = db.freshSchema();
    const storage = fresh({ schema });
    await storage.init();
    const tricky = ["\0", "\uffff", "\uffff0", "\uffff\uffff", "a\0\uffff0b\uffff\0", "\\0"];
    for (const [i, text] of tricky.entries()) {
      const id = `r\0${text}`;
      await storage.createRun({ ...newRun(id), args: text, workflow: text, sessionId: text });
      expect(await storage.loadRun(id)).toMatchObject({ id, args: text, workflow: text });
      const [listed] = await storage.listRuns({ workflow: text });
      expect(listed).toMatchObject({ id, sessionId: text });
      const [claimed] = await storage.claimRunnable({
        owner: `o\0${i}`,
        leaseMs: hour,
        limit: 1,
        workflows: [text],
      });
      expect(claimed).toMatchObject({ id, leaseOwner: `o\0${i}` });
    }
    await storage.createRun({ ...newRun("plain"), args: '["héllo 😀"]' });
    expect(await db.query(`SELECT args FROM "${schema}".runs WHERE id = 'plain'`)).toEqual([
      { args: '["héllo 😀"]' },
    ]);
  });

  it.skipIf(db.kind === "pglite")(
    "takes lease and creation times from the server's clock, not this process's (needs a server: PGlite shares this clock)",
    async () => {
      const storage = fresh();
      await storage.init();
      vi.useFakeTimers({ toFake: ["Date"] });
      try {
        vi.setSystemTime(new Date("2001-01-01T00:00:00Z"));
        const real = performance.timeOrigin + performance.now();
        const { run } = await storage.createRun({
          ...newRun("r"),
          leaseOwner: "w",
          leaseMs: 1000,
        });
        expect(Math.abs(run.createdAt - real)).toBeLessThan(5_000);
        expect(run.leaseExpiresAt! - run.createdAt).toBe(1000);
        // A lease that the (wrong) local clock would think expired long ago is still live.
        expect(await storage.claimRunnable({ owner: "x", leaseMs: 1, limit: 5 })).toEqual([]);
      } finally {
        vi.useRealTimers();
      }
    },
  );

  describe("subscribe", () => {
    const waitFor = async (condition: () => boolean) => {
      for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
    };

    it("wakes listeners in other adapters when a run becomes claimable, and stops when asked", async () => {
      const schema = db.freshSchema();
      const producer = fresh({ pool: db.pool(), schema });
      const worker = fresh({ pool: db.pool(), schema });
      const elsewhere = fresh({ pool: db.pool() });
      await Promise.all([producer.init(), worker.init(), elsewhere.init()]);
      let wakes = 0;
      let elsewhereWakes = 0;
      const stop = worker.subscribe(() => wakes++);
      elsewhere.subscribe(() => elsewhereWakes++);
      await untilListening(producer, () => wakes);
      await untilListening(elsewhere, () => elsewhereWakes);
      elsewhereWakes = 0;

      wakes = 0;
      await producer.createRun(newRun("unleased"));
      await waitFor(() => wakes > 0);
      expect(wakes).toBe(1);

      wakes = 0;
      await producer.createRun({ ...newRun("leased"), leaseOwner: "p", leaseMs: hour });
      await producer.releaseLease("leased", "someone-else");
      await new Promise((r) => setTimeout(r, 100));
      expect(wakes).toBe(0);
      await producer.releaseLease("leased", "p");
      await waitFor(() => wakes > 0);
      expect(wakes).toBe(1);

      wakes = 0;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => producer.createRun(newRun(`burst-${i}`))),
      );
      await waitFor(() => wakes > 0);
      await new Promise((r) => setTimeout(r, 50));
      expect(wakes).toBeGreaterThanOrEqual(1);
      expect(wakes).toBeLessThanOrEqual(20);

      stop();
      wakes = 0;
      await producer.createRun(newRun("after-stop"));
      await new Promise((r) => setTimeout(r, 100));
      expect(wakes).toBe(0);
      expect(elsewhereWakes).toBe(0);
    });

    it("announces nothing with notify: false", async () => {
      const schema = db.freshSchema();
      const quiet = fresh({ schema, notify: false });
      const listener = fresh({ schema });
      await Promise.all([quiet.init(), listener.init()]);
      let wakes = 0;
      listener.subscribe(() => wakes++);
      await untilListening(listener, () => wakes);
      wakes = 0;
      await quiet.createRun(newRun("r"));
      await new Promise((r) => setTimeout(r, 100));
      expect(wakes).toBe(0);
    });

    it("needs init() first", () => {
      expect(() => fresh().subscribe(() => {})).toThrow(
        expect.objectContaining({ code: "not-ready" }),
      );
    });
  });

  it("ends a pool it opened, but not one you passed", async () => {
    const passed = db.pool();
    const onPassed = fresh({ pool: passed });
    await onPassed.init();
    await onPassed.close();
    expect(await passed.query({ text: "SELECT 1 AS one" })).toMatchObject({ rows: [{ one: 1 }] });

    const own = fresh();
    await own.init();
    await own.close();
    await own.close();
    await expect(own.loadRun("r")).rejects.toMatchObject({ code: "not-ready" });
    await expect(own.init()).rejects.toMatchObject({ code: "not-ready" });
  });

  it("refuses calls before init()", async () => {
    await expect(fresh().createRun(newRun("r"))).rejects.toMatchObject({
      code: "not-ready",
      message: expect.stringContaining("createRun() before init()"),
    });
  });

  it("takes a pg.Pool as it is", () => {
    const pool = new pg.Pool({ connectionString: "postgres://nowhere.invalid/db" });
    expect(postgres({ pool }).config.source).toEqual({ kind: "pool", pool });
    void pool.end();
  });

  it("applies defaults and freezes its configuration", () => {
    const adapter = new PostgresAdapter({ connectionString: "postgres://h/db" });
    expect(adapter.config).toEqual({
      source: { kind: "connectionString", connectionString: "postgres://h/db", maxConnections: 10 },
      schema: "ratchet",
      notify: true,
      groupCommit: { maxBatch: 256 },
    });
    expect(Object.isFrozen(adapter.config)).toBe(true);
    expect(Object.isFrozen(adapter.config.source)).toBe(true);
  });

  it.each<[string, unknown]>([
    ["no source", {}],
    ["an empty connection string", { connectionString: "" }],
    ["both connectionString and pool", { connectionString: "postgres://h/db", pool: db.pool() }],
    ["a pool that is not one", { pool: {} }],
    ["maxConnections with a pool", { pool: db.pool(), maxConnections: 3 }],
    ["zero maxConnections", { connectionString: "postgres://h/db", maxConnections: 0 }],
    ["a schema that is not an identifier", { connectionString: "x", schema: 'x"; DROP' }],
    ["a schema longer than 63 characters", { connectionString: "x", schema: "s".repeat(64) }],
    ["a notify that is not a boolean", { connectionString: "x", notify: "yes" }],
    ["a groupCommit that is not an object", { connectionString: "x", groupCommit: 5 }],
    ["a zero maxBatch", { connectionString: "x", groupCommit: { maxBatch: 0 } }],
  ])("rejects options with %s", (_, options) => {
    expect(() => postgres(options as PostgresAdapterOptions)).toThrow(
      expect.objectContaining({ code: "invalid-argument" }),
    );
  });

  it("imports without pg and says how to install it on init()", () => {
    const repo = fileURLToPath(new URL("../..", import.meta.url));
    const out = mkdtempSync(join(tmpdir(), "ratchet-postgres-nodriver-"));
    try {
      for (const source of [
        "adapters/contract.ts",
        "adapters/group-commit.ts",
        "adapters/postgres/index.ts",
        "adapters/postgres/postgres-adapter.ts",
        "adapters/postgres/postgres-config.ts",
        "adapters/postgres/postgres-migrations.ts",
      ]) {
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
      writeFileSync(
        join(out, "probe.mjs"),
        `const { postgres } = await import("./adapters/postgres/index.js");
         const error = await postgres({ connectionString: "postgres://h/db" }).init().then(() => null, (e) => e);
         console.log(JSON.stringify({ code: error?.code, message: error?.message }));`,
      );
      const probe = spawnSync(process.execPath, [join(out, "probe.mjs")], { encoding: "utf8" });
      expect(probe.status, probe.stderr).toBe(0);
      expect(JSON.parse(probe.stdout)).toEqual({
        code: "driver-missing",
        message: expect.stringContaining("npm install pg"),
      });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
