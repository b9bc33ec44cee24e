/**
 * The PostgreSQL storage adapter: `postgres({ connectionString } | { pool })`, on node-postgres.
 * @module
 */
import { PostgresAdapter } from "./postgres-adapter.js";
import type { PostgresAdapterOptions } from "./postgres-config.js";

export { PostgresAdapter, runnableChannel } from "./postgres-adapter.js";
export type {
  PostgresAdapterConfig,
  PostgresAdapterOptions,
  PostgresNotification,
  PostgresPool,
  PostgresPoolClient,
  PostgresQuery,
  PostgresResult,
  PostgresTuningOptions,
} from "./postgres-config.js";

/**
 * A durable store in a PostgreSQL schema, shared by any number of processes and machines.
 * Needs the `pg` package, loaded when the engine calls `init()` (unless you pass a pool).
 * The schema (default `"ratchet"`) and its tables are created and migrated by `init()`.
 *
 * @example
 * ```ts
 * import { createEngine } from "ratchetjs";
 * import { postgres } from "ratchetjs/adapters/postgres";
 *
 * const engine = createEngine({
 *   storage: postgres({ connectionString: process.env.DATABASE_URL! }),
 *   workflows: [orderWorkflow],
 * });
 * ```
 */
export function postgres(options: PostgresAdapterOptions): PostgresAdapter {
  return new PostgresAdapter(options);
}
