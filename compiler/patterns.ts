import ts from "typescript";

const f = ts.factory;

/**
 * Turn a declaration's binding (`{ a, b: [c = 1], ...rest }`) into the equivalent
 * assignment target, so `const <binding> = value` can be emitted as `<target> = value`
 * once the declared names have become frame slots.
 */
export function bindingToAssignmentTarget(name: ts.BindingName): ts.Expression {
  if (ts.isIdentifier(name)) return f.createIdentifier(name.text);
  if (ts.isObjectBindingPattern(name)) {
    return f.createObjectLiteralExpression(
      name.elements.map((element): ts.ObjectLiteralElementLike => {
        if (element.dotDotDotToken) {
          return f.createSpreadAssignment(bindingToAssignmentTarget(element.name));
        }
        if (!element.propertyName && ts.isIdentifier(element.name)) {
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
      if (ts.isOmittedExpression(element)) return f.createOmittedExpression();
      if (element.dotDotDotToken)
        return f.createSpreadElement(bindingToAssignmentTarget(element.name));
      return withDefault(element);
    }),
  );
}

function withDefault(element: ts.BindingElement): ts.Expression {
  const target = bindingToAssignmentTarget(element.name);
  return element.initializer
    ? f.createBinaryExpression(target, ts.SyntaxKind.EqualsToken, element.initializer)
    : target;
}
