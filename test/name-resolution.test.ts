import { createEngine, type FunctionContext, fn, type Workflow, workflow } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { formatDiagnostic, transform } from "ratchetjs/compiler";
import { describe, expect, it } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";

/**
 * Names in a workflow body mean what they mean in plain JavaScript (issue 11): the compiled
 * machine introduces no binding of its own that the body could see, and `ctx` is the context
 * only where it is the workflow's first parameter.
 */

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function runToEnd(definition: Workflow, args: unknown[], others: Workflow[] = []) {
  const engine = createEngine({
    storage: memory(),
    workflows: [definition, ...others],
    logger: quiet,
    worker: { pollIntervalMs: 5 },
  });
  try {
    const run = await engine.start(definition, args as never);
    return await run.result().catch((e: Error) => `${e.name}: ${e.message}`);
  } finally {
    await engine.close();
  }
}

// Workflows named like a module function, a step, a global, or their own binding. Each
// suspends (a sleep) and resumes, so the body runs in a machine made again from its frame.
const sent: number[] = [];
function notify(n: number) {
  sent.push(n);
}
const notifyWorkflow = workflow({ name: "notify" }, async (ctx, n: number) => {
  notify(n);
  await ctx.sleep("1ms");
  notify(n + 1);
  return sent.length;
});

const checkout = fn(async (_ctx: FunctionContext, total: number) => `paid ${total}`, {
  retries: 0,
});
const checkoutWorkflow = workflow({ name: "checkout" }, async (ctx, total: number) => {
  await ctx.sleep("1ms");
  return await ctx.step(checkout, total);
});

const processWorkflow = workflow({ name: "process" }, async (ctx, n: number) => {
  await ctx.sleep("1ms");
  return [n, typeof process.env];
});

const dateWorkflow = workflow({ name: "Date" }, async (ctx) => {
  const before = typeof Date.now();
  await ctx.sleep("1ms");
  return [before, typeof Date.now(), new Date(0).toISOString()];
});

const selfNamed = workflow(async (ctx): Promise<string[]> => {
  const before = typeof selfNamed;
  await ctx.sleep("1ms");
  return [before, typeof selfNamed, selfNamed.name];
});

const countdown = workflow(async (ctx, n: number): Promise<number> => {
  if (n <= 0) return 0;
  return 1 + (await ctx.child(countdown, [n - 1]));
});

describe("the machine introduces no name the body can see", () => {
  it("a module function named like the workflow is the one called", async () => {
    sent.length = 0;
    expect(await runToEnd(notifyWorkflow, [5])).toBe(2);
    expect(sent).toEqual([5, 6]);
  });

  it("a step named like the workflow is the step", async () => {
    expect(await runToEnd(checkoutWorkflow, [5])).toBe("paid 5");
  });

  it("globals named like the workflow stay the globals (process, Date)", async () => {
    expect(await runToEnd(processWorkflow, [5])).toEqual([5, "object"]);
    expect(await runToEnd(dateWorkflow, [])).toEqual([
      "number",
      "number",
      "1970-01-01T00:00:00.000Z",
    ]);
  });

  it("the workflow's own const is its definition, as in plain code", async () => {
    expect(await runToEnd(selfNamed, [])).toEqual(["object", "object", "selfNamed"]);
  });

  it("a workflow starts itself as a child through its own const", async () => {
    expect(await runToEnd(countdown, [3])).toBe(3);
  });

  it("names the machine ratchet$<name> for stack traces, numbered when the body spells that", () => {
    const out = transform(
      `import { workflow } from "ratchetjs";
export const w = workflow({ name: "my-flow" }, async (ctx) => {
  const ratchet$my_flow = 1;
  await ctx.sleep("1s");
  return ratchet$my_flow;
});`,
      { filename: "w.ts", sourceMap: false },
    );
    expect(out.diagnostics).toEqual([]);
    expect(out.code).toContain("async function* ratchet$my_flow_2(ctx, $frame)");
  });

  it("refuses a named function expression whose body refers to its own name", () => {
    const out = transform(
      `import { workflow } from "ratchetjs";
export const w = workflow(async function again(ctx, n: number) {
  await ctx.sleep("1s");
  return typeof again;
});`,
      { filename: "w.ts", sourceMap: false },
    );
    expect(out.diagnostics.map(formatDiagnostic)).toEqual([
      "w.ts:4:17 - error RATCHET1006: `again`, the workflow function's own name, cannot be used in a workflow body.\n" +
        "  hint: Compiled, the body is a state machine the runtime drives, not a function to call or pass. To run the workflow again, start it as a child: await ctx.child(<the workflow's const>, [args]); for its name, read ctx.workflowName.",
    ]);
  });

  it("compiles a named function expression that does not refer to its name, or shadows it", () => {
    const out = transform(
      `import { workflow } from "ratchetjs";
export const w = workflow(async function again(ctx, n: number) {
  const again = n + 1;
  await ctx.sleep("1s");
  return again;
});`,
      { filename: "w.ts", sourceMap: false },
    );
    expect(out.diagnostics).toEqual([]);
  });
});

