import ts from "typescript";

/** One decoded source-map segment: `[generatedColumn, sourceIndex, sourceLine, sourceColumn]`. */
export type Segment = [number, number, number, number];

/** Printed code and, per line of it, the segments that lead back to the user's source. */
export interface PrintedCode {
  readonly text: string;
  /** Per generated line (0-based, relative to `text`), segments with source index 0. */
  readonly lines: Segment[][];
}

/**
 * The parts of TypeScript's emitter that print a node with a source map. They are not in the
 * public typings, but every TypeScript since 4.x has them and `tsc` itself runs on them; when
 * they are missing the code is printed without a map of its own (the splice still maps it to
 * the start of what it replaced).
 */
interface EmitterInternals {
  createTextWriter(newLine: string): unknown;
}
interface PrinterInternals {
  writeFile(sourceFile: ts.SourceFile, writer: unknown, generator: unknown): void;
}
interface TextWriter {
  getText(): string;
}

const marker = "__ratchet_print__";
const f = ts.factory;

/**
 * Print `expression` (made by the passes from the user's nodes) on its own, with the source map
 * TypeScript's emitter makes for it: every node with a source-map range leads to its line and
 * column in `sourceFile`. Only the expression is printed, never the rest of the module.
 */
export function printExpression(expression: ts.Expression, sourceFile: ts.SourceFile): PrintedCode {
  const internals = ts as unknown as Partial<EmitterInternals>;
  const printer = ts.createPrinter({
    newLine: ts.NewLineKind.LineFeed,
    removeComments: true,
  }) as ts.Printer & Partial<PrinterInternals>;
  if (typeof internals.createTextWriter !== "function" || typeof printer.writeFile !== "function") {
    const text = printer.printNode(ts.EmitHint.Expression, expression, sourceFile);
    return { text, lines: [] };
  }
  const raw: { line: number; column: number; sourceLine: number; sourceColumn: number }[] = [];
  const generator = {
    addSource: () => 0,
    setSourceContent: () => {},
    addMapping: (
      line: number,
      column: number,
      _s: number,
      sourceLine: number,
      sourceColumn: number,
    ) => raw.push({ line, column, sourceLine, sourceColumn }),
  };
  // The emitter maps positions through the file it prints, so the expression is printed as the
  // one statement of a copy of the user's file: `__ratchet_print__(<expression>);`.
  const statement = f.createExpressionStatement(
    f.createCallExpression(f.createIdentifier(marker), undefined, [expression]),
  );
  const carrier = f.updateSourceFile(sourceFile, [statement]);
  const writer = internals.createTextWriter("\n") as TextWriter;
  printer.writeFile(carrier, writer, generator);
  const printed = writer.getText();

  // Cut the carrier away (and a shebang the emitter copies from the file), keeping the map.
  const open = printed.indexOf(`${marker}(`);
  const close = printed.lastIndexOf(")");
  const text = printed.slice(open + marker.length + 1, close);
  const before = printed.slice(0, open + marker.length + 1);
  const firstLine = before.split("\n").length - 1;
  const firstColumn = before.length - (before.lastIndexOf("\n") + 1);
  const lineCount = text.split("\n").length;
  const lines: Segment[][] = Array.from({ length: lineCount }, () => []);
  for (const m of raw) {
    const line = m.line - firstLine;
    const column = line === 0 ? m.column - firstColumn : m.column;
    if (line < 0 || line >= lineCount || column < 0) continue;
    const segments = lines[line]!;
    const last = segments[segments.length - 1];
    // The emitter marks where a node ends and where the next starts; as in TypeScript's own
    // maps, the later mark at one column wins.
    if (last && last[0] === column) segments.pop();
    segments.push([column, 0, m.sourceLine, m.sourceColumn]);
  }
  for (const segments of lines) segments.sort((a, b) => a[0] - b[0]);
  return { text, lines };
}
