/**
 * The SQLite storage adapter: `sqlite({ path } | { database })`, on better-sqlite3.
 * @module
 */
import type { StorageAdapter } from "../contract.js";
import { SqliteAdapter } from "./sqlite-adapter.js";
import type { SqliteAdapterOptions } from "./sqlite-config.js";

export { SqliteAdapter } from "./sqlite-adapter.js";
export type {
  SqliteAdapterConfig,
  SqliteAdapterOptions,
  SqliteDatabase,
  SqliteTuningOptions,
} from "./sqlite-config.js";

/**
 * A durable store in a SQLite file, safe to share between processes on one machine.
 * Needs the `better-sqlite3` package, loaded when the engine calls `init()`.
 *
 * @example
 * ```ts
 * import { createEngine } from "ratchetjs";
 * import { sqlite } from "ratchetjs/adapters/sqlite";
 *
 * const engine = createEngine({
 *   storage: sqlite({ path: "ratchet.db" }),
 *   workflows: [orderWorkflow],
 * });
 * ```
 */
export function sqlite(options: SqliteAdapterOptions): StorageAdapter {
  return new SqliteAdapter(options);
}
