import ts from "typescript";
import type { Binding, ScopeInfo } from "./scopes.js";
import { outerExpression, skipOuterExpressions } from "./syntax.js";

// See compiler/explode.ts: TypeScript's exports are getters, read once here.
const {
  SyntaxKind,
  forEachChild,
  isArrayLiteralExpression,
  isArrowFunction,
  isBinaryExpression,
  isBindingElement,
  isCallExpression,
  isClassDeclaration,
  isElementAccessExpression,
  isNewExpression,
  isPropertyAccessExpression,
  isSpreadAssignment,
  isClassExpression,
  isConditionalExpression,
  isFunctionDeclaration,
  isFunctionExpression,
  isFunctionLike,
  isClassLike,
  isIdentifier,
  isObjectLiteralExpression,
  isParameter,
  isPropertyAssignment,
  isReturnStatement,
  isShorthandPropertyAssignment,
  isSpreadElement,
  isVariableDeclaration,
} = ts;

/**
 * The bindings of a workflow body that may hold a function or class value made in the body,
 * each with the expression that may give it one — beyond a function written in place
 * (`const f = () => …`, which compiler/explode.ts makes again on resume): a choice between
 * functions (`flag ? inc : dec`, `a ?? (() => 1)`, `null || (() => 2)`, a comma), a
 * destructuring or parameter default (`const { g = () => 1 } = o`), a literal taken apart
 * (`const [h] = [() => 1]`), another name for one (`const g = f`, `function f`, a class),
 * an assignment (`f = () => 1`, `f ??= …`, `({ f = () => 1 } = o)`, even from a nested
 * function), or the call of a function of the body that returns one
 * (`const inc = adder(1)` where `const adder = (n) => (v) => v + n`).
 *
 * Such a value cannot be persisted, and nothing says which function to make again on resume,
 * so a binding here that is live across a checkpoint is RATCHET1007 at compile time instead of
 * a `SerializationError` at run time. What a call of code outside the body returns, or what a
 * property read gives, is not known here.
 */
export function functionHolders(scopes: ScopeInfo): Map<Binding, ts.Expression> {
  return functionValues(scopes).holders;
}

/**
 * {@link functionHolders}, and whether an expression of the body is an array literal holding
 * a function or class made in it (`[inc, dec]`, or a binding holding such a literal): the
 * list a `for…of` holding a checkpoint keeps is that array. (A choice, `flag ? [inc] : []`,
 * may give data: it is left to the run, as a choice of objects is.)
 */
