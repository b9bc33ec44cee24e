import type { WorkflowContext } from "./context.js";
import { type Duration, toMilliseconds } from "./duration.js";
import { DefinitionError } from "./errors.js";
import { type CompiledMachine, completeMachine, isCompiledMachine } from "./machine.js";
import type { MigrationsOf } from "./versioning.js";

/** What a durable function receives as its first argument. */
export interface FunctionContext {
  /** The run this call belongs to. */
  readonly runId: string;
  /** The workflow that called the function. */
  readonly workflowName: string;
  /** 1 for the first attempt, 2 for the first retry, … */
  readonly attempt: number;
  /**
   * Stable for this checkpoint of this run, across retries and crashes: pass it to the
   * services you call so that a call repeated after a crash is recognized.
   */
  readonly idempotencyKey: string;
  /** Aborted when the call times out; pass it to `fetch` and the like. */
  readonly signal: AbortSignal;
}

/** How a durable function is retried. */
export interface RetryPolicy {
  /** Retries after the first attempt (so at most `max + 1` executions). */
  readonly max: number;
  /** `"exponential"` (default) doubles the delay each time; `"linear"` adds it; `"fixed"` keeps it. */
  readonly backoff?: "exponential" | "linear" | "fixed";
  /** The first delay (default 1 s). */
  readonly initialDelay?: Duration;
  /** The longest delay (default 1 min). */
  readonly maxDelay?: Duration;
}

/** Options of {@link fn}. */
export interface FnOptions {
  /** A name for messages (default: the implementation's function name). */
  readonly name?: string;
  /** Retries after the first attempt: a number, or a {@link RetryPolicy}. Default: 3, exponential from 1 s. */
  readonly retries?: number | RetryPolicy;
  /** Fail an attempt that takes longer than this (it counts as a retryable failure). */
  readonly timeout?: Duration;
}

/** A function callable as a step: `(ctx, ...args) => result`. */
export type StepFunction<A extends unknown[] = unknown[], R = unknown> = (
  ctx: FunctionContext,
  ...args: A
) => R | Promise<R>;

const FN = Symbol.for("ratchet.fn");

function isDecoratorContext(value: unknown): value is { kind: string; name: unknown } {
  return typeof value === "object" && value !== null && "kind" in value && "name" in value;
}

function notCompiledDecorator(context: unknown): Error {
  const name = isDecoratorContext(context) ? String(context.name) : "a method";
  return new DefinitionError(
    `@workflow on ${name} was not compiled by Ratchet, so it cannot run durably. ` +
      "Run with `node --import ratchetjs/register app.ts`, or add the Ratchet plugin to your build.",
  );
}

/** A durable function made by {@link fn}. Calling it directly works and is not checkpointed. */
export type DurableFunction<A extends unknown[] = unknown[], R = unknown> = ((
  ctx: FunctionContext,
  ...args: A
) => Promise<Awaited<R>>) & { readonly [FN]: ResolvedFnOptions };

/** The options of a durable function with defaults applied. */
export interface ResolvedFnOptions {
  readonly name: string;
  readonly retries: Required<RetryPolicy>;
  readonly timeout: Duration | undefined;
}

const DEFAULT_RETRIES: Required<RetryPolicy> = {
  max: 3,
  backoff: "exponential",
  initialDelay: 1000,
  maxDelay: 60_000,
};

/**
 * Refuse keys `options` does not have, so a misplaced option (a top-level `backoff` in `fn`
 * options) is reported instead of silently ignored. `hints` say where a known mistake belongs.
 */
export function refuseUnknownOptions(
  options: object,
  known: readonly string[],
  where: string,
  hints: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const hint = hints[key] ?? `the options are ${known.join(", ")}`;
    throw new DefinitionError(`${where}: unknown option "${key}"; ${hint}.`);
  }
}

const retryHints = {
  backoff: "it belongs in retries: { max, backoff }",
  initialDelay: "it belongs in retries: { max, initialDelay }",
  maxDelay: "it belongs in retries: { max, maxDelay }",
  max: "it belongs in retries: { max }",
  maxRetries: "use retries: n",
  retry: "use retries: n or retries: { max, backoff, initialDelay, maxDelay }",
};

