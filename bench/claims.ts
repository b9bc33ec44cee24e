/**
 * Claims stay bounded: a fresh worker's claim of 20 new runs on a store that also holds
 * 10,000 runs leased by live workers and 10,000 parked runs (all created before the new ones),
 * against the same claim on a store holding nothing else. One sample of each per round, back
 * to back, alternating which goes first; the ratio is loaded ÷ empty (1× means the other
 * runs cost the claim nothing). The claim is the statement a worker sends
 * (`claimRunnable` with its workflows, `limit: 100` and due sleepers), timed from the call to
 * its answer; after each round the 20 runs are completed so the next round claims new ones.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import type { StorageAdapter } from "ratchetjs";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { openTestDatabase } from "../test/support/postgres.js";
import { postgresVersion, sqliteVersion } from "./baselines.js";
import {
  type Comparison,
  formatMicros,
  formatRatio,
  machineInfo,
  median,
  printRows,
  summarize,
  writeResults,
} from "./report.js";

const busy = 10_000;
const parked = 10_000;
const fresh = 20;
const rounds = Number(process.env.BENCH_ROUNDS ?? 15);

interface Store {
  readonly storage: StorageAdapter;
  /** Store `busy` leased and `parked` parked runs, older than any run created later. */
  load(): Promise<void>;
  close(): Promise<void>;
}

let round = 0;

/** One round on one store: create 20 runs, time the claim, complete them. */
async function sample(store: Store, tag: string): Promise<number> {
  const { storage } = store;
  const ids = Array.from({ length: fresh }, (_, i) => `${tag}-${round}-${i}`);
  for (const id of ids) await storage.createRun({ id, workflow: "w", version: "v", args: "[]" });
  const start = performance.now();
  const claimed = await storage.claimRunnable({
    owner: "fresh",
    leaseMs: 30_000,
    limit: 100,
    workflows: ["w"],
    wakeBefore: Date.now(),
    wakeBeforeInMs: 0,
  });
  const micros = (performance.now() - start) * 1000;
  if (claimed.length !== fresh) throw new Error(`claimed ${claimed.length} runs, not ${fresh}`);
  for (const run of claimed) {
    await storage.commit({
      runId: run.id,
      expectedSeq: run.seq,
      owner: "fresh",
      status: "completed",
      result: "1",
    });
  }
  return micros;
}

async function compare(name: string, loaded: Store, empty: Store): Promise<Comparison> {
  await loaded.load();
  // Warm-up round, discarded.
  await sample(loaded, "warm-l");
  await sample(empty, "warm-e");
  const subjectMicros: number[] = [];
  const baselineMicros: number[] = [];
  for (round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      subjectMicros.push(await sample(loaded, "l"));
      baselineMicros.push(await sample(empty, "e"));
    } else {
      baselineMicros.push(await sample(empty, "e"));
      subjectMicros.push(await sample(loaded, "l"));
    }
  }
  return {
    name,
    subject: `claim of ${fresh} new runs beside ${busy} leased and ${parked} parked runs`,
    baseline: `claim of ${fresh} new runs on an otherwise empty store`,
    subjectMicros,
    baselineMicros,
  };
}

export async function runClaims(): Promise<void> {
  const loadBefore = os.loadavg();
  const comparisons: Comparison[] = [];
  const versions: Record<string, string> = { sqlite: sqliteVersion() };

  const dir = await mkdtemp(path.join(os.tmpdir(), "ratchet-bench-claims-"));
  const sqliteStore = async (file: string, loaded: boolean): Promise<Store> => {
    const storage = sqlite({ path: path.join(dir, file), synchronous: "normal" });
    await storage.init();
    return {
      storage,
      load: async () => {
        if (!loaded) return;
        const db = new Database(path.join(dir, file));
        const now = Date.now();
        const insert = db.prepare(
          `INSERT INTO ratchet_runs (id, workflow, version, status, seq, args, lease_owner, lease_expires_at, created_at, updated_at)
           VALUES (?, 'w', 'v', ?, 1, '[]', ?, ?, ?, ?)`,
        );
        db.transaction(() => {
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
        db.exec("ANALYZE");
        db.close();
      },
      close: () => storage.close(),
    };
  };
  try {
    comparisons.push(
      await compare(
        "sqlite",
        await sqliteStore("loaded.db", true),
        await sqliteStore("empty.db", false),
      ),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const db = await openTestDatabase();
  if (db.kind === "server") {
    versions.postgres = await postgresVersion(db.url!);
    const postgresStore = async (loaded: boolean): Promise<Store> => {
      const schema = db.freshSchema();
      const storage = postgres({ pool: db.pool(), schema });
      await storage.init();
      const runs = `"${schema}".runs`;
      return {
        storage,
        load: async () => {
          if (!loaded) return;
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
          await db.query(`ANALYZE ${runs}`);
        },
        close: () => storage.close(),
      };
    };
    const loaded = await postgresStore(true);
    const empty = await postgresStore(false);
    try {
      comparisons.push(await compare("postgres", loaded, empty));
    } finally {
      await loaded.close();
      await empty.close();
      await db.end();
    }
  } else {
    await db.end();
    console.log("(no PostgreSQL server: the postgres row is skipped)");
  }

  const loadAfter = os.loadavg();
  printRows(
    `Claims beside ${busy} leased and ${parked} parked runs (median of ${rounds} rounds; load ${loadBefore.map((l) => l.toFixed(1)).join(" ")} → ${loadAfter.map((l) => l.toFixed(1)).join(" ")})`,
    ["store", "loaded", "empty", "loaded ÷ empty"],
    comparisons.map((c) => {
      const s = summarize(c);
      return [
        c.name,
        formatMicros(median(c.subjectMicros)),
        formatMicros(median(c.baselineMicros)),
        formatRatio(s.ratioMedian),
      ];
    }),
    [0],
  );
  const file = await writeResults("claims", {
    description:
      "One claimRunnable of 20 new runs (limit 100, with due sleepers) on a store that also holds 10,000 runs leased by live workers and 10,000 parked runs, all older, against the same claim on an otherwise empty store; microseconds per claim.",
    settings: { busy, parked, fresh, rounds },
    machine: machineInfo(versions),
    comparisons,
    extra: { loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
  });
  console.log(`results: ${file}`);
}
