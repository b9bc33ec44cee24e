import ts from "typescript";
import { DiagnosticCodes, type DiagnosticSink } from "./diagnostics.js";
import { boundNames, runtimeParameters } from "./syntax.js";

/** The module specifiers whose `workflow` export the compiler recognizes. */
const RUNTIME_MODULES = new Set(["ratchetjs"]);

/** How this module refers to Ratchet's `workflow`. */
interface RatchetImports {
  /** Local names bound to `workflow` (`import { workflow as wf }`). */
  readonly workflowNames: ReadonlySet<string>;
  /** Local names bound to the whole module (`import * as r`). */
  readonly namespaces: ReadonlySet<string>;
}

/** A workflow body: an inline function passed to `workflow`, or a decorated method. */
export type WorkflowBodyNode = ts.ArrowFunction | ts.FunctionExpression | ts.MethodDeclaration;

/** The body's context parameter (`ctx`): its first parameter, a TypeScript `this` one aside. */
export function contextParameter(body: WorkflowBodyNode): ts.ParameterDeclaration | undefined {
  return runtimeParameters(body)[0];
}

/** The body's parameters after `ctx`, a TypeScript `this` one aside: the run's arguments. */
export function argumentParameters(body: WorkflowBodyNode): readonly ts.ParameterDeclaration[] {
  return runtimeParameters(body).slice(1);
}

/**
 * A workflow the compiler will turn into a state machine: a `workflow(...)` call, or a
 * method decorated with `@workflow` / `@workflow(options)`.
 */
export interface WorkflowSite {
  /** The node the compiled definition replaces: the call, or the decorated method. */
  readonly node: ts.CallExpression | ts.MethodDeclaration;
  /** The `workflow` callee as written (`workflow`, `wf`, `r.workflow`). */
  readonly callee: ts.Expression;
  /** The async function that is the body. */
  readonly body: WorkflowBodyNode;
  /** The options object expression, when the call has one. */
  readonly options: ts.Expression | undefined;
  /** The workflow's name: from `options.name`, else the binding. */
  readonly name: string;
  /** Whether `options` already sets `name` (so the compiler must not inject one). */
  readonly nameInOptions: boolean;
}

function collectImports(sourceFile: ts.SourceFile): RatchetImports {
  const workflowNames = new Set<string>();
  const namespaces = new Set<string>();
  for (const statement of sourceFile.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) {
      continue;
    }
    if (!RUNTIME_MODULES.has(statement.moduleSpecifier.text)) continue;
    const clause = statement.importClause;
    if (!clause || clause.isTypeOnly || !clause.namedBindings) continue;
    if (ts.isNamespaceImport(clause.namedBindings)) {
      namespaces.add(clause.namedBindings.name.text);
      continue;
    }
    for (const element of clause.namedBindings.elements) {
      const imported = (element.propertyName ?? element.name).text;
      if (imported === "workflow" && !element.isTypeOnly) workflowNames.add(element.name.text);
    }
  }
  return { workflowNames, namespaces };
}

function isWorkflowCallee(callee: ts.Expression, imports: RatchetImports): boolean {
  if (ts.isIdentifier(callee)) {
    return imports.workflowNames.has(callee.text) && !isShadowed(callee);
  }
  return (
    ts.isPropertyAccessExpression(callee) &&
    ts.isIdentifier(callee.expression) &&
    imports.namespaces.has(callee.expression.text) &&
    !isShadowed(callee.expression) &&
    callee.name.text === "workflow"
  );
}

/**
 * Whether `id` refers to a declaration between it and the module (a parameter, a local
 * variable, function or class, a catch binding) rather than to the module's import.
 */
