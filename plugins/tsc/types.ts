/**
 * Type-aware checks for `ratchetjs/tsc`: which live variables have a type that cannot be
 * persisted at a checkpoint. The syntactic checks of the compiler see `const g = () => 1`; these
 * see `const g = makeHandler()`.
 *
 * Everything here asks the program's own type checker through its public methods (and the
 * methods of its `Type` objects), never through TypeScript's flag enums: those differ between
 * TypeScript 5.x and 6.x, and the checker may come from a different TypeScript than the one
 * Ratchet imports.
 *
 * @module
 */
import type ts from "typescript";

/** What a live variable's type says it holds, when that cannot be persisted. */
export type UnpersistableKind = "function" | "constructor" | "promise" | "iterator" | "instance";

/** A type that cannot be persisted, found by {@link classifyType}. */
export interface Unpersistable {
  readonly kind: UnpersistableKind;
  /** Whether every value of the type is such (an error), or only some members of a union (a warning). */
  readonly certain: boolean;
  /** The offending type (a union member, or the type itself). */
  readonly type: ts.Type;
}

/**
 * Instance types the runtime persists (devalue's built-ins, and errors), by name. A class of the
 * program that extends one of them is still reported: it would come back as the built-in.
 */
const persistableBuiltins = new Set([
  "Array",
  "ReadonlyArray",
  "Date",
  "RegExp",
  "Map",
  "ReadonlyMap",
  "Set",
  "ReadonlySet",
  "URL",
  "URLSearchParams",
  "ArrayBuffer",
  "DataView",
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float16Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
  "Number",
  "String",
  "Boolean",
  "BigInt",
  "Object",
  "Error",
]);

const iteratorNames = new Set([
  "Iterator",
  "IterableIterator",
  "IteratorObject",
  "Generator",
  "AsyncIterator",
  "AsyncIterableIterator",
  "AsyncIteratorObject",
  "AsyncGenerator",
  "ArrayIterator",
  "MapIterator",
  "SetIterator",
  "StringIterator",
  "RegExpStringIterator",
]);

/**
 * Whether values of `type` cannot be persisted, and why. `null`, `undefined`, primitives,
 * `any`, `unknown`, type parameters, plain object types and the persistable built-ins pass.
 * A union is judged by its members: all failing is certain, some failing is not.
 */
export function classifyType(checker: ts.TypeChecker, type: ts.Type): Unpersistable | undefined {
  const nonNullable = checker.getNonNullableType(type);
  const members = nonNullable.isUnion() ? nonNullable.types : [nonNullable];
  let found: Unpersistable | undefined;
  let failing = 0;
  for (const member of members) {
    const kind = classifyMember(checker, member);
    if (kind === undefined) continue;
    failing++;
    found ??= { kind, certain: false, type: member };
  }
  if (!found) return undefined;
  return { ...found, certain: failing === members.length };
}

function classifyMember(checker: ts.TypeChecker, type: ts.Type): UnpersistableKind | undefined {
  if (type.isIntersection()) {
    for (const part of type.types) {
      const kind = classifyMember(checker, part);
      if (kind !== undefined) return kind;
    }
    return undefined;
  }
  // (Called through a plain signature: the type guard would narrow `type` to `never`.)
  if ((type as { isTypeParameter(): boolean }).isTypeParameter()) return undefined;
  const target = referenceTarget(type);
  const symbol = target.getSymbol();
  const name = symbol?.getName();

  if (name === "Promise" || name === "PromiseLike" || hasMethod(checker, type, "then")) {
    return "promise";
  }
  if ((name !== undefined && iteratorNames.has(name)) || isIterator(checker, type)) {
    return "iterator";
  }
  if (type.getCallSignatures().length > 0) return "function";
  if (type.getConstructSignatures().length > 0) return "constructor";
  if (
    symbol &&
    isClassInstance(checker, target, symbol) &&
    !isPersistableBuiltin(checker, target)
  ) {
    return "instance";
  }
  return undefined;
}

/** `Box<number>` → `Box`: the generic declaration behind an instantiation. */
function referenceTarget(type: ts.Type): ts.Type {
  return (type as { target?: ts.Type }).target ?? type;
}

function hasMethod(checker: ts.TypeChecker, type: ts.Type, name: string): boolean {
  const property = checker.getPropertyOfType(type, name);
  return property !== undefined && checker.getTypeOfSymbol(property).getCallSignatures().length > 0;
}

/** An object with a `next()` method that is also iterable: a hand-written iterator. */
function isIterator(checker: ts.TypeChecker, type: ts.Type): boolean {
  if (!hasMethod(checker, type, "next")) return false;
  return checker
    .getPropertiesOfType(type)
    .some((p) => /^__@(?:async)?[iI]terator(?:@|$)/.test(String(p.escapedName)));
}

/**
 * The instance type of a class: a `class` declaration (`declare class` included), or an
 * interface whose same-named value has a construct signature returning it (`Date`, `URL`,
 * `AbortController`, …).
 */
function isClassInstance(checker: ts.TypeChecker, target: ts.Type, symbol: ts.Symbol): boolean {
  if (target.isClass()) return true;
  if (!symbol.valueDeclaration || !target.isClassOrInterface()) return false;
  const valueType = checker.getTypeOfSymbol(symbol);
  return valueType
    .getConstructSignatures()
    .some((s) => referenceTarget(checker.getReturnTypeOfSignature(s)).getSymbol() === symbol);
}

/**
 * A built-in the runtime persists, or a type declared only by interfaces (no class of the
 * program) that extends one — Node's `Buffer` is a `Uint8Array`. Any `Error` is persisted.
 */
function isPersistableBuiltin(checker: ts.TypeChecker, target: ts.Type): boolean {
  const seen = new Set<ts.Type>();
  const visit = (t: ts.Type, depth: number): boolean => {
    const base = referenceTarget(t);
    if (seen.has(base)) return false;
    seen.add(base);
    const symbol = base.getSymbol();
    const name = symbol?.getName();
    if (name === "Error") return true;
    if (name !== undefined && persistableBuiltins.has(name) && (depth === 0 || !target.isClass())) {
      return true;
    }
    if (symbol && checker.getFullyQualifiedName(symbol).startsWith("Temporal.")) return true;
    if (!base.isClassOrInterface()) return false;
    return checker.getBaseTypes(base).some((b) => visit(b, depth + 1));
  };
  return visit(target, 0);
}

/** Words for messages. */
export function describeKind(kind: UnpersistableKind, type: ts.Type): string {
  switch (kind) {
    case "function":
      return "a function";
    case "constructor":
      return "a class or constructor";
    case "promise":
      return "a Promise";
    case "iterator":
      return /Generator$/.test(referenceTarget(type).getSymbol()?.getName() ?? "")
        ? "a generator"
        : "an iterator";
    case "instance":
      return `an instance of the class \`${referenceTarget(type).getSymbol()?.getName() ?? "?"}\``;
  }
}

/** How to fix each kind. */
export function hintFor(kind: UnpersistableKind, variable: string): string {
  switch (kind) {
    case "function":
    case "constructor":
      return "Create it after the checkpoint (a function declaration is re-created on resume); only data can be live across a checkpoint.";
    case "promise":
      return `Await it before the checkpoint and keep the result (const value = await ${variable}), or start the work after the checkpoint.`;
    case "iterator":
      return `Turn it into an array before the checkpoint (const items = [...${variable}]) and use that.`;
    case "instance":
      return "Keep plain data across the checkpoint (objects, arrays, Map, Set, Date…) and create the instance after it, or do the work inside a step.";
  }
}
