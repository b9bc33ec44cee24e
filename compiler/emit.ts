import ts from "typescript";
import type { WorkflowBodyNode } from "./discover.js";
import { Completion } from "./explode.js";
import type { Block, MachineIR, Terminator } from "./ir.js";
import { handlerOf } from "./liveness.js";
import type { WorkflowManifest } from "./manifest.js";
import { codeExpression } from "./print.js";

// TypeScript's CommonJS entry exposes each export through a getter on an object of some
// 2,000 properties: `ts.isIdentifier(…)` or `ts.SyntaxKind.X` is a getter call each time.
// The walks ask such questions of every node, so they read them once, here.
const { NodeFlags, SyntaxKind, forEachChild, isFunctionLike, isReturnStatement, isThrowStatement } =
  ts;

const f = ts.factory;

/**
 * The frame key beside a slot's own that marks it as not yet initialized (in its temporal
 * dead zone) at the checkpoint. `/` never occurs in an identifier, and no temporary's role
 * is `tdz`, so it is no other variable's key; it is not in the checkpoint's `live` list, so a
 * frame without it (stored by older code) resumes with the variable initialized.
 */
export function deadKey(key: string): string {
  return `${key}/tdz`;
}

/**
 * The frame key beside a function's own (a function made again on resume is not persisted)
 * that holds the properties the body gave it (`counter.calls`), so a resume puts them back on
 * the function made again. Like `deadKey`, it is no other variable's key and not in the
 * checkpoint's `live` list: a frame without it resumes with the function as made.
 */
export function propertiesKey(key: string): string {
  return `${key}/props`;
}

/**
 * The machine's function name, for stack traces: `ratchet$` and the workflow's name. The name
 * of a function expression is a binding inside it, so it must be none the body can mean: the
 * workflow's own name would shadow a module function, step or global spelled the same
 * (`notify`, `process`, `Date`). A body that spells the candidate gets a numbered one.
 */
function machineName(name: string, body: WorkflowBodyNode): string {
  const base = `ratchet$${name.replace(/[^\w$]/g, "_")}`;
  const text = body.getSourceFile().text.slice(body.pos, body.end);
  let candidate = base;
  for (let n = 2; spells(text, candidate); n++) candidate = `${base}_${n}`;
  return candidate;
}

/** Whether `text` holds `name` as a whole identifier. */
function spells(text: string, name: string): boolean {
  for (let at = text.indexOf(name); at >= 0; at = text.indexOf(name, at + 1)) {
    const after = text[at + name.length];
    if (after === undefined || !/[\w$]/.test(after)) return true;
  }
  return false;
}

/**
 * The manifest as the compiled module carries it: without what the runtime derives from the
 * rest (`completeMachine` in runtime/machine.ts) — the id where it is `<file>#<name>`, and a
 * checkpoint's `index` where it is its place in the list (from 1) and its `kind` where it is
 * how its id starts (the `ctx` method, before any `:`, `~` or `#`). `transform()` returns the
 * whole manifest; the version hash is computed from it, not from what is printed.
 */
function carriedManifest(manifest: WorkflowManifest): Record<string, unknown> {
  const carried: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(manifest)) {
    if (key === "id" && value === `${manifest.file}#${manifest.name}`) continue;
    carried[key] =
      key === "checkpoints"
        ? manifest.checkpoints.map(({ index, kind, ...checkpoint }, i) => ({
            ...(index === i + 1 ? {} : { index }),
            ...checkpoint,
            ...(kind === kindOf(checkpoint.id) ? {} : { kind }),
          }))
        : value;
  }
  return carried;
}

