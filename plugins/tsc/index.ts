/**
 * `ratchetjs/tsc`: the Ratchet compiler as a TypeScript `before` transformer, for ts-patch's
 * `compilerOptions.plugins` and for `program.emit`'s custom transformers (TypeScript 5.x and
 * 6.x; TypeScript 7, the native port, has no transformer API).
 *
 * It runs the same transformer as every other front end (`createRatchetTransformer`) and, with
 * the program's type checker, adds type-aware diagnostics: a variable live across a checkpoint
 * whose type is a function, a Promise, an iterator or a class instance cannot be persisted.
 *
 * @example
 * ```jsonc
 * // tsconfig.json, built with ts-patch's `tspc`
 * { "compilerOptions": { "plugins": [{ "transform": "ratchetjs/tsc" }] } }
 * ```
 *
 * @example
 * ```ts
 * import ratchetTsc from "ratchetjs/tsc";
 * const ratchet = ratchetTsc(program);
 * const result = program.emit(undefined, undefined, undefined, false, { before: [ratchet] });
 * const diagnostics = [...result.diagnostics, ...ratchet.diagnostics];
 * ```
 *
 * @module
 */
import { dirname, relative, sep } from "node:path";
import ts from "typescript";
import {
  type CheckpointLiveness,
  createRatchetTransformer,
  type Diagnostic,
  type WorkflowManifest,
} from "../../compiler/index.js";
import { mayContainWorkflow } from "../../compiler/prefilter.js";
import { classifyType, describeKind, hintFor, type Unpersistable } from "./types.js";

/**
 * The parts of a TypeScript `Program` that ratchetjs/tsc uses. Declared here rather than taken
 * from `typescript`'s types so that a program of any TypeScript 5.x or 6.x fits, whichever
 * TypeScript Ratchet itself was installed with.
 */
export interface ProgramLike {
  getTypeChecker(): object;
  getCompilerOptions(): object;
  getCurrentDirectory(): string;
  getSourceFiles(): readonly object[];
  getGlobalDiagnostics(...args: never): readonly object[];
}

/** The program's own `SourceFile` type. */
export type SourceFileOf<P extends ProgramLike> = P extends {
  getSourceFiles(): readonly (infer S)[];
}
  ? S
  : never;

/** The program's own `Diagnostic` type. */
export type DiagnosticOf<P extends ProgramLike> = P extends {
  getGlobalDiagnostics(...args: never): readonly (infer D)[];
}
  ? D
  : never;

/** Options of {@link ratchetTsc}; in tsconfig.json, the plugin entry's other fields. */
export interface RatchetTscConfig<D = ts.Diagnostic> {
  /**
   * Type-aware diagnostics: live variables whose type cannot be persisted (default `true`).
   * The compiler's own checks run either way.
   */
  readonly typeCheck?: boolean;
  /** Receives each diagnostic as it is found (besides `addDiagnostic` under ts-patch). */
  readonly onDiagnostic?: (diagnostic: D) => void;
}

/** What ts-patch passes a `program` transformer as its third argument. */
export interface TsPatchExtras<D = ts.Diagnostic> {
  /** Adds a diagnostic to the emit result: `tsc` prints it and fails on errors. */
  readonly addDiagnostic?: (diagnostic: D) => unknown;
  /** The TypeScript that runs the build. */
  readonly ts?: { readonly version?: string; readonly SyntaxKind?: object };
}

/** The transformer factory, with what it found so far. */
export interface RatchetTscTransformer<S = ts.SourceFile, D = ts.Diagnostic> {
  (context: object): (sourceFile: S) => S;
  /** Every diagnostic reported so far, Ratchet's and the type-aware ones, in file order. */
  readonly diagnostics: D[];
  /** The manifests of the workflows compiled so far. */
  readonly workflows: WorkflowManifest[];
}

/**
 * `RATCHET1007` is reported as `TS991007`: TypeScript prints every diagnostic with a numeric
 * `TS` code, and Ratchet's own code leads the message.
 */
export const diagnosticCodeOffset = 990_000;

/**
 * Make the Ratchet transformer for a program: ts-patch's `program` transformer signature
 * `(program, config, extras)`, and what you pass in `program.emit`'s `before` list.
 *
 * Diagnostics go to ts-patch's `extras.addDiagnostic` (so `tsc` prints them and exits non-zero
 * on an error), to `config.onDiagnostic`, and always to the returned factory's `diagnostics`.
 * Nothing is thrown for what the code holds: a workflow with a compiler error is emitted
 * uncompiled, as with every front end, and the engine refuses to run it; the type-aware errors
 * leave the workflow compiled. Only a wrong use of the plugin itself throws.
 */
