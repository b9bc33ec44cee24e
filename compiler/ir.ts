import type ts from "typescript";

/**
 * The intermediate form between the source and the emitted machine: the workflow body cut
 * into basic blocks at its checkpoints. A block is a straight run of items ending in one
 * terminator; every durable `await` ends a block, and the block after it is where a
 * resumed run re-enters.
 *
 * Items are statements ready to emit (the user's nodes, renamed where slots were renamed,
 * and assignments the compiler made), each with what liveness needs to know about it.
 */
export interface Block {
  readonly id: number;
  readonly items: Item[];
  terminator: Terminator;
  /** The innermost try region the block belongs to, or -1. */
  readonly region: number;
  /** Which part of that region: where an exception in this block goes depends on it. */
  readonly part: "try" | "catch" | "finally" | undefined;
}

/** One statement of a block. */
export interface Item {
  readonly statement: ts.Statement;
  /** Slots this statement assigns before anything can read them (a definition). */
  readonly kills: readonly string[];
  /** The nodes whose slot references are reads (usually the statement itself). */
  readonly uses: readonly ts.Node[];
  /** Blocks this statement may jump to (a `break`/`continue`/`return` rewritten as a jump). */
  readonly jumps: readonly number[];
  /**
   * Set on the first item of the resume block of a `waitForEvent` whose `match` may be a
   * predicate: `statement` is a placeholder, and the emitter writes the test of the
   * delivered payload by `match` (this expression, evaluated again) and, when it fails, a
   * wait again at the same checkpoint with its live variables.
   */
  readonly recheck?: { readonly checkpoint: number; readonly match: ts.Expression };
}

/** How a block ends. */
export type Terminator =
  | { readonly kind: "goto"; readonly target: number }
  | {
      readonly kind: "branch";
      readonly node: ts.Node;
      readonly test: ts.Expression;
      readonly whenTrue: number;
      readonly whenFalse: number;
    }
  /** A durable operation: checkpoint `checkpoint` (1-based), then continue at `resume`. */
  | {
      readonly kind: "durable";
      readonly node: ts.Node;
      readonly checkpoint: number;
      readonly call: ts.Expression;
      readonly resume: number;
    }
  | { readonly kind: "return"; readonly node: ts.Node; readonly value: ts.Expression | undefined }
  | { readonly kind: "throw"; readonly node: ts.Node; readonly value: ts.Expression }
  /** The end of a `finally` part: carry on with the completion that entered it. */
  | { readonly kind: "finallyEnd"; readonly region: number }
  /** The end of the body without a `return`: the run's result is `undefined`. */
  | { readonly kind: "end" };

/** A `try` statement that contains a checkpoint. */
export interface TryRegion {
  readonly index: number;
  /** The enclosing region, or -1. */
  readonly parent: number;
  /** Which part of the parent this `try` statement sits in. */
  readonly parentPart: "try" | "catch" | "finally" | undefined;
  catchBlock: number | undefined;
  /** The slot that receives the caught error. */
  catchSlot: string | undefined;
  finallyBlock: number | undefined;
  /** The slot holding how the `try`/`catch` part ended while its `finally` runs. */
  completionSlot: string | undefined;
  afterBlock: number;
  /** The nearest enclosing region with a `finally` this one is inside the try or catch of, or -1. */
  readonly outerFinally: number;
  /** Jump targets that must pass through `outerFinally` after this `finally`. */
  readonly forwardJumps: Set<number>;
}

/** A durable operation site, in source order; `index` is its 1-based checkpoint number. */
export interface CheckpointSite {
  readonly index: number;
  readonly await: ts.AwaitExpression;
  readonly call: ts.CallExpression;
  /** The `ctx` method, e.g. `step`. */
  readonly method: string;
  /** The block where a resumed run continues. */
  resume: number;
}

