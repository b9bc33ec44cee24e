import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, createTestClock, type Engine } from "ratchetjs";
import type { StorageAdapter } from "ratchetjs/adapters";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { approve, calls, drip, remind, tally, v1 } from "./fixtures/versioning-v1.js";
import { v2 } from "./fixtures/versioning-v2.js";
import { v3 } from "./fixtures/versioning-v3.js";

/**
 * Runs stored by one build and resumed by the next: matched per checkpoint (a step added
 * before or after the suspension point, a changed loop body: they resume on the new code),
 * parked when the checkpoint is gone or a variable live there changed (logged once, listed
 * with the reason), and resumed by themselves once a build brings a migration.
 */
const dir = mkdtempSync(join(tmpdir(), "ratchet-versioning-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
      return () => sqlite({ path });
    },
  ],
];

interface Logged {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}
function recordingLogger(into: Logged[]) {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void =>
      void into.push({ level, fields, message });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

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

    // Build 2.
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
