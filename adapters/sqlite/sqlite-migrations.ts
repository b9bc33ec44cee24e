import type BetterSqlite3 from "better-sqlite3";
import { StorageError } from "../contract.js";

/** One step of the schema: SQL that takes version `version - 1` to `version`. */
export interface SqliteMigration {
  readonly version: number;
  /** The statements, for tables named with `prefix`. */
  sql(prefix: string): string;
}

/**
 * Every schema version, in order. Append; never edit a released migration: files written
 * by it exist.
 */
export const sqliteMigrations: readonly SqliteMigration[] = [
  {
    version: 1,
    sql: (p) => `
      CREATE TABLE ${p}runs (
        id               TEXT    NOT NULL PRIMARY KEY,
        workflow         TEXT    NOT NULL,
        version          TEXT    NOT NULL,
        status           TEXT    NOT NULL,
        seq              INTEGER NOT NULL,
        args             TEXT    NOT NULL,
        frame            TEXT,
        result           TEXT,
        error            TEXT,
        idempotency_key  TEXT,
        session_id       TEXT,
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX ${p}runs_idempotency_key ON ${p}runs (idempotency_key)
        WHERE idempotency_key IS NOT NULL;
      CREATE INDEX ${p}runs_claim ON ${p}runs (status, lease_expires_at);
      CREATE INDEX ${p}runs_workflow_created ON ${p}runs (workflow, created_at);
    `,
  },
  {
    // Durable sleeps, waits and their deliveries. Existing rows get NULL in every new column.
    version: 2,
    sql: (p) => `
      ALTER TABLE ${p}runs ADD COLUMN wake_at    INTEGER;
      ALTER TABLE ${p}runs ADD COLUMN wait       TEXT;
      ALTER TABLE ${p}runs ADD COLUMN wait_event TEXT;
      ALTER TABLE ${p}runs ADD COLUMN inbox      TEXT;
      CREATE INDEX ${p}runs_wake ON ${p}runs (status, wake_at) WHERE wake_at IS NOT NULL;
      CREATE INDEX ${p}runs_wait_event ON ${p}runs (wait_event, created_at)
        WHERE wait_event IS NOT NULL;
    `,
  },
  {
    // Session state, written with compare-and-set on its version by the commits of the
    // session's runs.
    version: 3,
    sql: (p) => `
      CREATE TABLE ${p}sessions (
        id         TEXT    NOT NULL PRIMARY KEY,
        state      TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    // Operations: lists by status and by age, retention (purge looks at the oldest runs
    // first, through the creation index, so no index has to follow updated_at, which every
    // commit changes), sessions left without runs, and the optional step history.
    version: 4,
    sql: (p) => `
      CREATE INDEX ${p}runs_created ON ${p}runs (created_at);
      CREATE INDEX ${p}runs_status_created ON ${p}runs (status, created_at);
      CREATE INDEX ${p}runs_session ON ${p}runs (session_id) WHERE session_id IS NOT NULL;
      CREATE TABLE ${p}steps (
        run_id     TEXT    NOT NULL,
        checkpoint TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        attempt    INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at   INTEGER NOT NULL,
        error      TEXT
      );
      CREATE INDEX ${p}steps_run ON ${p}steps (run_id);
    `,
  },
  {
    // Events kept for one run until it waits for them (emit with runId), and the keys of
    // events delivered to a run (emit with idempotencyKey): delivered rows stay, so a
    // repeated key finds them.
    version: 5,
    sql: (p) => `
      CREATE TABLE ${p}events (
        id         TEXT    NOT NULL PRIMARY KEY,
        run_id     TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        key        TEXT,
        payload    TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        delivered  INTEGER NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX ${p}events_run_key ON ${p}events (run_id, key) WHERE key IS NOT NULL;
      CREATE INDEX ${p}events_pending ON ${p}events (run_id, created_at) WHERE delivered = 0;
    `,
  },
  {
    // Claims bounded by what is claimable: runs nobody leases, oldest first, through their
    // own index; expired leases through runs_claim (status, lease_expires_at) as a range up
    // to now. Runs leased by live workers and parked runs are read by no claim.
    version: 6,
    sql: (p) => `
      CREATE INDEX ${p}runs_free ON ${p}runs (created_at)
        WHERE status IN ('pending', 'running') AND lease_owner IS NULL;
    `,
  },
];

/** The schema version this build of Ratchet writes. */
export const latestSqliteSchemaVersion = sqliteMigrations.length;

/**
 * Bring the tables with `prefix` to {@link latestSqliteSchemaVersion}. Each migration runs
 * in its own IMMEDIATE transaction that first re-reads the version, so processes opening
 * one file at once apply each migration exactly once. Throws `schema-too-new` for a file
 * written by a newer Ratchet.
 *
 * The version lives in a `<prefix>schema` table rather than `PRAGMA user_version`: that
 * pragma is one number per file, which stores with different prefixes, or an application
 * sharing its own database, would overwrite.
 */
export function migrateSqlite(db: BetterSqlite3.Database, prefix: string): void {
  const step = db.transaction((): boolean => {
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${prefix}schema (
        id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
      )`,
    );
    const row = db.prepare(`SELECT version FROM ${prefix}schema WHERE id = 1`).get() as
      | { version: number }
      | undefined;
    const current = row?.version ?? 0;
    if (current > latestSqliteSchemaVersion) {
      throw new StorageError(
        "schema-too-new",
        `The SQLite database ${describe(db)} holds Ratchet schema version ${current} (tables "${prefix}*"), ` +
          `but this version of Ratchet knows only up to ${latestSqliteSchemaVersion}. ` +
          "Upgrade ratchet in this project, or point it at another database file.",
      );
    }
    if (current === latestSqliteSchemaVersion) return false;
    const migration = sqliteMigrations[current];
    db.exec(migration.sql(prefix));
    db.prepare(
      `INSERT INTO ${prefix}schema (id, version) VALUES (1, ?)
       ON CONFLICT (id) DO UPDATE SET version = excluded.version`,
    ).run(migration.version);
    return true;
  });
  let applied = true;
  while (applied) applied = step.immediate();
}

function describe(db: BetterSqlite3.Database): string {
  return db.memory ? "(in memory)" : JSON.stringify(db.name);
}
