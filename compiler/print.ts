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
 * Print `expressions` (made by the passes from the user's nodes), each on its own, with the
 * source map TypeScript's emitter makes for it: every node with a source-map range leads to its
 * line and column in `sourceFile`. Only the expressions are printed, never the rest of the
 * module, and all of them in one pass of the printer.
 */
export function printExpressions(
  expressions: readonly ts.Expression[],
  sourceFile: ts.SourceFile,
  sourceMap = true,
): PrintedCode[] {
  const internals = ts as unknown as Partial<EmitterInternals>;
  const printer = ts.createPrinter({
    newLine: ts.NewLineKind.LineFeed,
    removeComments: true,
  }) as ts.Printer & Partial<PrinterInternals>;
  // Without a map the public printer does (at half the cost of printing with one).
  if (
    !sourceMap ||
    typeof internals.createTextWriter !== "function" ||
    typeof printer.writeFile !== "function"
  ) {
    return expressions.map((expression) => ({
      text: printer.printNode(ts.EmitHint.Expression, expression, sourceFile),
      lines: [],
    }));
  }
  // The emitter's mappings, four numbers each (line, column, source line, source column), in
  // one flat array: a printed module makes thousands of them.
  const raw: number[] = [];
  const generator = {
    addSource: () => 0,
    setSourceContent: () => {},
    addMapping: (
      line: number,
      column: number,
      _s: number,
      sourceLine: number,
      sourceColumn: number,
    ) => raw.push(line, column, sourceLine, sourceColumn),
  };
  // The emitter maps positions through the file it prints, so the expressions are printed as
  // the statements of a copy of the user's file: `__ratchet_print__(<expression>);` each. The
  // copy shares the file's line map rather than computing its own.
  const statements = expressions.map((expression) =>
    f.createExpressionStatement(
      f.createCallExpression(f.createIdentifier(marker), undefined, [expression]),
    ),
  );
  const carrier = f.updateSourceFile(sourceFile, statements);
  sourceFile.getLineStarts();
  (carrier as { lineMap?: unknown }).lineMap = (sourceFile as { lineMap?: unknown }).lineMap;
  const writer = internals.createTextWriter("\n") as TextWriter;
  printer.writeFile(carrier, writer, generator);
  const printed = writer.getText();

  // Cut each expression out of its carrier statement (after a shebang the emitter copies from
  // the file), keeping its part of the map.
  const lineStarts = [0];
  for (let i = printed.indexOf("\n"); i !== -1; i = printed.indexOf("\n", i + 1)) {
    lineStarts.push(i + 1);
  }
  const out: PrintedCode[] = [];
  const open = `${marker}(`;
  let from = 0;
  let next = 0;
  let firstLine = 0;
  for (let e = 0; e < expressions.length; e++) {
    const start = printed.indexOf(open, from) + open.length;
    const following = printed.indexOf(open, start);
    const end = printed.lastIndexOf(")", following === -1 ? printed.length : following);
    from = end;
    const text = printed.slice(start, end);
    // Expressions come in order, so the line search goes on from the previous one's.
    while (firstLine + 1 < lineStarts.length && lineStarts[firstLine + 1]! <= start) firstLine++;
    const firstColumn = start - lineStarts[firstLine]!;
    let lineCount = 1;
    while (lineCount + firstLine < lineStarts.length && lineStarts[firstLine + lineCount]! <= end) {
      lineCount++;
    }
    const lines: Segment[][] = Array.from({ length: lineCount }, () => []);
    for (; next < raw.length; next += 4) {
      const mLine = raw[next]!;
      const mColumn = raw[next + 1]!;
      const line = mLine - firstLine;
      if (line >= lineCount) break;
      const column = line === 0 ? mColumn - firstColumn : mColumn;
      if (line < 0 || column < 0) continue;
      if (line === lineCount - 1 && mColumn > end - lineStarts[mLine]!) continue;
      const segments = lines[line]!;
      const last = segments[segments.length - 1];
      // The emitter marks where a node ends and where the next starts; as in TypeScript's own
      // maps, the later mark at one column wins.
      if (last && last[0] === column) segments.pop();
      segments.push([column, 0, raw[next + 2]!, raw[next + 3]!]);
    }
    for (const segments of lines) segments.sort((a, b) => a[0] - b[0]);
    out.push({ text, lines });
  }
  return out;
}
