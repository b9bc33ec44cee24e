import { describe, expect, it } from "vitest";
import { itMatchesPlain, load, type OracleCase, runCompiled, runPlain } from "./support/oracle.js";
import { callees } from "./support/steps.js";

/**
 * A call whose arguments hold a durable await reads its function (and `this`) before the
 * arguments, as JavaScript does; after a resume in the arguments it reads the function again
 * from the kept object and key. Against the untransformed function, uninterrupted and
 * crashed-then-resumed after each checkpoint.
 */
const cases: Record<string, OracleCase> = {
  "this is the object the method was read from": {
    params: "n",
    body: `const a = callees.method(await ctx.step(add, n, 1));
const list = [1];
list.push(await ctx.step(add, n, 2), await ctx.step(add, n, 3));
return [a, list, Math.max(n, await ctx.step(add, n, 4))];`,
    args: [1],
  },
  "a computed key changed by the arguments": {
    params: "n",
    body: `let k = "method";
const r = callees[k]((k = "other", await ctx.step(add, n, 1)));
return [r, k];`,
    args: [1],
  },
  "an object changed by the arguments": {
    params: "n",
    body: `let list = [1];
const r = list.concat((list = [9], await ctx.step(add, n, 1)));
return [r, list];`,
    args: [1],
  },
  "a callee that is not a function throws after the arguments": {
    params: "n",
    body: `const o = { a: 1 };
try { o.a(await ctx.step(add, n, 1)); } catch (e) { return [e.name, e.message]; }`,
    args: [1],
  },
  "optional calls with a missing function skip the step": {
    params: "n",
    body: `const a = callees.missing?.(await ctx.step(echo, "skipped"));
const b = callees.method?.(await ctx.step(echo, "run"));
const none = n > 0 ? null : callees;
const c = none?.method(await ctx.step(echo, "skipped too"));
return [a, b, c];`,
    args: [1],
  },
  "new reads its constructor before the arguments": {
    params: "n",
    body: `const m = new Map([["a", await ctx.step(add, n, 1)]]);
const r = new Resource(await ctx.step(echo, "r"));
const s = new Set([await ctx.step(add, n, 2)]);
try { new n(await ctx.step(add, n, 3)); } catch (e) { return [[...m], r.name, s instanceof Set, e.message]; }`,
    args: [1],
  },
  // The object of the call was kept in a temporary persisted at the checkpoint: an object
  // holding functions failed with a SerializationError, and a built-in (Math, stored as {})
  // came back without its methods ("$t1.max is not a function").
  "a method of a module object's member, of a global's member, of a variable's member": {
    prelude: `const deps = { logger: { info: (x) => "info " + x } };`,
    params: "n",
    body: `const order = { items: [n] };
const a = deps.logger.info(await ctx.step(add, n, 1));
const b = globalThis.Math.max(1, await ctx.step(add, n, 2));
const c = deps["logger"].info(await ctx.step(add, n, 3));
order.items.push(await ctx.step(add, n, 4));
return [a, b, c, order.items];`,
    args: [1],
  },
  "a method of a module object's member, with a call in the arguments": {
    prelude: `const deps2 = { logger: { info(a, b) { return [this === deps2.logger, a, b]; } } };`,
    params: "n",
    body: `return deps2.logger.info(String(n), await ctx.step(add, n, 1));`,
    args: [1],
  },
  "a method of a module object's member through optional links": {
    prelude: `const deps3 = { logger: { info: (x) => "info " + x }, none: null };`,
    params: "n",
    body: `return [
  deps3?.logger.info(await ctx.step(add, n, 1)),
  deps3.logger?.info(await ctx.step(add, n, 2)),
  deps3.none?.info(await ctx.step(add, n, 3)),
  deps3?.["logger"].info(await ctx.step(add, n, 4)),
];`,
    args: [1],
  },
  // A key that is a variable the rest cannot assign (`deps[k]`) is read again too: the chain
  // was kept and persisted, a SerializationError when it held functions.
  "a module object's member by a variable key: a method, a compound assignment, optional links": {
    prelude: `const deps4 = { logger: { info: (x) => "info " + x }, a: { v: 0, f() {} }, b: { v: 0, f() {} } };`,
    params: "n, key",
    body: `const k = "logger";
const out = [deps4[k].info(await ctx.step(add, n, 1))];
deps4.a.v = 0; deps4.b.v = 0;
for (const j of ["a", "b", "a"]) deps4[j].v += await ctx.step(add, n, 2);
out.push(deps4[key]?.info(await ctx.step(add, n, 3)), deps4?.[key].info(await ctx.step(add, n, 4)));
return [out, deps4.a.v, deps4.b.v];`,
    args: [1, "logger"],
  },
  // `delete` kept the object and persisted it: a SerializationError when it held functions.
  "delete of a module object's member by a key that awaits a step": {
    prelude: `const deps5 = { stats: { a: 1, b: 2, f() {} }, none: null };`,
    params: "n",
    body: `deps5.stats.a = 1;
const r = delete deps5.stats[await ctx.step(echo, "a")];
const left = Object.keys(deps5.stats);
deps5.stats.a = 1;
try { delete deps5.none[await ctx.step(echo, "b")]; } catch (e) { return [r, left, e.message]; }`,
    args: [1],
  },
  "the object of such a call, nullish: JavaScript's TypeError before the step": {
    prelude: `const holder = { none: null };`,
    params: "n",
    body: `try { return holder.none.m(await ctx.step(add, n, 1)); } catch (e) { return [e.message, await ctx.step(add, n, 2)]; }`,
    args: [1],
  },
};