/** A variable of the machine's frame: a slot for a user variable, or a temporary. */
export interface Slot {
  readonly name: string;
  /**
   * `function`: made again on resume; `volatile`: a temporary held while the run goes on in
   * one process and `undefined` after a resume (a function read before the checkpoint in a
   * call's arguments); neither is persisted.
   */
  readonly kind: "var" | "lexical" | "function" | "temp" | "volatile";
  /**
   * What the declaration's value syntactically is when that cannot be persisted: a function
   * or class, a generator, or (by its method name: `.values()`, `.entries()`, …) an iterator.
   */
  readonly holds: "function" | "generator" | "iterator" | undefined;
  /**
   * For a slot that holds a function other than one written in its declaration: the
   * expression that may give it one (compiler/function-values.ts), for RATCHET1007.
   */
  readonly functionSource?: ts.Expression;
  /**
   * For a function declaration made again on resume: a write to its name in the body
   * (`log = () => {}`, `f = 5`), which the re-made function would not have; RATCHET1007 where
   * one may run before a checkpoint the name is live across.
   */
  readonly reassigned?: readonly ts.Node[];
  /** For messages: what the slot holds, e.g. `order` or `the value of order.total (12:7)`. */
  readonly description: string;
  /**
   * The user's node behind the slot, for tools with a type checker: the declaring identifier,
   * or the expression a temporary holds; absent for the machine's own bookkeeping.
   */
  readonly node?: ts.Node;
  /** For a temporary: what it holds (it names the temporary in the frame; compiler/names.ts). */
  readonly role?: TempRole;
  /**
   * For a temporary: the number of the first checkpoint made after it (one past the last
   * when none follows). Its frame key is built from that checkpoint's stable id, so an
   * await gained or lost elsewhere in the body does not rename it.
   */
  readonly anchor?: number;
  /**
   * A block-scoped slot some reference may touch before its declaration has run, unseen in
   * the text (compiler/explode.ts `findDeadZoneReads`): it holds the machine's dead-zone
   * sentinel until then, and its frame entry says so.
   */
  readonly deadZone?: boolean;
  /** A per-iteration box (`{ v }`): see compiler/explode.ts `findBoxedSlots`. */
  readonly boxed?: boolean;
  /**
   * A `var` a function declaration declares too: the hoisted function is its value on entry,
   * so the frame restores it only where it holds an entry for it.
   */
  readonly hoisted?: boolean;
}

/**
 * What a temporary holds: the value of an expression evaluated before an await (`value`),
 * a durable operation's result, a loop's list, keys or index, a `switch` subject, how a
 * `try` ended while its `finally` runs, a caught error, or a part of a destructuring
 * pattern taken apart at its checkpoints (`pattern`).
 */
export type TempRole =
  | "value"
  | "result"
  | "list"
  | "keys"
  | "index"
  | "switch"
  | "completion"
  | "caught"
  | "pattern";

/** A workflow body cut into blocks, ready for liveness and emission. */
export interface MachineIR {
  readonly blocks: Block[];
  readonly regions: TryRegion[];
  readonly checkpoints: CheckpointSite[];
  /** Parameters after `ctx`, as an assignment target over slots (`[a, { b } = {}]`). */
  readonly paramsTarget: ts.ArrayLiteralExpression | undefined;
  /** Parameter names for the manifest. */
  readonly paramNames: readonly string[];
  /** The name of the `ctx` parameter. */
  readonly ctxName: string;
  /** Slots by (emitted) name. */
  readonly slots: Map<string, Slot>;
  /** Function declarations of the body: re-created on every resume, never persisted. */
  readonly hoistedFunctions: ts.FunctionDeclaration[];
  /**
   * `var f = <function>` for `const f = (…) => …` in split code: made again on every resume,
   * never persisted (the declaration still assigns it where it stands).
   */
  readonly recreatedFunctions: ts.VariableStatement[];
  /**
   * `var f = t === 0 ? … : t === 1 ? … : undefined` for `const f = up ? (…) => … : (…) => …`:
   * made again on resume from the number of the branch taken, kept in the temporary `t`,
   * after the variables are restored (compiler/explode.ts `recreateChoice`).
   */
  readonly chosenFunctions: ts.VariableStatement[];
  /**
   * Slots of functions the body gives properties to (`counter.calls = …`): where such a
   * function is made again on resume, the frame keeps its own properties beside the variables.
   */
  readonly propertyFunctions: ReadonlySet<string>;
  /** The machine's own variable names. */
  readonly names: MachineNames;
  /**
   * Whether some jump is a `continue` with the machine loop's label (from inside a loop of the
   * user's kept as written); otherwise the loop has no label.
   */
  readonly loopLabelled: boolean;
  /** Per region: every target a jump passing through its `finally` may continue to. */
  readonly finallyTargets: ReadonlyMap<number, readonly number[]>;
  /** The references of the user's code in the body, in source order (`ScopeInfo.referenceIds`). */
  readonly references: readonly ts.Identifier[];
}

/** The emitted machine's own variables. */
export interface MachineNames {
  readonly frame: string;
  readonly pc: string;
  readonly sent: string;
  readonly loop: string;
  readonly error: string;
  /** The prefix of temporaries. */
  readonly temp: string;
  /** The dead-zone sentinel: a slot not yet initialized holds it (see `Slot.deadZone`). */
  readonly tdz: string;
}
