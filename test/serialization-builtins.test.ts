import { createEngine, registerClass, SerializationError, workflow } from "ratchetjs";
import type { StorageAdapter } from "ratchetjs/adapters";
import { memory } from "ratchetjs/adapters/memory";
import { transform } from "ratchetjs/compiler";
import { describe, expect, it } from "vitest";
import { forecast } from "../cli/check-db.js";
import { serialize } from "../runtime/serialization.js";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";
import { echo } from "./support/steps.js";

/**
 * Built-in values live across a checkpoint and returned by steps, against the oracle: the
 * untransformed body and the compiled workflow give the same result or error and the same
 * step calls, uninterrupted and crashed then resumed after each checkpoint. Each value
 * either comes back as it was (a Buffer as a Buffer, a RegExp at its lastIndex, a match
 * result with its index and groups, an AggregateError with its errors) or is refused.
 */

/** A registered Map subclass: it comes back as itself. */
class SbBag extends Map<string, number> {
  total(): number {
    return [...this.values()].reduce((a, b) => a + b, 0);
  }
}
registerClass(SbBag, {
  serialize: (bag) => [...bag],
  deserialize: (entries) => new SbBag(entries),
});
(globalThis as Record<string, unknown>).SbBag = SbBag;

const buffers: Record<string, OracleCase> = {
  "a Buffer live across a checkpoint": {
    params: "s",
    body: `const b = Buffer.from(s);
await ctx.step(echo, 1);
return [b.toString("base64"), Buffer.isBuffer(b)];`,
    args: ["hi"],
  },
  "a step returning a Buffer": {
    params: "s",
    body: `const b = await ctx.step("read", () => Buffer.from(s));
return [b.toString("hex"), Buffer.isBuffer(b)];`,
    args: ["hi"],
  },
  "a Buffer slice of a larger one, in a Map, shared with an array": {
    params: "s",
    body: `const whole = Buffer.from(s + " and more");
const part = whole.subarray(0, s.length);
const m = new Map([["part", part]]);
const list = [part];
await ctx.step(echo, 1);
return [m.get("part").toString(), m.get("part") === list[0], Buffer.isBuffer(list[0]), whole.length];`,
    args: ["hey"],
  },
  // Came back with memory of its own: the write through b was not seen through u (1, not 9).
  "a Buffer over a Uint8Array's memory still shares it": {
    params: "n",
    body: `const u = new Uint8Array([1, 2, 3]);
const b = Buffer.from(u.buffer);
const whole = Buffer.alloc(4);
const view = new DataView(whole.buffer);
await ctx.step(echo, 1);
b[0] = 9;
whole[1] = n;
return [u[0], b.toString("hex"), view.getUint8(1)];`,
    args: [7],
  },
  "a registered Map subclass live across a checkpoint": {
    params: "n",
    body: `const b = new globalThis.SbBag([["a", n], ["b", 2]]);
await ctx.step(echo, 1);
return [b.total(), b instanceof globalThis.SbBag];`,
    args: [1],
  },
};

const regexps: Record<string, OracleCase> = {
  "a sticky regex tokenizer loop": {
    params: "s",
    body: `const re = /\\w+\\s*/y; const out = [];
let m;
while ((m = re.exec(s))) out.push(await ctx.step(echo, m[0].trim()));
return out;`,
    args: ["ab cd ef"],
  },
  "a global regex exec loop, lastIndex read after the loop": {
    params: "s",
    body: `const re = /\\d+/g; const out = [];
let m;
while ((m = re.exec(s)) !== null) out.push(await ctx.step(echo, [m[0], m.index, re.lastIndex]));
return [out, re.lastIndex];`,
    args: ["a1 b22 c333"],
  },
  "a global regex test() loop": {
    params: "s",
    body: `const re = /o/g; let n = 0;
while (re.test(s)) n = await ctx.step(echo, n + re.lastIndex);
return n;`,
    args: ["foo boo"],
  },
};

const arrays: Record<string, OracleCase> = {
  "a match result's index, groups and input": {
    params: "s",
    body: `const m = /(?<num>\\d+)/.exec(s);
await ctx.step(echo, 1);
return [m.index, m.groups?.num, m.input, Object.getPrototypeOf(m.groups) === null, Object.keys(m)];`,
    args: ["ab12"],
  },
  "a match result returned by a step, with indices": {
    params: "s",
    body: `const m = await ctx.step("match", () => /(?<w>[a-z]+)(\\d)/d.exec(s));
return [m.index, m.groups.w, m.indices.groups.w, m.indices[2], m.input];`,
    args: ["--ab1"],
  },
  "matchAll results spread into an array": {
    params: "s",
    body: `const all = [...s.matchAll(/(?<d>\\d)/g)];
const out = [];
for (const m of all) out.push(await ctx.step(echo, m.index));
return [out, all.map((m) => m.groups.d)];`,
    args: ["a1b2c3"],
  },
  "an array with a property of its own": {
    params: "n",
    body: `const rows = [1, 2, 3];
rows.total = n;
await ctx.step(echo, 1);
rows.total += 1;
return [rows.total, rows.length, Object.keys(rows)];`,
    args: [5],
  },
  "a tagged template's strings keep raw": {
    params: "n",
    body: `const strings = ((s) => s)\`a\\n\${n}b\`;
await ctx.step(echo, 1);
return [strings.raw, [...strings], Object.keys(strings)];`,
    args: [1],
  },
};

