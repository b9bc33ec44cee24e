import { describe, expect, it } from "vitest";
import { transform } from "./index.js";

const header = `import { workflow } from "ratchetjs";\n`;

function manifestOf(body: string) {
  const out = transform(header + body, { filename: "src/flows.ts" });
  expect(out.diagnostics).toEqual([]);
  return out.workflows[0]!;
}

/** Each checkpoint as a resume signature: id, kind and the frame keys live there. */
function signatures(body: string): Record<string, string> {
  return Object.fromEntries(
    manifestOf(body).checkpoints.map((c) => [c.id, `${c.kind} ${c.live.join(",")}`]),
  );
}

describe("frame keys", () => {
  it("names the user's variables by name, and only shadowed block-level ones by their place", () => {
    const manifest = manifestOf(`
export const w = workflow(async (ctx, items: string[]) => {
  const total = await ctx.step("a", () => 1);
  let note = "top";
  for (const item of items) {
    const total = await ctx.step("b", () => item.length);
    if (total > 1) {
      const total = await ctx.step("c", () => 3);
      await ctx.sleep("1s");
      note += total;
    }
    note += total;
  }
  return [total, note];
});`);
    const live = Object.fromEntries(manifest.checkpoints.map((c) => [c.id, c.live]));
    expect(live["step:b"]).toContain("total");
    expect(live["step:c"]).toEqual(expect.arrayContaining(["total", "total@for-of", "note"]));
    expect(live["sleep:1s"]).toEqual(
      expect.arrayContaining(["total", "total@for-of", "total@for-of/if", "note"]),
    );
    expect(live["sleep:1s"]!.some((key) => key.startsWith("$"))).toBe(false);
  });

  it("keeps every other checkpoint's signature when an unrelated expression gains an await", () => {
    const before = signatures(`
export const w = workflow(async (ctx, a: number, b: number) => {
  const x = a + (await ctx.step("one", () => 1));
  const y = b * 2;
  const z = b - (await ctx.step("three", () => 3));
  return [x, y, z];
});`);
    const after = signatures(`
export const w = workflow(async (ctx, a: number, b: number) => {
  const x = a + (await ctx.step("one", () => 1));
  const y = b * (await ctx.step("two", () => 2));
  const z = b - (await ctx.step("three", () => 3));
  return [x, y, z];
});`);
    expect(after["step:one"]).toBe(before["step:one"]);
    expect(after["step:three"]).toBe(before["step:three"]);
    expect(after["step:two"]).toBeDefined();
  });

  it("gives the value kept before an await a key that changes with its expression", () => {
    const keysOf = (operand: string) =>
      manifestOf(`
export const w = workflow(async (ctx, a: number, b: number) => {
  const x = ${operand} + (await ctx.step("one", () => 1));
  return x;
});`).checkpoints[0]!.live.filter((key) => key.startsWith("step:one/"));
    // The compiler may re-read a plain variable after the await instead of keeping it;
    // what it keeps is named by the expression, so different expressions differ.
    const [one, other, same] = [keysOf("f(a)"), keysOf("f(b)"), keysOf("f( a /* the same */ )")];
    expect(one).toHaveLength(1);
    expect(one).not.toEqual(other);
    expect(one).toEqual(same);
  });

  it("names loop bookkeeping by the checkpoint it serves, not by a counter", () => {
    const body = (extra: string) => `
export const w = workflow(async (ctx, items: string[]) => {
  ${extra}
  for (const item of items) await ctx.step("visit", () => item);
  return items.length;
});`;
    const plain = signatures(body(""));
    const more = signatures(body(`const n = 1 + (await ctx.step("count", () => 1)); void n;`));
    expect(more["step:visit"]).toBe(plain["step:visit"]);
    expect(plain["step:visit"]).toContain("step:visit/list");
    expect(plain["step:visit"]).toContain("step:visit/index");
  });
});

describe("unassigned parameters", () => {
  it("lists the plain parameters nothing in the body assigns or declares again", () => {
    const manifest = manifestOf(`
export const w = workflow(async (ctx, kept: string, eq: number, plus: number, inc: number,
    pattern: string, obj: string, forOf: string, inner: number, again: string, dflt = 1,
    { a }: { a: number }, held: { n: number }, ...rest: number[]) => {
  eq = 2;
  plus += 1;
  inc++;
  [pattern] = ["x"];
  ({ k: obj } = { k: "y" });
  for (forOf of ["z"]) {}
  const bump = () => { inner = 3; };
  bump();
  if (kept) { const again = "shadow"; void again; }
  held.n = 4;
  await ctx.sleep("1s");
  return [kept, eq, plus, inc, pattern, obj, forOf, inner, again, dflt, a, held, rest, { kept }];
});`);
    // `held` is mutated in place, not assigned: listed (the runtime recovers only values
    // that cannot be mutated).
    expect(manifest.unassignedParams).toStrictEqual(["kept", "held"]);
  });
});
