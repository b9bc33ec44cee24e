import { StorageError } from "../adapters/contract.js";
import type { Logger } from "./logger.js";

/**
 * SQLSTATE classes of errors a store will give again however often it is asked: data
 * exceptions (22: a value out of range, a malformed number), integrity violations (23),
 * syntax or access rule violations (42), program limits exceeded (54: a value too large).
 */
const refusingSqlStates = new Set(["22", "23", "42", "54"]);
/** SQLite result codes that say the same. */
const refusingSqliteCodes = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE|ERROR|FORMAT|NOTADB)/;

/**
 * Whether a storage call that threw may succeed when made again — a dropped connection, a
 * server restarting, a busy database, a timeout — rather than a refusal of what was asked
 * (a value the store cannot hold, a misuse). Errors this cannot classify count as
 * transient: a custom adapter's connection error must not fail a run for good.
 */
export function isTransientStorageError(error: unknown): boolean {
  if (error instanceof StorageError) return false;
  if (error instanceof RangeError || error instanceof TypeError) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return true;
  if (/^[0-9][0-9A-Z]{4}$/.test(code)) return !refusingSqlStates.has(code.slice(0, 2));
  return !refusingSqliteCodes.test(code);
}

/** Thrown by {@link retryStorage} when its caller no longer wants the answer. */
export class StorageRetryStopped extends Error {
  constructor(readonly last: unknown) {
    super("storage retries stopped", { cause: last });
    this.name = "StorageRetryStopped";
  }
}

/** How {@link retryStorage} reports and when it gives up. */
export interface StorageRetryScope {
  readonly logger: Logger;
  /** Checked before each retry: `true` ends the retries (the engine closes, the lease is lost). */
  readonly stop: () => boolean;
  /** Fields for the log lines (the run id, the checkpoint). */
  readonly fields?: Record<string, unknown>;
}

/** The wait before retry `n` (1-based): 50 ms doubling to 2 s, with jitter so workers spread out. */
export function storageBackoff(n: number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(n - 1, 6));
  return Math.round(base * (0.5 + Math.random() * 0.5));
}

/** Wait `ms`, or less when `stop` turns true meanwhile (checked every 50 ms). */
export async function pauseUnlessStopped(ms: number, stop: () => boolean): Promise<void> {
  const until = performance.now() + ms;
  while (!stop()) {
    const left = until - performance.now();
    if (left <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, 50)));
  }
}

/**
 * Make a storage call, and make it again with backoff while it fails with a transient
 * error (see {@link isTransientStorageError}); each failure is logged as a warning. A
 * refusal is rethrown at once; when `scope.stop()` turns true the retries end with
 * {@link StorageRetryStopped}. Only for calls that are safe to repeat (reads, claims,
 * renewals, releases, idempotent creation); a commit is resolved by re-reading the run.
 */
export async function retryStorage<T>(
  what: string,
  call: () => Promise<T>,
  scope: StorageRetryScope,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransientStorageError(error)) throw error;
      if (scope.stop()) throw new StorageRetryStopped(error);
      const wait = storageBackoff(attempt);
      scope.logger.warn(
        { ...scope.fields, error, attempt, retryInMs: wait },
        `${what} failed; trying again`,
      );
      await pauseUnlessStopped(wait, scope.stop);
      if (scope.stop()) throw new StorageRetryStopped(error);
    }
  }
}