function resolveRetries(retries: FnOptions["retries"], name: string): Required<RetryPolicy> {
  if (retries === undefined) return DEFAULT_RETRIES;
  if (typeof retries === "object" && retries !== null) {
    refuseUnknownOptions(
      retries,
      ["max", "backoff", "initialDelay", "maxDelay"],
      `fn "${name}": retries`,
    );
  }
  const policy = typeof retries === "number" ? { max: retries } : (retries ?? {});
  if (!Number.isInteger(policy.max) || policy.max < 0) {
    throw new DefinitionError(
      `fn "${name}": retries must be a whole number >= 0 or { max, backoff, initialDelay, maxDelay }; got ${JSON.stringify(retries)}.`,
    );
  }
  if (
    policy.backoff !== undefined &&
    !["exponential", "linear", "fixed"].includes(policy.backoff)
  ) {
    throw new DefinitionError(
      `fn "${name}": retries.backoff must be "exponential", "linear" or "fixed"; got ${JSON.stringify(policy.backoff)}.`,
    );
  }
  const resolved = { ...DEFAULT_RETRIES, ...policy };
  // Checked here so a bad delay is reported where the function is defined, not at its retry.
  toMilliseconds(resolved.initialDelay, `fn "${name}": retries.initialDelay`);
  toMilliseconds(resolved.maxDelay, `fn "${name}": retries.maxDelay`);
  return resolved;
}

/** The resolved options of a step function; plain functions get the defaults. */
export function fnOptionsOf(f: StepFunction): ResolvedFnOptions {
  return (
    (f as Partial<DurableFunction>)[FN] ?? {
      name: f.name || "anonymous",
      retries: DEFAULT_RETRIES,
      timeout: undefined,
    }
  );
}

/**
 * Define a durable function: a unit of work a workflow runs with `ctx.step`, checkpointed
 * once it succeeds, retried when it fails.
 *
 * @example
 * ```ts
 * export const chargeCustomer = fn(
 *   async (ctx: FunctionContext, orderId: string, amount: number) =>
 *     ({ orderId, chargeId: `ch_${ctx.idempotencyKey}`, status: "paid" }),
 *   { retries: { max: 5, backoff: "exponential" }, timeout: "30s" });
 * ```
 */
export function fn<A extends unknown[], R>(
  impl: (ctx: FunctionContext, ...args: A) => R | Promise<R>,
  options: FnOptions = {},
): DurableFunction<A, R> {
  if (typeof impl !== "function") {
    throw new DefinitionError(`fn() needs a function as its first argument; got ${typeof impl}.`);
  }
  if (typeof options !== "object" || options === null) {
    throw new DefinitionError("fn(impl, options): options must be an object.");
  }
  const name = options.name ?? (impl.name || "anonymous");
  refuseUnknownOptions(options, ["name", "retries", "timeout"], `fn "${name}"`, retryHints);
  const resolved: ResolvedFnOptions = {
    name,
    retries: resolveRetries(options.retries, name),
    timeout: options.timeout,
  };
  // A bad timeout is reported here, with the function's name, not when the step first runs.
  if (options.timeout !== undefined) toMilliseconds(options.timeout, `fn "${name}": timeout`);
  const durable = async (ctx: FunctionContext, ...args: A): Promise<Awaited<R>> =>
    await impl(ctx, ...args);
  Object.defineProperty(durable, "name", { value: name });
  Object.defineProperty(durable, FN, { value: resolved });
  return durable as DurableFunction<A, R>;
}

/** Starts a workflow when `engine.emit(name, payload)` is called; the payload is its one argument. */
export interface EventTrigger {
  readonly kind: "event";
  readonly name: string;
}

/**
 * Starts a workflow when `engine.handleWebhook` accepts a delivery from `source` whose event
 * name is `event` (every event of the source when `event` is left out); the parsed payload is
 * its one argument.
 */
export interface WebhookTrigger {
  readonly kind: "webhook";
  /** A key of `createEngine({ webhooks })`, the last segment of `…/webhooks/<source>`. */
  readonly source: string;
  /** The event name, as the source's `eventType` reads it; `undefined` matches every event. */
  readonly event: string | undefined;
}

