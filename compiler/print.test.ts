import { decode } from "@jridgewell/sourcemap-codec";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { transform } from "./index.js";
import { printExpressions } from "./print.js";

/** Where `needle` is in `text`: 0-based line and column. */
function positionOf(text: string, needle: string, from = 0): [number, number] {
  const at = text.indexOf(needle, from);
  expect(at, needle).toBeGreaterThanOrEqual(0);
  const before = text.slice(0, at);
  const line = before.split("\n").length - 1;
  return [line, at - (before.lastIndexOf("\n") + 1)];
}

/** The statements of the first case clause of the machine, as the output parses. */
function caseStatements(code: string): string[] {
  const file = ts.createSourceFile("out.ts", code, ts.ScriptTarget.ESNext, true);
  let found: string[] | undefined;
  const visit = (node: ts.Node): void => {
    if (!found && ts.isCaseClause(node)) found = node.statements.map((s) => s.getText(file));
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found ?? [];
}

describe("printing the machines", () => {
  it("ends a statement written without a semicolon before printed code that could continue it", () => {
    const source = [
      'import { workflow } from "ratchetjs";',
      "const log: number[] = []",
      "export const w = workflow(async (ctx, n: number) => {",
      "  const pair = [n, n + 1]",
      "  log.push(0)",
      "  const [a, b] = pair",
      "  await ctx.sleep(1)",
      "  return a + b",
      "})",
    ].join("\n");
    const out = transform(source, { filename: "src/flows.ts" });
    expect(out.diagnostics).toEqual([]);
    // Without the `;` the destructuring assignment would index the call: log.push(0)[a, b] = …
    expect(caseStatements(out.code)).toContain("log.push(0);");
    expect(caseStatements(out.code).some((s) => s.startsWith("[a, b] = pair"))).toBe(true);
  });

  it("continues an optional chain after a `?.` link instead of ending it in parentheses", () => {
    const f = ts.factory;
    const file = ts.createSourceFile("x.ts", "", ts.ScriptTarget.ESNext, true);
    const t = f.createIdentifier("t");
    const link = f.createPropertyAccessChain(t, f.createToken(ts.SyntaxKind.QuestionDotToken), "a");
    const member = f.createPropertyAccessChain(link, undefined, "b");
    const element = f.createElementAccessChain(member, undefined, f.createNumericLiteral(0));
    const call = f.createCallChain(element, undefined, undefined, []);
    const ended = f.createPropertyAccessExpression(call, "c");
    const printed = printExpressions([call, ended], file, false).map((p) => p.text);
    expect(printed).toEqual(["t?.a.b[0]()", "(t?.a.b[0]()).c"]);
  });

  it("copies the user's code as written, comments and types included", () => {
    const source = [
      'import { workflow } from "ratchetjs";',
      "export const w = workflow(async (ctx, n: number) => {",
      "  const label = String(n) /* kept */ as string",
      "  await ctx.sleep(1)",
      "  return label",
      "})",
    ].join("\n");
    const out = transform(source, { filename: "src/flows.ts" });
    expect(out.code).toContain("label = String(n) /* kept */ as string;");
  });

  it("leads every word of the copied code back to itself", () => {
    const source = [
      'import { workflow } from "ratchetjs";',
      "const log: string[] = [];",
      "export const w = workflow(async (ctx, n: number) => {",
      "  await ctx.sleep(1);",
      '  if (n > 2) log.push("big", String(n));',
      "  return n;",
      "});",
    ].join("\n");
    const out = transform(source, { filename: "src/flows.ts" });
    const mappings = decode(out.map!.mappings);
    const machine = out.code.indexOf("machine:");
    for (const word of ["log", "push", "String", "big"]) {
      const [line, column] = positionOf(out.code, word, out.code.indexOf("if (n > 2)", machine));
      const segment = mappings[line]!.find((s) => s[0] === column);
      expect(segment?.slice(2), word).toEqual(positionOf(source, word, source.indexOf("if (n")));
    }
  });
});
