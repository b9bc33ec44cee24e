import { describe, expect, it } from "vitest";
import { DiagnosticCodes, formatDiagnostic, mayContainWorkflow, transform } from "./index.js";

const header = `import { workflow, fn } from "ratchetjs";\n`;

function compile(body: string, filename = "src/flows.ts") {
  return transform(header + body, { filename });
}

const order = `
export const orderWorkflow = workflow(async (ctx, orderId: string) => {
  const order = await ctx.step(validateOrder, orderId);
  if (!order.valid) return { status: "invalid", orderId };
  const charge = await ctx.step(chargeCustomer, orderId, order.total);
  await ctx.step(sendConfirmation, orderId, charge.chargeId);
  return { status: "complete", orderId, chargeId: charge.chargeId };
});`;

describe("transform", () => {
  it("compiles the order workflow into a machine with a manifest", () => {
    const out = compile(order);
    expect(out.diagnostics).toEqual([]);
    expect(out.workflows).toHaveLength(1);
    const [manifest] = out.workflows;
    expect(manifest!.name).toBe("orderWorkflow");
    expect(manifest!.params).toEqual(["orderId"]);
    expect(manifest!.checkpoints.map((c) => [c.index, c.id, c.live, c.line, c.column])).toEqual([
      [1, "step:validateOrder", ["orderId"], 4, 17],
      [2, "step:chargeCustomer", ["orderId"], 6, 18],
      [3, "step:sendConfirmation", ["charge", "orderId"], 7, 3],
    ]);
    expect(manifest!.version).toMatch(/^[0-9a-f]{16}$/);
    expect(out.code).not.toContain(": string");
    expect(out.code).toMatchSnapshot();
  });

  it("compiles only calls of the imported workflow, not a local binding of that name", () => {
    const out = compile(`
export const real = workflow(async (ctx) => await ctx.step(a));
export function build(workflow: (f: unknown) => unknown) {
  return workflow(async (ctx: any) => await ctx.step(b));
}
export const viaLocal = (() => {
  const workflow = (f: unknown) => f;
  return workflow(async (ctx: any) => 1);
})();
export const viaCatch = () => { try {} catch (workflow) { return workflow(1); } };
export const viaVar = () => { { return workflow(async () => 1); } var workflow: any; };`);
    expect(out.diagnostics).toEqual([]);
    expect(out.workflows.map((w) => w.name)).toEqual(["real"]);
  });

  it("emits loops and try/finally as states (snapshot)", () => {
    const out = compile(`
export const w = workflow(async (ctx, items: string[]) => {
  const done: string[] = [];
  for (const item of items) {
    try {
      if (item === "skip") continue;
      done.push(await ctx.step(handle, item));
    } catch (error) {
      await ctx.step(report, String(error));
    } finally {
      await ctx.step(audit, item);
    }
  }
  return done;
});`);
    expect(out.diagnostics).toEqual([]);
    expect(out.code).toMatchSnapshot();
  });

  it("emits awaits inside expressions with temporaries (snapshot)", () => {
    const out = compile(`
export const w = workflow(async (ctx, n: number) => {
  let x = n;
  const pair = [x, await ctx.step(add, x, 1), (x = 0)];
  return (await ctx.step(load, n)) ?? pair;
});`);
    expect(out.diagnostics).toEqual([]);
    expect(out.code).toMatchSnapshot();
  });

  it("produces a source map that points at the input", () => {
    const out = compile(order);
    expect(out.map?.sources).toEqual(["src/flows.ts"]);
    expect(out.map?.sourcesContent?.[0]).toContain("validateOrder");
    expect(out.map?.mappings.length).toBeGreaterThan(0);
  });

  it("finds workflows imported under another name or through a namespace", () => {
    const renamed = transform(
      `import { workflow as wf } from "ratchetjs";\nexport const a = wf(async (ctx) => { await ctx.step(f); });`,
      { filename: "a.ts" },
    );
    expect(renamed.workflows.map((w) => w.name)).toEqual(["a"]);
    const namespaced = transform(
      `import * as r from "ratchetjs";\nexport const b = r.workflow({ name: "bee" }, async (ctx) => { await ctx.step(f); });`,
      { filename: "b.ts" },
    );
    expect(namespaced.workflows.map((w) => w.name)).toEqual(["bee"]);
    expect(namespaced.code).toContain(`r.workflow({ name: "bee" }`);
  });

  it("leaves a module without workflows untouched", () => {
    const source = `import { fn } from "ratchetjs";\n// a workflow helper\nexport const f = fn(async () => 1);\n`;
    const out = transform(source, { filename: "x.ts" });
    expect(out).toEqual({ code: source, map: null, workflows: [], diagnostics: [] });
    expect(mayContainWorkflow("export const x: number = 1;")).toBe(false);
  });

  it("persists only the variables live at each checkpoint", () => {
    const out = compile(`
export const w = workflow(async (ctx, n: number) => {
  const huge = new Array(1_000_000).fill(n);
  const socket = new WebSocketLike();
  socket.send(huge.length);
  const a = await ctx.step(one, n);
  const keep = a + 1;
  const b = await ctx.step(two, keep);
  return b + keep;
});`);
    expect(out.diagnostics).toEqual([]);
    expect(out.workflows[0]!.checkpoints.map((c) => c.live)).toEqual([[], ["keep"]]);
  });

  it("re-creates function declarations on resume instead of persisting them", () => {
    const out = compile(`
export const w = workflow(async (ctx, n: number) => {
  function double(x: number) { return x * factor; }
  const factor = 2;
  const a = await ctx.step(one, n);
  return double(a);
});`);
    expect(out.diagnostics).toEqual([]);
    expect(out.workflows[0]!.checkpoints[0]!.live).toEqual(["factor"]);
  });
});

