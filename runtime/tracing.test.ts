import { trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { createEngine, type FunctionContext, fn, workflow } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { afterAll, beforeEach, describe, expect, it } from "vitest";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
afterAll(async () => {
  trace.disable();
  await provider.shutdown();
});

let failFirst = true;
const charge = fn(
  async (_ctx: FunctionContext, amount: number) => {
    if (failFirst) {
      failFirst = false;
      throw new Error("gateway timeout");
    }
    return { charged: amount };
  },
  { name: "charge", retries: { max: 2, initialDelay: 1, maxDelay: 1 } },
);
const ship = fn(async (_ctx: FunctionContext, id: string) => `shipped ${id}`, { name: "ship" });

const order = workflow(async (ctx, id: string) => {
  const payment = await ctx.step(charge, 10);
  const shipped = await ctx.step(ship, id);
  return { payment, shipped };
});

describe("OpenTelemetry spans", () => {
  beforeEach(() => exporter.reset());

  it("traces a run and each step attempt under it, with the failed attempt marked", async () => {
    const engine = createEngine({ storage: memory(), workflows: [order] });
    try {
      const run = await engine.start(order, ["o-1"]);
      expect(await run.result()).toEqual({ payment: { charged: 10 }, shipped: "shipped o-1" });
    } finally {
      await engine.close();
    }
    const spans = exporter.getFinishedSpans();
    const runSpan = spans.find((s) => s.name === "ratchet.run order");
    expect(runSpan).toBeDefined();
    expect(runSpan!.attributes).toMatchObject({
      "ratchet.workflow.name": "order",
      "ratchet.run.outcome": "completed",
      "ratchet.run.resumed": false,
    });
    const steps = spans.filter((s) => s.name.startsWith("ratchet.step"));
    expect(steps.map((s) => [s.name, s.attributes["ratchet.step.attempt"], s.status.code])).toEqual(
      [
        ["ratchet.step charge", 1, 2],
        ["ratchet.step charge", 2, 0],
        ["ratchet.step ship", 1, 0],
      ],
    );
    for (const step of steps) {
      expect(step.spanContext().traceId).toBe(runSpan!.spanContext().traceId);
      expect(step.parentSpanContext?.spanId).toBe(runSpan!.spanContext().spanId);
    }
    expect(steps[0]!.events.map((e) => e.name)).toEqual(["exception"]);
  });

  it("records nothing with tracing: false", async () => {
    failFirst = false;
    const engine = createEngine({ storage: memory(), workflows: [order], tracing: false });
    try {
      await engine.run(order, ["o-2"]);
    } finally {
      await engine.close();
    }
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
