import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEngine,
  createTestClock,
  type Engine,
  type FunctionContext,
  fn,
  type StorageAdapter,
  type TestClock,
  TimeoutError,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { openTestDatabase } from "./support/postgres.js";

/**
 * `handle.retry()` of a run that failed right after each kind of suspension resumes from the
 * checkpoint it failed at and receives there what it received the first time: the step runs
 * again; after a sleep, the run goes on (it does not sleep again); after an answered wait, the
 * same answer; at a wait that timed out, the TimeoutError again at the `await`; after a failed
 * child, the child's error again. Never `undefined` where a value was awaited.
 */
const dir = mkdtempSync(join(tmpdir(), "ratchet-retry-"));
const db = await openTestDatabase();
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await db.end();
});
let files = 0;
const adapters: [string, () => StorageAdapter][] = [
  ["memory", () => memory()],
  ["sqlite", () => sqlite({ path: join(dir, `retry-${++files}.db`), synchronous: "normal" })],
  [`postgres (${db.label})`, () => postgres({ pool: db.pool(), schema: db.freshSchema() })],
];

/** Fails while `failing` holds the key; records every attempt. */
const failing = new Set<string>();
const attempts: string[] = [];
const flaky = fn(
  async (_ctx: FunctionContext, key: string, value: unknown) => {
    attempts.push(key);
    if (failing.has(key)) throw new Error(`${key} failed`);
    return value;
  },
  { retries: 0 },
);

const afterStep = workflow(async (ctx) => {
  const a = await ctx.step(flaky, "first", 1);
  const b = await ctx.step(flaky, "second", 2);
  return [a, b];
});

const afterSleep = workflow(async (ctx) => {
  await ctx.sleep("1h");
  return await ctx.step(flaky, "woke", "awake");
});

const afterAnswer = workflow(async (ctx) => {
  const decision = await ctx.waitForUser({
    question: "Ship it?",
    inputType: "approval",
    timeout: "1h",
  });
  return await ctx.step(flaky, "answered", decision);
});

const atTimeout = workflow(async (ctx) => {
  const decision = await ctx.waitForUser({
    question: "Ship it?",
    inputType: "approval",
    timeout: "1h",
  });
  return { decision };
});

const doomed = workflow(async (ctx, n: number) => {
  return await ctx.step(flaky, "child", n);
});

const afterChild = workflow(async (ctx) => {
  const value = await ctx.child(doomed, [7]);
  return { value };
});

const workflows = [afterStep, afterSleep, afterAnswer, atTimeout, doomed, afterChild];

describe.each(adapters)("retry after each kind of suspension on %s", (_name, makeStorage) => {
  let engine: Engine;
  let clock: TestClock;
  beforeEach(() => {
    clock = createTestClock();
    failing.clear();
    attempts.length = 0;
    engine = createEngine({
      storage: makeStorage(),
      workflows,
      clock,
      worker: { pollIntervalMs: 10 },
      logger: { warn() {}, error() {}, info() {} } as never,
    });
  });
  afterEach(async () => {
    await engine.close();
    await db.cleanUp();
  });

  const settle = async (result: Promise<unknown>) =>
    result.then(
      (value) => ({ value }),
      (error: Error) => ({ error: `${error.name}: ${error.message}` }),
    );
  const until = async (check: () => Promise<boolean>, what: string) => {
    const deadline = performance.now() + 30_000;
    while (!(await check())) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  it("a failed step runs again; the committed one before it does not", async () => {
    failing.add("second");
    const run = await engine.start(afterStep, []);
    expect(await settle(run.result())).toStrictEqual({ error: "Error: second failed" });
    failing.clear();
    expect(await run.retry()).toBe(true);
    expect(await settle(run.result())).toStrictEqual({ value: [1, 2] });
    expect(attempts).toStrictEqual(["first", "second", "second"]);
  });

  it("after a sleep: the run goes on without sleeping again", async () => {
    failing.add("woke");
    const run = await engine.start(afterSleep, []);
    await until(async () => (await run.status()) === "sleeping", "the run to sleep");
    clock.advance("1h");
    expect(await settle(run.result())).toStrictEqual({ error: "Error: woke failed" });
    failing.clear();
    expect(await run.retry()).toBe(true);
    expect(await settle(run.result())).toStrictEqual({ value: "awake" });
  });

  it("after an answered wait: the same answer again", async () => {
    failing.add("answered");
    const run = await engine.start(afterAnswer, []);
    await until(async () => (await run.status()) === "waiting", "the run to wait");
    await engine.respond(run.id, "approve");
    expect(await settle(run.result())).toStrictEqual({ error: "Error: answered failed" });
    failing.clear();
    expect(await run.retry()).toBe(true);
    expect(await settle(run.result())).toStrictEqual({ value: "approve" });
    expect(attempts).toStrictEqual(["answered", "answered"]);
  });

  it("at a wait that timed out: the TimeoutError again, at the await", async () => {
    const run = await engine.start(atTimeout, []);
    await until(async () => (await run.status()) === "waiting", "the run to wait");
    clock.advance("2h");
    const first = await settle(run.result());
    expect(first).toMatchObject({ error: expect.stringMatching(/^TimeoutError: The wait at/) });
    const info = await run.info();
    expect(info.status).toBe("failed");
    expect(info.wait).toBeUndefined();
    expect(info.wakeAt).toBeUndefined();
    expect(await run.retry()).toBe(true);
    expect(await settle(run.result())).toStrictEqual(first);
    // An answer to the old question is refused: the retried run waits for nothing.
    await expect(engine.respond(run.id, "approve")).rejects.toThrow(/not waiting/);
    expect(await run.retry()).toBe(true);
    await expect(run.result()).rejects.toBeInstanceOf(TimeoutError);
  });

  it("after a failed child: the child's error again", async () => {
    failing.add("child");
    const run = await engine.start(afterChild, []);
    expect(await settle(run.result())).toStrictEqual({ error: "Error: child failed" });
    expect(await run.retry()).toBe(true);
    expect(await settle(run.result())).toStrictEqual({ error: "Error: child failed" });
    // The child ran once: retrying the parent does not start it again.
    expect(attempts).toStrictEqual(["child"]);
  });
});