export function ratchetTsc<P extends ProgramLike>(
  program: P,
  config: RatchetTscConfig<DiagnosticOf<P>> = {},
  extras: TsPatchExtras<DiagnosticOf<P>> = {},
): RatchetTscTransformer<SourceFileOf<P>, DiagnosticOf<P>> {
  if (typeof (program as { getTypeChecker?: unknown }).getTypeChecker !== "function") {
    throw new TypeError(
      'ratchetjs/tsc takes a ts.Program: list it in compilerOptions.plugins as { "transform": "ratchetjs/tsc" } (no "type"), or call ratchetTsc(program).',
    );
  }
  if (typeof (config as { getSourceFile?: unknown } | undefined)?.getSourceFile === "function") {
    throw new TypeError(
      'ratchetjs/tsc is a source transformer, not a program transformer: remove "transformProgram" from its entry in compilerOptions.plugins.',
    );
  }
  const tsProgram = program as unknown as ts.Program;
  const typeCheck = config.typeCheck !== false;
  // tsconfig.json's directory (set by tsc and ts-patch), else the program's current directory.
  const configFile = tsProgram.getCompilerOptions().configFilePath;
  const baseDirectory =
    typeof configFile === "string" ? dirname(configFile) : tsProgram.getCurrentDirectory();
  const diagnostics: ts.Diagnostic[] = [];
  const workflows: WorkflowManifest[] = [];

  const report = (diagnostic: ts.Diagnostic): void => {
    diagnostics.push(diagnostic);
    const own = diagnostic as unknown as DiagnosticOf<P>;
    extras.addDiagnostic?.(own);
    config.onDiagnostic?.(own);
  };

  let incompatible = incompatibleTypeScript(extras.ts);
  let incompatibleReported = false;

  const factory = (context: ts.TransformationContext) => {
    let found: Diagnostic[] = [];
    let covered = new Set<string>();
    const transformer = createRatchetTransformer({
      fileName: (sourceFile) => displayName(baseDirectory, sourceFile.fileName),
      onLiveness: (workflow, checkpoints) => {
        if (!typeCheck) return;
        found.push(...typeDiagnostics(tsProgram, workflow, checkpoints, covered));
      },
      onFile: (fileReport) => {
        workflows.push(...fileReport.workflows);
        found = [...withoutConfirmedGuesses(fileReport.diagnostics, covered), ...found];
      },
    })(context);
    return (sourceFile: ts.SourceFile): ts.SourceFile => {
      if (sourceFile.isDeclarationFile || !mayContainWorkflow(sourceFile.text)) return sourceFile;
      incompatible ??= incompatibleTypeScript(extras.ts, sourceFile);
      if (incompatible !== undefined) {
        if (!incompatibleReported) report(incompatible);
        incompatibleReported = true;
        return sourceFile;
      }
      found = [];
      covered = new Set();
      const output = transformer(sourceFile);
      const sorted = found.sort((a, b) => a.line - b.line || a.column - b.column);
      for (const d of sorted) report(toTsDiagnostic(d, sourceFile));
      return output;
    };
  };
  return Object.assign(factory, { diagnostics, workflows }) as unknown as RatchetTscTransformer<
    SourceFileOf<P>,
    DiagnosticOf<P>
  >;
}

export default ratchetTsc;

/**
 * Ratchet's compiler builds and inspects nodes with the TypeScript it was installed with (6.0),
 * on the program's nodes: that works only when both number their syntax kinds alike, as
 * TypeScript 5.9 and 6.0 do. The program's `SourceFile` kind tells, or, under ts-patch, its
 * whole `SyntaxKind` table.
 */
function incompatibleTypeScript(
  theirs: TsPatchExtras["ts"],
  sourceFile?: ts.SourceFile,
): ts.Diagnostic | undefined {
  const ours = ts.SyntaxKind as unknown as Record<string, number>;
  const kinds = theirs?.SyntaxKind as Record<string, unknown> | undefined;
  const differs =
    kinds !== undefined
      ? Object.keys(ours).some((k) => Number.isNaN(Number(k)) && k in kinds && kinds[k] !== ours[k])
      : sourceFile !== undefined && sourceFile.kind !== ts.SyntaxKind.SourceFile;
  if (!differs) return undefined;
  const message =
    `ratchetjs/tsc cannot compile workflows with TypeScript ${theirs?.version ?? "of this program"}: ` +
    `Ratchet's compiler runs on TypeScript ${ts.version}, whose syntax tree it shares only with ` +
    "TypeScript 5.9 and 6.0. No workflow was compiled.";
  const hint =
    "Build with TypeScript 5.9 or 6.0, or compile workflows with ratchetjs/register or a bundler " +
    "plugin (ratchetjs/vite, ratchetjs/esbuild, …).";
  return {
    file: undefined,
    start: undefined,
    length: undefined,
    category: 1,
    code: diagnosticCodeOffset,
    source: "ratchet",
    messageText: {
      messageText: message,
      category: 1,
      code: diagnosticCodeOffset,
      next: [{ messageText: `hint: ${hint}`, category: 3, code: 0 }],
    },
  };
}

