import fc from "fast-check";
import type { OracleCase } from "./oracle.js";

/**
 * Random workflow programs for the compiler's property tests (test/compiler-property.test.ts).
 *
 * The arbitraries build a small syntax tree that knows nothing about scopes — a variable
 * reference is just a number — and `renderProgram` turns it into valid JavaScript: it tracks
 * which names are visible and assignable, picks `references % visible.length`, gives every
 * declaration, loop counter and label a fresh name, and drops a `break`/`continue` with no
 * target. So any tree is a valid program, and fast-check can shrink trees freely.
 *
 * Programs always terminate: every loop runs at most 3 times on a counter the generated code
 * cannot assign, and expressions have no division. Values stay small numbers (products and
 * assignments are taken `% 1000`).
 *
 * What is generated is switched by {@link GeneratorFeatures}, one flag per construct: the
 * first group says which statements exist at all (generated with no checkpoint inside), the
 * `checkpointsIn…`/`awaitIn…` group where checkpoints may go besides the basic positions (a
 * whole statement, an initializer, `x = await …`, `return await …`, inside if/else and
 * blocks). {@link SUPPORTED_NOW} is what the compiler supports; flip a flag there when it
 * learns a construct, or try one first with RATCHET_PROPERTY_FEATURES (see the test).
 */
export interface GeneratorFeatures {
  /** `while`, `for` and `do…while` loops (bounded), with `break` and `continue`. */
  readonly loops: boolean;
  /** Labelled loops and labelled blocks; `break label` and `continue label`. */
  readonly labels: boolean;
  /** `switch` with fall-through, `break` and `default` (not always last). */
  readonly switch: boolean;
  /** `try`/`catch`/`finally`, rethrow from `catch`, `throw`; return/break through `finally`. */
  readonly tryCatch: boolean;
  /** `for (const x of [...])`. */
  readonly forOf: boolean;
  /** `for (const k in {...})`. */
  readonly forIn: boolean;
  /** Arrow functions called in place, a block-local closure, hoisted function declarations, inline named steps. */
  readonly closures: boolean;
  /** Array and object patterns (with defaults) in declarations, and `[a, b] = [...]`. */
  readonly destructuring: boolean;
  /** A nested block's `let` redeclaring an outer name, and sibling blocks reusing a name. */
  readonly shadowing: boolean;

  /** Checkpoints inside `while`/`for`/`do…while` bodies (and tests, with `awaitInExpressions`). */
  readonly checkpointsInLoops: boolean;
  /** Checkpoints inside labelled statements (a labelled loop also needs `checkpointsInLoops`). */
  readonly checkpointsInLabels: boolean;
  /** Checkpoints inside `switch` cases. */
  readonly checkpointsInSwitch: boolean;
  /** Checkpoints inside `try`, `catch` and `finally` blocks. */
  readonly checkpointsInTry: boolean;
  /** Checkpoints inside `for…of` bodies. */
  readonly checkpointsInForOf: boolean;
  /** Checkpoints inside `for…in` bodies. */
  readonly checkpointsInForIn: boolean;
  /** One name declared in two blocks (nested or sibling) that checkpoints split. */
  readonly checkpointsAroundShadowing: boolean;
  /**
   * `await ctx.step(…)` nested inside expressions: call arguments, binary operands,
   * `&&`/`||`/`??`, `?:`, template literals, array/object literals, compound assignments,
   * `if`/`switch`/loop tests, `throw`.
   */
  readonly awaitInExpressions: boolean;
  /** `[a, b] = await ctx.step(…)`. */
  readonly awaitInDestructuringAssignment: boolean;
  /** `const [a = await ctx.step(…)] = …`: a checkpoint in a pattern's default (needs `awaitInExpressions`). */
  readonly awaitInDestructuringDefaults: boolean;

  // The bug classes of issue 11, each once compiled wrongly without a diagnostic.
  /** `try { x = await <failing step> } catch {}` and `x = JSON.parse("{" + await …)`: an exception at the resume point. */
  readonly exceptionEdges: boolean;
  /** `(x = e, await …)`: comma sequences with side effects. */
  readonly commaSequences: boolean;
  /** Closures over a loop's `let`s made in several iterations and called before the next checkpoint. */
  readonly closuresPerIteration: boolean;
  /** `(c ? null : [a])?.[await …]`, `?.concat(await …)[0]`: optional chains, nullish or not, with awaits to the right and in the base. */
  readonly optionalChains: boolean;
  /** `x + ((q) => (x = q, 1))(await …)`: an earlier operand changed by a later call. */
  readonly laterMutations: boolean;
  /** `[, a, await …]`: array holes. */
  readonly holes: boolean;
  /** `{ using r = new Resource(…); … }` around checkpoints (disposals are logged like steps). */
  readonly using: boolean;
  /** `ctx.step("s", () => (x = …))`: inline steps that write a workflow variable. */
  readonly inlineStepWrites: boolean;
  /**
   * Temporal dead zones around checkpoints: a `let` touched before its declaration — by a
   * closure made before it, by a reference written before it, or from a `switch` case
   * entered past it — in blocks, loops and `switch`es that hold checkpoints.
   */
  readonly deadZones: boolean;
  /** `o[key] op= e` with durable awaits in the key and the value (`+=`, `??=`, …). */
  readonly memberCompound: boolean;
}

/**
 * What the compiler supports today: since commit 34ae4a7, checkpoints inside loops, labelled
 * statements, `switch`, `try`, `for…of`/`for…in`, expressions, and around shadowed names.
 * Durable awaits in destructuring defaults too (compiler/destructure.ts).
 */
export const SUPPORTED_NOW: GeneratorFeatures = {
  loops: true,
  labels: true,
  switch: true,
  tryCatch: true,
  forOf: true,
  forIn: true,
  closures: true,
  destructuring: true,
  shadowing: true,
  checkpointsInLoops: true,
  checkpointsInLabels: true,
  checkpointsInSwitch: true,
  checkpointsInTry: true,
  checkpointsInForOf: true,
  checkpointsInForIn: true,
  checkpointsAroundShadowing: true,
  awaitInExpressions: true,
  awaitInDestructuringAssignment: true,
  awaitInDestructuringDefaults: true,
  exceptionEdges: true,
  commaSequences: true,
  closuresPerIteration: true,
  optionalChains: true,
  laterMutations: true,
  holes: true,
  using: true,
  inlineStepWrites: true,
  deadZones: true,
  memberCompound: true,
};

/**
 * The subset docs/compiler.md listed before commit 34ae4a7 ("Supported so far"): checkpoints
 * only as statements, initializers, `x = await …` and `return await …`, inside if/else and
 * blocks; every other construct without a checkpoint inside.
 */
export const BASIC: GeneratorFeatures = {
  ...SUPPORTED_NOW,
  checkpointsInLoops: false,
  checkpointsInLabels: false,
  checkpointsInSwitch: false,
  checkpointsInTry: false,
  checkpointsInForOf: false,
  checkpointsInForIn: false,
  checkpointsAroundShadowing: false,
  awaitInExpressions: false,
  awaitInDestructuringAssignment: false,
  awaitInDestructuringDefaults: false,
  exceptionEdges: false,
  commaSequences: false,
  closuresPerIteration: false,
  optionalChains: false,
  laterMutations: false,
  holes: false,
  using: false,
  inlineStepWrites: false,
  deadZones: false,
  memberCompound: false,
};

/** Everything the generator can make. */
export const ALL_FEATURES: GeneratorFeatures = Object.fromEntries(
  Object.keys(SUPPORTED_NOW).map((key) => [key, true]),
) as unknown as GeneratorFeatures;

/** The names of the feature flags, for parsing them from the environment. */
export const FEATURE_NAMES = Object.keys(SUPPORTED_NOW) as (keyof GeneratorFeatures)[];

// ---------------------------------------------------------------------------------------
// The tree

/** A durable call; rendered as `ctx.step(…)`, always awaited. */
export type StepCall =
  | { readonly k: "add"; readonly a: Expr; readonly b: Expr }
  | { readonly k: "echo"; readonly x: Expr }
  | { readonly k: "boom"; readonly message: number }
  /** `ctx.step("name", () => value)`; with `writes`, `() => (x = value % 1000)` */
  | {
      readonly k: "inline";
      readonly name: number;
      readonly value: Expr;
      readonly writes: number | null;
    };

