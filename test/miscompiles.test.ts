import { transform } from "ratchetjs/compiler";
import { describe, expect, it } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";

/**
 * Programs the compiler once compiled wrongly without a word (issue 11), with their closest
 * variants, against the oracle: same result or error and same step calls, uninterrupted and
 * crashed-then-resumed after each checkpoint.
 */
const cases: Record<string, OracleCase> = {
  // Exception edges at a resume point.
  "a failed step leaves the variable it was assigned to as it was": {
    params: "n",
    body: `let decision = "none";
try { decision = await ctx.step(boom, "no"); } catch {}
return decision;`,
    args: [1],
  },
  "code right after the await throws before the assignment": {
    params: "n",
    body: `let x = "before";
try { x = JSON.parse(await ctx.step(echo, "{bad")); } catch (e) { return [x, e.name]; }
return x;`,
    args: [1],
  },
  "a failed step in a try with finally, the variable read in finally": {
    params: "n",
    body: `let x = n;
const out = [];
try {
  try { x = await ctx.step(boom, "b"); } finally { out.push(x); }
} catch (e) { out.push("caught " + x); }
return out;`,
    args: [3],
  },
  "a destructuring assignment from a failed step": {
    params: "n",
    body: `let a = 1, b = 2;
try { [a, b] = await ctx.step(boom, "x"); } catch {}
return [a, b];`,
    args: [1],
  },
  // The comma operator.
  "comma in a for initializer": {
    params: "n",
    body: `let i, t;
const out = [];
for (i = 0, t = await ctx.step(add, n, 1); i < 2; i++) out.push(i + t);
return out;`,
    args: [1],
  },
  "comma with side effects around an await": {
    params: "n",
    body: `let calls = 0;
const v = (calls++, await ctx.step(add, n, 1), calls);
const w = (calls += 10, await ctx.step(add, calls, 1));
return [v, w, calls];`,
    args: [1],
  },

  // Per-iteration bindings in a loop that holds a checkpoint.
  "closures over a loop's let, called before the next checkpoint": {
    params: "n",
    body: `let out = await ctx.step(echo, "start");
const fns = [];
for (let i = 0; i < n; i++) {
  fns.push(() => i);
  if (i === n) await ctx.step(echo, i);
}
out = fns.map((g) => g());
return [out, await ctx.step(echo, "end")];`,
    args: [3],
  },
  "closures over a const in a loop body": {
    params: "n",
    body: `const fns = [];
for (let i = 0; i < n; i++) {
  const v = i * 10;
  fns.push(() => v);
  if (i === n) await ctx.step(add, i, 10);
}
return fns.map((g) => g());`,
    args: [3],
  },
  "closures that write a loop's let and read it back": {
    params: "n",
    body: `const fns = [];
const out = [];
for (let i = 0; i < n; i++) {
  let v = i;
  fns.push(() => (v += 100));
  fns.push(() => v);
  v++;
  if (i === n) await ctx.step(add, i, 10);
}
for (const g of fns) out.push(g());
return out;`,
    args: [2],
  },
  "closures over for…of bindings and a let without initializer": {
    params: "xs",
    body: `const fns = [];
for (const [a, b] of xs) {
  let c;
  c = a + b;
  fns.push(() => [a, b, c]);
  if (a < 0) await ctx.step(echo, a);
}
const seen = fns.map((g) => g());
return [await ctx.step(echo, "end"), seen];`,
    args: [
      [
        [1, 2],
        [3, 4],
      ],
    ],
  },
  // Optional chains with awaits to the right.
  "optional call with a nullish object": {
    params: "n",
    body: `const a = n > 0 ? null : { b: (x) => x };
const r = a?.b(await ctx.step(add, n, 1));
return [r, await ctx.step(echo, "end")];`,
    args: [1],
  },
  "optional element access with a nullish object": {
    params: "n",
    body: `const a = n > 0 ? undefined : [1, 2];
const r = a?.[await ctx.step(add, n, 0)];
return [r, await ctx.step(echo, "end")];`,
    args: [1],
  },
  "optional chain with a present object": {
    params: "n",
    body: `const a = n > 0 ? { c: [5, 6] } : null;
const r = a?.c.concat(await ctx.step(add, n, 1));
const s = a?.c[await ctx.step(add, n, 0)];
const t = a?.c?.[await ctx.step(add, n, -1)];
return [r, s, t];`,
    args: [1],
  },

  // using / await using.
  "using disposes at the end of its block, last declared first": {
    params: "n",
    body: `const log = [];
{
  using a = new Resource("a"), b = new Resource("b");
  log.push(await ctx.step(add, n, 1));
  using c = null;
}
log.push("after");
return log;`,
    args: [1],
  },
  "using disposes when the block throws or returns": {
    params: "n",
    body: `const log = [];
try {
  await using a = new Resource("a");
  await ctx.step(boom, "x");
} catch (e) { log.push(e.message); }
for (let i = 0; i < 3; i++) {
  using b = new Resource("b" + i);
  const later = { get value() { return i; } };
  log.push(later.value);
  if (i === 1) continue;
  log.push(await ctx.step(add, i, 0));
}
return log;`,
    args: [1],
  },
  // Evaluation order.
  "an earlier operand mutated by a later call": {
    params: "n",
    body: `let total = 1;
const bump = () => { total = 100; return 1; };
const r = total + await ctx.step(add, bump(), n);
return [r, total];`,
    args: [1],
  },
  "a spread of an array grown by a later call": {
    params: "n",
    body: `const list = [1];
const grow = () => { list.push(2); return 3; };
const r = [...list, await ctx.step(add, grow(), n)];
return r;`,
    args: [1],
  },
  "a destructuring assignment inside a later operand": {
    params: "n",
    body: `let a = 1;
const r = [a, ([a] = [5]), await ctx.step(add, a, n)];
return [r, a];`,
    args: [1],
  },

  // Array holes.
  "array holes around an await": {
    params: "n",
    body: `const r = [, await ctx.step(add, n, 1), , 4];
return [r.length, 0 in r, r[1], 2 in r];`,
    args: [1],
  },

  // The temporal dead zone after a checkpoint.
  "reading a let before its declaration after a checkpoint throws": {
    params: "n",
    body: `const a = await ctx.step(add, n, 1);
const r = [];
try { r.push(x); } catch (e) { r.push(e.name); }
try { r.push(typeof x); } catch (e) { r.push(e.name); }
try { x = 5; } catch (e) { r.push(e.name); }
try { x++; } catch (e) { r.push(e.name); }
try { r.push(c); } catch (e) { r.push(e.name); }
let x = await ctx.step(add, a, 1);
const c = x + 1;
return [r, x, c];`,
    args: [1],
  },
  "a closure called before its let is reached, before and after a checkpoint": {
    params: "n",
    body: `const r = [];
const f = () => x;
const g = () => [typeof x, x];
try { r.push(f()); } catch (e) { r.push([e.name, e.message]); }
await ctx.step(add, n, 1);
try { r.push(f()); } catch (e) { r.push([e.name, e.message]); }
try { r.push(g()); } catch (e) { r.push([e.name, e.message]); }
let x = await ctx.step(add, n, 2);
r.push(f(), g());
await ctx.step(add, x, 1);
r.push(f());
return r;`,
    args: [1],
  },
  "a closure defined before, called after a checkpoint, the declaration past another": {
    params: "n",
    body: `const read = () => ({ x, y });
await ctx.step(add, n, 1);
let out;
try { out = read(); } catch (e) { out = [e.name, e.message]; }
const x = await ctx.step(add, n, 2);
try { out = [out, read()]; } catch (e) { out = [out, e.name, e.message]; }
const y = x + 1;
await ctx.step(add, y, 1);
return [out, read()];`,
    args: [1],
  },
  "a hoisted function declaration reads a const before it is declared": {
    params: "n",
    body: `let first;
try { first = late(); } catch (e) { first = e.message; }
const a = await ctx.step(add, n, 1);
try { first = [first, late()]; } catch (e) { first = [first, e.message]; }
const c = a * 10;
await ctx.step(add, c, 1);
function late() { return c + 1; }
return [first, late()];`,
    args: [1],
  },
  "a closure in the initializer of the let it reads": {
    params: "n",
    body: `let r;
try {
  let x = ((get) => get())(() => x);
  r = x;
} catch (e) { r = [e.name, e.message]; }
const y = await ctx.step(add, n, 1);
return [r, y];`,
    args: [1],
  },
  "a switch case entered past a declaration of an earlier case": {
    params: "n",
    body: `const out = [];
for (const k of [0, 1, 2]) {
  try {
    switch (k + n) {
      case 1: let x = await ctx.step(add, k, 1); out.push(x);
      case 2: out.push(typeof x, x); break;
      case 3: { out.push(x + 1); }
    }
  } catch (e) { out.push([e.name, e.message]); }
}
return out;`,
    args: [1],
  },
  "a switch case entered past a declaration, a checkpoint before the read": {
    params: "n",
    body: `try {
  switch (n) {
    case 0: let x = 1; await ctx.step(add, n, 1);
    case 1: await ctx.step(add, n, 2); return x;
  }
} catch (e) { return [e.name, e.message, await ctx.step(add, n, 3)]; }`,
    args: [1],
  },
  "a switch case that runs through its declaration reads it in the next case": {
    params: "n",
    body: `switch (n) {
  case 0: const x = await ctx.step(add, n, 1);
  case 1: return [x, await ctx.step(add, x, 1)];
}`,
    args: [0],
  },
  "writes to a let in its dead zone from a closure and from a later case": {
    params: "n",
    body: `const r = [];
const set = (v) => { x = v; };
const inc = () => x++;
const add2 = () => { x += 2; };
await ctx.step(add, n, 1);
for (const w of [() => set(r.push("rhs")), inc, add2]) {
  try { w(); } catch (e) { r.push([e.name, e.message]); }
}
let x = await ctx.step(add, n, 2);
set(10); inc(); add2();
r.push(x);
switch (n) {
  case 0: let y = 1; await ctx.step(add, y, 1);
  case 1:
    try { y = r.push("rhs2"); } catch (e) { r.push([e.name, e.message]); }
    try { y++; } catch (e) { r.push([e.name, e.message]); }
    await ctx.step(add, n, 3);
    try { r.push(y); } catch (e) { r.push([e.name, e.message]); }
}
return r;`,
    args: [1],
  },
  "a later case reads and writes the binding around an await in the same expression": {
    params: "n",
    body: `const out = [];
for (const k of [1, 2, 0]) {
  try {
    switch (k) {
      case 0: const c = await ctx.step(add, k, 1); let v = c;
      case 1: out.push([c, await ctx.step(add, k, 2)]);
      case 2: v = await ctx.step(add, k, 3); out.push(v);
    }
  } catch (e) { out.push([e.name, e.message]); }
}
return out;`,
    args: [1],
  },
  "a loop: a closure made before its const, called before and after it": {
    params: "n",
    body: `const out = [];
for (const k of [0, 1]) {
  const a = await ctx.step(add, n, k);
  const f = () => x;
  try { out.push(f()); } catch (e) { out.push([e.name, e.message]); }
  const x = k + a;
  out.push(f());
}
return out;`,
    args: [1],
  },
  "a loop: a switch case entered past a declaration a closure captures": {
    params: "n",
    body: `const out = [];
for (const k of [0, 1, 2]) {
  try {
    switch (k) {
      case 0: let x = await ctx.step(add, k, 1); out.push(x);
      case 1: { const show = () => x; out.push(show()); } break;
      case 2: x = 5; out.push(x);
    }
  } catch (e) { out.push([e.name, e.message]); }
  await ctx.step(add, k, n);
}
return out;`,
    args: [1],
  },
  // An inline step that writes a workflow variable.
  "an inline step writes a workflow variable": {
    params: "n",
    body: `let x = n;
await ctx.step("bump", async () => { x = 10; return 1; });
const y = await ctx.step(add, x, 1);
return [x, y];`,
    args: [1],
  },
};

