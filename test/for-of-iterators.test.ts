import {
  createEngine,
  type RatchetError,
  UnpersistableIteratorError,
  type Workflow,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { formatDiagnostic, transform } from "ratchetjs/compiler";
import { describe, expect, it } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";
import { add } from "./support/steps.js";

/**
 * A `for…of` loop holding a checkpoint reads an array by a persisted index, takes the values
 * of a built-in iterator (a Map's, a Set's, a string's…) when it starts, and refuses a
 * generator or an iterator of the program's own: its position cannot be persisted, and
 * taking its values up front would run its code before the loop's body.
 */

const builtIn: Record<string, OracleCase> = {
  "strings, Map and Set iterators, array iterators, matchAll": {
    params: "n",
    body: `const out = [];
const m = new Map([["a", 1], ["b", 2]]);
const s = new Set([3, 4]);
for (const ch of "x😀y") out.push(ch, await ctx.step(add, n, ch.length));
for (const [k, v] of m.entries()) out.push(k, await ctx.step(add, v, n));
for (const k of m.keys()) out.push(k, await ctx.step(add, n, 0));
for (const v of s.values()) out.push(await ctx.step(add, v, n));
for (const [i, v] of ["p", "q"].entries()) out.push(i, v, await ctx.step(add, i, n));
for (const match of "a1b22".matchAll(/\\d+/g)) out.push(match[0], await ctx.step(add, match[0].length, n));
return out;`,
    args: [1],
  },
  "a typed array is read by index, as its iterator does": {
    params: "n",
    body: `const t = new Uint8Array([1, 2, 3]);
const out = [];
for (const v of t) {
  if (v === 1) t[2] = 9;
  out.push(v, await ctx.step(add, v, n));
}
return [out, Array.from(t)];`,
    args: [1],
  },
  "an iterable whose iterator method returns a built-in iterator, called once": {
    params: "n",
    body: `const log = [];
const items = [1, 2];
const bag = { [Symbol.iterator]() { log.push("iterator"); return items.values(); } };
for (const v of bag) log.push(v, await ctx.step(add, v, n));
return log;`,
    args: [1],
  },
  "a generator's values taken first, as the fix says": {
    params: "n",
    body: `const log = [];
function* gen() { try { log.push("a"); yield 1; log.push("b"); yield 2; } finally { log.push("fin"); } }
for (const x of [...gen()]) { log.push("body" + x); await ctx.step(add, n, x); }
return log;`,
    args: [1],
  },
  "what is not iterable throws JavaScript's TypeError": {
    params: "n",
    body: `const out = [];
const none = undefined;
const obj = { length: 2 };
const five = () => 5;
try { for (const x of none) out.push(await ctx.step(add, x, n)); } catch (e) { out.push(e.message); }
try { for (const x of obj) out.push(await ctx.step(add, x, n)); } catch (e) { out.push(e.message); }
try { for (const x of five()) out.push(await ctx.step(add, x, n)); } catch (e) { out.push(e.message); }
try { for (const x of { [Symbol.iterator]: () => 1 }) out.push(await ctx.step(add, x, n)); } catch (e) { out.push(e.message); }
return [out, await ctx.step(add, n, 1)];`,
    args: [1],
  },
  // V8 names the value as its printer shows the expression: without parentheses or
  // TypeScript's assertions, a call by its callee chain, and by its type where it prints none.
  // The compiled loop said "xs as any is not iterable", "(xs) is not iterable", "f is not a
  // function…" for f(n).g(), "o?.list is not iterable", "{ a: n } is not iterable".
  "what is not iterable, written in other forms": {
    form: "function",
    thisType: "void",
    params: "n",
    body: `const out: unknown[] = [];
const xs: any = n;
const o: any = n > 5 ? { list: [1] } : undefined;
const f = (v: number) => ({ g: () => v });
const a: any = { k: n, 0: null };
try { for (const x of xs as any) out.push(await ctx.step(add, x, n)); } catch (e: any) { out.push(e.message); }
try { for (const x of xs!) out.push(await ctx.step(add, x, n)); } catch (e: any) { out.push(e.message); }
try { for (const x of (xs)) out.push(await ctx.step(add, x, n)); } catch (e: any) { out.push(e.message); }
try { for (const x of f(n).g()) out.push(await ctx.step(add, x, n)); } catch (e: any) { out.push(e.message); }
try { for (const x of o?.list) out.push(await ctx.step(add, x, n)); } catch (e: any) { out.push(e.message); }
try { for (const x of { a: n }) out.push(await ctx.step(add, x, n)); } catch (e: any) { out.push(e.message); }
try { for (const x of a["k"]) out.push(await ctx.step(add, x, n)); } catch (e: any) { out.push(e.message); }
try { for (const x of a[0]) out.push(await ctx.step(add, x, n)); } catch (e: any) { out.push(e.message); }
try { for (const x of n > 1 ? xs : null) out.push(await ctx.step(add, x, n)); } catch (e: any) { out.push(e.message); }
try { for (const x of <any>xs) out.push(await ctx.step(add, x, n)); } catch (e: any) { out.push(e.message); }
return out;`,
    args: [1],
  },
};

describe("for…of over built-in iterators matches the untransformed function", () => {
  itMatchesPlain(builtIn);
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function outcome<A extends unknown[], R>(definition: Workflow<A, R>, args: A) {
  const engine = createEngine({
    storage: memory(),
    workflows: [definition],
    logger: quiet,
    worker: { pollIntervalMs: 5 },
  });
  try {
    const run = await engine.start(definition, args);
    return await run.result().then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
  } finally {
    await engine.close();
  }
}

// Workflows of this file are compiled by the Ratchet plugin of the test runner.
const ran: string[] = [];
const source = {
  *items() {
    try {
      ran.push("generator started");
      yield 1;
      yield 2;
    } finally {
      ran.push("generator finally");
    }
  },
};
class Countdown {
  constructor(readonly from: number) {}
  [Symbol.iterator](): Iterator<number> {
    let n = this.from;
    return { next: () => (n > 0 ? { value: n--, done: false } : { value: undefined, done: true }) };
  }
}

const overGenerator = workflow(async (ctx, n: number) => {
  const out: number[] = [];
  for (const x of source.items()) {
    out.push(await ctx.step(add, x, n));
  }
  return out;
});

const overOwnIterator = workflow(async (ctx, n: number) => {
  const out: number[] = [];
  for (const x of new Countdown(n)) out.push(await ctx.step(add, x, 0));
  return out;
});

const overPatchedIterator = workflow(async (ctx, n: number) => {
  const it = [1, 2, 3].values();
  let calls = 0;
  const next = it.next.bind(it);
  it.next = () => {
    calls++;
    return next();
  };
  const out: number[] = [];
  for (const x of it) out.push(x, calls, await ctx.step(add, x, n));
  return out;
});

const generatorCaught = workflow(async (ctx, n: number) => {
  try {
    for (const x of source.items()) await ctx.step(add, x, n);
    return "looped";
  } catch (error) {
    const own = error instanceof UnpersistableIteratorError;
    return `${own} ${(error as RatchetError).code} ${[...source.items()].join(",")}`;
  }
});

describe("a for…of loop holding a checkpoint refuses what it cannot persist", () => {
  it("a generator: UnpersistableIteratorError where the loop starts, before the generator runs", async () => {
    ran.length = 0;
    const { error } = (await outcome(overGenerator, [1])) as { error: UnpersistableIteratorError };
    // A run's error comes back from storage: its name, message, code and fields.
    expect(error.name).toBe("UnpersistableIteratorError");
    expect(error.code).toBe("RATCHET_UNPERSISTABLE_ITERATOR");
    expect(error.location).toMatch(/for-of-iterators\.test\.ts:\d+:3$/);
    expect(error.message).toContain("iterates a generator (`source.items()`)");
    expect(error.message).toContain("for (const x of [...values])");
    expect(ran).toEqual([]);
  });

  it("an iterator of the program's own", async () => {
    const { error } = (await outcome(overOwnIterator, [2])) as { error: RatchetError };
    expect([error.name, error.code]).toEqual([
      "UnpersistableIteratorError",
      "RATCHET_UNPERSISTABLE_ITERATOR",
    ]);
    expect(error.message).toContain("an iterator defined by the program (`new Countdown(n)`)");
  });

  it("a built-in iterator given a next of the program's own", async () => {
    // Its values were taken when the loop started: the body saw calls = 4 each time, where
    // plain code sees 1, 2, 3.
    const { error } = (await outcome(overPatchedIterator, [2])) as { error: RatchetError };
    expect([error.name, error.code]).toEqual([
      "UnpersistableIteratorError",
      "RATCHET_UNPERSISTABLE_ITERATOR",
    ]);
    expect(error.message).toContain("an iterator defined by the program (`it`)");
  });

  it("the workflow can catch it, like any error of its body", async () => {
    ran.length = 0;
    expect(await outcome(generatorCaught, [1])).toEqual({
      value: "true RATCHET_UNPERSISTABLE_ITERATOR 1,2",
    });
    expect(ran).toEqual(["generator started", "generator finally"]);
  });

  it("a generator the compiler can see is refused when compiling", () => {
    const compile = (body: string) =>
      transform(
        `import { workflow } from "ratchetjs";
function* numbers() { yield 1; }
export const w = workflow(async (ctx, n) => {
${body}
});`,
        { filename: "w.ts", sourceMap: false },
      ).diagnostics.map(formatDiagnostic);
    const [first, ...others] = compile(`for (const x of numbers()) await ctx.step(f, x);`);
    expect(others).toEqual([]);
    expect(first).toMatch(
      /^w\.ts:4:17 - error RATCHET1001: This for…of loop holds a checkpoint and iterates a generator \(`numbers\(\)`\)/,
    );
    expect(first).toContain("for (const x of [...numbers()])");
    expect(
      compile(`function* local() { yield n; }
const it = local();
for (const x of it) await ctx.step(f, x);
for (const y of (function* () { yield 2; })()) await ctx.step(f, y);`),
    ).toHaveLength(2);
    // Taken first, or without a checkpoint in the loop, it compiles.
    expect(
      compile(`for (const x of [...numbers()]) await ctx.step(f, x);
for (const x of numbers()) console.log(x);`),
    ).toEqual([]);
  });

  it("a list of functions of the body is refused when compiling", () => {
    // It was a SerializationError at the first checkpoint ("the list iterated by the loop").
    const compile = (body: string) =>
      transform(
        `import { workflow } from "ratchetjs";
export const w = workflow(async (ctx, n) => {
const inc = (v) => v + 1;
const dec = (v) => v - 1;
${body}
});`,
        { filename: "w.ts", sourceMap: false },
      ).diagnostics;
    const [first, ...others] = compile(`for (const g of [inc, dec]) await ctx.step(f, g(n));`);
    expect(others).toEqual([]);
    expect(`${first?.code} ${first?.line}:${first?.column}`).toBe("RATCHET1007 5:29");
    expect(first?.message).toBe(
      "The list iterated by the loop at 5:1 holds functions made in the workflow body, from `[inc, dec]` (5:17): the loop keeps it across this checkpoint, and a function cannot be persisted.",
    );
    expect(first?.hint).toContain("choose the function by it in the loop's body");
    expect(
      compile(`const all = [inc, { run() {} }];
for (const g of all) await ctx.step(f, 1);`).map((d) => d.code),
    ).toEqual(["RATCHET1007"]);
    // An iterable with a method is not kept: the values its iterator gives are.
    expect(
      compile(
        `for (const x of { [Symbol.iterator]() { return [1].values(); } }) await ctx.step(f, x);`,
      ),
    ).toEqual([]);
    // Data chosen from, or functions called in a loop without a checkpoint, compile.
    expect(
      compile(`for (const k of ["inc", "dec"]) await ctx.step(f, (k === "inc" ? inc : dec)(n));
for (const g of [inc, dec]) g(n);`),
    ).toEqual([]);
  });
});
