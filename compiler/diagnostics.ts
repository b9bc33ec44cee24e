import type ts from "typescript";

/** How bad a {@link Diagnostic} is: an error stops the build; a warning does not. */
export type Severity = "error" | "warning";

/** A problem the compiler found, with where it is and how to fix it. */
export interface Diagnostic {
  /** A stable code, e.g. `RATCHET1003`. */
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  /** What is wrong, in one sentence. */
  readonly message: string;
  /** How to fix it. */
  readonly hint?: string;
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
}

/**
 * Every diagnostic code the compiler reports. docs/compiler.md explains each with an
 * example; the codes never change meaning.
 */
export const DiagnosticCodes = {
  /** The source does not parse. */
  syntax: "RATCHET1000",
  /** A construct the compiler cannot handle yet around a checkpoint. */
  unsupported: "RATCHET1001",
  /** A durable `ctx` call in an expression position the compiler cannot split yet. */
  unsupportedAwaitPosition: "RATCHET1002",
  /** `ctx` passed, stored or captured: it only works as the receiver of its own methods. */
  ctxEscapes: "RATCHET1003",
  /** A `ctx` method called inside a nested function. */
  ctxInNestedFunction: "RATCHET1004",
  /** `Promise.all`/`race`/`allSettled`/`any` over `ctx` calls. */
  promiseCombinator: "RATCHET1005",
  /** `yield`, `with`, `eval`, `arguments`, `super`, `new.target` or `this` in a workflow body. */
  forbiddenConstruct: "RATCHET1006",
  /** A function value live across a checkpoint: it cannot be persisted. */
  functionLiveAcrossCheckpoint: "RATCHET1007",
  /** A `ctx` feature that this version of the compiler does not support yet. */
  ctxMethodNotSupportedYet: "RATCHET1008",
  /** A workflow whose name cannot be found. */
  missingName: "RATCHET1009",
  /** A workflow body that is not an inline `async` function. */
  bodyNotInline: "RATCHET1010",
  /** A `ctx` method call whose promise is not awaited right away. */
  ctxCallNotAwaited: "RATCHET1011",
  /**
   * Never reported: two variables of one name in blocks split at checkpoints each get their
   * own slot. Kept so the code is not given another meaning.
   */
  shadowedAcrossCheckpoints: "RATCHET1012",
  /** A member `ctx` does not have. */
  unknownCtxMember: "RATCHET1013",
  /** Two workflows with the same name in one module. */
  duplicateName: "RATCHET1014",
  /** A literal duration (`ctx.sleep("15 minuts")`, a `timeout`) that is not one. */
  invalidDuration: "RATCHET1015",
} as const;

/** One of {@link DiagnosticCodes}. */
export type DiagnosticCode = (typeof DiagnosticCodes)[keyof typeof DiagnosticCodes];

/** Collects diagnostics for one source file, with positions resolved to lines. */
export class DiagnosticSink {
  readonly diagnostics: Diagnostic[] = [];
  readonly #sourceFile: ts.SourceFile;
  readonly #file: string;

  constructor(sourceFile: ts.SourceFile, file: string) {
    this.#sourceFile = sourceFile;
    this.#file = file;
  }

  /** The file the diagnostics are about, as given to the compiler. */
  get file(): string {
    return this.#file;
  }

  /** Report a problem at `node`. */
  report(
    node: ts.Node,
    code: DiagnosticCode,
    message: string,
    hint?: string,
    severity: Severity = "error",
  ): void {
    const start = this.#sourceFile.getLineAndCharacterOfPosition(node.getStart(this.#sourceFile));
    const end = this.#sourceFile.getLineAndCharacterOfPosition(node.getEnd());
    this.diagnostics.push({
      code,
      severity,
      message,
      ...(hint === undefined ? {} : { hint }),
      file: this.#file,
      line: start.line + 1,
      column: start.character + 1,
      endLine: end.line + 1,
      endColumn: end.character + 1,
    });
  }

  /** How many errors (not warnings) were reported so far. */
  get errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === "error").length;
  }
}

/**
 * Render a diagnostic the way compilers print them:
 * `file:line:column - error RATCHET1003: message` and a hint line.
 */
export function formatDiagnostic(d: Diagnostic): string {
  const head = `${d.file}:${d.line}:${d.column} - ${d.severity} ${d.code}: ${d.message}`;
  return d.hint ? `${head}\n  hint: ${d.hint}` : head;
}
