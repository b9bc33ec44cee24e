import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, createTestClock, type Engine } from "ratchetjs";
import type { StorageAdapter } from "ratchetjs/adapters";
import { memory } from "ratchetjs/adapters/memory";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { v1 } from "./fixtures/same-shape.js";
import { v2 } from "./fixtures/same-shape-v2.js";
import { eventually } from "./support/eventually.js";
import { openTestDatabase } from "./support/postgres.js";

/**
 * Same-shaped workflows share a version hash; a run must still resume only on its own
 * workflow's code: after a restart mid-sleep, and after a deploy that changed some of them.
 * Each adapter is restarted for real where it can be: a new adapter on the same SQLite file
 * or Postgres schema; the memory adapter's store object is handed to the next engine.
 */
const dir = mkdtempSync(join(tmpdir(), "ratchet-same-shape-"));
const db = await openTestDatabase();
afterEach(() => db.cleanUp());
afterAll(async () => {
  await db.end();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the same store again, as a restarted process would. */
type Store = () => StorageAdapter;
const stores: [string, () => Store][] = [
  [
    "memory",
    () => {
      const shared = memory();
      // The engine closes its adapter; the memory store must outlive that, like a file does.
      return () => ({ ...bind(shared), close: async () => {} });
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

/** The adapter's methods bound to it, so a copy with one method replaced still works. */
function bind(adapter: StorageAdapter): StorageAdapter {
  const methods: Record<string, unknown> = { name: adapter.name };
  for (const key of Object.getOwnPropertyNames(Object.getPrototypeOf(adapter))) {
    const value = (adapter as unknown as Record<string, unknown>)[key];
    if (key !== "constructor" && typeof value === "function") methods[key] = value.bind(adapter);
  }
  return methods as unknown as StorageAdapter;
}

const names = ["A", "B", "C", "D", "E", "F"];

describe.each(stores)("same-shaped workflows on %s", (_name, makeStore) => {
  let engines: Engine[] = [];
  afterEach(async () => {
    await Promise.all(engines.map((e) => e.close().catch(() => {})));
    engines = [];
  });

  /** Six runs, one per workflow, each left sleeping; the engine that started them closed. */
  async function sleepingRuns(open: Store, clock: ReturnType<typeof createTestClock>) {
    const first = createEngine({
      storage: open(),
      workflows: v1,
      clock,
      worker: { pollIntervalMs: 20 },
    });
    engines.push(first);
    const ids: string[] = [];
    for (const [i, wf] of v1.entries()) {
      ids.push((await first.start(wf, [`who${names[i]}`])).id);
    }
    for (const id of ids) {
      await eventually(
        async () => (await first.get(id)).status(),
        (s) => s === "sleeping",
      );
    }
    expect(new Set(v1.map((wf) => wf.compiled!.manifest.version)).size).toBe(1);
    await first.close();
    return ids;
  }

  it("resumes every run on its own workflow after a restart", async () => {
    const open = makeStore();
    const clock = createTestClock();
    const ids = await sleepingRuns(open, clock);
    clock.advance("2h");
    const restarted = createEngine({
      storage: open(),
      workflows: v1,
      clock,
      worker: { pollIntervalMs: 20 },
    });
    engines.push(restarted);
    const results = await Promise.all(ids.map(async (id) => (await restarted.get(id)).result()));
    expect(results).toStrictEqual(names.map((n) => `${n} v1 who${n}`));
  });

  it("after a deploy that changed some, resumes each run on its own workflow's new code", async () => {
    const open = makeStore();
    const clock = createTestClock();
    const ids = await sleepingRuns(open, clock);
    clock.advance("2h");
    const deployed = createEngine({
      storage: open(),
      workflows: v2,
      clock,
      worker: { pollIntervalMs: 20 },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    engines.push(deployed);
    const results = await Promise.all(
      ids.slice(0, 5).map(async (id) => (await deployed.get(id)).result()),
    );
    expect(results).toStrictEqual([
      "A v1 whoA",
      "B V2 WHOB",
      "C v1 whoC",
      "D V2 WHOD",
      "E v1 whoE",
    ]);
    // F's sleep is gone from the new code: its run waits, parked, for a build that has it.
    const f = await deployed.get(ids[5]!);
    expect(
      await eventually(
        () => f.status(),
        (s) => s === "parked",
      ),
    ).toBe("parked");
    expect(await f.parkedReason()).toMatch(/sleep/);
  });
});
