import { describe, expect, it } from "vitest";
import { transform } from "./index.js";
import { mayContainWorkflow } from "./prefilter.js";

const body = "async (ctx) => { await ctx.sleep(1); }";

describe("mayContainWorkflow", () => {
  it.each([
    [
      "a named import and a call",
      `import { workflow } from "ratchetjs";\nexport const w = workflow(${body});`,
    ],
    [
      "a renamed import",
      `import { fn, workflow as wf } from 'ratchetjs';\nexport const w = wf(${body});`,
    ],
    [
      "a namespace import",
      `import * as r from "ratchetjs";\nexport const w = r.workflow(${body});`,
    ],
    [
      "type arguments",
      `import { workflow } from "ratchetjs";\nexport const w = workflow<[number]>(${body});`,
    ],
    [
      "a decorator",
      `import {\n  workflow,\n} from "ratchetjs";\nclass A { @workflow static async run(ctx) {} }`,
    ],
    [
      "a namespace decorator with options",
      `import * as r from "ratchetjs";\nclass A { @r.workflow({ name: "x" }) static async run(ctx) {} }`,
    ],
    [
      "a default import beside",
      `import engine, { workflow } from "ratchetjs";\nworkflow({ name: "x" }, ${body});`,
    ],
  ])("lets through %s", (_, code) => {
    expect(mayContainWorkflow(code)).toBe(true);
    expect(transform(code, { filename: "x.ts" }).workflows).toHaveLength(1);
  });

  it.each([
    ["no mention of the package", "export const workflow = 1; workflow(2);"],
    [
      "step modules",
      `import { fn } from "ratchetjs";\n/** Used by the checkout workflow. */\nexport const charge = fn(async () => 1);`,
    ],
    [
      "an engine set up with workflows",
      `import { createEngine } from "ratchetjs";\nimport { a } from "./flows.js";\ncreateEngine({ workflows: [a] });`,
    ],
    [
      "a type-only import",
      `import type { workflow } from "ratchetjs";\ntype W = typeof workflow;\nconst x = workflow(1);`,
    ],
    ["a type-only specifier", `import { type workflow } from "ratchetjs";\nconst x = workflow(1);`],
    [
      "an import that is never called",
      `import { workflow } from "ratchetjs";\nexport { workflow };`,
    ],
    [
      "a call of another package's workflow",
      `import { workflow } from "other";\nimport { fn } from "ratchetjs";\nworkflow(${body});`,
    ],
    [
      "a method of the same name",
      `import { workflow } from "ratchetjs";\nexport { workflow };\nobj.workflow(${body});`,
    ],
  ])("rejects %s", (_, code) => {
    expect(mayContainWorkflow(code)).toBe(false);
  });
});
