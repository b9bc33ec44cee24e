import { type Diagnostic, transform } from "ratchetjs/compiler";
import { describe, expect, it } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";

/**
 * Function and class values in a workflow body around checkpoints (issue 11, items B, D, E):
 * each program either runs as the plain function does — uninterrupted and crashed then
 * resumed after every checkpoint — or is refused at compile time (RATCHET1007), never a
 * `SerializationError` at run time the compiler could have foreseen.
 */

// D: only what is live across a checkpoint matters. A class, or a function using one,
// made after the last checkpoint (or between two, used only before the next) crosses none.
const classesNotCrossing: Record<string, OracleCase> = {
  "a class declared after the last checkpoint": {
    params: "n",
    body: `const a = await ctx.step(echo, n);
class C { m() { return a + 1; } }
return new C().m();`,
    args: [1],
  },
  "a const arrow using a class, both after the last checkpoint": {
    params: "n",
    body: `const a = await ctx.step(echo, n);
class C { m() { return a + 1; } }
const make = () => new C();
return make().m();`,
    args: [1],
  },
  "a const arrow declared before the class it uses, both after the last checkpoint": {
    params: "n",
    body: `const a = await ctx.step(echo, n);
const make = () => new C();
class C { m() { return a + 2; } }
return make().m();`,
    args: [1],
  },
  "a function declaration using a class declared after the last checkpoint": {
    params: "n",
    body: `const a = await ctx.step(echo, n);
class C { m() { return a + 3; } }
function make() { return new C(); }
return make().m();`,
    args: [1],
  },
  "a function declaration called before the checkpoint, its class declared after": {
    params: "n",
    body: `function label(v) { return typeof C === "undefined" ? "none" : new C(v).s; }
let first;
try { first = label(1); } catch (e) { first = e.name; }
const a = await ctx.step(echo, n);
class C { constructor(v) { this.s = "C" + v; } }
return [first, label(a)];`,
    args: [2],
  },
  "a class declared between two checkpoints, used only before the next": {
    params: "n",
    body: `const a = await ctx.step(echo, n);
class C { m() { return a * 10; } }
const x = new C().m();
const b = await ctx.step(echo, x);
return [x, b];`,
    args: [3],
  },
  "a const arrow using a class between two checkpoints, called only before the next": {
    params: "n",
    body: `const a = await ctx.step(echo, n);
class Box { constructor(v) { this.v = v; } }
const wrap = (v) => new Box(v);
const x = wrap(a).v + 1;
const b = await ctx.step(echo, x);
return [x, b];`,
    args: [3],
  },
  "a class in a loop body after the loop's checkpoint": {
    params: "n",
    body: `const out = [];
for (let i = 0; i < n; i++) {
  const a = await ctx.step(add, i, 1);
  class C { m() { return a + i; } }
  out.push(new C().m());
}
return out;`,
    args: [3],
  },
  "a class and a const arrow in a loop body after the loop's checkpoint": {
    params: "n",
    body: `const out = [];
for (const v of [1, 2, 3].slice(0, n)) {
  const a = await ctx.step(add, v, 1);
  class P { constructor(x) { this.x = x; } }
  const mk = (x) => new P(x + a);
  out.push(mk(v).x);
}
return out;`,
    args: [3],
  },
  "a class in a loop without a checkpoint, after the last checkpoint": {
    params: "n",
    body: `const a = await ctx.step(echo, n);
const out = [];
for (let i = 0; i < a; i++) {
  class C { get v() { return i * 2; } }
  out.push(new C().v);
}
return out;`,
    args: [3],
  },
  "a class declared in a try after the checkpoint, used in catch and finally": {
    params: "n",
    body: `const out = [];
const a = await ctx.step(echo, n);
try {
  class E2 extends Error { constructor(m) { super(m); this.name = "E2"; } }
  out.push("try");
  throw new E2("x" + a);
} catch (e) {
  out.push(e.name + ":" + e.message);
} finally {
  out.push("finally");
}
return out;`,
    args: [4],
  },
  "a function declaration reading a variable reassigned after the checkpoint": {
    params: "n",
    body: `let k = n;
function show() { return k; }
const a = await ctx.step(echo, show());
k = a + 5;
return [a, show()];`,
    args: [1],
  },
};

function compile(body: string): Diagnostic[] {
  return transform(
    `import { workflow } from "ratchetjs";\nexport const w = workflow(async (ctx, n) => {\n${body}\n});\n`,
    { filename: "fn.ts", sourceMap: false },
  ).diagnostics;
}

