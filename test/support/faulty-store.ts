import type { StorageAdapter } from "ratchetjs";

/** Which faults {@link faulty} injects, each a probability per storage call. */
export interface FaultPlan {
  /** The call fails before it reaches the store (nothing happened). */
  readonly fail?: number;
  /** The call reaches the store and applies, then the answer is lost (a connection dropped mid-commit). */
  readonly lose?: number;
  /** The call hangs for up to `hangMs` first (a slow or stuck connection), then goes on. */
  readonly hang?: number;
  readonly hangMs?: number;
  /** Methods left alone (e.g. `init`, `close`). */
  readonly spare?: readonly string[];
}

/** What {@link faulty} did, by kind. */
export interface FaultCounts {
  calls: number;
  failed: number;
  lost: number;
  hung: number;
}

/** An error shaped like a dropped connection's (a transient one). */
function connectionError(method: string, when: string): Error {
  return Object.assign(new Error(`injected fault: connection reset ${when} ${method}()`), {
    code: "ECONNRESET",
  });
}

/**
 * A store whose calls fail, hang or lose their answers at random, as a database behind a
 * flaky network does; every other behaviour is the wrapped store's. `close()` is a no-op
 * (the store outlives the engines, as in `durable`).
 */
export function faulty(
  storage: StorageAdapter,
  plan: FaultPlan,
  random: () => number = Math.random,
): { storage: StorageAdapter; counts: FaultCounts; setPlan(next: FaultPlan): void } {
  let current = plan;
  const counts: FaultCounts = { calls: 0, failed: 0, lost: 0, hung: 0 };
  const spared = new Set(["init", "close", "subscribe", "name", ...(plan.spare ?? [])]);
  const wrapped = new Proxy(storage, {
    get(target, key) {
      if (key === "close") return async () => {};
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      const method = String(key);
      if (spared.has(method)) return value.bind(target);
      return async (...args: unknown[]) => {
        counts.calls++;
        if (random() < (current.hang ?? 0)) {
          counts.hung++;
          await new Promise((resolve) => setTimeout(resolve, random() * (current.hangMs ?? 100)));
        }
        if (random() < (current.fail ?? 0)) {
          counts.failed++;
          throw connectionError(method, "before");
        }
        const result = await value.apply(target, args);
        if (random() < (current.lose ?? 0)) {
          counts.lost++;
          throw connectionError(method, "after");
        }
        return result;
      };
    },
  });
  return {
    storage: wrapped,
    counts,
    setPlan(next) {
      current = next;
    },
  };
}
