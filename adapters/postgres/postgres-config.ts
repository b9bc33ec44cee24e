import { StorageError } from "../contract.js";
import { type GroupCommitConfig, resolveGroupCommit } from "../group-commit.js";

/** What a query sends: `name` makes it a prepared statement, parsed once per connection. */
export interface PostgresQuery {
  readonly name?: string;
  readonly text: string;
  readonly values?: readonly unknown[];
}

/** What a query resolves to; the part of pg's `QueryResult` the adapter reads. */
export interface PostgresResult<Row> {
  readonly rows: Row[];
  /**
   * How many rows the statement changed, as `pg` reports it. Optional: a pool whose results
   * lack it works too, its commits asking for their row back instead.
   */
  readonly rowCount?: number | null;
}

/** A notification received on a `LISTEN`ing connection. */
export interface PostgresNotification {
  readonly channel: string;
  readonly payload?: string;
}

/**
 * One connection taken from a {@link PostgresPool}; a `pg.PoolClient` is one. The adapter
 * holds one only to migrate (a session-level advisory lock) and to `LISTEN`.
 */
export interface PostgresPoolClient {
  query<Row>(query: PostgresQuery): Promise<PostgresResult<Row>>;
  on(event: "notification", listener: (message: PostgresNotification) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  removeListener(event: "notification", listener: (message: PostgresNotification) => void): unknown;
  removeListener(event: "error", listener: (error: Error) => void): unknown;
  /** Return the connection; with an error, the pool closes it instead of reusing it. */
  release(error?: Error | boolean): void;
}

/**
 * A connection pool: a `pg.Pool` (node-postgres) is one, and so is anything with the same
 * `query` and `connect`. Every statement of the hot path goes through `query`.
 */
export interface PostgresPool {
  query<Row>(query: PostgresQuery): Promise<PostgresResult<Row>>;
  connect(): Promise<PostgresPoolClient>;
}

/** Settings shared by both ways of giving {@link PostgresAdapterOptions} a database. */
export interface PostgresTuningOptions {
  /**
   * The PostgreSQL schema (namespace) that holds the adapter's tables, default
   * `"ratchet"`; created if missing. Letters, digits and `_`, at most 63 characters; used
   * as written (quoted), so `"Jobs"` and `"jobs"` are different schemas. Each schema has
   * its own schema version, so several stores can share one database.
   */
  readonly schema?: string;
  /**
   * Send a `NOTIFY` when a run becomes claimable (created unleased, or its lease released),
   * which {@link PostgresAdapter.subscribe} turns into wake-ups in every process. Default
   * `true`. Turn it off when nothing listens and creation rates are very high: PostgreSQL
   * serializes the commits of notifying transactions.
   */
  readonly notify?: boolean;
  /**
   * Group commit, on by default: checkpoints of different runs that become ready while a
   * commit of this adapter is in flight wait for it and are then written together, in one
   * statement and one transaction (one WAL flush), each with its own compare-and-set, so a
   * conflict or a lost lease refuses only that run. A commit that finds nothing in flight
   * is sent at once: there is no timer, and a lone run waits for no one. `maxBatch` (default
   * 256) bounds the checkpoints per statement. At most two commit statements of one adapter
   * are in flight at once, so the rest of the pool stays free for claims and reads.
   * Run creation is grouped the same way. `false` sends every commit and creation as its
   * own statement.
   */
  readonly groupCommit?: boolean | { readonly maxBatch?: number };
}

/**
 * Options of {@link postgres}: a connection string for a pool the adapter opens (and closes
 * in `close()`), or a pool you already have (`pool`, e.g. a `pg.Pool`), which stays open.
 */
export type PostgresAdapterOptions = (
  | {
      readonly connectionString: string;
      /** Connections in the pool the adapter opens, default 10 (pg's default). */
      readonly maxConnections?: number;
      readonly pool?: never;
    }
  | {
      readonly pool: PostgresPool;
      readonly connectionString?: never;
      readonly maxConnections?: never;
    }
) &
  PostgresTuningOptions;

/** {@link PostgresAdapterOptions} checked, with defaults applied; frozen. */
export interface PostgresAdapterConfig {
  readonly source:
    | {
        readonly kind: "connectionString";
        readonly connectionString: string;
        readonly maxConnections: number;
      }
    | { readonly kind: "pool"; readonly pool: PostgresPool };
  readonly schema: string;
  readonly notify: boolean;
  /** `false`: every commit is its own statement. */
  readonly groupCommit: GroupCommitConfig;
}

const schemaPattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Check `options` and freeze them with their defaults, or throw `invalid-argument`. */
export function resolvePostgresConfig(options: PostgresAdapterOptions): PostgresAdapterConfig {
  const invalid = (what: string) =>
    new StorageError("invalid-argument", `postgres(options): ${what}.`);
  if (typeof options !== "object" || options === null) {
    throw invalid("pass { connectionString } or { pool }");
  }
  let source: PostgresAdapterConfig["source"];
  if (options.pool !== undefined) {
    if (options.connectionString !== undefined) {
      throw invalid("pass either connectionString or pool, not both");
    }
    if (options.maxConnections !== undefined) {
      throw invalid("maxConnections is for a pool the adapter opens; size your own pool yourself");
    }
    const pool = options.pool as Partial<PostgresPool> | null;
    if (typeof pool?.query !== "function" || typeof pool.connect !== "function") {
      throw invalid("pool must be a pg.Pool (or have its query and connect methods)");
    }
    source = Object.freeze({ kind: "pool", pool: options.pool });
  } else if (typeof options.connectionString === "string" && options.connectionString !== "") {
    const maxConnections = options.maxConnections ?? 10;
    if (!(Number.isInteger(maxConnections) && maxConnections >= 1)) {
      throw invalid(`maxConnections must be a whole number >= 1, not ${maxConnections}`);
    }
    source = Object.freeze({
      kind: "connectionString",
      connectionString: options.connectionString,
      maxConnections,
    });
  } else {
    throw invalid(
      'pass { connectionString: "postgres://user@host:5432/db" } or { pool: new pg.Pool(…) }',
    );
  }
  const schema = options.schema ?? "ratchet";
  if (typeof schema !== "string" || !schemaPattern.test(schema)) {
    throw invalid(
      `schema ${JSON.stringify(schema)} may contain only letters, digits and "_", must not start with a digit, and has at most 63 characters`,
    );
  }
  const notify = options.notify ?? true;
  if (typeof notify !== "boolean") throw invalid(`notify must be true or false, not ${notify}`);
  return Object.freeze({
    source,
    schema,
    notify,
    groupCommit: resolveGroupCommit(options.groupCommit, invalid),
  });
}