export function functionValues(scopes: ScopeInfo): {
  holders: Map<Binding, ts.Expression>;
  arrayGives: (e: ts.Expression) => boolean;
} {
  const out = new Map<Binding, ts.Expression>();
  const visiting = new Set<ts.Node>();

  /** Whether evaluating `node` may give a function or class made in the body. */
  const mayGiveFunction = (node: ts.Expression | undefined): boolean => {
    if (!node) return false;
    const e = skipOuterExpressions(node);
    if (isArrowFunction(e) || isFunctionExpression(e) || isClassExpression(e)) return true;
    if (isConditionalExpression(e)) {
      return mayGiveFunction(e.whenTrue) || mayGiveFunction(e.whenFalse);
    }
    if (isBinaryExpression(e)) {
      switch (e.operatorToken.kind) {
        case SyntaxKind.BarBarToken:
        case SyntaxKind.AmpersandAmpersandToken:
        case SyntaxKind.QuestionQuestionToken:
        case SyntaxKind.BarBarEqualsToken:
        case SyntaxKind.AmpersandAmpersandEqualsToken:
        case SyntaxKind.QuestionQuestionEqualsToken:
          return mayGiveFunction(e.left) || mayGiveFunction(e.right);
        case SyntaxKind.CommaToken:
        case SyntaxKind.EqualsToken:
          return mayGiveFunction(e.right);
        default:
          return false;
      }
    }
    if (isIdentifier(e)) {
      const binding = scopes.references.get(e);
      return binding !== undefined && holdsFunction(binding);
    }
    if (isCallExpression(e)) {
      const callee = skipOuterExpressions(e.expression);
      // `f.bind(…)` always gives a function; a bound function of the body is one too.
      if (isPropertyAccessExpression(callee) && callee.name.text === "bind") {
        return mayGiveFunction(callee.expression);
      }
      // An immediately called function literal: what it returns.
      if (isArrowFunction(callee) || isFunctionExpression(callee)) return returnsFunction(callee);
      if (!isIdentifier(callee)) return false;
      const binding = scopes.references.get(callee);
      const fn = binding && functionOf(binding);
      return fn !== undefined && returnsFunction(fn);
    }
    // A member of a literal that holds functions: `[() => 1][0]`, `{ f: () => 1 }.f`.
    if (isPropertyAccessExpression(e) || isElementAccessExpression(e)) {
      const object = skipOuterExpressions(e.expression);
      return (
        (isArrayLiteralExpression(object) || isObjectLiteralExpression(object)) &&
        literalHoldsFunction(object)
      );
    }
    return false;
  };

  /** Whether a binding of the body may hold a function or class made in the body. */
  const holdsFunction = (binding: Binding): boolean => {
    if (binding.kind === "function" || binding.kind === "class") return true;
    if (out.has(binding)) return true;
    const source = sourceOf(binding);
    if (!source || visiting.has(source)) return false;
    visiting.add(source);
    try {
      return mayGiveFunction(source);
    } finally {
      visiting.delete(source);
    }
  };

  /**
   * The expression a declaration may take its value from: its initializer, the default of
   * its pattern element or parameter, or the literal element it is destructured from.
   */
  const sourceOf = (binding: Binding): ts.Expression | undefined => {
    const declaration = binding.id.parent;
    if (isVariableDeclaration(declaration) || isParameter(declaration)) {
      return declaration.initializer;
    }
    if (!isBindingElement(declaration)) return undefined;
    if (declaration.initializer && mayGiveFunction(declaration.initializer)) {
      return declaration.initializer;
    }
    // `const [h] = [() => 1]`, `const { g } = { g: () => 1 }`: the literal destructured.
    let top: ts.Node = declaration;
    while (
      isBindingElement(top) ||
      ts.isObjectBindingPattern(top) ||
      ts.isArrayBindingPattern(top)
    ) {
      top = top.parent;
    }
    const init = isVariableDeclaration(top) || isParameter(top) ? top.initializer : undefined;
    return init && literalHoldsFunction(init) ? init : undefined;
  };

  /**
   * An object or array literal with a function among its values, at any depth, or spread
   * from a binding that holds one; or an instance of a class declared in the body without
   * `extends` (it cannot be registered with `registerClass`, so it cannot be persisted).
   */
  const literalHoldsFunction = (node: ts.Expression): boolean => {
    const e = skipOuterExpressions(node);
    if (isIdentifier(e)) {
      const binding = scopes.references.get(e);
      return binding !== undefined && out.has(binding);
    }
    if (isNewExpression(e)) {
      const callee = skipOuterExpressions(e.expression);
      const binding = isIdentifier(callee) ? scopes.references.get(callee) : undefined;
      const declaration = binding?.id.parent;
      const cls =
        declaration && isVariableDeclaration(declaration) && declaration.initializer
          ? skipOuterExpressions(declaration.initializer)
          : declaration;
      return (
        cls !== undefined &&
        (isClassDeclaration(cls) || isClassExpression(cls)) &&
        (cls.heritageClauses ?? []).length === 0
      );
    }
    if (isArrayLiteralExpression(e)) {
      return e.elements.some((el) =>
        isSpreadElement(el) ? literalHoldsFunction(el.expression) : elementGives(el),
      );
    }
    if (isObjectLiteralExpression(e)) {
      return e.properties.some(
        (p) =>
          (isPropertyAssignment(p) && elementGives(p.initializer)) ||
          (isShorthandPropertyAssignment(p) && elementGives(p.name)) ||
          (isSpreadAssignment(p) && literalHoldsFunction(p.expression)) ||
          ts.isMethodDeclaration(p),
      );
    }
    return false;
  };
  const elementGives = (e: ts.Expression): boolean => mayGiveFunction(e) || literalHoldsFunction(e);

  /** The function a binding names, when it is one written in the body. */
  const functionOf = (binding: Binding): ts.SignatureDeclaration | undefined => {
    const declaration = binding.id.parent;
    if (isFunctionDeclaration(declaration)) return declaration;
    if (isVariableDeclaration(declaration) && declaration.initializer) {
      const init = skipOuterExpressions(declaration.initializer);
      if (isArrowFunction(init) || isFunctionExpression(init)) return init;
    }
    return undefined;
  };

  /** Whether a function of the body may return a function or class made in the body. */
  const returnsFunction = (fn: ts.SignatureDeclaration): boolean => {
    if (visiting.has(fn)) return false;
    visiting.add(fn);
    try {
      if (isArrowFunction(fn) && !ts.isBlock(fn.body)) return mayGiveFunction(fn.body);
      const body = (fn as ts.FunctionLikeDeclaration).body;
      if (!body) return false;
      let found = false;
      const walk = (n: ts.Node): void => {
        if (found || isFunctionLike(n) || isClassLike(n)) return;
        if (isReturnStatement(n) && mayGiveFunction(n.expression)) found = true;
        else forEachChild(n, walk);
      };
      forEachChild(body, walk);
      return found;
    } finally {
      visiting.delete(fn);
    }
  };

  // Assignments first (they make a binding a holder whatever its initializer), then
  // declarations: both may name bindings found by the other, so repeat until none is added.
  const assigned: [Binding, ts.Expression][] = [];
  for (const id of scopes.referenceIds) {
    const binding = scopes.references.get(id);
    if (!binding) continue;
    // `(f as any) = …`, `(o)!.run = …`: the binding itself.
    const ref = outerExpression(id);
    const parent = ref.parent;
    if (
      isBinaryExpression(parent) &&
      parent.left === ref &&
      isAssignment(parent.operatorToken.kind)
    ) {
      assigned.push([binding, parent.right]);
    } else if (
      (isPropertyAccessExpression(parent) || isElementAccessExpression(parent)) &&
      parent.expression === ref &&
      isBinaryExpression(parent.parent) &&
      parent.parent.left === parent &&
      isAssignment(parent.parent.operatorToken.kind)
    ) {
      // `o.run = () => 1`: the object now holds a function.
      assigned.push([binding, parent.parent.right]);
    } else if (isShorthandPropertyAssignment(parent) && parent.objectAssignmentInitializer) {
      assigned.push([binding, parent.objectAssignmentInitializer]);
    }
  }
  for (let added = true; added; ) {
    added = false;
    for (const [binding, value] of assigned) {
      if (!out.has(binding) && (mayGiveFunction(value) || literalHoldsFunction(value))) {
        out.set(binding, value);
        added = true;
      }
    }
    for (const binding of scopes.bindings) {
      if (out.has(binding) || binding.kind === "function" || binding.kind === "class") continue;
      const source = sourceOf(binding);
      if (source && (mayGiveFunction(source) || literalHoldsFunction(source))) {
        out.set(binding, source);
        added = true;
      }
    }
  }
  const arrayGives = (node: ts.Expression, seen = new Set<Binding>()): boolean => {
    const e = skipOuterExpressions(node);
    if (isArrayLiteralExpression(e)) return literalHoldsFunction(e);
    if (!isIdentifier(e)) return false;
    const binding = scopes.references.get(e);
    const source = binding && out.get(binding);
    if (!binding || !source || seen.has(binding)) return false;
    seen.add(binding);
    return arrayGives(source, seen);
  };
  return { holders: out, arrayGives };
}

function isAssignment(kind: ts.SyntaxKind): boolean {
  return (
    kind === SyntaxKind.EqualsToken ||
    kind === SyntaxKind.BarBarEqualsToken ||
    kind === SyntaxKind.AmpersandAmpersandEqualsToken ||
    kind === SyntaxKind.QuestionQuestionEqualsToken
  );
}