const codes = (body: string) => compile(body).map((d) => `${d.code} ${d.line}:${d.column}`);

describe("D: classes and functions that cross no checkpoint compile", () => {
  itMatchesPlain(classesNotCrossing);
});

describe("D: a class or function value that does cross a checkpoint is RATCHET1007", () => {
  it("a class used after the checkpoint, by name or through a function", () => {
    expect(
      codes(`class C { m() { return 1; } }
const a = await ctx.step(echo, 1);
return new C().m() + a;`),
    ).toStrictEqual(["RATCHET1007 4:11"]);
    expect(
      codes(`class C { m() { return 1; } }
const make = () => new C();
const a = await ctx.step(echo, 1);
return make().m() + a;`),
    ).toStrictEqual(["RATCHET1007 5:11"]);
    expect(
      codes(`class C { m() { return 1; } }
function make() { return new C(); }
const a = await ctx.step(echo, 1);
return make().m() + a;`),
    ).toStrictEqual(["RATCHET1007 5:11"]);
    // Between two checkpoints, used after the second.
    expect(
      codes(`const a = await ctx.step(echo, 1);
class C { m() { return a; } }
const b = await ctx.step(echo, 2);
return new C().m() + b;`),
    ).toStrictEqual(["RATCHET1007 5:11"]);
  });

  it("says what the value is, where it is declared, and what to write", () => {
    const [cls] = compile(`const C = class { m() { return 1; } };
const a = await ctx.step(echo, 1);
return new C().m() + a;`);
    expect(cls?.message).toBe(
      "`C` (declared at 3:7) is a class and is used after this checkpoint: a class made in the workflow body cannot be persisted, and it is not made again on resume.",
    );
    expect(cls?.hint).toBe(
      "Declare the class at the top level of the module (it is then the same class after a resume), or use `C` only before this checkpoint or only after it.",
    );
    const [fn] = compile(`let f = () => 1;
const a = await ctx.step(echo, 1);
return f() + a;`);
    expect(fn?.message).toBe(
      "`f` (declared at 3:5) holds a function and is used after this checkpoint: a function cannot be persisted, and only a function declaration or a `const` holding a function written in place is made again on resume, not a `let`.",
    );
    expect(fn?.hint).toBe(
      "Declare it as `const f = (…) => …` or `function f(…) {…}` if it is not reassigned, or make it after this checkpoint.",
    );
  });
});

describe("a function declaration the body writes to", () => {
  it("is RATCHET1007 where it is used after a checkpoint: the re-made function would lose the write", () => {
    // Plain code: [] (the write silenced log); resumed, the function made again would log "b".
    expect(
      codes(`const out = []; function log(m) { out.push(m); }
if (n) log = () => {};
log("a"); await ctx.step(echo, 1); log("b");
return out;`),
    ).toStrictEqual(["RATCHET1007 5:11"]);
    expect(
      codes(`function f() { return 1 } f = 5; await ctx.step(echo, 1); return typeof f;`),
    ).toStrictEqual(["RATCHET1007 3:34"]);
    expect(
      codes(`function f() { return 1 } f++; await ctx.step(echo, 1); return f;`),
    ).toStrictEqual(["RATCHET1007 3:32"]);
    // Destructuring and a for…of head write it too.
    expect(
      codes(`function f() { return 1 } [f] = [() => 2]; await ctx.step(echo, 1); return f();`),
    ).toStrictEqual(["RATCHET1007 3:44"]);
    expect(
      codes(
        `function f() { return 1 } ({ g: f } = { g: () => 2 }); await ctx.step(echo, 1); return f();`,
      ),
    ).toStrictEqual(["RATCHET1007 3:56"]);
    expect(
      codes(
        `function f() { return 1 } for (f of [() => 2]) {} await ctx.step(echo, 1); return f();`,
      ),
    ).toStrictEqual(["RATCHET1007 3:51"]);
    const [d] = compile(`function f() { return 1 }
if (n) f = function () { return 2 };
const a = await ctx.step(echo, 1);
return f() + a;`);
    expect(d?.message).toBe(
      "`f` is a function declaration that the body writes to, `f = function () { return 2 }` (4:8), and is used after this checkpoint: a function declaration is made again on resume as it is written, so what the write put there would be lost.",
    );
  });

  it("compiles where nothing after a checkpoint uses it", () => {
    expect(
      codes(
        `function f() { return 1 } f = () => 2; const r = f(); await ctx.step(echo, 1); return r;`,
      ),
    ).toStrictEqual([]);
    expect(
      codes(`await ctx.step(echo, 1); function f() { return 1 } f = () => 2; return f();`),
    ).toStrictEqual([]);
    // After the checkpoint but in a loop around it, or in a nested function: refused.
    expect(
      codes(`function f() { return 1 }
for (let i = 0; i < 2; i++) { await ctx.step(echo, f()); f = () => 2; }`),
    ).toStrictEqual(["RATCHET1007 4:31"]);
    expect(
      codes(`function f() { return 1 }
quiet();
await ctx.step(echo, 1);
function quiet() { f = () => 2; }
return f();`),
    ).toStrictEqual(["RATCHET1007 5:1"]);
  });
});

