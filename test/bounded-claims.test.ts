import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import type { PostgresPool, PostgresQuery } from "ratchetjs/adapters/postgres";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { openTestDatabase } from "./support/postgres.js";

/**
 * Claims read only claimable runs: with 10,000 runs leased by live workers and 10,000 parked
 * runs stored before 20 new ones, the claim statement goes through indexes whose ranges hold
 * only unleased runs, expired leases and due sleepers — shown by the plan each store gives
 * for the statement the adapter sends (Postgres: EXPLAIN ANALYZE, counting the rows each
 * scan of the runs table read; SQLite: EXPLAIN QUERY PLAN).
 */
const db = await openTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "ratchet-claims-"));
afterAll(async () => {
  await db.end();
  rmSync(dir, { recursive: true, force: true });
});

const busy = 10_000;
const parked = 10_000;
const fresh = 20;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  Plans?: PlanNode[];
}

function* nodes(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* nodes(child);
}

describe.skipIf(db.kind !== "server")(`bounded claims on ${db.label}`, () => {
  it("a claim reads no leased or parked run (EXPLAIN ANALYZE, generic and custom plans)", {
    timeout: 120_000,
  }, async () => {
    const schema = db.freshSchema();
    const sent: PostgresQuery[] = [];
    const pool = db.pool();
    const recording: PostgresPool = {
      query: ((query: PostgresQuery) => {
        sent.push(query);
        return pool.query(query as never);
      }) as PostgresPool["query"],
      connect: () => pool.connect(),
    };
    const storage = postgres({ pool: recording, schema, notify: false });
    await storage.init();
    const runs = `"${schema}".runs`;
    // Older than the new runs, so a claim in creation order would meet them first.
    await db.query(
      `INSERT INTO ${runs} (id, workflow, version, status, seq, args, lease_owner, lease_expires_at, created_at, updated_at)
       SELECT 'busy-' || i, 'w', 'v', 'running', 1, '[]', 'worker-' || (i % 7), now() + interval '1 hour',
         now() - interval '1 day' + i * interval '1 millisecond', now()
       FROM generate_series(1, ${busy}) AS i`,
    );
    await db.query(
      `INSERT INTO ${runs} (id, workflow, version, status, seq, args, error, lease_owner, lease_expires_at, created_at, updated_at)
       SELECT 'parked-' || i, 'w', 'v', 'parked', 1, '[]', '"reason"', 'parker', now() + interval '100 years',
         now() - interval '1 day' + i * interval '1 millisecond', now()
       FROM generate_series(1, ${parked}) AS i`,
    );
    for (let i = 0; i < fresh; i++) {
      await storage.createRun({ id: `new-${i}`, workflow: "w", version: "v", args: "[]" });
    }
    await db.query(`ANALYZE ${runs}`);

    sent.length = 0;
    const options = { owner: "fresh", leaseMs: 30_000, limit: 100, workflows: ["w"] };
    await storage.claimRunnable({ ...options, wakeBefore: Date.now(), wakeBeforeInMs: 0 });
    const [claim] = sent.filter((q) => /claim/.test(q.name ?? ""));
    expect(claim).toBeDefined();

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      for (const mode of ["force_generic_plan", "force_custom_plan"]) {
        await client.query("BEGIN");
        // The claim above took the new runs: give them back, so this one claims them again.
        await client.query(
          `UPDATE ${runs} SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL WHERE id LIKE 'new-%'`,
        );
        await client.query(`SET LOCAL plan_cache_mode = ${mode}`);
        const { rows } = await client.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${claim!.text}`,
          claim!.values as unknown[],
        );
        await client.query("ROLLBACK");
        const plan = rows[0]!["QUERY PLAN"][0].Plan;
        const scans = [...nodes(plan)].filter((n) => n["Relation Name"] === "runs");
        const read = scans.map(
          (n) =>
            (n["Actual Rows"] ?? 0) * (n["Actual Loops"] ?? 1) +
            (n["Rows Removed by Filter"] ?? 0) +
            (n["Rows Removed by Index Recheck"] ?? 0),
        );
        const summary = scans.map(
          (n, i) => `${n["Node Type"]} ${n["Index Name"] ?? ""} read ${read[i]}`,
        );
        console.log(`[bounded-claims] postgres ${mode}: ${summary.join("; ")}`);
        expect(scans.map((n) => n["Node Type"]).filter((t) => t.includes("Seq Scan"))).toEqual([]);
        expect(scans.map((n) => n["Index Name"])).toEqual(
          expect.arrayContaining(["runs_free", "runs_lease_expiry", "runs_wake"]),
        );
        // The 20 new runs (each read by its pick and again when leased), never the 20,000 others.
        expect(read.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(4 * fresh);
      }
    } finally {
      await client.end();
    }
    await storage.close();
  });
});

describe("bounded claims on sqlite", () => {
  it("a claim's plan reads index ranges that hold no leased or parked run", async () => {
    const path = join(dir, "claims.db");
    const executed: string[] = [];
    const file = new Database(path, { verbose: (sql) => executed.push(String(sql)) });
    const storage = sqlite({ database: file });
    await storage.init();
    const now = Date.now();
    const insert = file.prepare(
      `INSERT INTO ratchet_runs (id, workflow, version, status, seq, args, error, lease_owner, lease_expires_at, created_at, updated_at)
       VALUES (?, 'w', 'v', ?, 1, '[]', NULL, ?, ?, ?, ?)`,
    );
    file.transaction(() => {
      for (let i = 0; i < busy; i++) {
        insert.run(
          `busy-${i}`,
          "running",
          `worker-${i % 7}`,
          now + 3_600_000,
          now - 86_400_000 + i,
          now,
        );
      }
      for (let i = 0; i < parked; i++) {
        insert.run(`parked-${i}`, "parked", "parker", now + 3e12, now - 86_400_000 + i, now);
      }
    })();
    for (let i = 0; i < fresh; i++) {
      await storage.createRun({ id: `new-${i}`, workflow: "w", version: "v", args: "[]" });
    }
    file.exec("ANALYZE");
    executed.length = 0;
    const claimed = await storage.claimRunnable({
      owner: "fresh",
      leaseMs: 30_000,
      limit: 100,
      workflows: ["w"],
      wakeBefore: now,
    });
    expect(claimed.map((r) => r.id).sort()).toStrictEqual(
      Array.from({ length: fresh }, (_, i) => `new-${i}`).sort(),
    );
    const select = executed.find((sql) => sql.startsWith("SELECT"));
    const plan = file
      .prepare(`EXPLAIN QUERY PLAN ${select}`)
      .all()
      .map((row) => (row as { detail: string }).detail);
    console.log(`[bounded-claims] sqlite: ${plan.join(" | ")}`);
    // Every read of the runs table is an index range: the unleased runs, the leases that
    // expired by now, the sleepers due by now. None is a scan of the table or of a status.
    const reads = plan.filter((line) => /ratchet_runs\b/.test(line));
    expect(reads.some((line) => /USING INDEX ratchet_runs_free\b/.test(line))).toBe(true);
    expect(
      reads.some((line) =>
        /USING INDEX ratchet_runs_claim \(status=\? AND lease_expires_at<\?\)/.test(line),
      ),
    ).toBe(true);
    expect(
      reads.some((line) => /USING INDEX ratchet_runs_wake \(status=\? AND wake_at<\?\)/.test(line)),
    ).toBe(true);
    expect(
      reads.filter((line) =>
        /^SCAN ratchet_runs$|ratchet_runs_status_created|ratchet_runs_created/.test(line),
      ),
    ).toEqual([]);
    await storage.close();
    file.close();
  });
});
