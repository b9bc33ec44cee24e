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
import { discoverWorkflows } from "./discover.js";
import type { WorkflowManifest } from "./manifest.js";
import { mayContainWorkflow } from "./prefilter.js";
import { createRatchetTransformer, type FileReport } from "./transformer.js";

export * from "./describe.js";
export type { Diagnostic, DiagnosticCode, Severity } from "./diagnostics.js";
export { DiagnosticCodes, formatDiagnostic } from "./diagnostics.js";
export type { CheckpointManifest, WorkflowManifest } from "./manifest.js";
export type { CheckpointLiveness, LiveVariable } from "./pipeline.js";
export { mayContainWorkflow } from "./prefilter.js";
export type { FileReport, RatchetTransformerOptions } from "./transformer.js";
export { createRatchetTransformer } from "./transformer.js";

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
   * JavaScript with the workflows compiled and types stripped (ES modules and JSX kept as
   * written). When the module defines no workflow, the input unchanged.
   */
  readonly code: string;
  /** Maps `code` back to the input; `null` when `code` is the input unchanged. */
  readonly map: SourceMapJson | null;
  /** One manifest per compiled workflow. */
  readonly workflows: WorkflowManifest[];
  /** Problems found; any `error` means a workflow was left uncompiled. */
  readonly diagnostics: Diagnostic[];
}

const compilerOptions: ts.CompilerOptions = {
  // ES2022 keeps modern syntax but lowers what Node 20 cannot run yet, such as TC39
  // decorators left on other members of a workflow's module.
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  jsx: ts.JsxEmit.Preserve,
  isolatedModules: true,
  useDefineForClassFields: true,
  removeComments: false,
};

function scriptKind(filename: string): ts.ScriptKind {
  if (/\.[cm]?tsx$/.test(filename)) return ts.ScriptKind.TSX;
  if (/\.[cm]?jsx$/.test(filename)) return ts.ScriptKind.JSX;
  if (/\.[cm]?js$/.test(filename)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

function unchanged(code: string, diagnostics: Diagnostic[] = []): TransformResult {
  return { code, map: null, workflows: [], diagnostics };
}

/**
 * Compile the workflows of one module. Never throws on bad input: problems come back as
 * diagnostics, each with a code, a position and a fix hint.
 */
export function transform(code: string, options: TransformOptions): TransformResult {
  const { filename } = options;
  if (!mayContainWorkflow(code)) return unchanged(code);

  // Discover first, so a module that mentions `ratchet` but defines no workflow is not reprinted.
  const sourceFile = ts.createSourceFile(
    filename,
    code,
    ts.ScriptTarget.ESNext,
    true,
    scriptKind(filename),
  );
  const probe = new DiagnosticSink(sourceFile, filename);
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
  if (discoverWorkflows(sourceFile, probe).length === 0) return unchanged(code, probe.diagnostics);

  let report: FileReport | undefined;
  const output = ts.transpileModule(code, {
    fileName: filename,
    compilerOptions: {
      ...compilerOptions,
      sourceMap: options.sourceMap !== false,
      inlineSources: true,
    },
    transformers: {
      before: [createRatchetTransformer({ onFile: (r) => (report = r), fileName: () => filename })],
    },
  });
  const js = output.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
  let map: SourceMapJson | null = null;
  if (output.sourceMapText) {
    const raw = JSON.parse(output.sourceMapText) as SourceMapJson;
    map = { ...raw, sources: [filename], sourcesContent: [code] };
  }
  return {
    code: js,
    map,
    workflows: report?.workflows ?? [],
    diagnostics: report?.diagnostics ?? [],
  };
}
