import { encode, type SourceMapSegment } from "@jridgewell/sourcemap-codec";
import MagicString from "magic-string";
import ts from "typescript";
import type { WorkflowSite } from "./discover.js";
import type { CompiledWorkflow } from "./pipeline.js";
import { type PrintedCode, printExpressions } from "./print.js";

/** A source map in the standard JSON form (version 3). */
export interface SourceMapJson {
  readonly version: number;
  readonly file?: string;
  readonly sources: string[];
  readonly sourcesContent?: (string | null)[];
  readonly names: string[];
  readonly mappings: string;
  readonly sourceRoot?: string;
}

/** A workflow the passes compiled, with the site it replaces. */
export interface SplicedWorkflow extends CompiledWorkflow {
  readonly site: WorkflowSite;
}

/** One change to the text: `[start, end)` of the input becomes `before + printed + after`. */
interface Edit {
  readonly start: number;
  readonly end: number;
  readonly before: string;
  readonly printed?: PrintedCode;
  readonly after: string;
}

/**
 * Splice each compiled workflow into the module as written. What changes per site:
 *
 * - `workflow(opts, body)`: `body` becomes the machine descriptor; `opts` gains the name when it
 *   sets none (`{ name: "x", ...opts }`), or `{ name: "x" }, ` is put before the descriptor when
 *   there were no options.
 * - `@workflow(opts) static async m(ctx) { … }`: the method becomes the static field
 *   `static m = workflow(opts, descriptor);`.
 *
 * Every other byte is the input's; the source map is magic-string's for the text kept, and
 * TypeScript's emitter map for the printed descriptors. `printed` is the descriptors as
 * `printExpressions` prints them (printed here unless given).
 */
export function spliceWorkflows(
  code: string,
  sourceFile: ts.SourceFile,
  filename: string,
  compiled: readonly SplicedWorkflow[],
  sourceMap: boolean,
  printed: readonly PrintedCode[] = printExpressions(
    compiled.map((workflow) => workflow.descriptor),
    sourceFile,
    sourceMap,
  ),
): { code: string; map: SourceMapJson | null } {
  const edits: Edit[] = [];
  compiled.forEach((workflow, i) => {
    edits.push(...editsFor(workflow, printed[i]!, code, sourceFile));
  });
  edits.sort((a, b) => a.start - b.start);

  const s = new MagicString(code);
  for (const edit of edits) {
    const text = edit.before + (edit.printed?.text ?? "") + edit.after;
    if (edit.start === edit.end) {
      s.prependRight(edit.start, text);
    } else {
      s.overwrite(edit.start, edit.end, text);
    }
  }
  const output = s.toString();
  if (!sourceMap) return { code: output, map: null };

  const decoded = s.generateDecodedMap({
    hires: "boundary",
    source: filename,
    includeContent: true,
  });
  const mappings = decoded.mappings as SourceMapSegment[][];
  const lineStarts = computeLineStarts(output);
  let delta = 0;
  for (const edit of edits) {
    const outStart = edit.start + delta;
    const text = edit.before + (edit.printed?.text ?? "") + edit.after;
    delta += text.length - (edit.end - edit.start);
    if (!edit.printed || edit.printed.lines.length === 0) continue;
    // magic-string maps an overwritten range by its first character only: keep that, and put
    // the emitter's segments for the printed descriptor in place of anything else there.
    const outEnd = outStart + text.length;
    const first = positionOf(lineStarts, outStart);
    const last = positionOf(lineStarts, outEnd);
    for (let line = first.line; line <= last.line; line++) {
      const segments = mappings[line] ?? [];
      mappings[line] = segments.filter((segment) => {
        const at = lineStarts[line]! + segment[0];
        return at <= outStart || at >= outEnd;
      });
    }
    const printedAt = positionOf(lineStarts, outStart + edit.before.length);
    edit.printed.lines.forEach((segments, i) => {
      const line = printedAt.line + i;
      const shift = i === 0 ? printedAt.column : 0;
      while (mappings.length <= line) mappings.push([]);
      const target = mappings[line]!;
      for (const [column, source, sourceLine, sourceColumn] of segments) {
        target.push([column + shift, source, sourceLine, sourceColumn]);
      }
      target.sort((a, b) => a[0] - b[0]);
    });
  }
  return {
    code: output,
    map: {
      version: 3,
      sources: [filename],
      sourcesContent: [code],
      names: decoded.names,
      mappings: encode(mappings),
    },
  };
}

function editsFor(
  workflow: SplicedWorkflow,
  printed: PrintedCode,
  code: string,
  sourceFile: ts.SourceFile,
): Edit[] {
  const { site } = workflow;
  const text = (node: ts.Node) => code.slice(node.getStart(sourceFile), node.end);
  const name = `name: ${JSON.stringify(site.name)}`;

  if (ts.isMethodDeclaration(site.node)) {
    let options = `{ ${name} }`;
    if (site.options) {
      options = site.nameInOptions ? text(site.options) : `{ ${name}, ...${text(site.options)} }`;
    }
    return [
      {
        start: site.node.getStart(sourceFile),
        end: site.node.end,
        before: `static ${text(site.node.name)} = ${text(site.callee)}(${options}, `,
        printed,
        after: ");",
      },
    ];
  }

  const args = site.node.arguments;
  const bodyArg = args.length >= 2 ? args[1]! : args[0]!;
  const edits: Edit[] = [];
  let before = "";
  if (!site.options) {
    before = `{ ${name} }, `;
  } else if (!site.nameInOptions) {
    const at = site.options.getStart(sourceFile);
    edits.push({ start: at, end: at, before: `{ ${name}, ...`, after: "" });
    edits.push({ start: site.options.end, end: site.options.end, before: " }", after: "" });
  }
  edits.push({ start: bodyArg.getStart(sourceFile), end: bodyArg.end, before, printed, after: "" });
  return edits;
}

function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

function positionOf(
  lineStarts: readonly number[],
  offset: number,
): { line: number; column: number } {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo, column: offset - lineStarts[lo]! };
}