/** The `ctx` method a checkpoint id starts with (`step` of `step:charge~3fa2c1#2`). */
function kindOf(id: string): string {
  return /^[^:~#]*/.exec(id)![0];
}

function containsFunction(node: ts.Node): boolean {
  return isFunctionLike(node) || (forEachChild(node, containsFunction) ?? false);
}

function mapped<T extends ts.Node>(node: T, original: ts.Node): T {
  return ts.setSourceMapRange(node, original);
}

/**
 * Emit the state machine for one workflow: an async generator that restores the live
 * variables of the frame it is given, jumps to the frame's resume point, and yields at each
 * checkpoint `[checkpoint number, durable operation, live variables]` to the runtime,
 * which commits them and sends the operation's result back. Exceptions are routed to the
 * `catch`/`finally` blocks of the `try` regions by the state they were raised in.
 */
export function emitMachine(
  ir: MachineIR,
  manifest: WorkflowManifest,
  body: WorkflowBodyNode,
  keys: ReadonlyMap<string, string>,
  withProperties: readonly (readonly string[])[] = [],
): ts.Expression {
  const { names } = ir;
  // The frame stores variables under their stable keys (compiler/names.ts), which are not
  // identifiers: `{ "key": slot }` both to yield them and to restore them.
  const slotOf = new Map([...keys].map(([slot, key]) => [key, slot]));
  const keyed = (slot: string, key = keys.get(slot)!) =>
    key === slot
      ? f.createShorthandPropertyAssignment(slot)
      : f.createPropertyAssignment(f.createStringLiteral(key), id(slot));
  const id = (name: string) => f.createIdentifier(name);
  const num = (n: number) => f.createNumericLiteral(n);
  const assign = (target: ts.Expression, value: ts.Expression) =>
    f.createExpressionStatement(f.createAssignment(target, value));
  const persisted = [...ir.slots.values()]
    .filter((s) => s.kind !== "function" && s.kind !== "volatile")
    .map((s) => s.name);

  // Every jump emitted here stands in the machine's `switch` (or an `if` or `switch` inside
  // it), never in a loop of the user's: a plain `continue` means the machine's loop.
  const jump = (target: number): ts.Statement[] => [
    assign(id(names.pc), num(target)),
    f.createContinueStatement(),
  ];

  const finallyEnd = (regionIndex: number): ts.Statement[] => {
    const region = ir.regions[regionIndex]!;
    const completion = id(region.completionSlot!);
    const field = (name: string) => f.createPropertyAccessExpression(completion, name);
    const outer = region.outerFinally >= 0 ? ir.regions[region.outerFinally]! : undefined;
    const handOn = outer
      ? [assign(id(outer.completionSlot!), completion), ...jump(outer.finallyBlock!)]
      : [];
    const statements: ts.Statement[] = [
      f.createIfStatement(
        f.createStrictEquality(completion, id("undefined")),
        f.createBlock(jump(region.afterBlock)),
      ),
      f.createIfStatement(
        f.createStrictEquality(field("t"), num(Completion.throw)),
        f.createThrowStatement(field("v")),
      ),
      f.createIfStatement(
        f.createStrictEquality(field("t"), num(Completion.return)),
        f.createBlock(outer ? handOn : [f.createReturnStatement(field("v"))]),
      ),
    ];
    if (outer && region.forwardJumps.size > 0) {
      statements.push(
        f.createSwitchStatement(
          field("v"),
          f.createCaseBlock([
            ...[...region.forwardJumps].map((target, i, all) =>
              f.createCaseClause(num(target), i === all.length - 1 ? handOn : []),
            ),
          ]),
        ),
      );
    }
    statements.push(assign(id(names.pc), field("v")), f.createContinueStatement());
    return statements;
  };

  /** The live variables of a checkpoint, as yielded: `{ key: slot, … }`, or getters. */
  const liveObject = (index: number, readAfter: boolean): ts.ObjectLiteralExpression => {
    const checkpoint = manifest.checkpoints[index - 1]!;
    const property = (key: string, value: ts.Expression): ts.ObjectLiteralElementLike =>
      readAfter
        ? f.createGetAccessorDeclaration(
            undefined,
            /^[A-Za-z_$][\w$]*$/.test(key) ? key : f.createStringLiteral(key),
            [],
            undefined,
            f.createBlock([f.createReturnStatement(value)]),
          )
        : f.createPropertyAssignment(
            /^[A-Za-z_$][\w$]*$/.test(key) ? key : f.createStringLiteral(key),
            value,
          );
    // The own properties of the functions the body gave some and still refers to, read by
    // the runtime's `$props` (`undefined` when there are none) into the same frame, so an
    // object both a property and a variable hold is stored once.
    const properties = (withProperties[index - 1] ?? []).map((slot) =>
      property(
        propertiesKey(keys.get(slot)!),
        f.createCallExpression(
          f.createPropertyAccessExpression(id(ir.ctxName), "$props"),
          undefined,
          [id(slot)],
        ),
      ),
    );
    return f.createObjectLiteralExpression([
      ...checkpoint.live.flatMap((key) => {
        const slot = slotOf.get(key)!;
        const info = ir.slots.get(slot);
        if (info?.deadZone) {
          // Not yet initialized: stored as undefined (an empty box), with `<key>/tdz: true`
          // beside it.
          const value = info.boxed
            ? f.createPropertyAccessChain(id(slot), f.createToken(SyntaxKind.QuestionDotToken), "v")
            : id(slot);
          const dead = f.createStrictEquality(value, id(names.tdz));
          const empty = info.boxed
            ? f.createObjectLiteralExpression([f.createPropertyAssignment("v", id("undefined"))])
            : id("undefined");
          return [
            property(
              key,
              f.createConditionalExpression(dead, undefined, empty, undefined, id(slot)),
            ),
            property(deadKey(key), dead),
          ];
        }
        return [
          readAfter
            ? f.createGetAccessorDeclaration(
                undefined,
                key === slot ? slot : f.createStringLiteral(key),
                [],
                undefined,
                f.createBlock([f.createReturnStatement(id(slot))]),
              )
            : keyed(slot, key),
        ];
      }),
      ...properties,
    ]);
  };

  /**
   * At the resume point of a wait whose `match` may be a predicate: test the delivered
   * payload (`match` evaluated again: a waiting run holds no code) and, when it is refused,
   * wait again at the same checkpoint — same variables, same deadline — and test the next.
   * `if (!ctx.$accepts(match, sent)) { sent = yield [n, ctx.$waitAgain(), live]; continue; }`
   */
  const recheck = (checkpoint: number, match: ts.Expression): ts.Statement => {
    const ctx = id(ir.ctxName);
    const again = f.createArrayLiteralExpression([
      num(checkpoint),
      f.createCallExpression(f.createPropertyAccessExpression(ctx, "$waitAgain"), undefined, []),
      liveObject(checkpoint, false),
    ]);
    return f.createIfStatement(
      f.createLogicalNot(
        f.createCallExpression(f.createPropertyAccessExpression(ctx, "$accepts"), undefined, [
          match,
          id(names.sent),
        ]),
      ),
      f.createBlock([
        assign(id(names.sent), f.createYieldExpression(undefined, again)),
        f.createContinueStatement(),
      ]),
    );
  };

  /**
   * A block's own jump at its end: to the block emitted right after it, the `case` it falls
   * through to, it only sets the state (which the `catch` routing and a wait's recheck read).
   */
  const jumpOut = (target: number, next: number | undefined): ts.Statement[] =>
    target === next ? [assign(id(names.pc), num(target))] : jump(target);

  const emitTerminator = (t: Terminator, next: number | undefined): ts.Statement[] => {
    switch (t.kind) {
      case "goto":
        return jumpOut(t.target, next);
      case "branch":
        return [
          mapped(
            assign(
              id(names.pc),
              f.createConditionalExpression(
                t.test,
                undefined,
                num(t.whenTrue),
                undefined,
                num(t.whenFalse),
              ),
            ),
            t.node,
          ),
          f.createContinueStatement(),
        ];
      case "durable": {
        // An inline step may write workflow variables while it runs: the runtime reads the
        // live variables through getters after the step, so the frame holds what it left.
        const live = liveObject(t.checkpoint, containsFunction(t.call));
        const request = f.createArrayLiteralExpression([num(t.checkpoint), t.call, live]);
        return [
          mapped(assign(id(names.sent), f.createYieldExpression(undefined, request)), t.node),
          ...jumpOut(t.resume, next),
        ];
      }
      case "return":
        return [mapped(f.createReturnStatement(t.value), t.node)];
      case "throw":
        return [mapped(f.createThrowStatement(t.value), t.node)];
      case "finallyEnd":
        return finallyEnd(t.region);
      case "end":
        return [f.createReturnStatement()];
    }
  };

  const emitBlock = (block: Block, next: number | undefined): ts.CaseClause => {
    const statements: ts.Statement[] = [];
    if (block.id === 0 && ir.paramsTarget) {
      statements.push(
        assign(ir.paramsTarget, f.createPropertyAccessExpression(id(names.frame), "args")),
      );
    }
    for (const item of block.items) {
      statements.push(
        item.recheck
          ? mapped(recheck(item.recheck.checkpoint, item.recheck.match), item.statement)
          : item.statement,
      );
    }
    const last = statements[statements.length - 1];
    // A block that already returned or threw needs no jump after it.
    if (!(last && (isReturnStatement(last) || isThrowStatement(last)))) {
      statements.push(...emitTerminator(block.terminator, next));
    }
    return f.createCaseClause(num(block.id), statements);
  };

  const prologue: ts.Statement[] = [];
  const deadZone = [...ir.slots.values()].filter((s) => s.deadZone);
  if (deadZone.length > 0) {
    // The value of a slot in its dead zone: a fresh object no user code can hold.
    prologue.push(
      f.createVariableStatement(
        undefined,
        f.createVariableDeclarationList([
          f.createVariableDeclaration(
            names.tdz,
            undefined,
            undefined,
            f.createObjectLiteralExpression([]),
          ),
        ]),
      ),
    );
  }
  if (persisted.length > 0) {
    prologue.push(
      f.createVariableStatement(
        undefined,
        f.createVariableDeclarationList(persisted.map((name) => f.createVariableDeclaration(name))),
      ),
    );
  }
  const volatile = [...ir.slots.values()].filter((s) => s.kind === "volatile");
  if (volatile.length > 0) {
    prologue.push(
      f.createVariableStatement(
        undefined,
        f.createVariableDeclarationList(volatile.map((s) => f.createVariableDeclaration(s.name))),
      ),
    );
  }
  prologue.push(...ir.hoistedFunctions, ...ir.recreatedFunctions);
  prologue.push(
    f.createVariableStatement(
      undefined,
      f.createVariableDeclarationList([
        f.createVariableDeclaration(
          names.pc,
          undefined,
          undefined,
          f.createPropertyAccessExpression(id(names.frame), "pc"),
        ),
        f.createVariableDeclaration(
          names.sent,
          undefined,
          undefined,
          f.createPropertyAccessExpression(id(names.frame), "sent"),
        ),
      ]),
    ),
  );
  if (persisted.length > 0) {
    const restored = persisted.filter((name) => !ir.slots.get(name)?.hoisted);
    if (restored.length > 0) {
      prologue.push(
        assign(
          f.createObjectLiteralExpression(restored.map((name) => keyed(name))),
          f.createPropertyAccessExpression(id(names.frame), "vars"),
        ),
      );
    }
    // A `var` a function declaration declares too keeps the function (made above) unless
    // the frame holds a value for it: the run's start, or a checkpoint it is not live at.
    for (const name of persisted) {
      if (!ir.slots.get(name)?.hoisted) continue;
      const key = f.createStringLiteral(keys.get(name)!);
      const vars = f.createPropertyAccessExpression(id(names.frame), "vars");
      prologue.push(
        f.createIfStatement(
          f.createBinaryExpression(key, SyntaxKind.InKeyword, vars),
          assign(id(name), f.createElementAccessExpression(vars, key)),
        ),
      );
    }
    for (const slot of deadZone) {
      if (slot.kind === "function" || slot.kind === "volatile") continue;
      prologue.push(
        f.createIfStatement(
          f.createElementAccessExpression(
            f.createPropertyAccessExpression(id(names.frame), "vars"),
            f.createStringLiteral(deadKey(keys.get(slot.name)!)),
          ),
          assign(
            id(slot.name),
            slot.boxed
              ? f.createObjectLiteralExpression([f.createPropertyAssignment("v", id(names.tdz))])
              : id(names.tdz),
          ),
        ),
      );
    }
  }

  // Functions chosen by a conditional, made again from the branch the restored frame names.
  prologue.push(...ir.chosenFunctions);
  // Put back the properties the frame kept for functions made again above.
  for (const slot of new Set(withProperties.flat())) {
    prologue.push(
      f.createExpressionStatement(
        f.createCallExpression(
          f.createPropertyAccessExpression(id(ir.ctxName), "$restoreProps"),
          undefined,
          [
            id(slot),
            f.createElementAccessExpression(
              f.createPropertyAccessExpression(id(names.frame), "vars"),
              f.createStringLiteral(propertiesKey(keys.get(slot)!)),
            ),
          ],
        ),
      ),
    );
  }

  // The cases in the order control mostly flows: each block is followed by the one its own jump
  // goes to, if not placed yet, so it falls through to it; else by the first block not placed.
  const layout: Block[] = [];
  const placed = new Set<number>();
  const byId = new Map(ir.blocks.map((b) => [b.id, b]));
  for (const start of ir.blocks) {
    for (let block = byId.get(start.id); block && !placed.has(block.id); ) {
      placed.add(block.id);
      layout.push(block);
      const t = block.terminator;
      const to = t.kind === "goto" ? t.target : t.kind === "durable" ? t.resume : undefined;
      block = to === undefined ? undefined : byId.get(to);
    }
  }
  let dispatch: ts.Statement = f.createSwitchStatement(
    id(names.pc),
    f.createCaseBlock(layout.map((block, i) => emitBlock(block, layout[i + 1]?.id))),
  );
  // A resumed wait that timed out throws where the workflow awaited it: in the state it
  // resumes in, so the enclosing try regions see it.
  const thrown = f.createPropertyAccessExpression(id(names.frame), "thrown");
  const rethrow = f.createIfStatement(
    f.createStrictInequality(thrown, id("undefined")),
    f.createBlock([
      f.createVariableStatement(
        undefined,
        f.createVariableDeclarationList(
          [f.createVariableDeclaration(names.error, undefined, undefined, thrown)],
          NodeFlags.Const,
        ),
      ),
      assign(thrown, id("undefined")),
      f.createThrowStatement(id(names.error)),
    ]),
  );
  if (ir.regions.length > 0) {
    // Route an exception by the state it was raised in: to a catch, to a finally (as a
    // pending throw), or out of the machine.
    const groups = new Map<string, { blocks: number[]; body: ts.Statement[] }>();
    for (const block of ir.blocks) {
      const handler = handlerOf(ir, block);
      if (!handler) continue;
      const key = `${handler.kind}:${handler.region}`;
      let group = groups.get(key);
      if (!group) {
        const region = ir.regions[handler.region]!;
        const value =
          handler.kind === "catch"
            ? (id(names.error) as ts.Expression)
            : f.createObjectLiteralExpression([
                f.createPropertyAssignment("t", num(Completion.throw)),
                f.createPropertyAssignment("v", id(names.error)),
              ]);
        const slot = handler.kind === "catch" ? region.catchSlot! : region.completionSlot!;
        group = { blocks: [], body: [assign(id(slot), value), ...jump(handler.block)] };
        groups.set(key, group);
      }
      group.blocks.push(block.id);
    }
    const clauses: ts.CaseClause[] = [];
    for (const group of groups.values()) {
      group.blocks.forEach((b, i) => {
        clauses.push(f.createCaseClause(num(b), i === group.blocks.length - 1 ? group.body : []));
      });
    }
    dispatch = f.createTryStatement(
      f.createBlock([rethrow, dispatch]),
      f.createCatchClause(
        names.error,
        f.createBlock([
          f.createSwitchStatement(id(names.pc), f.createCaseBlock(clauses)),
          f.createThrowStatement(id(names.error)),
        ]),
      ),
      undefined,
    );
  }
  if (ir.regions.length === 0) prologue.push(rethrow);
  const forever = f.createForStatement(undefined, undefined, undefined, dispatch);
  const loop = ir.loopLabelled ? f.createLabeledStatement(names.loop, forever) : forever;

  const machine = f.createFunctionExpression(
    [f.createModifier(SyntaxKind.AsyncKeyword)],
    f.createToken(SyntaxKind.AsteriskToken),
    f.createIdentifier(machineName(manifest.name, body)),
    undefined,
    [
      f.createParameterDeclaration(undefined, undefined, ir.ctxName),
      f.createParameterDeclaration(undefined, undefined, names.frame),
    ],
    undefined,
    mapped(f.createBlock([...prologue, loop], true), body),
  );

  return f.createObjectLiteralExpression(
    [
      f.createPropertyAssignment("$ratchet", num(1)),
      // Printed once as text: built node by node it was a quarter of emit, and a third of the
      // nodes the printer walked.
      f.createPropertyAssignment("manifest", codeExpression(carriedManifest(manifest))),
      f.createPropertyAssignment("machine", mapped(machine, body)),
    ],
    true,
  );
}