// E: a function chosen by an expression, or reached by any way other than a function
// written as the whole initializer of a `const`, cannot be made again on resume. Live across
// a checkpoint it is RATCHET1007 at compile time, at the checkpoint, naming the expression.
describe("E: a function value the compiler cannot make again is refused at compile time", () => {
  const refused: [string, string][] = [
    ["a conditional with a branch that is not a function", "const f = n ? (v) => v + 1 : null;"],
    ["a conditional with a name that is not a function", "const g = 1; const f = n ? g : () => 2;"],
    ["a conditional with a let holding a function", "let g = () => 1; const f = n ? g : () => 2;"],
    ["a destructuring default", "const { f = () => 1 } = {};"],
    ["a nested destructuring default", "const { a: [f = () => 1] = [] } = {};"],
    ["|| with a literal on the left", "const f = null || (() => 2);"],
    ["?? with an arrow on the right", "const f = n ?? (() => 2);"],
    ["&& with an arrow on the right", "const f = n && (() => 2);"],
    ["a comma", "const f = (0, () => 1);"],
    ["another name for a const arrow", "const g = () => 1; const f = g;"],
    ["another name for a function declaration", "function g() { return 1; } const f = g;"],
    ["a bound function", "const g = (v) => v; const f = g.bind(null, 1);"],
    ["an immediately called arrow returning one", "const f = (() => () => 1)();"],
    ["a call of a body function returning one", "const mk = (x) => (v) => v + x; const f = mk(1);"],
    [
      "a call of a function declaration returning one",
      "function mk() { return () => 1; } const f = mk();",
    ],
    ["a member of a literal", "const f = [() => 1][0];"],
    ["an assignment expression", "let g; const f = (g = () => 1);"],
    ["a let assigned later", "let f = 0; f = () => 1;"],
    ["a let assigned by ??=", "let f; f ??= () => 1;"],
    ["a let assigned from a closure", "let f = null; const set = () => { f = () => 3; }; set();"],
    ["a destructuring assignment default", "let f; ({ f = () => 1 } = {});"],
    ["a var holding an arrow", "var f = () => 1;"],
    ["an array destructured from a literal", "const [f] = [() => 1];"],
    ["an object destructured from a literal", "const { f } = { f: () => 1 };"],
    ["an object literal with a method", "const f = { m() { return 1; } };"],
    ["an object literal with an arrow", "const f = { m: () => 1 };"],
    ["an object spread from one with a function", "const o = { m: () => 1 }; const f = { ...o };"],
    ["an array with a function declaration", "function g() {} const f = [g];"],
    ["an object given a function later", "const f = {}; f.run = () => 1;"],
    ["an instance of a class of the body", "class K { m() { return 1; } } const f = new K();"],
    ["a class expression in a conditional", "const f = n ? class {} : class {};"],
    // These were SerializationErrors at run time.
    [
      "an object given a function through a type assertion",
      "const f = {}; (f as any).run = () => 1;",
    ],
    ["an object given a function through !", "const f = {}; f!.run = () => 1;"],
    ["a let assigned a function in parentheses", "let f = 0; (f) = () => 1;"],
  ];
  for (const [name, declaration] of refused) {
    it(name, () => {
      const diagnostics = compile(`${declaration}
const a = await ctx.step(echo, 1);
return [typeof f, a];`);
      expect(diagnostics.map((d) => `${d.code} ${d.line}:${d.column}`)).toStrictEqual([
        "RATCHET1007 4:11",
      ]);
      expect(diagnostics[0]!.message).toMatch(/^`f` \(declared at 3:\d+\) /);
    });
  }

  it("names the expression and says what to write", () => {
    const [d] = compile(`const f = n ?? ((v) => v + 1);
const a = await ctx.step(echo, 1);
return f(a);`);
    expect(d?.message).toBe(
      "`f` (declared at 3:7) may hold a function or class made in the workflow body, from `n ?? ((v) => v + 1)` (3:11), and is used after this checkpoint: such a value cannot be persisted, and only a function declaration or a `const` whose initializer is the function itself is made again on resume.",
    );
    expect(d?.hint).toBe(
      "Give each function its own `const` (`const inc = (v) => …`), keep the choice as data, and choose where the function is called (`(up ? inc : dec)(x)`); or make `f` after this checkpoint.",
    );
    const [g] = compile(`const { g = () => 1 } = {};
const a = await ctx.step(echo, 1);
return g() + a;`);
    expect(g?.hint).toBe(
      "Give the function its own `const` (`const gDefault = () => …`) and choose where it is called (`(g ?? gDefault)()`), or make `g` after this checkpoint.",
    );
  });
});

