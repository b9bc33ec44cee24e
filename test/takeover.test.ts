import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { compileWorker } from "./support/compile-worker.js";
import { type JsonWorker, spawnJsonWorker } from "./support/json-worker.js";
import { openTestDatabase } from "./support/postgres.js";

/**
 * Timing under faults, with real worker processes (test/support/timing-worker.ts) on the real
 * PostgreSQL server:
 * - a worker killed with SIGKILL: its runs are resumed by another worker within the lease
 *   plus one poll, measured from the kill and from the stored lease expiry;
 * - a worker stopped with SIGTERM (`engine.close()`): its runs are handed over at once, long
 *   before their leases would expire;
 * - workers whose clocks are an hour ahead or behind: sleepers wake neither early nor late,
 *   because Postgres times wakes by the server's clock.
 * The machine is shared and loaded: the bounds have slack, and the measured times are printed.
 */
const db = await openTestDatabase();
const worker = compileWorker(new URL("./support/timing-worker.ts", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const live: JsonWorker[] = [];

afterEach(() => {
  for (const w of live.splice(0)) w.child.kill("SIGKILL");
});
afterAll(async () => {
  await db.end().catch(() => {});
  worker.remove();
});

interface Effect {
  run_id: string;
  step: string;
  pid: number;
  at: string;
}

async function setUp(): Promise<{ schema: string; env: NodeJS.ProcessEnv }> {
  const schema = db.freshSchema();
  await db.query(`CREATE SCHEMA "${schema}"`);
  await db.query(
    `CREATE TABLE "${schema}".effects (run_id text NOT NULL, step text NOT NULL, pid int NOT NULL, at int8 NOT NULL)`,
  );
  return { schema, env: { ...process.env, DATABASE_URL: db.url!, RATCHET_SCHEMA: schema } };
}

function start(env: NodeJS.ProcessEnv, extra: Record<string, string>): JsonWorker {
  const w = spawnJsonWorker(
    worker.path,
    ["work"],
    { cwd: root, env: { ...env, ...extra }, stderr: "ignore", showLogs: !!process.env.RATCHET_LOG },
    () => {},
  );
  live.push(w);
  return w;
}

function produce(
  env: NodeJS.ProcessEnv,
  workflow: string,
  prefix: string,
  n: number,
  args: unknown[],
) {
  const made = spawnSync(
    process.execPath,
    [worker.path, "start", workflow, prefix, String(n), JSON.stringify(args)],
    { cwd: root, env, encoding: "utf8", timeout: 60_000 },
  );
  expect(made.status, made.stderr).toBe(0);
}

async function serverNow(): Promise<number> {
  const [row] = await db.query<{ now: string }>(
    "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8 AS now",
  );
  return Number(row!.now);
}

/** Poll `check` until it is true, or fail after `ms` (generous: the machine is loaded). */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const count = async (schema: string, where: string) =>
  Number(
    (await db.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".runs WHERE ${where}`))[0]!
      .n,
  );

/** Waits until the first worker has run step s3 of every run: each is mid-way when it stops. */
const everyRunUnderWay = (schema: string, runs: number) =>
  until("the first worker to execute every run", 60_000, async () => {
    const rows = await db.query<{ n: string }>(
      `SELECT count(DISTINCT run_id) AS n FROM "${schema}".effects WHERE step = 's3'`,
    );
    return Number(rows[0]!.n) === runs;
  });

describe.skipIf(db.kind !== "server")(`takeover and timers on ${db.label}`, () => {
  it("a SIGKILLed worker's runs resume in another worker within lease + one poll", {
    timeout: 120_000,
  }, async () => {
    const { schema, env } = await setUp();
    const leaseMs = 2000;
    const pollMs = 250;
    const timing = { RATCHET_LEASE_MS: String(leaseMs), RATCHET_POLL_MS: String(pollMs) };
    const runs = 4;
    const first = start(env, timing);
    await first.ready;
    produce(env, "plodder", "k", runs, [60, 100]);
    // Every run under way in the first worker.
    await everyRunUnderWay(schema, runs);
    const second = start(env, timing);
    await second.ready;
    first.child.kill("SIGKILL");
    const killedAt = await serverNow();
    await first.exited;
    // The dead worker can no longer renew: the stored expiries are final.
    const leases = await db.query<{ id: string; expires: string }>(
      `SELECT id, (extract(epoch FROM lease_expires_at) * 1000)::int8 AS expires
       FROM "${schema}".runs ORDER BY id`,
    );
    expect(leases).toHaveLength(runs);
    await until("every run to complete", 90_000, async () => {
      return (await count(schema, "status = 'completed'")) === runs;
    });
    const effects = await db.query<Effect>(`SELECT * FROM "${schema}".effects ORDER BY at`);
    const afterKill: number[] = [];
    const afterExpiry: number[] = [];
    for (const { id, expires } of leases) {
      const resumed = effects.find((e) => e.run_id === id && e.pid === second.child.pid);
      expect(resumed, id).toBeDefined();
      afterKill.push(Number(resumed!.at) - killedAt);
      afterExpiry.push(Number(resumed!.at) - Number(expires));
      // Every step ran, and none twice except at most the one in flight at the kill.
      const steps = effects.filter((e) => e.run_id === id).map((e) => e.step);
      expect(new Set(steps).size).toBe(60);
      expect(steps.length).toBeLessThanOrEqual(61);
    }
    const results = await db.query<{ result: string }>(`SELECT result FROM "${schema}".runs`);
    expect(results.map((r) => r.result)).toStrictEqual(Array(runs).fill("[60]"));
    console.log(
      `[takeover] SIGKILL, lease ${leaseMs} ms, poll ${pollMs} ms: resumed ${afterKill.join(", ")} ms after the kill, ` +
        `${afterExpiry.join(", ")} ms after the lease expired (load ${loadAverage()})`,
    );
    // Within the lease plus one poll (and slack for a loaded machine), never before expiry.
    for (const ms of afterKill) expect(ms).toBeLessThanOrEqual(leaseMs + pollMs + 1500);
    for (const ms of afterExpiry) expect(ms).toBeGreaterThanOrEqual(0);
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  });

  it("a worker stopped with SIGTERM (engine.close()) hands its runs over at once", {
    timeout: 120_000,
  }, async () => {
    const { schema, env } = await setUp();
    // A long lease and poll: a hand-over that waited for either would show.
    const timing = { RATCHET_LEASE_MS: "60000", RATCHET_POLL_MS: "30000" };
    const runs = 4;
    const first = start(env, timing);
    await first.ready;
    produce(env, "plodder", "h", runs, [40, 100]);
    await everyRunUnderWay(schema, runs);
    const second = start(env, timing);
    await second.ready;
    const stoppedAt = await serverNow();
    first.child.kill("SIGTERM");
    expect((await first.exited).code).toBe(0);
    await until("every run to complete", 90_000, async () => {
      return (await count(schema, "status = 'completed'")) === runs;
    });
    const effects = await db.query<Effect>(`SELECT * FROM "${schema}".effects ORDER BY at`);
    const handedOver: number[] = [];
    for (let n = 0; n < runs; n++) {
      const id = `h${n}`;
      const resumed = effects.find((e) => e.run_id === id && e.pid === second.child.pid);
      expect(resumed, id).toBeDefined();
      handedOver.push(Number(resumed!.at) - stoppedAt);
      // A clean stop repeats nothing: the step in flight finished and committed first.
      const steps = effects.filter((e) => e.run_id === id).map((e) => e.step);
      expect(steps).toStrictEqual(Array.from({ length: 40 }, (_, i) => `s${i}`));
    }
    console.log(
      `[takeover] SIGTERM: runs resumed in the other worker ${handedOver.join(", ")} ms after the signal ` +
        `(lease 60 s, poll 30 s; load ${loadAverage()})`,
    );
    // At once: long before a lease (60 s) or a poll (30 s) could have passed.
    for (const ms of handedOver) expect(ms).toBeLessThan(10_000);
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  });

  it("workers an hour ahead or behind wake sleepers neither early nor late", {
    timeout: 180_000,
  }, async () => {
    const { schema, env } = await setUp();
    const hour = 3_600_000;
    const naps = { a: 10_000, b: 20_000 };
    const timing = { RATCHET_LEASE_MS: "5000", RATCHET_POLL_MS: "100" };
    const behind = { ...timing, RATCHET_SKEW_MS: String(-hour) };
    const ahead = { ...timing, RATCHET_SKEW_MS: String(hour) };
    const sleeping = (prefix: string) =>
      count(schema, `id LIKE '${prefix}%' AND status = 'sleeping'`);
    const stop = async (w: JsonWorker) => {
      w.child.kill("SIGTERM");
      expect((await w.exited).code).toBe(0);
    };

    // Sleeps set by a worker an hour behind; a worker an hour ahead is up long before they
    // end (it would claim them at once if it compared with its own clock): not early.
    const slow = start(env, behind);
    await slow.ready;
    produce(env, "napper", "a", 3, [naps.a]);
    await until("the runs to sleep", 60_000, async () => (await sleeping("a")) === 3);
    const fast = start(env, ahead);
    await fast.ready;
    await stop(slow);
    // Sleeps set by the worker an hour ahead, then woken by one an hour behind alone (it
    // would wait two hours if it compared with its own clock): not late.
    produce(env, "napper", "b", 3, [naps.b]);
    await until("the runs to sleep", 60_000, async () => (await sleeping("b")) === 3);
    await until("the first runs to wake", 60_000, async () => {
      return (await count(schema, "id LIKE 'a%' AND status = 'completed'")) === 3;
    });
    await stop(fast);
    const late = start(env, behind);
    await late.ready;
    await until("the other runs to wake", 60_000, async () => {
      return (await count(schema, "status = 'completed'")) === 6;
    });
    await stop(late);

    const rows = await db.query<{ id: string; created: string; woke: string; pid: number }>(
      `SELECT r.id, (extract(epoch FROM r.created_at) * 1000)::int8 AS created, e.at AS woke, e.pid
       FROM "${schema}".runs r JOIN "${schema}".effects e ON e.run_id = r.id ORDER BY r.id`,
    );
    expect(rows.map((r) => r.id)).toStrictEqual(["a0", "a1", "a2", "b0", "b1", "b2"]);
    const slept = rows.map((r) => Number(r.woke) - Number(r.created));
    console.log(
      `[takeover] sleeps of ${naps.a} ms (set an hour behind, woken an hour ahead) and ${naps.b} ms ` +
        `(the reverse): woke ${slept.join(", ")} ms after creation (load ${loadAverage()})`,
    );
    for (const [i, row] of rows.entries()) {
      const nap = row.id.startsWith("a") ? naps.a : naps.b;
      // Never early; late only by a poll and the load (not by an hour).
      expect(slept[i]).toBeGreaterThanOrEqual(nap);
      expect(slept[i]).toBeLessThan(nap + 30_000);
    }
    // The b runs were woken by the worker an hour behind, alone by then.
    expect(rows.filter((r) => r.id.startsWith("b")).map((r) => r.pid)).toStrictEqual(
      Array(3).fill(late.child.pid),
    );
  });
});

function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}