/**
 * The machine's own names (`$pc`, `$frame`, `$sent`, `$loop`, `$error`, temporaries `$t1`,
 * `$tkey`, the dead-zone sentinel `$tdz`) used by the body for its own: the machine takes
 * others, and the body's mean what they mean in plain code.
 */
const machineSpelled: Record<string, OracleCase> = {
  "variables, a label and a catch parameter spelled like the machine's names": {
    params: "n",
    body: `let $pc = n, $frame = { pc: 7 }, $sent = "mine", $t1 = 1, $t2 = 2;
const out = [];
$loop: for (let i = 0; i < n; i++) {
  $sent = await ctx.step(add, $pc, i);
  for (const $tkey in { a: 1, b: 2 }) {
    if ($tkey === "b" && i === 1) continue $loop;
    out.push($tkey + i);
  }
  try {
    if (i === 2) await ctx.step(boom, "bad " + i);
  } catch ($error) {
    out.push($error.message, $frame.pc);
  }
  $t1 += await ctx.step(add, $t2, i);
}
return [$pc, $sent, $t1, $t2, $frame, out];`,
    args: [4],
  },
  "a dead-zone read of a name spelled like the sentinel": {
    params: "n",
    body: `const f = () => $tdz;
let r;
try { r = f(); } catch (e) { r = e.name; }
await ctx.step(echo, "before");
let $tdz = await ctx.step(add, n, 1);
return [r, f(), $tdz];`,
    args: [2],
  },
};

describe("a body that spells the machine's own names", () => {
  itMatchesPlain(machineSpelled);
});

/** A local named like the context is a plain variable: its calls are plain calls. */
const localCtx: Record<string, OracleCase> = {
  "a block-scoped const named ctx": {
    params: "n",
    body: `const r = [];
{ const ctx = { step: async (f, x) => "fake" + x }; r.push(await ctx.step(echo, 1)); }
r.push(await ctx.step(echo, 2));
return r;`,
    args: [1],
  },
  "a block-scoped ctx in a block that also holds a checkpoint of the real context": {
    params: "n",
    body: `const r = [];
const real = n;
for (let i = 0; i < 2; i++) {
  r.push(await ctx.step(add, real, i));
  if (i === 1) { let ctx = { step: (f, x) => "local" + x }; r.push(ctx.step(echo, i)); }
}
return r;`,
    args: [1],
  },
  "nested functions whose parameter is named ctx": {
    params: "n",
    body: `const helper = (ctx) => ctx.step + 1;
const h2 = async (ctx) => await ctx.step(1);
function h3(ctx) { return ctx.parallel(2) + ctx.unknownMember; }
return [helper({ step: 1 }), await h2({ step: async (x) => x + 1 }),
  h3({ parallel: (x) => x * 2, unknownMember: 1 }), await ctx.step(echo, 3)];`,
    args: [1],
  },
  "a catch parameter named ctx": {
    params: "n",
    body: `const r = [await ctx.step(echo, 1)];
try { throw { step: (f, x) => "thrown" + x }; } catch (ctx) { r.push(ctx.step(echo, 2)); }
r.push(await ctx.step(echo, 3));
return r;`,
    args: [1],
  },
};

