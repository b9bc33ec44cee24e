import ts from "typescript";
import type { Exploder } from "./explode.js";
import { skipOuterExpressions } from "./syntax.js";

// TypeScript's CommonJS entry exposes each export through a getter on an object of some
// 2,000 properties: `ts.isIdentifier(…)` or `ts.SyntaxKind.X` is a getter call each time.
// The walks ask such questions of every node, so they read them once, here.
const {
  SyntaxKind,
  isArrayBindingPattern,
  isArrayLiteralExpression,
  isArrowFunction,
  isBigIntLiteral,
  isBinaryExpression,
  isClassExpression,
  isComputedPropertyName,
  isElementAccessExpression,
  isFunctionExpression,
  isIdentifier,
  isNumericLiteral,
  isObjectBindingPattern,
  isObjectLiteralExpression,
  isOmittedExpression,
  isPropertyAccessExpression,
  isPropertyAssignment,
  isShorthandPropertyAssignment,
  isSpreadAssignment,
  isSpreadElement,
} = ts;

const f = ts.factory;

/**
 * A destructuring pattern with a durable await inside (in a default, a computed key or a
 * target), taken apart so each part can be cut into blocks. A part with no durable await
 * inside stays a `leaf`, destructured natively.
 */
type Pattern =
  | {
      readonly kind: "leaf";
      /** A declaration's binding (an identifier or a pattern). */
      readonly binding?: ts.BindingName;
      /** An assignment target (a variable, a member, or a pattern). */
      readonly target?: ts.Expression;
    }
  | {
      readonly kind: "object";
      readonly node: ts.Node;
      readonly properties: readonly Part[];
      readonly rest?: Pattern;
    }
  | {
      readonly kind: "array";
      readonly node: ts.Node;
      /** `undefined` for a hole. */
      readonly elements: readonly (Part | undefined)[];
      readonly rest?: Pattern;
    };

interface Part {
  /** An object pattern's key. */
  readonly key?: ts.PropertyName;
  readonly value: Pattern;
  readonly initializer?: ts.Expression;
}

/**
 * A constant helper function, printed as written. Its text refers to nothing of the body
 * (only its own parameters and globals), so neither renaming nor liveness has to see into it.
 */
export function helper(text: string): ts.Expression {
  return f.createParenthesizedExpression(f.createIdentifier(text.replace(/\s*\n\s*/g, " ")));
}

/**
 * The list an array pattern takes its elements from (`(value, count, what)`): an array
 * whose iterator is the built-in one is used as it is and read by index, lazily, like the
 * array iterator (elements added while the pattern runs are seen); any other iterable is
 * iterated once, in order, for the `count` elements the pattern takes (all of them with a
 * rest element, `count` = -1), and closed (its `return()` called) when the pattern ends
 * before it does — so the list can be persisted across the checkpoints in the pattern.
 */
const ITERABLE_TO_LIST = helper(`(s, n, what) => {
  const m = s == null ? undefined : s[Symbol.iterator];
  if (typeof m !== "function") throw new TypeError((what ?? String(s)) + " is not iterable");
  if (Array.isArray(s) && m === Array.prototype[Symbol.iterator]) return s;
  const it = m.call(s);
  if (Object(it) !== it) throw new TypeError("Result of the Symbol.iterator method is not an object");
  const next = it.next, out = [];
  for (;;) {
    if (out.length === n) {
      const close = it.return;
      if (close != null) {
        const r = close.call(it);
        if (Object(r) !== r) throw new TypeError("Iterator result " + r + " is not an object");
      }
      return out;
    }
    const r = next.call(it);
    if (Object(r) !== r) throw new TypeError("Iterator result " + r + " is not an object");
    if (r.done) return out;
    out.push(r.value);
  }
}`);

/** An array pattern's rest element: the list's elements from `i` on (a hole reads `undefined`). */
const REST_OF_LIST = helper(`(l, i) => {
  const r = [];
  for (; i < l.length; i++) r.push(l[i]);
  return r;
}`);

/**
 * An object pattern's rest element: the source's own enumerable properties, strings and
 * symbols in their order, but the keys the pattern named, each read once.
 */
const REST_OF_OBJECT = helper(`(s, keys) => {
  const o = Object(s), r = {};
  for (const k of Reflect.ownKeys(o)) {
    if (keys.includes(k)) continue;
    const d = Object.getOwnPropertyDescriptor(o, k);
    if (d && d.enumerable) Object.defineProperty(r, k, { value: o[k], writable: true, enumerable: true, configurable: true });
  }
  return r;
}`);

