import ts from "typescript";
import { helper, lowerPattern, needsLowering } from "./destructure.js";
import { DiagnosticCodes, type DiagnosticSink } from "./diagnostics.js";
import { argumentParameters, contextParameter, type WorkflowBodyNode } from "./discover.js";
import { functionValues } from "./function-values.js";
import type {
  Block,
  CheckpointSite,
  MachineIR,
  MachineNames,
  Slot,
  TempRole,
  Terminator,
  TryRegion,
} from "./ir.js";
import { bindingToAssignmentTarget } from "./patterns.js";
import type { Binding, ScopeInfo } from "./scopes.js";
import {
  boundNames,
  forEachReference,
  isFunctionValue,
  outerExpression,
  skipOuterExpressions,
} from "./syntax.js";
import type { DurableAwait, Validation } from "./validate.js";

// TypeScript's CommonJS entry exposes each export through a getter on an object of some
// 2,000 properties: `ts.isIdentifier(…)` or `ts.SyntaxKind.X` is a getter call each time.
// The walks ask such questions of every node, so they read them once, here.
const {
  NodeFlags,
  SyntaxKind,
  forEachChild,
  isArrayLiteralExpression,
  isArrowFunction,
  isAsExpression,
  isAwaitExpression,
  isBinaryExpression,
  isBindingElement,
  isBlock,
  isBreakStatement,
  isCallExpression,
  isCaseClause,
  isCaseOrDefaultClause,
  isCatchClause,
  isClassDeclaration,
  isClassExpression,
  isClassLike,
  isComputedPropertyName,
  isConditionalExpression,
  isContinueStatement,
  isDefaultClause,
  isDeleteExpression,
  isDoStatement,
  isElementAccessExpression,
  isForInStatement,
  isForOfStatement,
  isForStatement,
  isFunctionDeclaration,
  isFunctionExpression,
  isFunctionLike,
  isIdentifier,
  isIterationStatement,
  isLabeledStatement,
  isLiteralExpression,
  isNewExpression,
  isNumericLiteral,
  isNoSubstitutionTemplateLiteral,
  isNonNullChain,
  isNonNullExpression,
  isObjectLiteralExpression,
  isOmittedExpression,
  isOptionalChain,
  isParameter,
  isParenthesizedExpression,
  isPostfixUnaryExpression,
  isPrefixUnaryExpression,
  isPropertyAccessExpression,
  isPropertyAssignment,
  isReturnStatement,
  isSatisfiesExpression,
  isShorthandPropertyAssignment,
  isSpreadAssignment,
  isSpreadElement,
  isStringLiteral,
  isStatement,
  isSwitchStatement,
  isTaggedTemplateExpression,
  isTemplateExpression,
  isTryStatement,
  isTypeAssertionExpression,
  isTypeNode,
  isTypeOfExpression,
  isVariableDeclaration,
  isVariableDeclarationList,
  isVariableStatement,
  isVoidExpression,
  isWhileStatement,
} = ts;

const f = ts.factory;

/** Where a `break`/`continue` may go, innermost last (regenerator's `leap`). */
type JumpEntry =
  | {
      readonly kind: "loop";
      readonly labels: readonly string[];
      readonly breakTarget: number;
      readonly continueTarget: number;
    }
  | {
      readonly kind: "switch" | "labeled";
      readonly labels: readonly string[];
      readonly breakTarget: number;
    }
  /** Inside the try or catch part of a `try` with `finally`: jumps out pass through it. */
  | { readonly kind: "finally"; readonly region: number };

/**
 * `object.name` / `object[key]` in place of `member`: a link of the same optional chain when
 * `member` is one, so that a `?.` to its left still short-circuits the rest of the chain
 * (`t?.a.b`, never `(t?.a).b`, which reads `b` of `undefined`).
 */
function access(
  member: ts.PropertyAccessExpression | ts.ElementAccessExpression,
  object: ts.Expression,
  key?: ts.Expression,
  questionDot: ts.QuestionDotToken | undefined = member.questionDotToken,
): ts.Expression {
  if (isPropertyAccessExpression(member)) {
    return isOptionalChain(member)
      ? f.createPropertyAccessChain(object, questionDot, member.name)
      : f.createPropertyAccessExpression(object, member.name);
  }
  return isOptionalChain(member)
    ? f.createElementAccessChain(object, questionDot, key!)
    : f.createElementAccessExpression(object, key!);
}

/**
 * `value` to put where JavaScript names an anonymous function or class `given` (assigned to
 * a variable, a property's value), named as in the user's code: one that the user's code
 * leaves unnamed (`(await …, () => 1)`, `a && (() => 1)`) or names otherwise (it goes
 * through a temporary or a renamed slot here) is made `(0, fn)` (no name) or
 * `{ "name": fn }["name"]`.
 */
function keepFunctionName(given: string, value: ts.Expression): ts.Expression {
  const inner = skipOuterExpressions(value);
  if (
    !isArrowFunction(inner) &&
    !((isFunctionExpression(inner) || isClassExpression(inner)) && !inner.name)
  ) {
    return value;
  }
  const name = nameInSource(ts.getOriginalNode(inner));
  if (name === undefined || name === given) return value;
  if (name === "") {
    return f.createParenthesizedExpression(f.createComma(f.createNumericLiteral(0), value));
  }
  const key = f.createStringLiteral(name);
  return f.createElementAccessExpression(
    f.createParenthesizedExpression(
      f.createObjectLiteralExpression([f.createPropertyAssignment(key, value)]),
    ),
    key,
  );
}

/**
 * The name JavaScript gives the anonymous function or class `node` where the user wrote it:
 * the variable, parameter, binding or property it initializes or is assigned to, `""` where
 * it takes none, `undefined` where that cannot be told (a computed key, a node made here).
 */
function nameInSource(node: ts.Node): string | undefined {
  let child = node;
  let parent = node.parent;
  if (!parent) return undefined;
  while (
    isParenthesizedExpression(parent) ||
    isAsExpression(parent) ||
    isSatisfiesExpression(parent) ||
    isNonNullExpression(parent) ||
    isTypeAssertionExpression(parent)
  ) {
    child = parent;
    parent = parent.parent;
  }
  if (
    (isVariableDeclaration(parent) || isBindingElement(parent) || isParameter(parent)) &&
    parent.initializer === child
  ) {
    return isIdentifier(parent.name) ? parent.name.text : "";
  }
  if (isShorthandPropertyAssignment(parent) && parent.objectAssignmentInitializer === child) {
    return parent.name.text;
  }
  if (isPropertyAssignment(parent) && parent.initializer === child) {
    const key = parent.name;
    if (isIdentifier(key) || ts.isStringLiteral(key) || ts.isNumericLiteral(key)) return key.text;
    return undefined;
  }
  if (isBinaryExpression(parent) && parent.right === child) {
    const op = parent.operatorToken.kind;
    const naming =
      op === SyntaxKind.EqualsToken ||
      op === SyntaxKind.AmpersandAmpersandEqualsToken ||
      op === SyntaxKind.BarBarEqualsToken ||
      op === SyntaxKind.QuestionQuestionEqualsToken;
    return naming && isIdentifier(parent.left) ? parent.left.text : "";
  }
  return "";
}

/** The initializer of a `const` declaration (a name, not a pattern), if `node` is one. */
function constInitializer(node: ts.Node | undefined): ts.Expression | undefined {
  if (!node || !isVariableDeclaration(node) || !isIdentifier(node.name)) return undefined;
  const list = node.parent;
  if (!isVariableDeclarationList(list) || (list.flags & NodeFlags.Const) === 0) return undefined;
  return node.initializer;
}

/** Whether a property's key is `__proto__` (not computed): it sets the object's prototype. */
function isProtoKey(key: ts.PropertyName): boolean {
  return (isIdentifier(key) || ts.isStringLiteral(key)) && key.text === "__proto__";
}

/**
 * Whether the object or array literal `node` holds what cannot be persisted, seen from its
 * text: a method or accessor, a function or class, a `__proto__`, or a computed key (which
 * may be a symbol), itself or in a literal nested in it.
 */
function holdsUnpersistable(node: ts.Expression): boolean {
  const inner = skipOuterExpressions(node);
  if (isArrowFunction(inner) || isFunctionExpression(inner) || isClassExpression(inner)) {
    return true;
  }
  if (isArrayLiteralExpression(inner)) return inner.elements.some(holdsUnpersistable);
  if (!isObjectLiteralExpression(inner)) return false;
  return inner.properties.some((p) => {
    if (!isPropertyAssignment(p))
      return !isShorthandPropertyAssignment(p) && !isSpreadAssignment(p);
    return (
      isComputedPropertyName(p.name) || isProtoKey(p.name) || holdsUnpersistable(p.initializer)
    );
  });
}

/**
 * Whether `node` is an anonymous function or class written as the value of a property with a
 * computed key (`{ ["on" + i]: () => i }`): JavaScript names it after that key's value, which
 * only the object being made knows, so the object as a whole receives the boxes of its
 * iteration (see `Exploder.captureBoxes`) and the function stays where it is written.
 */
function namedByComputedKey(node: ts.Node): boolean {
  const inner = skipOuterExpressions(node as ts.Expression);
  if (
    !isArrowFunction(inner) &&
    !((isFunctionExpression(inner) || isClassExpression(inner)) && !inner.name)
  ) {
    return false;
  }
  const child = outerExpression(inner);
  const parent = child.parent;
  return (
    parent !== undefined &&
    isPropertyAssignment(parent) &&
    parent.initializer === child &&
    isComputedPropertyName(parent.name) &&
    isObjectLiteralExpression(parent.parent)
  );
}

/**
 * Whether the object literal `node` is made as a whole inside the wrapper that passes the
 * boxes of its iteration: it has a method or accessor, or a function named by a computed key.
 */
function boxedAsWhole(node: ts.ObjectLiteralExpression): boolean {
  return node.properties.some(
    (p) => isFunctionLike(p) || (isPropertyAssignment(p) && namedByComputedKey(p.initializer)),
  );
}

/** The function of a call read before its arguments (see `Exploder.calleeBefore`). */
interface CalleeRef {
  /** The volatile temporary holding `{ v: function }`, undefined after a resume. */
  readonly box: ts.Identifier;
  /** How to read the function again from what was kept. */
  readonly read: ts.Expression;
  readonly thisArg: ts.Expression;
  /** The callee as written, for the TypeError when it is not a function. */
  readonly text: string;
}

/**
 * Call the function read before the arguments (`box.v`), or, after a resume, read it again
 * (`read()`), with `thisArg`, as JavaScript does: a TypeError naming the callee when it is
 * not a function.
 */
const CALL = helper(`(box, read, thisArg, args, text) => {
  const fn = box === undefined ? read() : box.v;
  if (typeof fn !== "function") throw new TypeError(text + " is not a function");
  return Reflect.apply(fn, thisArg, args);
}`);

/** `new` of the constructor read before the arguments (see CALL). */
const CONSTRUCT = helper(`(box, read, args, text) => {
  const fn = box === undefined ? read() : box.v;
  try { Reflect.construct(String, [], fn); } catch { throw new TypeError(text + " is not a constructor"); }
  return Reflect.construct(fn, args);
}`);

/** Completion kinds recorded while a `finally` runs (`t` of the completion record). */
export const Completion = { throw: 1, return: 2, jump: 3 } as const;

type Body = WorkflowBodyNode;

/**
 * The machine's own names: short (each is written at every jump, checkpoint and temporary of
 * the compiled module, which the bundler parses again), `$` and a word so they read as the
 * machine's in the playground. They live in the machine function beside the body's variables,
 * so a body that has an identifier of that spelling anywhere (a variable, a module name it
 * reads, a label, a property) gets them all with a `_2` suffix (`$pc_2`), `_3`, … — slots a
 * renamed variable takes are `name$n`, never of that form. Temporaries are `$t` and a number,
 * or `$tkey`, `$tusing`; the dead-zone sentinel `$tdz` and its guard's parameter `$tdz$v`.
 */
function machineNames(identifierNames: ReadonlySet<string>): MachineNames {
  // Only a name that starts with `$` can be one of them: most bodies have none.
  const dollar = [...identifierNames].filter((name) => name.startsWith("$"));
  let suffix = "";
  const clashes = (name: string) => {
    for (const fixed of ["frame", "pc", "sent", "loop", "error", "tdz"]) {
      if (name === `$${fixed}${suffix}`) return true;
    }
    if (name === `$tdz${suffix}$v`) return true;
    const temp = `$t${suffix}`;
    return name.startsWith(temp) && /^(?:\d+|key|using)$/.test(name.slice(temp.length));
  };
  for (let n = 2; dollar.some(clashes); n++) suffix = `_${n}`;
  return {
    frame: `$frame${suffix}`,
    pc: `$pc${suffix}`,
    sent: `$sent${suffix}`,
    loop: `$loop${suffix}`,
    error: `$error${suffix}`,
    temp: `$t${suffix}`,
    tdz: `$tdz${suffix}`,
  };
}

/**
 * Cut a validated workflow body into basic blocks at its durable awaits (regenerator's
 * `explode`). Statements that contain no checkpoint are kept whole (renamed where slots were
 * renamed, with jumps out of them rewritten); everything around a checkpoint — loops,
 * `switch`, `try`, labels, and expressions with a durable `await` inside — is split into
 * blocks, with temporaries keeping JavaScript's evaluation order. Anything it cannot cut is
 * reported, never compiled wrongly.
 */
export function explodeBody(
  body: Body,
  validation: Validation,
  scopes: ScopeInfo,
  sink: DiagnosticSink,
  context: ts.TransformationContext,
  sourceFile: ts.SourceFile,
): MachineIR {
  return new Exploder(body, validation, scopes, sink, context, sourceFile).run();
}

export class Exploder {
  readonly blocks: Block[] = [];
  readonly regions: TryRegion[] = [];
  readonly checkpoints: CheckpointSite[] = [];
  readonly slots = new Map<string, Slot>();
  readonly hoistedFunctions: ts.FunctionDeclaration[] = [];
  /** `const` function values made again on every resume (see `recreateOnResume`). */
  readonly recreatedFunctions: ts.VariableStatement[] = [];
  readonly chosenFunctions: ts.VariableStatement[] = [];
  readonly jumpStack: JumpEntry[] = [];
  readonly names: MachineNames;
  readonly slotNames = new Map<Binding, string>();
  readonly durableByAwait: Map<ts.AwaitExpression, DurableAwait>;
  readonly durableStarts: number[];
  readonly ctxName: string;
  /** Bindings of the body that a nested function refers to: a call may change them. */
  readonly capturedByFunctions: ReadonlySet<Binding>;
  /**
   * Names declared in the module by `let`, `var`, a parameter or a `catch`: a walk of the whole
   * module, done once per module and only when a body first asks.
   */
  get outerMutables(): ReadonlySet<string> {
    return outerMutableNames(this.sourceFile);
  }
  /** Slots holding a per-iteration box (see `findBoxedSlots`). */
  readonly boxed = new Set<string>();
  /** References that may run in their slot's dead zone unseen in the text (`findDeadZoneReads`). */
  readonly checkedRefs = new Set<ts.Identifier>();
  /** Slots of `checkedRefs`, by the node of the block that declares them (see `enterScope`). */
  readonly deadZoneByScope = new Map<ts.Node, string[]>();
  region = -1;
  part: Block["part"] = undefined;
  cur!: Block;
  tempCount = 0;
  /** Optional-chain links already tested by `optionalChain`. */
  readonly optionalDone = new Set<ts.Node>();
  /** Expressions already evaluated into a temporary, by the node they stood for. */
  readonly replaced = new Map<ts.Node, ts.Expression>();
  /** Jump targets found while rewriting the current item. */
  pendingJumps: number[] = [];
  /** Whether a jump needs the machine loop's label (see `jumpStatements`). */
  loopLabelled = false;

  constructor(
    readonly body: Body,
    validation: Validation,
    /** The body's names resolved (`resolveScopes`). */
    readonly scopes: ScopeInfo,
    readonly sink: DiagnosticSink,
    readonly context: ts.TransformationContext,
    readonly sourceFile: ts.SourceFile,
  ) {
    this.durableByAwait = new Map(validation.durable.map((d) => [d.await, d]));
    this.durableStarts = validation.durable.map((d) => d.await.getStart(sourceFile));
    this.names = machineNames(scopes.identifierNames);
    this.ctxName = validation.ctxName ?? `ratchet$ctx`;
    this.capturedByFunctions = this.scopes.capturedByFunctions;
  }

  // ---- setup -------------------------------------------------------------------------

  containsDurable(node: ts.Node): boolean {
    if (node.pos < 0) return false;
    // From `pos`, not the first token: no await starts in the trivia before it.
    const start = node.pos;
    const end = node.end;
    return this.durableStarts.some((p) => p >= start && p < end);
  }

  /**
   * Where `rewrite` may change the user's code, sorted: every identifier it renames, reads
   * from a per-iteration box or checks for its slot's dead zone, and every `break`, `continue`
   * and `return`. Known once the slots are (`run`).
   */
  touchPoints: number[] = [];

  findTouchPoints(): void {
    const points: number[] = [];
    for (const [id, binding] of this.scopes.references) {
      const slot = binding && this.slotNames.get(binding);
      if (!slot) continue;
      if (slot !== id.text || this.boxed.has(slot) || this.checkedRefs.has(id)) {
        points.push(id.pos);
      } else if (this.inDeadZone(id)) points.push(id.pos);
      else if (binding.kind === "const" && isAssignmentTarget(id)) points.push(id.pos);
    }
    for (const [id, binding] of this.scopes.declarations) {
      const slot = this.slotNames.get(binding);
      if (slot && slot !== id.text) points.push(id.pos);
    }
    for (const jump of this.scopes.jumps) points.push(jump.pos);
    this.touchPoints = points.sort((a, b) => a - b);
  }

