import ts from "typescript";

/**
 * Questions about nodes that several passes ask (regenerator calls this `meta`).
 */

/**
 * Whether `id` is a read or write of a variable, not a property name, label or declaration
 * name. `parent` defaults to `id.parent`; pass it for nodes the compiler made (which have none).
 */
export function isReference(id: ts.Identifier, parent: ts.Node | undefined = id.parent): boolean {
  // An identifier the compiler made and uses as a whole expression has no parent.
  if (!parent) return true;
  switch (parent.kind) {
    case ts.SyntaxKind.PropertyAccessExpression:
      return (parent as ts.PropertyAccessExpression).expression === id;
    case ts.SyntaxKind.QualifiedName:
    case ts.SyntaxKind.LabeledStatement:
    case ts.SyntaxKind.BreakStatement:
    case ts.SyntaxKind.ContinueStatement:
    case ts.SyntaxKind.ImportSpecifier:
    case ts.SyntaxKind.ExportSpecifier:
    case ts.SyntaxKind.ImportClause:
    case ts.SyntaxKind.NamespaceImport:
    case ts.SyntaxKind.MetaProperty:
    case ts.SyntaxKind.JsxAttribute:
      return false;
    case ts.SyntaxKind.PropertyAssignment:
    case ts.SyntaxKind.PropertyDeclaration:
    case ts.SyntaxKind.MethodDeclaration:
    case ts.SyntaxKind.GetAccessor:
    case ts.SyntaxKind.SetAccessor:
    case ts.SyntaxKind.PropertySignature:
    case ts.SyntaxKind.MethodSignature:
    case ts.SyntaxKind.EnumMember:
    case ts.SyntaxKind.VariableDeclaration:
    case ts.SyntaxKind.Parameter:
    case ts.SyntaxKind.FunctionDeclaration:
    case ts.SyntaxKind.FunctionExpression:
    case ts.SyntaxKind.ClassDeclaration:
    case ts.SyntaxKind.ClassExpression:
      return (parent as ts.NamedDeclaration).name !== id;
    case ts.SyntaxKind.BindingElement: {
      const element = parent as ts.BindingElement;
      return element.name !== id && element.propertyName !== id;
    }
    default:
      return true;
  }
}

/** Whether `node` starts a new function (its own `this`, `arguments` and `return`). */
export function isFunctionBoundary(node: ts.Node): boolean {
  return ts.isFunctionLike(node) || ts.isClassLike(node);
}

/** Whether `node` is a non-arrow function or class, which rebinds `this`/`arguments`/`super`. */
export function rebindsThis(node: ts.Node): boolean {
  return isFunctionBoundary(node) && !ts.isArrowFunction(node);
}

/** Strip parentheses, type assertions and non-null assertions around an expression. */
export function skipOuterExpressions(node: ts.Expression): ts.Expression {
  let current = node;
  while (
    ts.isParenthesizedExpression(current) ||
    ts.isAsExpression(current) ||
    ts.isSatisfiesExpression(current) ||
    ts.isNonNullExpression(current) ||
    ts.isTypeAssertionExpression(current)
  ) {
    current = current.expression;
  }
  return current;
}

/** The names a binding (identifier or destructuring pattern) declares. */
export function boundNames(name: ts.BindingName, out: string[] = []): string[] {
  if (ts.isIdentifier(name)) {
    out.push(name.text);
    return out;
  }
  for (const element of name.elements) {
    if (ts.isBindingElement(element)) boundNames(element.name, out);
  }
  return out;
}

/**
 * Visit every identifier reference in `node`, skipping type annotations. Works on nodes the
 * compiler made too: parents are tracked during the walk, not read from the nodes.
 */
export function forEachReference(node: ts.Node, visit: (id: ts.Identifier) => void): void {
  const walk = (n: ts.Node, parent: ts.Node | undefined): void => {
    if (ts.isTypeNode(n)) return;
    if (ts.isIdentifier(n)) {
      if (isReference(n, parent ?? n.parent)) visit(n);
      return;
    }
    ts.forEachChild(n, (child) => walk(child, n));
  };
  walk(node, undefined);
}

/** Whether the expression is, syntactically, a function or class value. */
export function isFunctionValue(node: ts.Expression | undefined): boolean {
  if (!node) return false;
  const inner = skipOuterExpressions(node);
  return ts.isArrowFunction(inner) || ts.isFunctionExpression(inner) || ts.isClassExpression(inner);
}

/**
 * A function's parameters as JavaScript sees them. TypeScript's `this` parameter
 * (`function (this: void, ctx, order)`) only types `this`: it is erased, so it is neither
 * the workflow's `ctx` nor an argument, and it binds nothing.
 */
export function runtimeParameters(
  node: ts.SignatureDeclaration,
): readonly ts.ParameterDeclaration[] {
  const first = node.parameters[0];
  return first && isThisParameter(first) ? node.parameters.slice(1) : node.parameters;
}

/** `this` cannot name a JavaScript parameter, so a parameter of that name is TypeScript's. */
function isThisParameter(parameter: ts.ParameterDeclaration): boolean {
  return ts.isIdentifier(parameter.name) && parameter.name.escapedText === "this";
}