/** ToPropertyKey, as a computed key is converted when it is evaluated. */
const PROPERTY_KEY = helper(`(k) => typeof k === "symbol" ? k : String(k)`);

/**
 * Lower `pattern = value` where the pattern holds a durable await: each property or element
 * in order — its computed key, its target's object and key, the value read (an object's
 * property, or the next element of the list), its default only when that value is
 * `undefined` — each in blocks of its own where a checkpoint is inside. `source` names the
 * value in error messages (the variable destructured, when it is one).
 */
export function lowerPattern(
  ex: Exploder,
  name: ts.BindingName | ts.Expression,
  value: ts.Identifier,
  source: string | undefined,
): void {
  lower(ex, toPattern(ex, name), value, source);
}

/** Whether `lowerPattern` is needed: a pattern (not a plain name) with a durable await inside. */
export function needsLowering(ex: Exploder, name: ts.Node): boolean {
  return !isIdentifier(name) && ex.containsDurable(name);
}

function toPattern(ex: Exploder, node: ts.BindingName | ts.Expression): Pattern {
  if (!ex.containsDurable(node)) {
    return isIdentifier(node) || isObjectBindingPattern(node) || isArrayBindingPattern(node)
      ? { kind: "leaf", binding: node }
      : { kind: "leaf", target: node };
  }
  if (isObjectBindingPattern(node)) {
    let rest: Pattern | undefined;
    const properties: Part[] = [];
    for (const element of node.elements) {
      if (element.dotDotDotToken) rest = toPattern(ex, element.name);
      else {
        properties.push({
          key: element.propertyName ?? (element.name as ts.Identifier),
          value: toPattern(ex, element.name),
          ...(element.initializer ? { initializer: element.initializer } : {}),
        });
      }
    }
    return { kind: "object", node, properties, ...(rest ? { rest } : {}) };
  }
  if (isArrayBindingPattern(node)) {
    let rest: Pattern | undefined;
    const elements: (Part | undefined)[] = [];
    for (const element of node.elements) {
      if (isOmittedExpression(element)) elements.push(undefined);
      else if (element.dotDotDotToken) rest = toPattern(ex, element.name);
      else {
        elements.push({
          value: toPattern(ex, element.name),
          ...(element.initializer ? { initializer: element.initializer } : {}),
        });
      }
    }
    return { kind: "array", node, elements, ...(rest ? { rest } : {}) };
  }
  const inner = skipOuterExpressions(node as ts.Expression);
  const withDefault = (e: ts.Expression): Part =>
    isBinaryExpression(e) && e.operatorToken.kind === SyntaxKind.EqualsToken
      ? { value: toPattern(ex, e.left), initializer: e.right }
      : { value: toPattern(ex, e) };
  if (isObjectLiteralExpression(inner)) {
    let rest: Pattern | undefined;
    const properties: Part[] = [];
    for (const property of inner.properties) {
      if (isSpreadAssignment(property)) rest = toPattern(ex, property.expression);
      else if (isShorthandPropertyAssignment(property)) {
        properties.push({
          key: property.name,
          value: { kind: "leaf", target: property.name },
          ...(property.objectAssignmentInitializer
            ? { initializer: property.objectAssignmentInitializer }
            : {}),
        });
      } else if (isPropertyAssignment(property)) {
        properties.push({ key: property.name, ...withDefault(property.initializer) });
      } else {
        ex.unsupported(property as unknown as ts.Expression);
      }
    }
    return { kind: "object", node: inner, properties, ...(rest ? { rest } : {}) };
  }
  if (isArrayLiteralExpression(inner)) {
    let rest: Pattern | undefined;
    const elements: (Part | undefined)[] = [];
    for (const element of inner.elements) {
      if (isOmittedExpression(element)) elements.push(undefined);
      else if (isSpreadElement(element)) rest = toPattern(ex, element.expression);
      else elements.push(withDefault(element));
    }
    return { kind: "array", node: inner, elements, ...(rest ? { rest } : {}) };
  }
  // A member target whose object or key holds the await: `[o[await ctx.step(f)]] = …`.
  return { kind: "leaf", target: node as ts.Expression };
}

/** A string literal for a non-computed key, or the key's value kept in a temporary. */
function propertyKey(ex: Exploder, key: ts.PropertyName): ts.Expression {
  if (isComputedPropertyName(key)) {
    const temp = ex.newTemp(key.expression);
    ex.assign(temp, ex.expression(key.expression)!);
    ex.assign(temp, f.createCallExpression(PROPERTY_KEY, undefined, [temp]));
    return temp;
  }
  return f.createStringLiteral(keyText(key)!);
}

