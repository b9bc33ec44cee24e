import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createEngine, createTestClock, type Engine } from "ratchetjs";
import type { StorageAdapter } from "ratchetjs/adapters";
import { memory } from "ratchetjs/adapters/memory";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { transform, type WorkflowManifest } from "ratchetjs/compiler";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { type ForecastRow, forecast } from "../cli/check-db.js";
import { main } from "../cli/main.js";
import { approve, calls, drip, remind, tally, v1 } from "./fixtures/versioning-v1.js";
import { v2 } from "./fixtures/versioning-v2.js";
import { v3 } from "./fixtures/versioning-v3.js";
import { eventually, type Logged, recordingLogger } from "./support/eventually.js";
import { openTestDatabase } from "./support/postgres.js";

/**
 * Runs stored by one build and resumed by the next: matched per checkpoint (a step added
 * before or after the suspension point, a changed loop body: they resume on the new code),
 * parked when the checkpoint is gone or a variable live there changed (logged once, listed
 * with the reason), and resumed by themselves once a build brings a migration.
 */
const dir = mkdtempSync(join(tmpdir(), "ratchet-versioning-"));
const db = await openTestDatabase();
afterEach(() => db.cleanUp());
afterAll(async () => {
  await db.end();
  rmSync(dir, { recursive: true, force: true });
});

/** The manifests of a build, as `ratchet check` compiles them from its source. */
function build(fixture: string): WorkflowManifest[] {
  const path = fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url));
  const out = transform(readFileSync(path, "utf8"), { filename: `test/fixtures/${fixture}` });
  expect(out.diagnostics).toEqual([]);
  return out.workflows;
}

/** The forecast as `workflow checkpoint: resume/migrate/park`, for comparing with outcomes. */
const summary = (rows: readonly ForecastRow[]) =>
  rows.map((r) => `${r.workflow} ${r.checkpoint}: ${r.resume}/${r.migrate}/${r.park}`);

async function forecastOn(storage: StorageAdapter, manifests: WorkflowManifest[]) {
  try {
    return summary(await forecast(storage, manifests));
  } finally {
    await storage.close();
  }
}

