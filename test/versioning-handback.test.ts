import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createEngine,
  createTestClock,
  type Engine,
  type FunctionContext,
  fn,
  registerClass,
  type TestClock,
  workflow,
} from "ratchetjs";
import type { StorageAdapter } from "ratchetjs/adapters";
import { memory } from "ratchetjs/adapters/memory";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { transform, type WorkflowManifest } from "ratchetjs/compiler";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { forecast } from "../cli/check-db.js";
import * as build1 from "./fixtures/handback-v1.js";
import * as build2 from "./fixtures/handback-v2.js";
import { eventually, type Logged, recordingLogger } from "./support/eventually.js";
import { openTestDatabase } from "./support/postgres.js";

/**
 * Parked runs are a clean state (no lease, never on the normal claim path) and come back
 * without a restart: a run parked by a process with older code is taken by a running
 * process whose code fits it; a run parked for a class is taken once the process registers
 * it; a parameter missing from a stored frame comes from the run's arguments when the code
 * never assigns it.
 */
const dir = mkdtempSync(join(tmpdir(), "ratchet-handback-"));
const db = await openTestDatabase();
afterEach(() => db.cleanUp());
afterAll(async () => {
  await db.end();
  rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => () => StorageAdapter][] = [
  [
    "memory",
    () => {
      const shared = memory();
      // One store for every engine of the test, as a database file is.
      let opened = false;
      return () =>
        new Proxy(shared, {
          get: (target, key) => {
            if (key === "close") return async () => {};
            if (key === "init") {
              return async () => {
                if (!opened) await target.init();
                opened = true;
              };
            }
            const value = Reflect.get(target, key);
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
    },
  ],
  [
    "sqlite",
    () => {
      const path = join(dir, `${Math.random().toString(36).slice(2)}.db`);
      return () => sqlite({ path });
    },
  ],
  [
    `postgres (${db.label})`,
    () => {
      const schema = db.freshSchema();
      return () => postgres({ pool: db.pool(), schema });
    },
  ],
];

/** The manifests of a build, as `ratchet check` compiles them from its source. */
function manifests(fixture: string): WorkflowManifest[] {
  const path = fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url));
  const out = transform(readFileSync(path, "utf8"), { filename: `test/fixtures/${fixture}` });
  expect(out.diagnostics).toEqual([]);
  return out.workflows;
}

let classes = 0;

describe.each(stores)("parked runs on %s", (_name, makeStore) => {
  const engines: Engine[] = [];
  const opened: StorageAdapter[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close().catch(() => {})));
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => {})));
  });
  /** A store of the test's own, opened to read what the engines left. */
  const inspect = async (open: () => StorageAdapter) => {
    const storage = open();
    opened.push(storage);
    await storage.init();
    return storage;
  };
  const engineOn = (
    open: () => StorageAdapter,
    workflows: readonly (typeof build1.v1)[number][] | readonly unknown[],
    clock: TestClock,
    logged: Logged[] = [],
  ) => {
    const engine = createEngine({
      storage: open(),
      workflows: workflows as typeof build1.v1,
      clock,
      worker: { pollIntervalMs: 20, parkedCheckIntervalMs: 300 },
      logger: recordingLogger(logged),
    });
    engines.push(engine);
    return engine;
  };

  it("a run parked by a process with older code is taken by a running process whose code fits", async () => {
    const open = makeStore();
    // Each process its own clock, so which one finds the sleep over is the test's choice.
    const oldClock = createTestClock();
    const newClock = createTestClock();
    const oldLog: Logged[] = [];
    const newLog: Logged[] = [];
    // A rolling deploy: build 2 and build 1 run side by side on one store.
    const updated = engineOn(open, build2.v2, newClock, newLog);
    engineOn(open, build1.v1, oldClock, oldLog);
    const run = await updated.start(build2.ship, []);
    await eventually(
      () => run.status(),
      (s) => s === "sleeping",
    );
    // The sleep is over for the old process only: it claims the run, stored at a checkpoint
    // its code does not have, and parks it.
    const storage = await inspect(open);
    oldClock.advance("2h");
    await eventually(
      async () => oldLog.filter((l) => l.level === "warn").length,
      (n) => n > 0,
    );
    expect(oldLog.find((l) => l.level === "warn")!.fields).toMatchObject({
      runId: run.id,
      checkpoint: "sleep:rest",
    });
    // The process that fits it, running all along, takes it at its next look at parked
    // runs and finishes it on its code; no restart, no retry.
    expect(await run.result()).toBe("shipped by build 2");
    expect(
      newLog.some(
        (l) => l.level === "info" && /parked run\(s\) of workflow "ship"/.test(l.message),
      ),
    ).toBe(true);
    // Exactly once: parked once, taken once, completed once.
    expect(oldLog.filter((l) => l.level === "warn")).toHaveLength(1);
    expect(await storage.loadRun(run.id)).toMatchObject({
      status: "completed",
      leaseOwner: null,
    });
  });

  it("a parked run holds no lease and is not on the claim path of code that cannot resume it", async () => {
    const open = makeStore();
    const clock = createTestClock();
    const updated = engineOn(open, build2.v2, createTestClock());
    const run = await updated.start(build2.ship, []);
    await eventually(
      () => run.status(),
      (s) => s === "sleeping",
    );
    await updated.close();
    const old = engineOn(open, build1.v1, clock);
    const storage = await inspect(open);
    clock.advance("2h");
    const parked = await eventually(
      async () => (await storage.loadRun(run.id))!,
      (r) => r.status === "parked",
    );
    expect({ owner: parked.leaseOwner, expires: parked.leaseExpiresAt }).toStrictEqual({
      owner: null,
      expires: null,
    });
    // The old code's worker keeps polling and never claims it again.
    const seq = parked.seq;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const later = (await storage.loadRun(run.id))!;
    expect({ status: later.status, seq: later.seq, owner: later.leaseOwner }).toStrictEqual({
      status: "parked",
      seq,
      owner: null,
    });
    expect(await old.list({ status: "parked" })).toHaveLength(1);
  });

  it("a run parked for a class this process lacks resumes once the process registers it", async () => {
    const open = makeStore();
    const clock = createTestClock();
    const n = ++classes;
    class Coin {
      constructor(readonly cents: number) {}
    }
    registerClass(Coin, {
      name: `HandbackCoin${n}`,
      serialize: (c) => c.cents,
      deserialize: (cents) => new Coin(cents as number),
    });
    const mint = fn(async (_ctx: FunctionContext, cents: number) => new Coin(cents), {
      retries: 0,
    });
    const purse = workflow({ name: "purse" }, async (ctx, cents: number) => {
      const coin = await ctx.step(mint, cents);
      await ctx.sleep("1h", { name: "nap" });
      return coin.cents;
    });
    const first = engineOn(open, [purse], clock);
    const run = await first.start(purse, [250]);
    await eventually(
      () => run.status(),
      (s) => s === "sleeping",
    );
    await first.close();
    // As a process registering a class this one does not have would store the frame.
    const storage = await inspect(open);
    const stored = (await storage.loadRun(run.id))!;
    const renamed = stored.frame!.replaceAll(`HandbackCoin${n}`, `HandbackGem${n}`);
    expect(renamed).not.toBe(stored.frame);
    const [claimed] = await storage.claimRunnable({ owner: "other", leaseMs: 60_000, limit: 1 });
    expect(claimed?.id).toBeUndefined();
    const taken = await storage.claimRunnable({
      owner: "other",
      leaseMs: 60_000,
      limit: 1,
      wakeBefore: clock.now() + 7_200_000,
    });
    expect(taken.map((r) => r.id)).toEqual([run.id]);
    const committed = await storage.commit({
      runId: run.id,
      expectedSeq: stored.seq,
      owner: "other",
      status: "sleeping",
      frame: renamed,
      wakeAt: stored.wakeAt ?? null,
    });
    expect(committed.ok).toBe(true);

    const logged: Logged[] = [];
    const engine = engineOn(open, [purse], clock, logged);
    clock.advance("2h");
    const parked = await eventually(
      async () => (await storage.loadRun(run.id))!,
      (r) => r.status === "parked",
    );
    expect({ owner: parked.leaseOwner, expires: parked.leaseExpiresAt }).toStrictEqual({
      owner: null,
      expires: null,
    });
    expect(await (await engine.get(run.id)).parkedReason()).toContain(`HandbackGem${n}`);
    // The same process registers the class: its worker, still running, resumes the run.
    class Gem {
      constructor(readonly cents: number) {}
    }
    registerClass(Gem, {
      name: `HandbackGem${n}`,
      serialize: (c) => c.cents,
      deserialize: (cents) => new Gem(cents as number),
    });
    expect(await (await engine.get(run.id)).result()).toBe(250);
  });

  it("takes a parameter missing from the frame from the arguments only where the code never assigns it", async () => {
    const open = makeStore();
    const clock = createTestClock();
    const first = engineOn(open, build1.v1, clock);
    const letter = await first.start(build1.letter, ["ada", 3, { loud: true }, "urgent"]);
    const memo = await first.start(build1.memo, ["  note  "]);
    for (const run of [letter, memo]) {
      await eventually(
        () => run.status(),
        (s) => s === "sleeping",
      );
    }
    await first.close();

    // What `ratchet check --db` forecasts for build 2 is what it then does.
    const rows = await forecast(await inspect(open), manifests("handback-v2.ts"));
    expect(
      rows.map((r) => `${r.workflow} ${r.checkpoint}: ${r.resume}/${r.migrate}/${r.park}`),
    ).toStrictEqual(["letter sleep:nap: 0/1/0", "memo sleep:nap: 0/0/1"]);
    expect(rows.find((r) => r.workflow === "memo")!.reason).toContain("needs variable text");

    const second = engineOn(open, build2.v2, clock);
    clock.advance("2h");
    // `to`, `times` and `tag` from the arguments; `style`, an object, from the migration.
    expect(await (await second.get(letter.id)).result()).toBe("ada x3 loud urgent");
    // `memo` trims `text` before the sleep: the argument is not its value there.
    const memoRun = await second.get(memo.id);
    await eventually(
      () => memoRun.status(),
      (s) => s === "parked",
    );
    expect(await memoRun.parkedReason()).toContain("test/fixtures/handback-v2.ts:");
    expect(await memoRun.parkedReason()).toContain("needs variable text");
  });
});