function isShadowed(id: ts.Identifier): boolean {
  const name = id.text;
  const binds = (binding: ts.BindingName | undefined): boolean =>
    binding !== undefined && boundNames(binding).includes(name);
  // let, const, function and class in a block; `var`s are found from their function.
  const declaresInList = (statements: readonly ts.Statement[]): boolean =>
    statements.some(
      (s) =>
        ((ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s)) && s.name?.text === name) ||
        (ts.isVariableStatement(s) &&
          (s.declarationList.flags & ts.NodeFlags.BlockScoped) !== 0 &&
          s.declarationList.declarations.some((d) => binds(d.name))),
    );
  const declaresVar = (node: ts.Node): boolean => {
    if (ts.isVariableDeclarationList(node) && (node.flags & ts.NodeFlags.BlockScoped) === 0) {
      if (node.declarations.some((d) => binds(d.name))) return true;
    }
    if (ts.isFunctionLike(node) || ts.isClassLike(node)) return false;
    return ts.forEachChild(node, declaresVar) ?? false;
  };
  for (let parent = id.parent; parent; parent = parent.parent) {
    if (ts.isSourceFile(parent)) return false;
    if (ts.isFunctionLike(parent)) {
      if (runtimeParameters(parent).some((p) => binds(p.name))) return true;
      if (
        (ts.isFunctionExpression(parent) || ts.isClassExpression(parent)) &&
        parent.name?.text === name
      ) {
        return true;
      }
      const body = (parent as ts.FunctionLikeDeclaration).body;
      if (body && ts.forEachChild(body, declaresVar)) return true;
    }
    if (ts.isBlock(parent) || ts.isModuleBlock(parent)) {
      if (declaresInList(parent.statements)) return true;
    }
    if (ts.isCaseBlock(parent)) {
      if (parent.clauses.some((c) => declaresInList(c.statements))) return true;
    }
    if (ts.isCatchClause(parent) && binds(parent.variableDeclaration?.name)) return true;
    if (
      (ts.isForStatement(parent) || ts.isForOfStatement(parent) || ts.isForInStatement(parent)) &&
      parent.initializer &&
      ts.isVariableDeclarationList(parent.initializer) &&
      parent.initializer.declarations.some((d) => binds(d.name))
    ) {
      return true;
    }
  }
  return false;
}

function nameFromOptions(options: ts.Expression | undefined): string | undefined {
  if (!options || !ts.isObjectLiteralExpression(options)) return undefined;
  for (const property of options.properties) {
    if (
      ts.isPropertyAssignment(property) &&
      ts.isIdentifier(property.name) &&
      property.name.text === "name" &&
      ts.isStringLiteralLike(property.initializer)
    ) {
      return property.initializer.text;
    }
  }
  return undefined;
}

function nameFromBinding(call: ts.CallExpression): string | undefined {
  let node: ts.Node = call;
  // `export const x = workflow(...) satisfies …` and parenthesized forms name the binding too.
  while (
    ts.isParenthesizedExpression(node.parent) ||
    ts.isSatisfiesExpression(node.parent) ||
    ts.isAsExpression(node.parent)
  ) {
    node = node.parent;
  }
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (ts.isPropertyAssignment(parent) && !ts.isComputedPropertyName(parent.name)) {
    return parent.name.text;
  }
  if (
    ts.isBinaryExpression(parent) &&
    parent.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
    ts.isPropertyAccessExpression(parent.left)
  ) {
    return parent.left.name.text;
  }
  return undefined;
}

function isAsync(fn: ts.ArrowFunction | ts.FunctionExpression): boolean {
  return (ts.getCombinedModifierFlags(fn) & ts.ModifierFlags.Async) !== 0;
}

/**
 * Find every workflow in the module — `workflow(...)` calls and `@workflow` methods whose
 * callee is Ratchet's `workflow`, however it was imported. Reports the ones whose body the
 * compiler cannot see.
 */