/** Constructs once refused with a diagnostic, now compiled. */
const nowCompiled: Record<string, OracleCase> = {
  "a durable await in a tagged template and in a delete operand": {
    params: "n",
    body: `const seen = [];
const tag = (strings, ...values) => { seen.push(strings.raw.join("|")); return strings.join("") + values.join(","); };
let k = 0;
const t = tag\`a\${k++}b\${await ctx.step(add, n, k)}c\${k}\`;
const o = { a: 1, b: 2, c: 3 };
const d = delete o[await ctx.step(echo, "b")];
const e = delete o.a;
return [t, seen, d, e, o];`,
    args: [1],
  },
  "delete through an optional chain with a durable await in the key": {
    params: "none, some",
    body: `const d1 = delete none?.[await ctx.step(echo, "x")];
const d2 = delete some?.[await ctx.step(echo, "x")];
const d3 = delete none?.b[await ctx.step(echo, "y")];
const d4 = delete some?.b[await ctx.step(echo, "y")];
const d5 = delete some?.c?.[await ctx.step(echo, "z")];
return [d1, d2, d3, d4, d5, some];`,
    args: [null, { x: 1, b: { y: 2, k: 3 }, c: null }],
  },
  "arrow functions and function expressions held in a const across checkpoints": {
    params: "n",
    body: `let base = n;
const twice = (v) => v * 2 + base;
const named = function fmt(v) { return "#" + v; };
const a = await ctx.step(add, twice(1), 0);
base = 100;
const b = await ctx.step(add, twice(a), 0);
for (let i = 0; i < 2; i++) {
  const inc = (v) => v + i + base;
  base += await ctx.step(add, inc(1), 0);
}
return [a, b, named(b), twice(0), base];`,
    args: [1],
  },
};

