import { formatDiagnostic, transform } from "ratchetjs/compiler";
import { describe, expect, it } from "vitest";
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

// An object or array literal before a durable await in the same expression: kept in a
// temporary, one holding a method, an accessor, a symbol key or a prototype could not be
// persisted. Made after the await where that is unobservable, its parts that run code
// evaluated in order before it.
const beforeAnAwait: Record<string, OracleCase> = {
  "a method in a call's arguments": {
    params: "n",
    body: `const use = (o, v) => [o.m(), o.m.name, v];
return use({ m() { return n * 2; } }, await ctx.step(add, n, 1));`,
    args: [3],
  },
  "a getter in an array literal, an accessor pair keeping state": {
    params: "n",
    body: `const r = [{ get x() { return n * 2; } }, { _v: 1, get v() { return this._v; }, set v(x) { this._v = x * 10; } }, await ctx.step(add, n, 1)];
r[1].v = r[2];
return [r[0].x, typeof Object.getOwnPropertyDescriptor(r[0], "x").get, r[1].v, r[2]];`,
    args: [3],
  },
  "a module's symbol as a key, of a value and of a method": {
    prelude: `const tag = Symbol("tag");`,
    params: "n",
    body: `const use = (o, v) => [o[tag], o[tag + ""] ?? null, v];
const r = use({ [tag]: n }, await ctx.step(add, n, 1));
const s = ((o, v) => [o[tag](), o[tag].name, v])({ [tag]() { return n + 1; } }, await ctx.step(add, n, 2));
return [r, s];`,
    args: [3],
  },
  "symbols made in place as keys: Symbol(), Symbol.for, Symbol.iterator": {
    params: "n",
    body: `const a = ((o, v) => [Object.getOwnPropertySymbols(o).map((s) => s.description), o[Symbol.for("k")], v])({ [Symbol.for("k")]: n, [Symbol("local")]: 2 }, await ctx.step(add, n, 1));
const b = ((o, v) => [[...o], v])({ *[Symbol.iterator]() { yield n; yield n + 1; } }, await ctx.step(add, n, 2));
const c = ((o, v) => [o[Object.getOwnPropertySymbols(o)[0]].name, v])({ [Symbol("m")]() { return 1; } }, await ctx.step(add, n, 3));
return [a, b, c];`,
    args: [3],
  },
  "a prototype given by __proto__, and __proto__ as an own property": {
    prelude: `const greeter = { hi() { return "hi " + this.who; } };`,
    params: "n",
    body: `const use = (o, v) => [o.hi?.() ?? null, Object.getPrototypeOf(o) === greeter, Object.keys(o), v];
const a = use({ __proto__: greeter, who: "a" }, await ctx.step(add, n, 1));
const b = use({ "__proto__": greeter, who: "b", m() {} }, await ctx.step(add, n, 2));
const c = use({ __proto__: null, who: "c" }, await ctx.step(add, n, 3));
const d = [({ ["__proto__"]: greeter, m() {} }).__proto__ === greeter, await ctx.step(add, n, 4)];
// (A variable named __proto__ cannot be persisted: this one is not live at a checkpoint.)
let __proto__ = 5;
const e = [Object.keys({ __proto__, m() {} }), Object.keys({ __proto__, f: () => 1, v: await ctx.step(add, n, (__proto__ = 7)) })];
return [a, b, c, d, e];`,
    args: [3],
  },
  "a function value keeps the name its key gives it": {
    params: "n",
    body: `const names = (o, v) => [Object.keys(o).map((k) => o[k].name), v];
const a = names({ f: () => 1, g: function () {}, C: class {} }, await ctx.step(add, n, 1));
const k = "dyn";
const b = names({ [k]: () => 1, ["k" + n]: () => 2 }, await ctx.step(add, n, 2));
return [a, b];`,
    args: [3],
  },
  "parts that run code run in order, before the await": {
    params: "n",
    body: `const log = [];
let total = 1;
const mark = (x) => { log.push(x); return x; };
const bump = () => { total = 100; log.push("bump"); return 2; };
const src = { get g() { log.push("getter"); return total; }, p: 1 };
const use = (o, v) => [o.m(), o.w, o.v, o.a, o.g, o.p, v];
const r = use({ m() { return total; }, w: total, v: bump(), [mark("a")]: mark(1), ...src }, await ctx.step(add, mark("step"), n));
return [r, log, total];`,
    args: [3],
  },
  "nested literals, literals holding a durable await": {
    params: "n",
    body: `const use = (a, v) => [a[0].m(), a[1].cb(), a[1].cb.name, a[2].inner.g, v];
const r = use([{ m() { return 1; } }, { cb: () => 2 }, { inner: { get g() { return n; } } }], await ctx.step(add, n, 1));
const s = ((a, v) => [a.m(), a.v, v])({ m() { return n; }, v: await ctx.step(add, n, 2) }, await ctx.step(add, n, 3));
const t = [[() => n, { get x() { return 7; } }, await ctx.step(add, n, 4)], await ctx.step(add, n, 5)];
return [r, s, [t[0][0](), t[0][1].x, t[0][2], t[1]]];`,
    args: [3],
  },
  "a class made without code, in a call and in new": {
    params: "n",
    body: `const use = (C, v) => [new C().m(), C.k, C.name, v];
const a = use(class { static k = 1; m() { return 2; } }, await ctx.step(add, n, 1));
const b = use(class Named { static k = "k"; ["m"]() { return 3; } }, await ctx.step(add, n, 2));
return [a, b];`,
    args: [3],
  },
  "a let read after the await when nothing between changes it": {
    params: "n",
    body: `let k = "a";
let v = n;
const r = ((o, s) => [o.a, o.m(), s])({ [k]: v, m() { return v; } }, await ctx.step(add, n, 1));
k = "b";
v = 0;
const s = ((o, s) => [o.b, o.m(), s])({ [k]: v, m() { return v; } }, await ctx.step(add, v, (v = 9)));
return [r, s, v];`,
    args: [3],
  },
  "in a loop: each iteration's method sees its binding": {
    params: "n",
    body: `const out = [];
const use = (o, v) => [o.m(), o.k(), v];
for (let i = 0; i < 3; i++) {
  out.push(use({ m() { return i; }, k: () => i * 10 }, await ctx.step(add, i, n)));
}
return out;`,
    args: [3],
  },
  "a literal chosen by a condition: the test runs before the await, once": {
    params: "n",
    body: `const log = [];
const pick = (x) => { log.push("test"); return x; };
const use = (o, v) => [o === null ? null : [o.m?.(), o.f?.(), o.f?.name], v];
const a = use(pick(n > 1) ? { m() { return n; } } : null, await ctx.step(add, n, 1));
const b = use(pick(n > 5) ? { m() { return 1; } } : { f: () => 2 }, await ctx.step(add, n, 2));
return [a, b, log];`,
    args: [3],
  },
  "a read in its dead zone throws before the step": {
    params: "n",
    body: `const use = (o, v) => [o.x, v];
let r;
try {
  r = use({ m() {}, x }, await ctx.step(add, n, 1));
} catch (e) {
  r = e.name;
}
let x = 1;
return [r, x];`,
    args: [3],
  },
};