export type Expr =
  | { readonly k: "lit"; readonly v: number }
  | { readonly k: "null" }
  /** The `i % visible.length`-th visible variable; a literal when none is visible. */
  | { readonly k: "var"; readonly i: number }
  | { readonly k: "neg" | "not"; readonly e: Expr }
  | { readonly k: "bin"; readonly op: BinaryOp; readonly l: Expr; readonly r: Expr }
  | { readonly k: "mod"; readonly e: Expr; readonly m: number }
  | { readonly k: "logic"; readonly op: "&&" | "||" | "??"; readonly l: Expr; readonly r: Expr }
  | { readonly k: "cond"; readonly c: Expr; readonly a: Expr; readonly b: Expr }
  /** `` `${a}:${b}`.length `` */
  | { readonly k: "tpl"; readonly parts: readonly Expr[] }
  /** `[a, b, c][pick % n]`, or with a hole first `[, a, b, c][1 + pick % n]` */
  | {
      readonly k: "arr";
      readonly items: readonly Expr[];
      readonly pick: number;
      readonly hole: boolean;
    }
  /** `(x = (l) % 1000, r)` with a mutable x, else `(l, r)` */
  | { readonly k: "comma"; readonly t: number; readonly l: Expr; readonly r: Expr }
  /**
   * `(c ? null : [a, 5])?.[(r) % 2]` or `(c ? null : [a])?.concat(r)[0]` (the chain goes on
   * after the `?.` link); awaits in `c` (the base) and in `r`
   */
  | {
      readonly k: "opt";
      readonly c: Expr;
      readonly a: Expr;
      readonly r: Expr;
      readonly call: boolean;
    }
  /** `(x + ((q) => ((x = q % 1000), 1))(r))` with a mutable x, else `(r)` */
  | { readonly k: "mutate"; readonly t: number; readonly r: Expr }
  /** `({ p: a, q: b }).p` */
  | { readonly k: "obj"; readonly a: Expr; readonly b: Expr; readonly pickA: boolean }
  /** `((q) => body)(arg)`; `body` sees `q` and the visible variables. */
  | { readonly k: "iife"; readonly body: Expr; readonly arg: Expr }
  /** A call of one of the program's hoisted helper functions. */
  | { readonly k: "helper"; readonly i: number; readonly arg: Expr }
  | { readonly k: "await"; readonly call: StepCall };

/**
 * No `<`: in a .ts module `0 < (1 > (x))` parses as a generic call `0<(1)>(x)`. Both forms
 * of a program go through the TypeScript parser, so `>` and `>=` are enough.
 */
export type BinaryOp = "+" | "-" | "*" | ">" | ">=" | "===" | "!==";

/** A declaration's or assignment's value: an expression, or a whole `await ctx.step(…)`. */
export type Init =
  | { readonly k: "expr"; readonly e: Expr }
  | { readonly k: "step"; readonly call: StepCall };

export type Stmt =
  | {
      readonly k: "decl";
      readonly kind: "const" | "let" | "var";
      readonly init: Init;
      /** With shadowing: reuse the name of an earlier declaration that is out of scope. */
      readonly reuse: number | null;
    }
  | {
      readonly k: "destructure";
      readonly kind: "const" | "let";
      readonly pattern: "array" | "object";
      /** One binding per entry, each with an optional default. */
      readonly defaults: readonly (Expr | null)[];
      /** The source's elements (may be fewer than the bindings). */
      readonly values: readonly Expr[];
      /** The source is `await ctx.step(echo, [...])` rather than a literal. */
      readonly fromStep: boolean;
    }
  | {
      readonly k: "destructureAssign";
      readonly targets: readonly number[];
      readonly values: readonly Expr[];
      readonly fromStep: boolean;
    }
  | { readonly k: "assign"; readonly target: number; readonly value: Init }
  | { readonly k: "compound"; readonly target: number; readonly op: CompoundOp; readonly e: Expr }
  | { readonly k: "step"; readonly call: StepCall }
  | { readonly k: "expr"; readonly e: Expr }
  | { readonly k: "return"; readonly value: Init | null }
  | { readonly k: "throw"; readonly e: Expr }
  | {
      readonly k: "if";
      readonly test: Expr;
      readonly consequent: readonly Stmt[];
      readonly alternate: readonly Stmt[] | null;
    }
  | { readonly k: "block"; readonly body: readonly Stmt[] }
  /** `{ let <a visible name> = init; …body }` */
  | {
      readonly k: "shadow";
      readonly target: number;
      readonly init: Expr;
      readonly body: readonly Stmt[];
    }
  /** `{ const f = (q) => body; x = f(arg) % 1000; }` — never with a checkpoint inside. */
  | { readonly k: "closure"; readonly body: Expr; readonly arg: Expr; readonly target: number }
  | {
      readonly k: "loop";
      readonly form: "while" | "for" | "do";
      readonly bound: number;
      readonly labelled: boolean;
      /** An extra condition `&& (test)`, checked after the counter's. */
      readonly test: Expr | null;
      readonly body: readonly Stmt[];
    }
  | {
      readonly k: "forOf" | "forIn";
      readonly items: readonly Expr[];
      readonly labelled: boolean;
      readonly body: readonly Stmt[];
    }
  /** Dropped when there is no valid target; `target` picks among the valid ones. */
  | { readonly k: "jump"; readonly kind: "break" | "continue"; readonly target: number }
  | { readonly k: "labelled"; readonly body: readonly Stmt[] }
  | {
      readonly k: "switch";
      readonly discriminant: Expr;
      /** Case `i` matches `i`; without `brk` a case falls through. */
      readonly cases: readonly { readonly body: readonly Stmt[]; readonly brk: boolean }[];
      /** `default:` goes before case `defaultAt` (after the last when it is past the end). */
      readonly defaultAt: number | null;
      readonly defaultBody: readonly Stmt[];
    }
  | {
      readonly k: "try";
      readonly block: readonly Stmt[];
      readonly handler: {
        readonly bind: boolean;
        readonly body: readonly Stmt[];
        readonly rethrow: boolean;
      } | null;
      readonly finalizer: readonly Stmt[] | null;
    }
  | ExtraStmt;

export type ExtraStmt =
  /** `try { x = <step, failing or not, maybe parsed as JSON> } catch {}` */
  | {
      readonly k: "tryAssign";
      readonly t: number;
      readonly call: StepCall;
      readonly parse: boolean;
    }
  /**
   * `{ const fs = []; for (let i …) { let c = i * 3; fs.push(() => c + i); c++;
   * if (<every \`every\` iterations>) { x = <sum of fs()>; fs.length = 0; …body } } }`
   */
  | {
      readonly k: "perIteration";
      readonly bound: number;
      readonly every: number;
      readonly t: number;
      readonly body: readonly Stmt[];
    }
  /** `{ using r = new Resource("r"); …body }` */
  | { readonly k: "using"; readonly body: readonly Stmt[] }
  /**
   * `{ const o = { a: x, b: 1 }; o[(key) % 2 ? "a" : "b"] op= e; x = (o.a + o.b) % 1000; }`,
   * with `clobber` the value `(o.a = o.b = 7, e)`: the property is read before it changes.
   */
  | {
      readonly k: "memberCompound";
      readonly t: number;
      readonly key: Expr;
      readonly op: CompoundOp;
      readonly e: Expr;
      readonly clobber: boolean;
    }
  | DeadZone;

/**
 * A `let z` touched before its declaration, where JavaScript throws ReferenceError. `block`:
 * `{ const rd = () => <access z>; …body; <access before>; let z = init; x = rd(); …rest }`
 * (in a loop, where `z` is a per-iteration binding and `rd` cannot outlive a checkpoint, the
 * body comes first and `rd` is not called after a durable init). `loop`: that block as the
 * body of `for (let i …)`, the access before always caught. `switch`:
 * `switch (selector % 3) { case 0: {…body} let z = init; case 1: <access z> {…rest} break; default: }`.
 */
