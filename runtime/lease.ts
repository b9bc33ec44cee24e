import { LeaseLostError } from "./errors.js";

/**
 * What this process knows about its lease on one run it executes. The store decides who
 * holds a lease; this side learns it from a refused commit or renewal (then the lease is
 * lost: the process starts nothing more for the run), and suspects it from time (no
 * renewal got through for a whole lease, as after a freeze or a storage outage: then the
 * process asks the store before it starts anything more).
 */
export class RunLease {
  readonly #leaseMs: number;
  readonly #controller = new AbortController();
  /**
   * `#controller.signal.aborted`, kept as a plain field: the executor asks at every
   * checkpoint, and reading it through the signal (whose shape varies with the listeners it
   * had) made the optimized executor loop of each new run fall back to the interpreter.
   */
  #lost = false;
  /** Until when (on `performance.now()`) the lease surely lasts, from the last extension sent. */
  #heldUntil: number;

  /**
   * @param leaseMs - the lease's length
   * @param sentAt - when the claim (or creation) that took the lease was sent, on `performance.now()`
   */
  constructor(leaseMs: number, sentAt: number) {
    this.#leaseMs = leaseMs;
    this.#heldUntil = sentAt + leaseMs;
  }

  /**
   * Whether the lease is lost for sure: the store refused a commit or a renewal (another
   * worker claimed the run, or it was cancelled). Final.
   */
  get lost(): boolean {
    return this.#lost;
  }

  /**
   * Whether the lease may have lapsed: no renewal sent in the last lease got through
   * (measured from when it was *sent*, so a slow answer never makes this late). Not final:
   * a renewal that gets through now tells whether the run is still this process's.
   */
  get expired(): boolean {
    return performance.now() >= this.#heldUntil;
  }

  /** Aborted when the lease is lost; every step's `ctx.signal` of the run follows it. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * A renewal (the lease lasts a whole lease from `sentAt`) or a commit that keeps the lease
   * (`halfOnly`: at least half a lease, since a store may leave a lease with more than half
   * to run as it is), sent at `sentAt`, got through.
   */
  extend(sentAt: number, halfOnly = false): void {
    if (this.#lost) return;
    const lasts = halfOnly ? this.#leaseMs / 2 : this.#leaseMs;
    this.#heldUntil = Math.max(this.#heldUntil, sentAt + lasts);
  }

  /** The lease is gone: abort the run's signal. Only the first reason is kept. */
  lose(reason: string): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#controller.abort(new LeaseLostError(reason));
  }
}