describe("object and array literals before a durable await match the untransformed function", () => {
  itMatchesPlain(beforeAnAwait);
});

describe("literals that would have to be kept across a checkpoint are refused", () => {
  const compile = (body: string) =>
    transform(
      `import { workflow } from "ratchetjs";
export const w = workflow(async (ctx, n) => {
${body}
});`,
      { filename: "w.ts", sourceMap: false },
    ).diagnostics.map(formatDiagnostic);

  it("a class whose making runs code", () => {
    const diagnostics = compile(`class Base {}
const use = (...a) => a;
return use(class extends Base {}, await ctx.step(f, n));`);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatch(
      /^w\.ts:5:12 - error RATCHET1007: This class is made before the durable await at 5:35/,
    );
    expect(diagnostics[0]).toMatch(/Make the class after the await/);
    expect(
      compile(`const use = (...a) => a;
return use(class { static { console.log(1); } }, await ctx.step(f, n));`),
    ).toHaveLength(1);
    expect(
      compile(`const use = (...a) => a;
return use(class { static k = Date.now(); }, await ctx.step(f, n));`),
    ).toHaveLength(1);
  });

  it("a prototype given by an expression", () => {
    const diagnostics = compile(`const use = (...a) => a;
return use({ __proto__: Object.create(null), m() {} }, await ctx.step(f, n));`);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatch(
      /^w\.ts:4:14 - error RATCHET1002: This object's prototype \(`__proto__`\) is evaluated before the durable await at 4:56/,
    );
    expect(diagnostics[0]).toMatch(/const proto = /);
  });
});

describe("object literals in loops holding a checkpoint match the untransformed function", () => {
  itMatchesPlain(perIteration);
});