/** Programs the compiler once crashed on or compiled wrongly, found by adversarial probes. */
const probed: Record<string, OracleCase> = {
  "a class declaration not live across a checkpoint": {
    params: "n",
    body: `class C { m() { return n; } }
const first = new C().m();
const a = await ctx.step(echo, "a");
class D { m() { return a; } }
return [first, new D().m(), a];`,
    args: [1],
  },
  "a class declaration in a loop that holds a checkpoint": {
    params: "n",
    body: `const out = [];
for (let i = 0; i < 2; i++) {
  class C { m() { return i; } }
  out.push(new C().m() + (await ctx.step(add, n, 1)));
}
return out;`,
    args: [1],
  },
  "a member target's key reassigned by its default, array pattern": {
    params: "xs",
    body: `const obj = {};
let k = "p";
[obj[k] = (k = "q", await ctx.step(echo, "v"))] = xs;
return [obj, k];`,
    args: [[undefined]],
  },
  "a member target's object reassigned by its default, object pattern": {
    params: "o",
    body: `let obj = { name: "first" };
const first = obj;
({ x: obj.a = (obj = { name: "second" }, await ctx.step(echo, "v")) } = o);
return [first, obj];`,
    args: [{}],
  },
  "a member target's object reassigned by its key": {
    params: "n",
    body: `let obj = { name: "first" };
const first = obj;
[obj[(obj = { name: "second" }, "a")] = await ctx.step(echo, "v")] = [undefined];
return [first, obj];`,
    args: [1],
  },
  "for (using r of …) with a checkpoint in the body disposes each element": {
    params: "n",
    body: `const out = [];
for (using r of [new Resource("x"), null, new Resource("y")]) {
  out.push(await ctx.step(echo, r ? r.name : "null"));
}
return out;`,
    args: [1],
  },
  "for (await using r of …) with continue and break": {
    params: "n",
    body: `const out = [];
for (await using r of [new Resource("x"), new Resource("y"), new Resource("z")]) {
  if (r.name === "x") { await ctx.step(echo, "skip"); continue; }
  out.push(await ctx.step(echo, r.name));
  if (r.name === "y") break;
}
return out;`,
    args: [1],
  },
  "for (using r of …) whose disposal fails, and fails after the body threw": {
    params: "n",
    body: `const out = [];
try {
  for (using r of [new FailingResource("x")]) await ctx.step(echo, r.name);
  out.push("no error");
} catch (e) { out.push(e.message); }
try {
  for (using r of [new FailingResource("y")]) await ctx.step(boom, r.name);
} catch (e) { out.push(e.name, e.error.message, e.suppressed.message); }
return out;`,
    args: [1],
  },
  "bigint and numeric literal keys in a pattern with a durable default": {
    params: "o",
    body: `const { 1n: a = await ctx.step(echo, "a"), 0x10n: b = await ctx.step(echo, "b"), 1e3: c = await ctx.step(echo, "c"), 0x10: d = await ctx.step(echo, "d") } = o;
return [a, b, c, d];`,
    args: [{ 1: "one", 1000: "thousand" }],
  },
  // Compound assignments to a member with a durable await were refused (RATCHET1002).
  "compound assignments to members with durable awaits": {
    params: "items",
    body: `const totals = { a: 0, b: 0 };
const nested = { p: { v: 1 }, list: [2] };
for (const [k, n] of items) totals[k] += await ctx.step(add, n, 1);
nested.p.v *= await ctx.step(add, 1, 1);
nested.list[0] -= await ctx.step(echo, 5);
const r = (totals.a += await ctx.step(echo, 100));
return [totals, nested, r];`,
    args: [
      [
        ["a", 1],
        ["b", 2],
        ["a", 3],
      ],
    ],
  },
  "a compound assignment keeps the key and object evaluated before the await": {
    params: "n",
    body: `let o = { v: 1, w: 10 };
const first = o;
let k = "v";
o[k] += (k = "w", o = { v: 100, w: 100 }, await ctx.step(add, n, 1));
return [first, o, k];`,
    args: [1],
  },
  "logical assignments to members run the step only when needed": {
    params: "n",
    body: `const o = { a: null, b: 0, c: 1, d: 5 };
o.a ??= await ctx.step(echo, "a");
o.b ||= await ctx.step(echo, "b");
o.c &&= await ctx.step(echo, "c");
o.d ??= await ctx.step(echo, "d");
const box = { v: 1 };
const getBox = () => box;
getBox().v += await ctx.step(add, n, 1);
return [o, box];`,
    args: [1],
  },
  "a compound assignment whose step fails leaves the member as it was": {
    params: "n",
    body: `const o = { v: n };
try { o.v += await ctx.step(boom, "x"); } catch (e) { return [o, e.message]; }
return o;`,
    args: [1],
  },
  "increments of a member with a durable await in its key or object": {
    params: "n",
    body: `const o = { v: 1, s: "5", b: 10n };
const boxes = [{ c: 0 }, { c: 7 }];
const r1 = o[await ctx.step(echo, "v")]++;
const r2 = o[await ctx.step(echo, "s")]--;
const r3 = ++o[await ctx.step(echo, "b")];
const r4 = boxes[await ctx.step(echo, 1)].c++;
let k = "v";
const r5 = o[(k = "s", await ctx.step(echo, k))]++;
return [o, boxes, r1, r2, r3, r4, r5, k];`,
    args: [1],
  },
  "a durable await in the key and in the value of a logical member assignment": {
    params: "n",
    body: `const o = { k: 5, s: "a" };
o[await ctx.step(echo, "k")] ??= await ctx.step(echo, 1);
o[await ctx.step(echo, "j")] ??= await ctx.step(echo, 2);
o.s += \`\${await ctx.step(echo, 1)}\`;
return o;`,
    args: [1],
  },
  // A TypeScript `this` parameter was taken for ctx: the arguments shifted by one.
  "a this: void parameter, then destructured parameters with defaults": {
    form: "function",
    thisType: "void",
    params:
      "n: number, { a, b = 10 }: { a: number; b?: number } = { a: 1 }, [c = n, ...rest]: number[] = []",
    body: `const x = await ctx.step(add, n, a);
const y = await ctx.step(add, x, b + c);
return [x, y, rest];`,
    args: [2, { a: 3 }, [undefined, 7, 8]],
  },
  "a this: void parameter and its defaults, none passed": {
    form: "function",
    thisType: "void",
    params: "n = 5, { a = n * 2 } = {}",
    body: `const x = await ctx.step(add, n, a);
return [x, n, a];`,
    args: [],
  },
  "a static @workflow method with a this parameter": {
    form: "method",
    thisType: "unknown",
    params: "n: number, { k = 2 } = {}",
    body: `let total = n;
for (let i = 0; i < 2; i++) total += await ctx.step(add, total, k);
return total;`,
    args: [1],
  },
};

