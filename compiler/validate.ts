import ts from "typescript";
import { DiagnosticCodes, type DiagnosticSink } from "./diagnostics.js";
import { contextParameter, type WorkflowBodyNode } from "./discover.js";
import { durationLiteralProblem } from "./duration-literal.js";
import type { ScopeInfo } from "./scopes.js";
import { isFunctionBoundary, skipOuterExpressions } from "./syntax.js";

// TypeScript's CommonJS entry exposes each export through a getter on an object of some
// 2,000 properties: `ts.isIdentifier(…)` or `ts.SyntaxKind.X` is a getter call each time.
// The walks ask such questions of every node, so they read them once, here.
const {
  SyntaxKind,
  isArrowFunction,
  isAwaitExpression,
  isCallExpression,
  isCaseClause,
  isClassLike,
  isComputedPropertyName,
  isDecorator,
  isDefaultClause,
  isFunctionExpression,
  isIdentifier,
  isNoSubstitutionTemplateLiteral,
  isNumericLiteral,
  isObjectLiteralExpression,
  isParenthesizedExpression,
  isPrefixUnaryExpression,
  isPropertyAccessExpression,
  isPropertyAssignment,
  isShorthandPropertyAssignment,
  isSpreadAssignment,
  isStringLiteral,
} = ts;

/** `ctx` methods that are durable operations this compiler turns into checkpoints. */
export const DURABLE_METHODS: ReadonlySet<string> = new Set([
  "step",
  "parallel",
  "gather",
  "batch",
  "map",
  "sleep",
  "sleepUntil",
  "waitForUser",
  "waitForEvent",
  "child",
]);

/** Durable methods whose arguments are `ctx.step(…)` calls, not awaited on their own. */
const GROUP_METHODS = new Set(["parallel", "gather"]);

/** `ctx` members from the design that this compiler does not support yet. */
const NOT_YET = new Set<string>();

/** Plain `ctx` properties that may be read anywhere in the body. */
const PLAIN_PROPERTIES = new Set(["runId", "workflowName", "sessionId"]);

const PROMISE_COMBINATORS = new Set(["all", "allSettled", "race", "any"]);

/** A durable `await ctx.method(...)` found in the body. */
export interface DurableAwait {
  readonly await: ts.AwaitExpression;
  readonly call: ts.CallExpression;
  readonly method: string;
  /**
   * For `ctx.waitForEvent(name, { match })` whose `match` may be a predicate (a function
   * written in the call, or a name): the expression, re-evaluated where the run resumes to
   * test each delivered payload (a waiting run holds no code).
   */
  readonly match?: ts.Expression;
}

/** What validation learned about a body. */
export interface Validation {
  readonly ctxName: string | undefined;
  /** Durable awaits in source order. */
  readonly durable: DurableAwait[];
}

function enclosingCombinator(node: ts.Node, stopAt: ts.Node): ts.CallExpression | undefined {
  for (let current = node.parent; current && current !== stopAt; current = current.parent) {
    if (
      isCallExpression(current) &&
      isPropertyAccessExpression(current.expression) &&
      isIdentifier(current.expression.expression) &&
      current.expression.expression.text === "Promise" &&
      PROMISE_COMBINATORS.has(current.expression.name.text)
    ) {
      return current;
    }
    if (isFunctionBoundary(current)) return undefined;
  }
  return undefined;
}

/**
 * Check a workflow body for what cannot be compiled (each a diagnostic with a fix hint) and
 * find its durable awaits, from what the body's walk (`resolveScopes`) met. Never throws on
 * bad input.
 */
