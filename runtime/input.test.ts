import { createEngine, event, InputError, workflow } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { describe, expect, it } from "vitest";
import { z } from "zod";

const order = workflow(
  { input: z.tuple([z.string().min(3), z.coerce.number().int().positive()]) },
  async (ctx, id: string, quantity: number) => {
    const total = await ctx.step("price", () => quantity * 10);
    return { id, total };
  },
);

const signup = workflow(
  {
    input: z.object({ email: z.string().email(), plan: z.string().default("free") }),
    triggers: [event("user.signup")],
  },
  async (ctx, user: { email: string; plan?: string }) => {
    return await ctx.step("greet", () => `${user.email} on ${user.plan}`);
  },
);

describe("workflow input schemas", () => {
  it("checks and coerces the argument list with a tuple schema", async () => {
    const storage = memory();
    const engine = createEngine({ storage, workflows: [order, signup] });
    expect(await engine.run(order, ["o-1", "2" as unknown as number])).toEqual({
      id: "o-1",
      total: 20,
    });
    const error = (await engine.start(order, ["x", -1]).catch((e: unknown) => e)) as InputError;
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toMatch(/workflow "order".*0: .*3/);
    expect(error.issues.length).toBe(2);
    // Nothing was stored for the rejected start.
    expect((await engine.list({ workflow: "order" })).length).toBe(1);
    await engine.close();
  });

  it("checks a one-argument workflow, including one started by an event", async () => {
    const engine = createEngine({ storage: memory(), workflows: [order, signup] });
    await expect(engine.start(signup, [{ email: "nope" }])).rejects.toBeInstanceOf(InputError);
    const { started } = await engine.emit("user.signup", { email: "ada@example.com" });
    expect(await (await engine.get(started[0]!)).result()).toBe("ada@example.com on free");
    const refused = await engine.emit("user.signup", { email: "not an address" });
    expect(refused.started).toEqual([]);
    expect(refused.rejected.map((r) => [r.workflow, r.error.name])).toEqual([
      ["signup", "InputError"],
    ]);
    await engine.close();
  });
});