/**
 * Optional chains with a durable await to the left of a `?.`: the rest of the chain after the
 * `?.` short-circuits to `undefined` when the value before it is nullish (was compiled as
 * `(t?.profile).email`, a TypeError).
 */
const chains: Record<string, OracleCase> = {
  "an awaited nullish base, then a longer chain of members and elements": {
    params: "n",
    body: `const email = (await ctx.step(echo, null))?.profile.email;
const first = (await ctx.step(echo, undefined))?.[0].name;
const deep = (await ctx.step(echo, null))?.a[n].b?.c.d;
const count = (await ctx.step(echo, undefined))?.items.filter((x) => x).length;
const got = (await ctx.step(echo, { profile: { email: "e" } }))?.profile.email;
const second = (await ctx.step(echo, [{ name: "x" }]))?.[0].name;
return [email, first, deep, count, got, second];`,
    args: [1],
  },
  "an awaited nullish base, then calls in the chain keep their this": {
    params: "n",
    body: `const a = (await ctx.step(echo, null))?.f().g;
const b = (await ctx.step(echo, "abc"))?.toUpperCase().length;
const c = (await ctx.step(echo, { v: 2 }))?.v.toFixed(1).length;
const d = (await ctx.step(echo, null))?.m(await ctx.step(echo, "skipped")).w;
const e = (await ctx.step(echo, [3, 1, 2]))?.slice().sort()[n];
const f = (await ctx.step(echo, null))?.concat(await ctx.step(echo, [1])).length;
const g = (await ctx.step(echo, [0]))?.concat(await ctx.step(echo, [1])).length;
return [a, b, c, d, e, f, g];`,
    args: [1],
  },
  "a ?. after an awaited member, typeof and delete of such chains": {
    params: "n",
    body: `const a = (await ctx.step(echo, {})).a?.b.c;
const b = typeof (await ctx.step(echo, null))?.a.b;
const c = [await ctx.step(echo, null)][0]?.a.b;
const d = delete (await ctx.step(echo, null))?.a.b;
const o = { a: { b: 1, k: 2 } };
const e = delete (await ctx.step(echo, o))?.a.b;
const f = (await ctx.step(echo, null))?.a.b?.c.d;
return [a, b, c, d, e, f, o];`,
    args: [1],
  },
  "a parenthesized chain still ends where the parentheses close": {
    params: "n",
    body: `try {
  const r = ((await ctx.step(echo, null))?.a).b;
  return ["no", r];
} catch (e) {
  return [e.name, await ctx.step(echo, "after")];
}`,
    args: [1],
  },
};

