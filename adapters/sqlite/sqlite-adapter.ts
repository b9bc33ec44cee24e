import type BetterSqlite3 from "better-sqlite3";
import {
  type ClaimOptions,
  type Commit,
  type CommitOutcome,
  type Delivery,
  mayKeepLease,
  type NewRun,
  type PendingEvent,
  type PurgeFilter,
  type RunQuery,
  type RunStatus,
  type StorageAdapter,
  StorageError,
  type StoredRun,
  type StoredSession,
  type StoredStep,
  terminalStatuses,
} from "../contract.js";
import {
  resolveSqliteConfig,
  type SqliteAdapterConfig,
  type SqliteAdapterOptions,
} from "./sqlite-config.js";
import { migrateSqlite } from "./sqlite-migrations.js";
import {
  connectionCheckpointPages,
  pagesPerCheckpoint,
  WalCheckpointer,
} from "./wal-checkpointer.js";

/** A row of `<prefix>runs`, as better-sqlite3 returns it. */
interface RunRow {
  id: string;
  workflow: string;
  version: string;
  status: RunStatus;
  seq: number;
  args: string;
  frame: string | null;
  result: string | null;
  error: string | null;
  idempotency_key: string | null;
  session_id: string | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  created_at: number;
  updated_at: number;
  wake_at: number | null;
  wait: string | null;
  wait_event: string | null;
  inbox: string | null;
}

const runColumns =
  "id, workflow, version, status, seq, args, frame, result, error, idempotency_key, " +
  "session_id, lease_owner, lease_expires_at, created_at, updated_at, wake_at, wait, " +
  "wait_event, inbox";

type Statement<Params extends unknown[], Row = unknown> = BetterSqlite3.Statement<Params, Row>;

interface InsertParams {
  id: string;
  workflow: string;
  version: string;
  status: RunStatus;
  args: string;
  idempotencyKey: string | null;
  sessionId: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  now: number;
}

/**
 * The checkpoint that keeps its status and lease: `(frame, now, runId, expectedSeq, owner,
 * leaseFrom, leaseUntil)`, the lease kept if it ends between the last two. Positional: a
 * named parameter costs better-sqlite3 a property lookup, a measurable share of this one.
 */
type KeptCommitParams = [
  frame: string,
  now: number,
  runId: string,
  expectedSeq: number,
  owner: string,
  leaseFrom: number,
  leaseUntil: number,
];

interface CommitParams {
  runId: string;
  expectedSeq: number;
  owner: string;
  status: RunStatus;
  frame: string | null;
  result: string | null;
  error: string | null;
  leaseExpiresAt: number | null;
  now: number;
}

/**
 * Parameters of the commit that also writes the wake time, the wait or the inbox; a
 * `set…`/`clear…` flag of 0 keeps that column as stored.
 */
interface WaitCommitParams extends CommitParams {
  setWakeAt: number;
  wakeAt: number | null;
  setWait: number;
  wait: string | null;
  waitEvent: string | null;
  clearInbox: number;
}

/** Parameters of the claim's SELECT; a `by…` flag of 0 turns its filter off. */
interface ClaimParams {
  now: number;
  limit: number;
  byWorkflow: number;
  workflows: string;
  byVersion: number;
  versions: string;
  /** Read only by the statement that also claims due sleepers and timed-out waiters. */
  wakeBefore: number;
}

/** Parameters of the `listRuns` statements; each variant reads the ones it filters by. */
interface ListParams {
  statuses: string;
  workflow: string;
  waitEvent: string;
  limit: number;
}

interface DeliverParams {
  runId: string;
  wait: string;
  payload: string;
  now: number;
}

interface CancelParams {
  runId: string;
  error: string;
  now: number;
}

interface SessionParams {
  id: string;
  expectedVersion: number;
  state: string;
  now: number;
}

/** What a commit with a session write comes to: whether it applied, or why nothing was written. */
type SessionCommitResult = boolean | "session-conflict";