export interface DeadZone {
  readonly k: "deadZone";
  readonly form: "block" | "loop" | "switch";
  /** How `z` is touched: `z`, `(z = 7)`, `(z += 1)`. */
  readonly access: "read" | "write" | "compound";
  /** The access before the declaration is written there, not made through the closure. */
  readonly direct: boolean;
  /** Whether `z` is touched before its declaration at all (block and loop). */
  readonly before: boolean;
  /** The access before is in `try { … } catch (e) { x = e.message.length }`. */
  readonly caught: boolean;
  /** The variable that receives what the accesses give. */
  readonly t: number;
  /** The loop's iterations. */
  readonly bound: number;
  readonly selector: Expr;
  readonly init: Init;
  readonly body: readonly Stmt[];
  readonly rest: readonly Stmt[];
}

export type CompoundOp = "+=" | "-=" | "*=" | "||=" | "&&=" | "??=";

export interface Program {
  readonly params: number;
  readonly args: readonly number[];
  readonly body: readonly Stmt[];
  /**
   * The last statement: `"all"` returns every variable still in scope (`[p0, v1, …]`), so
   * the oracle compares the whole final state; `null` returns nothing.
   */
  readonly result: "all" | Init | null;
  /** Bodies of hoisted `function hN(q) { return body; }` (they see `q` and the parameters). */
  readonly helpers: readonly Expr[];
}

// ---------------------------------------------------------------------------------------
// Arbitraries

const MAX_DEPTH = 3;
const MAX_EXPRESSION_DEPTH = 2;
/** The most statements a program has, counting nested ones. */
export const MAX_STATEMENTS = 12;

type Arb<T> = fc.Arbitrary<T>;
type Weighted<T> = { arbitrary: Arb<T>; weight: number };

const small = fc.integer({ min: -3, max: 12 });
const index = fc.nat({ max: 7 });

/** The arbitraries for one feature set. */
class Grammar {
  readonly #features: GeneratorFeatures;
  readonly #exprs = new Map<string, Arb<Expr>>();
  readonly #stmts = new Map<string, Arb<Stmt>>();
  readonly #lists = new Map<string, Arb<readonly Stmt[]>>();

  constructor(features: GeneratorFeatures) {
    this.#features = features;
  }

  /** An expression; with `durable` (and `awaitInExpressions`) it may contain checkpoints. */
  expr(level: number, durable: boolean): Arb<Expr> {
    const awaits = durable && this.#features.awaitInExpressions;
    const key = `${level}:${awaits}`;
    const cached = this.#exprs.get(key);
    if (cached) return cached;
    const options: Weighted<Expr>[] = [
      { arbitrary: small.map((v) => ({ k: "lit", v }) as const), weight: 3 },
      { arbitrary: index.map((i) => ({ k: "var", i }) as const), weight: 5 },
    ];
    if (awaits) {
      options.push({
        // At level 0 the call's arguments are plain, so the recursion ends.
        arbitrary: this.call(Math.max(level - 1, 0), level > 0).map(
          (call) => ({ k: "await", call }) as const,
        ),
        weight: 3,
      });
    }
    if (level > 0) {
      const sub = this.expr(level - 1, durable);
      const plain = this.expr(level - 1, false);
      options.push(
        {
          arbitrary: fc.record({
            k: fc.constant("bin" as const),
            op: fc.constantFrom<BinaryOp>("+", "-", "*", ">", ">=", "===", "!=="),
            l: sub,
            r: sub,
          }),
          weight: 6,
        },
        {
          arbitrary: fc.record({ k: fc.constantFrom("neg" as const, "not" as const), e: sub }),
          weight: 1,
        },
        {
          arbitrary: fc.record({
            k: fc.constant("mod" as const),
            e: sub,
            m: fc.integer({ min: 2, max: 9 }),
          }),
          weight: 1,
        },
        {
          arbitrary: fc.record({
            k: fc.constant("logic" as const),
            op: fc.constantFrom("&&" as const, "||" as const, "??" as const),
            l: fc.oneof({ arbitrary: sub, weight: 4 }, fc.constant({ k: "null" } as const)),
            r: sub,
          }),
          weight: 2,
        },
        {
          arbitrary: fc.record({ k: fc.constant("cond" as const), c: sub, a: sub, b: sub }),
          weight: 2,
        },
        {
          arbitrary: fc.record({
            k: fc.constant("tpl" as const),
            parts: fc.array(sub, { minLength: 1, maxLength: 3 }),
          }),
          weight: 1,
        },
        {
          arbitrary: fc.record({
            k: fc.constant("arr" as const),
            items: fc.array(sub, { minLength: 1, maxLength: 3 }),
            pick: index,
            hole: this.#features.holes ? fc.boolean() : fc.constant(false),
          }),
          weight: 1,
        },
        {
          arbitrary: fc.record({
            k: fc.constant("obj" as const),
            a: sub,
            b: sub,
            pickA: fc.boolean(),
          }),
          weight: 1,
        },
      );
      if (this.#features.commaSequences) {
        options.push({
          arbitrary: fc.record({ k: fc.constant("comma" as const), t: index, l: sub, r: sub }),
          weight: 1,
        });
      }
      if (this.#features.optionalChains) {
        options.push({
          arbitrary: fc.record({
            k: fc.constant("opt" as const),
            // The test may hold an await: the base before `?.` is then a checkpoint's value.
            c: sub,
            a: plain,
            r: sub,
            call: fc.boolean(),
          }),
          weight: 1,
        });
      }
      if (this.#features.laterMutations) {
        options.push({
          arbitrary: fc.record({ k: fc.constant("mutate" as const), t: index, r: sub }),
          weight: 1,
        });
      }
      if (this.#features.closures) {
        options.push(
          // The function value exists before its argument is evaluated: a checkpoint there
          // would hold a closure across it, which the compiler rejects by design (RATCHET1007).
          {
            arbitrary: fc.record({ k: fc.constant("iife" as const), body: plain, arg: plain }),
            weight: 1,
          },
          {
            arbitrary: fc.record({ k: fc.constant("helper" as const), i: index, arg: sub }),
            weight: 1,
          },
        );
      }
    }
    // Cross-shrinking lets the shrinker replace a construct with the first option (a
    // literal, a declaration), not only simplify it in place.
    const arb = fc.oneof({ withCrossShrink: true }, ...options);
    this.#exprs.set(key, arb);
    return arb;
  }

  /** A durable call whose arguments are expressions of the given level. */
  call(level: number, durable: boolean): Arb<StepCall> {
    const arg = this.expr(level, durable);
    const options: Weighted<StepCall>[] = [
      { arbitrary: fc.record({ k: fc.constant("add" as const), a: arg, b: arg }), weight: 10 },
      { arbitrary: fc.record({ k: fc.constant("echo" as const), x: arg }), weight: 8 },
      {
        arbitrary: fc.record({
          k: fc.constant("boom" as const),
          message: fc.nat({ max: 9 }),
        }),
        weight: 1,
      },
    ];
    if (this.#features.closures) {
      options.push({
        arbitrary: fc.record({
          k: fc.constant("inline" as const),
          name: fc.nat({ max: 2 }),
          value: this.expr(level, false),
          writes: this.#features.inlineStepWrites
            ? fc.option(index, { nil: null })
            : fc.constant(null),
        }),
        weight: 2,
      });
    }
    return fc.oneof(...options);
  }

  /** A statement list at nesting `depth`; with `durable` it may contain checkpoints. */
  list(depth: number, durable: boolean): Arb<readonly Stmt[]> {
    const key = `${depth}:${durable}`;
    const cached = this.#lists.get(key);
    if (cached) return cached;
    const arb = fc.array(this.stmt(depth, durable), {
      minLength: depth === 0 ? 1 : 0,
      maxLength: depth === 0 ? 8 : depth === 1 ? 3 : depth === 2 ? 2 : 1,
    });
    this.#lists.set(key, arb);
    return arb;
  }

  /** A declaration's or assignment's value; with `durable`, often a whole `await ctx.step(…)`. */
  init(durable: boolean): Arb<Init> {
    const e = this.expr(MAX_EXPRESSION_DEPTH, durable).map((x) => ({ k: "expr", e: x }) as const);
    if (!durable) return e;
    return fc.oneof(
      { arbitrary: e, weight: 1 },
      {
        arbitrary: this.call(1, durable).map((call) => ({ k: "step", call }) as const),
        weight: 2,
      },
    );
  }

