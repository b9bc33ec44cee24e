import { StorageError } from "../contract.js";
import type { PostgresPool } from "./postgres-config.js";

/** One step of the schema: SQL that takes version `version - 1` to `version`. */
export interface PostgresMigration {
  readonly version: number;
  /** The statements, for tables in the schema `s` (already quoted). */
  sql(s: string): string;
}

/**
 * Every schema version, in order. Append; never edit a released migration: databases
 * written by it exist.
 *
 * Times are `timestamptz` from the server's clock, so workers on machines whose clocks
 * disagree still agree on when a lease ends; `wake_at` is epoch milliseconds, on the
 * server's clock too when the engine sends it as a delay (`Commit.wakeInMs`). `ord` is the creation order that breaks
 * ties between runs created in the same millisecond.
 */
export const postgresMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    sql: (s) => `
      CREATE TABLE ${s}.runs (
        id               text        NOT NULL PRIMARY KEY,
        ord              bigint      GENERATED ALWAYS AS IDENTITY,
        workflow         text        NOT NULL,
        version          text        NOT NULL,
        status           text        NOT NULL,
        seq              bigint      NOT NULL,
        args             text        NOT NULL,
        frame            text,
        result           text,
        error            text,
        idempotency_key  text,
        session_id       text,
        lease_owner      text,
        lease_expires_at timestamptz,
        created_at       timestamptz NOT NULL,
        updated_at       timestamptz NOT NULL,
        wake_at          bigint,
        wait             text,
        wait_event       text,
        inbox            text
      );
      CREATE UNIQUE INDEX runs_idempotency_key ON ${s}.runs (idempotency_key)
        WHERE idempotency_key IS NOT NULL;
      CREATE INDEX runs_claim ON ${s}.runs (created_at, ord)
        WHERE status IN ('pending', 'running');
      CREATE INDEX runs_wake ON ${s}.runs (wake_at)
        WHERE status IN ('sleeping', 'waiting') AND wake_at IS NOT NULL;
      CREATE INDEX runs_created ON ${s}.runs (created_at, ord);
      CREATE INDEX runs_workflow_created ON ${s}.runs (workflow, created_at, ord);
      CREATE INDEX runs_wait_event ON ${s}.runs (wait_event, created_at, ord)
        WHERE wait_event IS NOT NULL;
    `,
  },
  {
    // Session state, written with compare-and-set on its version by the commits of the
    // session's runs.
    version: 2,
    sql: (s) => `
      CREATE TABLE ${s}.sessions (
        id         text        NOT NULL PRIMARY KEY,
        state      text        NOT NULL,
        version    bigint      NOT NULL,
        updated_at timestamptz NOT NULL
      );
    `,
  },
  {
    // Operations: lists by status, retention (purge looks at the oldest runs first through
    // runs_created, so no index has to follow updated_at: every commit changes it, and an
    // index on it would make every checkpoint a non-HOT update), sessions left without
    // runs, and the optional step history.
    version: 3,
    sql: (s) => `
      CREATE INDEX runs_status_created ON ${s}.runs (status, created_at, ord);
      CREATE INDEX runs_session ON ${s}.runs (session_id) WHERE session_id IS NOT NULL;
      CREATE TABLE ${s}.steps (
        run_id     text    NOT NULL,
        ord        bigint  GENERATED ALWAYS AS IDENTITY,
        checkpoint text    NOT NULL,
        name       text    NOT NULL,
        attempt    integer NOT NULL,
        started_at bigint  NOT NULL,
        ended_at   bigint  NOT NULL,
        error      text
      );
      CREATE INDEX steps_run ON ${s}.steps (run_id, ord);
    `,
  },
  {
    // Events kept for one run until it waits for them (emit with runId), and the keys of
    // events delivered to a run (emit with idempotencyKey): delivered rows stay, so a
    // repeated key finds them.
    version: 4,
    sql: (s) => `
      CREATE TABLE ${s}.events (
        id         text        NOT NULL PRIMARY KEY,
        ord        bigint      GENERATED ALWAYS AS IDENTITY,
        run_id     text        NOT NULL,
        name       text        NOT NULL,
        key        text,
        payload    text        NOT NULL,
        created_at timestamptz NOT NULL,
        delivered  boolean     NOT NULL DEFAULT false
      );
      CREATE UNIQUE INDEX events_run_key ON ${s}.events (run_id, key) WHERE key IS NOT NULL;
      CREATE INDEX events_pending ON ${s}.events (run_id, ord) WHERE NOT delivered;
    `,
  },
  {
    // Room in every page of runs for the next versions of its rows. A checkpoint changes no
    // indexed column, so its update can be HOT (the new version in the same page, no index
    // entry written) — but only if the page has space for it. Packed full (fillfactor 100),
    // most checkpoints found none and wrote a new entry in each of the table's indexes; at
    // 70 about 98% of them are HOT, and the server's work per checkpoint roughly halves
    // (docs/adapters.md). Pages written from now on keep the room; VACUUM FULL repacks old ones.
    version: 5,
    sql: (s) => `
      ALTER TABLE ${s}.runs SET (fillfactor = 70);
    `,
  },
  {
    // Claims bounded by what is claimable: runs nobody leases through runs_free, leases
    // that expired through runs_lease_expiry (a range up to now()), so runs leased by live
    // workers and parked runs are never read by a claim. Neither index changes at a
    // checkpoint that keeps its lease (commits leave an expiry more than half a lease away
    // as it is), so checkpoints stay HOT updates.
    version: 6,
    sql: (s) => `
      CREATE INDEX runs_free ON ${s}.runs (created_at, ord)
        WHERE status IN ('pending', 'running') AND lease_owner IS NULL;
      CREATE INDEX runs_lease_expiry ON ${s}.runs (lease_expires_at)
        WHERE status IN ('pending', 'running') AND lease_owner IS NOT NULL;
      DROP INDEX ${s}.runs_claim;
    `,
  },
];