/**
 * A call, `new` or tagged template whose function is a member of a nullish object throws
 * JavaScript's TypeError before its arguments run — the step in them included (the step
 * used to run first).
 */
const nullishCallees: Record<string, OracleCase> = {
  "a method of an undefined property, of a null variable, of an element": {
    params: "n",
    body: `const out = [];
const user = { name: "a" };
try { user.profile.update(await ctx.step(echo, "charge")); out.push("no"); } catch (e) { out.push(e.message); }
const o = n ? null : { m() {} };
try { o.m(await ctx.step(echo, "charge")); out.push("no"); } catch (e) { out.push(e.message); }
const p = {};
try { p.list[0](await ctx.step(echo, "charge")); out.push("no"); } catch (e) { out.push(e.message); }
let k = 1;
try { p.list[k](await ctx.step(echo, (k = 2))); out.push("no"); } catch (e) { out.push(e.message, k); }
out.push(await ctx.step(echo, "after"));
return out;`,
    args: [1],
  },
  "new of a member of undefined, a tag of undefined": {
    params: "n",
    body: `const out = [];
const o = {};
try { new o.C.D(await ctx.step(echo, "charge")); out.push("no"); } catch (e) { out.push(e.message); }
try { o.a.tag\`x\${await ctx.step(echo, "charge")}\`; out.push("no"); } catch (e) { out.push(e.message); }
out.push(await ctx.step(echo, "after"));
return out;`,
    args: [1],
  },
  "a present object still has its method called with the step's value": {
    params: "n",
    body: `const list = [1];
list.push(await ctx.step(echo, 2));
const s = "ab".concat(await ctx.step(echo, "c"));
const nested = { inner: { list: [0] } };
nested.inner.list.push(await ctx.step(add, n, 1));
return [list, s, nested];`,
    args: [1],
  },
};

/**
 * Anonymous functions and classes keep the name JavaScript gives them, whatever variable they
 * pass through in the machine (they were named after the compiler's temporaries).
 */
const functionNames: Record<string, OracleCase> = {
  "a function after a comma, behind && and in ?:, ??= and a default": {
    params: "n",
    body: `const names = [];
const f = (await ctx.step(echo, 1), () => 1);
names.push(f.name);
const g = n ? (await ctx.step(echo, 1)) && (() => 1) : null;
names.push(g.name);
let h = null;
h ??= (await ctx.step(echo, 1), () => 2);
names.push(h.name);
const { p = (await ctx.step(echo, 1), () => 1), q = () => 2 } = {};
names.push(p.name, q.name);
const c = (await ctx.step(echo, 1), class {});
names.push(c.name);
const d = n ? (await ctx.step(echo, 1), function () {}) : null;
names.push(d.name);
return names;`,
    args: [1],
  },
  "a function named by its variable or property keeps that name": {
    params: "n",
    body: `const names = [];
{ const k = () => 2; names.push(k.name, await ctx.step(echo, 1)); }
let m;
m = n ? null : null;
m = (await ctx.step(echo, 1)) && null;
m = () => 3;
names.push(m.name);
const o = { fn: (await ctx.step(echo, 2), () => 4), named: () => 5 };
names.push(o.fn.name, o.named.name);
return names;`,
    args: [1],
  },
};

