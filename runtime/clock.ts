import type { Clock } from "./context.js";
import { type Duration, toMilliseconds } from "./duration.js";

/** A clock a test moves by hand, so sleeps and wait timeouts pass without waiting. */
export interface TestClock extends Clock {
  /** Call `listener` whenever the time is moved; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Move the time forward (a number is milliseconds, or e.g. `"24h"`) and wake the engines using it. */
  advance(by: Duration): void;
  /** Jump to a moment. */
  set(at: Date | number): void;
}

/**
 * A test clock starting at `start` (default: now). Pass it to `createEngine({ clock })`;
 * `advance` makes due sleepers and timed-out waits runnable at once.
 *
 * @example
 * ```ts
 * const clock = createTestClock();
 * const engine = createEngine({ storage: memory(), workflows: [followUp], clock });
 * const run = await engine.start(followUp, ["u1"]);
 * clock.advance(24 * 3_600_000);
 * await run.result();
 * ```
 */
export function createTestClock(start: Date | number = Date.now()): TestClock {
  let now = start instanceof Date ? start.getTime() : start;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  return {
    now: () => now,
    advance(by: Duration) {
      now += toMilliseconds(by, "clock.advance duration");
      notify();
    },
    set(at: Date | number) {
      now = at instanceof Date ? at.getTime() : at;
      notify();
    },
    subscribe(listener: () => void) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
