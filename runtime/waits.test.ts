import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CancelledError,
  createEngine,
  createTestClock,
  DeliveryError,
  type Engine,
  event,
  type FunctionContext,
  fn,
  type StorageAdapter,
  type TestClock,
  TimeoutError,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { durable } from "../test/support/durable-store.js";

const dir = mkdtempSync(join(tmpdir(), "ratchet-waits-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const adapters: [string, () => StorageAdapter][] = [
  ["memory", () => memory()],
  ["sqlite", () => sqlite({ path: join(dir, `waits-${++files}.db`), synchronous: "normal" })],
];

const sent: string[] = [];
const send = fn(
  async (_ctx: FunctionContext, what: string) => {
    sent.push(what);
    return what;
  },
  { retries: 0 },
);

const followUp = workflow(async (ctx, user: string) => {
  await ctx.step(send, `welcome ${user}`);
  await ctx.state.set("phase", "sleeping");
  await ctx.sleep("24h", { name: "wait_24h" });
  const phase = await ctx.state.get<string>("phase");
  await ctx.step(send, `follow-up ${user}`);
  return phase;
});

const approval = workflow(async (ctx, orderId: string) => {
  await ctx.step(send, `summary ${orderId}`);
  try {
    const decision = await ctx.waitForUser({
      question: `Approve ${orderId}?`,
      inputType: "approval",
      timeout: "1h",
    });
    if (decision === "reject") return { status: "rejected" };
    await ctx.step(send, `fulfil ${orderId}`);
    return { status: "approved" };
  } catch (error) {
    if (error instanceof TimeoutError) return { status: "expired" };
    throw error;
  }
});

const choose = workflow(async (ctx) => {
  const size = await ctx.waitForUser({
    question: "Which size?",
    inputType: "choice",
    options: [{ id: "s" }, { id: "m" }, { id: "l" }],
  });
  const note = await ctx.waitForUser({ question: "Any note?", inputType: "text" });
  return { size, note };
});

const paid = workflow(async (ctx, orderId: string) => {
  const payment = await ctx.waitForEvent<{ orderId: string; amount: number }>("payment.received", {
    match: { orderId },
    timeout: "30m",
  });
  return payment.amount;
});

const welcome = workflow(
  { triggers: [event("user.signup")] },
  async (ctx, user: { email: string }) => {
    return await ctx.step(send, `hello ${user.email}`);
  },
);

const forever = workflow(async (ctx) => {
  await ctx.sleep("365d");
  return "woke";
});

const all = [followUp, approval, choose, paid, welcome, forever];

describe.each(adapters)("durable time and waits on %s", (_name, makeStorage) => {
  let engine: Engine;
  let clock: TestClock;
  const open = () => {
    clock = createTestClock();
    engine = createEngine({
      storage: makeStorage(),
      workflows: all,
      clock,
      worker: { pollIntervalMs: 10 },
    });
    return engine;
  };
  afterEach(async () => {
    await engine.close();
  });
  const until = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 400 && !(await check()); i++) await new Promise((r) => setTimeout(r, 5));
  };

  it("sleeps durably: the run sleeps holding nothing, and wakes when the clock passes", async () => {
    open();
    sent.length = 0;
    const run = await engine.start(followUp, ["ada"]);
    await until(async () => (await run.status()) === "sleeping");
    expect(await run.status()).toBe("sleeping");
    expect(sent).toEqual(["welcome ada"]);
    clock.advance(23 * 3_600_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(await run.status()).toBe("sleeping");
    clock.advance(3_600_000);
    expect(await run.result()).toBe("sleeping");
    expect(sent).toEqual(["welcome ada", "follow-up ada"]);
  });

  it("after a restart only the remaining time is slept", async () => {
    const storage = makeStorage();
    clock = createTestClock();
    const first = createEngine({
      storage: durable(storage),
      workflows: all,
      clock,
      worker: { pollIntervalMs: 10 },
    });
    const run = await first.start(forever, []);
    await until(async () => (await run.status()) === "sleeping");
    await first.close();
    clock.advance(364 * 86_400_000);
    engine = createEngine({ storage, workflows: all, clock, worker: { pollIntervalMs: 10 } });
    const again = await engine.get(run.id);
    await new Promise((r) => setTimeout(r, 50));
    expect(await again.status()).toBe("sleeping");
    clock.advance(86_400_000);
    expect(await again.result()).toBe("woke");
  });

  it("waits for a person: approval, a refused answer, a second answer refused", async () => {
    open();
    const run = await engine.start(approval, ["o-1"]);
    await until(async () => (await run.status()) === "waiting");
    await expect(engine.respond(run.id, "maybe")).rejects.toThrow(DeliveryError);
    await expect(engine.respond(run.id, "maybe")).rejects.toThrow(/approve, reject/);
    await engine.respond(run.id, "approve");
    await expect(engine.respond(run.id, "reject")).rejects.toThrow(DeliveryError);
    expect(await run.result()).toEqual({ status: "approved" });
  });

  it("a wait that times out throws TimeoutError where it was awaited", async () => {
    open();
    const run = await engine.start(approval, ["o-2"]);
    await until(async () => (await run.status()) === "waiting");
    clock.advance("2h");
    expect(await run.result()).toEqual({ status: "expired" });
    await expect(engine.respond(run.id, "approve")).rejects.toThrow(DeliveryError);
  });

  it("choice and text answers", async () => {
    open();
    const run = await engine.start(choose, []);
    await until(async () => (await run.status()) === "waiting");
    await expect(engine.respond(run.id, "xl")).rejects.toThrow(/s, m, l/);
    await engine.respond(run.id, "m");
    await until(async () => {
      const stored = await engine.list();
      return stored.some((r) => r.id === run.id && r.status === "waiting" && r.commits > 1);
    });
    await engine.respond(run.id, "gift wrap, please");
    expect(await run.result()).toEqual({ size: "m", note: "gift wrap, please" });
  });

  it("waits for a matching event; others are not delivered", async () => {
    open();
    const a = await engine.start(paid, ["A"]);
    const b = await engine.start(paid, ["B"]);
    await until(async () => (await a.status()) === "waiting" && (await b.status()) === "waiting");
    const first = await engine.emit("payment.received", { orderId: "B", amount: 20 });
    expect(first.delivered).toEqual([b.id]);
    expect(await b.result()).toBe(20);
    expect(await a.status()).toBe("waiting");
    await engine.emit("payment.received", { orderId: "A", amount: 10 });
    expect(await a.result()).toBe(10);
  });

  it("an event trigger starts a workflow with the payload", async () => {
    open();
    sent.length = 0;
    const { started } = await engine.emit("user.signup", { email: "grace@example.com" });
    expect(started).toHaveLength(1);
    expect(await (await engine.get(started[0]!)).result()).toBe("hello grace@example.com");
  });

  it("cancels a sleeping run: final status, result rejects with CancelledError", async () => {
    open();
    const run = await engine.start(forever, []);
    await until(async () => (await run.status()) === "sleeping");
    expect(await run.cancel()).toBe(true);
    expect(await run.status()).toBe("cancelled");
    await expect(run.result()).rejects.toBeInstanceOf(CancelledError);
    expect(await run.cancel()).toBe(false);
    clock.advance(400 * 86_400_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(await run.status()).toBe("cancelled");
  });
});
