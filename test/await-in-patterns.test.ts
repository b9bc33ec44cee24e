import { readFileSync } from "node:fs";
import { createEngine, SerializationError, workflow } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { describe, expect, it } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";
import { echo } from "./support/steps.js";

/**
 * Durable awaits inside destructuring patterns — defaults, computed keys, nested patterns,
 * rest elements — against the untransformed function: same result or error and same step
 * calls, uninterrupted and crashed-then-resumed after each checkpoint.
 */
const cases: Record<string, OracleCase> = {
  "an object default runs only when the property is undefined": {
    params: "o",
    body: `const { a = await ctx.step(add, 1, 1), b = await ctx.step(add, 2, 2), c } = o;
return [a, b, c];`,
    args: [{ a: 0, b: undefined, c: null }],
  },
  "an object default with null is not taken": {
    params: "o",
    body: `const { a = await ctx.step(echo, "d") } = o;
return a;`,
    args: [{ a: null }],
  },
  "an array default, holes and a rest element": {
    params: "xs",
    body: `const [x = await ctx.step(add, 1, 2), , y = await ctx.step(echo, "y"), ...rest] = xs;
return [x, y, rest];`,
    args: [[undefined, 9, undefined, 4, 5]],
  },
  "an array pattern longer than the array": {
    params: "xs",
    body: `const [a, b = await ctx.step(echo, "b"), c = await ctx.step(echo, "c"), ...rest] = xs;
return [a, b, c, rest];`,
    args: [[1]],
  },
  "nested patterns with defaults inside defaults": {
    params: "o",
    body: `const {
  p: [q = await ctx.step(echo, "q"), r = q + 1] = [],
  s: { t = await ctx.step(add, 1, 1), u = t * 10 } = { t: undefined },
  v: [{ w = await ctx.step(echo, "w") } = {}] = [],
} = o;
return [q, r, t, u, w];`,
    args: [{ p: undefined }],
  },
  "defaults and computed keys evaluated left to right": {
    params: "o",
    body: `const log = [];
const key = (k) => (log.push("key " + k), k);
const {
  [key("a")]: a = (log.push("default a"), await ctx.step(echo, "a")),
  [key("b")]: b = (log.push("default b"), 2),
  [await ctx.step(echo, "c")]: c = log.length,
} = o;
return [a, b, c, log];`,
    args: [{ b: 5 }],
  },
  "object rest excludes the named keys, computed ones too": {
    params: "o",
    body: `const k = "b";
const { a = await ctx.step(echo, "a"), [k]: b, ...rest } = o;
return [a, b, rest, Object.keys(rest)];`,
    args: [{ b: 2, c: 3, d: 4, 1: "one" }],
  },
  "a later binding read in an earlier default is in its dead zone": {
    params: "o",
    body: `try {
  const { a = await ctx.step(echo, "a"), b = c, c } = o;
  return [a, b, c];
} catch (e) {
  return e.name + ": " + e.message;
}`,
    args: [{ c: 1 }],
  },
  "an earlier binding read in a later default": {
    params: "xs",
    body: `let [a = await ctx.step(add, 1, 1), b = a * 2, c = await ctx.step(add, b, a)] = xs;
a += 1;
return [a, b, c];`,
    args: [[]],
  },
  "a generator is iterated once, in order, and closed when the pattern ends early": {
    params: "n",
    body: `const log = [];
function* numbers() {
  try {
    for (let i = 1; ; i++) { log.push("next " + i); yield i; }
  } finally { log.push("closed"); }
}
const [a, b = await ctx.step(echo, "b")] = numbers();
log.push("after");
return [a, b, log];`,
    args: [1],
  },
  "a generator that ends before the pattern does is not closed": {
    params: "n",
    body: `const log = [];
function* two() {
  try { yield 1; yield undefined; } finally { log.push("finished"); }
}
const [a, b = await ctx.step(echo, "b"), c = await ctx.step(echo, "c"), ...rest] = two();
return [a, b, c, rest, log];`,
    args: [1],
  },
  "a Set, a string and a Map destructured": {
    params: "n",
    body: `const [s1, s2 = await ctx.step(echo, "s2")] = new Set([1]);
const [c1, c2 = await ctx.step(echo, "c2"), ...cs] = "héllo";
const [[k, v = await ctx.step(echo, "v")]] = new Map([["k", undefined]]);
return [s1, s2, c1, c2, cs, k, v];`,
    args: [1],
  },
  "an array that grows in a default is read lazily, and stays done once done": {
    params: "n",
    body: `const xs = [undefined];
const [a = (xs.push(7), await ctx.step(echo, "a")), b, c = (xs.push(8, 9), await ctx.step(echo, "c")), d] = xs;
return [a, b, c, d, xs];`,
    args: [1],
  },
  "destructuring null or a non-iterable throws TypeError": {
    params: "o, x",
    body: `const out = [];
try { const { a = await ctx.step(echo, "a") } = o; out.push(a); } catch (e) { out.push(e.name, e.message); }
try { const { b } = { b: await ctx.step(echo, "b") }, [c = await ctx.step(echo, "c")] = x; out.push(b, c); } catch (e) { out.push(e.name, e.message); }
return out;`,
    args: [null, 5],
  },
  "a default that throws": {
    params: "o",
    body: `let a = "before";
try {
  ({ a = await ctx.step(boom, "no") } = o);
} catch (e) { return [a, e.message]; }
return a;`,
    args: [{}],
  },
  "assignment patterns with member targets and the value of the assignment": {
    params: "xs",
    body: `const box = {};
const arr = [];
let i = 0;
const r = ([box.a = await ctx.step(echo, "a"), arr[i++] = await ctx.step(add, i, 1), ...box.rest] = xs);
return [box, arr, i, r === xs];`,
    args: [[undefined, undefined, 3, 4]],
  },
  "for…of heads and catch parameters with awaits in defaults": {
    params: "rows",
    body: `const out = [];
for (const { id, qty = await ctx.step(add, id, 100) } of rows) out.push([id, qty]);
try { throw { code: undefined }; } catch ({ code = await ctx.step(echo, "E") }) { out.push(code); }
return out;`,
    args: [[{ id: 1 }, { id: 2, qty: 5 }, { id: 3 }]],
  },
  "an anonymous function default takes the binding's name": {
    params: "o",
    body: `const { g = await ctx.step(echo, "g"), f = () => 1, h = class {}, i = function () {} } = o;
return [f.name, g, h.name, i.name];`,
    args: [{}],
  },
  "closures over pattern bindings in a loop with checkpoints": {
    params: "rows",
    body: `const fns = [];
for (const row of rows) {
  const [a, b = await ctx.step(echo, a * 10)] = row;
  fns.push(() => a + b);
}
return fns.map((g) => g());`,
    args: [[[1], [2, 3], [4, 5]]],
  },
  // The source is a variable of the body: read where it is when nothing in the pattern can
  // reassign it, kept in a temporary otherwise.
  "a variable source, read again after the checkpoint, rest included": {
    params: "o",
    body: `const src = { ...o, extra: [1, 2] };
const { a = await ctx.step(add, 1, 1), b = await ctx.step(echo, "b"), ...rest } = src;
src.extra.push(3);
return [a, b, rest, src];`,
    args: [{ c: 3 }],
  },
  "a variable source reassigned by a default": {
    params: "o",
    body: `let src = o;
const { a = await ctx.step(echo, "a"), b = (src = { b: "new", c: "new" }, "d"), c } = src;
return [a, b, c, src];`,
    args: [{ c: "old" }],
  },
  "a variable source reassigned by a target of its own pattern": {
    params: "o",
    body: `let src = o;
let a, c;
const value = ({ a = await ctx.step(echo, "a"), b: src, c } = src);
return [a, c, src, value];`,
    args: [{ b: { c: "inner" }, c: "outer" }],
  },
  "a variable source reassigned by an inline step in a default": {
    params: "o",
    body: `let src = o;
const { a = await ctx.step("swap", async () => { src = { b: "swapped" }; return "a"; }), b } = src;
return [a, b, src];`,
    args: [{ b: "kept" }],
  },
  "a variable source in a loop, a let per iteration captured by a closure": {
    params: "rows",
    body: `const out = [];
for (let row of rows) {
  const current = () => row;
  const first = current();
  const [x, y = await ctx.step(add, x, 1)] = row;
  out.push([first, row, x + y]);
}
return out;`,
    args: [[[1], [2, 3], [4]]],
  },
  "a variable source that is null, with a durable default": {
    params: "o",
    body: `let src = o;
try { const { a = await ctx.step(echo, "a") } = src; return a; } catch (e) { return e.name; }`,
    args: [null],
  },
};

