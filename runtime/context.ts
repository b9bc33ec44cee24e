import type { StepFunction, Workflow } from "./definitions.js";
import { type Duration, toMilliseconds } from "./duration.js";
import { UnpersistableIteratorError } from "./errors.js";

/** The own properties every function has, which `$props` does not keep. */
const OWN_FUNCTION_KEYS = new Set([
  "length",
  "name",
  "prototype",
  "arguments",
  "caller",
  "__proto__",
]);

/** The time source of an engine: the real clock, or a test clock a test moves by hand. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Optional: call `listener` whenever the time jumps (a test clock does), so waits are re-checked. */
  subscribe?(listener: () => void): () => void;
}

/** One option of a `waitForUser` question. */
export interface UserOption {
  readonly id: string;
  readonly label?: string;
}

/** What `ctx.waitForUser` asks. */
export interface UserQuestion {
  readonly question: string;
  /** `"approval"` (options default to approve/reject), `"choice"` (one of `options`), or `"text"`. */
  readonly inputType: "approval" | "choice" | "text";
  readonly options?: readonly UserOption[];
  /** Give up after this long: the `await` throws `TimeoutError`. */
  readonly timeout?: Duration;
}

/** Options of `ctx.waitForEvent`. */
export interface WaitForEventOptions<T = unknown> {
  /**
   * Give up after this long, counted from when the wait began (events the predicate
   * refused do not restart it): the `await` throws `TimeoutError`.
   */
  readonly timeout?: Duration;
  /**
   * Which payloads to take: an object of fields they must equal (a shallow, strict
   * comparison, tested by the engine), or a predicate. A predicate is tested by the run
   * itself: it wakes for each event of this name, calls it, and waits again when it
   * returns a falsy value; if it throws, the `await` throws that error. It may read the
   * workflow's variables. Write it in the call (`{ match: (p) => p.total > limit }`) or
   * name it.
   */
  readonly match?: Readonly<Record<string, unknown>> | ((payload: T) => unknown);
}