describe("the machine's text", () => {
  it("jumps with a plain continue, and labels the loop only for a jump from a loop of the body's", () => {
    const plain = compile(order).code;
    expect(plain).toContain("\t\tfor (;;)\n");
    expect(plain).not.toMatch(/\$loop|continue \w/);
    // Each block's jump goes to the case written right after it: it falls through.
    expect(plain).toContain("\t$pc = 1;\n\t\t\t\tcase 1:");
    expect(plain).not.toContain("continue");
    const nested = compile(`
export const w = workflow(async (ctx, rows: number) => {
  const out: number[] = [];
  outer: for (let r = 0; r < rows; r++) {
    out.push(await ctx.step(add, r));
    for (let c = 0; c < 3; c++) {
      if (c === r) continue outer;
      switch (c) { case 2: break outer; }
    }
  }
  return out;
});`);
    expect(nested.diagnostics).toEqual([]);
    expect(nested.code).toContain("$loop: for (;;)");
    // Inside the kept loop the label is needed; elsewhere, in a switch too, it is not.
    expect(nested.code.match(/continue \$loop;/g)).toHaveLength(2);
    expect(nested.code).toMatch(/\tcontinue;\n/);
  });

  it("gives the machine's own names a suffix when the body has an identifier spelled like one", () => {
    for (const [name, suffixed] of [
      ["$pc", "$pc_2 = $frame_2.pc"],
      ["$frame", "$pc_2 = $frame_2.pc"],
      ["$t1", "$pc_2 = $frame_2.pc"],
      ["$tkey", "$pc_2 = $frame_2.pc"],
      ["$tdz$v", "$pc_2 = $frame_2.pc"],
      ["$t", "$pc = $frame.pc"],
      ["$total", "$pc = $frame.pc"],
      ["ratchet$pc", "$pc = $frame.pc"],
    ] as const) {
      const out = compile(`
export const w = workflow(async (ctx, n: number) => {
  const ${name} = n;
  await ctx.sleep(1);
  return ${name};
});`);
      expect(out.diagnostics).toEqual([]);
      expect(out.code).toContain(`var ${suffixed},`);
    }
    const both = compile(`
export const w = workflow(async (ctx, n: number) => {
  const $sent = n, $error_2 = n;
  await ctx.sleep(1);
  return $sent + $error_2;
});`);
    expect(both.code).toContain("var $pc_3 = $frame_3.pc");
  });
});

