import type { FunctionContext, ResolvedFnOptions, StepFunction } from "./definitions.js";
import { toMilliseconds } from "./duration.js";
import { FatalError, RetryableError, TimeoutError } from "./errors.js";

/** Wait `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A timer that fires after a length of some clock's time. */
export interface StepTimer {
  /** Resolves when the time has passed. */
  readonly elapsed: Promise<void>;
  /** Stop the timer; `elapsed` then never resolves. */
  cancel(): void;
}

/**
 * Where a step's implementation and time come from. The engine's default calls each `fn`
 * as defined and times retries and timeouts on real timers; a test engine
 * (`ratchetjs/testing`) replaces implementations and times them on its test clock.
 */
export interface StepEnvironment {
  /** The implementation to call for `f` (an inline step is looked up by its `name`). */
  implementation(f: StepFunction, name: string, inline: boolean): StepFunction;
  /** A timer of `ms` milliseconds, for retry delays and timeouts. */
  timer(ms: number): StepTimer;
}

// setTimeout fires at once past 2^31-1 ms (24.8 days), so longer waits are chained.
const maxTimeoutMs = 2 ** 31 - 1;

/** Real timers, and every `fn` as defined. */
export const realStepEnvironment: StepEnvironment = {
  implementation: (f) => f,
  timer(ms) {
    let handle: ReturnType<typeof setTimeout> | undefined;
    const elapsed = new Promise<void>((resolve) => {
      const wait = (left: number) => {
        handle = setTimeout(
          () => (left > maxTimeoutMs ? wait(left - maxTimeoutMs) : resolve()),
          Math.min(left, maxTimeoutMs),
        );
      };
      wait(ms);
    });
    return { elapsed, cancel: () => clearTimeout(handle) };
  },
};

/** The wait before retry number `retry` (1-based) under a policy. */
export function backoffDelay(options: ResolvedFnOptions, retry: number): number {
  const { backoff, initialDelay, maxDelay } = options.retries;
  const initial = toMilliseconds(initialDelay, "retries.initialDelay");
  const max = toMilliseconds(maxDelay, "retries.maxDelay");
  const raw =
    backoff === "fixed"
      ? initial
      : backoff === "linear"
        ? initial * retry
        : initial * 2 ** (retry - 1);
  return Math.min(raw, max);
}

/**
 * The context of one attempt. Its `signal` is made on first use: most steps never read it,
 * and an AbortController per step is a measurable share of a checkpoint's cost.
 */
class AttemptContext implements FunctionContext {
  readonly runId: string;
  readonly workflowName: string;
  readonly idempotencyKey: string;
  readonly attempt: number;
  readonly #runSignal: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #unfollow: (() => void) | undefined;

  constructor(base: StepCallContext, attempt: number) {
    this.runId = base.runId;
    this.workflowName = base.workflowName;
    this.idempotencyKey = base.idempotencyKey;
    this.#runSignal = base.runSignal;
    this.attempt = attempt;
  }