/**
 * Bindings the frame kept wrongly (catch parameters, `const`, writes in the dead zone), and
 * function literals kept in a temporary across the await to their right.
 */
const bindings: Record<string, OracleCase> = {
  // A catch parameter is a new binding each time the catch is entered.
  "closures over a catch parameter in a loop, the catch holding a checkpoint": {
    params: "n",
    body: `const fns = [];
for (let i = 0; i < 3; i++) { try { throw i; } catch (e) { fns.push(() => e); if (i === 9) await ctx.step(echo, i); } }
const seen = fns.map((f) => f());
return [seen, await ctx.step(echo, "end")];`,
    args: [1],
  },
  "closures over a destructured catch parameter in a loop": {
    params: "n",
    body: `const fns = [];
for (const id of ["a", "b"]) {
  try { throw { id }; } catch ({ id: caught }) { fns.push(() => caught); if (caught === "z") await ctx.step(echo, 0); }
}
return fns.map((f) => f());`,
    args: [1],
  },
  "a destructured catch parameter with a durable default, captured in a loop": {
    params: "n",
    body: `const fns = [];
for (let i = 0; i < 3; i++) {
  try { throw { id: i, tag: i > 0 ? "given" : undefined }; } catch ({ id, tag = await ctx.step(echo, "t" + i) }) { fns.push(() => [id, tag]); }
}
return fns.map((f) => f());`,
    args: [1],
  },
  "a captured catch parameter written after a checkpoint in the catch": {
    params: "n",
    body: `const out = [];
let k = 0;
while (k < 2) {
  try { throw k; } catch (e) {
    await ctx.step(echo, e);
    const read = () => e;
    e = e + 10;
    out.push(read(), e);
  }
  k++;
}
return out;`,
    args: [1],
  },
  // Assigning to a const throws TypeError, the right side evaluated first as in JavaScript.
  "x += 1 to a const after a checkpoint": {
    params: "n",
    body: `const x = 1;
try { await ctx.step(echo, 0); x += 1; return "no " + x; } catch (e) { return [e.name, e.message, x]; }`,
    args: [1],
  },
  "x += await to a const: the step runs, then the write throws": {
    params: "n",
    body: `const x = 1;
try { x += await ctx.step(add, 1, 1); return "no " + x; } catch (e) { return [e.name, x]; }`,
    args: [1],
  },
  "x = await to a const: the step runs, then the write throws": {
    params: "n",
    body: `const x = await ctx.step(echo, 1);
try { x = await ctx.step(echo, 2); } catch (e) { return [e.name, x]; }
return x;`,
    args: [1],
  },
  "x = 5, x++, --x, a pattern and a for…of head writing a const kept in the frame": {
    params: "n",
    body: `const x = await ctx.step(echo, 1);
let y = 0, z = 0;
const out = [];
const attempt = (write) => { try { write(); out.push("no"); } catch (e) { out.push(e.name); } };
attempt(() => { x = 5; });
try { x++; } catch (e) { out.push(e.name); }
try { --x; } catch (e) { out.push(e.name); }
try { [y, x, z] = [7, 8, 9]; } catch (e) { out.push(e.name, y, z); }
try { ({ x, y = 3 } = { x: 2 }); } catch (e) { out.push(e.name, y); }
try { for (x of [1, 2]) out.push("body"); } catch (e) { out.push(e.name); }
try { for (x in { k: 1 }) out.push("body"); } catch (e) { out.push(e.name); }
return [out, x, await ctx.step(echo, "end")];`,
    args: [1],
  },
  "x op= f() to a const reads x, runs f, converts, then throws": {
    params: "n",
    body: `await ctx.step(echo, 0);
const seen = [];
const x = { valueOf() { seen.push("valueOf"); return 1; } };
const f = () => { seen.push("f"); return 2; };
try { x *= f(); } catch (e) { seen.push(e.name); }
try { x++; } catch (e) { seen.push(e.name); }
return seen;`,
    args: [1],
  },
  "logical assignments to a const throw only when they write": {
    params: "n",
    body: `const t = await ctx.step(echo, 1);
const z = await ctx.step(echo, null);
const out = [];
try { t ||= await ctx.step(echo, "or"); out.push("kept"); } catch (e) { out.push(e.name); }
try { t &&= await ctx.step(echo, "and"); } catch (e) { out.push(e.name); }
try { z ??= await ctx.step(echo, "nullish"); } catch (e) { out.push(e.name); }
return [out, t, z];`,
    args: [1],
  },
  "for (const i = 0; …; i++) with a checkpoint in the body throws after one pass": {
    params: "n",
    body: `const out = [];
try { for (const i = 0; i < 3; i++) out.push(await ctx.step(echo, i)); } catch (e) { out.push(e.name); }
return out;`,
    args: [1],
  },
  "a closure assigning a const of the frame": {
    params: "n",
    body: `const x = await ctx.step(echo, 1);
const f = () => { x = 2; };
function g() { x += 1; }
const out = [];
try { f(); } catch (e) { out.push(e.name); }
try { g(); } catch (e) { out.push(e.name); }
return [out, x, await ctx.step(echo, x)];`,
    args: [1],
  },
  "a closure assigning a per-iteration const": {
    params: "n",
    body: `const out = [];
for (let i = 0; i < 2; i++) {
  const v = i;
  const set = () => { v = 9; };
  try { set(); } catch (e) { out.push(e.name, v); }
  await ctx.step(echo, i);
}
return out;`,
    args: [1],
  },
  "a closure writing a const before, then after, its declaration": {
    params: "n",
    body: `const set = () => { x = 1; };
const out = [];
try { set(); } catch (e) { out.push(e.name); }
const x = await ctx.step(echo, 5);
try { set(); } catch (e) { out.push(e.name); }
return [out, x];`,
    args: [1],
  },
  // Writes before a let's declaration throw ReferenceError.
  "a = await before let a: the step runs, then the write throws": {
    params: "n",
    body: `let r;
try { a = await ctx.step(echo, 1); r = "no"; } catch (e) { r = e.name; }
let a = 2;
return [r, a];`,
    args: [1],
  },
  "a += await and a ||= await before let a throw before the step": {
    params: "n",
    body: `const out = [];
try { a += await ctx.step(echo, 1); } catch (e) { out.push(e.name); }
try { a ||= await ctx.step(echo, 2); } catch (e) { out.push(e.name); }
try { a++; } catch (e) { out.push(e.name); }
let a = await ctx.step(echo, 3);
return [out, a];`,
    args: [1],
  },
  "patterns and loop heads writing a let before its declaration": {
    params: "n",
    body: `const out = [];
let b = 0;
try { [a] = [await ctx.step(echo, 1)]; } catch (e) { out.push(e.name); }
try { [b, a] = [1, 2]; } catch (e) { out.push(e.name, b); }
try { ({ a } = { a: 1 }); } catch (e) { out.push(e.name); }
try { ({ a = await ctx.step(echo, "default") } = {}); } catch (e) { out.push(e.name); }
try { for (a of [1]) out.push("body"); } catch (e) { out.push(e.name); }
try { for (a of []) out.push("body"); out.push("empty"); } catch (e) { out.push(e.name); }
try { for (a in { k: 1 }) out.push("body"); } catch (e) { out.push(e.name); }
let a = await ctx.step(echo, 2);
return [out, a];`,
    args: [1],
  },
  "a closure destructuring into a let before, then after, its declaration": {
    params: "n",
    body: `const set = (v) => { [w] = [v]; };
let r;
try { set(1); r = "no"; } catch (e) { r = e.name; }
let w = await ctx.step(echo, 5);
set(7);
return [r, w];`,
    args: [1],
  },
  "a compound write from a switch case entered past the declaration": {
    params: "n",
    body: `const out = [];
switch (n) {
  case 0:
    let x = 1;
  case 1:
    try { x += await ctx.step(echo, 1); } catch (e) { out.push(e.name); }
    try { [x] = [await ctx.step(echo, 2)]; } catch (e) { out.push(e.name); }
}
return out;`,
    args: [1],
  },
  "a block's const shadowing a parameter, read in its own initializer": {
    params: "n",
    body: `{ try { const n = n + await ctx.step(echo, 1); return n; } catch (e) { return [e.name, await ctx.step(echo, "c")]; } }`,
    args: [1],
  },
  "let x = x + await throws before the step": {
    params: "n",
    body: `try { let x = x + await ctx.step(echo, 1); return x; } catch (e) { return [e.name, await ctx.step(echo, "c")]; }`,
    args: [1],
  },
  "for (const x of x) and for (const k in k) are ReferenceErrors": {
    params: "n",
    body: `const x = [1, 2];
const k = { a: 1 };
const out = [];
try { for (const x of x) await ctx.step(echo, x); out.push("no"); } catch (e) { out.push(e.name); }
try { for (const k in k) await ctx.step(echo, k); out.push("no"); } catch (e) { out.push(e.name); }
for (const y of x) out.push(await ctx.step(echo, y));
return out;`,
    args: [1],
  },
  // A function literal before a durable await in the same expression is made after it.
  "a reducer before an awaited initial value": {
    params: "n",
    body: `const prices = [1, 2, 3];
return prices.reduce((s, p) => s + p, await ctx.step(add, 0, 10));`,
    args: [1],
  },
  "a comparator before an awaited argument, and a named function expression": {
    params: "n",
    body: `const xs = [3, 1, 2];
const sorted = [...xs].sort((a, b) => b - a, await ctx.step(echo, 1));
const mapped = xs.map(function twice(v) { return v * 2; }, await ctx.step(echo, 2));
return [sorted, mapped];`,
    args: [1],
  },
  "function literals keep their names beside an await": {
    params: "n",
    body: `const a = [() => 1, function named() {}, await ctx.step(echo, 2)];
const names = [a[0].name, a[1].name, a[2]];
const o = { onDone: () => 1, id: await ctx.step(echo, 1) };
return [o.onDone.name, o.onDone(), o.id, names];`,
    args: [1],
  },
  "a function literal sees a variable the later operands change": {
    params: "n",
    body: `let k = 1;
const pair = [() => k, (k = 2, await ctx.step(echo, 0))];
const seen = pair[0]();
k = 3;
return [seen, pair[0](), await ctx.step(echo, "end")];`,
    args: [1],
  },
  "closures over a per-iteration let keep the names JavaScript gives them": {
    params: "n",
    body: `const out = [];
for (let i = 0; i < 2; i++) {
  const f = () => i;
  let g;
  g = function () { return i; };
  out.push(f.name, g.name, [() => i][0].name);
  const o = { onDone: () => i, id: await ctx.step(echo, i) };
  out.push(o.onDone.name, o.onDone());
}
return out;`,
    args: [1],
  },
  "a callback before an awaited argument, in a loop, capturing the iteration's let": {
    params: "n",
    body: `const apply = (fn, v) => fn(v);
const out = [];
for (let i = 0; i < 2; i++) out.push(apply((v) => v + i, await ctx.step(echo, i * 10)));
return out;`,
    args: [1],
  },
};