  stmt(depth: number, durable: boolean): Arb<Stmt> {
    const key = `${depth}:${durable}`;
    const cached = this.#stmts.get(key);
    if (cached) return cached;
    const f = this.#features;
    // Where checkpoints may go, constructs that cannot hold one are made less often.
    const weight = (base: number, checkpointsInside: boolean) =>
      durable && !checkpointsInside ? Math.max(1, base / 2) : base;
    const e = this.expr(MAX_EXPRESSION_DEPTH, durable);
    const init = this.init(durable);
    const options: Weighted<Stmt>[] = [
      {
        arbitrary: fc.record({
          k: fc.constant("decl" as const),
          kind: fc.constantFrom("const" as const, "let" as const, "var" as const),
          init,
          reuse: f.shadowing ? fc.option(index, { nil: null, freq: 3 }) : fc.constant(null),
        }),
        weight: 16,
      },
      {
        arbitrary: fc.record({ k: fc.constant("assign" as const), target: index, value: init }),
        weight: 10,
      },
      {
        arbitrary: fc.record({
          k: fc.constant("compound" as const),
          target: index,
          op: fc.constantFrom<CompoundOp>("+=", "-=", "*=", "||=", "&&=", "??="),
          e,
        }),
        weight: 4,
      },
      {
        arbitrary: fc.record({
          k: fc.constant("return" as const),
          value: fc.option(init, { nil: null }),
        }),
        // Mostly nested: the program's own last statement is a return (Program.result).
        weight: depth === 0 ? 1 : 2,
      },
      { arbitrary: fc.record({ k: fc.constant("expr" as const), e }), weight: 2 },
    ];
    if (durable) {
      options.push({
        arbitrary: this.call(1, durable).map((call) => ({ k: "step", call }) as const),
        weight: 20,
      });
    }
    if (f.tryCatch) {
      options.push({
        arbitrary: fc.record({ k: fc.constant("throw" as const), e }),
        weight: 1,
      });
    }
    if (f.destructuring) {
      const plain = this.expr(1, durable);
      const defaults = this.expr(1, durable && f.awaitInDestructuringDefaults);
      options.push(
        {
          arbitrary: fc.record({
            k: fc.constant("destructure" as const),
            kind: fc.constantFrom("const" as const, "let" as const),
            pattern: fc.constantFrom("array" as const, "object" as const),
            defaults: fc.array(fc.option(defaults, { nil: null }), {
              minLength: 1,
              maxLength: 3,
            }),
            values: fc.array(plain, { minLength: 1, maxLength: 3 }),
            fromStep: durable ? fc.boolean() : fc.constant(false),
          }),
          weight: 4,
        },
        {
          arbitrary: fc.record({
            k: fc.constant("destructureAssign" as const),
            targets: fc.array(index, { minLength: 2, maxLength: 3 }),
            values: fc.array(plain, { minLength: 1, maxLength: 3 }),
            fromStep:
              durable && f.awaitInDestructuringAssignment ? fc.boolean() : fc.constant(false),
          }),
          weight: 2,
        },
      );
    }
    if (f.closures) {
      const plain = this.expr(1, false);
      options.push({
        arbitrary: fc.record({
          k: fc.constant("closure" as const),
          body: plain,
          arg: plain,
          target: index,
        }),
        weight: weight(2, false),
      });
    }
    if (f.loops || f.switch || f.labels || f.forOf || f.forIn) {
      options.push({
        arbitrary: fc.record({
          k: fc.constant("jump" as const),
          kind: fc.constantFrom("break" as const, "continue" as const),
          target: index,
        }),
        weight: 2,
      });
    }
    if (depth < MAX_DEPTH) {
      const inner = (allowed: boolean) => this.list(depth + 1, durable && allowed);
      const body = inner(true);
      const test = this.expr(1, durable);
      options.push(
        {
          arbitrary: fc.record({
            k: fc.constant("if" as const),
            test,
            consequent: body,
            alternate: fc.option(body, { nil: null }),
          }),
          weight: 8,
        },
        { arbitrary: fc.record({ k: fc.constant("block" as const), body }), weight: 2 },
      );
      if (f.shadowing) {
        options.push({
          arbitrary: fc.record({
            k: fc.constant("shadow" as const),
            target: index,
            init: this.expr(1, durable && f.checkpointsAroundShadowing),
            body: inner(f.checkpointsAroundShadowing),
          }),
          weight: weight(2, f.checkpointsAroundShadowing),
        });
      }
      if (f.loops) {
        for (const labelled of f.labels ? [false, true] : [false]) {
          const inLoop = f.checkpointsInLoops && (!labelled || f.checkpointsInLabels);
          options.push({
            arbitrary: fc.record({
              k: fc.constant("loop" as const),
              form: fc.constantFrom("while" as const, "for" as const, "do" as const),
              bound: fc.integer({ min: 0, max: 3 }),
              labelled: fc.constant(labelled),
              test:
                durable && inLoop && f.awaitInExpressions
                  ? fc.option(this.expr(1, true), { nil: null, freq: 3 })
                  : fc.constant(null),
              body: inner(inLoop),
            }),
            weight: weight(labelled ? 2 : 4, inLoop),
          });
        }
      }
      for (const form of ["forOf", "forIn"] as const) {
        if (!f[form]) continue;
        for (const labelled of f.labels ? [false, true] : [false]) {
          const allowed =
            (form === "forOf" ? f.checkpointsInForOf : f.checkpointsInForIn) &&
            (!labelled || f.checkpointsInLabels);
          options.push({
            arbitrary: fc.record({
              k: fc.constant(form),
              items: fc.array(this.expr(1, durable && allowed), { maxLength: 3 }),
              labelled: fc.constant(labelled),
              body: inner(allowed),
            }),
            weight: weight(2, allowed),
          });
        }
      }
      if (f.labels) {
        options.push({
          arbitrary: fc.record({
            k: fc.constant("labelled" as const),
            body: inner(f.checkpointsInLabels),
          }),
          weight: weight(2, f.checkpointsInLabels),
        });
      }
      if (f.switch) {
        const caseBody = inner(f.checkpointsInSwitch);
        options.push({
          arbitrary: fc.record({
            k: fc.constant("switch" as const),
            discriminant: this.expr(1, durable && f.checkpointsInSwitch),
            cases: fc.array(fc.record({ body: caseBody, brk: fc.boolean() }), {
              minLength: 1,
              maxLength: 3,
            }),
            defaultAt: fc.option(fc.nat({ max: 3 }), { nil: null }),
            defaultBody: caseBody,
          }),
          weight: weight(4, f.checkpointsInSwitch),
        });
      }
      if (f.exceptionEdges && f.tryCatch && durable && f.checkpointsInTry) {
        options.push({
          arbitrary: fc.record({
            k: fc.constant("tryAssign" as const),
            t: index,
            call: fc.oneof(this.call(1, true), fc.constant({ k: "boom", message: 0 } as const)),
            parse: fc.boolean(),
          }),
          weight: 3,
        });
      }
      if (f.closuresPerIteration && f.loops && f.closures) {
        options.push({
          arbitrary: fc.record({
            k: fc.constant("perIteration" as const),
            bound: fc.integer({ min: 1, max: 3 }),
            every: fc.integer({ min: 1, max: 3 }),
            t: index,
            body: inner(f.checkpointsInLoops),
          }),
          weight: weight(3, f.checkpointsInLoops),
        });
      }
      if (f.using) {
        options.push({
          arbitrary: fc.record({ k: fc.constant("using" as const), body }),
          weight: 2,
        });
      }
      if (f.memberCompound) {
        options.push({
          arbitrary: fc.record({
            k: fc.constant("memberCompound" as const),
            t: index,
            key: this.expr(1, durable),
            op: fc.constantFrom<CompoundOp>("+=", "-=", "*=", "||=", "&&=", "??="),
            e: this.expr(1, durable),
            clobber: fc.boolean(),
          }),
          weight: 2,
        });
      }
      if (f.deadZones && f.closures) {
        const forms: DeadZone["form"][] = ["block"];
        if (f.loops && f.checkpointsInLoops) forms.push("loop");
        if (f.switch && f.checkpointsInSwitch) forms.push("switch");
        options.push({
          arbitrary: fc.record({
            k: fc.constant("deadZone" as const),
            form: fc.constantFrom(...forms),
            access: fc.constantFrom("read" as const, "write" as const, "compound" as const),
            direct: fc.boolean(),
            // Mostly touched before the declaration, mostly caught so the program goes on.
            before: fc.nat({ max: 3 }).map((n) => n !== 0),
            caught: fc.nat({ max: 2 }).map((n) => n !== 0),
            t: index,
            bound: fc.integer({ min: 1, max: 3 }),
            selector: this.expr(1, false),
            init,
            body,
            rest: body,
          }),
          weight: 3,
        });
      }
      if (f.tryCatch) {
        const part = inner(f.checkpointsInTry);
        options.push({
          arbitrary: fc
            .record({
              k: fc.constant("try" as const),
              block: part,
              handler: fc.option(
                fc.record({ bind: fc.boolean(), body: part, rethrow: fc.boolean() }),
                { nil: null },
              ),
              finalizer: fc.option(part, { nil: null }),
            })
            .map((s) =>
              s.handler === null && s.finalizer === null
                ? { ...s, handler: { bind: true, body: [], rethrow: false } }
                : s,
            ),
          weight: weight(4, f.checkpointsInTry),
        });
      }
    }
    // Cross-shrinking lets the shrinker replace a construct with the first option (a
    // literal, a declaration), not only simplify it in place.
    const arb = fc.oneof({ withCrossShrink: true }, ...options);
    this.#stmts.set(key, arb);
    return arb;
  }
}

