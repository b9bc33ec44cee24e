import { EventEmitter } from "node:events";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import type {
  PostgresPool,
  PostgresPoolClient,
  PostgresQuery,
  PostgresResult,
} from "../../adapters/postgres/index.js";

/**
 * The database Postgres tests run on: the server at DATABASE_URL (default: the local
 * server, 127.0.0.1:5432, database `test`), or, when none answers, an embedded PGlite —
 * announced once with console.warn, never skipped in silence.
 */
export interface TestDatabase {
  readonly kind: "server" | "pglite";
  /** For test names: where the tests ran. */
  readonly label: string;
  /** The connection string, on a server; `undefined` on PGlite. */
  readonly url: string | undefined;
  /** A new pool on the database (ended by {@link TestDatabase.end}). */
  pool(): PostgresPool;
  /** A schema name no test has used; dropped by {@link TestDatabase.cleanUp}. */
  freshSchema(): string;
  /** Run one statement outside any adapter (to inspect or tamper with a store). */
  query<Row>(text: string, values?: unknown[]): Promise<Row[]>;
  /** Close the pools and drop the schemas handed out so far: call it after each test. */
  cleanUp(): Promise<void>;
  /** Drop the schemas and close every pool. */
  end(): Promise<void>;
}

export const defaultDatabaseUrl = "postgres://postgres@127.0.0.1:5432/test";

let warned = false;

/** Connect to the test server, or fall back to PGlite (saying so). */
export async function openTestDatabase(): Promise<TestDatabase> {
  const url = process.env.DATABASE_URL ?? defaultDatabaseUrl;
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await probe.connect();
    await probe.query("SELECT 1");
    await probe.end();
    return serverDatabase(url);
  } catch (error) {
    await probe.end().catch(() => {});
    if (!warned) {
      warned = true;
      console.warn(
        `[ratchet tests] No PostgreSQL server answered at ${redact(url)} (${(error as Error).message}); ` +
          "running the Postgres tests on embedded PGlite instead (one connection: races are interleaved, not parallel). " +
          "Start a server or set DATABASE_URL to test against a real one.",
      );
    }
    return pgliteDatabase();
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

let schemas = 0;
function schemaName(): string {
  return `ratchet_test_${process.pid}_${Date.now().toString(36)}_${++schemas}`;
}

function serverDatabase(url: string): TestDatabase {
  const pools: pg.Pool[] = [];
  const handedOut: string[] = [];
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  admin.on("error", () => {});
  const db: TestDatabase = {
    kind: "server",
    label: `PostgreSQL at ${redact(url)}`,
    url,
    pool() {
      const pool = new pg.Pool({ connectionString: url });
      pool.on("error", () => {});
      pools.push(pool);
      return pool;
    },
    freshSchema() {
      const name = schemaName();
      handedOut.push(name);
      return name;
    },
    async query<Row>(text: string, values?: unknown[]) {
      return (await admin.query(text, values)).rows as Row[];
    },
    async cleanUp() {
      await Promise.all(pools.splice(0).map((pool) => pool.end()));
      for (const name of handedOut.splice(0)) {
        await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      }
    },
    async end() {
      await db.cleanUp();
      await admin.end();
    },
  };
  return db;
}

async function pgliteDatabase(): Promise<TestDatabase> {
  const instance = await PGlite.create();
  const gate = new Gate();
  const handedOut: string[] = [];
  const db: TestDatabase = {
    kind: "pglite",
    label: "embedded PGlite",
    url: undefined,
    pool: () => new PglitePool(instance, gate),
    freshSchema() {
      const name = schemaName();
      handedOut.push(name);
      return name;
    },
    async query<Row>(text: string, values?: unknown[]) {
      return (await run<Row>(instance, gate, undefined, { text, values })).rows;
    },
    async cleanUp() {
      for (const name of handedOut.splice(0)) {
        await db.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      }
    },
    async end() {
      await db.cleanUp();
      await instance.close();
    },
  };
  return db;
}

/**
 * PGlite has one session. The gate gives a client that runs `BEGIN` that session to itself
 * until its `COMMIT`/`ROLLBACK`, so other queries never land inside its transaction.
 */
class Gate {
  #holder: object | undefined;
  #freed: Promise<void> = Promise.resolve();
  #open: () => void = () => {};

  /** Wait until `who` may run a query; with `exclusive`, keep the session for `who`. */
  async pass(who: object | undefined, exclusive: boolean): Promise<void> {
    while (this.#holder !== undefined && this.#holder !== who) await this.#freed;
    if (exclusive && this.#holder === undefined) {
      this.#holder = who;
      this.#freed = new Promise((resolve) => {
        this.#open = resolve;
      });
    }
  }

  leave(who: object): void {
    if (this.#holder !== who) return;
    this.#holder = undefined;
    this.#open();
  }
}

async function run<Row>(
  instance: PGlite,
  gate: Gate,
  who: object | undefined,
  query: PostgresQuery,
): Promise<PostgresResult<Row>> {
  const verb = /^\s*(\w+)/.exec(query.text)?.[1]?.toUpperCase();
  await gate.pass(who, who !== undefined && verb === "BEGIN");
  try {
    if (query.values === undefined || query.values.length === 0) {
      // No parameters: the simple protocol, which (like pg) allows several statements.
      const results = await instance.exec(query.text);
      return { rows: (results.at(-1)?.rows ?? []) as Row[] };
    }
    return { rows: (await instance.query<Row>(query.text, [...query.values])).rows };
  } finally {
    if (who !== undefined && (verb === "COMMIT" || verb === "ROLLBACK")) gate.leave(who);
  }
}

/** A pg.Pool look-alike on one PGlite instance. */
class PglitePool implements PostgresPool {
  readonly #instance: PGlite;
  readonly #gate: Gate;

  constructor(instance: PGlite, gate: Gate) {
    this.#instance = instance;
    this.#gate = gate;
  }

  query<Row>(query: PostgresQuery): Promise<PostgresResult<Row>> {
    return run<Row>(this.#instance, this.#gate, undefined, query);
  }

  async connect(): Promise<PostgresPoolClient> {
    return new PgliteClient(this.#instance, this.#gate);
  }
}

/** A pg.PoolClient look-alike; `LISTEN`/`UNLISTEN` map to PGlite's listen API. */
class PgliteClient extends EventEmitter implements PostgresPoolClient {
  readonly #instance: PGlite;
  readonly #gate: Gate;
  readonly #unlisten = new Map<string, () => Promise<void>>();

  constructor(instance: PGlite, gate: Gate) {
    super();
    this.#instance = instance;
    this.#gate = gate;
  }

  async query<Row>(query: PostgresQuery): Promise<PostgresResult<Row>> {
    const listen = /^\s*(UN)?LISTEN\s+(\w+)\s*$/i.exec(query.text);
    if (listen === null) return run<Row>(this.#instance, this.#gate, this, query);
    const channel = listen[2];
    if (listen[1] === undefined) {
      if (!this.#unlisten.has(channel)) {
        const stop = await this.#instance.listen(channel, (payload) =>
          this.emit("notification", { channel, payload }),
        );
        this.#unlisten.set(channel, stop);
      }
    } else {
      await this.#unlisten.get(channel)?.();
      this.#unlisten.delete(channel);
    }
    return { rows: [] };
  }

  release(): void {
    for (const stop of this.#unlisten.values()) void stop();
    this.#unlisten.clear();
    this.#gate.leave(this);
  }
}