export function discoverWorkflows(sourceFile: ts.SourceFile, sink: DiagnosticSink): WorkflowSite[] {
  const imports = collectImports(sourceFile);
  if (imports.workflowNames.size === 0 && imports.namespaces.size === 0) return [];
  const sites: WorkflowSite[] = [];
  const seen = new Map<string, ts.Node>();
  const mentions = calleeMentions(sourceFile.text, imports);
  const visit = (node: ts.Node): void => {
    // A workflow's call or decorator spells its callee, so a subtree whose text never does
    // (most of a module: types, imports, ordinary functions) holds none and is not walked.
    if (!mentions(node.pos, node.end)) return;
    const isCall =
      ts.isCallExpression(node) &&
      !ts.isDecorator(node.parent) &&
      isWorkflowCallee(node.expression, imports);
    const site = isCall
      ? toSite(node as ts.CallExpression, sink)
      : ts.isMethodDeclaration(node)
        ? toMethodSite(node, imports, sink)
        : undefined;
    if (site) {
      const previous = seen.get(site.name);
      if (previous) {
        sink.report(
          node,
          DiagnosticCodes.duplicateName,
          `Two workflows in this module are named "${site.name}".`,
          'Give each a distinct name with workflow({ name: "…" }, async (ctx) => { … }).',
        );
      } else {
        seen.set(site.name, node);
        sites.push(site);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return sites;
}

/**
 * Whether the text between two offsets contains a name the `workflow` callee may be spelled
 * with (a local name of the import, or `workflow` after a namespace).
 */
function calleeMentions(
  text: string,
  imports: RatchetImports,
): (start: number, end: number) => boolean {
  const names = [...imports.workflowNames];
  if (imports.namespaces.size > 0) names.push("workflow");
  const at: number[] = [];
  for (const name of names) {
    for (let i = text.indexOf(name); i !== -1; i = text.indexOf(name, i + name.length)) at.push(i);
  }
  at.sort((a, b) => a - b);
  return (start, end) => {
    let lo = 0;
    let hi = at.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (at[mid]! < start) lo = mid + 1;
      else hi = mid;
    }
    return lo < at.length && at[lo]! < end;
  };
}

function isAsyncMethod(method: ts.MethodDeclaration): boolean {
  return (ts.getCombinedModifierFlags(method) & ts.ModifierFlags.Async) !== 0;
}

function toMethodSite(
  method: ts.MethodDeclaration,
  imports: RatchetImports,
  sink: DiagnosticSink,
): WorkflowSite | undefined {
  const decorator = ts.getDecorators(method)?.find((d) => {
    const e = d.expression;
    return isWorkflowCallee(ts.isCallExpression(e) ? e.expression : e, imports);
  });
  if (!decorator) return undefined;
  const expression = decorator.expression;
  const callee = ts.isCallExpression(expression) ? expression.expression : expression;
  const options = ts.isCallExpression(expression) ? expression.arguments[0] : undefined;
  if (!isAsyncMethod(method) || method.asteriskToken || !method.body) {
    sink.report(
      method,
      DiagnosticCodes.bodyNotInline,
      "@workflow goes on an async method with a body.",
      "Write it as: @workflow static async name(ctx, ...args) { … }.",
    );
    return undefined;
  }
  if (ts.isComputedPropertyName(method.name) || ts.isPrivateIdentifier(method.name)) {
    sink.report(
      method.name,
      DiagnosticCodes.missingName,
      "A @workflow method needs a plain name.",
      'Give it an identifier name, or pass @workflow({ name: "…" }).',
    );
    return undefined;
  }
  const optionName = nameFromOptions(options);
  const className =
    method.parent && ts.isClassLike(method.parent) ? method.parent.name?.text : undefined;
  const methodName = method.name.text;
  const name = optionName ?? (className ? `${className}.${methodName}` : methodName);
  return {
    node: method,
    callee,
    body: method,
    options,
    name,
    nameInOptions: optionName !== undefined,
  };
}

function toSite(call: ts.CallExpression, sink: DiagnosticSink): WorkflowSite | undefined {
  const args = call.arguments;
  const bodyArg = args.length >= 2 ? args[1] : args[0];
  const options = args.length >= 2 ? args[0] : undefined;
  let body = bodyArg;
  while (body && ts.isParenthesizedExpression(body)) body = body.expression;
  if (!body || !(ts.isArrowFunction(body) || ts.isFunctionExpression(body)) || !isAsync(body)) {
    sink.report(
      bodyArg ?? call,
      DiagnosticCodes.bodyNotInline,
      "A workflow body must be an inline async function, so the compiler can turn it into a state machine.",
      "Write it in place: workflow(async (ctx, ...args) => { … }).",
    );
    return undefined;
  }
  if (body.asteriskToken) {
    sink.report(
      body,
      DiagnosticCodes.forbiddenConstruct,
      "A workflow body cannot be a generator function.",
      "Use a plain async function; ctx.step and friends replace yield.",
    );
    return undefined;
  }
  const optionName = nameFromOptions(options);
  const name = optionName ?? nameFromBinding(call);
  if (name === undefined) {
    sink.report(
      call,
      DiagnosticCodes.missingName,
      "This workflow has no name: it is not assigned to a variable and its options set none.",
      'Assign it (export const myWorkflow = workflow(…)) or pass workflow({ name: "myWorkflow" }, …).',
    );
    return undefined;
  }
  return {
    node: call,
    callee: call.expression,
    body,
    options,
    name,
    nameInOptions: optionName !== undefined,
  };
}