/** How many statements a list holds, nested ones included. */
export function countStatements(list: readonly Stmt[]): number {
  let n = 0;
  for (const s of list) {
    n++;
    for (const child of childLists(s)) n += countStatements(child);
  }
  return n;
}

function childLists(s: Stmt): (readonly Stmt[])[] {
  switch (s.k) {
    case "if":
      return s.alternate ? [s.consequent, s.alternate] : [s.consequent];
    case "block":
    case "shadow":
    case "loop":
    case "forOf":
    case "forIn":
    case "labelled":
    case "perIteration":
    case "using":
      return [s.body];
    case "deadZone":
      return [s.body, s.rest];
    case "switch":
      return [...s.cases.map((c) => c.body), s.defaultBody];
    case "try":
      return [
        s.block,
        ...(s.handler ? [s.handler.body] : []),
        ...(s.finalizer ? [s.finalizer] : []),
      ];
    default:
      return [];
  }
}

/** Programs as syntax trees (see {@link renderProgram}). */
export function programTreeArbitrary(features: GeneratorFeatures = SUPPORTED_NOW): Arb<Program> {
  const grammar = new Grammar(features);
  return fc
    .record({
      params: fc.nat({ max: 2 }),
      args: fc.array(small, { minLength: 2, maxLength: 2 }),
      body: grammar.list(0, true),
      result: fc.oneof(
        { arbitrary: fc.constant("all" as const), weight: 4 },
        { arbitrary: grammar.init(true), weight: 1 },
        { arbitrary: fc.constant(null), weight: 1 },
      ),
      helpers: features.closures
        ? fc.array(grammar.expr(1, false), { maxLength: 2 })
        : fc.constant([]),
    })
    .filter((p) => countStatements(p.body) <= MAX_STATEMENTS);
}

/** Workflow programs ready for the oracle (test/support/oracle.ts). */
export function programArbitrary(features: GeneratorFeatures = SUPPORTED_NOW): Arb<OracleCase> {
  return programTreeArbitrary(features).map((p) => renderProgram(p, features));
}

// ---------------------------------------------------------------------------------------
// Rendering

interface Variable {
  readonly name: string;
  /** How the variable is read (a for…in key is read as a number). */
  readonly ref: string;
  readonly mutable: boolean;
  /** A plain `let`/`const`/`var`/parameter name another declaration may reuse or shadow. */
  readonly plain: boolean;
}

interface JumpTarget {
  readonly label: string | undefined;
  readonly kind: "loop" | "switch" | "block";
}

interface Scope {
  readonly vars: Variable[];
  readonly targets: readonly JumpTarget[];
  /** Whether the compiler cuts this statement list at checkpoints (its declarations become frame slots). */
  readonly exploded: boolean;
  readonly indent: string;
}

function containsCheckpoint(node: Stmt | Expr | Init | StepCall | null): boolean {
  if (node === null) return false;
  switch (node.k) {
    case "add":
    case "echo":
    case "boom":
    case "inline":
    case "await":
    case "step":
      return true;
    case "lit":
    case "null":
    case "var":
    case "jump":
      return false;
    case "neg":
    case "not":
    case "mod":
      return containsCheckpoint(node.e);
    case "bin":
    case "logic":
      return containsCheckpoint(node.l) || containsCheckpoint(node.r);
    case "cond":
      return containsCheckpoint(node.c) || containsCheckpoint(node.a) || containsCheckpoint(node.b);
    case "tpl":
      return node.parts.some(containsCheckpoint);
    case "arr":
      return node.items.some(containsCheckpoint);
    case "comma":
      return containsCheckpoint(node.l) || containsCheckpoint(node.r);
    case "opt":
      return containsCheckpoint(node.c) || containsCheckpoint(node.a) || containsCheckpoint(node.r);
    case "mutate":
      return containsCheckpoint(node.r);
    case "tryAssign":
      return true;
    case "perIteration":
    case "using":
      return node.body.some(containsCheckpoint);
    case "memberCompound":
      return containsCheckpoint(node.key) || containsCheckpoint(node.e);
    case "deadZone":
      return (
        containsCheckpoint(node.init) ||
        node.body.some(containsCheckpoint) ||
        node.rest.some(containsCheckpoint)
      );
    case "obj":
      return containsCheckpoint(node.a) || containsCheckpoint(node.b);
    case "iife":
      return containsCheckpoint(node.body) || containsCheckpoint(node.arg);
    case "helper":
      return containsCheckpoint(node.arg);
    case "expr":
      return containsCheckpoint(node.e);
    case "decl":
      return containsCheckpoint(node.init);
    case "destructure":
    case "destructureAssign":
      return (
        node.fromStep ||
        node.values.some(containsCheckpoint) ||
        ("defaults" in node && node.defaults.some(containsCheckpoint))
      );
    case "assign":
      return containsCheckpoint(node.value);
    case "compound":
    case "throw":
      return containsCheckpoint(node.e);
    case "return":
      return containsCheckpoint(node.value);
    case "if":
      return (
        containsCheckpoint(node.test) ||
        node.consequent.some(containsCheckpoint) ||
        (node.alternate?.some(containsCheckpoint) ?? false)
      );
    case "shadow":
      return containsCheckpoint(node.init) || node.body.some(containsCheckpoint);
    case "closure":
      return containsCheckpoint(node.body) || containsCheckpoint(node.arg);
    case "loop":
      return containsCheckpoint(node.test) || node.body.some(containsCheckpoint);
    case "forOf":
    case "forIn":
      return node.items.some(containsCheckpoint) || node.body.some(containsCheckpoint);
    case "block":
    case "labelled":
      return node.body.some(containsCheckpoint);
    case "switch":
      return (
        containsCheckpoint(node.discriminant) ||
        node.cases.some((c) => c.body.some(containsCheckpoint)) ||
        node.defaultBody.some(containsCheckpoint)
      );
    case "try":
      return (
        node.block.some(containsCheckpoint) ||
        (node.handler?.body.some(containsCheckpoint) ?? false) ||
        (node.finalizer?.some(containsCheckpoint) ?? false)
      );
  }
}

class Renderer {
  readonly #features: GeneratorFeatures;
  readonly #helpers: number;
  /** Helpers callable from here: a helper calls only later ones, so they never recurse. */
  #firstCallable = 0;
  #fresh = 0;
  /** Every plain name declared so far, and whether one of its declarations is a frame slot. */
  readonly #declared = new Map<string, { exploded: boolean }>();

  constructor(features: GeneratorFeatures, helpers: number) {
    this.#features = features;
    this.#helpers = helpers;
  }

