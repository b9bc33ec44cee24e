import type { StepFunction } from "./definitions.js";

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
}

/** A durable operation as the compiled machine hands it to the runtime. */
export type Operation = {
  readonly kind: "step";
  readonly name: string;
  readonly call: StepFunction;
  readonly args: readonly unknown[];
  /** Inline steps take no FunctionContext. */
  readonly inline: boolean;
};

/**
 * The `ctx` the compiled machine sees. Its durable methods do not do the work: they
 * describe it, and the machine yields the description to the runtime at the checkpoint.
 */
export class MachineContext {
  readonly runId: string;
  readonly workflowName: string;
  readonly sessionId: string | undefined;

  constructor(runId: string, workflowName: string, sessionId: string | undefined) {
    this.runId = runId;
    this.workflowName = workflowName;
    this.sessionId = sessionId;
  }

  step(target: unknown, ...rest: unknown[]): Operation {
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
}