describe("callees are read before the arguments, as in JavaScript", () => {
  itMatchesPlain(cases);

  // Uninterrupted, exactly as in JavaScript. After a resume in the arguments the function is
  // read again from the kept object: a getter runs again, a replacement made by the
  // arguments' own code is the one called (docs/compiler.md).
  it("a getter callee is read once, before the arguments", async () => {
    const c: OracleCase = {
      params: "n",
      // (The arguments call String: with no code of their own to run, the function would
      // be read at the call.)
      body: "return callees.fn(String(await ctx.step(add, n, 1)));",
      args: [1],
    };
    const { compiled, plain } = await load(c);
    const expected = await runPlain(plain, c.args);
    expect(expected).toStrictEqual({ ok: true, value: "fn(2)", steps: ["read fn", "add(1,1)"] });
    const { checkpoints: _, ...outcome } = await runCompiled(compiled, c.args);
    expect(outcome).toStrictEqual(expected);
  });

  // The held object was `$t ?? chain`: a nullish object was read again, so a getter on the
  // chain ran twice, and one giving undefined then an object made `=` write where JavaScript
  // throws.
  it("a getter on a held chain giving a nullish object runs once, as in JavaScript", async () => {
    const c: OracleCase = {
      prelude: `let reads = 0;
const holder = { get none() { reads++; return null; }, get later() { reads++; return reads > 1 ? {} : undefined; } };`,
      params: "n",
      body: `reads = 0;
const a = holder.none?.m(await ctx.step(add, n, 1));
const counted = reads;
reads = 0;
try { holder.later.x = await ctx.step(add, n, 2); } catch (e) { return [a, counted, e.message, reads]; }
return [a, counted, "no error", reads];`,
      args: [1],
    };
    const { compiled, plain } = await load(c);
    const expected = await runPlain(plain, c.args);
    expect(expected).toMatchObject({
      ok: true,
      value: [undefined, 1, "Cannot set properties of undefined (setting 'x')", 1],
    });
    const { checkpoints: _, ...outcome } = await runCompiled(compiled, c.args);
    expect(outcome).toStrictEqual(expected);
  });

  it("a method replaced by the arguments' own code: the one read before them is called", async () => {
    const c: OracleCase = {
      params: "n",
      body: `return callees.other((callees.other = (x) => "replaced " + x, await ctx.step(add, n, 1)));`,
      args: [1],
    };
    const { compiled, plain } = await load(c);
    const original = callees.other;
    try {
      const expected = await runPlain(plain, c.args);
      expect(expected).toMatchObject({ ok: true, value: "other(2)" });
      callees.other = original;
      const { checkpoints: _, ...outcome } = await runCompiled(compiled, c.args);
      expect(outcome).toStrictEqual(expected);
    } finally {
      callees.other = original;
    }
  });
});