  get signal(): AbortSignal {
    if (this.#controller) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    // The run's signal aborts when this process loses the run: every attempt follows it.
    const run = this.#runSignal;
    if (run?.aborted) controller.abort(run.reason);
    else if (run) {
      const follow = () => controller.abort(run.reason);
      run.addEventListener("abort", follow, { once: true });
      this.#unfollow = () => run.removeEventListener("abort", follow);
    }
    return controller.signal;
  }

  /** Abort the attempt's signal, if anyone took it. */
  abort(reason: unknown): void {
    this.#controller?.abort(reason);
  }

  /** The attempt is over: stop following the run's signal. */
  end(): void {
    this.#unfollow?.();
  }
}

/** What a step call knows before its first attempt. */
export type StepCallContext = Omit<FunctionContext, "attempt" | "signal"> & {
  /** Aborted when the run stops in this process (its lease was lost): no attempt starts after it. */
  readonly runSignal?: AbortSignal;
};

/** One attempt of a step, as observers see it. */
export interface AttemptInfo {
  readonly runId: string;
  readonly workflowName: string;
  /** The checkpoint the step belongs to (its stable id). */
  readonly checkpoint: string;
  readonly name: string;
  readonly idempotencyKey: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/** Watches step attempts for the engine's step history, traces and logs. */
export interface AttemptObserver {
  /**
   * Run one attempt (call `attempt` and pass its outcome through), recording it. Absent
   * when nothing records attempts, so the common path adds no wrapper.
   */
  readonly attempt?: <T>(info: AttemptInfo, attempt: () => Promise<T>) => Promise<T>;
  /**
   * Whether `attempt` records anything for this run (absent: it does). A run nothing records
   * (no history, no trace) calls its steps without the wrapper.
   */
  readonly watches?: (runId: string) => boolean;
  /** The step failed for good: its retries are used up, or it threw `FatalError`. */
  gaveUp(info: AttemptInfo, error: unknown, retriesExhausted: boolean): void;
}

async function attemptOnce(
  call: StepFunction,
  args: readonly unknown[],
  context: AttemptContext,
  inline: boolean,
  timeoutMs: number | undefined,
  name: string,
  environment: StepEnvironment,
): Promise<unknown> {
  const started = inline ? (call as () => unknown)() : call(context, ...args);
  if (timeoutMs === undefined) return started;
  const timer = environment.timer(timeoutMs);
  const timeout = timer.elapsed.then(() => {
    const error = new TimeoutError(`Step "${name}" timed out after ${timeoutMs} ms.`);
    context.abort(error);
    throw error;
  });
  try {
    return await Promise.race([started, timeout]);
  } finally {
    timer.cancel();
  }
}

/**
 * A step's name for history, traces and logs: its own, or for a function without one (an
 * arrow passed to `fn`) the target its checkpoint names (`step:chargeCustomer#2` →
 * `chargeCustomer`).
 */
function observedName(name: string, checkpoint: string): string {
  if (name !== "anonymous" || !checkpoint.startsWith("step:")) return name;
  return checkpoint.slice("step:".length).replace(/#\d+$/, "") || name;
}

/** One attempt as observers see it (only built when an observer is there to see it). */
function attemptInfo(
  context: StepCallContext,
  options: ResolvedFnOptions,
  observed: { readonly checkpoint: string } | undefined,
  attempt: number,
): AttemptInfo {
  return {
    runId: context.runId,
    workflowName: context.workflowName,
    checkpoint: observed!.checkpoint,
    name: observedName(options.name, observed!.checkpoint),
    idempotencyKey: context.idempotencyKey,
    attempt,
  };
}

/**
 * Call a step function with retries, backoff and timeout. Resolves to its result or
 * rejects with its last attempt's error. `FatalError` stops retrying at once;
 * `RetryableError.retryAfter` sets the next delay.
 */
export async function callWithRetries(
  call: StepFunction,
  args: readonly unknown[],
  options: ResolvedFnOptions,
  context: StepCallContext,
  inline: boolean,
  observed?: { readonly observer: AttemptObserver; readonly checkpoint: string },
  environment: StepEnvironment = realStepEnvironment,
): Promise<unknown> {
  const implementation = environment.implementation(call, options.name, inline);
  const timeoutMs =
    options.timeout === undefined
      ? undefined
      : toMilliseconds(options.timeout, `fn "${options.name}": timeout`);
  const wrap =
    observed?.observer.watches?.(context.runId) === false ? undefined : observed?.observer.attempt;
  for (let attempt = 1; ; attempt++) {
    if (context.runSignal?.aborted) throw context.runSignal.reason;
    const attemptContext = new AttemptContext(context, attempt);
    try {
      // Nothing watching and no timeout (most steps): the step's own promise, with no
      // wrapper or async layer around it.
      if (wrap === undefined && timeoutMs === undefined) {
        return await (inline
          ? (implementation as () => unknown)()
          : implementation(attemptContext, ...args));
      }
      const once = () =>
        attemptOnce(
          implementation,
          args,
          attemptContext,
          inline,
          timeoutMs,
          options.name,
          environment,
        );
      return await (wrap ? wrap(attemptInfo(context, options, observed!, attempt), once) : once());
    } catch (error) {
      const exhausted = attempt > options.retries.max;
      if (error instanceof FatalError || exhausted) {
        observed?.observer.gaveUp(
          attemptInfo(context, options, observed, attempt),
          error,
          exhausted,
        );
        throw error;
      }
      // This process lost the run: no retry here (the worker that holds it now decides).
      if (context.runSignal?.aborted) throw context.runSignal.reason;
      const wait =
        error instanceof RetryableError && error.retryAfter !== undefined
          ? toMilliseconds(error.retryAfter, `RetryableError.retryAfter of step "${options.name}"`)
          : backoffDelay(options, attempt);
      await environment.timer(wait).elapsed;
    } finally {
      attemptContext.end();
    }
  }
}