/** A trigger of a workflow. */
export type Trigger = EventTrigger | WebhookTrigger;

/**
 * Start the workflow on every `engine.emit(name, payload)`, with the payload as its argument.
 *
 * @example
 * ```ts
 * export const welcome = workflow({ triggers: [event("user.signup")] }, async (ctx, user: User) => { … });
 * ```
 */
export function event(name: string): EventTrigger {
  if (typeof name !== "string" || name === "") {
    throw new DefinitionError("event(name) needs a non-empty event name.");
  }
  return { kind: "event", name };
}

/**
 * Start the workflow for every verified webhook delivery from `source` (a key of
 * `createEngine({ webhooks })`) whose event name is `event`, with the parsed JSON payload as
 * its argument. Webhooks only start workflows; they are not delivered to runs waiting in
 * `ctx.waitForEvent`.
 *
 * @example
 * ```ts
 * export const payment = workflow(
 *   { triggers: [webhook("stripe", { event: "payment_intent.succeeded" })] },
 *   async (ctx, event: StripeEvent) => { … });
 * ```
 */
export function webhook(source: string, options: { readonly event?: string } = {}): WebhookTrigger {
  if (typeof source !== "string" || source === "" || source.includes("/")) {
    throw new DefinitionError('webhook(source) needs a source name without "/", e.g. "stripe".');
  }
  const event = options?.event;
  if (event !== undefined && (typeof event !== "string" || event === "")) {
    throw new DefinitionError(`webhook("${source}", { event }): event must be a non-empty string.`);
  }
  return { kind: "webhook", source, event };
}

/**
 * Options of {@link workflow}. `Name` is the `name` as written, which types `migrate` from
 * the declaration file `ratchet lock` writes (docs/guides/versioning.md).
 */
export interface WorkflowOptions<Name extends string = string> {
  /** The name runs are stored under (default: the binding's name, injected by the compiler). */
  readonly name?: Name;
  /** What starts the workflow besides `engine.start`: `event(name)`, `webhook(source, { event })`. */
  readonly triggers?: readonly Trigger[];
  /**
   * A schema for the arguments, checked before a run is created: `z.tuple([...])` for the
   * argument list, any other schema for a one-argument workflow. Any Standard Schema works
   * (zod 3.24+ and 4 are). A start that fails it is rejected with `InputError` and nothing
   * is stored; the schema's output (coercions, defaults) becomes the arguments.
   */
  readonly input?: InputSchema;
  /**
   * Migrations for runs stored by older code, by the checkpoint id they are stored at: a
   * run whose checkpoint is gone, or where the code now needs variables the run did not
   * store, is handed to `migrate[checkpointId](vars)` when it is claimed. Return the
   * variables the code needs there, or `{ at: otherCheckpointId, vars }` to continue after
   * another checkpoint. Runs that fit the new code as they are never see a migration.
   * `ratchet check` lists the checkpoints that need one (docs/guides/versioning.md). With the
   * declaration file `ratchet lock` writes and the workflow's `name` in these options, the
   * checkpoint ids, `vars` and the result are typed by the lock.
   *
   * @example
   * ```ts
   * workflow({ migrate: { "sleep:reminder": (vars) => ({ ...vars, attempts: 0 }) } }, body)
   * ```
   */
  readonly migrate?: MigrationsOf<Name>;
}

/** A Standard Schema (https://standardschema.dev), as zod and others implement it. */
export interface InputSchema {
  readonly "~standard": {
    validate(value: unknown): StandardResult | Promise<StandardResult>;
  };
}

/** The outcome of a Standard Schema validation. */
export type StandardResult =
  | { readonly value: unknown; readonly issues?: undefined }
  | {
      readonly issues: readonly {
        readonly message: string;
        readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[];
      }[];
    };

declare const WORKFLOW_TYPES: unique symbol;

