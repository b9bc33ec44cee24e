import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FatalError, type FunctionContext, fn, TimeoutError, workflow } from "ratchetjs";
import { createTestEngine, type TestEngine, TestEngineError } from "ratchetjs/testing";
import { afterEach, describe, expect, it } from "vitest";

const charged: string[] = [];
const chargeCustomer = fn(async (ctx: FunctionContext, orderId: string, amount: number) => {
  charged.push(orderId);
  return { chargeId: `ch_${ctx.idempotencyKey}`, amount };
});
const order = workflow(async (ctx, orderId: string) => {
  const total = await ctx.step("price", () => 42);
  const charge = await ctx.step(chargeCustomer, orderId, total);
  return { orderId, amount: charge.amount, chargeId: charge.chargeId };
});

let failuresLeft = 0;
const flaky = fn(
  async () => {
    if (failuresLeft-- > 0) throw new Error("try again");
    return "done";
  },
  { retries: { max: 3, initialDelay: "1s", backoff: "exponential" } },
);
const retrying = workflow(async (ctx) => await ctx.step(flaky));

const hangs = fn(() => new Promise<string>(() => {}), { retries: 1, timeout: "30s" });
const timingOut = workflow(async (ctx) => await ctx.step(hangs));

const followUp = workflow(async (ctx, user: string) => {
  await ctx.sleep("24h");
  const reply = await ctx.waitForEvent<{ text: string }>("reply", {
    timeout: "7d",
    match: { user },
  });
  return `${user}: ${reply.text}`;
});

let t: TestEngine | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  charged.length = 0;
});

describe("ratchetjs/testing", () => {
  it("replaces a durable function for one engine, keeping the workflow as written", async () => {
    t = createTestEngine({ workflows: [order] });
    t.override(chargeCustomer, async (_ctx, orderId, amount) => ({
      chargeId: `fake_${orderId}`,
      amount: amount * 2,
    }));
    t.override("price", () => 10);
    const run = await t.start(order, ["o-1"]);
    expect(await t.finish(run)).toStrictEqual({ orderId: "o-1", amount: 20, chargeId: "fake_o-1" });
    expect(charged).toEqual([]);

    t.restore();
    expect(await t.run(order, ["o-2"])).toMatchObject({ orderId: "o-2", amount: 42 });
    expect(charged).toEqual(["o-2"]);
  });

  it("runs retry delays on the test clock: finish() jumps to each retry", async () => {
    t = createTestEngine({ workflows: [retrying] });
    failuresLeft = 2;
    const before = t.clock.now();
    const run = await t.start(retrying, []);
    expect(await t.finish(run)).toBe("done");
    // 1 s, then 2 s (exponential from 1 s), of test time and none of real time.
    expect(t.clock.now() - before).toBe(3000);
  });

  it("runs step timeouts on the test clock", async () => {
    t = createTestEngine({ workflows: [timingOut] });
    const before = t.clock.now();
    const run = await t.start(timingOut, []);
    await expect(t.finish(run)).rejects.toBeInstanceOf(TimeoutError);
    // Two attempts of 30 s, with the default first retry delay of 1 s between them.
    expect(t.clock.now() - before).toBe(61_000);
  });

  it("waits for a run to sleep and to wait, and moves time by hand", async () => {
    t = createTestEngine({ workflows: [followUp] });
    const run = await t.start(followUp, ["ann"]);
    await t.untilSleeping(run);
    await t.advance("24h");
    await t.untilWaiting(run);
    await t.emit("reply", { user: "ann", text: "thanks" });
    expect(await run.result()).toBe("ann: thanks");
  });

  it("finish() skips a sleep and a wait's timeout", async () => {
    t = createTestEngine({ workflows: [followUp] });
    const before = t.clock.now();
    const run = await t.start(followUp, ["bob"]);
    await expect(t.finish(run)).rejects.toBeInstanceOf(TimeoutError);
    expect(t.clock.now() - before).toBe(8 * 24 * 3_600_000);
  });

  it("says so when a run ends while the test waits for another status", async () => {
    t = createTestEngine({ workflows: [timingOut], timeoutMs: 2000 });
    t.override(hangs, async () => {
      throw new FatalError("boom");
    });
    const run = await t.start(timingOut, []);
    const waited = t.untilSleeping(run);
    await expect(waited).rejects.toBeInstanceOf(TestEngineError);
    await expect(waited).rejects.toThrow(/ended failed while .* to be sleeping: FatalError: boom/);
  });

  it("closes while a step waits for a retry on the test clock", async () => {
    t = createTestEngine({ workflows: [retrying] });
    failuresLeft = 1;
    const run = await t.start(retrying, []);
    await t.until(run, "running");
    await t.close();
    t = undefined;
  });
});

describe("ratchetjs/testing under node:test", () => {
  it("runs a workflow test with node --test", () => {
    const repoRoot = fileURLToPath(new URL("../", import.meta.url));
    mkdirSync(join(repoRoot, "test-artifacts"), { recursive: true });
    const dir = mkdtempSync(join(repoRoot, "test-artifacts", "node-test-"));
    try {
      writeFileSync(
        join(dir, "order.test.ts"),
        [
          'import { test } from "node:test";',
          'import assert from "node:assert/strict";',
          'import { fn, workflow, type FunctionContext } from "ratchetjs";',
          'import { createTestEngine } from "ratchetjs/testing";',
          "",
          'const greet = fn(async (_ctx: FunctionContext, name: string) => "hello " + name);',
          "const hello = workflow(async (ctx, name: string) => {",
          '  await ctx.sleep("1h");',
          "  return await ctx.step(greet, name);",
          "});",
          "",
          'test("a workflow under node:test", async () => {',
          "  const t = createTestEngine({ workflows: [hello] });",
          '  t.override(greet, async (_ctx, name) => "hi " + name);',
          '  const run = await t.start(hello, ["ada"]);',
          '  assert.equal(await t.finish(run), "hi ada");',
          "  await t.close();",
          "});",
          "",
        ].join("\n"),
      );
      const result = spawnSync(
        process.execPath,
        ["--import", "ratchetjs/register", "--test", "order.test.ts"],
        { cwd: dir, encoding: "utf8", timeout: 60_000 },
      );
      expect(result.stdout + result.stderr).toMatch(/# pass 1/);
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