// E, what compiles: the same shapes used only on one side of every checkpoint, data from the
// same shapes, and the rewrites the hints suggest.
const choicesNotCrossing: Record<string, OracleCase> = {
  "a conditional between two arrows, used before the checkpoint only": {
    params: "n",
    body: `const f = n ? (v) => v + 1 : (v) => v - 1;
const a = await ctx.step(echo, f(10));
return a;`,
    args: [1],
  },
  "a conditional between two arrows, made after the checkpoint": {
    params: "n",
    body: `const a = await ctx.step(echo, n);
const f = a ? (v) => v + 1 : (v) => v - 1;
return [f(10), f.name];`,
    args: [0],
  },
  "the hint's rewrite: one const per function, the choice kept as data": {
    params: "n",
    body: `const inc = (v) => v + 1;
const dec = (v) => v - 1;
const up = n > 0;
const a = await ctx.step(echo, 10);
const b = await ctx.step(echo, (up ? inc : dec)(a));
return [(up ? inc : dec)(b), inc.name, dec.name];`,
    args: [1],
  },
  "a destructuring default giving data, live across a checkpoint": {
    params: "n",
    body: `const { g = 5, h = [n] } = { g: n };
const a = await ctx.step(echo, g);
return [g, h, a];`,
    args: [2],
  },
  "the default's rewrite: a const of its own, chosen where it is called": {
    params: "n",
    body: `const gDefault = () => "default";
const { g } = {};
const a = await ctx.step(echo, 1);
return [(g ?? gDefault)(), a];`,
    args: [1],
  },
  "?? and || over data, live across a checkpoint": {
    params: "n",
    body: `const x = n ?? 3;
const y = null || [n, 2];
const a = await ctx.step(echo, 1);
return [x, y, a];`,
    args: [4],
  },
  "a call of a body function returning data": {
    params: "n",
    body: `const mk = (x) => ({ x, twice: x * 2 });
function label(v) { return "#" + v; }
const o = mk(n);
const s = label(n);
const a = await ctx.step(echo, o.twice);
return [o, s, a];`,
    args: [3],
  },
  "an instance of a class with extends (an Error), live across a checkpoint": {
    params: "n",
    body: `class Oops extends Error { constructor(m) { super(m); this.name = "Oops"; } }
const e = new Oops("bad " + n);
const a = await ctx.step(echo, 1);
return [e.name, e.message, a];`,
    args: [1],
  },
  "an object with a function, used before the checkpoint only": {
    params: "n",
    body: `const handlers = { done: (v) => v * 3 };
const a = await ctx.step(echo, handlers.done(n));
return a;`,
    args: [2],
  },
  "a member read of data from an array that also held functions": {
    params: "n",
    body: `const a0 = [() => 1, () => 2, "x"];
const names = [a0[0].name, a0[1].name, a0[2]];
const a = await ctx.step(echo, names);
return [names, a];`,
    args: [1],
  },
};

