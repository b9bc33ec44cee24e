import ts from "typescript";
import { argumentParameters, type WorkflowBodyNode } from "./discover.js";
import type { MachineIR, Slot } from "./ir.js";
import { hashText, tokensOf } from "./manifest.js";
import type { ScopeInfo } from "./scopes.js";

// TypeScript's CommonJS entry exposes each export through a getter on an object of some
// 2,000 properties: `ts.isIdentifier(…)` or `ts.SyntaxKind.X` is a getter call each time.
// The walks ask such questions of every node, so they read them once, here.
const {
  SyntaxKind,
  isArrayLiteralExpression,
  isAsExpression,
  isBinaryExpression,
  isBindingElement,
  isBlock,
  isCaseOrDefaultClause,
  isCatchClause,
  isClassDeclaration,
  isClassExpression,
  isDoStatement,
  isForInStatement,
  isForOfStatement,
  isForStatement,
  isFunctionDeclaration,
  isFunctionExpression,
  isIdentifier,
  isIfStatement,
  isLabeledStatement,
  isNonNullExpression,
  isObjectLiteralExpression,
  isParameter,
  isParenthesizedExpression,
  isPostfixUnaryExpression,
  isPrefixUnaryExpression,
  isPropertyAssignment,
  isSatisfiesExpression,
  isShorthandPropertyAssignment,
  isSpreadAssignment,
  isSpreadElement,
  isSwitchStatement,
  isTryStatement,
  isTypeAssertionExpression,
  isVariableDeclaration,
  isVariableDeclarationList,
  isWhileStatement,
} = ts;

/**
 * Frame keys: the names under which a checkpoint's live variables are stored. A stored run
 * resumes on changed code when the code needs, at its checkpoint, only keys the stored
 * frame has (docs/guides/versioning.md), so a key must depend on the variable alone — never
 * on a counter that moves when unrelated code changes.
 *
 * - A variable of the user's is stored under its name. Where the body declares the same
 *   name more than once, the declarations inside blocks are qualified by the statements
 *   around them, outermost first (`item@for-of`, `total@if/else`, `x@try`), with `#2`, `#3`
 *   only between declarations that are still alike; the declaration at the top of the body
 *   keeps the plain name.
 * - A compiler temporary is stored under the stable id of the checkpoint it was made for
 *   (the first one made after it) and its role: `step:charge/result`, `sleep/index`, and
 *   for the value of an expression evaluated before an await, a short hash of that
 *   expression's text (`step:charge/value.3fa2c1`), so a changed expression is a missing
 *   variable rather than a wrong value. (`/` never occurs in an identifier, so a temporary's
 *   key cannot be a user's variable's.)
 *
 * Returns the key of every slot, by the slot's (emitted) name.
 */
export function frameKeys(
  ir: MachineIR,
  checkpointIds: readonly string[],
  body: WorkflowBodyNode,
  scopes: ScopeInfo,
  sourceFile: ts.SourceFile,
): Map<string, string> {
  const keys = new Map<string, string>();
  const declared = scopes.ownDeclarations;
  const temps = new Map<string, number>();
  const qualified = new Map<string, string[]>();

  for (const slot of ir.slots.values()) {
    if (slot.kind === "temp") {
      const base = tempBase(slot, checkpointIds);
      const n = (temps.get(base) ?? 0) + 1;
      temps.set(base, n);
      const hash =
        slot.role === "value" || slot.role === undefined
          ? `.${hashText(expressionText(slot, sourceFile)).slice(0, 6)}`
          : "";
      keys.set(slot.name, `${base}${n > 1 ? n : ""}${hash}`);
      continue;
    }
    const id = slot.node;
    const name = slot.description;
    if (!id || !isIdentifier(id) || id.pos < 0) {
      keys.set(slot.name, name);
      continue;
    }
    const path = blockPath(id, body);
    const others = (declared.get(name) ?? []).filter((other) => other !== id);
    if (path.length === 0 || others.length === 0) {
      keys.set(slot.name, name);
      continue;
    }
    const key = `${name}@${path.join("/")}`;
    const alike = qualified.get(key) ?? [];
    alike.push(slot.name);
    qualified.set(key, alike);
  }
  for (const [key, slots] of qualified) {
    // Slots are made in source order, so `#n` counts alike declarations from the top.
    for (const [i, slot] of slots.entries()) keys.set(slot, i === 0 ? key : `${key}#${i + 1}`);
  }
  return keys;
}

function tempBase(slot: Slot, checkpointIds: readonly string[]): string {
  const at = slot.anchor === undefined ? undefined : checkpointIds[slot.anchor - 1];
  return `${at ?? "end"}/${slot.role ?? "value"}`;
}

function expressionText(slot: Slot, sourceFile: ts.SourceFile): string {
  const node = slot.node;
  return node && node.pos >= 0 ? tokensOf(node, sourceFile) : slot.description;
}

