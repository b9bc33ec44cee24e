import { transformSync } from "esbuild";
import { type Workflow, workflow } from "ratchetjs";
import { transform } from "ratchetjs/compiler";
import { describe, expect, it } from "vitest";
import { load, type OracleCase, runCompiled, runPlain } from "./support/oracle.js";

/**
 * Compile-and-run against the oracle: every case runs as plain async code, then compiled —
 * uninterrupted and crashed-then-resumed after each of its checkpoints — and must give the
 * same result or error and the same sequence of step calls.
 */
const cases: Record<string, OracleCase> = {
  "straight line": {
    params: "n",
    body: `const a = await ctx.step(add, n, 1);
const b = await ctx.step(add, a, 10);
return { a, b };`,
    args: [1],
  },
  "if/else with checkpoints in both branches": {
    params: "n",
    body: `let label = "start";
if (n > 2) {
  const big = await ctx.step(add, n, 100);
  label = "big:" + big;
} else {
  const small = await ctx.step(add, n, -100);
  label = "small:" + small;
}
const tail = await ctx.step(echo, label);
return tail + "!";`,
    args: [3],
  },
  "the other branch": {
    params: "n",
    body: `if (n > 2) { await ctx.step(echo, "big"); } else if (n > 0) { await ctx.step(echo, "mid"); } else { return "none"; }
return await ctx.step(echo, "done");`,
    args: [1],
  },
  "early return": {
    params: "n",
    body: `const a = await ctx.step(add, n, 1);
if (a > 0) return "early " + a;
await ctx.step(echo, "never");
return "late";`,
    args: [5],
  },
  "destructuring a step result, defaults, rest": {
    params: "{ id, tags = [] }",
    body: `const { value: [first, ...others], missing = "default" } = await ctx.step(echo, { value: [id, ...tags] });
let total;
total = await ctx.step(add, first.length, others.length);
return { first, others, missing, total };`,
    args: [{ id: "abc", tags: ["x", "y"] }],
  },
  "var, let reassignment and values of every persisted kind": {
    params: "n",
    body: `var when = new Date(0);
let seen = new Set([n]);
let index = new Map([["n", n]]);
let big = 10n ** 20n;
let re = /a+b/gi;
let bytes = new Uint8Array([1, 2, 3]);
let nothing = undefined;
const shared = { n };
const pair = [shared, shared];
await ctx.step(echo, "one");
seen.add(n + 1);
index.set("m", n + 1);
const two = await ctx.step(add, n, 2);
return { when: when.getTime(), seen: [...seen], index: [...index], big: String(big), re: re.source + re.flags, bytes: [...bytes], nothing, same: pair[0] === pair[1], two };`,
    args: [4],
  },
  "loops, switch and try without checkpoints inside": {
    params: "items",
    body: `let sum = 0;
for (const item of items) sum += item;
let kind;
switch (sum % 3) { case 0: kind = "zero"; break; case 1: kind = "one"; break; default: kind = "two"; }
let parsed;
try { parsed = JSON.parse("{bad"); } catch { parsed = "unparsable"; }
const echoed = await ctx.step(echo, { sum, kind, parsed });
let count = 0;
while (count < echoed.sum) count += 4;
return { echoed, count };`,
    args: [[1, 2, 3, 4]],
  },
  "function declarations are re-created on resume": {
    params: "n",
    body: `function scale(x) { return x * factor; }
const factor = 3;
const a = await ctx.step(add, n, 1);
const b = await ctx.step(add, scale(a), 0);
return scale(b);`,
    args: [2],
  },
  "closures used between two checkpoints": {
    params: "n",
    body: `const a = await ctx.step(add, n, 1);
const double = (x) => x * 2;
const doubled = [a, a + 1].map(double);
const b = await ctx.step(echo, doubled);
return b.reduce((x, y) => x + y, 0);`,
    args: [1],
  },
  "plain awaits are not checkpoints": {
    params: "n",
    body: `const a = await Promise.resolve(n * 2);
const b = await ctx.step(add, a, 1);
const c = await new Promise((resolve) => setTimeout(() => resolve(b + 1), 1));
return await ctx.step(echo, c);`,
    args: [5],
  },
  "inline named steps": {
    params: "n",
    body: `const rate = await ctx.step("rate", () => 1.5);
const total = await ctx.step("total", async () => rate * n);
return total;`,
    args: [4],
  },
  "expression-bodied workflow": {
    params: "n",
    body: `return await ctx.step(add, n, n);`,
    args: [21],
  },
  "a failing step ends the run with its error": {
    params: "n",
    body: `const a = await ctx.step(add, n, 1);
await ctx.step(boom, "declined " + a);
return "unreachable";`,
    args: [1],
  },
  "an error thrown by the body": {
    params: "n",
    body: `const a = await ctx.step(add, n, 1);
if (a > 1) throw new RangeError("too big: " + a);
return a;`,
    args: [7],
  },
  "ctx properties": {
    params: "n",
    body: `const a = await ctx.step(add, n, 1);
return typeof ctx.runId + ":" + a;`,
    args: [1],
  },
  // Shrunk counterexamples from test/compiler-property.test.ts.
  "a destructuring default reads a variable after a checkpoint": {
    params: "n",
    body: `await ctx.step(echo, 1);
const [b = n] = [];
return b;`,
    args: [5],
  },
  "a declaration in a try block whose finally holds a checkpoint": {
    params: "",
    body: `try {
  const a = 1;
} finally {
  await ctx.step(echo, 0);
}
return 1;`,
    args: [],
  },
  "a shadowing let read in the right operand of || after a checkpoint in the left": {
    params: "n",
    body: `{
  let n = 0;
  await ctx.step(echo, (await ctx.step(echo, 0)) || n);
}
return n;`,
    args: [7],
  },
};

