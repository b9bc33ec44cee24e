import ts from "typescript";
import type { WorkflowBodyNode } from "./discover.js";
import { isReference, runtimeParameters } from "./syntax.js";

/** A declared name inside a workflow body (its own functions included). */
export interface Binding {
  readonly name: string;
  readonly kind: "var" | "let" | "const" | "class" | "function" | "param" | "catch";
  /** The identifier that declares it. */
  readonly id: ts.Identifier;
  /** The scope it lives in. */
  readonly scope: Scope;
}

/** A lexical scope: a function (holds `var`s and parameters) or a block. */
export interface Scope {
  readonly node: ts.Node;
  readonly parent: Scope | undefined;
  readonly isFunction: boolean;
  readonly names: Map<string, Binding>;
}

/** Which binding each identifier of a body refers to. */
export interface ScopeInfo {
  readonly bindings: Binding[];
  /** Every reference in the body, with the binding it resolves to (`undefined`: outside the body). */
  readonly references: Map<ts.Identifier, Binding | undefined>;
  /** The binding each declaring identifier declares. */
  readonly declarations: Map<ts.Identifier, Binding>;
  /** Names referenced in the body that resolve outside it (imports, module variables, globals). */
  readonly outerNames: Set<string>;
  /** Bindings of the body referenced from inside a function or class nested in it. */
  readonly capturedByFunctions: Set<Binding>;
}

function createsBlockScope(node: ts.Node): boolean {
  return (
    ts.isBlock(node) ||
    ts.isCaseBlock(node) ||
    ts.isForStatement(node) ||
    ts.isForInStatement(node) ||
    ts.isForOfStatement(node) ||
    ts.isCatchClause(node) ||
    ts.isClassLike(node)
  );
}

/**
 * Resolve every name in a workflow body to its declaration — the scope analysis that the
 * compiler needs to give block-level variables unique frame slots. Strict-mode rules:
 * `var` belongs to the nearest function, `let`/`const`/`class` and function declarations to
 * the nearest block.
 */
export function resolveScopes(body: WorkflowBodyNode): ScopeInfo {
  const bindings: Binding[] = [];
  const declarations = new Map<ts.Identifier, Binding>();
  const scopeOf = new Map<ts.Node, Scope>();

  const declare = (scope: Scope, id: ts.Identifier, kind: Binding["kind"]): void => {
    let target = scope;
    if (kind === "var") while (!target.isFunction && target.parent) target = target.parent;
    const existing = target.names.get(id.text);
    if (existing && (kind === "var" || kind === "function") && existing.kind === kind) {
      declarations.set(id, existing);
      return;
    }
    const binding: Binding = { name: id.text, kind, id, scope: target };
    target.names.set(id.text, binding);
    bindings.push(binding);
    declarations.set(id, binding);
  };

  const declarePattern = (scope: Scope, name: ts.BindingName, kind: Binding["kind"]): void => {
    if (ts.isIdentifier(name)) {
      declare(scope, name, kind);
      return;
    }
    for (const element of name.elements) {
      if (ts.isBindingElement(element)) declarePattern(scope, element.name, kind);
    }
  };

  // Pass 1: scopes and declarations.
  const collect = (node: ts.Node, scope: Scope): void => {
    // A leaf as common as an identifier declares nothing by itself (its parent does).
    if (node.kind === ts.SyntaxKind.Identifier) return;
    if (ts.isTypeNode(node) || ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) {
      return;
    }
    let inner = scope;
    if (ts.isFunctionLike(node) && node !== body) {
      if (ts.isFunctionDeclaration(node) && node.name) declare(scope, node.name, "function");
      inner = { node, parent: scope, isFunction: true, names: new Map() };
      if ((ts.isFunctionExpression(node) || ts.isClassExpression(node)) && node.name) {
        declare(inner, node.name, "function");
      }
      for (const parameter of runtimeParameters(node)) {
        declarePattern(inner, parameter.name, "param");
      }
    } else if (node === body) {
      inner = scope;
    } else if (createsBlockScope(node)) {
      if (ts.isClassDeclaration(node) && node.name) declare(scope, node.name, "class");
      inner = { node, parent: scope, isFunction: false, names: new Map() };
      if (ts.isClassExpression(node) && node.name) declare(inner, node.name, "class");
      if (ts.isCatchClause(node) && node.variableDeclaration) {
        declarePattern(inner, node.variableDeclaration.name, "catch");
      }
    }
    if (ts.isVariableDeclarationList(node)) {
      const kind =
        node.flags & ts.NodeFlags.Const ? "const" : node.flags & ts.NodeFlags.Let ? "let" : "var";
      for (const declaration of node.declarations) declarePattern(scope, declaration.name, kind);
    }
    // Only the nodes that open a scope are recorded; the others resolve in their parent's.
    if (inner !== scope) scopeOf.set(node, inner);
    ts.forEachChild(node, (child) => collect(child, inner));
  };
  const root: Scope = { node: body, parent: undefined, isFunction: true, names: new Map() };
  for (const parameter of runtimeParameters(body)) declarePattern(root, parameter.name, "param");
  collect(body, root);

  // Pass 2: references, and which bindings nested functions and classes capture.
  const references = new Map<ts.Identifier, Binding | undefined>();
  const outerNames = new Set<string>();
  const capturedByFunctions = new Set<Binding>();
  const resolve = (node: ts.Node, scope: Scope, nested: boolean): void => {
    if (ts.isTypeNode(node)) return;
    const own = scopeOf.get(node) ?? scope;
    if (ts.isIdentifier(node)) {
      if (!isReference(node) || declarations.has(node)) return;
      let found: Binding | undefined;
      for (let s: Scope | undefined = own; s && !found; s = s.parent)
        found = s.names.get(node.text);
      references.set(node, found);
      if (!found) outerNames.add(node.text);
      else if (nested) capturedByFunctions.add(found);
      return;
    }
    const inner = nested || ts.isFunctionLike(node) || ts.isClassLike(node);
    ts.forEachChild(node, (child) => resolve(child, own, inner));
  };
  for (const parameter of runtimeParameters(body)) resolve(parameter, root, false);
  resolve(body.body!, root, false);
  return { bindings, references, declarations, outerNames, capturedByFunctions };
}
