import { type ChildProcess, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { compileWorker } from "./support/compile-worker.js";
import { spawnJsonWorker } from "./support/json-worker.js";
import { openTestDatabase } from "./support/postgres.js";

/**
 * Scale-out on PostgreSQL: three worker processes share one schema and execute 1,000 runs
 * while workers are killed with SIGKILL at random (a random worker among those up, replaced
 * at once by a new process, at each of eight random points of the progress between 5% and
 * 90% of the runs completed, at least 5% apart), until every run has ended. Once, at a
 * random point, a worker is frozen with SIGSTOP for a second longer than its lease and then
 * thawed: the others take its runs over, and its late commits must fail their
 * compare-and-set (`lease-lost`), so no run is advanced by two workers.
 *
 * Every run must complete exactly once with the right result; steps may run twice only
 * where a dead or frozen process was inside them (or where another worker stalled past its
 * lease and lost a compare-and-set, which it reports). Failed compare-and-sets are counted
 * and printed. Throughput for 1, 2 and 4 workers is measured by the benchmark
 * (bench/scale-out.ts), not here. Needs a real server: PGlite lives inside one process.
 */
const db = await openTestDatabase();
const worker = compileWorker(new URL("./support/scale-out-worker.ts", import.meta.url));
afterAll(async () => {
  await db.end();
  worker.remove();
});

const root = fileURLToPath(new URL("..", import.meta.url));
const runs = 1000;
const workers = 3;
const kills = 8;
/** The workers' lease (test/support/scale-out-worker.ts). */
const leaseMs = 1500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Worker {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly ready: Promise<void>;
  /** Set once it has printed `ready` (its engine is up and executing). */
  up: boolean;
  /** Set while it is stopped with SIGSTOP. */
  frozen: boolean;
}

describe.skipIf(db.kind !== "server")(
  `scale-out on ${db.label} (needs a PostgreSQL server; skipped on PGlite)`,
  () => {
    it(`${workers} worker processes finish ${runs} runs exactly once while workers are SIGKILLed at random`, {
      timeout: 180_000,
    }, async () => {
      const schema = db.freshSchema();
      const env = {
        ...process.env,
        DATABASE_URL: db.url,
        RATCHET_SCHEMA: schema,
        RATCHET_EFFECTS: "1",
      };
      await db.query(`CREATE SCHEMA "${schema}"`);
      await db.query(
        `CREATE TABLE "${schema}".effects (run_id text NOT NULL, step text NOT NULL, pid int NOT NULL)`,
      );
      const produce = spawnSync(process.execPath, [worker.path, "produce", String(runs)], {
        cwd: root,
        env,
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(produce.status, produce.stderr).toBe(0);

      const failures: { failed: string; run: string; pid: number }[] = [];
      const summaries: Record<string, number>[] = [];
      const start = (): Worker => {
        const { child, ready, exited } = spawnJsonWorker(
          worker.path,
          ["work"],
          { cwd: root, env, stderr: "inherit" },
          (message) => {
            if ("failed" in message) failures.push(message as (typeof failures)[number]);
            else summaries.push(message as Record<string, number>);
          },
        );
        const started: Worker = {
          child,
          pid: child.pid!,
          exited,
          ready,
          up: false,
          frozen: false,
        };
        void ready.then(() => {
          started.up = true;
        });
        return started;
      };

      const count = async (where: string) =>
        Number(
          (
            await db.query<{ n: string }>(
              `SELECT count(*) AS n FROM "${schema}".runs WHERE ${where}`,
            )
          )[0].n,
        );
      const live = Array.from({ length: workers }, start);
      await Promise.all(live.map((w) => w.ready));
      const started = performance.now();
      const killed: { pid: number; leases: number; at: number }[] = [];
      // Kill points: completed-run counts, random but at least 5% of the runs apart, so that
      // every one is reached at a poll of its own however fast the machine is.
      const killAt: number[] = [];
      const slack = 0.85 - 0.05 * kills;
      const cuts = Array.from({ length: kills }, () => Math.random() * slack).sort((a, b) => a - b);
      for (const [k, cut] of cuts.entries())
        killAt.push(Math.floor(runs * (0.05 + cut + 0.05 * k)));
      // Once, a worker is frozen (SIGSTOP) for longer than its lease, so that the others take
      // its runs over, and then thawed: its commits must then fail their compare-and-set.
      const freezeAt = Math.floor(runs * (0.15 + Math.random() * 0.2));
      let frozen: { pid: number; leases: number; at: number; thawed: Promise<void> } | undefined;
      for (let i = 0; i < 6000; i++) {
        const done = await count("status = 'completed'");
        if (done >= runs) break;
        if (frozen === undefined && done >= freezeAt) {
          const up = live.filter((w) => w.up);
          const ice = up[Math.floor(Math.random() * up.length)] ?? live[0];
          const leases = await count(
            `status = 'running' AND lease_owner IS NOT NULL AND id IN (SELECT run_id FROM "${schema}".effects WHERE pid = ${ice.pid})`,
          );
          ice.child.kill("SIGSTOP");
          ice.frozen = true;
          frozen = {
            pid: ice.pid,
            leases,
            at: performance.now() - started,
            thawed: sleep(leaseMs + 1000).then(() => {
              ice.child.kill("SIGCONT");
              ice.frozen = false;
            }),
          };
        }
        if (killed.length < kills && done >= killAt[killed.length]) {
          // A random worker among those up and not frozen (a replacement still starting holds
          // nothing; the frozen one must come back).
          const up = live.flatMap((w, i) => (w.up && !w.frozen ? [i] : []));
          const candidates = up.length > 0 ? up : live.map((_, i) => i);
          const index = candidates[Math.floor(Math.random() * candidates.length)];
          const victim = live[index];
          const leases = await count(
            `status = 'running' AND lease_owner IS NOT NULL AND id IN (SELECT run_id FROM "${schema}".effects WHERE pid = ${victim.pid})`,
          );
          victim.child.kill("SIGKILL");
          killed.push({ pid: victim.pid, leases, at: performance.now() - started });
          live[index] = start();
        }
        await sleep(20);
      }
      const finished = performance.now();
      // The frozen worker runs again and finds its leases gone before it is stopped.
      await frozen?.thawed;
      await sleep(500);
      // A replacement started late may not listen for SIGTERM yet: wait until it is up.
      await Promise.all(live.map((w) => w.ready));
      for (const w of live) w.child.kill("SIGTERM");
      const exits = await Promise.all(live.map((w) => w.exited));
      expect(exits.map((e) => e.code)).toEqual(live.map(() => 0));

      const rows = await db.query<{ id: string; status: string; seq: string; result: string }>(
        `SELECT id, status, seq, result FROM "${schema}".runs ORDER BY id`,
      );
      expect(rows).toHaveLength(runs);
      for (const row of rows) {
        const n = Number(row.id.slice("run-".length));
        expect(row.status, row.id).toBe("completed");
        // Three checkpoints and the end, each committed once, whoever executed them.
        expect(Number(row.seq), row.id).toBe(4);
        // devalue's format: the result object is the first entry, its fields follow.
        expect(row.result).toContain(`"n=${n}"`);
        expect(row.result).toContain(String(n * n + n));
      }
      const executions = await db.query<{
        run_id: string;
        step: string;
        times: string;
        pids: number[];
      }>(
        `SELECT run_id, step, count(*) AS times, array_agg(pid) AS pids FROM "${schema}".effects
           GROUP BY run_id, step`,
      );
      expect(executions).toHaveLength(runs * 2);
      const repeated = executions.filter((e) => Number(e.times) > 1);
      const killedPids = new Set(killed.map((k) => k.pid));
      // A step runs twice only when a dead process ran it and died before its checkpoint
      // committed, or when the frozen worker ran it — or when some other worker stalled past
      // its lease on a loaded machine, in which case it lost a compare-and-set and said so.
      const stalled = failures.filter((f) => f.pid !== frozen?.pid);
      for (const e of repeated) {
        if (stalled.length === 0) {
          expect(
            e.pids.some((pid) => killedPids.has(pid) || pid === frozen?.pid),
            e.run_id,
          ).toBe(true);
        }
      }
      const takenOver = await db.query<{ n: string }>(
        `SELECT count(DISTINCT e1.run_id) AS n FROM "${schema}".effects e1
           WHERE e1.pid = ANY($1) AND EXISTS (
             SELECT 1 FROM "${schema}".effects e2 WHERE e2.run_id = e1.run_id AND e2.pid <> e1.pid)`,
        [[...killedPids]],
      );
      const byReason = (reason: string) => failures.filter((f) => f.failed === reason).length;
      console.log(
        `[scale-out] ${runs} runs on ${workers} live processes in ${((finished - started) / 1000).toFixed(1)} s ` +
          `(${(runs / ((finished - started) / 1000)).toFixed(0)} runs/s with the kills); ` +
          `${killed.length} SIGKILLs at ${killed.map((k) => `${(k.at / 1000).toFixed(1)} s (${k.leases} leases)`).join(", ")}; ` +
          `${takenOver[0].n} runs taken over from killed workers, ${repeated.length} steps ran twice; ` +
          `a worker frozen for ${(leaseMs + 1000) / 1000} s at ${((frozen?.at ?? 0) / 1000).toFixed(1)} s holding ${frozen?.leases} leases; ` +
          `failed compare-and-sets: ${failures.length}, ${failures.length - stalled.length} of them by the frozen worker ` +
          `(conflict ${byReason("conflict")}, lease-lost ${byReason("lease-lost")}, not-found ${byReason("not-found")}); ` +
          `surviving workers' commits: ${summaries.reduce((sum, s) => sum + s.commits, 0)}`,
      );
      // Eight, unless the last runs finished faster than one kill per poll.
      expect(killed.length).toBeGreaterThanOrEqual(5);
      // The frozen worker's runs were taken over. Thawed, it either notices the lost lease
      // itself (a refused renewal) and commits nothing more, or its late commits are refused;
      // the checks above (every run completed once, seq 4) show none of them got through.
      expect(frozen).toBeDefined();
      expect(summaries).toHaveLength(workers);
    });
  },
);