/**
 * A file's name as manifests and Ratchet's messages record it: relative to the project and
 * `/`-separated, so a build does not depend on where the project sits; absolute outside it.
 */
function displayName(baseDirectory: string, fileName: string): string {
  const name = relative(baseDirectory, fileName);
  if (name.startsWith("..") || name === "") return fileName;
  return sep === "/" ? name : name.split(sep).join("/");
}

/**
 * The type-aware diagnostics of one compiled workflow: each live variable whose declared type
 * (for a temporary: the type of the expression it holds) cannot be persisted, reported once at
 * its declaration with every checkpoint it is live across. `covered` receives, per checkpoint
 * position, the variables reported there.
 */
function typeDiagnostics(
  program: ts.Program,
  workflow: WorkflowManifest,
  checkpoints: readonly CheckpointLiveness[],
  covered: Set<string>,
): Diagnostic[] {
  const checker = program.getTypeChecker();
  const found = new Map<
    string,
    { node: ts.Node; description: string; problem: Unpersistable; type: ts.Type; at: string[] }
  >();
  for (const { checkpoint, live } of checkpoints) {
    for (const variable of live) {
      let entry = found.get(variable.name);
      if (!entry) {
        const node = variable.node && ts.getParseTreeNode(variable.node);
        if (!node) continue;
        const type = checker.getTypeAtLocation(node);
        const problem = classifyType(checker, type);
        if (!problem) continue;
        entry = { node, description: variable.description, problem, type, at: [] };
        found.set(variable.name, entry);
      }
      entry.at.push(`${checkpoint.index} (\`${checkpoint.id}\`, line ${checkpoint.line})`);
      covered.add(`${checkpoint.line}:${checkpoint.column}:${variable.description}`);
    }
  }
  const out: Diagnostic[] = [];
  for (const { node, description, problem, type, at } of found.values()) {
    const sourceFile = node.getSourceFile();
    const start = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile));
    const end = sourceFile.getLineAndCharacterOfPosition(node.getEnd());
    const across =
      at.length === 1
        ? `checkpoint ${at[0]}`
        : `checkpoints ${at.slice(0, -1).join(", ")} and ${at[at.length - 1]}`;
    out.push({
      code: "RATCHET1007",
      severity: problem.certain ? "error" : "warning",
      message:
        `\`${description}\` is live across ${across} of workflow "${workflow.name}", and its ` +
        `type \`${checker.typeToString(type)}\` ${problem.certain ? "is" : "may be"} ` +
        `${describeKind(problem.kind, problem.type)}, which cannot be persisted.`,
      hint: hintFor(problem.kind, description),
      file: workflow.file,
      line: start.line + 1,
      column: start.character + 1,
      endLine: end.line + 1,
      endColumn: end.character + 1,
    });
  }
  return out;
}

/**
 * The compiler warns about what only looks like an iterator (`.values()`…) at each checkpoint;
 * when the type checker reported the same variable there, the guess is dropped.
 */
function withoutConfirmedGuesses(
  compilerDiagnostics: readonly Diagnostic[],
  covered: ReadonlySet<string>,
): Diagnostic[] {
  return compilerDiagnostics.filter((d) => {
    if (d.severity !== "warning" || d.code !== "RATCHET1007") return true;
    const variable = /^`([^`]+)`/.exec(d.message)?.[1];
    return variable === undefined || !covered.has(`${d.line}:${d.column}:${variable}`);
  });
}

/** A Ratchet diagnostic as TypeScript's: file, start and length, the code leading the text. */
function toTsDiagnostic(d: Diagnostic, sourceFile: ts.SourceFile): ts.Diagnostic {
  const start = sourceFile.getPositionOfLineAndCharacter(d.line - 1, d.column - 1);
  const end = sourceFile.getPositionOfLineAndCharacter(d.endLine - 1, d.endColumn - 1);
  // DiagnosticCategory's values are the same in every TypeScript version: Warning 0, Error 1,
  // Message 3.
  const category = d.severity === "error" ? 1 : 0;
  const code = diagnosticCodeOffset + Number(d.code.replace(/^RATCHET/, ""));
  return {
    file: sourceFile,
    start,
    length: end - start,
    category,
    code,
    source: "ratchet",
    messageText: {
      messageText: `${d.code}: ${d.message}`,
      category,
      code,
      next: d.hint ? [{ messageText: `hint: ${d.hint}`, category: 3, code: 0 }] : undefined,
    },
  };
}
