import type { StorageAdapter } from "ratchetjs";

/**
 * A store that outlives the engines using it, as a database outlives processes: `close()`
 * does nothing, every other member (optional capabilities included) goes to `storage`.
 * Tests simulate a crash by dropping an engine and opening another on the same store.
 */
export function durable(storage: StorageAdapter): StorageAdapter {
  return new Proxy(storage, {
    get(target, key) {
      if (key === "close") return async () => {};
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
