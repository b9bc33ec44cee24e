import { StorageError } from "../contract.js";
import { type GroupCommitConfig, resolveGroupCommit } from "../group-commit.js";

/**
 * A better-sqlite3 `Database`, described by the members the adapter uses, so the published
 * types need neither the driver nor `@types/better-sqlite3` to compile.
 */
export interface SqliteDatabase {
  /** Whether the connection is open. */
  readonly open: boolean;
  prepare(source: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  exec(source: string): unknown;
  transaction(fn: (...args: never[]) => unknown): unknown;
  close(): unknown;
}

/** Settings shared by both ways of giving {@link SqliteAdapterOptions} a database. */
export interface SqliteTuningOptions {
  /**
   * How hard SQLite works to make a commit survive power loss. `"full"` (the default for
   * a file the adapter opens) syncs the write-ahead log at every commit, so a checkpoint
   * reported committed stays committed. `"normal"` is faster but may lose the last commits
   * (never corrupt the file) if the machine loses power; a crash of the process alone
   * loses nothing either way.
   */
  readonly synchronous?: "full" | "normal";
  /**
   * How long a write waits for another connection's write lock before failing with
   * `SQLITE_BUSY`, in milliseconds. Default 5000 for a file the adapter opens. The wait
   * blocks this thread: better-sqlite3 is synchronous.
   */
  readonly busyTimeoutMs?: number;
  /**
   * Prefix of every table and index the adapter creates, default `"ratchet_"`. Letters,
   * digits and `_` only. Each prefix has its own schema version, so several stores can
   * share one database file.
   */
  readonly tablePrefix?: string;
  /**
   * Group commit, on by default: checkpoints of different runs that become ready in the
   * same turn of the event loop as another commit share one transaction (with `"full"`,
   * one sync of the log), each with its own compare-and-set, so a conflict or a lost lease
   * refuses only that run. A commit that finds the adapter idle is written at once; the
   * others are written at the next turn (`setImmediate`), never after a timer. `maxBatch`
   * (default 256) bounds the checkpoints per transaction. `false` gives every commit its
   * own transaction.
   */
  readonly groupCommit?: boolean | { readonly maxBatch?: number };
}

/**
 * Options of {@link sqlite}: the database file to open (`path`, `":memory:"` for a
 * throwaway one), or a better-sqlite3 connection you already have (`database`).
 *
 * The adapter configures a connection it opens itself: WAL journal, `synchronous`,
 * `busy_timeout`, foreign keys, and closes it in `close()`. A connection you pass keeps
 * your settings except the `synchronous` and `busyTimeoutMs` you set here, and stays open.
 */
export type SqliteAdapterOptions = (
  | {
      readonly path: string;
      readonly database?: never;
      /**
       * Checkpoint the write-ahead log from a worker thread with a connection of its own;
       * on by default with `synchronous: "normal"`. SQLite otherwise copies the log into
       * the database file inside the commit that brings it to 1,000 pages: two syncs,
       * several milliseconds during which this thread, and every run on it, waits. With
       * the thread, this connection checkpoints by itself only when the log passes 4,000
       * pages (writing without a pause, the thread cannot empty it). Off by default with
       * `"full"`: each commit then syncs the log anyway, and the thread's syncs would
       * contend with the commits' own. `false` leaves checkpoints to SQLite.
       */
      readonly walCheckpointThread?: boolean;
    }
  | {
      readonly database: SqliteDatabase;
      readonly path?: never;
      readonly walCheckpointThread?: never;
    }
) &
  SqliteTuningOptions;

/** {@link SqliteAdapterOptions} checked, with defaults applied; frozen. */
export interface SqliteAdapterConfig {
  readonly source:
    | { readonly kind: "path"; readonly path: string }
    | { readonly kind: "database"; readonly database: SqliteDatabase };
  /** `undefined`: leave the connection's setting alone (only for a passed connection). */
  readonly synchronous: "full" | "normal" | undefined;
  /** `undefined`: leave the connection's setting alone (only for a passed connection). */
  readonly busyTimeoutMs: number | undefined;
  readonly tablePrefix: string;
  /** `false`: every commit is its own transaction. */
  readonly groupCommit: GroupCommitConfig;
  /** Whether a thread checkpoints the log; only for a file the adapter opens. */
  readonly walCheckpointThread: boolean;
}

const tablePrefixPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Check `options` and freeze them with their defaults, or throw `invalid-argument`. */
export function resolveSqliteConfig(options: SqliteAdapterOptions): SqliteAdapterConfig {
  const invalid = (what: string) =>
    new StorageError("invalid-argument", `sqlite(options): ${what}.`);
  if (typeof options !== "object" || options === null) {
    throw invalid("pass { path } or { database }");
  }
  let source: SqliteAdapterConfig["source"];
  if (options.database !== undefined) {
    if (options.path !== undefined) throw invalid("pass either path or database, not both");
    if (typeof options.database?.prepare !== "function") {
      throw invalid("database must be a better-sqlite3 Database");
    }
    source = Object.freeze({ kind: "database", database: options.database });
  } else if (typeof options.path === "string" && options.path !== "") {
    source = Object.freeze({ kind: "path", path: options.path });
  } else {
    throw invalid("pass { path: string } (a file name or ':memory:') or { database }");
  }
  const ownsConnection = source.kind === "path";
  const synchronous = options.synchronous ?? (ownsConnection ? "full" : undefined);
  if (synchronous !== undefined && synchronous !== "full" && synchronous !== "normal") {
    throw invalid(`synchronous must be "full" or "normal", not ${JSON.stringify(synchronous)}`);
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? (ownsConnection ? 5000 : undefined);
  if (busyTimeoutMs !== undefined && !(Number.isInteger(busyTimeoutMs) && busyTimeoutMs >= 0)) {
    throw invalid(
      `busyTimeoutMs must be a whole number of milliseconds >= 0, not ${busyTimeoutMs}`,
    );
  }
  const tablePrefix = options.tablePrefix ?? "ratchet_";
  if (!tablePrefixPattern.test(tablePrefix)) {
    throw invalid(
      `tablePrefix ${JSON.stringify(tablePrefix)} may contain only letters, digits and "_", and must not start with a digit`,
    );
  }
  const groupCommit = resolveGroupCommit(options.groupCommit, invalid);
  // Off with "full": each commit then syncs the log anyway, so a checkpoint is a small share
  // of the time, and from a thread its syncs contend with the commits' own.
  const walCheckpointThread =
    options.walCheckpointThread ?? (ownsConnection && synchronous === "normal");
  if (typeof walCheckpointThread !== "boolean") {
    throw invalid(`walCheckpointThread must be true or false, not ${String(walCheckpointThread)}`);
  }
  if (walCheckpointThread && !ownsConnection) {
    throw invalid(
      "walCheckpointThread needs a file the adapter opens ({ path }); a connection you pass keeps your checkpoint settings",
    );
  }
  return Object.freeze({
    source,
    synchronous,
    busyTimeoutMs,
    tablePrefix,
    groupCommit,
    walCheckpointThread,
  });
}
