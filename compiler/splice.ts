import ts from "typescript";
import type { WorkflowSite } from "./discover.js";
import type { CompiledWorkflow } from "./pipeline.js";
import { type PrintedCode, printExpressions } from "./print.js";
import { lineStartsOf, MappedWriter } from "./sourcemap.js";

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
 * Every other byte is the input's. The source map leads the text kept to itself, word by word,
 * and the printed descriptors to the user's code they came from (`printExpressions`); it is
 * written as the text is assembled, with no map to merge. `printed` is the descriptors as
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

  const out = new MappedWriter(code, sourceMap ? lineStartsOf(code) : undefined);
  let at = 0;
  for (const edit of edits) {
    out.copy(at, edit.start);
    // A replaced range leads to where it started, the printed code inside it to its own.
    if (edit.start !== edit.end) out.mark(edit.start);
    out.writeLines(edit.before);
    if (edit.printed) out.append(edit.printed.text, edit.printed.segments);
    out.writeLines(edit.after);
    at = edit.end;
  }
  out.copy(at, code.length);
  const output = out.text();
  if (!sourceMap) return { code: output, map: null };
  return {
    code: output,
    map: {
      version: 3,
      sources: [filename],
      sourcesContent: [code],
      names: [],
      mappings: out.mappings(),
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
