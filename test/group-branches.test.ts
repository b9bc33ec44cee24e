import { transform } from "ratchetjs/compiler";
import { describe, expect, it } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";

/**
 * A durable await inside a later branch of `ctx.parallel`/`ctx.gather` (issue 11): the
 * branches before it are step descriptions made before it, which cannot be stored at its
 * checkpoint. Refused at compile time (it failed every run with SerializationError); the
 * forms that compile run as the untransformed function does.
 */
describe("a durable await in a later branch of ctx.parallel/ctx.gather is refused", () => {
  const compile = (body: string) =>
    transform(
      `import { workflow } from "ratchetjs";\nimport { add, echo } from "./steps.js";\nexport const w = workflow(async (ctx, n) => {\n${body}\n});\n`,
      { filename: "w.ts", sourceMap: false },
    ).diagnostics.map((d) => `${d.code} ${d.line}:${d.column} ${d.message}\n${d.hint}`);

  it("in ctx.parallel's second branch: RATCHET1002 at the await, with the fix", () => {
    expect(
      compile(
        "return await ctx.parallel(ctx.step(add, n, 1), ctx.step(add, 1, await ctx.step(echo, 2)));",
      ),
    ).toStrictEqual([
      "RATCHET1002 4:65 A durable await inside a branch of `ctx.parallel(…)` after the first is not supported: the branches before it would be held across its checkpoint, and a step not yet run cannot be stored.\n" +
        "Await it before the call, in a const, and pass that: const value = await ctx.step(echo, 2); then ctx.step(…, value) in the branch.",
    ]);
  });

  it("in ctx.gather's second property, and in a third branch, and nested in an argument", () => {
    const codes = (body: string) => compile(body).map((d) => d.slice(0, 11));
    expect(
      codes(
        "return await ctx.gather({ a: ctx.step(add, n, 1), b: ctx.step(add, 1, await ctx.step(echo, 5)) });",
      ),
    ).toStrictEqual(["RATCHET1002"]);
    expect(
      codes(
        "return await ctx.parallel(ctx.step(add, n, 1), ctx.step(echo, 2), ctx.step(add, 1, [await ctx.step(echo, 2)][0]));",
      ),
    ).toStrictEqual(["RATCHET1002"]);
    expect(
      codes(
        "return await ctx.parallel(ctx.step(add, n, 1), ctx.step(add, 1, (await ctx.sleep(1), 2)));",
      ),
    ).toStrictEqual(["RATCHET1002"]);
  });

  it("in the first branch, hoisted into a const, or a plain await: not refused", () => {
    expect(
      compile(
        "return await ctx.parallel(ctx.step(add, await ctx.step(echo, 2), 1), ctx.step(add, 1, 2));",
      ),
    ).toStrictEqual([]);
    expect(
      compile(
        "const v = await ctx.step(echo, 2); return await ctx.parallel(ctx.step(add, n, 1), ctx.step(add, 1, v));",
      ),
    ).toStrictEqual([]);
    expect(
      compile(
        "return await ctx.parallel(ctx.step(add, n, 1), ctx.step(add, 1, await Promise.resolve(2)));",
      ),
    ).toStrictEqual([]);
  });
});

const cases: Record<string, OracleCase> = {
  "a durable await in the first branch's arguments": {
    params: "n",
    body: `return await ctx.parallel(ctx.step(add, await ctx.step(echo, 2), n), ctx.step(add, 1, 2));`,
    args: [1],
  },
  "a durable await in the only property of ctx.gather": {
    params: "n",
    body: `return await ctx.gather({ a: ctx.step(add, n, await ctx.step(echo, 5)) });`,
    args: [1],
  },
  "the inner await hoisted into a const before the call": {
    params: "n",
    body: `const v = await ctx.step(echo, 2);
return await ctx.parallel(ctx.step(add, n, 1), ctx.step(add, 1, v));`,
    args: [1],
  },
};

describe("the forms that compile match the untransformed function", () => {
  itMatchesPlain(cases);
});
