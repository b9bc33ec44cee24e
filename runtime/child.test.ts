import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEngine,
  createTestClock,
  type FunctionContext,
  fn,
  type StorageAdapter,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { durable } from "../test/support/durable-store.js";

const dir = mkdtempSync(join(tmpdir(), "ratchet-child-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const adapters: [string, () => StorageAdapter][] = [
  ["memory", () => memory()],
  ["sqlite", () => sqlite({ path: join(dir, "child.db"), synchronous: "normal" })],
];

const charge = fn(
  async (_ctx: FunctionContext, amount: number) => {
    if (amount > 100) throw new RangeError(`cannot charge ${amount}`);
    return `ch_${amount}`;
  },
  { retries: 0 },
);

const payment = workflow(async (ctx, amount: number) => {
  await ctx.sleep("1h");
  const id = await ctx.step(charge, amount);
  return { id, amount };
});

const checkout = workflow(async (ctx, amounts: number[]) => {
  const receipts: string[] = [];
  for (const amount of amounts) {
    try {
      const paid = await ctx.child(payment, [amount]);
      receipts.push(paid.id);
    } catch (error) {
      receipts.push(`failed: ${(error as Error).name} ${(error as Error).message}`);
    }
  }
  return receipts;
});

describe.each(adapters)("child workflows on %s", (_name, makeStorage) => {
  it("runs each child as its own durable run; the parent waits holding nothing, across a restart", async () => {
    const storage = durable(makeStorage());
    const clock = createTestClock();
    const options = {
      storage,
      workflows: [checkout, payment],
      clock,
      worker: { pollIntervalMs: 5 },
    };
    const first = createEngine(options);
    const run = await first.start(checkout, [[10, 500]]);
    const until = async (check: () => Promise<boolean>) => {
      for (let i = 0; i < 400 && !(await check()); i++) await new Promise((r) => setTimeout(r, 5));
    };
    await until(async () => (await run.status()) === "waiting");
    const children = (await first.list({ workflow: "payment" })).map((r) => r.id);
    expect(children).toHaveLength(1);
    expect(await (await first.get(children[0]!)).status()).toBe("sleeping");
    await first.close();

    // A new process: the child wakes, finishes, and hands its result to the parent.
    const second = createEngine(options);
    clock.advance(3_600_000);
    const again = await second.get<string[]>(run.id);
    await until(async () => (await second.list({ workflow: "payment" })).length === 2);
    clock.advance(3_600_000);
    expect(await again.result()).toEqual(["ch_10", "failed: RangeError cannot charge 500"]);
    const stored = await second.list({ workflow: "payment" });
    expect(stored.map((r) => r.status).sort()).toEqual(["completed", "failed"]);
    await second.close();
  });
});
