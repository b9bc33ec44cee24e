import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * Pages the adapter writes to the log between two checkpoints by the thread, as it counts
 * them (see `SqliteAdapter`'s writes): SQLite's own cadence, which checkpoints when the log
 * reaches 1,000 pages. A commit that keeps its lease writes one page; a created run about
 * seven, with its index entries; a long frame one more for every 4 KiB.
 */
export const pagesPerCheckpoint = 1000;

/**
 * The log size, in pages, at which the connection still checkpoints by itself while the
 * thread runs. The thread cannot restart the log while commits keep arriving (SQLite
 * reuses the log from its start only once every page in it is checkpointed and a writer
 * begins), so under writing without a pause the log grows until this size, and the
 * connection's own checkpoint then finds all but the last pages written already.
 */
export const connectionCheckpointPages = 4000;

/** Indexes into the shared flags: pokes sent, stop asked, checkpoints the thread ran. */
const POKES = 0;
const STOP = 1;
const DONE = 2;

/**
 * The thread's code, CommonJS evaluated in the worker: it opens its own connection to the
 * file and, each time it is poked, checkpoints the log (`PASSIVE`: it never waits for a
 * lock and never blocks a writer). A checkpoint that fails (another connection's in
 * progress, an I/O error) is left to the next poke or to the connection's own.
 */
const threadSource = `
const { workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
try {
  db.pragma("busy_timeout = 0");
  db.pragma("synchronous = " + workerData.synchronous);
  const flags = new Int32Array(workerData.flags);
  // From 0, not the count at start: a poke sent before the thread ran is not lost.
  let seen = 0;
  while (Atomics.load(flags, ${STOP}) === 0) {
    Atomics.wait(flags, ${POKES}, seen);
    seen = Atomics.load(flags, ${POKES});
    if (Atomics.load(flags, ${STOP}) !== 0) break;
    try {
      db.pragma("wal_checkpoint(PASSIVE)");
    } catch {}
    Atomics.add(flags, ${DONE}, 1);
  }
} finally {
  db.close();
}
`;

/**
 * Checkpoints a WAL-mode SQLite file from a worker thread, so the connection that commits
 * does not stop for a checkpoint's two syncs (about 7 ms here) once every thousand pages of log.
 * Started by {@link WalCheckpointer.start}; the connection raises its own automatic
 * checkpoint to {@link connectionCheckpointPages} (see there) meanwhile, and puts it back to
 * SQLite's default if the thread fails.
 */
export class WalCheckpointer {
  readonly #flags: Int32Array;
  readonly #worker: Worker;
  readonly #exited: Promise<void>;

  private constructor(flags: Int32Array, worker: Worker) {
    this.#flags = flags;
    this.#worker = worker;
    this.#exited = new Promise((resolve) => worker.once("exit", () => resolve()));
  }

  /**
   * Start the thread for the file at `path`, or return `undefined` when it cannot start
   * (better-sqlite3 not resolvable from here, as in some bundles, or no threads): the connection then
   * checkpoints by itself, as SQLite does by default. `onFailed` runs if the thread cannot
   * open the file, or stops on an error.
   */
  static start(
    path: string,
    synchronous: "full" | "normal",
    onFailed: () => void,
  ): WalCheckpointer | undefined {
    let driver: string;
    try {
      driver = createRequire(import.meta.url).resolve("better-sqlite3");
    } catch {
      return undefined;
    }
    const flags = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
    let worker: Worker;
    try {
      worker = new Worker(threadSource, {
        eval: true,
        workerData: { driver, path, synchronous: synchronous.toUpperCase(), flags: flags.buffer },
        // Not the process's flags: an --import hook or a loader has no use in this thread
        // and would only slow its start.
        execArgv: [],
      });
    } catch {
      // Threads not allowed here (a permission model, a runtime without them).
      return undefined;
    }
    // Never what keeps a process alive: a process may exit without closing the adapter
    // (better-sqlite3 then closes the connections as the process ends, and a log left by a
    // crash is recovered at the next open).
    worker.unref();
    worker.once("error", onFailed);
    return new WalCheckpointer(flags, worker);
  }

  /** How many checkpoints the thread has run (or tried: a failed one counts). */
  get checkpoints(): number {
    return Atomics.load(this.#flags, DONE);
  }

  /** Ask the thread to checkpoint the log now; returns at once. */
  poke(): void {
    Atomics.add(this.#flags, POKES, 1);
    Atomics.notify(this.#flags, POKES);
  }

  /** Stop the thread, after the checkpoint in progress if any, and close its connection. */
  async stop(): Promise<void> {
    // Held by the wait for its exit, or the process could end in the middle of it.
    this.#worker.ref();
    Atomics.store(this.#flags, STOP, 1);
    this.poke();
    await this.#exited;
  }
}
