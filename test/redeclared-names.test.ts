import { transform } from "ratchetjs/compiler";
import { describe, expect, it } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";

/**
 * A name declared twice in one function is one variable (issue 11): a `var` of a
 * parameter's name is the parameter, a `var` and a function declaration of one name are one
 * variable, and a `var` inside a `catch` named like its parameter assigns the parameter
 * (Annex B.3.5). Against the oracle: uninterrupted and crashed after every checkpoint.
 */
const cases: Record<string, OracleCase> = {
  "var options = options || {} reads the argument": {
    params: "options",
    body: `var options = options || {};
return await ctx.step(echo, options.retries ?? 3);`,
    args: [{ retries: 7 }],
  },
  "var options = options || {} without the argument": {
    params: "options",
    body: `var options = options || {};
return await ctx.step(echo, options.retries ?? 3);`,
    args: [],
  },
  "var n = n * 2, then a checkpoint": {
    params: "n",
    body: `var n = n * 2;
await ctx.step(echo, n);
return n;`,
    args: [4],
  },
  "var in a nested block redeclaring a parameter": {
    params: "limit",
    body: `if (limit === undefined) { var limit = 10; }
return await ctx.step(echo, limit);`,
    args: [5],
  },
  "var in a nested block redeclaring a parameter, taken": {
    params: "limit",
    body: `if (limit === undefined) { var limit = 10; }
return await ctx.step(echo, limit);`,
    args: [],
  },
  "var without an initializer keeps the argument": {
    params: "n",
    body: `var n;
await ctx.step(echo, 1);
return n;`,
    args: [3],
  },
  "for (var i = i; …) over a parameter": {
    params: "i",
    body: `const out = [];
for (var i = i; i < 3; i++) out.push(await ctx.step(echo, i));
return [out, i];`,
    args: [1],
  },
  "for (var k in …) over a parameter": {
    params: "k, o",
    body: `const out = [k];
for (var k in o) out.push(await ctx.step(echo, k));
return [out, k];`,
    args: ["first", { a: 1, b: 2 }],
  },
  "var destructuring a parameter's own name": {
    params: "p",
    body: `var { p } = { p: p + 1 };
await ctx.step(echo, p);
return p;`,
    args: [1],
  },
  "var of a parameter with a default": {
    params: "n = 2",
    body: `var n = n + 1;
return await ctx.step(echo, n);`,
    args: [],
  },
  "var of a parameter after the checkpoint": {
    params: "n",
    body: `const before = await ctx.step(echo, n);
var n = n + before;
return n;`,
    args: [5],
  },
  "var of a parameter, function form": {
    params: "options",
    body: `var options = options || {};
return await ctx.step(echo, options.retries ?? 3);`,
    args: [{ retries: 7 }],
    form: "function",
  },
  "var of a parameter, @workflow method": {
    params: "options",
    body: `var options = options || {};
return await ctx.step(echo, options.retries ?? 3);`,
    args: [{ retries: 7 }],
    form: "method",
  },
  "var of a parameter inside a nested function": {
    params: "n",
    body: `const g = (x) => { var x = x + 1; return x; };
const a = await ctx.step(echo, g(n));
return [a, g(a)];`,
    args: [1],
  },
  "var f = 1 and function f: the var's assignment wins": {
    params: "n",
    body: `var f = 1;
function f() { return 2; }
await ctx.step(echo, 1);
return typeof f;`,
    args: [1],
  },
  "function f called before var f = 1 assigns": {
    params: "n",
    body: `function f() { return 2; }
const a = f();
var f = 1;
await ctx.step(echo, a);
return [a, typeof f];`,
    args: [1],
  },
  "var f without a value leaves function f": {
    params: "n",
    body: `var f;
function f() { return n + 1; }
const a = await ctx.step(echo, 1);
return f() + a;`,
    args: [1],
  },
  "var e = 5 inside catch (e) writes the catch parameter": {
    params: "n",
    body: `try { await ctx.step(boom, "x"); } catch (e) { var e = 5; return e; }`,
    args: [1],
  },
  "var e inside catch (e), then a checkpoint, and e after the catch": {
    params: "n",
    body: `const out = [];
try { await ctx.step(boom, "x"); } catch (e) {
  var e = 5;
  out.push(await ctx.step(echo, e));
  out.push(e);
}
out.push(e === undefined);
return out;`,
    args: [1],
  },
  "var n = n * 3 with a default among the parameters": {
    params: "n = 2, m = n + 1",
    body: `var n = n * 3;
await ctx.step(echo, n);
return [n, m];`,
    args: [],
  },
  "a closure in the parameters and the parameter assigned without var": {
    params: "n, read = () => n",
    body: `n = 5;
const r = read();
await ctx.step(echo, n);
return [n, r];`,
    args: [1],
  },
};

describe("a name declared twice in one function is one variable", () => {
  itMatchesPlain(cases);
});

describe("a var beside a parameter a closure in the parameters reads", () => {
  it("is RATCHET1001: with a default in the parameters, the var is a second variable", () => {
    // Plain [5, 1] (read() sees the parameter); compiled, one variable gave [5, 5].
    const { diagnostics } = transform(
      `import { workflow } from "ratchetjs";
export const w = workflow(async (ctx, n, read = () => n) => {
  var n = 5;
  const r = read();
  await ctx.step(echo, n);
  return [n, r];
});`,
      { filename: "w.ts", sourceMap: false },
    );
    expect(diagnostics.map((d) => `${d.code} ${d.line}:${d.column}`)).toStrictEqual([
      "RATCHET1001 3:7",
    ]);
    expect(diagnostics[0]!.message).toBe(
      "`var n` declares a variable beside the parameter `n`, which a function in the parameters reads (2:55): with a default among its parameters, a function's `var` of a parameter's name is a second variable, and the compiled workflow would have one.",
    );
    expect(diagnostics[0]!.hint).toBe(
      "Give the variable another name (`var n2 = …`), or assign the parameter without `var`.",
    );
  });
});
