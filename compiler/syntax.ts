import ts from "typescript";

// TypeScript's CommonJS entry exposes each export through a getter on an object of some
// 2,000 properties: `ts.isIdentifier(…)` or `ts.SyntaxKind.X` is a getter call each time.
// The walks ask such questions of every node, so they read them once, here.
const {
  NodeFlags,
  SyntaxKind,
  forEachChild,
  isArrowFunction,
  isAsExpression,
  isBindingElement,
  isClassExpression,
  isClassLike,
  isFunctionExpression,
  isFunctionLike,
  isIdentifier,
  isNonNullExpression,
  isParenthesizedExpression,
  isSatisfiesExpression,
  isTypeAssertionExpression,
  isTypeNode,
} = ts;

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
    case SyntaxKind.PropertyAccessExpression:
      return (parent as ts.PropertyAccessExpression).expression === id;
    case SyntaxKind.QualifiedName:
    case SyntaxKind.LabeledStatement:
    case SyntaxKind.BreakStatement:
    case SyntaxKind.ContinueStatement:
    case SyntaxKind.ImportSpecifier:
    case SyntaxKind.ExportSpecifier:
    case SyntaxKind.ImportClause:
    case SyntaxKind.NamespaceImport:
    case SyntaxKind.MetaProperty:
    case SyntaxKind.JsxAttribute:
      return false;
    case SyntaxKind.PropertyAssignment:
    case SyntaxKind.PropertyDeclaration:
    case SyntaxKind.MethodDeclaration:
    case SyntaxKind.GetAccessor:
    case SyntaxKind.SetAccessor:
    case SyntaxKind.PropertySignature:
    case SyntaxKind.MethodSignature:
    case SyntaxKind.EnumMember:
    case SyntaxKind.VariableDeclaration:
    case SyntaxKind.Parameter:
    case SyntaxKind.FunctionDeclaration:
    case SyntaxKind.FunctionExpression:
    case SyntaxKind.ClassDeclaration:
    case SyntaxKind.ClassExpression:
      return (parent as ts.NamedDeclaration).name !== id;
    case SyntaxKind.BindingElement: {
      const element = parent as ts.BindingElement;
      return element.name !== id && element.propertyName !== id;
    }
    default:
      return true;
  }
}

/** Whether `node` starts a new function (its own `this`, `arguments` and `return`). */
export function isFunctionBoundary(node: ts.Node): boolean {
  return isFunctionLike(node) || isClassLike(node);
}

/** Whether `node` is a non-arrow function or class, which rebinds `this`/`arguments`/`super`. */
export function rebindsThis(node: ts.Node): boolean {
  return isFunctionBoundary(node) && !isArrowFunction(node);
}

/** Strip parentheses, type assertions and non-null assertions around an expression. */
export function skipOuterExpressions(node: ts.Expression): ts.Expression {
  let current = node;
  while (
    isParenthesizedExpression(current) ||
    isAsExpression(current) ||
    isSatisfiesExpression(current) ||
    isNonNullExpression(current) ||
    isTypeAssertionExpression(current)
  ) {
    current = current.expression;
  }
  return current;
}

/**
 * The outermost expression that is `node` in parentheses, a type assertion (`as`, `<T>`,
 * `satisfies`) or a non-null assertion: what its parent uses as `node` itself.
 */
export function outerExpression(node: ts.Expression): ts.Expression {
  let current = node;
  for (;;) {
    const parent = current.parent;
    if (
      parent &&
      (isParenthesizedExpression(parent) ||
        isAsExpression(parent) ||
        isSatisfiesExpression(parent) ||
        isNonNullExpression(parent) ||
        isTypeAssertionExpression(parent)) &&
      parent.expression === current
    ) {
      current = parent;
    } else {
      return current;
    }
  }
}

/** The names a binding (identifier or destructuring pattern) declares. */
export function boundNames(name: ts.BindingName, out: string[] = []): string[] {
  if (isIdentifier(name)) {
    out.push(name.text);
    return out;
  }
  for (const element of name.elements) {
    if (isBindingElement(element)) boundNames(element.name, out);
  }
  return out;
}

/**
 * Visit every identifier reference in `node`, skipping type annotations. Works on nodes the
 * compiler made too: parents are tracked during the walk, not read from the nodes.
 *
 * With `parsed`, a subtree of the parsed file below the first level of the walk (every node
 * under it has its parsed parent, so its references are those it had when parsed) is handed
 * to `parsed` instead of being walked: the caller knows its references by position.
 */
export function forEachReference(
  node: ts.Node,
  visit: (id: ts.Identifier) => void,
  parsed?: (subtree: ts.Node) => void,
): void {
  const walk = (n: ts.Node, parent: ts.Node | undefined): void => {
    if (isTypeNode(n)) return;
    if (isIdentifier(n)) {
      if (isReference(n, parent ?? n.parent)) visit(n);
      return;
    }
    if (parsed && !(n.flags & NodeFlags.Synthesized) && n.pos >= 0) {
      parsed(n);
      return;
    }
    forEachChild(n, (child) => walk(child, n));
  };
  walk(node, undefined);
}

/** Whether the expression is, syntactically, a function or class value. */
export function isFunctionValue(node: ts.Expression | undefined): boolean {
  if (!node) return false;
  const inner = skipOuterExpressions(node);
  return isArrowFunction(inner) || isFunctionExpression(inner) || isClassExpression(inner);
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
  return isIdentifier(parameter.name) && parameter.name.escapedText === "this";
}