  /**
   * Whether `rewrite` leaves `node` as it is: a node of the parsed file (all its descendants
   * are too) with no touch point and no expression already evaluated into a temporary inside.
   */
  untouched(node: ts.Node): boolean {
    if (node.flags & NodeFlags.Synthesized || node.pos < 0) return false;
    const points = this.touchPoints;
    let low = 0;
    let high = points.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (points[mid]! < node.pos) low = mid + 1;
      else high = mid;
    }
    if (low < points.length && points[low]! < node.end) return false;
    for (const key of this.replaced.keys()) {
      if (key.end > node.pos && key.pos < node.end) return false;
    }
    return true;
  }

  /** Whether a binding of the body lives in the machine's frame (see docs/compiler.md). */
  isSlotBinding(binding: Binding): boolean {
    let scope = binding.scope;
    while (!scope.isFunction && scope.parent) scope = scope.parent;
    if (scope.node !== this.body) return false;
    if (binding.kind === "param") return binding.id !== contextParameter(this.body)?.name;
    if (binding.kind === "var") return true;
    // let/const/class/function/catch: a slot when the statement list, loop head or try
    // statement declaring it is split at checkpoints.
    let owner: ts.Node = binding.id;
    while (owner.parent && !isStatement(owner) && !isCatchClause(owner)) {
      owner = owner.parent;
    }
    if (isCatchClause(owner)) return this.containsDurable(owner.parent);
    if (isVariableStatement(owner) || isClassDeclaration(owner) || isFunctionDeclaration(owner)) {
      const list = owner.parent;
      if (list === this.body.body) return true;
      if (isCaseClause(list) || isDefaultClause(list)) {
        return this.containsDurable(list.parent.parent);
      }
      // The blocks of a split `try` are split too, even one without a checkpoint inside.
      const statement = isCatchClause(list.parent) ? list.parent.parent : list.parent;
      if (isTryStatement(statement)) return this.containsDurable(statement);
      return this.containsDurable(list);
    }
    // A loop head's declaration (`for (let i …)`, `for (const x of …)`).
    return this.containsDurable(owner);
  }

  /** Whether an expression may give an array holding a function of the body (compiler/function-values.ts). */
  #givesFunction: (e: ts.Expression) => boolean = () => false;

  assignSlotNames(): void {
    const allNames = this.scopes.identifierNames;
    const taken = new Set<string>([...this.scopes.outerNames, this.ctxName]);
    const values = functionValues(this.scopes);
    const holders = values.holders;
    this.#givesFunction = values.arrayGives;
    // A block-scoped binding kept as written (in a block the checkpoints do not split) stays
    // a `const`/`let` in a block of the machine. A block-scoped slot of the same name from a
    // sibling block would be a `var` of the machine around it: a shadowing the program does
    // not have, which bundlers resolve by renaming the kept one (esbuild makes it `k2`, and a
    // function it holds is then named "k2"). Such a slot takes another name instead.
    const blockScoped = (b: Binding) =>
      b.kind === "let" || b.kind === "const" || b.kind === "class" || b.kind === "catch";
    const kept = new Set(
      this.scopes.bindings
        .filter((b) => blockScoped(b) && !this.isSlotBinding(b))
        .map((b) => b.name),
    );
    // Writes to the name of a function declaration (`log = () => {}`, `f++`, `[f] = …`,
    // `for (f of …)`).
    const reassigned = new Map<Binding, ts.Node[]>();
    for (const id of this.scopes.referenceIds) {
      const binding = this.scopes.references.get(id);
      if (binding?.kind !== "function") continue;
      const write = assignmentOf(id);
      if (write === undefined) continue;
      const writes = reassigned.get(binding);
      if (writes) writes.push(write);
      else reassigned.set(binding, [write]);
    }
    for (const binding of this.scopes.bindings) {
      if (!this.isSlotBinding(binding)) continue;
      const avoid = (name: string) => taken.has(name) || (blockScoped(binding) && kept.has(name));
      let name = binding.name;
      for (let n = 2; avoid(name); n++) {
        name = `${binding.name}$${n}`;
        if (allNames.has(name)) taken.add(name);
      }
      taken.add(name);
      this.slotNames.set(binding, name);
      const declaration = binding.id.parent;
      const initializer = isVariableDeclaration(declaration) ? declaration.initializer : undefined;
      const functionSource = holders.get(binding);
      const holds =
        binding.kind === "class" ||
        binding.kind === "function" ||
        isFunctionValue(initializer) ||
        functionSource
          ? "function"
          : this.iteratorKind(initializer);
      this.slots.set(name, {
        name,
        ...(functionSource ? { functionSource } : {}),
        ...(reassigned.has(binding) ? { reassigned: reassigned.get(binding)! } : {}),
        kind:
          binding.kind === "function"
            ? "function"
            : binding.kind === "var" || binding.kind === "param"
              ? "var"
              : "lexical",
        holds,
        description: binding.name,
        node: binding.id,
        ...(binding.alsoFunction ? { hoisted: true } : {}),
      });
    }
  }

  /**
   * Block-scoped slots declared inside a loop and referred to by a nested function: each
   * pass through the declaration makes a new binding in JavaScript, which closures of that
   * iteration keep. Such a slot holds a box (`{ v }`) made at its declaration; code reads
   * `slot.v`, and a closure gets the box of its iteration as a parameter of the same name.
   */
  findBoxedSlots(): void {
    for (const binding of this.scopes.bindings) {
      const slot = this.slotNames.get(binding);
      // A catch clause's parameter is a new binding each time the catch is entered.
      const perEntry =
        binding.kind === "let" || binding.kind === "const" || binding.kind === "catch";
      if (!slot || !perEntry) continue;
      if (!this.capturedByFunctions.has(binding)) continue;
      let inLoop = false;
      for (let n: ts.Node = binding.id; n !== this.body; n = n.parent) {
        if (isIterationStatement(n, false)) inLoop = true;
      }
      if (inLoop) this.boxed.add(slot);
    }
  }

  /**
   * Block-scoped slots a reference may touch before their declaration has run although the
   * reference is not placed before it (`inDeadZone` sees those): one inside a function made
   * before the declaration ends, or a function declaration (hoisted), which may be called
   * before it; one in a later `case` of the `switch` that declares it, entered past the
   * declaration. Such a slot holds a sentinel (`names.tdz`) from the entry of its block until
   * its declaration runs, those references check for it, and the frame keeps it (compiler/
   * emit.ts). Other references are provably after the declaration and stay unchecked.
   * Per-iteration boxes (`findBoxedSlots`) are left out.
   */
  findDeadZoneReads(): void {
    for (const [ref, binding] of this.scopes.references) {
      if (!binding || ref === binding.id || ref.pos < 0) continue;
      if (binding.kind !== "let" && binding.kind !== "const" && binding.kind !== "class") continue;
      const slot = this.slotNames.get(binding);
      if (!slot) continue;
      let statement: ts.Node = binding.id;
      while (
        statement.parent &&
        !isVariableStatement(statement) &&
        !isClassDeclaration(statement)
      ) {
        statement = statement.parent;
      }
      const owner = statement.parent;
      if (!owner || !(isBlock(owner) || isCaseOrDefaultClause(owner))) continue;
      const scope = isCaseOrDefaultClause(owner) ? owner.parent : owner;
      const end = statement.getEnd();
      let risky = false;
      let inClause = false;
      for (let n: ts.Node = ref.parent; n && n !== scope; n = n.parent) {
        if (n === owner) inClause = true;
        if (
          (isFunctionLike(n) || isClassLike(n)) &&
          (isFunctionDeclaration(n) || n.getStart(this.sourceFile) < end)
        ) {
          risky = true;
        }
      }
      if (isCaseOrDefaultClause(owner) && !inClause) risky = true;
      if (!risky) continue;
      this.checkedRefs.add(ref);
      const list = this.deadZoneByScope.get(scope) ?? [];
      if (!list.includes(slot)) list.push(slot);
      this.deadZoneByScope.set(scope, list);
      const info = this.slots.get(slot)!;
      if (!info.deadZone) {
        this.slots.set(slot, {
          ...info,
          deadZone: true,
          ...(this.boxed.has(slot) ? { boxed: true } : {}),
        });
      }
    }
  }

  /** The identifier `n` writes when it is `x = …`, `x += …` or `x++` of a checked reference. */
  checkedWrite(n: ts.Node): ts.Identifier | undefined {
    const target =
      isBinaryExpression(n) &&
      n.operatorToken.kind >= SyntaxKind.FirstAssignment &&
      n.operatorToken.kind <= SyntaxKind.LastAssignment
        ? n.left
        : (isPrefixUnaryExpression(n) || isPostfixUnaryExpression(n)) &&
            (n.operator === SyntaxKind.PlusPlusToken || n.operator === SyntaxKind.MinusMinusToken)
          ? n.operand
          : undefined;
    const id = target && skipOuterExpressions(target);
    return id && isIdentifier(id) && this.checkedRefs.has(id) ? id : undefined;
  }

  /** Writes of `checkedRefs` whose value `rewrite` or `binary` already guards (`checkedWrite`). */
  readonly guardedWrites = new Set<ts.Identifier>();

  /**
   * The target to write in place of the variable `id` when JavaScript would refuse the write
   * (or check it) and a plain write of its slot would not: a `const` (TypeError), a `let`
   * before its declaration (ReferenceError), a variable that may be in its dead zone. It is a
   * member of an object whose getter reads the variable as `id` would and whose setter throws
   * (or checks, then writes), so every kind of write — `=`, `op=`, `&&=`, `++`, a pattern's
   * element, a `for…of` head — evaluates in JavaScript's order: the read first for `op=`, the
   * value before the write for `=`. Undefined where a plain write is right.
   */
  guardedTarget(id: ts.Identifier, inFunction: boolean): ts.Expression | undefined {
    const binding = this.scopes.references.get(id);
    const slot = binding && this.slotNames.get(binding);
    if (!slot) return undefined;
    const staticDeadZone = !inFunction && this.inDeadZone(id);
    const checked = this.checkedRefs.has(id) && !this.guardedWrites.has(id);
    const isConst = binding.kind === "const";
    if (!staticDeadZone && !checked && !isConst) return undefined;
    const value = `${this.names.tdz}$v`;
    const throwNew = (kind: string, message: string) =>
      f.createThrowStatement(
        f.createNewExpression(f.createIdentifier(kind), undefined, [
          f.createStringLiteral(message),
        ]),
      );
    const deadZone = throwNew("ReferenceError", `Cannot access '${id.text}' before initialization`);
    const read = staticDeadZone
      ? this.deadZoneError(id)
      : this.checkedRefs.has(id)
        ? this.checkedRead(id, slot)
        : this.slotValue(slot);
    const write: ts.Statement[] = staticDeadZone
      ? [deadZone]
      : [
          ...(this.checkedRefs.has(id)
            ? [
                f.createIfStatement(
                  f.createStrictEquality(this.slotValue(slot), this.id(this.names.tdz)),
                  deadZone,
                ),
              ]
            : []),
          isConst
            ? throwNew("TypeError", "Assignment to constant variable.")
            : f.createExpressionStatement(f.createAssignment(this.slotValue(slot), this.id(value))),
        ];
    const accessors = f.createObjectLiteralExpression([
      f.createGetAccessorDeclaration(
        undefined,
        "v",
        [],
        undefined,
        f.createBlock([f.createReturnStatement(read)]),
      ),
      f.createSetAccessorDeclaration(
        undefined,
        "v",
        [f.createParameterDeclaration(undefined, undefined, value)],
        f.createBlock(write),
      ),
    ]);
    return f.createPropertyAccessExpression(f.createParenthesizedExpression(accessors), "v");
  }

  /** Entering a block: its slots that may be touched in their dead zone hold the sentinel. */
  enterScope(scope: ts.Node | undefined): void {
    const slots = scope && this.deadZoneByScope.get(scope);
    if (!slots) return;
    for (const slot of slots) {
      // A per-iteration box is made here, at the start of its binding's life, for the
      // closures made before the declaration to share; the declaration fills it.
      const value = this.boxed.has(slot)
        ? f.createObjectLiteralExpression([
            f.createPropertyAssignment("v", this.id(this.names.tdz)),
          ])
        : this.id(this.names.tdz);
      this.item(f.createExpressionStatement(f.createAssignment(this.id(slot), value)), [slot], []);
    }
  }

  /** `x` where it may be in its dead zone: `(x === sentinel ? throw ReferenceError : x)`. */
  checkedRead(id: ts.Identifier, slot: string): ts.Expression {
    return this.deadZoneGuard(id, this.slotValue(slot));
  }

  /** The value of a slot: `slot`, or `slot.v` for a per-iteration box. */
  slotValue(slot: string): ts.Expression {
    return this.boxed.has(slot)
      ? f.createPropertyAccessExpression(this.id(slot), "v")
      : this.id(slot);
  }

  /** `(x === sentinel ? throw ReferenceError : value)`, for the slot `id` refers to. */
  deadZoneGuard(id: ts.Identifier, value: ts.Expression): ts.Expression {
    return f.createParenthesizedExpression(
      f.createConditionalExpression(
        f.createStrictEquality(this.slotValue(this.slotOf(id)!), this.id(this.names.tdz)),
        undefined,
        this.deadZoneError(id),
        undefined,
        value,
      ),
    );
  }

  /** Boxed slots an assignment target made by `bindingToAssignmentTarget` writes, boxed. */
  boxTarget(target: ts.Expression, made: string[]): ts.Expression {
    const visit = (n: ts.Node): ts.Node => {
      if (isIdentifier(n) && this.boxed.has(n.text)) {
        made.push(n.text);
        return f.createPropertyAccessExpression(n, "v");
      }
      if (isShorthandPropertyAssignment(n) && this.boxed.has(n.name.text)) {
        made.push(n.name.text);
        const value = f.createPropertyAccessExpression(f.createIdentifier(n.name.text), "v");
        return f.createPropertyAssignment(
          n.name.text,
          n.objectAssignmentInitializer
            ? f.createAssignment(value, n.objectAssignmentInitializer)
            : value,
        );
      }
      if (isPropertyAssignment(n)) {
        return f.updatePropertyAssignment(n, n.name, visit(n.initializer) as ts.Expression);
      }
      if (isBinaryExpression(n) && n.operatorToken.kind === SyntaxKind.EqualsToken) {
        return f.updateBinaryExpression(
          n,
          visit(n.left) as ts.Expression,
          n.operatorToken,
          n.right,
        );
      }
      if (
        isArrayLiteralExpression(n) ||
        isObjectLiteralExpression(n) ||
        isSpreadElement(n) ||
        isSpreadAssignment(n)
      ) {
        return ts.visitEachChild(n, visit, this.context);
      }
      return n;
    };
    return visit(target) as ts.Expression;
  }

  /** Whether an initializer makes a generator or, by its method's name, an iterator. */
  iteratorKind(initializer: ts.Expression | undefined): Slot["holds"] {
    if (!initializer) return undefined;
    const inner = skipOuterExpressions(initializer);
    if (!isCallExpression(inner)) return undefined;
    const callee = skipOuterExpressions(inner.expression);
    if (isIdentifier(callee)) {
      const binding = this.scopes.references.get(callee);
      const declaration = binding?.id.parent;
      if (declaration && isFunctionDeclaration(declaration) && declaration.asteriskToken) {
        return "generator";
      }
      if (
        declaration &&
        isVariableDeclaration(declaration) &&
        declaration.initializer &&
        isFunctionExpression(skipOuterExpressions(declaration.initializer)) &&
        (skipOuterExpressions(declaration.initializer) as ts.FunctionExpression).asteriskToken
      ) {
        return "generator";
      }
      return undefined;
    }
    if (isPropertyAccessExpression(callee)) {
      return ["values", "keys", "entries", "matchAll"].includes(callee.name.text)
        ? "iterator"
        : undefined;
    }
    if (isElementAccessExpression(callee)) {
      const key = callee.argumentExpression.getText(this.sourceFile);
      return key === "Symbol.iterator" || key === "Symbol.asyncIterator" ? "iterator" : undefined;
    }
    return undefined;
  }

  slotOf(id: ts.Identifier): string | undefined {
    const binding = this.scopes.references.get(id) ?? this.scopes.declarations.get(id);
    return binding ? this.slotNames.get(binding) : undefined;
  }

  // ---- blocks ------------------------------------------------------------------------

  newBlock(region = this.region, part = this.part): Block {
    const block: Block = {
      id: this.blocks.length,
      items: [],
      terminator: { kind: "end" },
      region,
      part,
    };
    this.blocks.push(block);
    return block;
  }

  /** End the current block; later statements (unreachable) go to a fresh block. */
  terminate(terminator: Terminator): void {
    this.cur.terminator = terminator;
    this.cur = this.newBlock();
  }

  goto(target: Block): void {
    this.cur.terminator = { kind: "goto", target: target.id };
  }

  /** Add a statement to the current block; `uses` are the nodes whose references it reads. */
  item(
    statement: ts.Statement,
    kills: readonly string[] = [],
    uses: readonly ts.Node[] = [statement],
  ): void {
    const jumps = this.pendingJumps;
    this.pendingJumps = [];
    this.cur.items.push({ statement, kills, uses, jumps });
  }

  assign(target: ts.Expression, value: ts.Expression, original?: ts.Node): void {
    if (isIdentifier(target)) value = keepFunctionName(target.text, value);
    const statement = f.createExpressionStatement(f.createAssignment(target, value));
    if (original) ts.setSourceMapRange(statement, original);
    const { kills, reads } = this.analyzeTarget(target);
    this.item(statement, kills, [value, ...reads]);
  }

  /**
   * The slots an assignment target writes, and the parts of it that are reads: defaults,
   * computed keys, and the objects of member targets (`[obj.x, a = b] = …` writes `a`,
   * reads `obj` and `b`).
   */
  analyzeTarget(target: ts.Expression): { kills: string[]; reads: ts.Node[] } {
    const kills: string[] = [];
    const reads: ts.Node[] = [];
    const walk = (n: ts.Expression): void => {
      if (isIdentifier(n)) {
        if (this.slots.has(n.text)) kills.push(n.text);
      } else if (isObjectLiteralExpression(n)) {
        for (const p of n.properties) {
          if (isShorthandPropertyAssignment(p)) {
            if (this.slots.has(p.name.text)) kills.push(p.name.text);
            if (p.objectAssignmentInitializer) reads.push(p.objectAssignmentInitializer);
          } else if (isPropertyAssignment(p)) {
            if (isComputedPropertyName(p.name)) reads.push(p.name.expression);
            walk(p.initializer);
          } else if (isSpreadAssignment(p)) {
            walk(p.expression);
          }
        }
      } else if (isArrayLiteralExpression(n)) {
        for (const e of n.elements) walk(isSpreadElement(e) ? e.expression : e);
      } else if (isBinaryExpression(n) && n.operatorToken.kind === SyntaxKind.EqualsToken) {
        walk(n.left);
        reads.push(n.right);
      } else if (isParenthesizedExpression(n)) {
        walk(n.expression);
      } else if (!isOmittedExpression(n)) {
        reads.push(n);
      }
    };
    walk(target);
    return { kills, reads };
  }

  /**
   * A compiler temporary. `about` is the expression it holds (its text is part of the
   * temporary's frame key), or, for the machine's bookkeeping, a description with its
   * `role` (see compiler/names.ts).
   */
  newTemp(about: ts.Node): ts.Identifier;
  newTemp(about: string, role: TempRole): ts.Identifier;
  newTemp(about: ts.Node | string, role: TempRole = "value"): ts.Identifier {
    const name = `${this.names.temp}${++this.tempCount}`;
    let description: string;
    if (typeof about === "string") description = about;
    else {
      const at = this.sourceFile.getLineAndCharacterOfPosition(about.getStart(this.sourceFile));
      const text = about.getText(this.sourceFile).replace(/\s+/g, " ");
      description = `the value of \`${text.length > 40 ? `${text.slice(0, 37)}...` : text}\` (${at.line + 1}:${at.character + 1})`;
    }
    this.slots.set(name, {
      name,
      kind: "temp",
      holds: undefined,
      description,
      role,
      anchor: this.checkpoints.length + 1,
      ...(typeof about === "string" ? {} : { node: about }),
    });
    return f.createIdentifier(name);
  }

  id(name: string): ts.Identifier {
    return f.createIdentifier(name);
  }

  /**
   * `$pc = target; continue;` — with the machine loop's label only from inside a loop of the
   * user's kept as written (`inLoop`), where a plain `continue` would mean that loop. Every
   * other jump stands in the machine's `switch` (or an `if`, a block, a `switch` of the
   * user's inside it), where `continue` already means the machine's loop.
   */
  jumpStatements(target: number, inLoop = false): ts.Statement[] {
    this.pendingJumps.push(target);
    if (inLoop) this.loopLabelled = true;
    return [
      f.createExpressionStatement(
        f.createAssignment(this.id(this.names.pc), f.createNumericLiteral(target)),
      ),
      f.createContinueStatement(inLoop ? this.names.loop : undefined),
    ];
  }

  // ---- rewriting kept code -----------------------------------------------------------

  /**
   * Rename slots and turn `break`/`continue`/`return` that leave the kept code for split
   * code into machine jumps (through any `finally` on the way).
   */
  rewrite<T extends ts.Node>(node: T): T {
    const native = { loops: 0, switches: 0, labels: [] as string[] };
    const visit = (n: ts.Node, inFunction: boolean): ts.Node | ts.Node[] => {
      if (isTypeNode(n) || this.untouched(n)) return n;
      const replaced = this.replaced.get(n);
      if (replaced) return replaced;
      if (isIdentifier(n)) {
        const guarded = isAssignmentTarget(n) && this.guardedTarget(n, inFunction);
        if (guarded) return ts.setTextRange(guarded, n);
        if (!inFunction && this.inDeadZone(n) && !isAssignmentTarget(n)) {
          return ts.setTextRange(this.deadZoneError(n), n);
        }
        const slot = this.slotOf(n);
        if (slot && this.checkedRefs.has(n) && !isAssignmentTarget(n)) {
          return ts.setTextRange(this.checkedRead(n, slot), n);
        }
        if (slot && this.boxed.has(slot) && this.scopes.references.has(n)) {
          return ts.setTextRange(
            f.createPropertyAccessExpression(f.createIdentifier(slot), "v"),
            n,
          );
        }
        return slot && slot !== n.text ? ts.setTextRange(f.createIdentifier(slot), n) : n;
      }
      const written = this.checkedWrite(n);
      if (written) {
        this.guardedWrites.add(written);
        // A write that may be in the dead zone: `x = v` evaluates v, then throws; `x += v`,
        // `x++` throw at their read of x first.
        const check = (value: ts.Expression) => this.deadZoneGuard(written, value);
        if (isBinaryExpression(n) && n.operatorToken.kind === SyntaxKind.EqualsToken) {
          const value = `${this.names.tdz}$v`;
          const guard = f.createParenthesizedExpression(
            f.createArrowFunction(
              undefined,
              undefined,
              [f.createParameterDeclaration(undefined, undefined, value)],
              undefined,
              undefined,
              check(this.id(value)),
            ),
          );
          return ts.setTextRange(
            f.createAssignment(
              visit(n.left, inFunction) as ts.Expression,
              f.createCallExpression(guard, undefined, [
                visit(n.right, inFunction) as ts.Expression,
              ]),
            ),
            n,
          );
        }
        return ts.setTextRange(
          check(
            ts.visitEachChild(
              n,
              (c) => visit(c, inFunction) as ts.Node,
              this.context,
            ) as ts.Expression,
          ),
          n,
        );
      }
      if (
        !inFunction &&
        isBinaryExpression(n) &&
        n.operatorToken.kind === SyntaxKind.EqualsToken &&
        isIdentifier(skipOuterExpressions(n.left)) &&
        this.inDeadZone(skipOuterExpressions(n.left) as ts.Identifier)
      ) {
        // `x = v` before `let x`: v is evaluated, then the write throws.
        // (`x += v`, `x++`: the read of x throws first; see below.)
        const value = visit(n.right, inFunction) as ts.Expression;
        const error = this.deadZoneError(skipOuterExpressions(n.left) as ts.Identifier);
        return ts.setTextRange(f.createParenthesizedExpression(f.createComma(value, error)), n);
      }
      if (!inFunction) {
        const operand =
          (isPrefixUnaryExpression(n) || isPostfixUnaryExpression(n)) &&
          (n.operator === SyntaxKind.PlusPlusToken || n.operator === SyntaxKind.MinusMinusToken)
            ? n.operand
            : isBinaryExpression(n) &&
                n.operatorToken.kind >= SyntaxKind.FirstCompoundAssignment &&
                n.operatorToken.kind <= SyntaxKind.LastCompoundAssignment
              ? n.left
              : undefined;
        const target = operand && skipOuterExpressions(operand);
        if (target && isIdentifier(target) && this.inDeadZone(target)) {
          return ts.setTextRange(this.deadZoneError(target), n);
        }
      }
      if (isShorthandPropertyAssignment(n)) {
        const guarded = isAssignmentTarget(n.name) && this.guardedTarget(n.name, inFunction);
        if (guarded) {
          const init = n.objectAssignmentInitializer;
          const target = init
            ? f.createAssignment(guarded, visit(init, inFunction) as ts.Expression)
            : guarded;
          return ts.setTextRange(f.createPropertyAssignment(n.name.text, target), n);
        }
        const slot = this.slotOf(n.name);
        if (slot && this.checkedRefs.has(n.name) && !isAssignmentTarget(n.name)) {
          return ts.setTextRange(
            f.createPropertyAssignment(n.name.text, this.checkedRead(n.name, slot)),
            n,
          );
        }
        if (slot && (slot !== n.name.text || this.boxed.has(slot))) {
          const init = n.objectAssignmentInitializer
            ? (visit(n.objectAssignmentInitializer, inFunction) as ts.Expression)
            : undefined;
          const ref = this.boxed.has(slot)
            ? f.createPropertyAccessExpression(f.createIdentifier(slot), "v")
            : f.createIdentifier(slot);
          const value = init ? f.createAssignment(ref, init) : ref;
          return ts.setTextRange(f.createPropertyAssignment(n.name.text, value), n);
        }
      }
      if (isBindingElement(n) && !n.propertyName && !n.dotDotDotToken && isIdentifier(n.name)) {
        const slot = this.slotOf(n.name);
        if (slot && slot !== n.name.text) {
          return f.updateBindingElement(
            n,
            undefined,
            f.createIdentifier(n.name.text),
            f.createIdentifier(slot),
            n.initializer && (visit(n.initializer, inFunction) as ts.Expression),
          );
        }
      }
      if (isFunctionLike(n) || isClassLike(n)) {
        const fn = ts.visitEachChild(n, (c) => visit(c, true), this.context);
        // A method of an object literal: the literal as a whole gets the boxes (below). A class
        // declaration arrives here as a class expression made from it, which has no parent.
        // So does a function named by a computed key, which must stay where the key names it.
        const method =
          n.parent !== undefined &&
          ((isObjectLiteralExpression(n.parent) && !isPropertyAssignment(n)) ||
            namedByComputedKey(n));
        return inFunction || method ? fn : this.captureBoxes(n, fn);
      }
      if (!inFunction && isObjectLiteralExpression(n) && boxedAsWhole(n)) {
        return this.captureBoxes(
          n,
          ts.visitEachChild(n, (c) => visit(c, inFunction), this.context),
        );
      }
      if (!inFunction) {
        if ((isBreakStatement(n) || isContinueStatement(n)) && !this.isNativeJump(n, native)) {
          const statements = this.machineJump(n, native.loops > 0);
          if (statements) return ts.setTextRange(f.createBlock(statements), n);
        }
        if (isReturnStatement(n) && this.jumpStack.some((e) => e.kind === "finally")) {
          const value = n.expression
            ? (visit(n.expression, inFunction) as ts.Expression)
            : undefined;
          return ts.setTextRange(
            f.createBlock(this.returnThroughFinally(value, native.loops > 0)),
            n,
          );
        }
        if (isIterationStatement(n, false) || isSwitchStatement(n) || isLabeledStatement(n)) {
          const isLoop = isIterationStatement(n, false);
          if (isLoop) native.loops++;
          else if (isSwitchStatement(n)) native.switches++;
          else native.labels.push((n as ts.LabeledStatement).label.text);
          const out = ts.visitEachChild(n, (c) => visit(c, inFunction), this.context);
          if (isLoop) native.loops--;
          else if (isSwitchStatement(n)) native.switches--;
          else native.labels.pop();
          return out;
        }
      }
      return ts.visitEachChild(n, (c) => visit(c, inFunction), this.context);
    };
    return visit(node, false) as T;
  }

  /**
   * A closure made in the body that refers to boxed slots gets the boxes of the moment it is
   * made: `((i) => () => i.v)(i)`. A function that cannot be wrapped so (a declaration, a
   * method) is reported instead.
   */
  captureBoxes(original: ts.Node, fn: ts.Node): ts.Node {
    if (this.boxed.size === 0) return fn;
    const captured = new Set<string>();
    const find = (n: ts.Node): void => {
      if (isIdentifier(n) && this.scopes.references.has(n)) {
        const slot = this.slotOf(n);
        if (slot && this.boxed.has(slot)) captured.add(slot);
      }
      forEachChild(n, find);
    };
    find(original);
    if (captured.size === 0) return fn;
    if (
      !isArrowFunction(fn) &&
      !isFunctionExpression(fn) &&
      !isClassExpression(fn) &&
      !isObjectLiteralExpression(fn)
    ) {
      this.sink.report(
        original,
        DiagnosticCodes.unsupported,
        `This function refers to ${[...captured].map((n) => `\`${n}\``).join(", ")}, declared in a loop that holds a checkpoint, and cannot be given that iteration's binding.`,
        "Write it as an arrow function or function expression (const f = () => …).",
      );
      return fn;
    }
    const names = [...captured].sort();
    // Made inside the wrapper, the function would take no name: it keeps the one JavaScript
    // gives it where it is written (`const f = () => i` is "f").
    const given = nameInSource(original);
    const anonymous =
      isArrowFunction(fn) || ((isFunctionExpression(fn) || isClassExpression(fn)) && !fn.name);
    if (given && anonymous) {
      const key = f.createStringLiteral(given);
      fn = f.createElementAccessExpression(
        f.createParenthesizedExpression(
          f.createObjectLiteralExpression([f.createPropertyAssignment(key, fn as ts.Expression)]),
        ),
        key,
      );
    }
    return f.createCallExpression(
      f.createParenthesizedExpression(
        f.createArrowFunction(
          undefined,
          undefined,
          names.map((name) => f.createParameterDeclaration(undefined, undefined, name)),
          undefined,
          undefined,
          fn as ts.Expression,
        ),
      ),
      undefined,
      names.map((name) => f.createIdentifier(name)),
    );
  }

  /**
   * Whether `id` reads or writes a block-scoped slot before its declaration has run in the
   * same activation of its block: a reference placed before the declaration, outside any
   * nested function. JavaScript throws there; the slot, a plain variable of the machine,
   * would not.
   */
  inDeadZone(id: ts.Identifier): boolean {
    const binding = this.scopes.references.get(id);
    if (!binding || !this.slotNames.has(binding)) return false;
    if (binding.kind !== "let" && binding.kind !== "const" && binding.kind !== "class") {
      return false;
    }
    if (id.pos < 0) return false;
    const at = id.getStart(this.sourceFile);
    // A name bound by a pattern is initialized when its own element is done; a default of
    // an element around it (`{ a: { x } = x }`) runs before that.
    let declaration: ts.Node = binding.id;
    let end = -1;
    while (declaration.parent && !isVariableDeclaration(declaration) && !isClassLike(declaration)) {
      if (isBindingElement(declaration)) {
        if (end < 0) end = declaration.getEnd();
        const init = declaration.initializer;
        if (init && at >= init.getStart(this.sourceFile) && at < init.getEnd()) return true;
      }
      declaration = declaration.parent;
    }
    if (isVariableDeclaration(declaration) && declaration.initializer) {
      const init = declaration.initializer;
      if (at >= init.getStart(this.sourceFile) && at < init.getEnd()) return true;
    }
    // `for (const x of x)`: the head's expression runs with the loop's bindings uninitialized.
    const loop = declaration.parent?.parent;
    if (loop && (isForOfStatement(loop) || isForInStatement(loop))) {
      const iterated = loop.expression;
      if (at >= iterated.getStart(this.sourceFile) && at < iterated.getEnd()) return true;
    }
    return at < (end < 0 ? declaration.getEnd() : end);
  }

  /** `(() => { throw new ReferenceError(…) })()`: what touching `id` in its dead zone does. */
  deadZoneError(id: ts.Identifier): ts.Expression {
    return f.createCallExpression(
      f.createParenthesizedExpression(
        f.createArrowFunction(
          undefined,
          undefined,
          [],
          undefined,
          undefined,
          f.createBlock([
            f.createThrowStatement(
              f.createNewExpression(f.createIdentifier("ReferenceError"), undefined, [
                f.createStringLiteral(`Cannot access '${id.text}' before initialization`),
              ]),
            ),
          ]),
        ),
      ),
      undefined,
      [],
    );
  }

  isNativeJump(
    n: ts.BreakStatement | ts.ContinueStatement,
    native: { loops: number; switches: number; labels: string[] },
  ): boolean {
    if (n.label) return native.labels.includes(n.label.text);
    return isBreakStatement(n) ? native.loops + native.switches > 0 : native.loops > 0;
  }

  /** The statements of a `break`/`continue` whose target is split code. */
  machineJump(
    n: ts.BreakStatement | ts.ContinueStatement,
    inLoop: boolean,
  ): ts.Statement[] | undefined {
    const label = n.label?.text;
    const isBreak = isBreakStatement(n);
    const crossed: number[] = [];
    for (let i = this.jumpStack.length - 1; i >= 0; i--) {
      const entry = this.jumpStack[i]!;
      if (entry.kind === "finally") {
        crossed.push(entry.region);
        continue;
      }
      const matches = label
        ? entry.labels.includes(label)
        : isBreak
          ? entry.kind !== "labeled"
          : entry.kind === "loop";
      if (!matches) continue;
      if (!isBreak && entry.kind !== "loop") return undefined;
      const target = isBreak
        ? entry.breakTarget
        : (entry as { continueTarget: number }).continueTarget;
      return this.jumpThroughFinally(target, crossed, inLoop);
    }
    return undefined;
  }

  jumpThroughFinally(target: number, crossed: readonly number[], inLoop: boolean): ts.Statement[] {
    if (crossed.length === 0) return this.jumpStatements(target, inLoop);
    // Each finally but the outermost hands the jump on to the next one out.
    for (let i = 0; i < crossed.length - 1; i++)
      this.regions[crossed[i]!]!.forwardJumps.add(target);
    for (const r of crossed) this.jumpTargets(r).add(target);
    const first = this.regions[crossed[0]!]!;
    return [
      f.createExpressionStatement(
        f.createAssignment(
          this.id(first.completionSlot!),
          this.completion(Completion.jump, f.createNumericLiteral(target)),
        ),
      ),
      ...this.jumpStatements(first.finallyBlock!, inLoop),
    ];
  }

  returnThroughFinally(value: ts.Expression | undefined, inLoop = false): ts.Statement[] {
    const innermost = [...this.jumpStack].reverse().find((e) => e.kind === "finally");
    const region = this.regions[(innermost as { region: number }).region]!;
    return [
      f.createExpressionStatement(
        f.createAssignment(
          this.id(region.completionSlot!),
          this.completion(Completion.return, value ?? f.createIdentifier("undefined")),
        ),
      ),
      ...this.jumpStatements(region.finallyBlock!, inLoop),
    ];
  }

  readonly #jumpTargets = new Map<number, Set<number>>();
  /** Every target a jump passing through region `r`'s `finally` may continue to. */
  jumpTargets(r: number): Set<number> {
    let set = this.#jumpTargets.get(r);
    if (!set) {
      set = new Set();
      this.#jumpTargets.set(r, set);
    }
    return set;
  }

  completion(kind: number, value: ts.Expression): ts.Expression {
    return f.createObjectLiteralExpression([
      f.createPropertyAssignment("t", f.createNumericLiteral(kind)),
      f.createPropertyAssignment("v", value),
    ]);
  }

  // ---- statements --------------------------------------------------------------------

  statements(list: readonly ts.Statement[]): void {
    const owner = list[0]?.parent;
    if (owner && isBlock(owner) && owner.statements === list) this.enterScope(owner);
    for (const [i, statement] of list.entries()) {
      if (
        isVariableStatement(statement) &&
        (statement.declarationList.flags & NodeFlags.Using) !== 0
      ) {
        this.using(statement.declarationList, 0, list.slice(i + 1));
        return;
      }
      this.statement(statement);
    }
  }

  /**
   * `using r = e;` (or `await using`) and the statements after it in its block: r is
   * checked to be disposable, then the rest runs in a `try` region whose `finally` disposes
   * r — so a checkpoint, a jump or an exception in between still disposes it, after a
   * resume too (r is then persisted, like any variable). Declarations in one statement are
   * disposed last first.
   */
  using(
    list: ts.VariableDeclarationList,
    index: number,
    rest: readonly ts.Statement[],
    element?: ts.Expression,
  ): void {
    const declaration = list.declarations[index];
    if (!declaration) {
      this.statements(rest);
      return;
    }
    const isAwait = (list.flags & NodeFlags.AwaitUsing) === NodeFlags.AwaitUsing;
    const slot = isIdentifier(declaration.name) ? this.slotOf(declaration.name) : undefined;
    if (!slot) {
      this.sink.report(
        declaration,
        DiagnosticCodes.unsupported,
        "This `using` declaration cannot be compiled around a checkpoint.",
        "Declare it with a plain name in a block: { using resource = open(); … }.",
      );
      return;
    }
    const init = declaration.initializer;
    // `for (using r of …)`: r is the loop's element, disposed at the end of each iteration.
    if (element) this.assign(this.id(slot), element, declaration);
    else if (init && this.durableAt(init))
      this.checkpoint(this.durableAt(init)!, this.id(slot), declaration);
    else
      this.assign(this.id(slot), init ? this.expression(init)! : this.id("undefined"), declaration);
    const symbol = (name: string) =>
      f.createPropertyAccessExpression(f.createIdentifier("Symbol"), name);
    const method = isAwait
      ? f.createBinaryExpression(
          f.createElementAccessExpression(this.id(slot), symbol("asyncDispose")),
          SyntaxKind.QuestionQuestionToken,
          f.createElementAccessExpression(this.id(slot), symbol("dispose")),
        )
      : f.createElementAccessExpression(this.id(slot), symbol("dispose"));
    const present = f.createInequality(this.id(slot), f.createNull());
    this.item(
      f.createIfStatement(
        f.createLogicalAnd(
          present,
          f.createStrictInequality(
            f.createTypeOfExpression(method),
            f.createStringLiteral("function"),
          ),
        ),
        f.createThrowStatement(
          f.createNewExpression(f.createIdentifier("TypeError"), undefined, [
            f.createStringLiteral(
              `The value of ${declaration.name.getText(this.sourceFile)} is not disposable`,
            ),
          ]),
        ),
      ),
    );
    this.tryRegion(
      declaration,
      () => this.using(list, index + 1, rest),
      undefined,
      (region) => {
        // The disposal itself is a `using` of the language, so a disposal error is what it
        // is in plain code of the same build: it replaces how the block ended, and when the
        // block threw, it is a SuppressedError holding both (native, or the helper of the
        // tool that lowers `using` — TypeScript, esbuild, oxc), chained by the next one.
        const completion = this.id(region.completionSlot!);
        const resource = f.createIdentifier(`${this.names.temp}using`);
        const pendingThrow = f.createLogicalAnd(
          f.createStrictInequality(completion, f.createIdentifier("undefined")),
          f.createStrictEquality(
            f.createPropertyAccessExpression(completion, "t"),
            f.createNumericLiteral(Completion.throw),
          ),
        );
        this.item(
          f.createTryStatement(
            f.createBlock([
              f.createVariableStatement(
                undefined,
                f.createVariableDeclarationList(
                  [f.createVariableDeclaration(resource, undefined, undefined, this.id(slot))],
                  isAwait ? NodeFlags.AwaitUsing : NodeFlags.Using,
                ),
              ),
              f.createIfStatement(
                pendingThrow,
                f.createThrowStatement(f.createPropertyAccessExpression(completion, "v")),
              ),
            ]),
            f.createCatchClause(
              this.names.error,
              f.createBlock([
                f.createExpressionStatement(
                  f.createAssignment(
                    completion,
                    this.completion(Completion.throw, this.id(this.names.error)),
                  ),
                ),
              ]),
            ),
            undefined,
          ),
          [],
          [this.id(slot), completion],
        );
      },
    );
  }

  statement(statement: ts.Statement, labels: readonly string[] = []): void {
    if (isFunctionDeclaration(statement)) {
      this.hoistedFunctions.push(this.rewrite(statement));
      return;
    }
    if (isVariableStatement(statement)) {
      this.variables(statement.declarationList);
      return;
    }
    if (isClassDeclaration(statement) && statement.name && !this.containsDurable(statement)) {
      const slot = this.slotOf(statement.name);
      // The class keeps its own name (a new identifier, which renaming leaves alone) when its
      // slot is renamed (`K$2`).
      const expression = ts.setTextRange(
        f.createClassExpression(
          statement.modifiers?.filter(ts.isDecorator),
          f.createIdentifier(statement.name.text),
          statement.typeParameters,
          statement.heritageClauses,
          statement.members,
        ),
        statement,
      );
      if (slot) {
        this.assign(this.id(slot), this.rewrite(expression), statement);
        return;
      }
    }
    if (!this.containsDurable(statement)) {
      this.item(this.rewrite(statement));
      return;
    }
    switch (statement.kind) {
      case SyntaxKind.Block:
        this.statements((statement as ts.Block).statements);
        return;
      case SyntaxKind.ExpressionStatement: {
        const expression = (statement as ts.ExpressionStatement).expression;
        const value = this.expression(expression, true);
        if (value && !isIdentifier(value))
          this.item(ts.setTextRange(f.createExpressionStatement(value), statement));
        return;
      }
      case SyntaxKind.ReturnStatement: {
        const expression = (statement as ts.ReturnStatement).expression;
        const value = expression && this.expression(expression);
        if (this.jumpStack.some((e) => e.kind === "finally")) {
          for (const s of this.returnThroughFinally(value)) this.item(s);
          this.cur = this.newBlock();
          return;
        }
        this.terminate({ kind: "return", node: statement, value });
        return;
      }
      case SyntaxKind.ThrowStatement: {
        const value = this.expression((statement as ts.ThrowStatement).expression)!;
        this.terminate({ kind: "throw", node: statement, value });
        return;
      }
      case SyntaxKind.IfStatement:
        this.ifStatement(statement as ts.IfStatement);
        return;
      case SyntaxKind.WhileStatement:
      case SyntaxKind.DoStatement:
      case SyntaxKind.ForStatement:
      case SyntaxKind.ForOfStatement:
      case SyntaxKind.ForInStatement:
        this.loop(statement as ts.IterationStatement, labels);
        return;
      case SyntaxKind.SwitchStatement:
        this.switchStatement(statement as ts.SwitchStatement, labels);
        return;
      case SyntaxKind.LabeledStatement:
        this.labeled(statement as ts.LabeledStatement, labels);
        return;
      case SyntaxKind.TryStatement:
        this.tryStatement(statement as ts.TryStatement);
        return;
    }
    this.sink.report(
      statement,
      DiagnosticCodes.unsupported,
      "A durable await inside this kind of statement is not supported.",
      "Move the await into its own statement before it. See docs/compiler.md.",
    );
  }

  variables(list: ts.VariableDeclarationList): void {
    const isLet = (list.flags & NodeFlags.Let) !== 0;
    for (const declaration of list.declarations) {
      const init = declaration.initializer;
      if (init && needsLowering(this, declaration.name)) {
        this.destructure(declaration.name, init, declaration);
        continue;
      }
      const target = this.bindingTarget(declaration.name);
      if (init && this.durableAt(init)) {
        this.checkpoint(this.durableAt(init)!, target, declaration);
      } else if (init) {
        if (this.recreateChoice(list, declaration, init)) continue;
        const value = this.expression(init)!;
        this.assign(target, value, declaration);
        this.recreateOnResume(list, declaration, value);
      } else if (isLet) {
        // `let x;` makes x undefined each time its block is entered.
        this.assign(target, f.createIdentifier("undefined"), declaration);
      }
    }
  }

  /**
   * `<pattern> = init` for a pattern with a durable await inside (compiler/destructure.ts):
   * the value is kept in a temporary, then the pattern is taken apart part by part. A
   * variable of the body that nothing in the pattern (`whole`: the declaration or the
   * assignment) can reassign is read where it is, with no temporary: it holds the same
   * value all along, and the frame keeps it under its own name.
   */
  destructure(
    name: ts.BindingName | ts.Expression,
    init: ts.Expression,
    whole: ts.Node,
  ): ts.Identifier {
    const inner = skipOuterExpressions(init);
    const source = isIdentifier(inner) ? inner.text : undefined;
    const binding = isIdentifier(inner) ? this.scopes.references.get(inner) : undefined;
    if (binding && this.isSlotBinding(binding) && this.isStable(inner, [whole])) {
      // A boxed (per-iteration) variable or a dead-zone read is not a plain identifier.
      const read = this.expression(init)!;
      if (isIdentifier(read)) {
        lowerPattern(this, name, read, source);
        return read;
      }
    }
    const value = this.newTemp(init);
    const site = this.durableAt(init);
    if (site) this.checkpoint(site, value, init);
    else this.assign(value, this.expression(init)!, init);
    lowerPattern(this, name, value, source);
    return value;
  }

  /**
   * `const f = (…) => …` / `const f = function (…) {…}`: a function cannot be persisted, but
   * one that refers to the body's variables by name (never to a per-iteration box) is the
   * same function when made again — so, like a function declaration, it is made again on
   * every resume instead of being persisted, and the variables it reads count as live
   * everywhere.
   */
  recreateOnResume(
    list: ts.VariableDeclarationList,
    declaration: ts.VariableDeclaration,
    value: ts.Expression,
  ): void {
    if ((list.flags & NodeFlags.Const) === 0 || !isIdentifier(declaration.name)) return;
    const inner = skipOuterExpressions(value);
    if (!isArrowFunction(inner) && !isFunctionExpression(inner)) return;
    const slot = this.slotOf(declaration.name);
    const current = slot ? this.slots.get(slot) : undefined;
    if (!slot || !current || this.boxed.has(slot) || current.kind === "function") return;
    this.slots.set(slot, { ...current, kind: "function", holds: undefined });
    // Making the function reads nothing: what it refers to is read where it is called, and
    // liveness counts it at each reference to the function (compiler/liveness.ts).
    const made = this.cur.items[this.cur.items.length - 1];
    if (made?.kills.includes(slot)) {
      this.cur.items[this.cur.items.length - 1] = { ...made, uses: [] };
    }
    // Made under the slot's name, it keeps the one it has where it is written (a slot
    // renamed `k$2` still makes a function named "k").
    this.recreatedFunctions.push(
      f.createVariableStatement(
        undefined,
        f.createVariableDeclarationList([
          f.createVariableDeclaration(slot, undefined, undefined, keepFunctionName(slot, inner)),
        ]),
      ),
    );
  }

  /**
   * The slots of functions the body gives properties to, or may: it reads or writes a member
   * of the function (`counter.calls = …`, `price.cache[k]`, `delete f.x`, not a method call
   * such as `f.call(…)`), or hands it to `Object.assign`, `Object.defineProperty`,
   * `Object.defineProperties`, `Reflect.set` or `Reflect.defineProperty`. Where such a function
   * is made again on resume, the frame keeps its own properties (compiler/emit.ts).
   */
  propertyFunctions(): Set<string> {
    const out = new Set<string>();
    for (const id of this.scopes.referenceIds) {
      const binding = this.scopes.references.get(id);
      const slot = binding && (this.slotNames.get(binding) ?? this.#ownNameSlot(binding));
      if (!slot) continue;
      // `(f as any).calls`, `(f)!.x`, `Object.assign(f as any, …)`: the function itself.
      const ref = outerExpression(id);
      const parent = ref.parent;
      if (
        (isPropertyAccessExpression(parent) || isElementAccessExpression(parent)) &&
        parent.expression === ref
      ) {
        if (!(isCallExpression(parent.parent) && parent.parent.expression === parent)) {
          out.add(slot);
        }
      } else if (isCallExpression(parent) && parent.arguments[0] === ref) {
        const callee = skipOuterExpressions(parent.expression);
        if (
          isPropertyAccessExpression(callee) &&
          isIdentifier(callee.expression) &&
          ((callee.expression.text === "Object" &&
            ["assign", "defineProperty", "defineProperties"].includes(callee.name.text)) ||
            (callee.expression.text === "Reflect" &&
              ["set", "defineProperty"].includes(callee.name.text)))
        ) {
          out.add(slot);
        }
      }
    }
    return out;
  }

  /**
   * The slot of `const f = function self() { self.calls = 1; }` for its own name `self`, the
   * same function: properties given through it are the slot's.
   */
  #ownNameSlot(binding: Binding): string | undefined {
    const fn = binding.id.parent;
    if (binding.kind !== "function" || !isFunctionExpression(fn) || fn.name !== binding.id) {
      return undefined;
    }
    const declaration = outerExpression(fn).parent;
    if (!isVariableDeclaration(declaration) || !isIdentifier(declaration.name)) return undefined;
    if (skipOuterExpressions(declaration.initializer!) !== fn) return undefined;
    const declared = this.scopes.declarations.get(declaration.name);
    return declared && this.slotNames.get(declared);
  }

  /**
   * `const f = up ? (v) => v + 1 : (v) => v - 1` (conditionals nested at any depth, every
   * branch a function written in place or the name of a function made again on resume,
   * `up ? inc : dec`): which branch was taken is kept in a temporary (its
   * number), and on resume the function of that branch is made again from it, after the
   * variables are restored (`var f = t === 0 ? … : t === 1 ? … : undefined`). Like a
   * `const f = () => …`, it refers to the body's variables by name and is not persisted.
   * Not for a branch that captures a per-iteration box, or a condition with a durable
   * await: those stay RATCHET1007.
   */
  recreateChoice(
    list: ts.VariableDeclarationList,
    declaration: ts.VariableDeclaration,
    init: ts.Expression,
  ): boolean {
    if ((list.flags & NodeFlags.Const) === 0 || !isIdentifier(declaration.name)) return false;
    const top = skipOuterExpressions(init);
    if (!isConditionalExpression(top) || this.containsDurable(init)) return false;
    const slot = this.slotOf(declaration.name);
    const current = slot ? this.slots.get(slot) : undefined;
    if (!slot || !current || this.boxed.has(slot)) return false;
    if (current.kind === "function") return false;
    const leaves: ts.Expression[] = [];
    const conditions: ts.Expression[] = [];
    const collect = (node: ts.Expression): boolean => {
      const e = skipOuterExpressions(node);
      if (isConditionalExpression(e)) {
        conditions.push(e.condition);
        return collect(e.whenTrue) && collect(e.whenFalse);
      }
      if (isIdentifier(e)) {
        // A function made again on resume itself (`up ? inc : dec`): the same function.
        const binding = this.scopes.references.get(e);
        const named = binding && this.slotNames.get(binding);
        if (!named || this.boxed.has(named) || this.slots.get(named)?.kind !== "function") {
          return false;
        }
        leaves.push(e);
        return true;
      }
      if (!isArrowFunction(e) && !isFunctionExpression(e)) return false;
      let boxedCapture = false;
      forEachReference(e, (id) => {
        const binding = this.scopes.references.get(id);
        const captured = binding && this.slotNames.get(binding);
        if (captured && this.boxed.has(captured)) boxedCapture = true;
      });
      if (boxedCapture) return false;
      leaves.push(e);
      return true;
    };
    if (!collect(top)) return false;
    const chosen = this.newTemp(init);
    let next = 0;
    const build = (node: ts.Expression): ts.Expression => {
      const e = skipOuterExpressions(node);
      if (isConditionalExpression(e)) {
        return f.createConditionalExpression(
          this.expression(e.condition)!,
          undefined,
          build(e.whenTrue),
          undefined,
          build(e.whenFalse),
        );
      }
      return f.createParenthesizedExpression(
        f.createComma(f.createAssignment(chosen, f.createNumericLiteral(next++)), this.rewrite(e)),
      );
    };
    const value = build(top);
    const statement = ts.setSourceMapRange(
      f.createExpressionStatement(f.createAssignment(this.id(slot), value)),
      declaration,
    );
    // Making the function reads only the conditions; what it refers to is read where it is
    // called (compiler/liveness.ts).
    this.item(statement, [slot, chosen.text], conditions);
    this.slots.set(slot, { ...current, kind: "function", holds: undefined });
    let remade: ts.Expression = f.createIdentifier("undefined");
    for (let i = leaves.length - 1; i >= 0; i--) {
      remade = f.createConditionalExpression(
        f.createStrictEquality(chosen, f.createNumericLiteral(i)),
        undefined,
        this.rewrite(leaves[i]!),
        undefined,
        remade,
      );
    }
    this.chosenFunctions.push(
      f.createVariableStatement(
        undefined,
        f.createVariableDeclarationList([
          f.createVariableDeclaration(slot, undefined, undefined, remade),
        ]),
      ),
    );
    return true;
  }

  /** A declaration's binding as an assignment target over slots. */
  bindingTarget(name: ts.BindingName): ts.Expression {
    if (!isIdentifier(name) && this.containsDurable(name)) {
      this.sink.report(
        name,
        DiagnosticCodes.unsupportedAwaitPosition,
        "A durable await inside a destructuring default is not supported.",
        "Await the value first, then destructure it.",
      );
    }
    const target = bindingToAssignmentTarget(this.rewrite(name));
    if (this.boxed.size === 0) return target;
    const made: string[] = [];
    const boxed = this.boxTarget(target, made);
    // A new binding each time the declaration runs: a new box (made at the block's entry
    // for a slot that may be touched in its dead zone, see `enterScope`).
    for (const slot of made) {
      if (this.slots.get(slot)?.deadZone) continue;
      this.assign(
        this.id(slot),
        f.createObjectLiteralExpression([
          f.createPropertyAssignment("v", f.createIdentifier("undefined")),
        ]),
      );
    }
    return boxed;
  }

  durableAt(expression: ts.Expression): DurableAwait | undefined {
    const inner = skipOuterExpressions(expression);
    return isAwaitExpression(inner) ? this.durableByAwait.get(inner) : undefined;
  }

  /**
   * End the current block at a checkpoint and start its resume block, whose first item
   * puts the durable operation's result into `target` (when given).
   */
  checkpoint(site: DurableAwait, target: ts.Expression | undefined, original: ts.Node): void {
    const call = site.call;
    const args = this.operands([...call.arguments], undefined, undefined, undefined, true);
    // A predicate is tested at the resume point (below); the runtime's `$waitForEvent` is the
    // form that knows the machine does so.
    const callee =
      site.match && isPropertyAccessExpression(call.expression)
        ? f.createPropertyAccessExpression(
            this.rewrite(call.expression.expression),
            "$waitForEvent",
          )
        : this.rewrite(call.expression);
    const rebuilt = ts.setTextRange(f.createCallExpression(callee, undefined, args), call);
    const resume = this.newBlock();
    const index = this.checkpoints.length + 1;
    this.checkpoints.push({
      index,
      await: site.await,
      call,
      method: site.method,
      resume: resume.id,
    });
    this.cur.terminator = {
      kind: "durable",
      node: original,
      checkpoint: index,
      call: rebuilt,
      resume: resume.id,
    };
    this.cur = resume;
    if (site.match) {
      const match = this.rewrite(site.match);
      const placeholder = ts.setSourceMapRange(f.createEmptyStatement(), site.match);
      this.cur.items.push({
        statement: placeholder,
        kills: [],
        uses: [match],
        jumps: [],
        recheck: { checkpoint: index, match },
      });
    }
    if (target) {
      const statement = f.createExpressionStatement(
        f.createAssignment(target, this.id(this.names.sent)),
      );
      ts.setSourceMapRange(statement, original);
      const { kills, reads } = this.analyzeTarget(target);
      this.item(statement, kills, reads);
    }
  }

  ifStatement(statement: ts.IfStatement): void {
    const test = this.expression(statement.expression)!;
    const whenTrue = this.newBlock();
    const whenFalse = statement.elseStatement ? this.newBlock() : undefined;
    const join = this.newBlock();
    this.cur.terminator = {
      kind: "branch",
      node: statement,
      test,
      whenTrue: whenTrue.id,
      whenFalse: (whenFalse ?? join).id,
    };
    this.cur = whenTrue;
    this.statement(statement.thenStatement);
    this.goto(join);
    if (whenFalse && statement.elseStatement) {
      this.cur = whenFalse;
      this.statement(statement.elseStatement);
      this.goto(join);
    }
    this.cur = join;
  }

  loop(statement: ts.IterationStatement, labels: readonly string[]): void {
    if (isForOfStatement(statement) && statement.awaitModifier) {
      this.sink.report(
        statement,
        DiagnosticCodes.forbiddenConstruct,
        "`for await … of` with a checkpoint inside cannot be resumed: the async iterator cannot be persisted.",
        "Collect the items first (e.g. with a step), then loop over the array with for…of.",
      );
      return;
    }
    const exit = this.newBlock();
    let head: Block;
    let continueTarget: Block;
    let bodyBlock: Block;
    let enterBody: (() => void) | undefined;
    let usingElement: ts.Expression | undefined;

    if (isWhileStatement(statement)) {
      head = this.newBlock();
      this.goto(head);
      this.cur = head;
      const test = this.expression(statement.expression)!;
      bodyBlock = this.newBlock();
      this.cur.terminator = {
        kind: "branch",
        node: statement,
        test,
        whenTrue: bodyBlock.id,
        whenFalse: exit.id,
      };
      continueTarget = head;
    } else if (isDoStatement(statement)) {
      bodyBlock = this.newBlock();
      head = bodyBlock;
      continueTarget = this.newBlock();
      this.goto(bodyBlock);
    } else if (isForStatement(statement)) {
      const init = statement.initializer;
      if (init && isVariableDeclarationList(init)) this.variables(init);
      else if (init) this.expressionStatement(init);
      head = this.newBlock();
      this.goto(head);
      this.cur = head;
      bodyBlock = this.newBlock();
      if (statement.condition) {
        const test = this.expression(statement.condition)!;
        this.cur.terminator = {
          kind: "branch",
          node: statement.condition,
          test,
          whenTrue: bodyBlock.id,
          whenFalse: exit.id,
        };
      } else {
        this.goto(bodyBlock);
      }
      continueTarget = this.newBlock();
    } else {
      // for…of and for…in iterate a list persisted with an index: an array as it is, any
      // other iterable (or an object's keys) snapshotted when the loop starts.
      const forOf = isForOfStatement(statement);
      const iterated = (statement as ts.ForOfStatement | ts.ForInStatement).expression;
      const source = this.expression(iterated)!;
      const list = this.newTemp(
        forOf
          ? `the list iterated by the loop at ${this.where(statement)}`
          : `the keys iterated by the loop at ${this.where(statement)}`,
        forOf ? "list" : "keys",
      );
      const index = this.newTemp(`the index of the loop at ${this.where(statement)}`, "index");
      if (forOf && this.#givesFunction(iterated)) {
        // `for (const f of [inc, dec])`: the list kept across the checkpoints holds functions
        // (RATCHET1007 where it is live, compiler/liveness.ts).
        const slot = this.slots.get(list.text)!;
        this.slots.set(list.text, { ...slot, holds: "function", functionSource: iterated });
      }
      if (forOf) {
        // `ctx.$forOf` (runtime/context.ts): an array as it is; the values of a Map, Set,
        // string or other built-in iterator taken now; a generator or an iterator of the
        // program's own refused at run time, with the loop's place (one the compiler can
        // see is a generator is reported here, `refuseGeneratorLoop`).
        this.refuseGeneratorLoop(statement as ts.ForOfStatement);
        const text = iterated.getText(this.sourceFile).replace(/\s+/g, " ");
        // How V8 names the value in its TypeError, when the runtime would not find it from
        // the text: `xs` for `(xs as any)`, `f.g()` for `f(1).g()`, "" where V8 names it by
        // its type (`undefined is not iterable (cannot read property …)`).
        const callSite = v8CallSite(iterated);
        const derived = /^[\w$.]+\(.*\)$/s.test(text)
          ? `${text.slice(0, text.indexOf("("))}()`
          : text;
        this.assign(
          list,
          f.createCallExpression(
            f.createPropertyAccessExpression(f.createIdentifier(this.ctxName), "$forOf"),
            undefined,
            [
              source,
              f.createStringLiteral(`${this.sink.file}:${this.where(statement)}`),
              f.createStringLiteral(text),
              ...(callSite === derived ? [] : [f.createStringLiteral(callSite)]),
            ],
          ),
          iterated,
        );
      } else {
        const key = f.createIdentifier(`${this.names.temp}key`);
        this.assign(list, f.createArrayLiteralExpression([]), iterated);
        this.item(
          f.createForInStatement(
            f.createVariableDeclarationList([f.createVariableDeclaration(key)], NodeFlags.Const),
            source,
            f.createExpressionStatement(
              f.createCallExpression(f.createPropertyAccessExpression(list, "push"), undefined, [
                key,
              ]),
            ),
          ),
        );
      }
      this.assign(index, f.createNumericLiteral(0));
      head = this.newBlock();
      this.goto(head);
      this.cur = head;
      bodyBlock = this.newBlock();
      this.cur.terminator = {
        kind: "branch",
        node: statement,
        test: f.createLessThan(index, f.createPropertyAccessExpression(list, "length")),
        whenTrue: bodyBlock.id,
        whenFalse: exit.id,
      };
      continueTarget = this.newBlock();
      const initializer = (statement as ts.ForOfStatement).initializer;
      if (isVariableDeclarationList(initializer) && (initializer.flags & NodeFlags.Using) !== 0) {
        usingElement = f.createElementAccessExpression(list, index);
      }
      enterBody = () => {
        const element = f.createElementAccessExpression(list, index);
        const declared = isVariableDeclarationList(initializer)
          ? initializer.declarations[0]!.name
          : initializer;
        if (needsLowering(this, declared)) {
          const value = this.newTemp(
            `the element of the loop at ${this.where(statement)}`,
            "pattern",
          );
          this.assign(value, element, initializer);
          lowerPattern(this, declared, value, undefined);
        } else if (isVariableDeclarationList(initializer)) {
          this.assign(this.bindingTarget(initializer.declarations[0]!.name), element, initializer);
        } else {
          this.assign(this.rewrite(initializer), element, initializer);
        }
      };
      const update = continueTarget;
      const savedCur = this.cur;
      this.cur = update;
      this.assign(index, f.createAdd(index, f.createNumericLiteral(1)));
      this.goto(head);
      this.cur = savedCur;
    }

    this.jumpStack.push({
      kind: "loop",
      labels,
      breakTarget: exit.id,
      continueTarget: continueTarget.id,
    });
    this.cur = bodyBlock;
    if (usingElement) {
      this.using(
        (statement as ts.ForOfStatement).initializer as ts.VariableDeclarationList,
        0,
        [statement.statement],
        usingElement,
      );
    } else {
      enterBody?.();
      this.statement(statement.statement);
    }
    this.goto(continueTarget);
    this.jumpStack.pop();

    if (isDoStatement(statement)) {
      this.cur = continueTarget;
      const test = this.expression(statement.expression)!;
      this.cur.terminator = {
        kind: "branch",
        node: statement.expression,
        test,
        whenTrue: head.id,
        whenFalse: exit.id,
      };
    } else if (isForStatement(statement)) {
      this.cur = continueTarget;
      // Each iteration of `for (let i …)` has its own i, starting from the last one's value.
      const init = statement.initializer;
      if (init && isVariableDeclarationList(init)) {
        for (const d of init.declarations) {
          for (const id of boundIdentifiers(d.name)) {
            const slot = this.slotOf(id);
            if (slot && this.boxed.has(slot)) {
              this.assign(
                this.id(slot),
                f.createObjectLiteralExpression([
                  f.createPropertyAssignment(
                    "v",
                    f.createPropertyAccessExpression(this.id(slot), "v"),
                  ),
                ]),
              );
            }
          }
        }
      }
      if (statement.incrementor) this.expressionStatement(statement.incrementor);
      this.goto(head);
    }
    this.cur = exit;
  }

  expressionStatement(expression: ts.Expression): void {
    const value = this.expression(expression, true);
    if (value && !isIdentifier(value))
      this.item(ts.setTextRange(f.createExpressionStatement(value), expression));
  }

  switchStatement(statement: ts.SwitchStatement, labels: readonly string[]): void {
    const discriminant = this.expression(statement.expression)!;
    const subject = this.newTemp(`the value switched on at ${this.where(statement)}`, "switch");
    this.assign(subject, discriminant, statement.expression);
    this.enterScope(statement.caseBlock);
    const exit = this.newBlock();
    const clauses = statement.caseBlock.clauses;
    const bodies = clauses.map(() => this.newBlock());
    clauses.forEach((clause, i) => {
      if (!isCaseClause(clause)) return;
      const test = this.expression(clause.expression)!;
      const next = this.newBlock();
      this.cur.terminator = {
        kind: "branch",
        node: clause,
        test: f.createStrictEquality(subject, test),
        whenTrue: bodies[i]!.id,
        whenFalse: next.id,
      };
      this.cur = next;
    });
    const defaultIndex = clauses.findIndex((c) => isDefaultClause(c));
    this.goto(defaultIndex >= 0 ? bodies[defaultIndex]! : exit);
    this.jumpStack.push({ kind: "switch", labels, breakTarget: exit.id });
    clauses.forEach((clause, i) => {
      this.cur = bodies[i]!;
      this.statements(clause.statements);
      this.goto(bodies[i + 1] ?? exit);
    });
    this.jumpStack.pop();
    this.cur = exit;
  }

  labeled(statement: ts.LabeledStatement, outer: readonly string[]): void {
    const labels = [...outer, statement.label.text];
    const inner = statement.statement;
    if (isLabeledStatement(inner)) {
      this.labeled(inner, labels);
      return;
    }
    if (isIterationStatement(inner, false)) {
      this.loop(inner, labels);
      return;
    }
    if (isSwitchStatement(inner)) {
      this.switchStatement(inner, labels);
      return;
    }
    const exit = this.newBlock();
    this.jumpStack.push({ kind: "labeled", labels, breakTarget: exit.id });
    this.statement(inner);
    this.jumpStack.pop();
    this.goto(exit);
    this.cur = exit;
  }

  tryStatement(statement: ts.TryStatement): void {
    const finallyBlock = statement.finallyBlock;
    this.tryRegion(
      statement,
      () => this.statements(statement.tryBlock.statements),
      statement.catchClause,
      finallyBlock && (() => this.statements(finallyBlock.statements)),
    );
  }

  /**
   * A `try` region: `tryPart` and `finallyPart` emit their parts' statements (a `using`
   * declaration makes one with its disposal as the `finally`).
   */
  tryRegion(
    statement: ts.Node,
    tryPart: () => void,
    catchClause: ts.CatchClause | undefined,
    finallyPart: ((region: TryRegion) => void) | undefined,
  ): void {
    const outerFinally = [...this.jumpStack].reverse().find((e) => e.kind === "finally");
    const index = this.regions.length;
    const region: TryRegion = {
      index,
      parent: this.region,
      parentPart: this.part,
      catchBlock: undefined,
      catchSlot: undefined,
      finallyBlock: undefined,
      completionSlot: undefined,
      afterBlock: -1,
      outerFinally: outerFinally ? (outerFinally as { region: number }).region : -1,
      forwardJumps: new Set(),
    };
    this.regions.push(region);
    const after = this.newBlock();
    region.afterBlock = after.id;
    const tryBlock = this.newBlock(index, "try");
    const catchBlock = catchClause ? this.newBlock(index, "catch") : undefined;
    const finallyBlock = finallyPart ? this.newBlock(index, "finally") : undefined;
    region.catchBlock = catchBlock?.id;
    region.finallyBlock = finallyBlock?.id;
    if (finallyBlock) {
      region.completionSlot = this.newTemp(
        `how the try at ${this.where(statement)} ended`,
        "completion",
      ).text;
    }
    if (catchClause) {
      const declared = catchClause.variableDeclaration?.name;
      const slot = declared && isIdentifier(declared) ? this.slotOf(declared) : undefined;
      // A boxed parameter gets a new box each time the catch is entered (below).
      const direct = slot && !this.boxed.has(slot) ? slot : undefined;
      region.catchSlot =
        direct ?? this.newTemp(`the error caught at ${this.where(catchClause)}`, "caught").text;
    }

    const leavePart = () => {
      if (finallyBlock) {
        this.assign(this.id(region.completionSlot!), f.createIdentifier("undefined"));
        this.goto(finallyBlock);
      } else {
        this.goto(after);
      }
    };

    this.goto(tryBlock);
    const saved = { region: this.region, part: this.part };
    if (finallyBlock) this.jumpStack.push({ kind: "finally", region: index });
    this.region = index;
    this.part = "try";
    this.cur = tryBlock;
    tryPart();
    leavePart();

    if (catchBlock && catchClause) {
      this.part = "catch";
      this.cur = catchBlock;
      const declared = catchClause.variableDeclaration?.name;
      if (declared && needsLowering(this, declared)) {
        lowerPattern(this, declared, this.id(region.catchSlot!), undefined);
      } else if (declared && !isIdentifier(declared)) {
        this.assign(this.bindingTarget(declared), this.id(region.catchSlot!), declared);
      } else if (declared && this.boxed.has(this.slotOf(declared) ?? "")) {
        // A new box for each entry of the catch, holding the error caught.
        const box = f.createObjectLiteralExpression([
          f.createPropertyAssignment("v", this.id(region.catchSlot!)),
        ]);
        this.assign(this.id(this.slotOf(declared)!), box, declared);
      }
      this.statements(catchClause.block.statements);
      leavePart();
    }
    if (finallyBlock) this.jumpStack.pop();

    if (finallyBlock && finallyPart) {
      this.part = "finally";
      this.cur = finallyBlock;
      finallyPart(region);
      this.cur.terminator = { kind: "finallyEnd", region: index };
    }
    this.region = saved.region;
    this.part = saved.part;
    this.cur = after;
  }

  where(node: ts.Node): string {
    const at = this.sourceFile.getLineAndCharacterOfPosition(node.getStart(this.sourceFile));
    return `${at.line + 1}:${at.character + 1}`;
  }

  /** `line:column` of the first durable await in `nodes`. */
  nextDurable(nodes: readonly ts.Node[]): string {
    const starts = nodes.flatMap((n) =>
      n.pos < 0 ? [] : this.durableStarts.filter((p) => p >= n.pos && p < n.end),
    );
    if (starts.length === 0) return "?";
    const at = this.sourceFile.getLineAndCharacterOfPosition(Math.min(...starts));
    return `${at.line + 1}:${at.character + 1}`;
  }

  // ---- expressions -------------------------------------------------------------------

  unsupported(node: ts.Node): ts.Expression {
    this.sink.report(
      node,
      DiagnosticCodes.unsupportedAwaitPosition,
      "A durable await inside this kind of expression is not supported.",
      "Move the await into its own statement: const value = await ctx.step(…); then use value.",
    );
    return f.createIdentifier("undefined");
  }

  /**
   * The expression to use in place of `node` once the durable awaits inside it have become
   * checkpoints. Operands evaluated before an await keep their order through temporaries.
   * With `discard`, the value is not needed.
   */
  expression(node: ts.Expression, discard = false): ts.Expression | undefined {
    const replaced = this.replaced.get(node);
    if (replaced) return replaced;
    if (!this.containsDurable(node)) return this.rewrite(node);
    if (isOptionalChain(node)) {
      const chain = this.optionalChain(node);
      if (chain) return chain;
    }
    const site = this.durableAt(node);
    if (site) {
      if (discard) {
        this.checkpoint(site, undefined, node);
        return undefined;
      }
      const temp = this.newTemp(`the result of the step at ${this.where(node)}`, "result");
      this.checkpoint(site, temp, node);
      return temp;
    }
    if (
      isParenthesizedExpression(node) ||
      isAsExpression(node) ||
      isSatisfiesExpression(node) ||
      isNonNullExpression(node) ||
      isTypeAssertionExpression(node)
    ) {
      return this.expression(node.expression, discard);
    }
    if (isAwaitExpression(node)) return f.createAwaitExpression(this.expression(node.expression)!);
    if (isBinaryExpression(node)) return this.binary(node, discard);
    if (isConditionalExpression(node)) {
      const result = this.newTemp(node);
      const test = this.expression(node.condition)!;
      const whenTrue = this.newBlock();
      const whenFalse = this.newBlock();
      const join = this.newBlock();
      this.cur.terminator = {
        kind: "branch",
        node,
        test,
        whenTrue: whenTrue.id,
        whenFalse: whenFalse.id,
      };
      this.cur = whenTrue;
      this.assign(result, this.expression(node.whenTrue)!);
      this.goto(join);
      this.cur = whenFalse;
      this.assign(result, this.expression(node.whenFalse)!);
      this.goto(join);
      this.cur = join;
      return result;
    }
    if (isCallExpression(node) || isNewExpression(node)) return this.call(node);
    if (isPropertyAccessExpression(node)) {
      return access(node, this.expression(node.expression)!);
    }
    if (isElementAccessExpression(node)) {
      const [object, key] = this.operands([node.expression, node.argumentExpression]);
      return access(node, object!, key);
    }
    if (isArrayLiteralExpression(node)) {
      return f.createArrayLiteralExpression(this.operands([...node.elements]));
    }
    if (isObjectLiteralExpression(node)) return this.objectLiteral(node);
    if (isTemplateExpression(node)) {
      const values = this.operands(node.templateSpans.map((s) => s.expression));
      return f.createTemplateExpression(
        node.head,
        node.templateSpans.map((span, i) => f.createTemplateSpan(values[i]!, span.literal)),
      );
    }
    if (isPrefixUnaryExpression(node)) {
      return f.createPrefixUnaryExpression(node.operator, this.expression(node.operand)!);
    }
    // `o[await …]++`: the member is the one read by the kept object and key, as for `++`.
    if (isPostfixUnaryExpression(node)) {
      return f.createPostfixUnaryExpression(this.expression(node.operand)!, node.operator);
    }
    if (isTypeOfExpression(node))
      return f.createTypeOfExpression(this.expression(node.expression)!);
    if (isDeleteExpression(node)) {
      const target = skipOuterExpressions(node.expression);
      // `delete o?.[await …]`: `true` when `o` is nullish, and the key is not evaluated.
      if (isOptionalChain(target)) {
        const chain = this.optionalChain(target, () => this.expression(node)!, f.createTrue());
        if (chain) return chain;
      }
      const plain = (member: ts.PropertyAccessExpression | ts.ElementAccessExpression) =>
        !member.questionDotToken || this.optionalDone.has(member);
      // A link tested by `optionalChain` is read plainly; one after a `?.` stays in its chain.
      if (isPropertyAccessExpression(target) && plain(target)) {
        const object = this.expression(target.expression)!;
        return f.createDeleteExpression(access(target, object, undefined, undefined));
      }
      if (isElementAccessExpression(target) && plain(target)) {
        // `delete deps.stats[await …]`: a chain from the module or a global is held and read
        // again after a resume, as for `deps.stats[await …] = v` (`operandsAsTemps`).
        const held =
          this.containsDurable(target.argumentExpression) &&
          this.heldFromOutside(target.expression, [target.argumentExpression]);
        const [object, key] = held
          ? [
              this.heldObject(target.expression, target),
              this.expression(target.argumentExpression)!,
            ]
          : this.operands([target.expression, target.argumentExpression]);
        return f.createDeleteExpression(access(target, object!, key, undefined));
      }
      return this.unsupported(node);
    }
    if (isTaggedTemplateExpression(node)) {
      const template = node.template;
      if (this.containsDurable(node.tag) || !isTemplateExpression(template)) {
        return this.unsupported(node);
      }
      // The tag is read at the call, like a callee; the substitutions keep their order.
      const spans = template.templateSpans.map((s) => s.expression);
      const tag = this.calleeReadAfter(node.tag, spans);
      const values = this.operands(spans);
      return f.createTaggedTemplateExpression(
        tag,
        undefined,
        f.createTemplateExpression(
          template.head,
          template.templateSpans.map((span, i) => f.createTemplateSpan(values[i]!, span.literal)),
        ),
      );
    }
    if (isVoidExpression(node)) return f.createVoidExpression(this.expression(node.expression)!);
    if (isSpreadElement(node)) return f.createSpreadElement(this.expression(node.expression)!);
    return this.unsupported(node);
  }

  /**
   * Explode a list of operands evaluated left to right. An operand evaluated before a later
   * durable await is kept in a temporary unless re-reading it after the await gives the same
   * value (see `isStable`), or an object or array literal made after the await
   * (`literalAfter`). A spread is evaluated where it stands: an array spread is copied into a
   * temporary array, an object spread (`objectSpreads`: indexes) into an object. `after`: the
   * operands that follow the list (when a literal made after an await is taken apart);
   * `keepOut`: operands that must not be kept in a temporary, each reporting why.
   */
  operands(
    list: readonly ts.Expression[],
    objectSpreads: ReadonlySet<number> = new Set(),
    after: readonly ts.Node[] = [],
    keepOut?: ReadonlyMap<number, (later: readonly ts.Node[]) => void>,
    inCall = false,
  ): ts.Expression[] {
    let last = -1;
    list.forEach((e, i) => {
      if (this.containsDurable(e)) last = i;
    });
    // The operands of a literal made after a durable await that follows it (`literalAfter`):
    // every one of them runs before that await.
    if (after.some((n) => this.containsDurable(n))) last = list.length;
    return list.map((operand, i) => {
      if (i > last) return this.rewrite(operand);
      const later = [...list.slice(i + 1, last + 1), ...after];
      if (i < last && !isSpreadElement(operand) && !objectSpreads.has(i)) {
        const made = this.literalAfter(operand, later);
        if (made) return made;
      }
      const value = this.expression(operand)!;
      if (isSpreadElement(operand) || objectSpreads.has(i)) {
        if (i === last) return value;
        // The spread iterates (or copies the properties of) its value now, not after the await.
        const spread = isSpreadElement(operand) ? (value as ts.SpreadElement).expression : value;
        const temp = this.newTemp(isSpreadElement(operand) ? operand.expression : operand);
        this.assign(
          temp,
          !isSpreadElement(operand)
            ? f.createObjectLiteralExpression([f.createSpreadAssignment(spread)])
            : inCall
              ? // Spread in a call, not last, as in the user's call, so that what is not
                // iterable throws V8's TypeError of a call (`object is not iterable (cannot
                // read property Symbol(Symbol.iterator))`), not an array literal's.
                f.createCallExpression(
                  f.createPropertyAccessExpression(f.createIdentifier(this.ctxName), "$spread"),
                  undefined,
                  [
                    f.createSpreadElement(spread),
                    f.createSpreadElement(f.createArrayLiteralExpression([])),
                  ],
                )
              : f.createArrayLiteralExpression([f.createSpreadElement(spread)]),
        );
        return isSpreadElement(operand) ? f.createSpreadElement(temp) : temp;
      }
      if (i === last || this.isStable(operand, later) || this.isSymbolMade(operand)) return value;
      const inner = skipOuterExpressions(operand);
      if (isClassExpression(inner)) this.refuseKeptClass(inner, later);
      if (keepOut?.has(i)) keepOut.get(i)!(later);
      const temp = this.newTemp(operand);
      this.assign(temp, value);
      return temp;
    });
  }

  /**
   * An object or array literal evaluated before a durable await in the same expression, made
   * after the await where it stands instead of kept in a temporary: when making it runs no
   * code and reads nothing the code before the await can change (`madeWithoutCode`), or when
   * it holds what cannot be persisted — a method, an accessor, a function or class, a
   * `__proto__`, a computed key that may be a symbol — its parts that do run code (a computed
   * key, a value, a spread) are evaluated in order before the await into temporaries, and the
   * object is made from them after it. `undefined`: any other literal, plain data, is kept
   * whole in a temporary.
   */
  literalAfter(operand: ts.Expression, later: readonly ts.Node[]): ts.Expression | undefined {
    const inner = skipOuterExpressions(operand);
    // `flag ? { m() {} } : null`: the test runs now and is kept (as a boolean); the branch
    // taken is made after the await, when making either runs no code.
    if (
      isConditionalExpression(inner) &&
      !this.containsDurable(inner) &&
      (holdsUnpersistable(inner.whenTrue) || holdsUnpersistable(inner.whenFalse)) &&
      this.madeWithoutCode(inner.whenTrue, later) &&
      this.madeWithoutCode(inner.whenFalse, later)
    ) {
      const test = this.newTemp(inner.condition);
      this.assign(
        test,
        f.createLogicalNot(
          f.createLogicalNot(f.createParenthesizedExpression(this.rewrite(inner.condition))),
        ),
      );
      return f.createParenthesizedExpression(
        f.createConditionalExpression(
          test,
          f.createToken(SyntaxKind.QuestionToken),
          this.rewrite(inner.whenTrue),
          f.createToken(SyntaxKind.ColonToken),
          this.rewrite(inner.whenFalse),
        ),
      );
    }
    if (!isObjectLiteralExpression(inner) && !isArrayLiteralExpression(inner)) return undefined;
    if (!this.containsDurable(inner) && this.madeWithoutCode(inner, later)) {
      return this.rewrite(operand);
    }
    if (!holdsUnpersistable(inner)) return undefined;
    if (isObjectLiteralExpression(inner)) return this.objectLiteral(inner, later);
    return f.createArrayLiteralExpression(this.operands([...inner.elements], undefined, later));
  }

  /**
   * Whether making the literal `node` runs no code and reads only what the `later` operands
   * cannot change: every key is a name, a literal or a stable computed key (`isStable`), and
   * every value is stable, a function, a class made without code, or such a literal; no
   * spread.
   */
  madeWithoutCode(node: ts.Expression, later: readonly ts.Node[]): boolean {
    const inner = skipOuterExpressions(node);
    if (isObjectLiteralExpression(inner)) {
      return inner.properties.every((p) => {
        if (isSpreadAssignment(p)) return false;
        if (isShorthandPropertyAssignment(p)) {
          return !p.objectAssignmentInitializer && this.isStable(p.name, later);
        }
        if (p.name && isComputedPropertyName(p.name) && !this.isStable(p.name.expression, later)) {
          return false;
        }
        return !isPropertyAssignment(p) || this.madeWithoutCode(p.initializer, later);
      });
    }
    if (isArrayLiteralExpression(inner)) {
      return inner.elements.every((e) => !isSpreadElement(e) && this.madeWithoutCode(e, later));
    }
    return this.isStable(inner, later) || this.isSymbolMade(inner);
  }

  /**
   * Whether `node` makes a symbol of the global `Symbol` from a literal description —
   * `Symbol()`, `Symbol("tag")`, `Symbol.for("tag")` — which runs no code: made after the
   * await instead of before it, an operand used once is the same (a new symbol no one else
   * holds, or the registry's symbol for that key).
   */
  isSymbolMade(node: ts.Expression): boolean {
    const inner = skipOuterExpressions(node);
    if (!isCallExpression(inner) || inner.questionDotToken) return false;
    const callee = skipOuterExpressions(inner.expression);
    const isGlobalSymbol = (id: ts.Expression) =>
      isIdentifier(id) &&
      id.text === "Symbol" &&
      !this.scopes.references.get(id) &&
      !this.outerMutables.has("Symbol");
    const made =
      isGlobalSymbol(callee) ||
      (isPropertyAccessExpression(callee) &&
        callee.name.text === "for" &&
        isGlobalSymbol(callee.expression));
    if (!made || inner.arguments.length > 1) return false;
    return inner.arguments.every((a) => {
      const arg = skipOuterExpressions(a);
      return ts.isStringLiteral(arg) || isNoSubstitutionTemplateLiteral(arg);
    });
  }

  /**
   * Whether making the class expression `node` runs no code: no decorator, no `extends`, no
   * static block, and only stable computed member names and static initializers.
   */
  classMadeWithoutCode(node: ts.ClassExpression, later: readonly ts.Node[]): boolean {
    if ((ts.getDecorators(node) ?? []).length > 0 || (node.heritageClauses ?? []).length > 0) {
      return false;
    }
    return node.members.every((m) => {
      if (ts.isClassStaticBlockDeclaration(m)) return false;
      if (ts.canHaveDecorators(m) && (ts.getDecorators(m) ?? []).length > 0) return false;
      if (m.name && isComputedPropertyName(m.name) && !this.isStable(m.name.expression, later)) {
        return false;
      }
      const isStatic = ts
        .getModifiers(m as ts.HasModifiers)
        ?.some((mod) => mod.kind === SyntaxKind.StaticKeyword);
      return !(
        isStatic &&
        ts.isPropertyDeclaration(m) &&
        m.initializer &&
        !this.madeWithoutCode(m.initializer, later)
      );
    });
  }

  /**
   * A `for…of` loop holding a checkpoint over what the compiler can see is a generator: a
   * call of a generator function declared in the body or around it (`gen()`), a generator
   * function expression called in place, or a `const` holding such a call. Its position
   * cannot be persisted, and taking its values up front would run its body before the loop's
   * (the runtime refuses the other generators, `ctx.$forOf`).
   */
  refuseGeneratorLoop(loop: ts.ForOfStatement): void {
    const generatorCall = (e: ts.Expression, depth: number): boolean => {
      const inner = skipOuterExpressions(e);
      if (isIdentifier(inner) && depth === 0) {
        const init = constInitializer(this.declarationOf(inner));
        return init !== undefined && generatorCall(init, 1);
      }
      if (!isCallExpression(inner)) return false;
      const callee = skipOuterExpressions(inner.expression);
      if (isFunctionExpression(callee)) return callee.asteriskToken !== undefined;
      if (!isIdentifier(callee)) return false;
      const declaration = this.declarationOf(callee);
      if (declaration && isFunctionDeclaration(declaration)) {
        return declaration.asteriskToken !== undefined;
      }
      const init = constInitializer(declaration);
      const fn = init && skipOuterExpressions(init);
      return fn !== undefined && isFunctionExpression(fn) && fn.asteriskToken !== undefined;
    };
    if (!generatorCall(loop.expression, 0)) return;
    const text = loop.expression.getText(this.sourceFile).replace(/\s+/g, " ");
    const shown = text.length <= 40 ? text : "values";
    this.sink.report(
      loop.expression,
      DiagnosticCodes.unsupported,
      `This for…of loop holds a checkpoint and iterates a generator (\`${text.length <= 40 ? text : `${text.slice(0, 37)}...`}\`), whose position cannot be persisted: after a crash the loop could not go on where it stopped, and taking its values when the loop starts would run the generator's body (and its finally) before the loop's body.`,
      `To take all its values first, write that: for (const x of [...${shown}]) { … }. Otherwise return an array from a function (or a step) and iterate it.`,
    );
  }

  /**
   * The declaration `id` refers to: a binding of the body, or else the nearest declaration
   * of that name in the statement lists around the workflow (a module's function, say).
   */
  declarationOf(id: ts.Identifier): ts.Node | undefined {
    const binding = this.scopes.references.get(id);
    if (binding) return binding.id.parent;
    for (let n: ts.Node | undefined = this.body.parent; n; n = n.parent) {
      if (isFunctionLike(n) && n.parameters.some((p) => boundNames(p.name).includes(id.text))) {
        return undefined;
      }
      const statements =
        isBlock(n) || ts.isSourceFile(n) || ts.isModuleBlock(n) ? n.statements : [];
      for (const statement of statements) {
        if (isFunctionDeclaration(statement) && statement.name?.text === id.text) return statement;
        if (isVariableStatement(statement)) {
          for (const d of statement.declarationList.declarations) {
            if (boundNames(d.name).includes(id.text)) return d;
          }
        }
        if (ts.isClassDeclaration(statement) && statement.name?.text === id.text) return statement;
        const imported = ts.isImportDeclaration(statement) ? statement.importClause : undefined;
        const names = imported?.namedBindings;
        if (
          imported &&
          (imported.name?.text === id.text ||
            (names && ts.isNamespaceImport(names) && names.name.text === id.text) ||
            (names &&
              ts.isNamedImports(names) &&
              names.elements.some((e) => e.name.text === id.text)))
        ) {
          return statement;
        }
      }
    }
    return undefined;
  }

  /**
   * The prototype an object literal gives itself (`__proto__: make()`), evaluated before a
   * durable await in the same expression: kept across the checkpoint, it could not be
   * persisted (a prototype holds methods; an object with one is not plain data).
   */
  refuseKeptPrototype(property: ts.PropertyAssignment, later: readonly ts.Node[]): void {
    this.sink.report(
      property,
      DiagnosticCodes.unsupportedAwaitPosition,
      `This object's prototype (\`__proto__\`) is evaluated before the durable await at ${this.nextDurable(later)} in the same expression and would have to be kept across that checkpoint: a prototype cannot be persisted.`,
      "Evaluate the prototype into a const first (const proto = …;) and write __proto__: proto, or make the object after the await (const value = await ctx.step(…);).",
    );
  }

  /**
   * A class expression whose making runs code, before a durable await in the same expression:
   * it would have to be kept across the checkpoint, and a class cannot be persisted.
   */
  refuseKeptClass(node: ts.ClassExpression, later: readonly ts.Node[]): void {
    this.sink.report(
      node,
      DiagnosticCodes.functionLiveAcrossCheckpoint,
      `This class is made before the durable await at ${this.nextDurable(later)} in the same expression, and making it runs code (its \`extends\`, a decorator, a computed member name or a static part): it would have to be kept across that checkpoint, and a class cannot be persisted.`,
      "Make the class after the await: await into a const first (const value = await ctx.step(…);), then write the expression with value, or assign the class to a variable after the await.",
    );
  }

  /**
   * Whether reading `operand` after the `later` operands have run gives the value it had
   * before them: a literal, a hole, a constant, or a variable that the later operands do not
   * assign — neither directly nor by calling code (a nested function, an inline step, a
   * module's function) that may write it.
   */
  isStable(operand: ts.Expression, later: readonly ts.Node[]): boolean {
    const inner = skipOuterExpressions(operand);
    if (
      isOmittedExpression(inner) ||
      isLiteralExpression(inner) ||
      inner.kind === SyntaxKind.TrueKeyword ||
      inner.kind === SyntaxKind.FalseKeyword ||
      inner.kind === SyntaxKind.NullKeyword ||
      isNoSubstitutionTemplateLiteral(inner)
    ) {
      return true;
    }
    // Making a function runs no code, and it captures bindings, not values: made after the
    // later operands, it is the function it would have been. (Kept where it stands, it also
    // keeps the name it takes there: `{ onDone: () => 1 }` names it "onDone".)
    if (isArrowFunction(inner) || isFunctionExpression(inner)) return true;
    // So does making a class with no `extends`, decorator, static code or computed name that
    // runs code.
    if (isClassExpression(inner)) return this.classMadeWithoutCode(inner, later);
    // A well-known symbol of the global `Symbol` (`Symbol.iterator`) is a constant.
    if (
      isPropertyAccessExpression(inner) &&
      isIdentifier(inner.expression) &&
      inner.expression.text === "Symbol" &&
      !this.scopes.references.get(inner.expression) &&
      !this.outerMutables.has("Symbol")
    ) {
      return true;
    }
    if (!isIdentifier(inner)) return false;
    // A read that may be (or is) in its dead zone throws where it stands, before what
    // follows runs.
    if (this.checkedRefs.has(inner) || this.inDeadZone(inner)) return false;
    const binding = this.scopes.references.get(inner);
    if (
      binding &&
      (binding.kind === "const" || binding.kind === "function" || binding.kind === "class")
    ) {
      return true;
    }
    if (later.some((n) => assignsName(n, inner.text))) return false;
    // Code that runs during a call may write a variable a function can see: any variable
    // of the body a nested function refers to, and any variable of the module.
    const reachable = binding
      ? this.capturedByFunctions.has(binding)
      : this.outerMutables.has(inner.text);
    return !(reachable && later.some(mayRunCode));
  }

  /**
   * Whether `operand` names a function made again on resume (a function declaration, or a
   * `const` holding a function written in place) that `later` cannot reassign: read after
   * the await, it is the same function, so it needs no temporary (which could not be
   * persisted).
   */
  isRemadeFunction(operand: ts.Expression, later: readonly ts.Node[]): boolean {
    const inner = skipOuterExpressions(operand);
    if (!isIdentifier(inner)) return false;
    const binding = this.scopes.references.get(inner);
    const slot = binding && this.slotNames.get(binding);
    return (
      slot !== undefined && this.slots.get(slot)?.kind === "function" && this.isStable(inner, later)
    );
  }

  /**
   * `target = right` only when `target` calls for it (`&&`: truthy, `||`: falsy, `??`:
   * nullish), with `right`'s durable awaits in a block of their own that is skipped otherwise.
   */
  shortCircuit(
    node: ts.Node,
    target: ts.Identifier,
    logical: "and" | "or" | "nullish",
    right: ts.Expression,
    afterAssign?: () => void,
  ): void {
    const evaluateRight = this.newBlock();
    const join = this.newBlock();
    const test =
      logical === "and"
        ? target
        : logical === "or"
          ? f.createLogicalNot(target)
          : f.createEquality(target, f.createNull());
    this.cur.terminator = {
      kind: "branch",
      node,
      test,
      whenTrue: evaluateRight.id,
      whenFalse: join.id,
    };
    this.cur = evaluateRight;
    this.assign(target, this.expression(right)!);
    afterAssign?.();
    this.goto(join);
    this.cur = join;
  }

  binary(node: ts.BinaryExpression, discard: boolean): ts.Expression | undefined {
    const op = node.operatorToken.kind;
    if (op === SyntaxKind.CommaToken) {
      // The left operand runs for its effects, before the right one.
      this.expressionStatement(node.left);
      return this.expression(node.right, discard);
    }
    if (
      op === SyntaxKind.AmpersandAmpersandToken ||
      op === SyntaxKind.BarBarToken ||
      op === SyntaxKind.QuestionQuestionToken
    ) {
      const result = this.newTemp(node);
      this.assign(result, this.expression(node.left)!);
      const logical =
        op === SyntaxKind.AmpersandAmpersandToken
          ? "and"
          : op === SyntaxKind.BarBarToken
            ? "or"
            : "nullish";
      this.shortCircuit(node, result, logical, node.right);
      return result;
    }
    if (op === SyntaxKind.EqualsToken) {
      const left = assignedTarget(node.left);
      if (isIdentifier(left) || isObjectLiteralExpression(left) || isArrayLiteralExpression(left)) {
        if (this.containsDurable(left)) {
          if (isIdentifier(left)) return this.unsupported(left);
          const value = this.destructure(left, node.right, node);
          return discard ? undefined : value;
        }
        const written = this.checkedWrite(node);
        if (written) this.guardedWrites.add(written);
        const target = this.rewrite(left);
        let value = this.expression(node.right)!;
        // In its dead zone the write throws, after the right side has run.
        if (written) value = this.deadZoneGuard(written, value);
        this.assign(target, value, node);
        return discard ? undefined : isIdentifier(target) ? target : value;
      }
      if (isPropertyAccessExpression(left) || isElementAccessExpression(left)) {
        if (left.questionDotToken) return this.unsupported(left);
        const parts = isPropertyAccessExpression(left)
          ? [left.expression, node.right]
          : [left.expression, left.argumentExpression, node.right];
        const values = this.operandsAsTemps(parts);
        const target = isPropertyAccessExpression(left)
          ? f.createPropertyAccessExpression(values[0]!, left.name)
          : f.createElementAccessExpression(values[0]!, values[1]!);
        const value = values[values.length - 1]!;
        this.item(f.createExpressionStatement(f.createAssignment(target, value)));
        return discard ? undefined : value;
      }
      return this.unsupported(node);
    }
    if (op >= SyntaxKind.FirstCompoundAssignment && op <= SyntaxKind.LastCompoundAssignment) {
      const left = assignedTarget(node.left);
      const logical =
        op === SyntaxKind.AmpersandAmpersandEqualsToken
          ? "and"
          : op === SyntaxKind.BarBarEqualsToken
            ? "or"
            : op === SyntaxKind.QuestionQuestionEqualsToken
              ? "nullish"
              : undefined;
      if (
        (isPropertyAccessExpression(left) || isElementAccessExpression(left)) &&
        !left.questionDotToken
      ) {
        return this.compoundMember(node, left, logical, discard);
      }
      if (!isIdentifier(left) || this.containsDurable(left)) return this.unsupported(node);
      if (logical) {
        const target = this.rewrite(left);
        this.shortCircuit(node, target, logical, node.right);
        return discard ? undefined : target;
      }
      // x op= e: x is read before e is evaluated.
      const target = this.rewrite(left);
      const before = this.newTemp(left);
      this.assign(before, target);
      const value = this.expression(node.right)!;
      this.assign(target, f.createBinaryExpression(before, compoundToBinary(op), value), node);
      return discard ? undefined : target;
    }
    const [left, right] = this.operands([node.left, node.right]);
    return f.createBinaryExpression(left!, node.operatorToken, right!);
  }

  /**
   * `o.p op= e` / `o[k] op= e` with a durable await inside, in JavaScript's order: the object
   * and the key evaluated and kept, the property read, `e` evaluated (for `&&=`, `||=`,
   * `??=` only when the value read calls for it), then the property of the kept object and
   * key written. The key is converted where it is used, when read and when written, as V8
   * does.
   */
  compoundMember(
    node: ts.BinaryExpression,
    left: ts.PropertyAccessExpression | ts.ElementAccessExpression,
    logical: "and" | "or" | "nullish" | undefined,
    discard: boolean,
  ): ts.Expression | undefined {
    const keep = (part: ts.Expression): ts.Expression => {
      const value = this.expression(part)!;
      const temp = this.newTemp(part);
      this.assign(temp, value);
      return temp;
    };
    // A function made again on resume is not kept: it cannot be persisted, and it is the same
    // function after the await (`stats.sum += await …`; its properties are in the frame).
    const object = this.isRemadeFunction(left.expression, [node.right])
      ? this.expression(left.expression)!
      : this.heldFromOutside(left.expression, [node.right])
        ? this.heldObject(left.expression, left)
        : keep(left.expression);
    const key = isElementAccessExpression(left) ? keep(left.argumentExpression) : undefined;
    const target = () =>
      key
        ? f.createElementAccessExpression(object, key)
        : f.createPropertyAccessExpression(object, (left as ts.PropertyAccessExpression).name);
    const result = this.newTemp(node);
    this.assign(result, target());
    if (logical) {
      this.shortCircuit(node, result, logical, node.right, () => this.assign(target(), result));
    } else {
      const value = this.expression(node.right)!;
      const op = compoundToBinary(node.operatorToken.kind);
      this.assign(result, f.createBinaryExpression(result, op, value), node);
      this.assign(target(), result);
    }
    return discard ? undefined : result;
  }

  /**
   * Like `operands`, but every operand before the last is kept in a temporary — except a
   * function made again on resume (`counter.calls = await …`), which cannot be persisted and
   * is the same function after the await.
   */
  operandsAsTemps(list: readonly ts.Expression[]): ts.Expression[] {
    return list.map((operand, i) => {
      if (i < list.length - 1 && this.heldFromOutside(operand, list.slice(i + 1))) {
        return this.heldObject(operand, operand);
      }
      const value = this.expression(operand)!;
      if (i === list.length - 1 || this.isRemadeFunction(operand, list.slice(i + 1))) {
        return value;
      }
      const temp = this.newTemp(operand);
      this.assign(temp, value);
      return temp;
    });
  }

  call(node: ts.CallExpression | ts.NewExpression): ts.Expression {
    const args = [...(node.arguments ?? [])];
    const inner = skipOuterExpressions(node.expression);
    const readAtCall =
      !this.callees.has(node) &&
      !this.containsDurable(node.expression) &&
      (isIdentifier(inner) ? this.isStable(inner, args) : !this.mayChangeCallee(args));
    if (args.some((a) => this.containsDurable(a)) && !readAtCall) {
      // JavaScript reads the function (and its `this`) before the arguments.
      const ref = this.callees.get(node) ?? this.calleeBefore(node.expression, args);
      const values = f.createArrayLiteralExpression(
        this.operands(args, undefined, undefined, undefined, true),
      );
      const read = f.createArrowFunction(undefined, undefined, [], undefined, undefined, ref.read);
      const text = f.createStringLiteral(ref.text);
      return isNewExpression(node)
        ? f.createCallExpression(CONSTRUCT, undefined, [ref.box, read, values, text])
        : f.createCallExpression(CALL, undefined, [ref.box, read, ref.thisArg, values, text]);
    }
    const make = (callee: ts.Expression, values: ts.Expression[]): ts.Expression => {
      if (isNewExpression(node)) return f.createNewExpression(callee, undefined, values);
      // An optional call whose link was tested by `optionalChain` calls plainly; a call after
      // a `?.` stays in its chain.
      if (!isOptionalChain(node)) return f.createCallExpression(callee, undefined, values);
      const questionDot = this.optionalDone.has(node) ? undefined : node.questionDotToken;
      return f.createCallChain(callee, questionDot, undefined, values);
    };
    if (readAtCall && args.some((a) => this.containsDurable(a))) {
      // Nothing in the arguments can change the function but the steps themselves: it is
      // read at the call, from its object (and key) kept where the arguments may change them.
      return make(
        this.calleeReadAfter(node.expression, args),
        this.operands(args, undefined, undefined, undefined, true),
      );
    }
    // The durable awaits are in the callee: its object (and key) are evaluated and kept, and
    // the call reads the method from them right away, as JavaScript does.
    if (isPropertyAccessExpression(inner) && !isOptionalChain(inner)) {
      const object = this.expression(inner.expression)!;
      const temp = this.newTemp(inner.expression);
      this.assign(temp, object);
      return make(
        f.createPropertyAccessExpression(temp, inner.name),
        this.operands(args, undefined, undefined, undefined, true),
      );
    }
    return make(
      this.expression(node.expression)!,
      this.operands(args, undefined, undefined, undefined, true),
    );
  }

  /**
   * Whether a call's arguments may change the function it calls between the moment
   * JavaScript reads it and the call: they assign a member or a pattern, delete or
   * increment a member, call or construct anything but the durable operations themselves,
   * or hand an inline step (a function) to one.
   */
  mayChangeCallee(args: readonly ts.Expression[]): boolean {
    const visit = (n: ts.Node): boolean => {
      if (isAwaitExpression(n) && this.durableByAwait.has(n)) {
        const call = this.durableByAwait.get(n)!.call;
        return call.arguments.some((a) => isFunctionValue(a) || visit(a));
      }
      if (isFunctionLike(n) || isClassLike(n)) return false;
      if (isCallExpression(n) || isNewExpression(n) || isTaggedTemplateExpression(n)) {
        return true;
      }
      if (isDeleteExpression(n)) return true;
      if (
        isBinaryExpression(n) &&
        n.operatorToken.kind >= SyntaxKind.FirstAssignment &&
        n.operatorToken.kind <= SyntaxKind.LastAssignment &&
        !isIdentifier(skipOuterExpressions(n.left))
      ) {
        return true;
      }
      if (
        (isPrefixUnaryExpression(n) || isPostfixUnaryExpression(n)) &&
        (n.operator === SyntaxKind.PlusPlusToken || n.operator === SyntaxKind.MinusMinusToken) &&
        !isIdentifier(skipOuterExpressions(n.operand))
      ) {
        return true;
      }
      return forEachChild(n, visit) ?? false;
    };
    return args.some(visit);
  }

  /** Callees already read by `calleeBefore`, by their call (an optional call is tested first). */
  readonly callees = new Map<ts.Node, CalleeRef>();

  /**
   * The function of a call whose arguments hold a durable await, read before them as in
   * JavaScript: its object (and key) evaluated and kept, then the function itself read into
   * a volatile temporary — held while the run goes on in this process, never persisted
   * (a function cannot be). After a resume in the arguments it is read again from the kept
   * object and key, or the variable (restored); a function that cannot be read again — the
   * result of a call or of another expression — is reported.
   */
  calleeBefore(expression: ts.Expression, args: readonly ts.Expression[]): CalleeRef {
    const inner = skipOuterExpressions(expression);
    const text = expression.getText(this.sourceFile).replace(/\s+/g, " ");
    const keep = (part: ts.Expression): ts.Expression => {
      // A chain of names from the module or a global (`deps.logger`): not a variable of the
      // frame, so a kept copy would not be it anyway; held and read again after a resume.
      if (!this.containsDurable(part) && this.readAgain(part, args) && this.fromOutside(part)) {
        return this.heldObject(part, expression);
      }
      const value = this.expression(part)!;
      if (!this.containsDurable(part) && this.isStable(part, args)) return value;
      const temp = this.newTemp(part);
      this.assign(temp, value);
      return temp;
    };
    let read: ts.Expression;
    let thisArg: ts.Expression = f.createIdentifier("undefined");
    if (isPropertyAccessExpression(inner)) {
      const object = keep(inner.expression);
      read = access(inner, object);
      thisArg = object;
    } else if (isElementAccessExpression(inner)) {
      const object = keep(inner.expression);
      const key = keep(inner.argumentExpression);
      read = access(inner, object, key);
      thisArg = object;
    } else {
      if (!isIdentifier(inner) && !isFunctionExpression(inner) && !isArrowFunction(inner)) {
        this.sink.report(
          expression,
          DiagnosticCodes.unsupportedAwaitPosition,
          "The function called here is the value of an expression, read before the checkpoint in its arguments; after a resume there it could not be had again (a function cannot be persisted).",
          "Await the argument first (const value = await ctx.step(…)), then make the call.",
        );
      }
      read = this.rewrite(expression);
    }
    const box = f.createIdentifier(`${this.names.temp}${++this.tempCount}`);
    this.slots.set(box.text, {
      name: box.text,
      kind: "volatile",
      holds: undefined,
      description: `the function called at ${this.where(expression)}`,
    });
    this.item(
      f.createExpressionStatement(
        f.createAssignment(
          box,
          f.createObjectLiteralExpression([f.createPropertyAssignment("v", read)]),
        ),
      ),
      [],
      [read],
    );
    return { box, read, thisArg, text };
  }

  /**
   * The callee of a call whose arguments hold a durable await, to be read at the call: a
   * variable the arguments cannot assign, or a member of an object (and key) evaluated first.
   * A variable the arguments may change is reported: reading it later would call another
   * function than JavaScript does.
   */
  calleeReadAfter(expression: ts.Expression, args: readonly ts.Expression[]): ts.Expression {
    const inner = skipOuterExpressions(expression);
    const keep = (part: ts.Expression): ts.Expression => {
      if (this.isStable(part, args)) return this.rewrite(part);
      // `deps.logger.info(await …)`, `globalThis.Math.max(…)`: read again after a resume —
      // the arguments change nothing, as for the function.
      if (this.readAgain(part, args)) return this.heldObject(part, expression);
      const temp = this.newTemp(part);
      this.assign(temp, this.rewrite(part));
      return temp;
    };
    if (isPropertyAccessExpression(inner)) {
      const object = keep(inner.expression);
      this.throwWhenNullish(object, access(inner, object));
      return access(inner, object);
    }
    if (isElementAccessExpression(inner)) {
      const object = keep(inner.expression);
      const key = keep(inner.argumentExpression);
      this.throwWhenNullish(object, access(inner, object, key));
      return access(inner, object, key);
    }
    if (!this.isStable(inner, args) && !isFunctionExpression(inner) && !isArrowFunction(inner)) {
      // JavaScript evaluates the function before the arguments; held across the checkpoint in
      // them, it would have to be persisted.
      const text = expression.pos >= 0 ? expression.getText(this.sourceFile) : "";
      const shown = text.length > 0 && text.length <= 40 ? `\`${text}\`` : "the function";
      this.sink.report(
        expression,
        DiagnosticCodes.unsupportedAwaitPosition,
        isIdentifier(inner)
          ? `The function called here, ${shown}, may be assigned while its arguments are evaluated; JavaScript calls the one read before them, and a function cannot be persisted across the checkpoint in its arguments.`
          : `The function called here is the value of an expression, ${shown}, evaluated before its arguments: it would have to be kept across the checkpoint in its arguments, and a function cannot be persisted.`,
        `Await the argument first, then make the call: const value = await ctx.step(…); ${text.length > 0 && text.length <= 40 ? text : "f"}(value).`,
      );
    }
    return this.rewrite(expression);
  }

  /**
   * The object of a call (`part` of `callee`), held in a volatile temporary while the run goes
   * on in this process — it may hold functions, or be a built-in that would be stored as `{}`
   * — and read again after a resume: `($t === undefined ? part : $t.v)`. Boxed (`$t = { v }`)
   * so that an object that is nullish (an optional link, the target of `=`) is not read again
   * in the same run: a getter on the chain runs once, as in JavaScript.
   */
  heldObject(part: ts.Expression, callee: ts.Expression): ts.Expression {
    const box = f.createIdentifier(`${this.names.temp}${++this.tempCount}`);
    this.slots.set(box.text, {
      name: box.text,
      kind: "volatile",
      holds: undefined,
      description: `the object of the call at ${this.where(callee)}`,
    });
    const value = this.rewrite(part);
    const boxed = f.createObjectLiteralExpression([f.createPropertyAssignment("v", value)]);
    this.item(f.createExpressionStatement(f.createAssignment(box, boxed)), [], [value]);
    return f.createParenthesizedExpression(
      f.createConditionalExpression(
        f.createStrictEquality(box, f.createIdentifier("undefined")),
        undefined,
        this.rewrite(part),
        undefined,
        f.createPropertyAccessExpression(box, "v"),
      ),
    );
  }

  /**
   * Whether the object of a member target (`deps.stats.n += await …`, `deps.box.v = await …`)
   * is a chain of names from the module or a global (`fromOutside`) that `later` cannot
   * assign: held and read again after a resume (`heldObject`). A kept copy of such an object
   * could not be it after a crash, and fails the checkpoint when it holds functions.
   */
  heldFromOutside(part: ts.Expression, later: readonly ts.Node[]): boolean {
    const inner = skipOuterExpressions(part);
    return (
      (isPropertyAccessExpression(inner) || isElementAccessExpression(inner)) &&
      !this.containsDurable(part) &&
      this.fromOutside(part) &&
      this.readAgain(part, later as readonly ts.Expression[])
    );
  }

  /** Whether a chain of names starts from a name that is not the body's (module, global). */
  fromOutside(part: ts.Expression): boolean {
    let inner = skipOuterExpressions(part);
    while (isPropertyAccessExpression(inner) || isElementAccessExpression(inner)) {
      inner = skipOuterExpressions(inner.expression);
    }
    return isIdentifier(inner) && this.scopes.references.get(inner) === undefined;
  }

  /**
   * Whether the object of a call read after its arguments can be read again after a resume
   * instead of kept: a chain of property names (or keys that are literals or names the
   * arguments cannot assign) from a name the arguments cannot assign (`deps.logger`,
   * `globalThis.Math`, `order.items`, `deps[k]`). Reading it again gives
   * what was read before unless a getter runs again.
   */
  readAgain(part: ts.Expression, args: readonly ts.Expression[]): boolean {
    const inner = skipOuterExpressions(part);
    // A `?.` link is read again too: `undefined` again where it was, the chain stopping there.
    if (isPropertyAccessExpression(inner)) {
      return isIdentifier(inner.name) && this.readAgain(inner.expression, args);
    }
    if (isElementAccessExpression(inner)) {
      const key = skipOuterExpressions(inner.argumentExpression);
      return (
        (ts.isStringLiteral(key) ||
          ts.isNumericLiteral(key) ||
          (isIdentifier(key) && this.isStable(key, args))) &&
        this.readAgain(inner.expression, args)
      );
    }
    return isIdentifier(inner) && this.isStable(inner, args);
  }

  /**
   * Before the arguments of a call whose function is read after them: `object == null &&
   * read`, which reads the member — and throws JavaScript's own TypeError (`Cannot read
   * properties of undefined (reading 'm')`) — only when the object is nullish, as reading
   * the function before the arguments would; a getter still runs once, at the call.
   */
  throwWhenNullish(object: ts.Expression, read: ts.Expression): void {
    const inner = skipOuterExpressions(object);
    if (isLiteralExpression(inner) || isNoSubstitutionTemplateLiteral(inner)) return;
    const test = f.createEquality(object, f.createNull());
    this.item(f.createExpressionStatement(f.createLogicalAnd(test, read)));
  }

  /**
   * An optional chain with a durable await to the right of one of its `?.` links: when the
   * value before the link is nullish the whole chain is `undefined` and nothing to its right
   * runs — the step included. Tests the leftmost such link and explodes the rest of the
   * chain (again through here) only when the value is there. `undefined` when no link needs it.
   * `present` makes the value when the link's value is there (the chain itself by default),
   * `nullish` the value otherwise (`undefined`; `true` for a `delete` of the chain).
   */
  optionalChain(
    node: ts.Expression,
    present: () => ts.Expression = () => this.expression(node)!,
    nullish: ts.Expression = f.createIdentifier("undefined"),
  ): ts.Expression | undefined {
    const end = node.getEnd();
    let link:
      | ts.PropertyAccessExpression
      | ts.ElementAccessExpression
      | ts.CallExpression
      | undefined;
    for (let n: ts.Expression = node; ; ) {
      if (isNonNullChain(n) || isParenthesizedExpression(n)) {
        if (isParenthesizedExpression(n)) break;
        n = n.expression;
        continue;
      }
      if (
        !(isPropertyAccessExpression(n) || isElementAccessExpression(n) || isCallExpression(n)) ||
        !isOptionalChain(n)
      ) {
        break;
      }
      const from = n.expression.getEnd();
      if (
        n.questionDotToken &&
        !this.optionalDone.has(n) &&
        this.durableStarts.some((p) => p >= from && p < end)
      ) {
        link = n;
      }
      n = n.expression;
    }
    if (!link) return undefined;
    this.optionalDone.add(link);
    const rest = [node];
    let test: ts.Expression;
    if (isCallExpression(link)) {
      // f?.(…) / o.m?.(…): read and test the function now, call it after the arguments.
      if (this.containsDurable(link.expression)) return this.unsupported(link);
      const ref = this.calleeBefore(link.expression, link.arguments);
      this.callees.set(link, ref);
      test = f.createEquality(f.createPropertyAccessExpression(ref.box, "v"), f.createNull());
    } else {
      const held = this.heldFromOutside(link.expression, rest);
      const object = held
        ? this.heldObject(link.expression, link.expression)
        : this.expression(link.expression)!;
      let value = object;
      if (!held && !this.isStable(link.expression, rest)) {
        const temp = this.newTemp(link.expression);
        this.assign(temp, object);
        value = temp;
      }
      this.replaced.set(link.expression, value);
      test = f.createEquality(value, f.createNull());
    }
    const result = this.newTemp(node);
    const whenNullish = this.newBlock();
    const whenPresent = this.newBlock();
    const join = this.newBlock();
    this.cur.terminator = {
      kind: "branch",
      node: link,
      test,
      whenTrue: whenNullish.id,
      whenFalse: whenPresent.id,
    };
    this.cur = whenNullish;
    this.assign(result, nullish);
    this.goto(join);
    this.cur = whenPresent;
    this.assign(result, present());
    this.goto(join);
    this.cur = join;
    return result;
  }

  objectLiteral(node: ts.ObjectLiteralExpression, after: readonly ts.Node[] = []): ts.Expression {
    // Flatten to the operands evaluated in order (computed keys, values, spreads).
    const operands: ts.Expression[] = [];
    const objectSpreads = new Set<number>();
    const keepOut = new Map<number, (later: readonly ts.Node[]) => void>();
    const slots: Array<(values: ts.Expression[]) => ts.ObjectLiteralElementLike> = [];
    for (const property of node.properties) {
      if (isPropertyAssignment(property)) {
        const keyIndex = isComputedPropertyName(property.name)
          ? operands.push(property.name.expression) - 1
          : -1;
        const valueIndex = operands.push(property.initializer) - 1;
        const key = property.name;
        if (isProtoKey(key)) {
          keepOut.set(valueIndex, (later) => this.refuseKeptPrototype(property, later));
        }
        const given =
          isIdentifier(key) || ts.isStringLiteral(key) || ts.isNumericLiteral(key)
            ? key.text
            : undefined;
        slots.push((v) =>
          f.createPropertyAssignment(
            keyIndex >= 0 ? f.createComputedPropertyName(v[keyIndex]!) : key,
            given === undefined ? v[valueIndex]! : keepFunctionName(given, v[valueIndex]!),
          ),
        );
      } else if (isShorthandPropertyAssignment(property)) {
        const valueIndex = operands.push(property.name) - 1;
        // `{ __proto__ }` makes an own property; `__proto__: v` would set the prototype.
        const name = property.name.text;
        const key =
          name === "__proto__" ? f.createComputedPropertyName(f.createStringLiteral(name)) : name;
        slots.push((v) => f.createPropertyAssignment(key, v[valueIndex]!));
      } else if (isSpreadAssignment(property)) {
        const valueIndex = operands.push(property.expression) - 1;
        objectSpreads.add(valueIndex);
        slots.push((v) => f.createSpreadAssignment(v[valueIndex]!));
      } else if (property.name !== undefined && isComputedPropertyName(property.name)) {
        // A method or accessor with a computed key: the key runs code, so it is an operand in
        // order, before the properties after it (kept in a temporary when they could change
        // it); the function itself is made where the object is (validation keeps awaits out
        // of it).
        if (!this.containsDurable(property.name) && this.containsDurable(property))
          return this.unsupported(property as unknown as ts.Expression);
        const key = property.name.expression;
        const keyIndex = operands.push(key) - 1;
        slots.push((v) => {
          this.replaced.set(key, v[keyIndex]!);
          return this.rewrite(property);
        });
      } else {
        if (this.containsDurable(property))
          return this.unsupported(property as unknown as ts.Expression);
        const rewritten = this.rewrite(property);
        slots.push(() => rewritten);
      }
    }
    const values = this.operands(operands, objectSpreads, after, keepOut);
    const made = f.createObjectLiteralExpression(slots.map((make) => make(values)));
    // Its methods, accessors and functions named by computed keys are made with it (see
    // `rewrite`): in a loop, the object as a whole receives the boxes of its iteration.
    return boxedAsWhole(node) ? (this.captureBoxes(node, made) as ts.Expression) : made;
  }

  // ---- driver ------------------------------------------------------------------------

  run(): MachineIR {
    this.assignSlotNames();
    this.findBoxedSlots();
    this.findDeadZoneReads();
    this.findTouchPoints();
    const params = argumentParameters(this.body);
    const paramsTarget =
      params.length === 0
        ? undefined
        : f.createArrayLiteralExpression(
            params.map((param) => {
              if (this.containsDurable(param)) {
                // JavaScript does not allow it: there is no plain function to match.
                this.sink.report(
                  param,
                  DiagnosticCodes.syntax,
                  "`await` cannot be used in a parameter of an async function: JavaScript reports a SyntaxError there.",
                  isIdentifier(param.name)
                    ? `Give it no default and start the body with: if (${param.name.text} === undefined) ${param.name.text} = await ${this.ctxName}.step(…);`
                    : "Take the parameter whole and destructure it in the body: const { … = await ctx.step(…) } = parameter;",
                );
              }
              const target = bindingToAssignmentTarget(this.rewrite(param.name));
              if (param.dotDotDotToken) return f.createSpreadElement(target);
              return param.initializer
                ? f.createAssignment(target, this.rewrite(param.initializer))
                : target;
            }),
          );
    const paramNames = params.map((p, i) => (isIdentifier(p.name) ? p.name.text : `[${i}]`));
    this.cur = this.newBlock();
    const bodyNode = this.body.body!;
    if (isBlock(bodyNode)) {
      this.statements(bodyNode.statements);
    } else {
      const value = this.expression(bodyNode);
      this.terminate({ kind: "return", node: bodyNode, value });
    }
    return {
      blocks: this.blocks,
      regions: this.regions,
      checkpoints: this.checkpoints,
      paramsTarget,
      paramNames,
      ctxName: this.ctxName,
      slots: this.slots,
      hoistedFunctions: this.hoistedFunctions,
      recreatedFunctions: this.recreatedFunctions,
      chosenFunctions: this.chosenFunctions,
      propertyFunctions: this.propertyFunctions(),
      names: this.names,
      loopLabelled: this.loopLabelled,
      finallyTargets: new Map([...this.#jumpTargets].map(([k, v]) => [k, [...v]])),
      references: this.scopes.referenceIds,
    };
  }
}

/**
 * The iterated expression of a `for…of` as V8 prints it in "… is not iterable" (its
 * CallPrinter): names, `this`, simple literals and member chains as written (`a['k']` as
 * `a.k`), a call or `new` as its callee followed by `()` (V8 then says "… is not a function or
 * its return value is not iterable"), parentheses and TypeScript's assertions left out; ""
 * for any other expression, which V8 names by the value's type.
 */
function v8CallSite(node: ts.Expression): string {
  const name = (n: ts.Expression): string | undefined => {
    const e = skipOuterExpressions(n);
    if (isIdentifier(e)) return e.text;
    switch (e.kind) {
      case SyntaxKind.ThisKeyword:
        return "this";
      case SyntaxKind.NullKeyword:
        return "null";
      case SyntaxKind.TrueKeyword:
        return "true";
      case SyntaxKind.FalseKeyword:
        return "false";
    }
    if (isNumericLiteral(e) && /^(0|[1-9]\d{0,14})$/.test(e.text)) return e.text;
    if (isStringLiteral(e) && /^[\w$ ]*$/.test(e.text)) return `"${e.text}"`;
    if (isPropertyAccessExpression(e) && !e.questionDotToken && isIdentifier(e.name)) {
      const object = name(e.expression);
      return object === undefined ? undefined : `${object}.${e.name.text}`;
    }
    if (isElementAccessExpression(e) && !e.questionDotToken) {
      const object = name(e.expression);
      const key = skipOuterExpressions(e.argumentExpression);
      if (object === undefined) return undefined;
      if (isStringLiteral(key) && /^[A-Za-z_$][\w$]*$/.test(key.text)) {
        return `${object}.${key.text}`;
      }
      const inner = isIdentifier(key) || isNumericLiteral(key) ? name(key) : undefined;
      return inner === undefined ? undefined : `${object}[${inner}]`;
    }
    if ((isCallExpression(e) && !e.questionDotToken) || isNewExpression(e)) {
      return name(e.expression);
    }
    return undefined;
  };
  const e = skipOuterExpressions(node);
  const printed = name(e);
  if (printed === undefined) return "";
  return (isCallExpression(e) && !e.questionDotToken) || isNewExpression(e)
    ? `${printed}()`
    : printed;
}

function boundIdentifiers(name: ts.BindingName): ts.Identifier[] {
  if (isIdentifier(name)) return [name];
  return name.elements.flatMap((e) => (isBindingElement(e) ? boundIdentifiers(e.name) : []));
}

const mutableNamesByFile = new WeakMap<ts.SourceFile, ReadonlySet<string>>();

/**
 * Names declared anywhere in the module by `let`, `var`, a parameter or a `catch`: code may
 * change them. Any other name a body reads from outside is an import, a constant or a
 * global. (Computed once per file: a module may hold many workflows.)
 */
function outerMutableNames(sourceFile: ts.SourceFile): ReadonlySet<string> {
  const known = mutableNamesByFile.get(sourceFile);
  if (known) return known;
  const names = new Set<string>();
  const visit = (n: ts.Node): void => {
    if (isVariableDeclarationList(n) && (n.flags & (NodeFlags.Const | NodeFlags.Using)) === 0) {
      for (const d of n.declarations) for (const name of boundNames(d.name)) names.add(name);
    } else if (isParameter(n)) {
      for (const name of boundNames(n.name)) names.add(name);
    } else if (isCatchClause(n) && n.variableDeclaration) {
      for (const name of boundNames(n.variableDeclaration.name)) names.add(name);
    }
    forEachChild(n, visit);
  };
  visit(sourceFile);
  mutableNamesByFile.set(sourceFile, names);
  return names;
}

/**
 * Whether `id` is (part of) the target of an assignment, `++`/`--`, or a `for…of`/`for…in`
 * head — where an expression cannot stand in for it.
 */
/**
 * An assignment's target without the parentheses, `!` and type assertions around it
 * (`(x) = …`, `x! += …`, `(o.a as any) = …`), which change nothing it writes; a pattern as
 * it is.
 */
function assignedTarget(left: ts.Expression): ts.Expression {
  const inner = skipOuterExpressions(left);
  return isIdentifier(inner) ||
    isPropertyAccessExpression(inner) ||
    isElementAccessExpression(inner)
    ? inner
    : left;
}

function isAssignmentTarget(id: ts.Identifier): boolean {
  return assignmentOf(id) !== undefined;
}

/**
 * The expression or statement that writes `id` when it is an assignment's target: the `=`
 * or compound assignment (`id` its left or inside its destructuring pattern), the `++`/`--`,
 * or the `for … of`/`for … in` whose head it is.
 */
function assignmentOf(id: ts.Identifier): ts.Node | undefined {
  let node: ts.Node = id;
  for (let parent = node.parent; parent; node = parent, parent = parent.parent) {
    if (isBinaryExpression(parent)) {
      return parent.left === node &&
        parent.operatorToken.kind >= SyntaxKind.FirstAssignment &&
        parent.operatorToken.kind <= SyntaxKind.LastAssignment
        ? parent
        : undefined;
    }
    if (isPrefixUnaryExpression(parent) || isPostfixUnaryExpression(parent)) {
      return parent.operator === SyntaxKind.PlusPlusToken ||
        parent.operator === SyntaxKind.MinusMinusToken
        ? parent
        : undefined;
    }
    if (isForOfStatement(parent) || isForInStatement(parent)) {
      return parent.initializer === node ? parent : undefined;
    }
    const inPattern =
      isParenthesizedExpression(parent) ||
      isAsExpression(parent) ||
      isSatisfiesExpression(parent) ||
      isNonNullExpression(parent) ||
      isTypeAssertionExpression(parent) ||
      isArrayLiteralExpression(parent) ||
      isObjectLiteralExpression(parent) ||
      isShorthandPropertyAssignment(parent) ||
      (isPropertyAssignment(parent) && parent.initializer === node) ||
      isSpreadElement(parent) ||
      isSpreadAssignment(parent);
    if (!inPattern) return undefined;
  }
  return undefined;
}

/** Whether `node` assigns the variable `name` (directly, by destructuring, `++` or `--`). */
function assignsName(node: ts.Node, name: string): boolean {
  // The variable itself, or a name in a pattern — not the object of a member target.
  const mentions = (target: ts.Node): boolean => {
    if (isIdentifier(target)) return target.text === name;
    if (isShorthandPropertyAssignment(target)) return target.name.text === name;
    if (isPropertyAccessExpression(target) || isElementAccessExpression(target)) {
      return false;
    }
    if (isPropertyAssignment(target)) return mentions(target.initializer);
    return forEachChild(target, mentions) ?? false;
  };
  const visit = (n: ts.Node): boolean => {
    if (
      isBinaryExpression(n) &&
      n.operatorToken.kind >= SyntaxKind.FirstAssignment &&
      n.operatorToken.kind <= SyntaxKind.LastAssignment &&
      mentions(n.left)
    ) {
      return true;
    }
    if (
      (isPrefixUnaryExpression(n) || isPostfixUnaryExpression(n)) &&
      (n.operator === SyntaxKind.PlusPlusToken || n.operator === SyntaxKind.MinusMinusToken) &&
      mentions(n.operand)
    ) {
      return true;
    }
    if (isFunctionLike(n)) return false;
    return forEachChild(n, visit) ?? false;
  };
  return visit(node);
}

/** Whether evaluating `node` may run other code: a call, `new`, a tagged template, an await. */
function mayRunCode(node: ts.Node): boolean {
  if (
    isCallExpression(node) ||
    isNewExpression(node) ||
    isTaggedTemplateExpression(node) ||
    isAwaitExpression(node)
  ) {
    return true;
  }
  if (isFunctionLike(node)) return false;
  return forEachChild(node, mayRunCode) ?? false;
}

function compoundToBinary(op: ts.SyntaxKind): ts.BinaryOperator {
  const map: Partial<Record<ts.SyntaxKind, ts.BinaryOperator>> = {
    [SyntaxKind.PlusEqualsToken]: SyntaxKind.PlusToken,
    [SyntaxKind.MinusEqualsToken]: SyntaxKind.MinusToken,
    [SyntaxKind.AsteriskEqualsToken]: SyntaxKind.AsteriskToken,
    [SyntaxKind.AsteriskAsteriskEqualsToken]: SyntaxKind.AsteriskAsteriskToken,
    [SyntaxKind.SlashEqualsToken]: SyntaxKind.SlashToken,
    [SyntaxKind.PercentEqualsToken]: SyntaxKind.PercentToken,
    [SyntaxKind.LessThanLessThanEqualsToken]: SyntaxKind.LessThanLessThanToken,
    [SyntaxKind.GreaterThanGreaterThanEqualsToken]: SyntaxKind.GreaterThanGreaterThanToken,
    [SyntaxKind.GreaterThanGreaterThanGreaterThanEqualsToken]:
      SyntaxKind.GreaterThanGreaterThanGreaterThanToken,
    [SyntaxKind.AmpersandEqualsToken]: SyntaxKind.AmpersandToken,
    [SyntaxKind.BarEqualsToken]: SyntaxKind.BarToken,
    [SyntaxKind.CaretEqualsToken]: SyntaxKind.CaretToken,
  };
  return map[op]!;
}