/** The property name a non-computed key stands for: `1e3` is "1000", `0x10n` is "16". */
function keyText(key: ts.PropertyName | undefined): string | undefined {
  if (!key || isComputedPropertyName(key)) return undefined;
  if (isNumericLiteral(key)) return String(Number(key.text));
  if (isBigIntLiteral(key)) return BigInt(key.text.slice(0, -1)).toString();
  return (key as ts.Identifier | ts.StringLiteral | ts.PrivateIdentifier).text;
}

/** Stands for reading a property of an object source, which may call a getter. */
const READ = f.createCallExpression(f.createIdentifier("get"), undefined, []);

/**
 * An assignment target read before the value it receives, as JavaScript evaluates it: a
 * member's object and key are kept in temporaries; a variable or pattern is itself.
 */
function evaluateTarget(
  ex: Exploder,
  target: ts.Expression,
  later: readonly ts.Expression[],
): ts.Expression {
  const inner = skipOuterExpressions(target);
  const keep = (e: ts.Expression, after: readonly ts.Expression[]): ts.Expression => {
    if (isIdentifier(e) && !ex.containsDurable(e) && ex.isStable(e, after)) {
      return ex.rewrite(e);
    }
    const temp = ex.newTemp(e);
    ex.assign(temp, ex.expression(e)!);
    return temp;
  };
  if (isPropertyAccessExpression(inner) && !inner.questionDotToken) {
    return f.createPropertyAccessExpression(keep(inner.expression, later), inner.name);
  }
  if (isElementAccessExpression(inner) && !inner.questionDotToken) {
    const object = keep(inner.expression, [inner.argumentExpression, ...later]);
    const key = keep(inner.argumentExpression, later);
    return f.createElementAccessExpression(object, key);
  }
  if (ex.containsDurable(target)) return ex.unsupported(target);
  return ex.rewrite(target);
}

/**
 * `value = value === undefined ? <default> : value`, the default in blocks of its own when
 * it holds a checkpoint. An anonymous function or class as the default of a plain name
 * takes that name, as in JavaScript.
 */
function applyDefault(
  ex: Exploder,
  value: ts.Identifier,
  initializer: ts.Expression | undefined,
  pattern: Pattern,
): void {
  if (!initializer) return;
  const missing = f.createStrictEquality(value, f.createIdentifier("undefined"));
  if (!ex.containsDurable(initializer)) {
    let init = ex.rewrite(initializer);
    const leaf = pattern.kind === "leaf" ? (pattern.binding ?? pattern.target) : undefined;
    if (leaf && isIdentifier(leaf) && isAnonymousFunction(initializer)) {
      // `{ "name": fn }["name"]` names an anonymous function as the binding would.
      const key = f.createStringLiteral(leaf.text);
      init = f.createElementAccessExpression(
        f.createParenthesizedExpression(
          f.createObjectLiteralExpression([f.createPropertyAssignment(key, init)]),
        ),
        key,
      );
    }
    ex.item(
      f.createIfStatement(missing, f.createExpressionStatement(f.createAssignment(value, init))),
      [],
      [value, init],
    );
    return;
  }
  const evaluate = ex.newBlock();
  const join = ex.newBlock();
  ex.cur.terminator = {
    kind: "branch",
    node: initializer,
    test: missing,
    whenTrue: evaluate.id,
    whenFalse: join.id,
  };
  ex.cur = evaluate;
  ex.assign(value, ex.expression(initializer)!, initializer);
  ex.goto(join);
  ex.cur = join;
}

function isAnonymousFunction(node: ts.Expression): boolean {
  const inner = skipOuterExpressions(node);
  return (
    isArrowFunction(inner) ||
    ((isFunctionExpression(inner) || isClassExpression(inner)) && !inner.name)
  );
}

/** Bind `value` to one part: a leaf natively, a pattern by lowering it again. */
function bind(
  ex: Exploder,
  pattern: Pattern,
  target: ts.Expression | undefined,
  value: ts.Identifier,
): void {
  if (pattern.kind !== "leaf") {
    lower(ex, pattern, value, undefined);
    return;
  }
  if (pattern.binding) {
    ex.assign(ex.bindingTarget(pattern.binding), value, pattern.binding);
    return;
  }
  ex.assign(target ?? ex.rewrite(pattern.target!), value, pattern.target);
}