describe("a local named ctx is not the workflow context", () => {
  itMatchesPlain(localCtx);

  it("refuses redeclaring the context parameter in the body's own scope", () => {
    const out = transform(
      `import { workflow } from "ratchetjs";
export const w = workflow(async (ctx, n: number) => {
  var ctx;
  return await ctx.step(f, n);
});`,
      { filename: "w.ts", sourceMap: false },
    );
    expect(out.diagnostics.map((d) => `${d.code} ${d.line}:${d.column} ${d.message}`)).toEqual([
      "RATCHET1003 3:7 `ctx` is declared again in the workflow body, where it is the workflow context (the first parameter).",
    ]);
  });
});

/** An enum or namespace in the body: kept whole it is correct; split by a checkpoint, refused. */
describe("TypeScript enums and namespaces in the body", () => {
  const ts = (body: string): OracleCase => ({
    params: "n: number",
    form: "function",
    thisType: "void",
    body,
    args: [1],
  });
  itMatchesPlain({
    "an enum in a block without a checkpoint, in a loop with one": ts(`const out = [];
for (let i = 0; i < 2; i++) {
  { enum Color { Red, Green = 5, Blue } out.push([Color.Green, Color[6], Color.Blue + i]); }
  out.push(await ctx.step(add, n, i));
}
return out;`),
    "an enum before the first checkpoint, in a nested function":
      ts(`function colors() { enum Color { Red, Green = 5 } return [Color.Red, Color[5]]; }
const v = await ctx.step(add, n, 1);
return [v, colors()];`),
  });

  const refusal = (body: string) =>
    transform(
      `import { workflow } from "ratchetjs";\nexport const w = workflow(async (ctx, n: number) => {\n${body}\n});`,
      { filename: "w.ts", sourceMap: false },
    ).diagnostics.map((d) => `${d.code} ${d.line}:${d.column} ${d.message}\n${d.hint}`);

  it("refuses an enum whose statement list a checkpoint splits, naming it and its line", () => {
    expect(
      refusal(`enum Color { Red, Green = 5 }
const c = await ctx.step(echo, Color.Green);
return [c, Color.Red];`),
    ).toEqual([
      "RATCHET1001 3:6 The enum `Color` (line 3) is declared in a part of the workflow body that a checkpoint splits: when the run resumes after the checkpoint, the code there would run without it.\n" +
        "Declare the enum at the top level of the module, outside the workflow (its members are constants), or in a block with no checkpoint inside.",
    ]);
    // A const enum too: not every TypeScript stripper inlines its members.
    expect(refusal(`const enum E { A = "a" }\nawait ctx.sleep("1s");\nreturn E.A;`)).toHaveLength(
      1,
    );
    // In a switch with a checkpoint in another case.
    expect(
      refusal(
        `switch (n) { case 1: { await ctx.sleep("1s"); break; } case 2: enum E { A } return E.A; }`,
      ),
    ).toHaveLength(1);
  });

  it("refuses a namespace split by a checkpoint; a declare enum emits nothing and compiles", () => {
    expect(
      refusal(`namespace N { export const x = 1; }\nawait ctx.sleep("1s");\nreturn N.x;`)[0],
    ).toMatch(/^RATCHET1001 3:11 The namespace `N` \(line 3\)/);
    expect(refusal(`declare enum D { A }\nawait ctx.sleep("1s");\nreturn n;`)).toEqual([]);
  });
});

