import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openTestDatabase } from "./support/postgres.js";

/**
 * Scale-out on PostgreSQL: several worker processes share one schema and execute 200 runs
 * while one of them is killed with SIGKILL mid-way. Every run must complete exactly once
 * with the right result; steps may run twice only where the dead process was inside them.
 * Needs a real server: PGlite lives inside one process.
 */
const db = await openTestDatabase();
afterAll(() => db.end());

const root = fileURLToPath(new URL("..", import.meta.url));
const script = fileURLToPath(new URL("./support/scale-out-worker.ts", import.meta.url));
const runs = 200;
const workers = 3;

function start(schema: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "ratchet/register", script, ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: db.url, RATCHET_SCHEMA: schema },
    stdio: ["ignore", "pipe", "inherit"],
  });
}

/** Resolves with each JSON line the process prints, as they come. */
function lines(child: ChildProcess, onLine: (line: Record<string, unknown>) => void): void {
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (line.startsWith("{")) onLine(JSON.parse(line));
    }
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(db.kind !== "server")(
  `scale-out on ${db.label} (needs a PostgreSQL server; skipped on PGlite)`,
  () => {
    it(`${workers} worker processes finish ${runs} runs exactly once while one is SIGKILLed`, async () => {
      const schema = db.freshSchema();
      await db.query(`CREATE SCHEMA "${schema}"`);
      await db.query(
        `CREATE TABLE "${schema}".effects (run_id text NOT NULL, step text NOT NULL, pid int NOT NULL)`,
      );
      const produce = spawnSync(
        process.execPath,
        ["--import", "ratchet/register", script, "produce", String(runs)],
        {
          cwd: root,
          env: { ...process.env, DATABASE_URL: db.url, RATCHET_SCHEMA: schema },
          encoding: "utf8",
          timeout: 60_000,
        },
      );
      expect(produce.status, produce.stderr).toBe(0);

      const stats: Record<string, number>[] = [];
      const children = Array.from({ length: workers }, () => start(schema, ["work"]));
      const exits = children.map(
        (child) =>
          new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code))),
      );
      const ready = children.map(
        (child) =>
          new Promise<void>((resolve) =>
            lines(child, (line) => {
              if ("ready" in line) resolve();
              else stats.push(line as Record<string, number>);
            }),
          ),
      );
      await Promise.all(ready);
      const started = performance.now();

      const count = async (where: string) =>
        Number(
          (
            await db.query<{ n: string }>(
              `SELECT count(*) AS n FROM "${schema}".runs WHERE ${where}`,
            )
          )[0].n,
        );
      const [victim, ...survivors] = children;
      let killedAt = 0;
      let victimLeases = 0;
      for (let i = 0; i < 3000 && (await count("status = 'completed'")) < runs; i++) {
        if (killedAt === 0 && (await count("status = 'completed'")) >= runs / 4) {
          victimLeases = Number(
            (
              await db.query<{ n: string }>(
                `SELECT count(DISTINCT r.id) AS n FROM "${schema}".runs r
                 JOIN "${schema}".effects e ON e.run_id = r.id AND e.pid = $1
                 WHERE r.status = 'running' AND r.lease_owner IS NOT NULL`,
                [victim.pid],
              )
            )[0].n,
          );
          victim.kill("SIGKILL");
          killedAt = performance.now();
        }
        await sleep(20);
      }
      const finished = performance.now();
      for (const child of survivors) child.kill("SIGTERM");
      const codes = await Promise.all(exits);
      expect(codes.slice(1)).toEqual(survivors.map(() => 0));

      const rows = await db.query<{ id: string; status: string; seq: string; result: string }>(
        `SELECT id, status, seq, result FROM "${schema}".runs ORDER BY id`,
      );
      expect(rows).toHaveLength(runs);
      for (const row of rows) {
        const n = Number(row.id.slice("run-".length));
        expect(row.status).toBe("completed");
        // Three checkpoints and the end, each committed once, whoever executed them.
        expect(Number(row.seq)).toBe(4);
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
      const survivorsStats = stats.filter((s) => s.pid !== victim.pid);
      const conflicts = survivorsStats.reduce((sum, s) => sum + s.conflict + s["lease-lost"], 0);
      for (const e of repeated) {
        expect(Number(e.times)).toBe(2);
        // Unless a survivor stalled past its lease (then it lost a compare-and-set, and
        // counted it), a step runs twice only when the dead process ran it and died before
        // its checkpoint committed.
        if (conflicts === 0) expect(e.pids).toContain(victim.pid);
      }
      const takenOver = await db.query<{ n: string }>(
        `SELECT count(DISTINCT run_id) AS n FROM "${schema}".effects e1
         WHERE e1.pid = $1 AND EXISTS (
           SELECT 1 FROM "${schema}".effects e2 WHERE e2.run_id = e1.run_id AND e2.pid <> $1)`,
        [victim.pid],
      );
      console.log(
        `[scale-out] ${runs} runs on ${workers} processes, once all were up, in ${((finished - started) / 1000).toFixed(1)} s ` +
          `(SIGKILL after ${((killedAt - started) / 1000).toFixed(1)} s, the victim holding ${victimLeases} leases); ` +
          `${takenOver[0].n} runs taken over from it, ${repeated.length} steps ran twice; ` +
          `survivors committed ${survivorsStats.reduce((sum, s) => sum + s.commits, 0)} times, ` +
          `failed compare-and-set ${conflicts} times (${JSON.stringify(survivorsStats)})`,
      );
      expect(killedAt).toBeGreaterThan(0);
      expect(survivorsStats).toHaveLength(survivors.length);
    });
  },
);