/** Session-scoped state: shared by the runs started with the same `sessionId`. */
export interface SessionState {
  /** The value stored under `key`, or `fallback` (default `undefined`). */
  get<T = unknown>(key: string, fallback?: T): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Where the machine's `ctx.session.state` reads and writes go. */
export interface SessionAccess {
  read(): Promise<Map<string, unknown>>;
  write(change: (state: Map<string, unknown>) => void): Promise<void>;
}

/** Run-scoped state: lives as long as the run, committed with its checkpoints. */
export interface RunState {
  /** The value stored under `key`, or `undefined`. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Options of `ctx.batch` and `ctx.map`. */
export interface BatchOptions {
  /** How many items run at once (default 10). */
  readonly maxConcurrency?: number;
}

/** One item's outcome in `ctx.batch`. */
export type BatchItemResult<R> =
  | { readonly ok: true; readonly value: R }
  | { readonly ok: false; readonly error: unknown };

/** What `ctx.batch` resolves to. */
export interface BatchResult<R> {
  /** Per item, in item order. */
  readonly results: BatchItemResult<R>[];
  readonly stats: {
    readonly totalItems: number;
    readonly completedItems: number;
    readonly failedItems: number;
  };
}

/**
 * The first argument of a workflow body. Its methods are the workflow's checkpoints: the
 * compiler turns each `await ctx.…(…)` into a point where the run's position and live
 * variables are committed.
 */
export interface WorkflowContext {
  /** The id of this run. */
  readonly runId: string;
  /** The workflow's registered name. */
  readonly workflowName: string;
  /** The session this run belongs to, when started with one. */
  readonly sessionId: string | undefined;
  /**
   * Run a durable function once: its result is checkpointed, so after a crash it is not
   * run again. Retries follow the function's options.
   *
   * @example
   * ```ts
   * const order = await ctx.step(validateOrder, orderId);
   * ```
   */
  step<A extends unknown[], R>(f: StepFunction<A, R>, ...args: A): Promise<Awaited<R>>;
  /**
   * An inline named step: `body` runs once and its result is checkpointed.
   *
   * @example
   * ```ts
   * const rate = await ctx.step("fetch-rate", () => fetchRate("EUR"));
   * ```
   */
  step<R>(name: string, body: () => R | Promise<R>): Promise<Awaited<R>>;
  /**
   * Run steps concurrently; resolves to their results in order. Each step is checkpointed
   * as it finishes, so after a crash only the unfinished ones run again. When a step fails,
   * the others still finish, then the first failure (in argument order) is thrown.
   *
   * @example
   * ```ts
   * const [sales, stock] = await ctx.parallel(ctx.step(fetchSales, id), ctx.step(fetchStock, id));
   * ```
   */
  parallel<T extends readonly unknown[]>(
    ...steps: T
  ): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }>;
  /**
   * Like {@link WorkflowContext.parallel}, with the results by name.
   *
   * @example
   * ```ts
   * const { user, orders } = await ctx.gather({ user: ctx.step(loadUser, id), orders: ctx.step(loadOrders, id) });
   * ```
   */
  gather<T extends Readonly<Record<string, unknown>>>(
    steps: T,
  ): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }>;
  /**
   * Call `f` once per item, at most `maxConcurrency` at a time; every item's outcome is
   * checkpointed as it finishes. Never throws for a failed item: see `results` and `stats`.
   */
  batch<I, R>(
    f: StepFunction<[I], R>,
    items: readonly I[],
    options?: BatchOptions,
  ): Promise<BatchResult<Awaited<R>>>;
  /** {@link WorkflowContext.batch}'s values in item order; throws `BatchError` if any item failed. */
  map<I, R>(
    f: StepFunction<[I], R>,
    items: readonly I[],
    options?: BatchOptions,
  ): Promise<Awaited<R>[]>;
  /**
   * Sleep durably: the wake time is stored, the run holds no memory in any process while
   * it sleeps, and after a restart only the remaining time is slept.
   *
   * @example
   * ```ts
   * await ctx.sleep("24h", { name: "wait_24h" });
   * ```
   */
  sleep(duration: Duration, options?: { readonly name?: string }): Promise<void>;
  /** Sleep durably until a moment. */
  sleepUntil(until: Date | number): Promise<void>;
  /**
   * Suspend until `engine.respond(runId, answer)`; resolves to the chosen option's `id`
   * (approval, choice) or the text. With `timeout`, throws `TimeoutError` when no answer
   * came in time.
   */
  waitForUser(question: UserQuestion): Promise<string>;
  /**
   * Suspend until `engine.emit(name, payload)` delivers a payload emitted after the wait
   * began whose fields equal `match`; resolves to it. With `timeout`, throws `TimeoutError`.
   */
  waitForEvent<T = unknown>(name: string, options?: WaitForEventOptions<T>): Promise<T>;
  /** Run-scoped state, committed with each checkpoint and gone when the run ends. */
  readonly state: RunState;
  /**
   * State shared by the runs of one session (`engine.start(wf, args, { sessionId })`).
   * Writes commit with the next checkpoint, with compare-and-set on the session: when
   * another run of the session wrote first, this run goes back to its last checkpoint and
   * runs that stretch again with fresh state, so no update is lost. The atomic unit is the
   * stretch between two checkpoints: read and write in the same stretch.
   */
  readonly session: { readonly state: SessionState };
  /**
   * Start another workflow as a separate durable run (its own id, visible to `engine.get`)
   * and wait for it: resolves to its result or throws its error. The parent holds no memory
   * while it waits.
   */
  child<A extends unknown[], R>(
    workflow: Workflow<A, R>,
    args: NoInfer<A>,
    options?: { readonly runId?: string },
  ): Promise<R>;
  /** The same, for a static method decorated with `@workflow`. */
  child<A extends unknown[], R>(
    workflow: (ctx: WorkflowContext, ...args: A) => Promise<R>,
    args: NoInfer<A>,
    options?: { readonly runId?: string },
  ): Promise<Awaited<R>>;
}

