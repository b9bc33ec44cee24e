import ts from "typescript";

// TypeScript's CommonJS entry exposes each export through a getter on an object of some
// 2,000 properties: `ts.isIdentifier(…)` or `ts.SyntaxKind.X` is a getter call each time.
// The walks ask such questions of every node, so they read them once, here.
const {
  SyntaxKind,
  isArrayBindingPattern,
  isIdentifier,
  isObjectBindingPattern,
  isOmittedExpression,
} = ts;

const f = ts.factory;

/**
 * Turn a declaration's binding (`{ a, b: [c = 1], ...rest }`) into the equivalent
 * assignment target, so `const <binding> = value` can be emitted as `<target> = value`
 * once the declared names have become frame slots.
 */
export function bindingToAssignmentTarget(name: ts.BindingName): ts.Expression {
  if (isIdentifier(name)) return f.createIdentifier(name.text);
  // Already an assignment target: a name the passes rewrote (a write to a `const`, or to a
  // `let` in its dead zone, goes through a stand-in member that throws as JavaScript does).
  if (!isObjectBindingPattern(name) && !isArrayBindingPattern(name)) return name as ts.Expression;
  if (isObjectBindingPattern(name)) {
    return f.createObjectLiteralExpression(
      name.elements.map((element): ts.ObjectLiteralElementLike => {
        if (element.dotDotDotToken) {
          return f.createSpreadAssignment(bindingToAssignmentTarget(element.name));
        }
        if (!element.propertyName && isIdentifier(element.name)) {
          return f.createShorthandPropertyAssignment(
            f.createIdentifier(element.name.text),
            element.initializer,
          );
        }
        const key = element.propertyName ?? (element.name as ts.Identifier);
        return f.createPropertyAssignment(key, withDefault(element));
      }),
    );
  }
  return f.createArrayLiteralExpression(
    name.elements.map((element) => {
      if (isOmittedExpression(element)) return f.createOmittedExpression();
      if (element.dotDotDotToken)
        return f.createSpreadElement(bindingToAssignmentTarget(element.name));
      return withDefault(element);
    }),
  );
}

function withDefault(element: ts.BindingElement): ts.Expression {
  const target = bindingToAssignmentTarget(element.name);
  return element.initializer
    ? f.createBinaryExpression(target, SyntaxKind.EqualsToken, element.initializer)
    : target;
}
