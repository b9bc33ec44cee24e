import { decode } from "@jridgewell/sourcemap-codec";
import { describe, expect, it } from "vitest";
import { transform } from "./index.js";

const source = [
  "#!/usr/bin/env node",
  'import { fn, workflow } from "ratchetjs";',
  "interface Order { id: string; total: number }",
  "const charge = fn(async (_ctx, o: Order) => o.total);",
  "",
  "export const first = workflow(async (ctx, order: Order) => {",
  "  const paid: number = await ctx.step(charge, order);",
  '  if (paid > 10) throw new Error("boom-1");',
  "  return paid as number;",
  "});",
  "",
  "type Between = { kept: true };",
  "",
  "export const second = workflow({ retries: 2 }, async (ctx, n: number) => {",
  "  for (let i = 0; i < n; i++) {",
  "    await ctx.step(charge, { id: String(i), total: i });",
  "  }",
  '  throw new Error("boom-2");',
  "});",
  "",
  "class Shop {",
  "  @workflow",
  "  static async third(ctx, order: Order) {",
  "    await ctx.sleep(5);",
  '    throw new Error("boom-3");',
  "  }",
  "}",
  "export { Shop };",
  "",
].join("\n");

describe("splicing compiled workflows into the module", () => {
  const out = transform(source, { filename: "/app/shop.ts" });

  it("keeps every byte outside the workflows as written", () => {
    expect(out.diagnostics).toEqual([]);
    expect(out.workflows.map((w) => w.name)).toEqual(["first", "second", "Shop.third"]);
    const kept = [
      source.slice(0, source.indexOf("workflow(async")),
      ");\n\ntype Between = { kept: true };\n\nexport const second = workflow(",
      "class Shop {\n  static third = workflow(",
      "\n}\nexport { Shop };\n",
    ];
    for (const text of kept) expect(out.code).toContain(text);
    expect(out.code.startsWith(kept[0]!)).toBe(true);
    expect(out.code.endsWith(kept[3]!)).toBe(true);
    expect(out.code).toContain('workflow({ name: "second", ...{ retries: 2 } }, {');
    expect(out.code).toContain('static third = workflow({ name: "Shop.third" }, {');
  });

  it("maps the printed machines back to the user's lines", () => {
    const mappings = decode(out.map!.mappings);
    const outLines = out.code.split("\n");
    const inLines = source.split("\n");
    for (const marker of ["boom-1", "boom-2", "boom-3"]) {
      const generated = outLines.findIndex((line) => line.includes(marker));
      const original = inLines.findIndex((line) => line.includes(marker));
      const column = outLines[generated]!.indexOf("throw");
      const segment = mappings[generated]!.filter((s) => s[0] <= column).at(-1);
      expect(segment?.[2], marker).toBe(original);
    }
    // And the text kept as written maps to itself.
    const between = outLines.findIndex((line) => line.startsWith("type Between"));
    expect(mappings[between]![0]!.slice(0, 4)).toEqual([
      0,
      0,
      inLines.indexOf("type Between = { kept: true };"),
      0,
    ]);
  });
});
