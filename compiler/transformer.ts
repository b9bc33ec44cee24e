import ts from "typescript";
import { DiagnosticSink } from "./diagnostics.js";
import { discoverWorkflows, type WorkflowSite } from "./discover.js";
import type { WorkflowManifest } from "./manifest.js";
import { type CheckpointLiveness, compileWorkflow } from "./pipeline.js";

const f = ts.factory;

/** What the transformer found in one source file. */
export interface FileReport {
  readonly fileName: string;
  readonly workflows: WorkflowManifest[];
  readonly diagnostics: DiagnosticSink["diagnostics"];
}

/** Options of {@link createRatchetTransformer}. */
export interface RatchetTransformerOptions {
  /** Called once per transformed file with its manifests and diagnostics. */
  readonly onFile?: (report: FileReport) => void;
  /** The file name to record in manifests and diagnostics; defaults to the source file's. */
  readonly fileName?: (sourceFile: ts.SourceFile) => string;
  /**
   * Called once per compiled workflow with, per checkpoint, the live variables and the user's
   * nodes behind them: for front ends with a type checker (`ratchetjs/tsc`).
   */
  readonly onLiveness?: (
    workflow: WorkflowManifest,
    checkpoints: readonly CheckpointLiveness[],
  ) => void;
}

/**
 * `workflow(body)` → `workflow({ name }, machine)`; `workflow(opts, body)` keeps the options.
 * A `@workflow` method becomes a static field holding the definition:
 * `static name = workflow({ name: "Class.name" }, machine)`.
 */
function rewriteSite(site: WorkflowSite, descriptor: ts.Expression): ts.Node {
  let options: ts.Expression;
  if (site.nameInOptions && site.options) {
    options = site.options;
  } else {
    const name = f.createPropertyAssignment("name", f.createStringLiteral(site.name));
    options = f.createObjectLiteralExpression(
      site.options ? [name, f.createSpreadAssignment(site.options)] : [name],
    );
  }
  if (ts.isCallExpression(site.node)) {
    return f.updateCallExpression(site.node, site.node.expression, site.node.typeArguments, [
      options,
      descriptor,
    ]);
  }
  const method = site.node;
  return ts.setTextRange(
    f.createPropertyDeclaration(
      [f.createModifier(ts.SyntaxKind.StaticKeyword)],
      method.name,
      undefined,
      undefined,
      f.createCallExpression(site.callee, undefined, [options, descriptor]),
    ),
    method,
  );
}

/**
 * The Ratchet transform as a TypeScript `before` transformer: every front end (the
 * single-file `transform()`, the bundler plugins, the register hook, and `ratchetjs/tsc`)
 * runs this same factory.
 */
export function createRatchetTransformer(
  options: RatchetTransformerOptions = {},
): ts.TransformerFactory<ts.SourceFile> {
  return (context) => (sourceFile) => {
    const fileName = options.fileName?.(sourceFile) ?? sourceFile.fileName;
    const sink = new DiagnosticSink(sourceFile, fileName);
    const sites = discoverWorkflows(sourceFile, sink);
    const replacements = new Map<ts.Node, ts.Node>();
    const workflows: WorkflowManifest[] = [];
    for (const site of sites) {
      const compiled = compileWorkflow(site, sourceFile, fileName, sink, context);
      if (!compiled) continue;
      workflows.push(compiled.manifest);
      options.onLiveness?.(compiled.manifest, compiled.liveness);
      replacements.set(site.node, rewriteSite(site, compiled.descriptor));
    }
    options.onFile?.({ fileName, workflows, diagnostics: sink.diagnostics });
    if (replacements.size === 0) return sourceFile;
    const visit = (node: ts.Node): ts.Node => {
      const replacement = replacements.get(node);
      if (replacement) return replacement;
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitEachChild(sourceFile, visit, context);
  };
}