/** A commit waiting for its group commit. */
interface QueuedCommit {
  readonly commit: Commit;
  readonly resolve: (outcome: CommitOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/** Everything `init()` prepares: the connection, its statements and transactions. */
interface Prepared {
  readonly db: BetterSqlite3.Database;
  readonly createRun: (run: NewRun, now: number) => { run: StoredRun; created: boolean };
  readonly loadRun: Statement<[string], RunRow>;
  /**
   * The hot path: a checkpoint that keeps the run's status and a lease that still has
   * between half a lease and a lease to run. It writes no indexed column, so it changes
   * the row's table page alone; when it does not apply, {@link Prepared.commit} is run.
   */
  readonly commitKept: Statement<KeptCommitParams>;
  /** The plain checkpoint commit. */
  readonly commit: Statement<[CommitParams]>;
  /** A commit that also sets or clears `wake_at`, the wait or the inbox. */
  readonly commitWait: Statement<[WaitCommitParams]>;
  readonly commitState: Statement<[string], { lease_owner: string | null }>;
  /**
   * Run `applyRun` (one of the commit statements) and write the session in one IMMEDIATE
   * transaction: `false` when the run's compare-and-set failed, `"session-conflict"`
   * (everything rolled back) when the session's did.
   */
  readonly commitSession: (applyRun: () => boolean, session: SessionParams) => SessionCommitResult;
  readonly loadSession: Statement<[string], { state: string; version: number }>;
  readonly claim: (options: ClaimOptions, now: number) => StoredRun[];
  readonly renew: (owner: string, runIds: readonly string[], expiresAt: number) => string[];
  readonly release: Statement<[string, string]>;
  /** Indexed by {@link listVariant}. */
  readonly list: readonly Statement<[ListParams], RunRow>[];
  readonly deliver: Statement<[DeliverParams]>;
  /** Mark the kept event delivered and deliver it, in one transaction; whether both applied. */
  readonly deliverEvent: (params: DeliverParams & { eventId: string }) => boolean;
  readonly storeEvent: Statement<[EventRow]>;
  /** Undelivered events, oldest first: `[0]` of every run, `[1]` of the run `?`. */
  readonly pendingEvents: readonly [Statement<[], EventRow>, Statement<[string], EventRow>];
  readonly cancel: Statement<[CancelParams]>;
  readonly purge: (options: PurgeFilter) => number;
  readonly retry: Statement<[{ runId: string; now: number }]>;
  readonly claimParked: Statement<[ClaimParkedParams], RunRow>;
  readonly recordSteps: (steps: readonly StoredStep[]) => void;
  readonly listSteps: Statement<[string], StepRow>;
}

/** The parameters of `claimParked`. */
interface ClaimParkedParams {
  runId: string;
  expectedSeq: number;
  owner: string;
  leaseExpiresAt: number;
}

/** A row of `<prefix>events` (without `delivered`). */
interface EventRow {
  id: string;
  run_id: string;
  name: string;
  key: string | null;
  payload: string;
  created_at: number;
}

/** A row of `<prefix>steps`. */
interface StepRow {
  run_id: string;
  checkpoint: string;
  name: string;
  attempt: number;
  started_at: number;
  ended_at: number;
  error: string | null;
}

/**
 * A {@link StorageAdapter} on a SQLite database through better-sqlite3: durable, for one
 * machine, shared safely by any number of processes that open the same file.
 *
 * better-sqlite3 is synchronous, so every method finishes its transaction before it
 * yields: no transaction spans an `await`, and calls in one process never interleave.
 * Between processes, SQLite's write lock orders commits and claims.
 */
export class SqliteAdapter implements StorageAdapter {
  /** @inheritDoc */
  readonly name = "sqlite";
  /** The checked options this adapter was created with. */
  readonly config: SqliteAdapterConfig;
  #opening: Promise<Prepared> | undefined;
  #prepared: Prepared | undefined;
  #closed = false;
  /** The first close(), which every later one waits for (it stops a thread, then closes). */
  #closing: Promise<void> | undefined;
  /**
   * Commits waiting for the group commit at the next turn; `undefined` while idle (no
   * commit in this turn or the last), when a commit is written at once.
   */
  #window: QueuedCommit[] | undefined;
  /** The run of the last commit written alone (not in a shared transaction). */
  #lastAlone: string | undefined;
  /** Several commits in one IMMEDIATE transaction, each in order, each its own outcome. */
  #commitMany: ((commits: readonly Commit[]) => CommitOutcome[]) | undefined;
  /**
   * The file (its absolute path) whose log a thread checkpoints once this adapter has
   * written {@link pagesPerCheckpoint} pages; `undefined` when SQLite checkpoints it alone.
   */
  #checkpointFile: string | undefined;
  /** The thread that checkpoints the log of a file this adapter opened, while it runs. */
  #checkpointer: WalCheckpointer | undefined;
  /** Pages written to the log since the checkpointer was last poked, as {@link #wrote} counts them. */
  #pagesSincePoke = 0;

  /** @param options - see {@link SqliteAdapterOptions}; checked and frozen here. */
  constructor(options: SqliteAdapterOptions) {
    this.config = resolveSqliteConfig(options);
  }

  /** Open the database (loading better-sqlite3 if needed), configure it, migrate, prepare. */
  async init(): Promise<void> {
    if (this.#closed) throw notReady("init() after close()");
    this.#opening ??= this.#open();
    await this.#opening;
  }

  /** @inheritDoc */
  async createRun(run: NewRun): Promise<{ run: StoredRun; created: boolean }> {
    const prepared = this.#ready("createRun");
    if (run.leaseOwner !== undefined && run.leaseMs === undefined) {
      throw new StorageError(
        "invalid-argument",
        `createRun("${run.id}") was given leaseOwner without leaseMs; pass both or neither.`,
      );
    }
    this.#wrote(7, run.args.length);
    return prepared.createRun(run, Date.now());
  }

  /** @inheritDoc */
  async loadRun(runId: string): Promise<StoredRun | null> {
    const row = this.#ready("loadRun").loadRun.get(runId);
    return row === undefined ? null : toStoredRun(row);
  }

  /**
   * @inheritDoc
   *
   * With group commit (the default), a commit that finds the adapter idle is written at
   * once; commits that arrive in the same turn of the event loop after it are written
   * together at the next turn, in one transaction, and resolve once it has committed.
   */
  async commit(commit: Commit): Promise<CommitOutcome> {
    const prepared = this.#ready("commit");
    if (this.#checkpointFile !== undefined) {
      const { frame, result, error, session } = commit;
      const text =
        (frame?.length ?? 0) +
        (result?.length ?? 0) +
        (error?.length ?? 0) +
        (session?.state?.length ?? 0);
      this.#wrote(mayKeepLease(commit) ? 1 : 3, text);
    }
    if (this.config.groupCommit === false) return applyCommit(prepared, commit);
    if (this.#window === undefined) {
      this.#window = [];
      setImmediate(this.#flush);
      this.#lastAlone = commit.runId;
      return applyCommit(prepared, commit);
    }
    // The run whose commit was just written alone commits again before anyone else queued:
    // a lone run going from step to step, which must not wait a turn per checkpoint.
    if (this.#window.length === 0 && this.#lastAlone === commit.runId) {
      return applyCommit(prepared, commit);
    }
    const window = this.#window;
    return new Promise<CommitOutcome>((resolve, reject) => {
      window.push({ commit, resolve, reject });
    });
  }

  /**
   * Write the commits gathered since the last turn, `maxBatch` to a transaction, and keep
   * the window open one more turn if there were any (the runs they release will commit
   * again in this turn).
   */
  readonly #flush = (): void => {
    const batch = this.#window ?? [];
    if (batch.length === 0) {
      this.#window = undefined;
      return;
    }
    this.#window = [];
    setImmediate(this.#flush);
    const prepared = this.#prepared;
    if (prepared === undefined) {
      for (const queued of batch) queued.reject(notReady("commit() after close()"));
      return;
    }
    const { maxBatch } = this.config.groupCommit as { readonly maxBatch: number };
    for (let start = 0; start < batch.length; start += maxBatch) {
      const chunk = batch.slice(start, start + maxBatch);
      if (chunk.length === 1) {
        // Alone, it needs no BEGIN and COMMIT around its one statement.
        this.#lastAlone = chunk[0].commit.runId;
        this.#settleAlone(prepared, chunk[0]);
        continue;
      }
      this.#lastAlone = undefined;
      let outcomes: CommitOutcome[];
      try {
        outcomes = this.#commitMany!(chunk.map((queued) => queued.commit));
      } catch {
        // The transaction was rolled back (a storage error on one of them, or the write
        // lock not had in busyTimeoutMs): commit each alone, so each gets its own outcome
        // or error.
        for (const queued of chunk) this.#settleAlone(prepared, queued);
        continue;
      }
      for (const [i, queued] of chunk.entries()) queued.resolve(outcomes[i]);
    }
  };

  #settleAlone(prepared: Prepared, queued: QueuedCommit): void {
    try {
      queued.resolve(applyCommit(prepared, queued.commit));
    } catch (error) {
      queued.reject(error);
    }
  }

  /** @inheritDoc */
  async claimRunnable(options: ClaimOptions): Promise<StoredRun[]> {
    const prepared = this.#ready("claimRunnable");
    if (options.limit <= 0 || options.workflows?.length === 0 || options.versions?.length === 0) {
      return [];
    }
    const claimed = prepared.claim(options, Date.now());
    this.#wrote(6 * claimed.length);
    return claimed;
  }

  /** @inheritDoc */
  async renewLeases(owner: string, runIds: readonly string[], leaseMs: number): Promise<string[]> {
    const prepared = this.#ready("renewLeases");
    if (runIds.length === 0) return [];
    const renewed = prepared.renew(owner, runIds, Date.now() + leaseMs);
    this.#wrote(2 * renewed.length);
    return renewed;
  }

  /** @inheritDoc */
  async releaseLease(runId: string, owner: string): Promise<void> {
    this.#ready("releaseLease").release.run(runId, owner);
    this.#wrote(3);
  }

  /** @inheritDoc */
  async listRuns(query: RunQuery = {}): Promise<StoredRun[]> {
    const prepared = this.#ready("listRuns");
    const statuses = query.status === undefined ? undefined : [query.status].flat();
    if (statuses?.length === 0 || (query.limit !== undefined && query.limit <= 0)) return [];
    const statement =
      prepared.list[
        listVariant(
          statuses !== undefined,
          query.workflow !== undefined,
          query.waitEvent !== undefined,
        )
      ];
    const rows = statement.all({
      statuses: JSON.stringify(statuses ?? []),
      workflow: query.workflow ?? "",
      waitEvent: query.waitEvent ?? "",
      limit: query.limit ?? -1,
    });
    return rows.map(toStoredRun);
  }

  /** @inheritDoc */
  async deliver(delivery: Delivery): Promise<boolean> {
    const prepared = this.#ready("deliver");
    // One UPDATE whose WHERE clause is the check: of two racing deliveries, the second
    // finds the wait already cleared and changes nothing.
    const params = {
      runId: delivery.runId,
      wait: delivery.wait,
      payload: delivery.payload,
      now: Date.now(),
    };
    this.#wrote(delivery.eventId === undefined ? 3 : 5, delivery.payload.length);
    if (delivery.eventId !== undefined) {
      return prepared.deliverEvent({ ...params, eventId: delivery.eventId });
    }
    return prepared.deliver.run(params).changes === 1;
  }

  /** @inheritDoc */
  async storeEvent(event: Omit<PendingEvent, "createdAt">): Promise<boolean> {
    const prepared = this.#ready("storeEvent");
    this.#wrote(4, event.payload.length);
    const { changes } = prepared.storeEvent.run({
      id: event.id,
      run_id: event.runId,
      name: event.name,
      key: event.key,
      payload: event.payload,
      created_at: Date.now(),
    });
    return changes === 1;
  }

  /** @inheritDoc */
  async pendingEvents(runId?: string): Promise<PendingEvent[]> {
    const [all, ofRun] = this.#ready("pendingEvents").pendingEvents;
    const rows = runId === undefined ? all.all() : ofRun.all(runId);
    return rows.map((row) => ({
      id: row.id,
      runId: row.run_id,
      name: row.name,
      key: row.key,
      payload: row.payload,
      createdAt: row.created_at,
    }));
  }

  /** @inheritDoc */
  async cancel(runId: string, error: string): Promise<boolean> {
    const prepared = this.#ready("cancel");
    this.#wrote(4);
    return prepared.cancel.run({ runId, error, now: Date.now() }).changes === 1;
  }

  /** @inheritDoc */
  async loadSession(sessionId: string): Promise<StoredSession> {
    const row = this.#ready("loadSession").loadSession.get(sessionId);
    return row === undefined
      ? { state: null, version: 0 }
      : { state: row.state, version: row.version };
  }

  /** @inheritDoc */
  async purge(options: PurgeFilter): Promise<number> {
    const prepared = this.#ready("purge");
    if (options.statuses.length === 0 || options.limit <= 0) return 0;
    const purged = prepared.purge(options);
    this.#wrote(6 * purged);
    return purged;
  }

  /** @inheritDoc */
  async retry(runId: string): Promise<boolean> {
    const retried = this.#ready("retry").retry.run({ runId, now: Date.now() }).changes === 1;
    this.#wrote(4);
    return retried;
  }

  /** @inheritDoc */
  async claimParked(options: {
    readonly runId: string;
    readonly expectedSeq: number;
    readonly owner: string;
    readonly leaseMs: number;
  }): Promise<StoredRun | null> {
    const row = this.#ready("claimParked").claimParked.get({
      runId: options.runId,
      expectedSeq: options.expectedSeq,
      owner: options.owner,
      leaseExpiresAt: Date.now() + options.leaseMs,
    });
    if (row === undefined) return null;
    this.#wrote(6);
    return toStoredRun(row);
  }

  /** @inheritDoc */
  async recordSteps(steps: readonly StoredStep[]): Promise<void> {
    const prepared = this.#ready("recordSteps");
    if (steps.length === 0) return;
    prepared.recordSteps(steps);
    this.#wrote(2 * steps.length);
  }

  /** @inheritDoc */
  async listSteps(runId: string): Promise<StoredStep[]> {
    return this.#ready("listSteps")
      .listSteps.all(runId)
      .map((row) => ({
        runId: row.run_id,
        checkpoint: row.checkpoint,
        name: row.name,
        attempt: row.attempt,
        startedAt: row.started_at,
        endedAt: row.ended_at,
        error: row.error,
      }));
  }

  /**
   * Close the database if this adapter opened it; a connection you passed stays open. Every
   * call resolves once it is closed, a second one too.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const prepared = await this.#opening?.catch(() => undefined);
    // Commits gathered for the next turn are written before the connection goes.
    if (this.#window !== undefined && this.#window.length > 0) this.#flush();
    this.#prepared = undefined;
    // The thread's connection first, so this one is the file's last and, as SQLite does at
    // the last close, checkpoints the whole log and removes it.
    this.#checkpointFile = undefined;
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    await checkpointer?.stop();
    if (prepared !== undefined && this.config.source.kind === "path") prepared.db.close();
  }

  /**
   * Count the pages a write added to the log, about: `pages` for its rows and their index
   * entries (measured for each statement: one for a commit that keeps its lease, seven for
   * a created run), and one for every 4 KiB of `text` it stored. Poke the checkpointer every
   * {@link pagesPerCheckpoint}. Counting calls instead, the thread was never poked by
   * writes other than commits, nor in time by commits of long frames, and the connection
   * then checkpointed the whole 4,000 pages itself.
   */
  #wrote(pages: number, text = 0): void {
    if (this.#checkpointFile === undefined) return;
    this.#pagesSincePoke += pages + Math.floor(text / 4096);
    if (this.#pagesSincePoke < pagesPerCheckpoint) return;
    this.#pagesSincePoke = 0;
    (this.#checkpointer ?? this.#startCheckpointer(this.#checkpointFile))?.poke();
  }

  #ready(method: string): Prepared {
    if (this.#prepared !== undefined) return this.#prepared;
    throw notReady(this.#closed ? `${method}() after close()` : `${method}() before init()`);
  }

  /**
   * Leave the log of the file `db` opened to a thread (see {@link WalCheckpointer}), started
   * at the first {@link pagesPerCheckpoint} pages written: an adapter that writes less (a
   * script, a test, a command) never starts one, nor waits for it in close(). This connection
   * checkpoints by itself only past {@link connectionCheckpointPages} meanwhile, and again at
   * SQLite's default if the thread cannot start or fails.
   */
  #planCheckpointer(db: BetterSqlite3.Database): void {
    // The file as SQLite opened it, an absolute path: the thread opens it later, when a
    // relative path may name another file (process.chdir() after init()).
    const [main] = db.pragma("database_list") as { file: string }[];
    if (!main?.file) return;
    db.pragma(`wal_autocheckpoint = ${connectionCheckpointPages}`);
    this.#checkpointFile = main.file;
  }

  #startCheckpointer(file: string): WalCheckpointer | undefined {
    const { db } = this.#prepared!;
    const checkpointer = WalCheckpointer.start(file, this.config.synchronous ?? "full", () => {
      if (this.#checkpointer === checkpointer) this.#checkpointAlone(db);
    });
    if (checkpointer === undefined) this.#checkpointAlone(db);
    this.#checkpointer = checkpointer;
    return checkpointer;
  }

  /** SQLite's own checkpoints again, for good: the thread could not start, or failed. */
  #checkpointAlone(db: BetterSqlite3.Database): void {
    this.#checkpointFile = undefined;
    this.#checkpointer = undefined;
    if (db.open) db.pragma("wal_autocheckpoint = 1000");
  }

  async #open(): Promise<Prepared> {
    const { source, synchronous, busyTimeoutMs, tablePrefix } = this.config;
    const Driver = source.kind === "path" ? await loadDriver() : undefined;
    let db: BetterSqlite3.Database;
    /** A file this adapter opened in WAL mode (not `:memory:`, whose journal stays in memory). */
    let walFile = false;
    try {
      db =
        source.kind === "path"
          ? new Driver!(source.path)
          : // The option is typed structurally (SqliteDatabase); it is a better-sqlite3 Database.
            (source.database as BetterSqlite3.Database);
    } catch (error) {
      throw unusableFile(source, error);
    }
    try {
      // Set first: every later statement, even switching to WAL, may wait for another
      // process that holds the write lock for one short transaction.
      if (busyTimeoutMs !== undefined) db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      if (source.kind === "path") {
        // WAL: readers in other processes never block a commit, and a commit appends to
        // the log instead of rewriting pages behind a rollback journal.
        walFile = db.pragma("journal_mode = WAL", { simple: true }) === "wal";
        db.pragma("foreign_keys = ON");
      }
      // In WAL mode, FULL syncs the log at every commit, so "committed" survives power
      // loss; NORMAL only guarantees that a crash of the process loses nothing.
      if (synchronous !== undefined) db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
      migrateSqlite(db, tablePrefix);
      const prepared = prepare(db, tablePrefix);
      if (this.#closed) {
        if (source.kind === "path") db.close();
        throw notReady("init() raced with close()");
      }
      const commitMany = db.transaction((commits: readonly Commit[]) =>
        commits.map((commit) => applyCommit(prepared, commit)),
      );
      this.#commitMany = (commits) => commitMany.immediate(commits);
      this.#prepared = prepared;
      if (walFile && this.config.walCheckpointThread) this.#planCheckpointer(db);
      return prepared;
    } catch (error) {
      if (source.kind === "path" && db.open) db.close();
      throw error instanceof StorageError ? error : unusableFile(source, error);
    }
  }
}

/**
 * A driver error while opening or migrating the store (not a SQLite file, a corrupt one, a
 * directory that does not exist, no permission), with the file's path and what to do.
 */
function unusableFile(source: SqliteAdapterConfig["source"], error: unknown): StorageError {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const what =
    source.kind === "path"
      ? `the SQLite file ${JSON.stringify(source.path)}`
      : "the SQLite database you passed";
  const reason = `${String(message)}${typeof code === "string" ? ` (${code})` : ""}`;
  return new StorageError(
    "unusable-store",
    `The sqlite adapter cannot use ${what}: ${reason}. ` +
      "Point it at a SQLite database file or at a path where a new one can be created (its directory must exist and be writable); " +
      "a file damaged beyond SQLite's recovery must be restored from a backup or moved away.",
    { cause: error },
  );
}

/**
 * Commit one checkpoint with compare-and-set, in its own transaction (or a savepoint of the
 * caller's), and say why when it did not apply.
 */
function applyCommit(prepared: Prepared, commit: Commit): CommitOutcome {
  const now = Date.now();
  const seq = commit.expectedSeq + 1;
  if (mayKeepLease(commit)) {
    // One statement that rewrites no index entry, so it writes one page instead of one per
    // index over status and the lease; when it does not apply, the full statement below
    // decides (see mayKeepLease).
    const kept = prepared.commitKept.run(
      commit.frame,
      now,
      commit.runId,
      commit.expectedSeq,
      commit.owner,
      now + commit.leaseMs / 2,
      now + commit.leaseMs,
    );
    if (kept.changes === 1) return { ok: true, seq };
  }
  const keepLease = commit.leaseMs !== undefined && !terminalStatuses.has(commit.status);
  const params: CommitParams = {
    runId: commit.runId,
    expectedSeq: commit.expectedSeq,
    owner: commit.owner,
    status: commit.status,
    frame: commit.frame ?? null,
    result: commit.result ?? null,
    error: commit.error ?? null,
    leaseExpiresAt: keepLease ? now + commit.leaseMs! : null,
    now,
  };
  // Without a session write, the whole commit is one statement, hence one transaction;
  // the WHERE clause is the compare-and-set. A plain checkpoint takes the statement that
  // leaves the wait columns alone; one that sleeps, waits or consumes its inbox takes the
  // one that writes them. The statements are run to their end (no RETURNING: the new seq is
  // expectedSeq + 1), so SQLite checkpoints its log at the commit that fills it, as it does
  // after any other write; a statement reset after its first row never does, and the log
  // then grew until the next claim paid for the whole of it.
  const applyRun = () =>
    (commit.wakeAt === undefined && commit.wait === undefined && commit.inbox === undefined
      ? prepared.commit.run(params)
      : prepared.commitWait.run({
          ...params,
          setWakeAt: commit.wakeAt === undefined ? 0 : 1,
          wakeAt: commit.wakeAt ?? null,
          setWait: commit.wait === undefined ? 0 : 1,
          wait: commit.wait?.spec ?? null,
          waitEvent: commit.wait?.event ?? null,
          clearInbox: commit.inbox === undefined ? 0 : 1,
        })
    ).changes === 1;
  const { session } = commit;
  const applied =
    session === undefined
      ? applyRun()
      : prepared.commitSession(applyRun, {
          id: session.id,
          expectedVersion: session.expectedVersion,
          state: session.state,
          now,
        });
  if (applied === "session-conflict") return { ok: false, reason: applied };
  if (applied) return { ok: true, seq };
  const state = prepared.commitState.get(commit.runId);
  if (state === undefined) return { ok: false, reason: "not-found" };
  if (state.lease_owner !== commit.owner) return { ok: false, reason: "lease-lost" };
  return { ok: false, reason: "conflict" };
}

/** Load better-sqlite3 only when a file is opened, so importing this module needs no addon. */
async function loadDriver(): Promise<typeof BetterSqlite3> {
  try {
    return (await import("better-sqlite3")).default;
  } catch (cause) {
    throw new StorageError(
      "driver-missing",
      "The sqlite adapter needs the better-sqlite3 package, which could not be loaded. " +
        "Install it with `npm install better-sqlite3`.",
      { cause },
    );
  }
}

/** Prepare every statement once; they are reused for the adapter's lifetime. */
function prepare(db: BetterSqlite3.Database, p: string): Prepared {
  const runs = `${p}runs`;
  const sessions = `${p}sessions`;

  const insert = db.prepare<[InsertParams], RunRow>(
    `INSERT INTO ${runs} (id, workflow, version, status, seq, args, idempotency_key,
       session_id, lease_owner, lease_expires_at, created_at, updated_at)
     VALUES (@id, @workflow, @version, @status, 0, @args, @idempotencyKey,
       @sessionId, @leaseOwner, @leaseExpiresAt, @now, @now)
     ON CONFLICT DO NOTHING
     RETURNING ${runColumns}`,
  );
  const byIdempotencyKey = db.prepare<[string], RunRow>(
    `SELECT ${runColumns} FROM ${runs} WHERE idempotency_key = ?`,
  );
  const createRun = db.transaction((run: NewRun, now: number) => {
    const idempotencyKey = run.idempotencyKey ?? null;
    const leaseOwner = run.leaseOwner ?? null;
    const inserted = insert.get({
      id: run.id,
      workflow: run.workflow,
      version: run.version,
      status: leaseOwner === null ? "pending" : "running",
      args: run.args,
      idempotencyKey,
      sessionId: run.sessionId ?? null,
      leaseOwner,
      leaseExpiresAt: leaseOwner === null ? null : now + run.leaseMs!,
      now,
    });
    if (inserted !== undefined) return { run: toStoredRun(inserted), created: true };
    const existing = idempotencyKey === null ? undefined : byIdempotencyKey.get(idempotencyKey);
    if (existing !== undefined) return { run: toStoredRun(existing), created: false };
    throw new StorageError(
      "run-exists",
      `A run with id "${run.id}" already exists; choose another id, or pass the same idempotencyKey to get the existing run back.`,
    );
  });

  // Each kind of claimable run through its own index, then the oldest `limit` of them all:
  // runs nobody leases (runs_free, in creation order, at most `limit` read), expired leases
  // (runs_claim: each status, then lease_expires_at up to now) and, with wakeBefore, due
  // sleepers and timed-out waiters (runs_wake: each status, then wake_at up to wakeBefore).
  // Runs leased by live workers and parked runs are in none of these ranges. The workflow
  // and version filters are checked row by row: a run of a version no worker has stays
  // unleased, so every claim passes over it: cheap while such runs are few.
  // The statement needs one temporary b-tree, for the final ORDER BY … LIMIT: the arms are
  // one compound run as a co-routine (LIMIT -1 keeps SQLite from merging the ORDER BY into
  // each arm), each status is its own arm (an IN list over an index, or an IN subquery,
  // takes a b-tree of its own) and the filters are EXISTS. Every such b-tree allocates a
  // page cache of its own (~90 KB): two or more at once made the allocator return the
  // memory to the system and fault it in again at every claim, which cost 0.4–12 ms on a
  // loaded machine, with no rows to claim.
  const claimFilters = `(@byWorkflow = 0 OR EXISTS (SELECT 1 FROM json_each(@workflows) WHERE value = workflow))
       AND (@byVersion = 0 OR EXISTS (SELECT 1 FROM json_each(@versions) WHERE value = version))`;
  const arm = (where: string, index = "") =>
    `SELECT rowid AS r, ${runColumns} FROM ${runs} ${index} WHERE ${where} AND ${claimFilters}`;
  // Named: with statistics, the planner would rather walk runs_status_created in creation
  // order and pass over every leased run. Its order is the index's, so LIMIT stops the read.
  const free = `SELECT * FROM (${arm(
    "status IN ('pending', 'running') AND lease_owner IS NULL",
    `INDEXED BY ${p}runs_free`,
  )} ORDER BY created_at, rowid LIMIT @limit)`;
  const expired = (status: RunStatus) =>
    arm(`status = '${status}' AND lease_owner IS NOT NULL AND lease_expires_at <= @now`);
  const due = (status: RunStatus) =>
    arm(`status = '${status}' AND wake_at <= @wakeBefore
       AND (lease_expires_at IS NULL OR lease_expires_at <= @now)`);
  const oldest = (arms: string[]) =>
    `SELECT * FROM (${arms.join(" UNION ALL ")} LIMIT -1) ORDER BY created_at, r LIMIT @limit`;
  const claimCandidates = db.prepare<[ClaimParams], RunRow>(
    oldest([free, expired("pending"), expired("running")]),
  );
  const claimWakeCandidates = db.prepare<[ClaimParams], RunRow>(
    oldest([free, expired("pending"), expired("running"), due("sleeping"), due("waiting")]),
  );
  const takeLease = db.prepare<[string, number, string]>(
    `UPDATE ${runs} SET status = 'running', lease_owner = ?, lease_expires_at = ? WHERE id = ?`,
  );
  const claim = db.transaction((options: ClaimOptions, now: number) => {
    const candidates = options.wakeBefore === undefined ? claimCandidates : claimWakeCandidates;
    const rows = candidates.all({
      now,
      limit: options.limit,
      byWorkflow: options.workflows === undefined ? 0 : 1,
      workflows: JSON.stringify(options.workflows ?? []),
      byVersion: options.versions === undefined ? 0 : 1,
      versions: JSON.stringify(options.versions ?? []),
      wakeBefore: options.wakeBefore ?? 0,
    });
    const leaseExpiresAt = now + options.leaseMs;
    return rows.map((row) => {
      takeLease.run(options.owner, leaseExpiresAt, row.id);
      return toStoredRun({
        ...row,
        status: "running",
        lease_owner: options.owner,
        lease_expires_at: leaseExpiresAt,
      });
    });
  });

  const extendLease = db.prepare<[number, string, string]>(
    `UPDATE ${runs} SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?`,
  );
  const renew = db.transaction((owner: string, runIds: readonly string[], expiresAt: number) =>
    [...new Set(runIds)].filter((id) => extendLease.run(expiresAt, id, owner).changes === 1),
  );

  // A session write is compare-and-set on its version. Version 0 means "not stored yet":
  // the insert then applies only if no one stored it first (of two racing inserts, the
  // second finds the row); otherwise the update applies only at the expected version.
  const insertSession = db.prepare<[SessionParams]>(
    `INSERT INTO ${sessions} (id, state, version, updated_at) VALUES (@id, @state, 1, @now)
     ON CONFLICT (id) DO NOTHING`,
  );
  const updateSession = db.prepare<[SessionParams]>(
    `UPDATE ${sessions} SET state = @state, version = version + 1, updated_at = @now
     WHERE id = @id AND version = @expectedVersion`,
  );
  /** Thrown to roll back the run's update when the session's compare-and-set fails. */
  const sessionConflict = new Error("session-conflict");
  const commitSession = db.transaction(
    (applyRun: () => boolean, session: SessionParams): boolean => {
      if (!applyRun()) return false;
      const write = session.expectedVersion === 0 ? insertSession : updateSession;
      if (write.run(session).changes !== 1) throw sessionConflict;
      return true;
    },
  );

  const list = Array.from({ length: 8 }, (_, variant) => {
    const conditions = [
      ...(variant & 4 ? ["status IN (SELECT value FROM json_each(@statuses))"] : []),
      ...(variant & 2 ? ["workflow = @workflow"] : []),
      ...(variant & 1 ? ["wait_event = @waitEvent"] : []),
    ];
    const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
    return db.prepare<[ListParams], RunRow>(
      `SELECT ${runColumns} FROM ${runs} ${where}
       ORDER BY created_at DESC, rowid DESC LIMIT @limit`,
    );
  });

  const steps = `${p}steps`;
  const events = `${p}events`;
  const deliver = db.prepare<[DeliverParams]>(
    `UPDATE ${runs} SET
       status = 'pending',
       seq = seq + 1,
       updated_at = @now,
       wake_at = NULL,
       wait = NULL,
       wait_event = NULL,
       inbox = @payload
     WHERE id = @runId AND status = 'waiting' AND wait = @wait`,
  );
  const rollback = new Error("rolled back");
  const consumeEvent = db.prepare<[{ eventId: string; runId: string }]>(
    `UPDATE ${events} SET delivered = 1 WHERE id = @eventId AND run_id = @runId AND delivered = 0`,
  );
  const deliverEvent = db.transaction((params: DeliverParams & { eventId: string }): boolean => {
    if (consumeEvent.run({ eventId: params.eventId, runId: params.runId }).changes !== 1) {
      return false;
    }
    if (deliver.run(params).changes === 1) return true;
    // The run no longer has that wait: the event stays kept, nothing is written.
    throw rollback;
  });
  const pendingColumns = "id, run_id, name, key, payload, created_at";
  const deleteEvents = db.prepare<[string]>(`DELETE FROM ${events} WHERE run_id = ?`);
  // Oldest first through the creation index: a run's last commit is never before its
  // creation, so `created_at < @before` loses nothing and keeps the scan on the old end.
  const purgeCandidates = db.prepare<
    [{ before: number; statuses: string; limit: number }],
    { id: string; session_id: string | null }
  >(
    `SELECT id, session_id FROM ${runs}
     WHERE created_at < @before AND updated_at < @before
       AND status IN ('completed', 'failed', 'cancelled')
       AND status IN (SELECT value FROM json_each(@statuses))
     ORDER BY created_at, rowid
     LIMIT @limit`,
  );
  const deleteRun = db.prepare<[string]>(`DELETE FROM ${runs} WHERE id = ?`);
  const deleteSteps = db.prepare<[string]>(`DELETE FROM ${steps} WHERE run_id = ?`);
  const deleteSession = db.prepare<[string, string]>(
    `DELETE FROM ${sessions} WHERE id = ?
     AND NOT EXISTS (SELECT 1 FROM ${runs} WHERE session_id = ?)`,
  );
  const purge = db.transaction((options: PurgeFilter) => {
    const rows = purgeCandidates.all({
      before: options.before,
      statuses: JSON.stringify(options.statuses),
      limit: options.limit,
    });
    const sessionIds = new Set<string>();
    for (const row of rows) {
      deleteRun.run(row.id);
      deleteSteps.run(row.id);
      deleteEvents.run(row.id);
      if (row.session_id !== null) sessionIds.add(row.session_id);
    }
    for (const id of sessionIds) deleteSession.run(id, id);
    return rows.length;
  });
  const insertStep = db.prepare<[StoredStep]>(
    `INSERT INTO ${steps} (run_id, checkpoint, name, attempt, started_at, ended_at, error)
     VALUES (@runId, @checkpoint, @name, @attempt, @startedAt, @endedAt, @error)`,
  );
  const recordSteps = db.transaction((list: readonly StoredStep[]) => {
    for (const step of list) insertStep.run(step);
  });

  return {
    db,
    purge: (options) => purge.immediate(options),
    retry: db.prepare<[{ runId: string; now: number }]>(
      `UPDATE ${runs} SET status = 'pending', seq = seq + 1, error = NULL,
         lease_owner = NULL, lease_expires_at = NULL, updated_at = @now
       WHERE id = @runId AND status IN ('failed', 'parked')`,
    ),
    claimParked: db.prepare<[ClaimParkedParams], RunRow>(
      `UPDATE ${runs} SET status = 'running', error = NULL,
         lease_owner = @owner, lease_expires_at = @leaseExpiresAt
       WHERE id = @runId AND status = 'parked' AND seq = @expectedSeq
       RETURNING ${runColumns}`,
    ),
    recordSteps: (list) => recordSteps.immediate(list),
    listSteps: db.prepare<[string], StepRow>(
      `SELECT run_id, checkpoint, name, attempt, started_at, ended_at, error
       FROM ${steps} WHERE run_id = ? ORDER BY rowid`,
    ),
    // IMMEDIATE takes the write lock before reading, so another process cannot claim or
    // create between this transaction's SELECT and its writes.
    createRun: (run, now) => createRun.immediate(run, now),
    loadRun: db.prepare<[string], RunRow>(`SELECT ${runColumns} FROM ${runs} WHERE id = ?`),
    commitKept: db.prepare<KeptCommitParams>(
      `UPDATE ${runs} SET seq = seq + 1, frame = ?, updated_at = ?
       WHERE id = ? AND seq = ? AND lease_owner = ? AND status = 'running'
         AND lease_expires_at BETWEEN ? AND ?`,
    ),
    commit: db.prepare<[CommitParams]>(
      `UPDATE ${runs} SET
         status = @status,
         seq = seq + 1,
         frame = COALESCE(@frame, frame),
         result = COALESCE(@result, result),
         error = COALESCE(@error, error),
         lease_owner = CASE WHEN @leaseExpiresAt IS NULL THEN NULL ELSE lease_owner END,
         lease_expires_at = @leaseExpiresAt,
         updated_at = @now
       WHERE id = @runId AND seq = @expectedSeq AND lease_owner = @owner`,
    ),
    commitWait: db.prepare<[WaitCommitParams]>(
      `UPDATE ${runs} SET
         status = @status,
         seq = seq + 1,
         frame = COALESCE(@frame, frame),
         result = COALESCE(@result, result),
         error = COALESCE(@error, error),
         lease_owner = CASE WHEN @leaseExpiresAt IS NULL THEN NULL ELSE lease_owner END,
         lease_expires_at = @leaseExpiresAt,
         updated_at = @now,
         wake_at = CASE WHEN @setWakeAt = 1 THEN @wakeAt ELSE wake_at END,
         wait = CASE WHEN @setWait = 1 THEN @wait ELSE wait END,
         wait_event = CASE WHEN @setWait = 1 THEN @waitEvent ELSE wait_event END,
         inbox = CASE WHEN @clearInbox = 1 THEN NULL ELSE inbox END
       WHERE id = @runId AND seq = @expectedSeq AND lease_owner = @owner`,
    ),
    commitState: db.prepare<[string], { lease_owner: string | null }>(
      `SELECT lease_owner FROM ${runs} WHERE id = ?`,
    ),
    commitSession: (applyRun, session) => {
      try {
        return commitSession.immediate(applyRun, session);
      } catch (error) {
        if (error === sessionConflict) return "session-conflict";
        throw error;
      }
    },
    loadSession: db.prepare<[string], { state: string; version: number }>(
      `SELECT state, version FROM ${sessions} WHERE id = ?`,
    ),
    claim: (options, now) => claim.immediate(options, now),
    renew: (owner, runIds, expiresAt) => renew.immediate(owner, runIds, expiresAt),
    release: db.prepare<[string, string]>(
      `UPDATE ${runs} SET lease_owner = NULL, lease_expires_at = NULL
       WHERE id = ? AND lease_owner = ?`,
    ),
    list,
    deliver,
    deliverEvent: (params) => {
      try {
        return deliverEvent.immediate(params);
      } catch (error) {
        if (error === rollback) return false;
        throw error;
      }
    },
    storeEvent: db.prepare<[EventRow]>(
      `INSERT OR IGNORE INTO ${events} (${pendingColumns})
       VALUES (@id, @run_id, @name, @key, @payload, @created_at)`,
    ),
    pendingEvents: [
      db.prepare<[], EventRow>(
        `SELECT ${pendingColumns} FROM ${events} WHERE delivered = 0 ORDER BY created_at, rowid`,
      ),
      db.prepare<[string], EventRow>(
        `SELECT ${pendingColumns} FROM ${events}
         WHERE run_id = ? AND delivered = 0 ORDER BY created_at, rowid`,
      ),
    ],
    cancel: db.prepare<[CancelParams]>(
      `UPDATE ${runs} SET
         status = 'cancelled',
         seq = seq + 1,
         error = @error,
         lease_owner = NULL,
         lease_expires_at = NULL,
         updated_at = @now,
         wake_at = NULL,
         wait = NULL,
         wait_event = NULL
       WHERE id = @runId AND status NOT IN ('completed', 'failed', 'cancelled')`,
    ),
  };
}

/** Which of the eight prepared `listRuns` statements serves a query. */
function listVariant(byStatus: boolean, byWorkflow: boolean, byWaitEvent: boolean): number {
  return (byStatus ? 4 : 0) + (byWorkflow ? 2 : 0) + (byWaitEvent ? 1 : 0);
}

function toStoredRun(row: RunRow): StoredRun {
  return {
    id: row.id,
    workflow: row.workflow,
    version: row.version,
    status: row.status,
    seq: row.seq,
    args: row.args,
    frame: row.frame,
    result: row.result,
    error: row.error,
    idempotencyKey: row.idempotency_key,
    sessionId: row.session_id,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    wakeAt: row.wake_at,
    wait: row.wait,
    waitEvent: row.wait_event,
    inbox: row.inbox,
  };
}

function notReady(what: string): StorageError {
  return new StorageError(
    "not-ready",
    `The sqlite adapter was called with ${what}; call init() once before using it, and do not use it after close().`,
  );
}
