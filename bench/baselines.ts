import Database from "better-sqlite3";
import pg from "pg";

/** The `synchronous` settings the SQLite adapter accepts. */
export type SynchronousMode = "full" | "normal";

/**
 * Microseconds per iteration of `await Promise.resolve(i)` in a loop of `iterations`,
 * averaged over `repeats` loops: one loop of 1,000 takes tens of microseconds, too short
 * to time alone.
 */
export async function plainAwaitMicros(iterations: number, repeats: number): Promise<number> {
  let sink = 0;
  const started = performance.now();
  for (let r = 0; r < repeats; r++) sink += await awaitLoop(iterations);
  const elapsed = performance.now() - started;
  if (sink < 0) throw new Error("unreachable: keeps the loop's result alive");
  return (elapsed * 1000) / (iterations * repeats);
}

async function awaitLoop(iterations: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < iterations; i++) sum += await Promise.resolve(i);
  return sum;
}

/**
 * Microseconds per single-row INSERT, each its own autocommit transaction, on a fresh
 * file opened with the pragmas the SQLite adapter sets on a file it opens itself
 * (adapters/sqlite/sqlite-adapter.ts): busy_timeout, WAL, foreign keys, `synchronous`.
 * The statement is prepared once, as the adapter prepares its commit statement once.
 */
export function rawSqliteInsertMicros(
  path: string,
  synchronous: SynchronousMode,
  inserts: number,
): number {
  const db = new Database(path);
  try {
    db.pragma("busy_timeout = 5000");
    db.pragma("journal_mode = WAL");
    db.pragma("foreign_keys = ON");
    db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    const insert = db.prepare<[number, string]>("INSERT INTO t (id, body) VALUES (?, ?)");
    const body = "x".repeat(100);
    const started = performance.now();
    for (let i = 1; i <= inserts; i++) insert.run(i, body);
    return ((performance.now() - started) * 1000) / inserts;
  } finally {
    db.close();
  }
}

/** The SQLite library better-sqlite3 was built with, for the record. */
export function sqliteVersion(): string {
  const db = new Database(":memory:");
  try {
    return (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  } finally {
    db.close();
  }
}

/**
 * Microseconds per single-row INSERT over one node-postgres connection, each its own
 * autocommit transaction (server defaults: `synchronous_commit = on`), into a fresh table in
 * a fresh schema that is dropped afterwards. The statement is prepared (named) and run once
 * before the clock starts, as the adapter's statements are prepared once per connection.
 */
export async function rawPostgresInsertMicros(
  url: string,
  schema: string,
  inserts: number,
): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(`CREATE TABLE "${schema}".t (id int PRIMARY KEY, body text NOT NULL)`);
    const text = `INSERT INTO "${schema}".t (id, body) VALUES ($1, $2)`;
    const body = "x".repeat(100);
    await client.query({ name: "raw-insert", text, values: [0, body] });
    const started = performance.now();
    for (let i = 1; i <= inserts; i++) {
      await client.query({ name: "raw-insert", text, values: [i, body] });
    }
    return ((performance.now() - started) * 1000) / inserts;
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

/**
 * Microseconds of wall-clock time per single-row INSERT when `inserts` of them, each its own
 * autocommit transaction, are issued at once through a node-postgres pool of `connections`
 * (warmed, the statement prepared on each): the best a pool of that size does with one row
 * per transaction, the server sharing WAL flushes between the connections' commits.
 */
export async function rawPostgresPooledInsertMicros(
  url: string,
  schema: string,
  inserts: number,
  connections: number,
): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  try {
    await pool.query(`CREATE SCHEMA "${schema}"`);
    await pool.query(`CREATE TABLE "${schema}".t (id int PRIMARY KEY, body text NOT NULL)`);
    const text = `INSERT INTO "${schema}".t (id, body) VALUES ($1, $2)`;
    const body = "x".repeat(100);
    await Promise.all(
      Array.from({ length: connections }, (_, i) =>
        pool.query({ name: "raw-insert", text, values: [-1 - i, body] }),
      ),
    );
    const started = performance.now();
    await Promise.all(
      Array.from({ length: inserts }, (_, i) =>
        pool.query({ name: "raw-insert", text, values: [i, body] }),
      ),
    );
    return ((performance.now() - started) * 1000) / inserts;
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
}

/** The PostgreSQL server's version, for the record. */
export async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]
      .server_version;
  } finally {
    await client.end();
  }
}