/** One call of a step function, as the compiled machine describes it. */
export interface StepOperation {
  readonly kind: "step";
  readonly name: string;
  readonly call: StepFunction;
  readonly args: readonly unknown[];
  /** Inline steps take no FunctionContext. */
  readonly inline: boolean;
}

/** A durable operation as the compiled machine hands it to the runtime. */
export type Operation =
  | StepOperation
  | { readonly kind: "sleep"; readonly until: number }
  | {
      readonly kind: "child";
      readonly workflow: string;
      readonly args: readonly unknown[];
      readonly runId: string | undefined;
    }
  | {
      readonly kind: "waitForUser";
      readonly question: UserQuestion & { readonly options: readonly UserOption[] };
      readonly timeoutAt: number | null;
    }
  | {
      readonly kind: "waitForEvent";
      readonly name: string;
      readonly match: Readonly<Record<string, unknown>> | null;
      readonly timeoutAt: number | null;
      /** The machine tests each delivered payload with a predicate (any event of `name` is delivered). */
      readonly tested?: true;
    }
  | { readonly kind: "parallel"; readonly branches: readonly StepOperation[] }
  | {
      readonly kind: "gather";
      readonly keys: readonly string[];
      readonly branches: readonly StepOperation[];
    }
  | {
      readonly kind: "batch" | "map";
      readonly branches: readonly StepOperation[];
      readonly maxConcurrency: number;
    };

function asStep(value: unknown, where: string): StepOperation {
  if (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "step"
  ) {
    return value as StepOperation;
  }
  throw new TypeError(
    `${where} takes ctx.step(…) calls, e.g. ctx.parallel(ctx.step(f, x), ctx.step(g, y)); got ${typeof value}.`,
  );
}

function concurrency(options: BatchOptions | undefined, method: string): number {
  const max = options?.maxConcurrency ?? 10;
  if (!Number.isInteger(max) || max < 1) {
    throw new TypeError(
      `ctx.${method}: maxConcurrency must be a whole number >= 1; got ${String(max)}.`,
    );
  }
  return max;
}

const arrayValues = Array.prototype[Symbol.iterator];
const typedArrayValues = Object.getPrototypeOf(Uint8Array.prototype)[Symbol.iterator];