export function validateBody(
  body: WorkflowBodyNode,
  scopes: ScopeInfo,
  sink: DiagnosticSink,
): Validation {
  const first = contextParameter(body);
  let ctxName: string | undefined;
  if (first) {
    if (isIdentifier(first.name)) ctxName = first.name.text;
    else {
      sink.report(
        first,
        DiagnosticCodes.ctxEscapes,
        "The workflow's first parameter (its context) cannot be destructured.",
        "Name it, e.g. async (ctx, ...args) => …, and call ctx.step(…) on it.",
      );
    }
  }
  const durable: DurableAwait[] = [];
  // Only the first parameter's own binding is the context: a local or a nested function's
  // parameter spelled the same is another variable, and its calls are plain calls.
  const ctxBinding =
    first && isIdentifier(first.name) ? scopes.declarations.get(first.name) : undefined;
  const isCtx = (id: ts.Identifier): boolean =>
    ctxBinding !== undefined && id.text === ctxName && scopes.references.get(id) === ctxBinding;
  const redeclared = ctxBinding?.scope.names.get(ctxBinding.name);
  if (ctxBinding && redeclared !== ctxBinding) {
    // `var ctx` or `function ctx` in the body's own scope is the parameter's variable again:
    // the context or not depending on whether and when it is assigned.
    sink.report(
      redeclared!.id,
      DiagnosticCodes.ctxEscapes,
      `\`${ctxBinding.name}\` is declared again in the workflow body, where it is the workflow context (the first parameter).`,
      "Give the variable another name.",
    );
  }
  // With an expression in its parameters (a default), a function's `var` of a parameter's
  // name is a second variable, initialized with the argument, and a closure in the parameters
  // (`g = () => n`) goes on reading the parameter. The machine has one variable for both.
  for (const [id, binding] of scopes.declarations) {
    if (binding.kind !== "param" || binding.id === id) continue;
    const read = scopes.referenceIds.find(
      (ref) =>
        scopes.references.get(ref) === binding &&
        ref.pos >= body.parameters.pos &&
        ref.end <= body.parameters.end &&
        ts.findAncestor(ref.parent, ts.isFunctionLike) !== body,
    );
    if (!read) continue;
    const file = body.getSourceFile();
    const at = file.getLineAndCharacterOfPosition(read.getStart(file));
    sink.report(
      id,
      DiagnosticCodes.unsupported,
      `\`var ${id.text}\` declares a variable beside the parameter \`${id.text}\`, which a function in the parameters reads (${at.line + 1}:${at.character + 1}): with a default among its parameters, a function's \`var\` of a parameter's name is a second variable, and the compiled workflow would have one.`,
      `Give the variable another name (\`var ${id.text}2 = …\`), or assign the parameter without \`var\`.`,
    );
  }
  // A named function expression's name is bound inside it to the function itself; compiled,
  // the body is a state machine the runtime drives, and no function is left for it to mean.
  const ownName = isFunctionExpression(body) && body.name ? body.name.text : undefined;

  const checkCtx = (id: ts.Identifier, nested: boolean): void => {
    const parent = id.parent;
    if (!isPropertyAccessExpression(parent) || parent.expression !== id) {
      sink.report(
        id,
        DiagnosticCodes.ctxEscapes,
        nested
          ? `\`${id.text}\` is captured by a nested function; the workflow context cannot leave the workflow body.`
          : `\`${id.text}\` is used as a value; the workflow context cannot be passed, stored or returned.`,
        `Call its methods directly in the workflow body: await ${id.text}.step(fn, …).`,
      );
      return;
    }
    const member = parent.name.text;
    if (member === "state" || member === "session") {
      // ctx.state.get/set/delete(…) and ctx.session.state.get/set/delete(…): state reads
      // and writes, committed with the next checkpoint; not checkpoints themselves.
      let holder: ts.Node = parent;
      if (member === "session") {
        const state = parent.parent;
        holder =
          isPropertyAccessExpression(state) &&
          state.expression === parent &&
          state.name.text === "state"
            ? state
            : parent;
      }
      const method = holder.parent;
      const ok =
        holder !== parent || member === "state"
          ? isPropertyAccessExpression(method) &&
            method.expression === holder &&
            ["get", "set", "delete"].includes(method.name.text) &&
            isCallExpression(method.parent) &&
            method.parent.expression === method
          : false;
      const path = member === "state" ? `${id.text}.state` : `${id.text}.session.state`;
      if (!ok || nested) {
        sink.report(
          parent,
          DiagnosticCodes.ctxEscapes,
          nested
            ? `\`${path}\` inside a nested function captures the workflow context.`
            : `\`${path}\` can only be used to call get, set or delete.`,
          `Call it in the workflow body: await ${path}.get("key").`,
        );
      }
      return;
    }
    if (PLAIN_PROPERTIES.has(member)) {
      if (nested) {
        sink.report(
          parent,
          DiagnosticCodes.ctxEscapes,
          `\`${id.text}.${member}\` inside a nested function captures the workflow context.`,
          `Read it into a const first: const ${member} = ${id.text}.${member};`,
        );
      }
      return;
    }
    if (NOT_YET.has(member)) {
      sink.report(
        parent,
        DiagnosticCodes.ctxMethodNotSupportedYet,
        `\`${id.text}.${member}\` is not supported yet by this version of the Ratchet compiler.`,
        "Use ctx.step for now; see docs/compiler.md for what is supported.",
      );
      return;
    }
    if (!DURABLE_METHODS.has(member)) {
      sink.report(
        parent,
        DiagnosticCodes.unknownCtxMember,
        `The workflow context has no member \`${member}\`.`,
        "See the WorkflowContext members in docs/getting-started.md.",
      );
      return;
    }
    const call = parent.parent;
    if (!isCallExpression(call) || call.expression !== parent) {
      sink.report(
        parent,
        DiagnosticCodes.ctxEscapes,
        `\`${id.text}.${member}\` is used as a value; it can only be called.`,
        `Call it where it is needed: await ${id.text}.${member}(…).`,
      );
      return;
    }
    if (nested && inClassKey(call, body)) {
      sink.report(
        call,
        DiagnosticCodes.unsupported,
        `\`${id.text}.${member}(…)\` is in a computed key of a class member: a class with a checkpoint in its definition is not supported yet.`,
        `Await it before the class, in a const, and use that as the key: const key = await ${id.text}.${member}(…); class C { [key]() { … } }.`,
      );
      return;
    }
    if (nested && inDecorator(call, body)) {
      sink.report(
        call,
        DiagnosticCodes.unsupported,
        `\`${id.text}.${member}(…)\` is in a decorator's arguments: a class with a checkpoint in its definition is not supported yet.`,
        `Await it before the class, in a const, and pass that: const value = await ${id.text}.${member}(…); @decorator(value).`,
      );
      return;
    }
    if (nested) {
      sink.report(
        call,
        DiagnosticCodes.ctxInNestedFunction,
        `\`${id.text}.${member}(…)\` is called inside a nested function; durable calls must be in the workflow body itself.`,
        "Move the call into the workflow body; to run several at once, use ctx.parallel or ctx.batch.",
      );
      return;
    }
    checkDurationLiterals(member, call, sink);
    if (GROUP_METHODS.has(member)) checkGroupBranches(id.text, member, call);
    if (member === "step" && groupOf(call) !== undefined) return;
    let awaited: ts.Node = call;
    while (isParenthesizedExpression(awaited.parent)) awaited = awaited.parent;
    if (!isAwaitExpression(awaited.parent)) {
      const combinator = enclosingCombinator(call, body);
      if (combinator) {
        sink.report(
          combinator,
          DiagnosticCodes.promiseCombinator,
          "Promise combinators over ctx calls are not durable: their branches would not be checkpointed.",
          "Use ctx.parallel(ctx.step(a), ctx.step(b)) or ctx.gather({ … }) instead.",
        );
      } else {
        sink.report(
          call,
          DiagnosticCodes.ctxCallNotAwaited,
          `\`${id.text}.${member}(…)\` must be awaited where it is called.`,
          `Write await ${id.text}.${member}(…).`,
        );
      }
      return;
    }
    let match: ts.Expression | undefined;
    if (member === "waitForEvent") {
      const options = call.arguments[1];
      const properties =
        options && isObjectLiteralExpression(options) ? options.properties : undefined;
      // The options object's `match` is its last property of that name, as in JavaScript.
      const last = properties
        ? properties.findLastIndex(
            (p) => p.name !== undefined && propertyNameText(p.name) === "match",
          )
        : -1;
      const candidate = last < 0 ? undefined : properties![last];
      // A spread or a computed key after it may replace it, with a value only known when
      // the call runs.
      const override = properties
        ?.slice(last + 1)
        .find(
          (p) =>
            last >= 0 &&
            (isSpreadAssignment(p) || (p.name !== undefined && isComputedPropertyName(p.name))),
        );
      if (
        override ||
        (candidate && !isPropertyAssignment(candidate) && !isShorthandPropertyAssignment(candidate))
      ) {
        sink.report(
          override ?? candidate!,
          DiagnosticCodes.ctxMethodNotSupportedYet,
          override
            ? "waitForEvent's match is written in the call, but this spread or computed key after it may replace it with a predicate the compiler cannot see: the predicate is evaluated again each time the run resumes to test an event."
            : "waitForEvent's match must be a property, match: …, not a method or accessor: the predicate is evaluated again each time the run resumes to test an event.",
          "Write match last in the options, after any spread: { ...defaults, match: (payload) => … }.",
        );
        return;
      }
      const property = candidate as
        | ts.PropertyAssignment
        | ts.ShorthandPropertyAssignment
        | undefined;
      const value =
        property === undefined
          ? undefined
          : isShorthandPropertyAssignment(property)
            ? property.name
            : skipOuterExpressions((property as ts.PropertyAssignment).initializer);
      if (value && !isObjectLiteralExpression(value)) {
        // A predicate is tested where the run resumes, so it is evaluated again there: only
        // an expression whose value is the same when re-evaluated — a function written here,
        // or a name — can be. (An object literal is a field match the engine tests itself.)
        if (isArrowFunction(value) || isFunctionExpression(value) || isIdentifier(value)) {
          match = value;
        } else {
          sink.report(
            value,
            DiagnosticCodes.ctxMethodNotSupportedYet,
            "waitForEvent's match must be written in the call (a function or an object of fields) or be a name: a predicate is evaluated again each time the run resumes to test an event, and this expression could give another value.",
            "Write the predicate in the call, { match: (payload) => … }, or name it first: const accepts = (payload) => …; { match: accepts }.",
          );
          return;
        }
      }
    }
    durable.push({ await: awaited.parent, call, method: member, ...(match ? { match } : {}) });
  };

  /**
   * A durable `await` inside a branch of `ctx.parallel(…)`/`ctx.gather({…})` after the
   * first: the branches before it are made before it (a `ctx.step(…)` is a description of
   * the step, holding its function), and they would have to be stored at its checkpoint.
   */
  const checkGroupBranches = (ctx: string, member: string, call: ts.CallExpression): void => {
    const first = call.arguments[0];
    const branches: ts.Node[] =
      member === "gather" && first && isObjectLiteralExpression(first)
        ? [...first.properties, ...call.arguments.slice(1)]
        : [...call.arguments];
    for (const [i, branch] of branches.entries()) {
      if (i === 0) continue;
      const inner = durableAwaitIn(branch);
      if (!inner) continue;
      sink.report(
        inner,
        DiagnosticCodes.unsupportedAwaitPosition,
        `A durable await inside a branch of \`${ctx}.${member}(…)\` after the first is not supported: the branches before it would be held across its checkpoint, and a step not yet run cannot be stored.`,
        `Await it before the call, in a const, and pass that: const value = ${inner.getText()}; then ${ctx}.step(…, value) in the branch.`,
      );
      return;
    }
  };

  /** A durable `await` (of a `ctx` call) in `node`, not inside a nested function. */
  const durableAwaitIn = (node: ts.Node): ts.AwaitExpression | undefined => {
    let found: ts.AwaitExpression | undefined;
    const visit = (n: ts.Node): void => {
      if (found || isFunctionBoundary(n) || isClassLike(n)) return;
      if (isAwaitExpression(n)) {
        const operand = skipOuterExpressions(n.expression);
        if (
          isCallExpression(operand) &&
          isPropertyAccessExpression(operand.expression) &&
          isIdentifier(operand.expression.expression) &&
          isCtx(operand.expression.expression)
        ) {
          found = n;
          return;
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(node);
    return found;
  };

  /** The `ctx.parallel(…)`/`ctx.gather({…})` call a `ctx.step(…)` is a direct branch of. */
  const groupOf = (call: ts.CallExpression): ts.CallExpression | undefined => {
    let parent = call.parent;
    if (isPropertyAssignment(parent) && isObjectLiteralExpression(parent.parent)) {
      parent = parent.parent.parent;
    }
    if (
      isCallExpression(parent) &&
      isPropertyAccessExpression(parent.expression) &&
      isIdentifier(parent.expression.expression) &&
      isCtx(parent.expression.expression) &&
      GROUP_METHODS.has(parent.expression.name.text)
    ) {
      return parent;
    }
    return undefined;
  };

  const forbid = (node: ts.Node, what: string, hint: string): void => {
    sink.report(
      node,
      DiagnosticCodes.forbiddenConstruct,
      `${what} cannot be used in a workflow body.`,
      hint,
    );
  };

  // The body's walk (compiler/scopes.ts) met these in source order, skipping type annotations.
  for (const { node, nested, ownThis } of scopes.contextual) {
    switch (node.kind) {
      case SyntaxKind.Identifier: {
        const id = node as ts.Identifier;
        if (isCtx(id)) checkCtx(id, nested);
        else if (id.text === ownName && scopes.references.get(id) === undefined) {
          forbid(
            id,
            `\`${id.text}\`, the workflow function's own name,`,
            `Compiled, the body is a state machine the runtime drives, not a function to call or pass. To run the workflow again, start it as a child: await ${ctxName ?? "ctx"}.child(<the workflow's const>, [args]); for its name, read ${ctxName ?? "ctx"}.workflowName.`,
          );
        } else if (id.text === "arguments" && !ownThis) {
          forbid(id, "`arguments`", "Name the parameters, or use a rest parameter (...args).");
        } else if (id.text === "eval" && isCallExpression(id.parent)) {
          forbid(id, "`eval`", "Call the code directly; eval could read and write any variable.");
        }
        break;
      }
      case SyntaxKind.WithStatement:
        forbid(node, "`with`", "Refer to the object's properties explicitly.");
        break;
      case SyntaxKind.YieldExpression:
        if (!nested) forbid(node, "`yield`", "Use await ctx.step(…) for durable work.");
        break;
      case SyntaxKind.ThisKeyword:
        if (!ownThis) {
          forbid(node, "`this`", "Pass what you need as a workflow argument or a step result.");
        }
        break;
      case SyntaxKind.SuperKeyword:
        if (!ownThis) forbid(node, "`super`", "Call the method on an explicit object.");
        break;
      case SyntaxKind.MetaProperty:
        if ((node as ts.MetaProperty).keywordToken === SyntaxKind.NewKeyword && !ownThis) {
          forbid(node, "`new.target`", "A workflow body is never called with new.");
        }
        break;
    }
  }
  refuseSplitTypeScriptValues(scopes.typeScriptValues, durable, sink);
  // In source order. Nested awaits start inside their outer one, so `pos` orders them as their
  // first tokens do, without scanning trivia (or climbing to the file) per comparison.
  durable.sort((a, b) => a.await.pos - b.await.pos);
  return { ctxName, durable };
}

/**
 * Whether `node` is in a class member's computed key, evaluated where the class is defined,
 * with no function between (a class inside a method of the class does not count).
 */
/**
 * Whether `node` is in a decorator's expression, evaluated where the class is defined, with
 * no function between.
 */
function inDecorator(node: ts.Node, body: ts.Node): boolean {
  for (let current = node.parent; current && current !== body; current = current.parent) {
    if (isDecorator(current)) return true;
    if (isFunctionBoundary(current)) return false;
  }
  return false;
}

function inClassKey(node: ts.Node, body: ts.Node): boolean {
  let child = node;
  for (let current = node.parent; current && current !== body; current = current.parent) {
    if (isComputedPropertyName(current) && isClassLike(current.parent.parent)) return true;
    if (isFunctionBoundary(current) && (current as ts.SignatureDeclaration).name !== child) {
      return false;
    }
    child = current;
  }
  return false;
}

/**
 * An `enum` (or `namespace`) is a variable that the TypeScript stripper initializes where it
 * is declared, with an IIFE the compiler never sees: in a statement list split at a
 * checkpoint, the code after the checkpoint would run, on resume, without it. Refused there,
 * naming it; kept whole in a block without a checkpoint, it is correct as written.
 */
function refuseSplitTypeScriptValues(
  declarations: readonly (ts.EnumDeclaration | ts.ModuleDeclaration)[],
  durable: readonly DurableAwait[],
  sink: DiagnosticSink,
): void {
  for (const declaration of declarations) {
    // `declare enum`/`declare namespace` emit nothing.
    if (declaration.modifiers?.some((m) => m.kind === SyntaxKind.DeclareKeyword)) continue;
    // A switch with a checkpoint is split as a whole, all its cases.
    const list =
      isCaseClause(declaration.parent) || isDefaultClause(declaration.parent)
        ? declaration.parent.parent
        : declaration.parent;
    if (!durable.some((d) => d.await.pos >= list.pos && d.await.end <= list.end)) continue;
    const what = declaration.kind === SyntaxKind.EnumDeclaration ? "enum" : "namespace";
    const name = declaration.name.text;
    const line = declaration
      .getSourceFile()
      .getLineAndCharacterOfPosition(declaration.getStart()).line;
    sink.report(
      declaration.name,
      DiagnosticCodes.unsupported,
      `The ${what} \`${name}\` (line ${line + 1}) is declared in a part of the workflow body that a checkpoint splits: when the run resumes after the checkpoint, the code there would run without it.`,
      `Declare the ${what} at the top level of the module, outside the workflow (its members are constants), or in a block with no checkpoint inside.`,
    );
  }
}

/**
 * A duration written as a literal where the runtime reads one — `ctx.sleep("…")` and the
 * `timeout` of `ctx.waitForEvent`/`ctx.waitForUser` — is checked now rather than when the
 * run gets there.
 */
function checkDurationLiterals(
  member: string,
  call: ts.CallExpression,
  sink: DiagnosticSink,
): void {
  const candidates: ts.Expression[] = [];
  const [first, second] = call.arguments;
  if (member === "sleep" && first !== undefined) candidates.push(first);
  const options = member === "waitForEvent" ? second : member === "waitForUser" ? first : undefined;
  if (options !== undefined && isObjectLiteralExpression(options)) {
    for (const property of options.properties) {
      if (
        isPropertyAssignment(property) &&
        isIdentifier(property.name) &&
        property.name.text === "timeout"
      ) {
        candidates.push(property.initializer);
      }
    }
  }
  for (const candidate of candidates) {
    const value =
      isStringLiteral(candidate) || isNoSubstitutionTemplateLiteral(candidate)
        ? candidate.text
        : isNumericLiteral(candidate)
          ? Number(candidate.text)
          : isPrefixUnaryExpression(candidate) &&
              candidate.operator === SyntaxKind.MinusToken &&
              isNumericLiteral(candidate.operand)
            ? -Number(candidate.operand.text)
            : undefined;
    if (value === undefined) continue;
    const problem = durationLiteralProblem(value);
    if (problem === undefined) continue;
    sink.report(
      candidate,
      DiagnosticCodes.invalidDuration,
      `The duration ${candidate.getText()} ${problem}.`,
      'Use a whole number of milliseconds, or a string like "500ms", "30s", "15m", "1.5h", "7d", "2 weeks".',
    );
  }
}

/** The text of a property name written as an identifier or a string literal. */
function propertyNameText(name: ts.PropertyName): string | undefined {
  return isIdentifier(name) || isStringLiteral(name) ? name.text : undefined;
}
