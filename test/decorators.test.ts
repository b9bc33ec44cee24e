import * as ratchet from "ratchetjs";
import { createEngine, DefinitionError, type WorkflowContext, workflow } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { describe, expect, it } from "vitest";
import { add, echo } from "./support/steps.js";

// biome-ignore lint/complexity/noStaticOnlyClass: @workflow methods are the point of this test.
class Orders {
  @workflow
  static async process(ctx: WorkflowContext, id: string) {
    const a = await ctx.step(add, id.length, 1);
    const b = await ctx.step(echo, `${id}:${a}`);
    return b;
  }

  @ratchet.workflow({ name: "orders.refund" })
  static async refund(ctx: WorkflowContext, amount: number) {
    if (amount > 100) return "too much";
    return await ctx.step(add, amount, -1);
  }

  // A TypeScript `this` parameter types `this` only: ctx is still the first parameter.
  @workflow
  static async label(this: typeof Orders, ctx: WorkflowContext, id: string, times = 2) {
    const a = await ctx.step(add, id.length, times);
    return await ctx.step(echo, `${id}:${a}`);
  }
}

describe("@workflow on class methods", () => {
  it("compiles decorated methods into workflow definitions named after the method", async () => {
    const process = Orders.process as unknown as ratchet.Workflow;
    expect(process.name).toBe("Orders.process");
    expect(process.compiled?.manifest.checkpoints.map((c) => c.id)).toEqual([
      "step:add",
      "step:echo",
    ]);
    expect((Orders.refund as unknown as ratchet.Workflow).name).toBe("orders.refund");
    const engine = createEngine({
      storage: memory(),
      workflows: [Orders.process, Orders.refund, Orders.label],
    });
    expect(await engine.run(Orders.process, ["abc"])).toBe("abc:4");
    expect(await engine.run(Orders.refund, [10])).toBe(9);
    const label = Orders.label as unknown as ratchet.Workflow;
    expect(label.compiled?.manifest.params).toEqual(["id", "times"]);
    expect(await engine.run(label, ["abc"])).toBe("abc:5");
    await engine.close();
  });

  it("refuses, with a clear error, a decorated method the compiler did not see", () => {
    // What a decorator the compiler did not see is called with when the class is defined: the
    // method and a TC39 decorator context. Decorator syntax the compiler leaves is the
    // bundler's to lower, as in any module, and Node 20 does not run it.
    const context = {
      kind: "method",
      name: "run",
      static: true,
      private: false,
      access: { has: () => true, get: () => undefined },
      addInitializer: () => {},
      metadata: {},
    } as unknown as ClassMethodDecoratorContext;
    const run = async (_ctx: WorkflowContext) => 1;
    const decorate = workflow;
    expect(() => decorate(run, context)).toThrow(DefinitionError);
    expect(() => decorate({ name: "x" })(run, context)).toThrow(DefinitionError);
  });
});