function lower(
  ex: Exploder,
  pattern: Pattern,
  value: ts.Identifier,
  source: string | undefined,
): void {
  if (pattern.kind === "leaf") {
    bind(ex, pattern, undefined, value);
    return;
  }
  // What runs between reading a member target and assigning it: the read of the value (a
  // getter of an object source) and the default. Its object or key is kept in a temporary
  // when they may change it.
  const targetFirst = (
    part: Pattern,
    initializer: ts.Expression | undefined,
  ): ts.Expression | undefined => {
    if (part.kind !== "leaf" || !part.target) return undefined;
    const later = initializer ? [initializer] : [];
    return evaluateTarget(ex, part.target, pattern.kind === "object" ? [READ, ...later] : later);
  };

  if (pattern.kind === "object") {
    // RequireObjectCoercible, with the message V8 gives.
    const first = pattern.properties[0];
    const firstKey = keyText(first?.key);
    const message = (prefix: string, suffix: string): ts.Expression =>
      f.createAdd(f.createAdd(f.createStringLiteral(prefix), value), f.createStringLiteral(suffix));
    const text =
      firstKey !== undefined && source !== undefined && !first?.initializer
        ? message(`Cannot destructure property '${firstKey}' of '${source}' as it is `, ".")
        : firstKey !== undefined
          ? message("Cannot read properties of ", ` (reading '${firstKey}')`)
          : message(`Cannot destructure '${source ?? "object"}' as it is `, ".");
    ex.item(
      f.createIfStatement(
        f.createEquality(value, f.createNull()),
        f.createThrowStatement(
          f.createNewExpression(f.createIdentifier("TypeError"), undefined, [text]),
        ),
      ),
      [],
      [value],
    );
    const keys: ts.Expression[] = [];
    for (const property of pattern.properties) {
      const key = propertyKey(ex, property.key!);
      keys.push(key);
      const target = targetFirst(property.value, property.initializer);
      const element = ex.newTemp(
        `a property destructured at ${ex.where(property.key!)}`,
        "pattern",
      );
      ex.assign(element, f.createElementAccessExpression(value, key));
      applyDefault(ex, element, property.initializer, property.value);
      bind(ex, property.value, target, element);
    }
    if (pattern.rest) {
      const target = targetFirst(pattern.rest, undefined);
      const rest = ex.newTemp(`the rest destructured at ${ex.where(pattern.node)}`, "pattern");
      ex.assign(
        rest,
        f.createCallExpression(REST_OF_OBJECT, undefined, [
          value,
          f.createArrayLiteralExpression(keys),
        ]),
      );
      bind(ex, pattern.rest, target, rest);
    }
    return;
  }

  const count = pattern.rest ? -1 : pattern.elements.length;
  const list = ex.newTemp(`the elements destructured at ${ex.where(pattern.node)}`, "pattern");
  const index = ex.newTemp(
    `the position in the elements destructured at ${ex.where(pattern.node)}`,
    "pattern",
  );
  ex.assign(
    list,
    f.createCallExpression(ITERABLE_TO_LIST, undefined, [
      value,
      count < 0
        ? f.createPrefixUnaryExpression(SyntaxKind.MinusToken, f.createNumericLiteral(1))
        : f.createNumericLiteral(count),
      source === undefined ? f.createIdentifier("undefined") : f.createStringLiteral(source),
    ]),
  );
  ex.assign(index, f.createNumericLiteral(0));
  const more = f.createLessThan(index, f.createPropertyAccessExpression(list, "length"));
  // Once the iterator is done it stays done, even if the array grows later.
  const exhausted = f.createAssignment(list, f.createArrayLiteralExpression([]));
  for (const element of pattern.elements) {
    if (!element) {
      ex.item(
        f.createIfStatement(
          more,
          f.createExpressionStatement(f.createPostfixIncrement(index)),
          f.createExpressionStatement(exhausted),
        ),
        [],
        [list, index],
      );
      continue;
    }
    const target = targetFirst(element.value, element.initializer);
    const item = ex.newTemp(
      `an element destructured at ${ex.where(element.initializer ?? pattern.node)}`,
      "pattern",
    );
    ex.assign(
      item,
      f.createConditionalExpression(
        more,
        undefined,
        f.createElementAccessExpression(list, f.createPostfixIncrement(index)),
        undefined,
        f.createComma(exhausted, f.createIdentifier("undefined")),
      ),
    );
    applyDefault(ex, item, element.initializer, element.value);
    bind(ex, element.value, target, item);
  }
  if (pattern.rest) {
    const target = targetFirst(pattern.rest, undefined);
    const rest = ex.newTemp(`the rest destructured at ${ex.where(pattern.node)}`, "pattern");
    ex.assign(rest, f.createCallExpression(REST_OF_LIST, undefined, [list, index]));
    bind(ex, pattern.rest, target, rest);
  }
}
