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
