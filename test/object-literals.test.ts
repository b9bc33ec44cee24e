import { describe } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";

/**
 * Object literals beside durable awaits and in loops that hold a checkpoint, against the
 * oracle: the untransformed body and the compiled workflow give the same result or error and
 * the same step calls, uninterrupted and crashed then resumed after each checkpoint.
 */

// A closure in a loop holding a checkpoint gets the binding of its iteration through a
// wrapper; under a computed key JavaScript names it after the key's value, so the object is
// made inside the wrapper as a whole.
const perIteration: Record<string, OracleCase> = {
  "a closure under a computed key keeps the key's name": {
    params: "n",
    body: `const out = [];
for (let i = 0; i < 2; i++) {
  const o = { ["on" + i]: () => i, plain: () => i };
  out.push(o["on" + i].name, o["on" + i](), o.plain.name);
  await ctx.step(add, n, 1);
}
return out;`,
    args: [1],
  },
  "symbol and number keys, function and class expressions under computed keys": {
    params: "n",
    body: `const out = [];
for (const i of [1, 2]) {
  const s = Symbol("tag" + i);
  const o = { [s]: () => i, [i]: function () { return i; }, [\`c\${i}\`]: class { get v() { return i; } } };
  out.push(o[s].name, o[s](), o[i].name, o[i](), o["c" + i].name, new o["c" + i]().v);
  await ctx.step(add, n, i);
}
return out;`,
    args: [1],
  },
  "an object beside an await in its loop: methods see their iteration's binding": {
    params: "n",
    body: `const objs = [];
for (let i = 0; i < 3; i++) {
  const o = { m() { return i; }, [\`k\${i}\`]: () => i * 10, v: i === n ? await ctx.step(add, n, i) : i };
  objs.push(o);
}
const out = objs.map((o, j) => [o.m(), o["k" + j](), o["k" + j].name, o.v]);
return [out, await ctx.step(echo, "end")];`,
    args: [5],
  },
  "an object beside an await taken in each iteration": {
    params: "n",
    body: `const out = [];
for (let i = 0; i < 3; i++) {
  const o = { m() { return i; }, get g() { return i + 1; }, [\`k\${i}\`]: () => i * 10, v: await ctx.step(add, n, i) };
  out.push(o.m(), o.g, o["k" + i](), o["k" + i].name, o.v);
}
return out;`,
    args: [5],
  },
};

describe("object literals in loops holding a checkpoint match the untransformed function", () => {
  itMatchesPlain(perIteration);
});