// E, made again on resume: a `const` holding a conditional whose every branch is a function
// written in place keeps the number of the branch taken, and a resume makes that branch's
// function again.
const choices: Record<string, OracleCase> = {
  "a conditional between two arrows, live across checkpoints": {
    params: "n",
    body: `const f = n > 0 ? (v) => v + 1 : (v) => v - 1;
const a = await ctx.step(echo, 10);
const b = await ctx.step(echo, f(a));
return [f(b), f.name, f.length];`,
    args: [1],
  },
  "the other branch": {
    params: "n",
    body: `const f = n > 0 ? (v) => v + 1 : (v) => v - 1;
const a = await ctx.step(echo, 10);
return [f(a), f.name];`,
    args: [-1],
  },
  "nested conditionals, a function expression, captures reassigned after the checkpoint": {
    params: "n",
    body: `let k = 10;
const f = n === 1 ? (v) => v + k : n === 2 ? async (v) => v - k : function (v) { return v * k; };
const a = await ctx.step(echo, 3);
k = 20;
const r = await f(a);
return [r, f.name, typeof f];`,
    args: [2],
  },
  "a chosen function with properties, and one calling another": {
    params: "n",
    body: `const base = (v) => v * 2;
const f = n ? (v) => base(v) + (f.extra ?? 0) : (v) => base(v);
f.extra = 5;
const a = await ctx.step(echo, f(1));
f.extra += a;
const b = await ctx.step(echo, f(1));
return [a, b, f.extra];`,
    args: [1],
  },
  "a conditional between the names of functions made again, identity kept": {
    params: "n",
    body: `const inc = (v) => v + 1;
function dec(v) { return v - 1; }
const f = n > 0 ? inc : n < 0 ? dec : (v) => v;
const a = await ctx.step(echo, 10);
return [f(a), f === inc, f === dec, f.name];`,
    args: [-1],
  },
  "a conditional between names, the const arrow taken": {
    params: "n",
    body: `const inc = (v) => v + 1;
function dec(v) { return v - 1; }
const f = n > 0 ? inc : dec;
const a = await ctx.step(echo, f(10));
return [f(a), f === inc, f.name];`,
    args: [1],
  },
  "a chosen function in a loop holding a checkpoint": {
    params: "n",
    body: `const out = [];
for (let i = 0; i < n; i++) {
  const f = i % 2 ? (v) => v + 100 : (v) => v - 100;
  const a = await ctx.step(add, i, 1);
  out.push(f(a));
}
return out;`,
    args: [3],
  },
};

describe("E: a conditional between functions is made again on resume", () => {
  itMatchesPlain(choices);
  it("not when a branch captures a per-iteration variable of a loop holding a checkpoint", () => {
    expect(
      codes(`const out = [];
for (let i = 0; i < n; i++) {
  const f = i % 2 ? () => i : () => -i;
  const a = await ctx.step(add, i, 1);
  out.push(f() + a);
}
return out;`),
    ).toStrictEqual(["RATCHET1007 6:13"]);
  });
});

describe("E: the shapes that compile", () => {
  itMatchesPlain(choicesNotCrossing);
});

