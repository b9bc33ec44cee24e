import { Redis } from "ioredis";
import {
  createEngine,
  createTestClock,
  type FunctionContext,
  fn,
  type RunHandle,
  type RunStatus,
  type WorkflowContext,
  workflow,
} from "ratchetjs";
import { describeAdapterContract } from "ratchetjs/adapters/testing";
import { afterAll, describe, expect, it } from "vitest";
import { redis } from "./redis-adapter.js";

/**
 * The Redis adapter against the whole storage adapter contract, then under an engine. Needs
 * the Redis server at REDIS_URL (default redis://127.0.0.1:6379): without one the tests
 * are skipped, saying so, except under CI, where they fail. Each test gets keys under a
 * fresh prefix, all deleted at the end.
 */
const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
admin.on("error", () => {});
const reachable = await admin.connect().then(
  () => true,
  (error: Error) => {
    const message = `No Redis server answered at ${url} (${error.message}).`;
    if (process.env.CI) throw new Error(`${message} CI must start one (see .ci/run).`);
    console.warn(`[ratchet tests] ${message} Skipping the Redis adapter example's tests.`);
    return false;
  },
);

const root = `ratchet-test:${process.pid}:${Date.now().toString(36)}:`;
let stores = 0;
const freshPrefix = () => `${root}${++stores}:`;

afterAll(async () => {
  if (reachable) {
    let cursor = "0";
    do {
      const [next, keys] = await admin.scan(cursor, "MATCH", `${root}*`, "COUNT", 1000);
      if (keys.length > 0) await admin.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
  }
  admin.disconnect();
});

if (reachable) {
  describeAdapterContract("redis", () => redis({ url, prefix: freshPrefix() }));
}

const double = fn(async (_ctx: FunctionContext, n: number) => n * 2);
const pipeline = workflow(async (ctx: WorkflowContext, n: number) => {
  const doubled = await ctx.step(double, n);
  await ctx.sleep("1h");
  const paid = await ctx.waitForEvent<{ runN: number; amount: number }>("paid", {
    match: { runN: n },
  });
  const total = await ctx.step("total", () => doubled + paid.amount);
  return { n, total };
});

async function statusBecomes(run: RunHandle, status: RunStatus): Promise<void> {
  for (let i = 0; i < 500 && (await run.status()) !== status; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(await run.status()).toBe(status);
}

describe.runIf(reachable)("redis adapter under an engine", () => {
  it("runs steps, a sleep, an event wait and a cancel; a second engine picks up where the first stopped", async () => {
    const prefix = freshPrefix();
    const clock = createTestClock(new Date("2026-12-01T09:00:00Z"));
    const open = () =>
      createEngine({
        storage: redis({ url, prefix }),
        workflows: [pipeline],
        clock,
        worker: { pollIntervalMs: 10, leaseMs: 2_000 },
      });
    const first = open();
    const runs = await Promise.all([1, 2, 3].map((n) => first.start(pipeline, [n])));
    for (const run of runs) await statusBecomes(run, "sleeping");
    await first.close();

    const second = open();
    clock.advance(2 * 3_600_000);
    const again = await Promise.all(runs.map((run) => second.get<{ total: number }>(run.id)));
    for (const run of again) await statusBecomes(run, "waiting");
    expect(await again[2].cancel()).toBe(true);
    const outcome = await second.emit("paid", { runN: 1, amount: 100 });
    expect(outcome.delivered).toEqual([runs[0].id]);
    await second.emit("paid", { runN: 2, amount: 7 });
    expect(await again[0].result()).toEqual({ n: 1, total: 102 });
    expect(await again[1].result()).toEqual({ n: 2, total: 11 });
    expect(await again[2].status()).toBe("cancelled");
    expect((await second.list({ status: "completed" })).map((r) => r.id).sort()).toEqual(
      [runs[0].id, runs[1].id].sort(),
    );
    await second.close();
  });
});