/** A workflow definition made by {@link workflow}; pass it to `createEngine` and `engine.start`. */
export interface Workflow<A extends unknown[] = unknown[], R = unknown> {
  readonly name: string;
  readonly options: WorkflowOptions;
  /** The compiled state machine; `undefined` when the compiler did not see this workflow. */
  readonly compiled: CompiledMachine | undefined;
  /** Carries the argument and result types; never present at run time. */
  readonly [WORKFLOW_TYPES]?: { args: A; result: R };
}

/** The body of a workflow as its author writes it. */
export type WorkflowBody<A extends unknown[], R> = (ctx: WorkflowContext, ...args: A) => Promise<R>;

/**
 * Define a workflow: an async function whose `ctx` calls are checkpoints. The Ratchet
 * compiler turns the body into a resumable state machine; without the compiler the
 * workflow cannot run (the engine says how to add it).
 *
 * @example
 * ```ts
 * export const orderWorkflow = workflow(async (ctx: WorkflowContext, orderId: string) => {
 *   const order = await ctx.step(validateOrder, orderId);
 *   return { status: "complete", orderId, total: order.total };
 * });
 * ```
 */
export function workflow<A extends unknown[], R>(
  body: WorkflowBody<A, R>,
  // Keeps a decorator call (method, context) from matching this form.
  noContext?: undefined,
): Workflow<A, Awaited<R>>;
export function workflow<A extends unknown[], R, const Name extends string = string>(
  options: WorkflowOptions<Name>,
  body: WorkflowBody<A, R>,
): Workflow<A, Awaited<R>>;
/**
 * As a decorator on a static async method: `@workflow static async process(ctx, id) {…}`.
 * The compiler turns the method into a static field holding the workflow definition, so
 * `Orders.process` can be passed to `createEngine` and `engine.start`.
 */
export function workflow<This, A extends unknown[], R>(
  method: (this: This, ctx: WorkflowContext, ...args: A) => Promise<R>,
  context: ClassMethodDecoratorContext<This>,
): void;
/** As a decorator with options: `@workflow({ name: "orders" })`. */
export function workflow(
  options: WorkflowOptions,
): <This, A extends unknown[], R>(
  method: (this: This, ctx: WorkflowContext, ...args: A) => Promise<R>,
  context: ClassMethodDecoratorContext<This>,
) => void;
export function workflow(first: unknown, second?: unknown): unknown {
  if (isDecoratorContext(second)) throw notCompiledDecorator(second);
  if (second === undefined && typeof first === "object" && first !== null) {
    // `@workflow(options)` reached the runtime: the compiler did not see it.
    return (_method: unknown, context: unknown) => {
      throw notCompiledDecorator(context);
    };
  }
  const hasOptions = second !== undefined;
  const options = (hasOptions ? first : {}) as WorkflowOptions;
  const body = hasOptions ? second : first;
  if (typeof options !== "object" || options === null) {
    throw new DefinitionError("workflow(options, body): options must be an object.");
  }
  refuseUnknownOptions(
    options,
    ["name", "triggers", "input", "migrate"],
    `workflow(options, body)${options.name === undefined ? "" : ` of "${String(options.name)}"`}`,
  );
  const compiled = isCompiledMachine(body) ? completeMachine(body) : undefined;
  if (!compiled && typeof body !== "function") {
    throw new DefinitionError(
      `workflow() needs an async function as its body; got ${body === null ? "null" : typeof body}.`,
    );
  }
  const name =
    options.name ?? compiled?.manifest.name ?? ((body as { name?: string }).name || undefined);
  if (!name && !compiled) {
    // The compiler names a workflow after its binding; no name means it never saw this one.
    throw new DefinitionError(
      "This workflow was not compiled by Ratchet (the compiler turns it into a resumable state machine and names it after its const), so it cannot run durably. " +
        "Run your program with `node --import ratchetjs/register app.ts`, or add the Ratchet plugin to your build (docs/plugins.md); " +
        'the module must import workflow from "ratchetjs".',
    );
  }
  if (!name) {
    throw new DefinitionError(
      'This workflow has no name. Assign it to a const (the compiler names it after the binding) or pass workflow({ name: "…" }, body).',
    );
  }
  return Object.freeze({ name, options, compiled });
}
