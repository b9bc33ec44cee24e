import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEngine,
  type Engine,
  FatalError,
  type FunctionContext,
  fn,
  type Logger,
  type StorageAdapter,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, afterEach, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "ratchet-inspect-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let dbCount = 0;

const adapters: [string, () => StorageAdapter][] = [
  ["memory", () => memory()],
  ["sqlite", () => sqlite({ path: join(dir, `inspect-${++dbCount}.db`) })],
];

/** Fails its first `failures` attempts of each run (counted per run id). */
let failures = 0;
const attempts = new Map<string, number>();
const flaky = fn(
  async (ctx: FunctionContext, n: number) => {
    const seen = (attempts.get(ctx.runId) ?? 0) + 1;
    attempts.set(ctx.runId, seen);
    if (seen <= failures) throw new Error(`flaky failure ${seen}`);
    return n + 1;
  },
  { retries: { max: 2, initialDelay: 1, maxDelay: 2 } },
);

const broken = fn(async (_ctx: FunctionContext, _n: number): Promise<number> => {
  throw new FatalError("card declined");
});

const pipeline = workflow(async (ctx, start: number) => {
  const seen = new Map([["start", start]]);
  const a = await ctx.step(flaky, start);
  seen.set("a", a);
  await ctx.sleep("1h");
  return { a, seen };
});

const fragile = workflow(async (ctx, n: number) => {
  const before = await ctx.step(flaky, n);
  const after = await ctx.step(broken, before);
  return after;
});

/** A logger that keeps what it is told. */
function recordingLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const log = (level: string) => (_fields: Record<string, unknown>, message: string) => {
    lines.push({ level, message });
  };
  return { lines, debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe.each(adapters)("inspecting runs (%s)", (_name, makeStorage) => {
  let engine: Engine | undefined;
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    failures = 0;
    attempts.clear();
  });

  it("lists and gets runs decoded: arguments, checkpoint with its source line, live variables", async () => {
    engine = createEngine({ storage: makeStorage(), workflows: [pipeline], history: true });
    failures = 1;
    const run = await engine.start(pipeline, [41]);
    await until(async () => (await run.status()) === "sleeping", "the run to sleep");
    const [listed] = await engine.list({ status: "sleeping" });
    expect(listed).toMatchObject({
      id: run.id,
      workflow: "pipeline",
      status: "sleeping",
      args: [41],
      checkpoint: { id: expect.stringMatching(/^sleep/), source: { line: 48, column: 3 } },
      commits: 2,
    });
    expect(listed!.checkpoint!.source!.file).toMatch(/inspect\.test\.ts$/);
    expect(listed!.variables).toEqual({
      a: 42,
      seen: new Map([
        ["start", 41],
        ["a", 42],
      ]),
    });
    expect(listed!.wakeAt).toBeInstanceOf(Date);
    expect(listed!.createdAt).toBeInstanceOf(Date);
    expect(listed!.result).toBeUndefined();

    const info = await run.info();
    expect(info.steps?.map((s) => [s.name, s.attempt, s.error?.message])).toEqual([
      ["flaky", 1, "flaky failure 1"],
      ["flaky", 2, undefined],
    ]);
    expect(info.steps![0]!.checkpoint).toBe("step:flaky");
    expect(info.steps![1]!.endedAt.getTime()).toBeGreaterThanOrEqual(
      info.steps![0]!.startedAt.getTime(),
    );
  });

  it("gives a failed run's error, logs the step that gave up, and retries it from its last checkpoint", async () => {
    const logger = recordingLogger();
    engine = createEngine({ storage: makeStorage(), workflows: [fragile], logger });
    const run = await engine.start(fragile, [1]);
    await expect(run.result()).rejects.toThrow("card declined");
    const failed = await run.info();
    expect(failed.status).toBe("failed");
    expect(failed.error).toBeInstanceOf(Error);
    expect(failed.error!.message).toBe("card declined");
    expect(failed.checkpoint?.id).toBe("step:flaky");
    expect(failed.variables).toEqual({});
    expect(failed.steps).toBeUndefined();
    expect(logger.lines).toContainEqual({
      level: "warn",
      message: expect.stringMatching(/step "broken" of run .* failed without retrying/),
    });

    expect(await run.retry()).toBe(true);
    await expect(run.result()).rejects.toThrow("card declined");
    // The step before the failure committed and did not run again.
    expect(attempts.get(run.id)).toBe(1);
    expect(await run.retry()).toBe(true);
    await until(async () => (await run.status()) === "failed", "the retried run to fail again");
    expect(await (await engine.get(run.id)).status()).toBe("failed");
  });

  it("refuses to retry a run that did not fail", async () => {
    engine = createEngine({ storage: makeStorage(), workflows: [pipeline] });
    const run = await engine.start(pipeline, [1]);
    await until(async () => (await run.status()) === "sleeping", "the run to sleep");
    expect(await run.retry()).toBe(false);
    expect(await run.status()).toBe("sleeping");
  });

  it("logs exhausted retries and reports the run's result decoded", async () => {
    const logger = recordingLogger();
    engine = createEngine({ storage: makeStorage(), workflows: [fragile], logger });
    failures = 5;
    const run = await engine.start(fragile, [1]);
    await expect(run.result()).rejects.toThrow("flaky failure 3");
    expect(logger.lines).toContainEqual({
      level: "warn",
      message: expect.stringMatching(
        /step "flaky" .* failed after 3 attempt\(s\), its retries exhausted/,
      ),
    });
  });
});

describe("step history", () => {
  it("needs an adapter that stores it", () => {
    const storage = memory();
    const bare: StorageAdapter = {
      ...storage,
      name: "bare",
      init: () => storage.init(),
      close: () => storage.close(),
    };
    Object.assign(bare, { recordSteps: undefined, listSteps: undefined });
    expect(() => createEngine({ storage: bare, workflows: [], history: true })).toThrow(
      /bare adapter does not store step history/,
    );
  });

  it("an engine without the workflow reports the stored status, not parked", async () => {
    const storage = sqlite({ path: join(dir, "operator.db") });
    const worker = createEngine({ storage, workflows: [pipeline] });
    const run = await worker.start(pipeline, [1]);
    await until(async () => (await run.status()) === "sleeping", "the run to sleep");
    await worker.close();
    const operator = createEngine({
      storage: sqlite({ path: join(dir, "operator.db") }),
      workflows: [],
      worker: false,
    });
    try {
      const [info] = await operator.list();
      expect(info).toMatchObject({ status: "sleeping", checkpoint: { id: expect.any(String) } });
      expect(info!.parkedReason).toBeUndefined();
      expect(info!.checkpoint!.source).toBeUndefined();
      expect(info!.variables).toEqual({ a: 2, seen: expect.any(Map) });
    } finally {
      await operator.close();
    }
  });
});
