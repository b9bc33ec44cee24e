import ts from "typescript";
import { describe, expect, it } from "vitest";
import { parseModule } from "./parse.js";
import { withTransformationContext } from "./transformation-context.js";

describe("withTransformationContext", () => {
  it("lends a context that ts.visitEachChild builds nodes with, functions included", () => {
    const file = parseModule("const f = async (a: number) => { return a + 1; };", "m.ts");
    let printed = "";
    withTransformationContext((context) => {
      const rename = (node: ts.Node): ts.Node =>
        ts.isIdentifier(node) && node.text === "a"
          ? ts.factory.createIdentifier("b")
          : ts.visitEachChild(node, rename, context);
      const statement = rename(file.statements[0]!) as ts.Statement;
      printed = ts.createPrinter().printNode(ts.EmitHint.Unspecified, statement, file);
    });
    expect(printed).toContain("async (b: number) =>");
    expect(printed).toContain("return b + 1;");
  });

  it("runs work lent a context inside another's, and again after one throws", () => {
    const ran: string[] = [];
    withTransformationContext(() => {
      ran.push("outer");
      withTransformationContext(() => ran.push("inner"));
      ran.push("outer again");
    });
    expect(() =>
      withTransformationContext(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    withTransformationContext(() => ran.push("after"));
    expect(ran).toEqual(["outer", "inner", "outer again", "after"]);
  });
});