  helper(i: number, body: Expr, params: readonly Variable[]): string {
    const q = this.fresh("q");
    this.#firstCallable = i + 1;
    const text = this.expr(body, [{ name: q, ref: q, mutable: false, plain: false }, ...params]);
    this.#firstCallable = 0;
    return `function h${i}(${q}) {\n  return ${text};\n}`;
  }

  fresh(prefix: string): string {
    return `${prefix}${this.#fresh++}`;
  }

  declare(scope: Scope, v: Variable, exploded: boolean): void {
    scope.vars.push(v);
    if (!v.plain) return;
    const known = this.#declared.get(v.name);
    this.#declared.set(v.name, { exploded: (known?.exploded ?? false) || exploded });
  }

  expr(e: Expr, vars: readonly Variable[]): string {
    switch (e.k) {
      case "lit":
        return e.v < 0 ? `(${e.v})` : String(e.v);
      case "null":
        return "null";
      case "var":
        return vars.length === 0 ? String(e.i) : vars[e.i % vars.length]!.ref;
      case "neg":
        return `(-${this.expr(e.e, vars)})`;
      case "not":
        return `(!${this.expr(e.e, vars)})`;
      case "bin":
        return e.op === "*"
          ? `((${this.expr(e.l, vars)} * ${this.expr(e.r, vars)}) % 1000)`
          : `(${this.expr(e.l, vars)} ${e.op} ${this.expr(e.r, vars)})`;
      case "mod":
        return `(${this.expr(e.e, vars)} % ${e.m})`;
      case "logic":
        return `(${this.expr(e.l, vars)} ${e.op} ${this.expr(e.r, vars)})`;
      case "cond":
        return `(${this.expr(e.c, vars)} ? ${this.expr(e.a, vars)} : ${this.expr(e.b, vars)})`;
      case "tpl":
        return `\`${e.parts.map((p) => `\${${this.expr(p, vars)}}`).join(":")}\`.length`;
      case "arr": {
        const items = e.items.map((x) => this.expr(x, vars)).join(", ");
        return e.hole
          ? `[, ${items}][${1 + (e.pick % e.items.length)}]`
          : `[${items}][${e.pick % e.items.length}]`;
      }
      case "comma": {
        const mutable = vars.filter((v) => v.mutable);
        const target = mutable[e.t % Math.max(mutable.length, 1)];
        const left = target
          ? `${target.ref} = (${this.expr(e.l, vars)}) % 1000`
          : this.expr(e.l, vars);
        return `(${left}, ${this.expr(e.r, vars)})`;
      }
      case "opt": {
        const object = `(${this.expr(e.c, vars)} ? null : [${this.expr(e.a, vars)}, 5])`;
        return e.call
          ? `${object}?.concat(${this.expr(e.r, vars)})[0]`
          : `${object}?.[(${this.expr(e.r, vars)}) % 2]`;
      }
      case "mutate": {
        const mutable = vars.filter((v) => v.mutable);
        const target = mutable[e.t % Math.max(mutable.length, 1)];
        if (!target) return `(${this.expr(e.r, vars)})`;
        const q = this.fresh("q");
        return `(${target.ref} + ((${q}) => ((${target.ref} = ${q} % 1000), 1))(${this.expr(e.r, vars)}))`;
      }
      case "obj":
        return `({ p: ${this.expr(e.a, vars)}, q: ${this.expr(e.b, vars)} }).${e.pickA ? "p" : "q"}`;
      case "iife": {
        const q = this.fresh("q");
        const inner = [...vars, { name: q, ref: q, mutable: false, plain: false }];
        return `((${q}) => ${this.expr(e.body, inner)})(${this.expr(e.arg, vars)})`;
      }
      case "helper": {
        const callable = this.#helpers - this.#firstCallable;
        return callable <= 0
          ? this.expr(e.arg, vars)
          : `h${this.#firstCallable + (e.i % callable)}(${this.expr(e.arg, vars)})`;
      }
      case "await":
        return `(await ${this.call(e.call, vars)})`;
    }
  }

  call(c: StepCall, vars: readonly Variable[]): string {
    switch (c.k) {
      case "add":
        return `ctx.step(add, ${this.expr(c.a, vars)}, ${this.expr(c.b, vars)})`;
      case "echo":
        return `ctx.step(echo, ${this.expr(c.x, vars)})`;
      case "boom":
        return `ctx.step(boom, "b${c.message}")`;
      case "inline": {
        const mutable = vars.filter((v) => v.mutable);
        const target =
          c.writes === null ? undefined : mutable[c.writes % Math.max(mutable.length, 1)];
        const value = this.expr(c.value, vars);
        return target
          ? `ctx.step("s${c.name}", () => (${target.ref} = (${value}) % 1000))`
          : `ctx.step("s${c.name}", () => ${value})`;
      }
    }
  }

  init(i: Init, vars: readonly Variable[], wrap: boolean): string {
    if (i.k === "step") return `await ${this.call(i.call, vars)}`;
    return wrap ? `(${this.expr(i.e, vars)}) % 1000` : this.expr(i.e, vars);
  }

  list(stmts: readonly Stmt[], scope: Scope): string {
    return stmts
      .map((s) => this.stmt(s, scope))
      .filter((line) => line !== "")
      .join("\n");
  }

  /** A nested statement list: its own block scope. */
  nested(stmts: readonly Stmt[], scope: Scope, extra: Partial<Scope> = {}): string {
    const inner: Scope = {
      vars: [...scope.vars],
      targets: scope.targets,
      exploded: scope.exploded && stmts.some(containsCheckpoint),
      indent: `${scope.indent}  `,
      ...extra,
    };
    return this.list(stmts, inner);
  }

  braces(content: string, indent: string): string {
    return content === "" ? "{}" : `{\n${content}\n${indent}}`;
  }