function isTypedArray(value: unknown): boolean {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/** A value as V8 names it in a TypeError without a call site: `undefined`, `number 5`, `object`. */
function typeDescription(value: unknown): string {
  if (value === null) return "object null";
  if (typeof value === "string") return `string "${value}"`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${value}`;
  return typeof value;
}

/**
 * The prototypes of the built-in iterators whose values a `for…of` loop may take when it
 * starts: reading them runs none of the program's code, and the values they give are those
 * of their Map, Set or string at that moment.
 */
const builtInIterators: ReadonlySet<unknown> = new Set(
  [
    [][Symbol.iterator](),
    new Map()[Symbol.iterator](),
    new Set()[Symbol.iterator](),
    ""[Symbol.iterator](),
    "".matchAll(/(?:)/g),
    ...(typeof Intl.Segmenter === "function"
      ? [new Intl.Segmenter().segment("")[Symbol.iterator]()]
      : []),
  ].map((iterator) => Object.getPrototypeOf(iterator)),
);

/**
 * The `ctx` the compiled machine sees. Its durable methods do not do the work: they
 * describe it, and the machine yields the description to the runtime at the checkpoint.
 */
export class MachineContext {
  readonly runId: string;
  readonly workflowName: string;
  readonly sessionId: string | undefined;
  readonly state: RunState;
  readonly session: { readonly state: SessionState };
  readonly #clock: Clock;
  /** The tested wait this execution resumed from, if any (what `$waitAgain` waits for). */
  readonly #resumedWait: { readonly name: string; readonly until: number | null } | undefined;

  constructor(
    runId: string,
    workflowName: string,
    sessionId: string | undefined,
    clock: Clock,
    state: Map<string, unknown>,
    session: SessionAccess,
    resumedWait?: { readonly name: string; readonly until: number | null },
  ) {
    this.#resumedWait = resumedWait;
    this.runId = runId;
    this.workflowName = workflowName;
    this.sessionId = sessionId;
    this.#clock = clock;
    this.state = {
      get: async <T>(key: string) => state.get(key) as T | undefined,
      set: async (key: string, value: unknown) => {
        state.set(key, value);
      },
      delete: async (key: string) => {
        state.delete(key);
      },
    };
    this.session = {
      state: {
        get: async <T>(key: string, fallback?: T) => {
          const current = await session.read();
          return (current.has(key) ? current.get(key) : fallback) as T | undefined;
        },
        set: (key: string, value: unknown) => session.write((s) => s.set(key, value)),
        delete: (key: string) => session.write((s) => s.delete(key)),
      },
    };
  }

  child(workflow: unknown, args: unknown, options: { runId?: string } = {}): Operation {
    const name = (workflow as { name?: unknown } | undefined)?.name;
    if (typeof name !== "string" || !name) {
      throw new TypeError(
        "ctx.child needs a workflow made by workflow() and its arguments: ctx.child(wf, [args]).",
      );
    }
    if (!Array.isArray(args)) {
      throw new TypeError(
        `ctx.child(${name}, args): args must be the list of the child's arguments.`,
      );
    }
    return { kind: "child", workflow: name, args, runId: options.runId };
  }

  sleep(duration: Duration, _options?: { name?: string }): Operation {
    return {
      kind: "sleep",
      until: this.#clock.now() + toMilliseconds(duration, "ctx.sleep duration"),
    };
  }

  sleepUntil(until: Date | number): Operation {
    const at = until instanceof Date ? until.getTime() : until;
    if (typeof at !== "number" || !Number.isFinite(at)) {
      throw new TypeError(
        `ctx.sleepUntil needs a Date or epoch milliseconds; got ${String(until)}.`,
      );
    }
    return { kind: "sleep", until: at };
  }

  waitForUser(question: UserQuestion): Operation {
    if (
      typeof question !== "object" ||
      question === null ||
      typeof question.question !== "string"
    ) {
      throw new TypeError(
        'ctx.waitForUser needs { question: string, inputType: "approval" | "choice" | "text", options? }.',
      );
    }
    const { inputType } = question;
    if (inputType !== "approval" && inputType !== "choice" && inputType !== "text") {
      throw new TypeError(
        `ctx.waitForUser: inputType must be "approval", "choice" or "text"; got ${JSON.stringify(inputType)}.`,
      );
    }
    const options =
      question.options ??
      (inputType === "approval"
        ? [
            { id: "approve", label: "Approve" },
            { id: "reject", label: "Reject" },
          ]
        : []);
    if (inputType === "choice" && options.length === 0) {
      throw new TypeError('ctx.waitForUser: a "choice" needs options: [{ id, label }, …].');
    }
    return {
      kind: "waitForUser",
      question: { ...question, options },
      timeoutAt: this.#deadline(question.timeout, "ctx.waitForUser timeout"),
    };
  }

  waitForEvent(name: string, options: WaitForEventOptions = {}): Operation {
    if (typeof options?.match === "function") {
      throw new TypeError(
        "ctx.waitForEvent: a predicate as match must be written in the call's options, ctx.waitForEvent(name, { match: (payload) => … }) (or named there: { match: accepts }), so the compiler can test it where the run resumes.",
      );
    }
    return this.$waitForEvent(name, options);
  }

  /**
   * `waitForEvent` as the compiler emits it where `match` may be a predicate: the machine
   * tests each delivered payload itself (`$accepts`) and waits again (`$waitAgain`) when
   * the predicate refuses it. The predicate is not kept: the machine evaluates it again.
   */
  $waitForEvent(name: string, options: WaitForEventOptions = {}): Operation {
    if (typeof name !== "string" || name === "") {
      throw new TypeError("ctx.waitForEvent needs an event name.");
    }
    const match = options.match ?? null;
    const timeoutAt = this.#deadline(options.timeout, "ctx.waitForEvent timeout");
    if (typeof match === "function") {
      return { kind: "waitForEvent", name, match: null, timeoutAt, tested: true };
    }
    if (match !== null && (typeof match !== "object" || Array.isArray(match))) {
      throw new TypeError(
        "ctx.waitForEvent: match must be a predicate on the payload or an object of fields the payload must equal, e.g. { orderId }.",
      );
    }
    return { kind: "waitForEvent", name, match, timeoutAt };
  }

  /**
   * For the frame: the own properties the workflow gave a function the machine makes again on
   * resume (`counter.calls = 1`, `price.cache = {}`), or `undefined` when it has none. A
   * function's `length`, `name`, `prototype` (and a sloppy one's `arguments` and `caller`) are its own, not given; symbol keys are not
   * kept. The values are stored with the frame's variables, so an object both a property and
   * a variable hold comes back as one object.
   */
  $props(fn: unknown): Record<string, unknown> | undefined {
    if (typeof fn !== "function") return undefined;
    let out: Record<string, unknown> | undefined;
    for (const key of Object.getOwnPropertyNames(fn)) {
      if (OWN_FUNCTION_KEYS.has(key)) continue;
      out ??= {};
      out[key] = (fn as unknown as Record<string, unknown>)[key];
    }
    return out;
  }

  /** On resume: put the properties `$props` kept back on the function made again. */
  $restoreProps(fn: unknown, props: unknown): void {
    if (typeof fn !== "function" || props === null || typeof props !== "object") return;
    Object.assign(fn, props);
  }

  /**
   * The values of a call's spread argument evaluated before a durable await in the same
   * call (`f(...xs, await ctx.step(g))`), as the compiler emits it: `ctx.$spread(...xs,
   * ...[])`, spread in a call and not last as in the user's call, so that what is not
   * iterable throws the TypeError a call gives.
   */
  $spread(...values: unknown[]): unknown[] {
    return values;
  }

  /**
   * What a `for…of` loop that holds a checkpoint iterates, as a list the machine reads by a
   * persisted index (the compiler emits the call where the loop starts; `location` is its
   * `file:line:column`, `text` its iterated expression as written). An array (or typed
   * array) with its built-in iterator is the list itself, read lazily like the array
   * iterator. A value whose iterator is a built-in one that runs none of the program's code
   * (a Map's, a Set's, a string's, an array iterator such as `map.keys()`, `matchAll`) is
   * taken whole now. A generator, or an iterator of the program's own, is refused
   * ({@link UnpersistableIteratorError}) before anything is read from it.
   */
  $forOf(value: unknown, location: string, text: string, callSite?: string): ArrayLike<unknown> {
    const method =
      value == null ? undefined : (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (typeof method !== "function") {
      // `callSite`, when the compiler gives it, is the expression as V8 prints it (`f.g()`
      // for `f(1).g()`, `xs` for `(xs as any)`), or "" where V8 names the value by its type.
      const site = callSite ?? text;
      throw new TypeError(
        site === ""
          ? `${typeDescription(value)} is not iterable (cannot read property Symbol(Symbol.iterator))`
          : /^[\w$.]+\(.*\)$/s.test(site)
            ? `${site.slice(0, site.indexOf("("))} is not a function or its return value is not iterable`
            : `${site} is not iterable`,
      );
    }
    if (
      (Array.isArray(value) && method === arrayValues) ||
      (isTypedArray(value) && method === typedArrayValues)
    ) {
      return value as ArrayLike<unknown>;
    }
    const iterator = method.call(value) as Iterator<unknown>;
    if (Object(iterator) !== iterator) {
      throw new TypeError("Result of the Symbol.iterator method is not an object");
    }
    const prototype = Object.getPrototypeOf(iterator);
    // A built-in iterator given a `next` of the program's own (`it.next = () => …`) runs the
    // program's code at each step, as an iterator of the program does.
    if (
      !builtInIterators.has(prototype) ||
      (iterator as { next: unknown }).next !== (prototype as { next: unknown }).next
    ) {
      const kind = Object.prototype.toString.call(iterator);
      throw new UnpersistableIteratorError(
        location,
        kind === "[object Generator]"
          ? `a generator (\`${text}\`)`
          : `an iterator defined by the program (\`${text}\`)`,
      );
    }
    const list: unknown[] = [];
    for (let r = iterator.next(); !r.done; r = iterator.next()) list.push(r.value);
    return list;
  }

  /** Whether a delivered payload passes `match`: a predicate's answer; a field match was tested by the engine. */
  $accepts(match: unknown, payload: unknown): boolean {
    return typeof match === "function" ? Boolean(match(payload)) : true;
  }

  /** Wait again, after the predicate refused an event, for the same event until the same deadline. */
  $waitAgain(): Operation {
    const wait = this.#resumedWait;
    if (!wait) {
      throw new Error(
        "The predicate of this waitForEvent refused the event, but the run cannot wait again: its frame, stored at this wait before waits kept their name and deadline with it, does not say what to wait for or until when.",
      );
    }
    return {
      kind: "waitForEvent",
      name: wait.name,
      match: null,
      timeoutAt: wait.until,
      tested: true,
    };
  }

  #deadline(timeout: Duration | undefined, what: string): number | null {
    return timeout === undefined ? null : this.#clock.now() + toMilliseconds(timeout, what);
  }

  step(target: unknown, ...rest: unknown[]): StepOperation {
    if (typeof target === "function") {
      return {
        kind: "step",
        name: target.name || "anonymous",
        call: target as StepFunction,
        args: rest,
        inline: false,
      };
    }
    if (typeof target === "string" && typeof rest[0] === "function") {
      return { kind: "step", name: target, call: rest[0] as StepFunction, args: [], inline: true };
    }
    throw new TypeError(
      `ctx.step needs a durable function and its arguments (ctx.step(f, ...args)) or a name and a function (ctx.step("name", () => value)); got ${typeof target}.`,
    );
  }

  parallel(...steps: unknown[]): Operation {
    return { kind: "parallel", branches: steps.map((s) => asStep(s, "ctx.parallel")) };
  }

  gather(steps: Record<string, unknown>): Operation {
    if (typeof steps !== "object" || steps === null) {
      throw new TypeError(
        "ctx.gather takes an object of ctx.step(…) calls, e.g. { user: ctx.step(loadUser, id) }.",
      );
    }
    const keys = Object.keys(steps);
    return { kind: "gather", keys, branches: keys.map((k) => asStep(steps[k], "ctx.gather")) };
  }

  batch(f: unknown, items: unknown, options?: BatchOptions): Operation {
    return this.#batch("batch", f, items, options);
  }

  map(f: unknown, items: unknown, options?: BatchOptions): Operation {
    return this.#batch("map", f, items, options);
  }

  #batch(kind: "batch" | "map", f: unknown, items: unknown, options?: BatchOptions): Operation {
    if (typeof f !== "function") {
      throw new TypeError(`ctx.${kind} needs a durable function first: ctx.${kind}(f, items).`);
    }
    if (!Array.isArray(items)) {
      throw new TypeError(`ctx.${kind} needs an array of items: ctx.${kind}(f, items).`);
    }
    return {
      kind,
      branches: items.map((item) => this.step(f, item)),
      maxConcurrency: concurrency(options, kind),
    };
  }
}