describe("durable awaits in destructuring patterns match the untransformed function", () => {
  itMatchesPlain(cases);
});

const makeHandler = (): { name: string; label?: string; run: () => number } => ({
  name: "h",
  run: () => 1,
});

const patternOverHandler = workflow(async (ctx) => {
  const { label = await ctx.step(echo, "label"), name } = makeHandler();
  return [label, name];
});

const variableOverHandler = workflow(async (ctx) => {
  const handler = makeHandler();
  const { label = await ctx.step(echo, "label"), name } = handler;
  return [label, name];
});

describe("a pattern's source that cannot be persisted", () => {
  it("is named by the expression and its line:column, or by the variable it is", async () => {
    const engine = createEngine({
      storage: memory(),
      workflows: [patternOverHandler, variableOverHandler],
    });
    const failure = async (w: typeof patternOverHandler) => {
      const error = await engine.run(w, []).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SerializationError);
      return error as SerializationError;
    };
    const lines = readFileSync(new URL(import.meta.url), "utf8").split("\n");
    const line = lines.findIndex((l) => l.endsWith("} = makeHandler();"));
    const at = (text: string) => `${line + 1}:${lines[line]!.indexOf(text) + 1}`;
    const kept = await failure(patternOverHandler);
    expect(kept.subject).toBe(`the value of \`makeHandler()\` (${at("makeHandler()")})`);
    expect(kept.path).toBe("makeHandler().run");
    expect(kept.message).toContain(
      `Cannot persist the value of \`makeHandler()\` (${at("makeHandler()")}) at checkpoint step:echo (`,
    );
    expect(kept.message).toContain(`await-in-patterns.test.ts:${at("await")}) of run `);
    const read = await failure(variableOverHandler);
    expect(read.subject).toBe('variable "handler"');
    expect(read.path).toBe("handler.run");
    await engine.close();
  });
});