/** The schema version this build of Ratchet writes. */
export const latestPostgresSchemaVersion = postgresMigrations.length;

/** First key of the advisory lock around migrating: "ratc" in ASCII. */
const lockClass = 0x72617463;

/**
 * Bring the schema `schema` to {@link latestPostgresSchemaVersion}, creating it if needed.
 * A session-level advisory lock (keyed by the schema name) is held throughout, so
 * processes starting at once wait for each other and each migration is applied exactly
 * once; each migration and its version bump commit in one transaction. Throws
 * `schema-too-new` for a schema written by a newer Ratchet.
 */
export async function migratePostgres(pool: PostgresPool, schema: string): Promise<void> {
  const s = quoteIdentifier(schema);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const lock = { text: "SELECT pg_advisory_lock($1, hashtext($2))", values: [lockClass, schema] };
    await client.query(lock);
    try {
      for (;;) {
        await client.query({ text: "BEGIN" });
        try {
          await client.query({
            text: `CREATE SCHEMA IF NOT EXISTS ${s};
              CREATE TABLE IF NOT EXISTS ${s}.schema_version (
                id      integer NOT NULL PRIMARY KEY CHECK (id = 1),
                version integer NOT NULL
              )`,
          });
          const { rows } = await client.query<{ version: number }>({
            text: `SELECT version FROM ${s}.schema_version WHERE id = 1`,
          });
          const current = rows.length === 0 ? 0 : Number(rows[0].version);
          if (current > latestPostgresSchemaVersion) {
            throw new StorageError(
              "schema-too-new",
              `The PostgreSQL schema "${schema}" holds Ratchet schema version ${current}, ` +
                `but this version of Ratchet knows only up to ${latestPostgresSchemaVersion}. ` +
                "Upgrade ratchet in this project, or give the adapter another schema.",
            );
          }
          if (current === latestPostgresSchemaVersion) {
            await client.query({ text: "COMMIT" });
            return;
          }
          const migration = postgresMigrations[current];
          await client.query({ text: migration.sql(s) });
          await client.query({
            text: `INSERT INTO ${s}.schema_version (id, version) VALUES (1, $1)
                   ON CONFLICT (id) DO UPDATE SET version = excluded.version`,
            values: [migration.version],
          });
          await client.query({ text: "COMMIT" });
        } catch (error) {
          await client.query({ text: "ROLLBACK" }).catch((rollback: Error) => {
            broken = rollback;
          });
          throw error;
        }
      }
    } finally {
      if (broken === undefined) {
        await client
          .query({ text: "SELECT pg_advisory_unlock($1, hashtext($2))", values: lock.values })
          .catch((unlock: Error) => {
            broken = unlock;
          });
      }
    }
  } finally {
    // A connection whose unlock failed may still hold the lock: close it rather than reuse it.
    client.release(broken ?? false);
  }
}

/** `name` as a quoted SQL identifier. Config checks leave no `"` in it; this is the belt. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