// B: a function made again on resume (a declaration, a `const` arrow) gets back the own
// properties the body gave it: the frame keeps them beside the variables (`counter/props`).
const functionProperties: Record<string, OracleCase> = {
  "a counter kept on a function declaration": {
    params: "n",
    body: `function counter() { counter.calls = (counter.calls ?? 0) + 1; return counter.calls; }
counter();
const a = await ctx.step(echo, counter());
counter();
const b = await ctx.step(echo, a);
return [counter(), counter.calls, a, b];`,
    args: [1],
  },
  "a cache on a function, shared with a variable (one object after a resume)": {
    params: "n",
    body: `function price(k) {
  price.cache ??= {};
  return (price.cache[k] ??= k.length * 10);
}
price("ab");
const cache = price.cache;
const a = await ctx.step(echo, price("abc"));
price("abcd");
return [a, cache === price.cache, price.cache, Object.keys(cache)];`,
    args: [1],
  },
  "properties of a const arrow": {
    params: "n",
    body: `const f = (v) => v + (f.offset ?? 0);
f.offset = n * 100;
f.tags = ["a"];
const a = await ctx.step(echo, f(1));
f.tags.push("b");
const b = await ctx.step(echo, f(2));
return [a, b, f.offset, f.tags, f.name, f.length];`,
    args: [2],
  },
  "Object.assign and Object.defineProperty on a function": {
    params: "n",
    body: `function meta() { return 1; }
Object.assign(meta, { version: n, limits: new Map([["x", 1]]) });
Object.defineProperty(meta, "hidden", { value: "h", writable: true });
const a = await ctx.step(echo, meta.version);
return [a, meta.version, meta.limits, meta.hidden];`,
    args: [3],
  },
  "a property given after the last checkpoint": {
    params: "n",
    body: `function g() { return g.x; }
const a = await ctx.step(echo, n);
g.x = a;
return g();`,
    args: [4],
  },
  "a property changed in a loop holding a checkpoint": {
    params: "n",
    body: `function tally(v) { tally.total = (tally.total ?? 0) + v; }
for (let i = 0; i < n; i++) {
  tally(await ctx.step(add, i, 1));
}
return tally.total;`,
    args: [3],
  },
  "a compound assignment to a function's property with a durable await": {
    params: "n",
    body: `function stats() {}
stats.sum = 0;
stats.sum += await ctx.step(add, n, 1);
stats.sum += await ctx.step(add, n, 2);
return stats.sum;`,
    args: [1],
  },
  "a function's property assigned, keyed and ||= with durable awaits": {
    params: "n",
    body: `function s() {}
s.v = await ctx.step(echo, n);
s[await ctx.step(echo, "k")] = s.v + 1;
s.z = 0;
s.z ||= await ctx.step(add, n, 5);
const t = () => 0;
t.list = [];
t.list[await ctx.step(echo, 0)] = "first";
return [s.v, s.k, s.z, t.list];`,
    args: [2],
  },
  "a property deleted before the checkpoint": {
    params: "n",
    body: `function h() {}
h.temp = 1;
delete h.temp;
const a = await ctx.step(echo, n);
return ["temp" in h, a];`,
    args: [1],
  },
  "a function whose properties are read by a function made again": {
    params: "n",
    body: `function config() {}
config.rate = n;
const apply = (v) => v * config.rate;
const a = await ctx.step(echo, 5);
return apply(a);`,
    args: [3],
  },
  // Every member use wrapped in a type assertion, parentheses or `!`: the properties were
  // not kept (plain 2, resumed 1; an empty list for Object.assign and Reflect.set).
  "properties given through a type assertion": {
    form: "function",
    thisType: "void",
    params: "n",
    body: `function counter() { (counter as any).calls = ((counter as any).calls ?? 0) + 1; return (counter as any).calls; }
counter();
await ctx.step(echo, n);
return counter();`,
    args: [3],
  },
  "properties of a generic const arrow given through a type assertion": {
    form: "function",
    thisType: "void",
    params: "n",
    body: `const id = <T,>(v: T): T => v;
(<any>id).tag = "t";
await ctx.step(echo, n);
return [id(n), (id as any)!.tag];`,
    args: [3],
  },
  "properties given by Object.assign((f), …) and Reflect.set(f as any, …)": {
    form: "function",
    thisType: "void",
    params: "n",
    body: `function f() {}
function g() {}
Object.assign((f), { a: n });
Reflect.set(g as any, "b", 2);
await ctx.step(echo, n);
return [Object.entries(f), Object.entries(g)];`,
    args: [3],
  },
  // Through its own name: plain 2, resumed 1.
  "properties a named function expression gives itself": {
    params: "n",
    body: `const f = function self() { self.calls = (self.calls ?? 0) + 1; return self.calls; };
f();
await ctx.step(echo, n);
return f();`,
    args: [3],
  },
};

describe("B: properties given to a function made again on resume are kept", () => {
  itMatchesPlain(functionProperties);
});

describe("B: a property that cannot be persisted", () => {
  it("a function given as a property is RATCHET1007 at compile time", () => {
    const [d, ...rest] = compile(`function s() {}
s.helper = () => 1;
const a = await ctx.step(echo, 1);
return s.helper() + a;`);
    expect(rest).toStrictEqual([]);
    expect(`${d?.code} ${d?.line}:${d?.column}`).toBe("RATCHET1007 5:11");
    expect(d?.message).toBe(
      "`s` is given a function or class as a property, `s.helper` (4:1), and is used after this checkpoint: the frame keeps a function's properties for its resume, and a function cannot be persisted.",
    );
    // Used only before the checkpoint, or given after it: nothing to keep.
    expect(
      codes(`function s() {}
s.helper = () => 1;
const a = await ctx.step(echo, s.helper());
return a;`),
    ).toStrictEqual([]);
  });

  it("one the compiler cannot see is a SerializationError naming the function's properties", async () => {
    const { load, runCompiled } = await import("./support/oracle.js");
    const { compiled } = await load({
      params: "n",
      body: `function s() { return s.n; }
Object.assign(s, { n, helper: () => 1 });
const a = await ctx.step(echo, 1);
return s() + a;`,
      args: [1],
    });
    const outcome = await runCompiled(compiled, [1]);
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? "" : outcome.error).toMatch(
      /^SerializationError: Cannot persist the properties of function `s` at checkpoint step:echo .*: a function \(helper\) cannot be stored \(at s\.helper\)/,
    );
  });
});