describe("compiled workflows match the untransformed function", () => {
  for (const [name, c] of Object.entries(cases)) {
    it(name, async () => {
      const { compiled, plain } = await load(c);
      const expected = await runPlain(plain, c.args);
      const uninterrupted = await runCompiled(compiled, c.args);
      const { checkpoints, ...outcome } = uninterrupted;
      expect(outcome).toStrictEqual(expected);
      expect(checkpoints).toBeGreaterThan(0);
      for (let k = 1; k <= checkpoints; k++) {
        const { checkpoints: _, ...resumed } = await runCompiled(compiled, c.args, k);
        expect(resumed, `crashed after checkpoint ${k}`).toStrictEqual(expected);
      }
    });
  }
});

describe("the manifest a compiled module carries", () => {
  const source = `import { workflow } from "ratchetjs";
export const carried = workflow(async (ctx, n: number) => {
  const a = await ctx.step("add", () => n + 1);
  await ctx.sleep("1s");
  const b = await ctx.step("add", () => a + 1);
  return await ctx.waitForUser({ question: String(b), inputType: "text" });
});`;

  /** The module's workflow, as the runtime defines it from the compiled code. */
  function evaluate(code: string): Workflow {
    const body = code.slice(code.indexOf("export const")).replace("export const", "const");
    const js = transformSync(`${body}\nreturn carried;`, { loader: "ts" }).code;
    return new Function("workflow", js)(workflow) as Workflow;
  }

  it("leaves out what the runtime derives, which then holds the manifest transform() returns", () => {
    const out = transform(source, { filename: "src/carried.ts", sourceMap: false });
    expect(out.diagnostics).toEqual([]);
    const [manifest] = out.workflows;
    expect(manifest!.checkpoints.map((c) => [c.index, c.id, c.kind])).toEqual([
      [1, expect.stringMatching(/^step:add~\w{6}$/), "step"],
      [2, "sleep:1s", "sleep"],
      [3, expect.stringMatching(/^step:add~\w{6}$/), "step"],
      [4, "waitForUser", "waitForUser"],
    ]);
    const printed = out.code.slice(out.code.indexOf("manifest:"), out.code.indexOf("machine:"));
    expect(printed).not.toMatch(/\b(index|kind): |id: "src/);
    expect(evaluate(out.code).compiled!.manifest).toStrictEqual(manifest);
  });

  it("is taken as it is from an earlier compiler, which wrote all of it", () => {
    const out = transform(source, { filename: "src/carried.ts", sourceMap: false });
    const [manifest] = out.workflows;
    const whole = out.code.replace(
      /manifest: \{[\s\S]*?\n\t\},/,
      `manifest: ${JSON.stringify({ ...manifest, name: "earlier", id: "elsewhere#earlier" })},`,
    );
    const compiled = evaluate(whole).compiled!;
    expect(compiled.manifest).toStrictEqual({
      ...manifest,
      name: "earlier",
      id: "elsewhere#earlier",
    });
  });
});
