import { type ChildProcess, execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { compileWorker } from "./support/compile-worker.js";
import { spawnJsonWorker } from "./support/json-worker.js";
import { openTestDatabase } from "./support/postgres.js";

/**
 * The server under running workers: three worker processes (test/support/scale-out-worker.ts)
 * execute 600 runs (two 300 ms steps each) while the test kills their connections (`pg_terminate_backend`, three
 * times) and then restarts PostgreSQL itself. No worker may exit; every run must complete
 * exactly once (each checkpoint committed once) with the right result; the workers reconnect
 * by themselves. Needs a real local server the test may restart (`pg_ctlcluster`); the
 * downtime is kept to the restart itself, and the server is always started again.
 */
const db = await openTestDatabase();
const cluster = spawnSync("pg_lsclusters", ["--no-header"], { encoding: "utf8" });
const canRestart =
  db.kind === "server" && cluster.status === 0 && /^15\s+main\s/m.test(cluster.stdout);
const worker = compileWorker(new URL("./support/scale-out-worker.ts", import.meta.url));
afterAll(async () => {
  await db.end().catch(() => {});
  worker.remove();
});

const root = fileURLToPath(new URL("..", import.meta.url));
const runs = 600;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

function pgctl(action: "start" | "stop"): void {
  execFileSync(
    "pg_ctlcluster",
    [
      "--skip-systemctl-redirect",
      "15",
      "main",
      action,
      ...(action === "stop" ? ["-m", "fast"] : []),
    ],
    { stdio: "ignore", timeout: 60_000 },
  );
}

describe.skipIf(!canRestart)(
  `storage faults on ${db.label} (needs a local PostgreSQL 15 server it may restart)`,
  () => {
    it("workers survive killed connections and a server restart; every run completes once", {
      timeout: 240_000,
    }, async () => {
      const schema = db.freshSchema();
      const tag = `ratchet_faults_${process.pid}`;
      const url = new URL(db.url!);
      url.searchParams.set("application_name", tag);
      const env = {
        ...process.env,
        DATABASE_URL: url.toString(),
        RATCHET_SCHEMA: schema,
        RATCHET_EFFECTS: "1",
        RATCHET_STEP_MS: "300",
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

      const refused: string[] = [];
      const start = (): Worker => {
        // The workers' logs (retries, lost leases) are expected here; keep them out of the way.
        const { child, ready, exited } = spawnJsonWorker(
          worker.path,
          ["work"],
          { cwd: root, env, stderr: "ignore", showLogs: Boolean(process.env.RATCHET_FAULTS_LOG) },
          (message) => {
            if ("failed" in message) refused.push(JSON.stringify(message));
          },
        );
        const w: Worker = {
          child,
          ready,
          exit: undefined,
          exited: exited.then((exit) => {
            w.exit = exit;
            return exit;
          }),
        };
        return w;
      };
      const workers = Array.from({ length: 3 }, start);
      await Promise.all(workers.map((w) => w.ready));

      const completed = async () => {
        for (;;) {
          try {
            const rows = await db.query<{ n: string }>(
              `SELECT count(*) AS n FROM "${schema}".runs WHERE status = 'completed'`,
            );
            return Number(rows[0]!.n);
          } catch {
            // The server is restarting; the test's own pool reconnects too.
            await sleep(100);
          }
        }
      };
      const until = async (count: number) => {
        const deadline = performance.now() + 120_000;
        while ((await completed()) < count) {
          if (performance.now() > deadline) throw new Error(`fewer than ${count} runs completed`);
          await sleep(25);
        }
      };

      // Kill every connection the workers hold, three times, as an operator or a failover would.
      let terminated = 0;
      for (const at of [0.1, 0.2, 0.3]) {
        await until(Math.floor(runs * at));
        const rows = await db.query<{ ok: boolean }>(
          "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1",
          [tag],
        );
        terminated += rows.filter((r) => r.ok).length;
      }
      // Then restart the server under them.
      await until(Math.floor(runs * 0.45));
      const before = await completed();
      try {
        pgctl("stop");
      } finally {
        pgctl("start");
      }
      await until(runs);
      await sleep(300);

      // No worker exited on its own; each stops cleanly when asked.
      expect(workers.map((w) => w.exit)).toEqual([undefined, undefined, undefined]);
      for (const w of workers) w.child.kill("SIGTERM");
      const exits = await Promise.all(workers.map((w) => w.exited));
      expect(exits.map((e) => e.code)).toEqual([0, 0, 0]);

      const rows = await db.query<{ id: string; status: string; seq: string; result: string }>(
        `SELECT id, status, seq, result FROM "${schema}".runs ORDER BY id`,
      );
      expect(rows).toHaveLength(runs);
      for (const row of rows) {
        const n = Number(row.id.slice("run-".length));
        expect(row.status, row.id).toBe("completed");
        // Three checkpoints and the end, each committed once.
        expect(Number(row.seq), row.id).toBe(4);
        expect(row.result).toContain(`"n=${n}"`);
        expect(row.result).toContain(String(n * n + n));
      }
      const repeated = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM (SELECT run_id, step FROM "${schema}".effects
           GROUP BY run_id, step HAVING count(*) > 1) r`,
      );
      console.log(
        `[postgres-faults] ${runs} runs on 3 workers: ${terminated} connections terminated, ` +
          `server restarted with ${before} runs completed; ${repeated[0]!.n} steps ran twice ` +
          `(a step's own effect insert lost its answer, or a lease lapsed in the restart), ${refused.length} commits refused`,
      );
      expect(terminated).toBeGreaterThan(0);
    });
  },
);