/**
 * The parameters whose value, wherever the body is, is the run's argument: plain names
 * (not destructured, not rest) without a default, that nothing in the body assigns
 * (`=`, `+=`, `++`, a destructuring assignment, a `for … of` target), nested functions
 * included, and that the body does not declare again. A stored run that lacks one in its
 * frame can take it from its stored arguments (runtime/versioning.ts): whatever the code
 * that stored the run did with the name, this code's meaning of it at any checkpoint is the
 * argument. Deliberately by name, not by binding, so a shadowing inner name errs on the side
 * of not recovering.
 */
export function unassignedParams(body: WorkflowBodyNode, scopes: ScopeInfo): string[] {
  const candidates = new Set<string>();
  for (const parameter of argumentParameters(body)) {
    if (isIdentifier(parameter.name) && !parameter.initializer && !parameter.dotDotDotToken) {
      candidates.add(parameter.name.text);
    }
  }
  if (candidates.size === 0 || !body.body) return [];
  const written = new Set<string>();
  // Every identifier of the statements named like a candidate, found by the body's walk.
  for (const id of scopes.parameterMentions) {
    if (isWritten(id)) written.add(id.text);
  }
  return [...candidates].filter((name) => !written.has(name));
}

/** Whether an identifier is declared or assigned where it stands. */
function isWritten(id: ts.Identifier): boolean {
  const parent = id.parent;
  // Declared again: a variable, function, class, parameter of a nested function, catch binding.
  if (
    (isVariableDeclaration(parent) ||
      isFunctionDeclaration(parent) ||
      isFunctionExpression(parent) ||
      isClassDeclaration(parent) ||
      isClassExpression(parent) ||
      isParameter(parent) ||
      isBindingElement(parent)) &&
    parent.name === id
  ) {
    return true;
  }
  if (
    (isPrefixUnaryExpression(parent) || isPostfixUnaryExpression(parent)) &&
    (parent.operator === SyntaxKind.PlusPlusToken || parent.operator === SyntaxKind.MinusMinusToken)
  ) {
    return true;
  }
  return isAssignmentTarget(id);
}

/**
 * Whether `node` is (inside) the target of an assignment: the left of `=` or a compound
 * assignment, an element of a destructuring assignment's pattern, or a `for … in/of` target.
 */
function isAssignmentTarget(node: ts.Node): boolean {
  let child: ts.Node = node;
  for (let parent = node.parent; parent; child = parent, parent = parent.parent) {
    if (isParenthesizedExpression(parent) || isNonNullExpression(parent)) continue;
    if (isAsExpression(parent) || isSatisfiesExpression(parent)) continue;
    if (isTypeAssertionExpression(parent)) continue;
    if (
      isArrayLiteralExpression(parent) ||
      isSpreadElement(parent) ||
      isSpreadAssignment(parent) ||
      isShorthandPropertyAssignment(parent)
    ) {
      continue;
    }
    if (isPropertyAssignment(parent)) {
      if (parent.initializer !== child) return false;
      continue;
    }
    if (isObjectLiteralExpression(parent)) continue;
    if (isBinaryExpression(parent)) {
      const op = parent.operatorToken.kind;
      // `p = …`, `p += …`, `[p] = …`, and `[p = 1] = …` (a default inside a pattern).
      return (
        parent.left === child && op >= SyntaxKind.FirstAssignment && op <= SyntaxKind.LastAssignment
      );
    }
    if ((isForOfStatement(parent) || isForInStatement(parent)) && parent.initializer === child) {
      return !isVariableDeclarationList(child);
    }
    return false;
  }
  return false;
}

/**
 * The statements between the body and a declaration that make the block it lives in,
 * outermost first: `if`, `else`, `for`, `for-in`, `for-of`, `while`, `do`, `try`, `catch`,
 * `finally`, `switch`, a label's name, `{}` for a bare block. Empty at the top of the body.
 */
function blockPath(id: ts.Identifier, body: WorkflowBodyNode): string[] {
  const path: string[] = [];
  let child: ts.Node = id;
  for (let node = id.parent; node && node !== body; child = node, node = node.parent) {
    if (isIfStatement(node)) {
      if (child === node.thenStatement) path.push("if");
      else if (child === node.elseStatement) path.push("else");
    } else if (isForStatement(node)) path.push("for");
    else if (isForInStatement(node)) path.push("for-in");
    else if (isForOfStatement(node)) path.push("for-of");
    else if (isWhileStatement(node)) path.push("while");
    else if (isDoStatement(node)) path.push("do");
    else if (isTryStatement(node)) {
      if (child === node.tryBlock) path.push("try");
      else if (child === node.finallyBlock) path.push("finally");
    } else if (isCatchClause(node)) path.push("catch");
    else if (isSwitchStatement(node)) path.push("switch");
    else if (isLabeledStatement(node)) path.push(node.label.text);
    else if (isBlock(node) && (isBlock(node.parent) || isCaseOrDefaultClause(node.parent))) {
      path.push("{}");
    }
  }
  return path.reverse();
}
