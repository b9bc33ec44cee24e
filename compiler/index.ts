/**
 * The Ratchet compiler: turns workflow `async` functions into resumable state machines.
 *
 * @example
 * ```ts
 * import { transform, formatDiagnostic } from "ratchetjs/compiler";
 * const out = transform(source, { filename: "src/workflows.ts" });
 * for (const d of out.diagnostics) console.error(formatDiagnostic(d));
 * ```
 * @module
 */
import ts from "typescript";
import { type Diagnostic, DiagnosticCodes, DiagnosticSink } from "./diagnostics.js";
import { discoverWorkflows, type WorkflowSite } from "./discover.js";
import type { WorkflowManifest } from "./manifest.js";
import { parseModule } from "./parse.js";
import { compileWorkflow } from "./pipeline.js";
import { mayContainWorkflow } from "./prefilter.js";
import { type SourceMapJson, type SplicedWorkflow, spliceWorkflows } from "./splice.js";
import { withTransformationContext } from "./transformation-context.js";

export * from "./describe.js";
export type { Diagnostic, DiagnosticCode, Severity } from "./diagnostics.js";
export { DiagnosticCodes, formatDiagnostic } from "./diagnostics.js";
export type { CheckpointManifest, WorkflowManifest } from "./manifest.js";
export type { CheckpointLiveness, LiveVariable } from "./pipeline.js";
export { mayContainWorkflow } from "./prefilter.js";
export type { SourceMapJson } from "./splice.js";
export type { FileReport, RatchetTransformerOptions } from "./transformer.js";
export { createRatchetTransformer } from "./transformer.js";

/** Options of {@link transform}. */
export interface TransformOptions {
  /** The module's path; used in diagnostics, manifests and the source map. */
  readonly filename: string;
  /** Produce a source map (default `true`). */
  readonly sourceMap?: boolean;
}

/** The result of {@link transform}. */
export interface TransformResult {
  /**
   * The module with each workflow replaced by its compiled definition; every other byte is the
   * input as written, TypeScript types and JSX included (the bundler or `ratchetjs/register`
   * strips them, as for any other file). When the module defines no workflow, the input
   * unchanged.
   */
  readonly code: string;
  /** Maps `code` back to the input; `null` when `code` is the input unchanged. */
  readonly map: SourceMapJson | null;
  /** One manifest per compiled workflow. */
  readonly workflows: WorkflowManifest[];
  /** Problems found; any `error` means a workflow was left uncompiled. */
  readonly diagnostics: Diagnostic[];
}

function unchanged(code: string, diagnostics: Diagnostic[] = []): TransformResult {
  return { code, map: null, workflows: [], diagnostics };
}

/**
 * Compile the workflows of one module. Never throws on bad input: problems come back as
 * diagnostics, each with a code, a position and a fix hint.
 *
 * The module is parsed once; only the code that replaces each workflow is printed, and it is
 * spliced into the text as written, so everything else (types included) comes back
 * byte-for-byte and the bundler, or `ratchetjs/register`, strips types as for any other file.
 */
export function transform(code: string, options: TransformOptions): TransformResult {
  const { filename } = options;
  if (!mayContainWorkflow(code)) return unchanged(code);

  const sourceFile = parseModule(code, filename);
  const sink = new DiagnosticSink(sourceFile, filename);
  const parseErrors = (sourceFile as { parseDiagnostics?: readonly ts.DiagnosticWithLocation[] })
    .parseDiagnostics;
  if (parseErrors && parseErrors.length > 0) {
    return unchanged(
      code,
      parseErrors.map((d) => {
        const at = sourceFile.getLineAndCharacterOfPosition(d.start);
        const end = sourceFile.getLineAndCharacterOfPosition(d.start + d.length);
        return {
          code: DiagnosticCodes.syntax,
          severity: "error",
          message: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
          file: filename,
          line: at.line + 1,
          column: at.character + 1,
          endLine: end.line + 1,
          endColumn: end.character + 1,
        };
      }),
    );
  }
  const sites = discoverWorkflows(sourceFile, sink);
  if (sites.length === 0) return unchanged(code, sink.diagnostics);

  const compiled = compileSites(sites, sourceFile, filename, sink);
  if (compiled.length === 0) return unchanged(code, sink.diagnostics);
  const spliced = spliceWorkflows(
    code,
    sourceFile,
    filename,
    compiled,
    options.sourceMap !== false,
  );
  return {
    code: spliced.code,
    map: spliced.map,
    workflows: compiled.map((c) => c.manifest),
    diagnostics: sink.diagnostics,
  };
}

/** Run the passes on every site, in the transformation context they build nodes with. */
function compileSites(
  sites: readonly WorkflowSite[],
  sourceFile: ts.SourceFile,
  filename: string,
  sink: DiagnosticSink,
): SplicedWorkflow[] {
  const out: SplicedWorkflow[] = [];
  withTransformationContext((context) => {
    for (const site of sites) {
      const compiled = compileWorkflow(site, sourceFile, filename, sink, context);
      if (compiled) out.push({ site, ...compiled });
    }
  });
  return out;
}
