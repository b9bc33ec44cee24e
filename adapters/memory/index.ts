/**
 * The in-memory storage adapter: `memory()`.
 * @module
 */
import type { StorageAdapter } from "../contract.js";
import { MemoryAdapter } from "./memory-adapter.js";

export { MemoryAdapter } from "./memory-adapter.js";

/**
 * A store that keeps runs in memory, for tests, the browser playground and scripts whose
 * runs need not outlive the process. Each call returns a new, empty store.
 *
 * @example
 * ```ts
 * import { createEngine } from "ratchetjs";
 * import { memory } from "ratchetjs/adapters/memory";
 *
 * const engine = createEngine({ storage: memory(), workflows: [orderWorkflow] });
 * ```
 */
export function memory(): StorageAdapter {
  return new MemoryAdapter();
}
