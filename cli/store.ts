/**
 * The store a command works on: `--db <sqlite path | postgres url>` or `RATCHET_DB`, opened
 * through an engine without a worker (it executes nothing, and deletes nothing on its own).
 * @module
 */
import { existsSync } from "node:fs";
import type { StorageAdapter } from "../adapters/contract.js";
import { createEngine, type Engine } from "../runtime/index.js";
import { CliError } from "./errors.js";
import type { GlobalOptions } from "./main.js";

/** Where the store is, as given. */
export function storeUrl(options: GlobalOptions): string {
  const db = options.db ?? process.env.RATCHET_DB;
  if (!db) {
    throw new CliError(
      "which store? Pass --db <file.db | postgres://…>, or set RATCHET_DB (the database your engine's storage uses).",
    );
  }
  return db;
}

/** The adapter for a SQLite path or a `postgres://` URL. */
export async function openStorage(db: string): Promise<StorageAdapter> {
  if (/^postgres(ql)?:\/\//.test(db)) {
    const { postgres } = await import("../adapters/postgres/index.js");
    return postgres({ connectionString: db });
  }
  // Opening a missing file would create an empty store and report "no runs": say so instead.
  if (db !== ":memory:" && !existsSync(db)) {
    throw new CliError(
      `no SQLite database at ${db}. Pass the file your engine's sqlite({ path }) uses, or a postgres:// URL.`,
    );
  }
  const { sqlite } = await import("../adapters/sqlite/index.js");
  return sqlite({ path: db });
}

/** An engine on the store for looking at and changing runs: no worker, no retention, no tracing. */
export async function openEngine(options: GlobalOptions): Promise<Engine> {
  const storage = await openStorage(storeUrl(options));
  return createEngine({
    storage,
    workflows: [],
    worker: false,
    retention: false,
    tracing: false,
  });
}

/** Run `work` with an engine on the store, closing it afterwards. */
export async function withEngine<T>(
  options: GlobalOptions,
  work: (engine: Engine) => Promise<T>,
): Promise<T> {
  const engine = await openEngine(options);
  try {
    return await work(engine);
  } finally {
    await engine.close();
  }
}