/** Unary operands of `**`, whose parentheses the passes drop when they rebuild the operand. */
const exponentBases: Record<string, OracleCase> = {
  "a unary minus of an awaited value as the base of **": {
    params: "n",
    body: `const c = (-(await ctx.step(echo, 2))) ** 3;
const d = (+(await ctx.step(echo, "3"))) ** 2;
return [c, d];`,
    args: [1],
  },
  "typeof, ~, ! and void of an awaited value as the base of **": {
    params: "n",
    body: `const a = (~(await ctx.step(echo, 2))) ** 2;
const b = (!(await ctx.step(echo, 0))) ** 2;
const c = (void (await ctx.step(echo, 1))) ** 2;
const d = (typeof (await ctx.step(echo, 1))).length ** 2;
return [a, b, c, d];`,
    args: [1],
  },
};

/** Methods and accessors with computed keys beside durable awaits: the key runs in order. */
const methodKeys: Record<string, OracleCase> = {
  "a method's computed key is read before the properties after it and the await": {
    params: "n",
    body: `let k = "a";
const bump = () => { k = "z"; return 0; };
const o = { [k]() { return 1; }, w: bump(), v: await ctx.step(echo, 1) };
return [Object.keys(o), o.a()];`,
    args: [1],
  },
  "an accessor's computed key runs before the step's arguments": {
    params: "n",
    body: `const log = [];
const key = (x) => { log.push(x); return x; };
const o = { get [key("h")]() { return 2; }, v: await ctx.step(echo, log.length) };
return [Object.keys(o), log, o.h];`,
    args: [1],
  },
  "a generator method keyed by Symbol.iterator beside an await": {
    params: "n",
    body: `const bag = { *[Symbol.iterator]() { yield 1; yield 2; }, size: await ctx.step(echo, 2) };
const out = [...bag, bag.size];
return out;`,
    args: [1],
  },
  "computed method keys in a loop holding a checkpoint": {
    params: "n",
    body: `const out = [];
for (let i = 0; i < 2; i++) {
  const o = { ["m" + i]() { return i; }, v: await ctx.step(echo, i) };
  out.push(Object.keys(o).join(), o["m" + i]());
}
return out;`,
    args: [1],
  },
};

