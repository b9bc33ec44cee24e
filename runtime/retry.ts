import type { FunctionContext, ResolvedFnOptions, StepFunction } from "./definitions.js";
import { toMilliseconds } from "./duration.js";
import { FatalError, RetryableError, TimeoutError } from "./errors.js";

/** Wait `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

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

async function attemptWithTimeout<T>(
  run: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number | undefined,
  name: string,
): Promise<T> {
  const controller = new AbortController();
  if (timeoutMs === undefined) return run(controller.signal);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(`Step "${name}" timed out after ${timeoutMs} ms.`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
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
  context: Omit<FunctionContext, "attempt" | "signal">,
  inline: boolean,
): Promise<unknown> {
  const timeoutMs =
    options.timeout === undefined ? undefined : toMilliseconds(options.timeout, "timeout");
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptWithTimeout(
        async (signal) =>
          inline
            ? await (call as () => unknown)()
            : await call({ ...context, attempt, signal }, ...args),
        timeoutMs,
        options.name,
      );
    } catch (error) {
      if (error instanceof FatalError || attempt > options.retries.max) throw error;
      const wait =
        error instanceof RetryableError && error.retryAfter !== undefined
          ? toMilliseconds(error.retryAfter, "retryAfter")
          : backoffDelay(options, attempt);
      await delay(wait);
    }
  }
}
