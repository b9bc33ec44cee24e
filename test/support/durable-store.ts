import type { StorageAdapter } from "ratchetjs";

/**
 * A store that outlives the engines using it, as a database outlives processes: `close()`
 * does nothing, every other member (optional capabilities included) goes to `storage`.
 * Tests simulate a crash by dropping an engine and opening another on the same store.
 * `afterWrite` is called each time a `commit` or `cancel` (what ends a run) has settled.
 */
export function durable(storage: StorageAdapter, afterWrite?: () => void): StorageAdapter {
  return new Proxy(storage, {
    get(target, key) {
      if (key === "close") return async () => {};
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      if (afterWrite && (key === "commit" || key === "cancel")) {
        return (...args: unknown[]) => {
          const done = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          void done.then(afterWrite, afterWrite);
          return done;
        };
      }
      return value.bind(target);
    },
  });
}