describe("stable identity", () => {
  const base = `
export const w = workflow(async (ctx, id: string) => {
  const a = await ctx.step(load, id);
  const b = await ctx.step(save, a);
  return b;
});`;
  const ids = (source: string) => compile(source).workflows[0]!.checkpoints.map((c) => c.id);
  const version = (source: string) => compile(source).workflows[0]!.version;

  it("keeps checkpoint ids and version when code between checkpoints changes", () => {
    const edited = base.replace(
      "const b = await",
      `console.log("loaded", a);\n  if (a === null) console.log("none");\n  const b = await`,
    );
    expect(ids(edited)).toEqual(ids(base));
    expect(version(edited)).toBe(version(base));
  });

  it("keeps existing ids when a checkpoint is added elsewhere", () => {
    const added = base.replace("return b;", "await ctx.step(notify, id);\n  return b;");
    expect(ids(added).slice(0, 2)).toEqual(ids(base));
    expect(ids(added)[2]).toBe("step:notify");
    expect(version(added)).not.toBe(version(base));
  });

  it("changes the version when what is live at a checkpoint changes", () => {
    const moreLive = base.replace("return b;", "return b + id;");
    expect(ids(moreLive)).toEqual(ids(base));
    expect(version(moreLive)).not.toBe(version(base));
  });

  it("tells repeated targets apart by their calls, never by their order", () => {
    const twice = base.replace("return b;", "const c = await ctx.step(load, b);\n  return c;");
    const [first, save, second] = ids(twice);
    expect(first).toMatch(/^step:load~[0-9a-f]{6}$/);
    expect(second).toMatch(/^step:load~[0-9a-f]{6}$/);
    expect(first).not.toBe(second);
    expect(save).toBe("step:save");
    // One more call of the same function elsewhere moves no id onto another call.
    const thrice = twice.replace("return c;", "const d = await ctx.step(load, c);\n  return d;");
    expect(ids(thrice).slice(0, 3)).toEqual([first, save, second]);
  });

  it("takes a TypeScript this parameter for a type, not for ctx: same manifest and version", () => {
    const written = (head: string) => `
export const w = workflow(async function (${head}ctx, id: string, { n = 1 }: { n?: number } = {}) {
  const a = await ctx.step(load, id);
  return [a, n];
});`;
    const plain = compile(written("")).workflows[0]!;
    const typed = compile(written("this: void, "));
    expect(typed.diagnostics).toEqual([]);
    expect(typed.workflows[0]).toEqual(plain);
    expect(plain.params).toEqual(["id", "[1]"]);
    expect(plain.checkpoints.map((c) => [c.id, c.live])).toEqual([["step:load", ["n"]]]);
    expect(typed.code).toContain("async function* ratchet$w(ctx, $frame)");
    const method = (head: string) => `
export class Orders {
  @workflow
  static async process(${head}ctx, id: string) {
    const a = await ctx.step(load, id);
    return [a, id];
  }
}`;
    expect(compile(method("this: typeof Orders, ")).workflows).toEqual(
      compile(method("")).workflows,
    );
  });
});