const errors: Record<string, OracleCase> = {
  "an AggregateError through a finally with a checkpoint": {
    params: "n",
    body: `try {
  try { throw new AggregateError([new Error("a")], "all failed"); }
  finally { await ctx.step(echo, 1); }
} catch (e) { return [e instanceof AggregateError, e.errors?.length, e.errors?.[0]?.message]; }`,
    args: [1],
  },
  "an AggregateError from Promise.any, kept across a checkpoint": {
    params: "n",
    body: `let caught;
try { await Promise.any([Promise.reject(new TypeError("x")), Promise.reject(new RangeError("y"))]); }
catch (e) { caught = e; }
await ctx.step(echo, 1);
return [caught instanceof AggregateError, caught.errors.map((e) => [e.name, e instanceof Error, e.message])];`,
    args: [1],
  },
  "an error's cause, itself an error with a cause": {
    params: "n",
    body: `const e = new Error("top", { cause: new TypeError("mid", { cause: { code: n } }) });
await ctx.step(echo, 1);
return [e.cause instanceof TypeError, e.cause.message, e.cause.cause.code, Object.keys(e)];`,
    args: [7],
  },
  // The class was chosen by the name: a renamed TypeError came back as an Error (instanceof
  // false), an Error named "TypeError" as a TypeError, and an own name was not own.
  "a renamed built-in error keeps its class, and its own name": {
    params: "n",
    body: `const renamed = new TypeError("x"); renamed.name = "Custom"; renamed.code = n;
const named = new Error("y"); named.name = "TypeError";
class NotFound extends Error { constructor(m) { super(m); this.name = "NotFound"; } }
class Wrong extends RangeError {}
const own = new NotFound("z");
const sub = new Wrong("w");
await ctx.step(echo, 1);
return [
  [renamed instanceof TypeError, renamed.name, String(renamed), Object.keys(renamed)],
  [named instanceof TypeError, named instanceof Error, named.name],
  [own.name, Object.keys(own), own instanceof Error],
  [sub instanceof RangeError, sub.name],
];`,
    args: [7],
  },
};

const names: Record<string, OracleCase> = {
  "a variable named __proto__ live across a checkpoint": {
    params: "n",
    body: `let __proto__ = { a: n };
await ctx.step(echo, 1);
__proto__.a += 1;
return __proto__;`,
    args: [1],
  },
  "a variable named __proto__ beside others, across two checkpoints": {
    params: "n",
    body: `let __proto__ = n, other = "x";
const a = await ctx.step(echo, 1);
const b = await ctx.step(echo, __proto__ + a);
__proto__ += b;
return [__proto__, other, Object.getPrototypeOf({}) === Object.prototype];`,
    args: [1],
  },
};

describe("built-ins across a checkpoint, against the oracle", () => {
  describe("Buffers and registered subclasses", () => itMatchesPlain(buffers));
  describe("RegExp lastIndex", () => itMatchesPlain(regexps));
  describe("arrays with properties", () => itMatchesPlain(arrays));
  describe("errors", () => itMatchesPlain(errors));
  describe("names", () => itMatchesPlain(names));
});

class SbUnregistered extends Map<string, number> {}

const holdsSubclass = workflow(async (ctx, n: number) => {
  const bag = new SbUnregistered([["a", n]]);
  await ctx.step(echo, 1);
  return bag.size;
});

describe("an unregistered subclass of a built-in live across a checkpoint", () => {
  it("is refused before the checkpoint commits, naming the variable and saying what to do", async () => {
    const storage = memory();
    const engine = createEngine({ storage, workflows: [holdsSubclass] });
    try {
      const run = await engine.start(holdsSubclass, [1]);
      const error = (await run.result().catch((e: unknown) => e)) as SerializationError;
      expect(error).toBeInstanceOf(SerializationError);
      expect(error.message).toContain('variable "bag"');
      expect(error.message).toContain("a SbUnregistered instance (a subclass of Map)");
      expect(error.message).toContain("registerClass(");
      expect((await storage.loadRun(run.id))?.frame).toBeNull();
    } finally {
      await engine.close();
    }
  });
});

describe("ratchet check --db reads frames holding the new kinds of values", () => {
  it("finds the variables of a frame with a Buffer, a match result and a variable named __proto__", async () => {
    const source = `import { workflow } from "ratchetjs";
const echo = async (_ctx, v) => v;
export const held = workflow(async (ctx, s) => {
  let __proto__ = Buffer.from(s);
  const m = /(?<d>\\d)/.exec(s);
  const re = /./g;
  re.exec(s);
  await ctx.step(echo, 1);
  return [__proto__, m, re];
});`;
    const out = transform(source, { filename: "held.ts" });
    expect(out.diagnostics).toStrictEqual([]);
    const manifest = out.workflows[0]!;
    // As the compiled machine makes it: { __proto__, m, re }, an own __proto__ property.
    const vars: Record<string, unknown> = {};
    Object.defineProperty(vars, "__proto__", {
      value: Buffer.from("a1"),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    vars.m = /(?<d>\d)/.exec("a1");
    vars.re = Object.assign(/./g, { lastIndex: 1 });
    const frame = serialize({ cp: manifest.checkpoints[0]!.id, v: vars, r: 1 });
    expect(frame).toContain('"ProtoKey"');
    const run = {
      id: "r1",
      workflow: manifest.name,
      status: "running",
      frame,
      args: serialize(["a1"]),
    };
    const storage = {
      init: async () => {},
      listRuns: async () => [run],
    } as unknown as StorageAdapter;
    const rows = await forecast(storage, [manifest]);
    expect(rows.map((r) => [r.checkpoint, r.resume, r.park, r.reason])).toStrictEqual([
      [manifest.checkpoints[0]!.id, 1, 0, undefined],
    ]);
  });
});
