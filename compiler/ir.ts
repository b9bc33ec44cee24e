import type ts from "typescript";

/**
 * The intermediate form between the source and the emitted machine: the workflow body cut
 * into basic blocks at its checkpoints. A block is a straight run of items ending in one
 * terminator; every durable `await` ends a block, and the block after it is where a
 * resumed run re-enters.
 *
 * Items and terminators hold the user's own AST nodes, so the emitter can reuse them and
 * source maps point at the user's code.
 */
export interface Block {
  readonly id: number;
  readonly items: Item[];
  terminator: Terminator;
}

/** One thing a block does, in order. */
export type Item =
  /** A statement with no checkpoint inside, emitted as written. */
  | { readonly kind: "statement"; readonly node: ts.Statement }
  /** A declaration of block-level variables, emitted as an assignment to their slots. */
  | {
      readonly kind: "declare";
      readonly node: ts.Node;
      readonly target: ts.BindingName;
      readonly initializer: ts.Expression | undefined;
    }
  /** The start of a resume block: the durable operation's result goes into `target`. */
  | {
      readonly kind: "receive";
      readonly node: ts.Node;
      readonly target: ts.BindingName | undefined;
    }
  /** The start of a resume block after `return await ctx…`: return the result. */
  | { readonly kind: "returnReceived"; readonly node: ts.Node };

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
      readonly call: ts.CallExpression;
      readonly resume: number;
    }
  /** The end of the body without a `return`: the run's result is `undefined`. */
  | { readonly kind: "end" };

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

/** A variable of the workflow body that lives in the machine's frame. */
export interface Slot {
  readonly name: string;
  readonly declaration: ts.Node;
  /**
   * `var` bindings (and parameters) may be declared more than once; `function` slots are
   * hoisted function declarations, re-created on every resume and never persisted.
   */
  readonly kind: "var" | "lexical" | "function";
  /** The declaration's value is syntactically a function or class: it cannot be persisted. */
  readonly holdsFunction: boolean;
}

/** A workflow body cut into blocks, ready for liveness and emission. */
export interface MachineIR {
  readonly blocks: Block[];
  readonly checkpoints: CheckpointSite[];
  /** Parameters after `ctx`, as written. */
  readonly params: readonly ts.ParameterDeclaration[];
  /** The name of the `ctx` parameter, or `undefined` when the body takes none. */
  readonly ctxName: string | undefined;
  readonly slots: Map<string, Slot>;
  /** Function declarations of the body: re-created on every resume, never persisted. */
  readonly hoistedFunctions: ts.FunctionDeclaration[];
}