describe("diagnostics", () => {
  const cases: [string, string, string][] = [
    [
      "a step inside for await",
      "for await (const x of xs) { await ctx.step(f, x); }",
      DiagnosticCodes.forbiddenConstruct,
    ],
    [
      "a step in the arguments of a call whose function is the result of a call",
      "pick()(await ctx.step(f));",
      DiagnosticCodes.unsupportedAwaitPosition,
    ],
    ["ctx passed to a function", "helper(ctx);", DiagnosticCodes.ctxEscapes],
    ["ctx stored", "const c = ctx;", DiagnosticCodes.ctxEscapes],
    ["ctx captured by a closure", "const g = () => ctx;", DiagnosticCodes.ctxEscapes],
    [
      "ctx.step in a nested function",
      "const g = async () => await ctx.step(f);",
      DiagnosticCodes.ctxInNestedFunction,
    ],
    [
      "Promise.all over ctx calls",
      "await Promise.all([ctx.step(f), ctx.step(g)]);",
      DiagnosticCodes.promiseCombinator,
    ],
    ["arguments", "console.log(arguments);", DiagnosticCodes.forbiddenConstruct],
    ["this", "console.log(this);", DiagnosticCodes.forbiddenConstruct],
    ["eval", `eval("1");`, DiagnosticCodes.forbiddenConstruct],
    [
      "a function in a let live across a checkpoint",
      "let g = () => 1;\n  await ctx.step(f);\n  g();",
      DiagnosticCodes.functionLiveAcrossCheckpoint,
    ],
    [
      "a waitForEvent match that would not be the same value evaluated again",
      `await ctx.waitForEvent("paid", { match: makeMatch(1) });`,
      DiagnosticCodes.ctxMethodNotSupportedYet,
    ],
    ["an unawaited ctx call", "const p = ctx.step(f);", DiagnosticCodes.ctxCallNotAwaited],
    [
      "a generator live across a checkpoint",
      "function* gen() { yield 1; }\n  const it = gen();\n  await ctx.step(f);\n  it.next();",
      DiagnosticCodes.functionLiveAcrossCheckpoint,
    ],
    ["an unknown ctx member", "await ctx.stepp(f);", DiagnosticCodes.unknownCtxMember],
  ];
  it("reports an await in a parameter's default, which JavaScript does not allow", () => {
    const out = compile(
      "export const w = workflow(async (ctx, n, x = await ctx.step(f, n)) => x);",
    );
    expect(out.diagnostics.map((d) => [d.code, d.column])).toEqual([[DiagnosticCodes.syntax, 42]]);
  });
  it.each(cases)("reports %s", (_, statement, code) => {
    const out = compile(`export const w = workflow(async (ctx) => {\n  ${statement}\n});`);
    const found = out.diagnostics.find((d) => d.code === code);
    expect(found, JSON.stringify(out.diagnostics)).toBeDefined();
    expect(found!.line).toBeGreaterThanOrEqual(3);
    expect(found!.column).toBeGreaterThan(0);
    expect(found!.hint).toBeTruthy();
    expect(formatDiagnostic(found!)).toMatch(
      new RegExp(`^src/flows\\.ts:\\d+:\\d+ - error ${code}: `),
    );
    // A workflow with an error is left uncompiled, never compiled wrongly.
    expect(out.workflows).toEqual([]);
  });

  it("warns about what looks like an iterator live across a checkpoint", () => {
    const out = compile(
      `export const w = workflow(async (ctx, m: Map<string, number>) => {\n  const it = m.entries();\n  await ctx.step(f);\n  return it.next();\n});`,
    );
    expect(out.diagnostics.map((d) => [d.code, d.severity])).toEqual([
      [DiagnosticCodes.functionLiveAcrossCheckpoint, "warning"],
    ]);
    expect(out.workflows).toHaveLength(1);
  });

  it("gives the exact position", () => {
    const out = compile(`export const w = workflow(async (ctx) => {\n  helper(ctx);\n});`);
    expect(out.diagnostics[0]).toMatchObject({
      line: 3,
      column: 10,
      code: DiagnosticCodes.ctxEscapes,
    });
  });

  it("reports a workflow without a name or an inline body", () => {
    const noName = compile(`workflow(async (ctx) => { await ctx.step(f); });`);
    expect(noName.diagnostics.map((d) => d.code)).toEqual([DiagnosticCodes.missingName]);
    const notInline = compile(`export const w = workflow(body);`);
    expect(notInline.diagnostics.map((d) => d.code)).toEqual([DiagnosticCodes.bodyNotInline]);
  });

  it("reports syntax errors instead of throwing", () => {
    const out = compile(`export const w = workflow(async (ctx) => { await ctx.step(f; });`);
    expect(out.diagnostics[0]?.code).toBe(DiagnosticCodes.syntax);
  });

  it("never throws on malformed input", () => {
    for (const junk of [
      "",
      "ratchet workflow",
      "import { workflow } from 'ratchetjs'; workflow(",
      "workflow(async (ctx) => ctx)",
    ]) {
      expect(() => transform(junk, { filename: "junk.ts" })).not.toThrow();
    }
  });
});
