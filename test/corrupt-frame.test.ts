import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { stringify } from "devalue";
import {
  CorruptFrameError,
  createEngine,
  createTestClock,
  type FunctionContext,
  fn,
  type RunHandle,
  type StorageAdapter,
  type TestClock,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { openTestDatabase } from "./support/postgres.js";

/**
 * A stored frame that cannot be read back: runs sleep on a store, their frames are then
 * overwritten with garbage of four kinds (as a disk, a bad migration or a hand edit could
 * leave them), and a second engine on the same store wakes everyone. Each damaged run must
 * fail with a CorruptFrameError that names it; the healthy runs beside it must complete.
 */
const db = await openTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "ratchet-corrupt-"));
afterAll(async () => {
  await db.end();
  rmSync(dir, { recursive: true, force: true });
});

const double = fn(async (_ctx: FunctionContext, n: number) => n * 2);
const nap = workflow(async (ctx, n: number, minutes: number) => {
  const doubled = await ctx.step(double, n);
  await ctx.sleep(minutes * 60_000);
  return await ctx.step("plusOne", () => doubled + 1);
});

/** The kinds of garbage, each made from the run's real frame. */
const garbage: readonly { readonly kind: string; readonly make: (frame: string) => string }[] = [
  { kind: "cut in half", make: (frame) => frame.slice(0, Math.floor(frame.length / 2)) },
  { kind: "not serialized data", make: () => "this is not a frame {{{" },
  { kind: "a number, not a frame", make: () => stringify(42) },
];
// A readable frame at a checkpoint the workflow lacks is no corruption: it is what a deploy
// that removed the checkpoint leaves, and the run is parked (test/versioning.test.ts).

/** One store three times: where the runs start, how to damage a frame, where they resume. */
interface Store {
  readonly first: StorageAdapter;
  readonly tamper: (runId: string, make: (frame: string) => string) => Promise<void>;
  readonly second: () => StorageAdapter;
}

function memoryStore(clock: TestClock): Store {
  // The memory adapter keeps its runs after close(), so both engines use the one instance;
  // the frame is overwritten through the adapter's own API, by a claim and a commit.
  const storage = memory();
  return {
    first: storage,
    second: () => storage,
    async tamper(runId, make) {
      const [run] = await storage.claimRunnable({
        owner: "tamperer",
        leaseMs: 60_000,
        limit: 1,
        wakeBefore: clock.now() + 60_000,
      });
      expect(run.id).toBe(runId);
      const outcome = await storage.commit({
        runId,
        expectedSeq: run.seq,
        owner: "tamperer",
        status: "sleeping",
        frame: make(run.frame!),
        // Past the next tamper's claim, well before the second engine wakes everyone.
        wakeAt: clock.now() + 90_000,
      });
      expect(outcome.ok).toBe(true);
    },
  };
}

let files = 0;
function sqliteStore(): Store {
  const path = join(dir, `store-${++files}.db`);
  return {
    first: sqlite({ path }),
    second: () => sqlite({ path }),
    async tamper(runId, make) {
      const raw = new Database(path);
      try {
        const { frame } = raw.prepare("SELECT frame FROM ratchet_runs WHERE id = ?").get(runId) as {
          frame: string;
        };
        raw.prepare("UPDATE ratchet_runs SET frame = ? WHERE id = ?").run(make(frame), runId);
      } finally {
        raw.close();
      }
    },
  };
}

function postgresStore(): Store {
  const schema = db.freshSchema();
  return {
    first: postgres({ pool: db.pool(), schema }),
    second: () => postgres({ pool: db.pool(), schema }),
    async tamper(runId, make) {
      const [{ frame }] = await db.query<{ frame: string }>(
        `SELECT frame FROM "${schema}".runs WHERE id = $1`,
        [runId],
      );
      await db.query(`UPDATE "${schema}".runs SET frame = $1 WHERE id = $2`, [make(frame), runId]);
    },
  };
}

async function statusBecomes(run: RunHandle, status: string): Promise<void> {
  for (let i = 0; i < 1000 && (await run.status()) !== status; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(await run.status()).toBe(status);
}

describe.each([
  ["memory", memoryStore],
  ["sqlite", sqliteStore],
  [`postgres (${db.label})`, postgresStore],
] as const)("a corrupted stored frame, on %s", (_name, makeStore) => {
  it("fails that run with a CorruptFrameError naming it; the other runs complete", async () => {
    const clock = createTestClock(new Date("2026-12-01T09:00:00Z"));
    const store = makeStore(clock);
    const engineOn = (storage: StorageAdapter) =>
      createEngine({ storage, workflows: [nap], clock, worker: { pollIntervalMs: 10 } });

    const first = engineOn(store.first);
    // The damaged runs wake after a minute, the healthy ones after an hour (the memory store
    // picks the ones to damage by that); all are asleep when the first engine closes.
    const healthy = await Promise.all([0, 1, 2, 3].map((n) => first.start(nap, [n, 60])));
    // One at a time: the memory store's tamperer claims them oldest first.
    const damaged: RunHandle<number>[] = [];
    for (const i of garbage.keys()) damaged.push(await first.start(nap, [10 + i, 1]));
    for (const run of [...healthy, ...damaged]) await statusBecomes(run, "sleeping");
    await first.close();
    for (const [i, run] of damaged.entries()) await store.tamper(run.id, garbage[i].make);

    const second = engineOn(store.second());
    try {
      clock.advance(2 * 3_600_000);
      for (const [n, run] of healthy.entries()) {
        expect(await (await second.get<number>(run.id)).result()).toBe(n * 2 + 1);
      }
      for (const [i, run] of damaged.entries()) {
        const handle = await second.get(run.id);
        const error = await handle.result().then(
          () => {
            throw new Error(`run ${run.id} (${garbage[i].kind}) completed`);
          },
          (e: unknown) => e as Error,
        );
        expect(error, garbage[i].kind).toBeInstanceOf(CorruptFrameError);
        expect(error.message).toContain(`run ${run.id}`);
        expect(await handle.status()).toBe("failed");
      }
      expect(await second.list({ status: "completed" })).toHaveLength(healthy.length);
    } finally {
      await second.close();
    }
  });
});