const stores: [string, () => () => StorageAdapter][] = [
  [
    "memory",
    () => {
      const shared = memory();
      // The memory store outlives each engine that uses it, as a file does.
      return () =>
        new Proxy(shared, {
          get: (target, key) =>
            key === "close"
              ? async () => {}
              : ((Reflect.get(target, key) as (...a: unknown[]) => unknown)?.bind?.(target) ??
                Reflect.get(target, key)),
        });
    },
  ],
  [
    "sqlite",
    () => {
      const path = join(dir, `${Math.random().toString(36).slice(2)}.db`);
      return Object.assign(() => sqlite({ path }), { path });
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

describe.each(stores)("a deploy with runs in flight, on %s", (_name, makeStore) => {
  const engines: Engine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close().catch(() => {})));
  });

  it("resumes, parks and migrates each run by its checkpoint", async () => {
    const open = makeStore();
    const clock = createTestClock();
    const engineOn = (workflows: typeof v1, logged: Logged[] = []) => {
      const engine = createEngine({
        storage: open(),
        workflows,
        clock,
        worker: { pollIntervalMs: 20 },
        logger: recordingLogger(logged),
      });
      engines.push(engine);
      return engine;
    };

    // Build 1: every run suspended at a sleep, a wait, or mid-loop.
    const first = engineOn(v1);
    const ids = {
      remind: (await first.start(remind, ["ada"])).id,
      approve: (await first.start(approve, ["o1"])).id,
      tally: (await first.start(tally, [3])).id,
      drip: (await first.start(drip, ["d"])).id,
    };
    for (const [name, id] of Object.entries(ids)) {
      const want = name === "approve" ? "waiting" : "sleeping";
      await eventually(
        async () => (await first.get(id)).status(),
        (s) => s === want,
      );
    }
    await first.close();

    // Before the deploy, the forecast of `ratchet check --db` for build 2 and build 3.
    const expected2 = [
      "approve waitForEvent:decided: 0/0/1",
      "drip sleep:first: 0/0/1",
      "remind sleep:nap: 1/0/0",
      "tally sleep:between: 1/0/0",
    ];
    expect(await forecastOn(open(), build("versioning-v2.ts"))).toEqual(expected2);
    const v3Forecast = await forecastOn(open(), build("versioning-v3.ts"));
    expect(v3Forecast).toEqual([
      "approve waitForEvent:decided: 0/1/0",
      "drip sleep:first: 0/1/0",
      "remind sleep:nap: 1/0/0",
      "tally sleep:between: 1/0/0",
    ]);
    const file = (open as { path?: string }).path;
    if (file) {
      // The command itself, on the SQLite file: exit 1, since build 2 would park two runs.
      const out: string[] = [];
      vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
      vi.spyOn(console, "error").mockImplementation(() => {});
      try {
        const fixture = fileURLToPath(new URL("./fixtures/versioning-v2.ts", import.meta.url));
        expect(await main(["check", fixture, "--db", file, "--json", "--lock", "none"])).toBe(1);
      } finally {
        vi.restoreAllMocks();
      }
      expect(summary(JSON.parse(out.join("\n")).runs)).toEqual(expected2);
    }

    // Build 2: what it does is what the forecast said.
    calls.length = 0;
    const logged: Logged[] = [];
    const second = engineOn(v2, logged);
    // Before anything is claimed, the handle already says what this code will do.
    expect(await (await second.get(ids.drip)).status()).toBe("parked");
    expect(await (await second.get(ids.remind)).status()).toBe("sleeping");
    clock.advance("1h");
    await second.emit("decided", { ok: true });

    // A step added before and after the sleep: resumed at the sleep, on the new code.
    expect(await (await second.get(ids.remind)).result()).toBe("HELLO ADA AGAIN");
    expect(calls).toContain("hello ada again");
    expect(calls).not.toContain("hello ada");
    // The loop's body changed: resumed mid-loop with its stored sum and index.
    const tallied = (await second.get(ids.tally)).result();
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      clock.advance("1h");
    }
    expect(await tallied).toBe(0 + 10 + 20);

    // A variable live at the wait was renamed, and a sleep is gone: both parked, with why.
    const approveRun = await second.get(ids.approve);
    await eventually(
      () => approveRun.status(),
      (s) => s === "parked",
    );
    const approveReason = await approveRun.parkedReason();
    expect(approveReason).toContain('at checkpoint "waitForEvent:decided"');
    expect(approveReason).toContain("needs variable price");
    expect(approveReason).toContain("it stored: order, total");
    const dripRun = await second.get(ids.drip);
    await eventually(
      () => dripRun.status(),
      (s) => s === "parked",
    );
    expect(await dripRun.parkedReason()).toContain(
      'stored at checkpoint "sleep:first", which workflow "drip"',
    );
    expect(await dripRun.parkedReason()).toContain("(it has: step:note, sleep:second)");
    const parked = await second.list({ status: "parked" });
    expect(parked.map((r) => r.id).sort()).toEqual([ids.approve, ids.drip].sort());
    // Logged once each, at warn, naming the run and the checkpoint.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const warnings = logged.filter((l) => l.level === "warn");
    expect(warnings.map((w) => w.fields.runId).sort()).toEqual([ids.approve, ids.drip].sort());
    expect(warnings.find((w) => w.fields.runId === ids.approve)!.fields.checkpoint).toBe(
      "waitForEvent:decided",
    );
    await second.close();

    // Build 3 brings migrations: the parked runs resume by themselves, the event delivered
    // before the park kept for the run.
    const third = engineOn(v3);
    expect(await (await third.get(ids.approve)).result()).toBe("o1 price o1 (migrated) true");
    const dripped = (await third.get(ids.drip)).result();
    expect(await dripped).toBe("d one done");
  });
});