/** A computed key runs where the object is made: in the body, not in a nested function. */
describe("awaits in computed method keys, and the diagnostics around them", () => {
  itMatchesPlain({
    "a method and a getter of an object literal with a checkpoint in the key": {
      params: "n",
      body: `let i = 1;
const o = { a: i++, [await ctx.step(echo, "m")]() { return i; }, get [await ctx.step(echo, "g")]() { return n; }, b: i };
i = 10;
return [o.m(), o.g, o.a, o.b, Object.keys(o)];`,
      args: [3],
    },
    "a method key names a variable its parameter shadows": {
      params: "n",
      body: `const m = "k";
const o = { [m](m) { return m * 2; }, v: await ctx.step(add, n, 1) };
return [o.k(4), o.v];`,
      args: [3],
    },
  });

  const messages = (body: string) =>
    transform(
      `import { workflow } from "ratchetjs";\nexport const w = workflow(async (ctx, n: number, o: any) => {\n${body}\n});`,
      { filename: "w.ts", sourceMap: false },
    ).diagnostics.map((d) => `${d.code} ${d.message}\n${d.hint}`);

  it("a checkpoint in a class member's computed key: RATCHET1001 saying so, not 'nested function'", () => {
    expect(messages("class C { [await ctx.step(f)]() {} }\nreturn C;")).toEqual([
      "RATCHET1001 `ctx.step(…)` is in a computed key of a class member: a class with a checkpoint in its definition is not supported yet.\n" +
        "Await it before the class, in a const, and use that as the key: const key = await ctx.step(…); class C { [key]() { … } }.",
    ]);
    // Inside a method of the class it is a nested function.
    expect(messages("class C { m() { return ctx.step(f); } }\nreturn C;")[0]).toMatch(
      /^RATCHET1004 `ctx.step\(…\)` is called inside a nested function/,
    );
  });

  it("a checkpoint in a decorator's arguments: RATCHET1001 saying so, not 'nested function'", () => {
    const decorator =
      "RATCHET1001 `ctx.step(…)` is in a decorator's arguments: a class with a checkpoint in its definition is not supported yet.\n" +
      "Await it before the class, in a const, and pass that: const value = await ctx.step(…); @decorator(value).";
    const dec = "const dec = (v: unknown) => (c: any) => c;\n";
    expect(messages(`${dec}@dec(await ctx.step(f))\nclass C {}\nreturn C;`)).toEqual([decorator]);
    expect(messages(`${dec}class C { @dec(await ctx.step(f)) m() {} }\nreturn C;`)).toEqual([
      decorator,
    ]);
    // In a function inside the decorator's arguments it is a nested function.
    expect(messages(`${dec}@dec(() => ctx.step(f))\nclass C {}\nreturn C;`)[0]).toMatch(
      /^RATCHET1004 `ctx.step\(…\)` is called inside a nested function/,
    );
  });

  it("a callee that is an expression's value, before a checkpoint in its arguments: RATCHET1002", () => {
    expect(messages("return (0, o.m)(await ctx.step(f));")).toEqual([
      "RATCHET1002 The function called here is the value of an expression, `(0, o.m)`, evaluated before its arguments: it would have to be kept across the checkpoint in its arguments, and a function cannot be persisted.\n" +
        "Await the argument first, then make the call: const value = await ctx.step(…); (0, o.m)(value).",
    ]);
  });

  it("for await with a checkpoint inside: RATCHET1006", () => {
    expect(messages("for await (const x of o) { await ctx.step(f, x); }")[0]).toMatch(
      /^RATCHET1006 `for await … of` with a checkpoint inside cannot be resumed/,
    );
  });
});

// A block-scoped binding kept as written beside a slot of the same name from a sibling block:
// the slot is a `var` of the machine, so the kept one would shadow it, and esbuild (which the
// oracle runs, as Vite does) renames a shadowing binding — a function it holds was named "k2".
describe("names of sibling blocks' bindings, one block split by a checkpoint", () => {
  itMatchesPlain({
    "a const function in each branch of an if": {
      params: "n",
      body: `let out;
if (n) { const k = () => 1; await ctx.step(add, n, 1); out = k.name; }
else { const k = () => 2; out = k.name; }
if (!n) { const k = () => 1; await ctx.step(add, n, 1); out += k.name; }
else { const k = () => 2; out += k.name; }
return out;`,
      args: [1],
    },
    "classes, lets and catch parameters in sibling blocks": {
      params: "n",
      body: `const out = [];
{ class K {} let f = function () {}; out.push(K.name, f.name); }
{ class K {} let f = () => 1; out.push(K.name, f.name); await ctx.step(add, n, 1); }
try { throw () => 1; } catch (g) { const h = g; out.push(h.name); }
try { await ctx.step(add, n, 2); throw 1; } catch (g) { const h = () => g; await ctx.step(add, n, 3); out.push(h.name); }
for (const x of [1]) { const m = () => x; out.push(m.name); }
for (const x of [2]) { const m = () => 0; await ctx.step(add, n, x); out.push(m.name, x); }
return out;`,
      args: [1],
    },
  });
});