/** Pattern assignments with durable defaults whose target may not be written. */
const refusedWrites: Record<string, OracleCase> = {
  "a const assigned through an array pattern with a durable default": {
    params: "n",
    body: `const x = 1;
try { [x = await ctx.step(echo, "d")] = []; } catch (e) { return [e.name, x]; }
return x;`,
    args: [1],
  },
  "a const assigned through an object pattern with a durable default": {
    params: "n",
    body: `const x = 1;
try { ({ a: x = await ctx.step(echo, "d") } = {}); } catch (e) { return [e.name, x]; }
return x;`,
    args: [1],
  },
  "a let assigned through a pattern in its dead zone": {
    params: "n",
    body: `let r = "none";
try { [a = await ctx.step(echo, "z")] = []; } catch (e) { r = e.name; }
let a = 0;
return [r, a];`,
    args: [1],
  },
};

describe("programs once miscompiled match the untransformed function", () => {
  itMatchesPlain({
    ...refusedWrites,
    ...methodKeys,
    ...exponentBases,
    ...cases,
    ...nowCompiled,
    ...probed,
    ...chains,
    ...nullishCallees,
    ...functionNames,
  });
});

describe("catch parameters, const, dead-zone writes and function literals beside awaits match the untransformed function", () => {
  itMatchesPlain(bindings);
});

describe("refused constructs are reported, not thrown", () => {
  const compile = (body: string) =>
    transform(
      `import { workflow } from "ratchetjs";\nexport const w = workflow(async (ctx, n) => {\n${body}\n});\n`,
      { filename: "refused.ts", sourceMap: false },
    ).diagnostics.map((d) => d.code);

  it("a class declaration live across a checkpoint is RATCHET1007", () => {
    expect(compile("class C { m() { return 1; } } return 1;")).toStrictEqual([]);
    expect(
      compile(
        "class C { m() { return 1; } } const a = await ctx.step(echo, 1); return new C().m() + a;",
      ),
    ).toStrictEqual(["RATCHET1007"]);
  });

  it("a waitForEvent match that a later spread or computed key may replace is RATCHET1008", () => {
    const wait = (options: string) => compile(`return await ctx.waitForEvent("e", ${options});`);
    expect(wait("{ match: (p) => true, ...n }")).toStrictEqual(["RATCHET1008"]);
    expect(wait('{ match: (p) => true, ["ma" + "tch"]: n }')).toStrictEqual(["RATCHET1008"]);
    expect(wait("{ ...n, match: (p) => true, timeout: 5 }")).toStrictEqual([]);
    expect(wait("{ match: (p) => true, match: (p) => p.n === 2 }")).toStrictEqual([]);
  });
});