  /** The name a new plain declaration gets: fresh, or with shadowing an earlier one out of scope. */
  declarationName(reuse: number | null, scope: Scope): string {
    if (reuse !== null) {
      const visible = new Set(scope.vars.map((v) => v.name));
      const candidates = [...this.#declared]
        .filter(([name, info]) => {
          if (visible.has(name)) return false;
          // The compiler cannot yet give one name two frame slots.
          return this.#features.checkpointsAroundShadowing || !(info.exploded && scope.exploded);
        })
        .map(([name]) => name);
      if (candidates.length > 0) return candidates[reuse % candidates.length]!;
    }
    return this.fresh("v");
  }

  /** See {@link DeadZone}. */
  deadZone(s: DeadZone, scope: Scope): string {
    const ind = scope.indent;
    const vars = scope.vars;
    const mutable = vars.filter((v) => v.mutable);
    const target = mutable[s.t % Math.max(mutable.length, 1)];
    const z = this.fresh("z");
    const touch = s.access === "read" ? z : s.access === "write" ? `(${z} = 7)` : `(${z} += 1)`;
    const record = (value: string, at: string) =>
      target ? `${at}${target.name} = (${value}) % 1000;` : `${at}${value};`;
    const attempt = (value: string, at: string, caught: boolean) => {
      if (!caught) return record(value, at);
      const error = this.fresh("e");
      const handler = target ? ` ${target.name} = String(${error}.message).length; ` : " ";
      return `${at}try { ${record(value, "")} } catch (${error}) {${handler}}`;
    };
    const exploded = scope.exploded && containsCheckpoint(s);
    if (s.form === "switch") {
      const inner = `${ind}  `;
      const caseScope: Scope = {
        vars: [...vars],
        targets: [...scope.targets, { label: undefined, kind: "switch" }],
        exploded,
        indent: `${inner}  `,
      };
      const body = this.braces(this.nested(s.body, caseScope), caseScope.indent);
      const rest = this.braces(this.nested(s.rest, caseScope), caseScope.indent);
      return [
        `${ind}switch ((${this.expr(s.selector, vars)}) % 3) {`,
        `${inner}case 0:`,
        `${inner}  ${body}`,
        `${inner}  let ${z} = ${this.init(s.init, vars, false)};`,
        `${inner}case 1:`,
        attempt(touch, `${inner}  `, s.caught),
        `${inner}  ${rest}`,
        `${inner}  break;`,
        `${inner}default:`,
        `${ind}}`,
      ].join("\n");
    }
    // The block itself: where `z` is a per-iteration binding (any loop around it), the closure
    // refers to its box and cannot be made again on resume, so it must not outlive a checkpoint.
    const core = (inner: Scope, inLoop: boolean, caught: boolean): string => {
      const rd = this.fresh("rd");
      const closure = `${inner.indent}const ${rd} = () => ${touch};`;
      const body = this.list(s.body, inner);
      const lines = inLoop ? [body, closure] : [closure, body];
      if (s.before) lines.push(attempt(s.direct ? touch : `${rd}()`, inner.indent, caught));
      lines.push(`${inner.indent}let ${z} = ${this.init(s.init, inner.vars, false)};`);
      if (!inLoop || !containsCheckpoint(s.init)) lines.push(record(`${rd}()`, inner.indent));
      this.declare(inner, { name: z, ref: z, mutable: true, plain: false }, inner.exploded);
      lines.push(this.list(s.rest, inner));
      return lines.filter((line) => line !== "").join("\n");
    };
    if (s.form === "loop") {
      const counter = this.fresh("i");
      const inner: Scope = {
        vars: [...vars, { name: counter, ref: counter, mutable: false, plain: false }],
        targets: [...scope.targets, { label: undefined, kind: "loop" }],
        exploded,
        indent: `${ind}  `,
      };
      const body = core(inner, true, true);
      return `${ind}for (let ${counter} = 0; ${s.bound} > ${counter}; ${counter}++) {\n${body}\n${ind}}`;
    }
    const inner: Scope = { vars: [...vars], targets: scope.targets, exploded, indent: `${ind}  ` };
    const inLoop = scope.targets.some((t) => t.kind === "loop");
    return `${ind}{\n${core(inner, inLoop, s.caught)}\n${ind}}`;
  }

  stmt(s: Stmt, scope: Scope): string {
    const ind = scope.indent;
    const vars = scope.vars;
    const mutable = vars.filter((v) => v.mutable);
    const f = this.#features;
    switch (s.k) {
      case "decl": {
        // `var` only directly in the body: its scope is the whole function.
        const kind = s.kind === "var" && scope.indent !== "" ? "let" : s.kind;
        const name = kind === "var" ? this.fresh("v") : this.declarationName(s.reuse, scope);
        const text = `${ind}${kind} ${name} = ${this.init(s.init, vars, false)};`;
        const v = { name, ref: name, mutable: kind !== "const", plain: true };
        this.declare(scope, v, scope.exploded);
        return text;
      }
      case "destructure": {
        const names = s.defaults.map(() => this.fresh("v"));
        const keys = ["p", "q", "r"];
        const bindings = names.map((name, i) => {
          const d = s.defaults[i];
          const binding = s.pattern === "array" ? name : `${keys[i]}: ${name}`;
          return d ? `${binding} = ${this.expr(d, vars)}` : binding;
        });
        const values = s.values.map((x, i) =>
          s.pattern === "array" ? this.expr(x, vars) : `${keys[i]}: ${this.expr(x, vars)}`,
        );
        const source =
          s.pattern === "array" ? `[${values.join(", ")}]` : `{ ${values.join(", ")} }`;
        const pattern =
          s.pattern === "array" ? `[${bindings.join(", ")}]` : `{ ${bindings.join(", ")} }`;
        const text = `${ind}${s.kind} ${pattern} = ${s.fromStep ? `await ctx.step(echo, ${source})` : source};`;
        for (const name of names) {
          this.declare(
            scope,
            { name, ref: name, mutable: s.kind === "let", plain: false },
            scope.exploded,
          );
        }
        return text;
      }
      case "destructureAssign": {
        const targets = [...new Set(s.targets.map((t) => mutable[t % mutable.length]?.name))];
        if (mutable.length === 0 || targets.length < 2) {
          return s.fromStep
            ? `${ind}await ${this.call({ k: "echo", x: s.values[0]! }, vars)};`
            : "";
        }
        const source = `[${s.values.map((x) => this.expr(x, vars)).join(", ")}]`;
        return `${ind}[${targets.join(", ")}] = ${s.fromStep ? `await ctx.step(echo, ${source})` : source};`;
      }
      case "assign": {
        if (mutable.length === 0) {
          return this.stmt({ k: "decl", kind: "let", init: s.value, reuse: null }, scope);
        }
        const target = mutable[s.target % mutable.length]!.name;
        return `${ind}${target} = ${this.init(s.value, vars, true)};`;
      }
      case "compound": {
        if (mutable.length === 0) return `${ind}${this.expr(s.e, vars)};`;
        const target = mutable[s.target % mutable.length]!.name;
        return `${ind}${target} ${s.op} ${this.expr(s.e, vars)};`;
      }
      case "step":
        return `${ind}await ${this.call(s.call, vars)};`;
      case "expr":
        return `${ind}${this.expr(s.e, vars)};`;
      case "return":
        return s.value === null
          ? `${ind}return;`
          : `${ind}return ${this.init(s.value, vars, false)};`;
      case "throw":
        return `${ind}throw new Error("t" + ${this.expr(s.e, vars)});`;
      case "if": {
        const then = this.braces(this.nested(s.consequent, scope), ind);
        const alternate = s.alternate
          ? ` else ${this.braces(this.nested(s.alternate, scope), ind)}`
          : "";
        return `${ind}if (${this.expr(s.test, vars)}) ${then}${alternate}`;
      }
      case "block":
        return `${ind}${this.braces(this.nested(s.body, scope), ind)}`;
      case "shadow": {
        const shadowable = vars.filter((v) => v.plain);
        if (shadowable.length === 0) return `${ind}${this.braces(this.nested(s.body, scope), ind)}`;
        const target = shadowable[s.target % shadowable.length]!;
        const exploded = scope.exploded && containsCheckpoint(s);
        const declared = this.#declared.get(target.name);
        if (!f.checkpointsAroundShadowing && exploded && declared?.exploded) {
          return `${ind}${this.braces(this.nested(s.body, scope), ind)}`;
        }
        // The initializer cannot see the name it declares (no temporal dead zone).
        const init = this.expr(
          s.init,
          vars.filter((v) => v.name !== target.name),
        );
        const inner: Scope = {
          vars: vars.filter((v) => v.name !== target.name),
          targets: scope.targets,
          exploded,
          indent: `${ind}  `,
        };
        const first = `${inner.indent}let ${target.name} = ${init};`;
        this.declare(inner, { ...target, mutable: true }, exploded);
        const rest = this.list(s.body, inner);
        return `${ind}{\n${first}${rest === "" ? "" : `\n${rest}`}\n${ind}}`;
      }
      case "closure": {
        const fn = this.fresh("f");
        const q = this.fresh("q");
        const inner = `${ind}  `;
        const body = this.expr(s.body, [
          ...vars,
          { name: q, ref: q, mutable: false, plain: false },
        ]);
        const use =
          mutable.length === 0
            ? `${fn}(${this.expr(s.arg, vars)});`
            : `${mutable[s.target % mutable.length]!.name} = ${fn}(${this.expr(s.arg, vars)}) % 1000;`;
        return `${ind}{\n${inner}const ${fn} = (${q}) => ${body};\n${inner}${use}\n${ind}}`;
      }
      case "loop": {
        const counter = this.fresh("i");
        const label = s.labelled ? this.fresh("L") : undefined;
        const prefix = label ? `${label}: ` : "";
        const counterVar: Variable = { name: counter, ref: counter, mutable: false, plain: false };
        const extra = s.test ? ` && ${this.expr(s.test, [...vars, counterVar])}` : "";
        const inner: Scope = {
          vars: [...vars, counterVar],
          targets: [...scope.targets, { label, kind: "loop" }],
          exploded: scope.exploded && s.body.some(containsCheckpoint),
          indent: `${ind}  `,
        };
        // In while and do…while the counter goes up first, so `continue` cannot skip it.
        const lines = s.form === "for" ? [] : [`${inner.indent}${counter}++;`];
        const rest = this.list(s.body, inner);
        if (rest !== "") lines.push(rest);
        const body = this.braces(lines.join("\n"), ind);
        const test = `${s.bound} > ${counter}${extra}`;
        switch (s.form) {
          case "for":
            return `${ind}${prefix}for (let ${counter} = 0; ${test}; ${counter}++) ${body}`;
          case "while":
            return `${ind}let ${counter} = 0;\n${ind}${prefix}while (${test}) ${body}`;
          case "do":
            return `${ind}let ${counter} = 0;\n${ind}${prefix}do ${body} while (${test});`;
        }
        break;
      }
      case "forOf":
      case "forIn": {
        const item = this.fresh(s.k === "forOf" ? "x" : "k");
        const label = s.labelled ? this.fresh("L") : undefined;
        const prefix = label ? `${label}: ` : "";
        const source =
          s.k === "forOf"
            ? `[${s.items.map((x) => this.expr(x, vars)).join(", ")}]`
            : `{ ${s.items.map((x, i) => `k${i}: ${this.expr(x, vars)}`).join(", ")} }`;
        const itemVar: Variable = {
          name: item,
          ref: s.k === "forOf" ? item : `${item}.charCodeAt(1)`,
          mutable: false,
          plain: false,
        };
        const body = this.nested(s.body, scope, {
          vars: [...vars, itemVar],
          targets: [...scope.targets, { label, kind: "loop" }],
        });
        return `${ind}${prefix}for (const ${item} ${s.k === "forOf" ? "of" : "in"} ${source}) ${this.braces(body, ind)}`;
      }
      case "jump": {
        const options: string[] = [];
        if (s.kind === "break") {
          if (scope.targets.some((t) => t.kind !== "block")) options.push("break");
          for (const t of scope.targets) if (t.label) options.push(`break ${t.label}`);
        } else {
          if (scope.targets.some((t) => t.kind === "loop")) options.push("continue");
          for (const t of scope.targets) {
            if (t.label && t.kind === "loop") options.push(`continue ${t.label}`);
          }
        }
        return options.length === 0 ? "" : `${ind}${options[s.target % options.length]};`;
      }
      case "labelled": {
        const label = this.fresh("L");
        const body = this.nested(s.body, scope, {
          targets: [...scope.targets, { label, kind: "block" }],
        });
        return `${ind}${label}: ${this.braces(body, ind)}`;
      }
      case "switch": {
        const inner = `${ind}  `;
        const caseScope: Scope = {
          ...scope,
          targets: [...scope.targets, { label: undefined, kind: "switch" }],
          indent: inner,
        };
        const clause = (head: string, body: readonly Stmt[], brk: boolean) => {
          const content = this.nested(body, caseScope);
          return `${inner}${head} ${this.braces(content, inner)}${brk ? " break;" : ""}`;
        };
        const clauses = s.cases.map((c, i) => clause(`case ${i}:`, c.body, c.brk));
        if (s.defaultAt !== null) {
          clauses.splice(
            Math.min(s.defaultAt, clauses.length),
            0,
            clause("default:", s.defaultBody, false),
          );
        }
        return `${ind}switch (${this.expr(s.discriminant, vars)} % ${s.cases.length + 1}) {\n${clauses.join("\n")}\n${ind}}`;
      }
      case "tryAssign": {
        const call = this.call(s.call, vars);
        const value = s.parse ? `JSON.parse("{" + (await ${call}))` : `await ${call}`;
        const target = mutable[s.t % Math.max(mutable.length, 1)];
        return `${ind}try {\n${ind}  ${target ? `${target.name} = ` : ""}${value};\n${ind}} catch {}`;
      }
      case "perIteration": {
        const fns = this.fresh("fs");
        const counter = this.fresh("i");
        const captured = this.fresh("c");
        const inner: Scope = {
          vars: [...vars, { name: counter, ref: counter, mutable: false, plain: false }],
          targets: [...scope.targets, { label: undefined, kind: "loop" }],
          exploded: scope.exploded && s.body.some(containsCheckpoint),
          indent: `${ind}    `,
        };
        const target = mutable[s.t % Math.max(mutable.length, 1)];
        const sum = `${fns}.reduce((s, g) => s + g(), 0) % 1000`;
        const rest = this.list(s.body, inner);
        const i2 = `${ind}  `;
        return [
          `${ind}{`,
          `${i2}const ${fns} = [];`,
          `${i2}for (let ${counter} = 0; ${s.bound} > ${counter}; ${counter}++) {`,
          `${i2}  let ${captured} = ${counter} * 3;`,
          `${i2}  ${fns}.push(() => ${captured} + ${counter});`,
          `${i2}  ${captured}++;`,
          `${i2}  if (${counter} % ${s.every} === ${s.every - 1} || ${counter} === ${s.bound - 1}) {`,
          `${inner.indent}${target ? `${target.name} = ${sum}` : sum};`,
          `${inner.indent}${fns}.length = 0;`,
          ...(rest === "" ? [] : [rest]),
          `${i2}  }`,
          `${i2}}`,
          `${ind}}`,
        ].join("\n");
      }
      case "deadZone":
        return this.deadZone(s, scope);
      case "memberCompound": {
        const o = this.fresh("o");
        const target = mutable[s.t % Math.max(mutable.length, 1)];
        const first = target ? target.name : "null";
        const key = `(${this.expr(s.key, vars)}) % 2 ? "a" : "b"`;
        const sum = `(${o}.a + ${o}.b) % 1000`;
        const value = this.expr(s.e, vars);
        return [
          `${ind}{`,
          `${ind}  const ${o} = { a: ${first}, b: 1 };`,
          `${ind}  ${o}[${key}] ${s.op} ${s.clobber ? `(${o}.a = ${o}.b = 7, ${value})` : value};`,
          `${ind}  ${target ? `${target.name} = ${sum}` : sum};`,
          `${ind}}`,
        ].join("\n");
      }
      case "using": {
        const resource = this.fresh("r");
        const inner: Scope = {
          vars: [...vars],
          targets: scope.targets,
          exploded: scope.exploded && s.body.some(containsCheckpoint),
          indent: `${ind}  `,
        };
        const rest = this.list(s.body, inner);
        const first = `${inner.indent}using ${resource} = new Resource("${resource}");`;
        return `${ind}{\n${first}${rest === "" ? "" : `\n${rest}`}\n${ind}}`;
      }
      case "try": {
        const block = this.braces(this.nested(s.block, scope), ind);
        let text = `${ind}try ${block}`;
        if (s.handler) {
          const error = this.fresh("e");
          const errorVar: Variable = {
            name: error,
            ref: `String(${error}?.message).length`,
            mutable: false,
            plain: false,
          };
          const body = this.nested(s.handler.body, scope, {
            vars: s.handler.bind ? [...vars, errorVar] : [...vars],
          });
          const rethrow = s.handler.bind && s.handler.rethrow ? `${ind}  throw ${error};` : "";
          const content = [body, rethrow].filter((x) => x !== "").join("\n");
          text += ` catch${s.handler.bind ? ` (${error})` : ""} ${this.braces(content, ind)}`;
        }
        if (s.finalizer) text += ` finally ${this.braces(this.nested(s.finalizer, scope), ind)}`;
        return text;
      }
    }
    return "";
  }
}

/** Render a program tree as a workflow body; any tree gives a valid, terminating program. */
export function renderProgram(p: Program, features: GeneratorFeatures = SUPPORTED_NOW): OracleCase {
  const renderer = new Renderer(features, p.helpers.length);
  const params = Array.from({ length: p.params }, (_, i) => `p${i}`);
  const scope: Scope = { vars: [], targets: [], exploded: true, indent: "" };
  for (const name of params)
    renderer.declare(scope, { name, ref: name, mutable: true, plain: true }, true);
  let body = renderer.list(p.body, scope);
  if (p.result !== null) {
    const value =
      p.result === "all"
        ? `[${scope.vars.map((v) => v.ref).join(", ")}]`
        : renderer.init(p.result, scope.vars, false);
    body += `${body === "" ? "" : "\n"}return ${value};`;
  }
  // Hoisted: they may be called before their declaration. They read only their parameter
  // and the workflow's parameters, which are always initialized.
  const paramVars = params.map((name) => ({ name, ref: name, mutable: false, plain: false }));
  p.helpers.forEach((h, i) => {
    body += `\n${renderer.helper(i, h, paramVars)}`;
  });
  return { params: params.join(", "), body, args: p.args.slice(0, p.params) };
}
