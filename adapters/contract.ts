/**
 * The storage adapter contract: what Ratchet needs from a store, and what it promises to
 * keep. Every built-in adapter (`memory()`, `sqlite()`) implements it, and so can yours.
 *
 * The runtime serializes everything before it reaches an adapter: arguments, frames,
 * results and errors arrive as opaque strings. An adapter stores and returns them
 * byte for byte; it never parses them.
 *
 * Guarantees an adapter must give:
 * - **Atomic commits.** {@link StorageAdapter.commit} writes the status, frame, result or
 *   error and the new lease in one transaction: all of it is visible afterwards, or none.
 * - **Compare-and-set.** A commit applies only when the stored `seq` equals
 *   `expectedSeq` *and* the stored lease owner equals `owner`; it then increments `seq`.
 *   Otherwise it changes nothing and reports why. This is what keeps two processes from
 *   both advancing one run.
 * - **Idempotent creation.** {@link StorageAdapter.createRun} with an `idempotencyKey`
 *   that an existing run already has returns that run (`created: false`) and stores
 *   nothing new.
 * - **Leases.** A run is executed only by the owner of an unexpired lease. A claim takes
 *   runs whose lease is absent or expired; two concurrent claims never return the same
 *   run.
 *
 * Words used below:
 * - A lease is **expired** when `leaseExpiresAt <= now`.
 * - `owner` **holds** a run's lease when the stored `leaseOwner` equals `owner`. An expired
 *   lease that no one has claimed since is still held: its owner may commit or renew it.
 *   That is safe because a claim by anyone else changes `leaseOwner` first.
 * - **Creation order** breaks ties between runs with the same `createdAt`.
 *
 * Every object an adapter returns is the caller's own: mutating it never changes what is
 * stored.
 *
 * @example A custom adapter passes the same tests as the built-in ones; see
 * `adapters/memory/memory-adapter.ts` for the smallest complete implementation, and run
 * `describeAdapterContract` from `adapters/testing` against yours.
 * @module
 */

/**
 * The status of a run. `parked` means the run is stored for a workflow version the
 * engine looking at it does not have; it is kept, never resumed on other code.
 */
export type RunStatus =
  | "pending"
  | "running"
  | "sleeping"
  | "waiting"
  | "completed"
  | "failed"
  | "cancelled"
  | "parked";

/** Statuses a run never leaves. */
export const terminalStatuses: ReadonlySet<RunStatus> = new Set<RunStatus>([
  "completed",
  "failed",
  "cancelled",
]);

/** One run as the store holds it. */
export interface StoredRun {
  /** Unique run id. */
  readonly id: string;
  /** The workflow's registered name. */
  readonly workflow: string;
  /** The version hash of the compiled workflow the run was started with. */
  readonly version: string;
  readonly status: RunStatus;
  /** `0` for a new run; incremented by every successful commit; the compare-and-set token. */
  readonly seq: number;
  /** The serialized argument list. */
  readonly args: string;
  /** The serialized frame of the last committed checkpoint, `null` before the first. */
  readonly frame: string | null;
  /** The serialized return value, once `completed`. */
  readonly result: string | null;
  /** The serialized error, once `failed` or `cancelled`; the reason, when `parked`. */
  readonly error: string | null;
  readonly idempotencyKey: string | null;
  readonly sessionId: string | null;
  /** Who holds the lease, or `null`. */
  readonly leaseOwner: string | null;
  /** When the lease ends, in epoch milliseconds, or `null` (always together with `leaseOwner`). */
  readonly leaseExpiresAt: number | null;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Epoch milliseconds of the last commit (of the creation, before the first commit). */
  readonly updatedAt: number;
  /**
   * For a `sleeping` run, when it wakes; for a `waiting` run, when its wait times out
   * (`null`: never). Epoch milliseconds on the engine's clock, or on the store's clock for
   * an adapter that times wakes by it (see {@link Commit.wakeInMs}). Optional for adapters
   * written before waits existed; `undefined` reads as `null`.
   */
  readonly wakeAt?: number | null;
  /** For a `waiting` run, what it waits for: a serialized wait (opaque to the adapter). */
  readonly wait?: string | null;
  /** For a run waiting for an event, the event's name (what `listRuns({ waitEvent })` finds). */
  readonly waitEvent?: string | null;
  /** A delivered answer or event payload the run has not consumed yet (serialized). */
  readonly inbox?: string | null;
}

/** What {@link StorageAdapter.createRun} stores. */
export interface NewRun {
  readonly id: string;
  readonly workflow: string;
  readonly version: string;
  readonly args: string;
  readonly idempotencyKey?: string | null;
  readonly sessionId?: string | null;
  /**
   * When set, the run is created already claimed by this owner (status `running`, lease
   * for `leaseMs`, which is then required), so the process that starts a run executes it
   * at once. When absent the run is created `pending` and unleased, for any worker to claim.
   */
  readonly leaseOwner?: string;
  readonly leaseMs?: number;
}

/** What {@link StorageAdapter.commit} writes, all in one transaction. */
export interface Commit {
  readonly runId: string;
  /** The `seq` the writer last saw; the commit applies only if it still holds. */
  readonly expectedSeq: number;
  /** The writer's lease owner id; the commit applies only if the writer still holds the lease. */
  readonly owner: string;
  readonly status: RunStatus;
  /** The new frame; `undefined` keeps the stored one. */
  readonly frame?: string;
  /** The serialized return value; `undefined` keeps the stored one. */
  readonly result?: string;
  /** The serialized error or park reason; `undefined` keeps the stored one. */
  readonly error?: string;
  /**
   * Extend the lease to now + `leaseMs`; an adapter may instead leave a lease that ends
   * between now + `leaseMs / 2` and now + `leaseMs` as it is (Postgres does, so that
   * checkpoints do not rewrite an indexed column). For a terminal status, or when omitted,
   * the lease is released (owner and expiry cleared) in the same transaction.
   */
  readonly leaseMs?: number;
  /** Set (a number) or clear (`null`) `wakeAt`; `undefined` keeps it. */
  readonly wakeAt?: number | null;
  /**
   * The same moment as `wakeAt`, as milliseconds from the committing process's own clock
   * (`wakeAt - Date.now()` when the commit was sent); `null` with a `null` `wakeAt`. An
   * engine on the system clock sends both; one on a custom clock (a test clock) sends
   * `wakeAt` alone, to be compared on that clock. An adapter that times wakes by the store's clock (Postgres: the
   * server's) stores the store's now plus this instead, so a process whose clock is ahead or
   * behind sets the same wake time as any other; an adapter on the process's clock ignores
   * it. Omitted (as by a caller that writes `wakeAt` alone): `wakeAt` is stored as given.
   */
  readonly wakeInMs?: number | null;
  /** Set or clear (`null`) the wait and its event name; `undefined` keeps them. */
  readonly wait?: { readonly spec: string; readonly event: string | null } | null;
  /** `null` clears the inbox (the run consumed it); `undefined` keeps it. */
  readonly inbox?: null;
  /**
   * Write the run's session state in the same transaction, with compare-and-set on the
   * session's version: it applies only if the stored version is `expectedVersion` (0 for
   * a session not stored yet), and then the version becomes `expectedVersion + 1`. If the
   * version moved on, nothing at all is written and the outcome is `session-conflict`.
   */
  readonly session?: {
    readonly id: string;
    readonly expectedVersion: number;
    /** The whole serialized state. */
    readonly state: string;
  };
}

/**
 * Whether `commit` is a plain checkpoint of a running run that keeps its lease: a new frame
 * and a lease to keep, nothing else (no result, error, wake time, wait, inbox or session).
 * Such a commit may be written by a short statement that sets `seq`, the frame and
 * `updated_at` only, and applies only while the stored lease still ends between now +
 * `leaseMs / 2` and now + `leaseMs` (more than half a lease left: the lease is kept as it
 * is, so no indexed column is rewritten). When that statement applies to nothing (the lease
 * is due to be extended, the status is not running, the compare-and-set fails), the
 * adapter's full commit decides. The SQLite and Postgres adapters both ask this.
 */
export function mayKeepLease(
  commit: Commit,
): commit is Commit & { readonly frame: string; readonly leaseMs: number } {
  return (
    commit.status === "running" &&
    commit.leaseMs !== undefined &&
    commit.frame !== undefined &&
    commit.result === undefined &&
    commit.error === undefined &&
    commit.wakeAt === undefined &&
    commit.wakeInMs === undefined &&
    commit.wait === undefined &&
    commit.inbox === undefined &&
    commit.session === undefined
  );
}

/** A session's shared state as stored. */
export interface StoredSession {
  /** The serialized state, or `null` for a session never written. */
  readonly state: string | null;
  /** 0 for a session never written; incremented by every write. */
  readonly version: number;
}

/** What {@link StorageAdapter.deliver} hands to a waiting run. */
export interface Delivery {
  readonly runId: string;
  /** The run's `wait` as the deliverer read it: the delivery applies only to that wait. */
  readonly wait: string;
  /** The serialized answer or event payload, stored in `inbox`. */
  readonly payload: string;
  /**
   * The id of a pending event of this run (see {@link StorageAdapter.storeEvent}) that
   * this delivery consumes: it applies only if that event is still pending, and marks it
   * delivered in the same transaction, so a stored event reaches its run at most once.
   */
  readonly eventId?: string;
}

/** An event kept for one run until it waits for it ({@link StorageAdapter.storeEvent}). */
export interface PendingEvent {
  /** Unique event id. */
  readonly id: string;
  readonly runId: string;
  /** The event's name. */
  readonly name: string;
  /** The emitter's idempotency key, or `null`: one event per run and key is ever stored. */
  readonly key: string | null;
  /** The serialized payload (opaque to the adapter). */
  readonly payload: string;
  /** Epoch milliseconds; set by the adapter (ignored in {@link StorageAdapter.storeEvent}). */
  readonly createdAt: number;
}

/**
 * The outcome of a commit. On failure nothing was written, and `reason` says why, checked
 * in this order: `not-found` (no run has this id), `lease-lost` (`owner` does not hold
 * the lease: it was released, or another worker claimed the run), `conflict` (the lease
 * is held but `seq` moved on: another commit by the same owner won).
 */
export type CommitOutcome =
  | { readonly ok: true; readonly seq: number }
  | {
      readonly ok: false;
      readonly reason: "conflict" | "lease-lost" | "not-found" | "session-conflict";
    };

/**
 * Which runs {@link StorageAdapter.listRuns} returns, newest first (by `createdAt`, then
 * creation order). Omitted fields do not filter; an empty `status` list matches nothing.
 */
export interface RunQuery {
  readonly status?: RunStatus | readonly RunStatus[];
  readonly workflow?: string;
  /** Only runs waiting for this event. */
  readonly waitEvent?: string;
  /** At most this many runs; no limit when omitted. */
  readonly limit?: number;
}

/**
 * One attempt of a step, kept for inspection when the engine records step history
 * (`createEngine({ history: true })`). Not part of any run's state: losing it loses nothing.
 */
export interface StoredStep {
  readonly runId: string;
  /** The checkpoint the step belongs to (its stable id). */
  readonly checkpoint: string;
  /** The step's name. */
  readonly name: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly endedAt: number;
  /** The serialized error, when the attempt threw (opaque to the adapter). */
  readonly error: string | null;
}

/** Which runs {@link StorageAdapter.purge} deletes. */
export interface PurgeFilter {
  /** Only runs whose last commit (`updatedAt`) is before this time, in epoch milliseconds. */
  readonly before: number;
  /** Only runs with one of these statuses; the engine passes terminal statuses only. */
  readonly statuses: readonly RunStatus[];
  /** At most this many runs in one call; the caller calls again while it gets `limit`. */
  readonly limit: number;
}

/** Options for {@link StorageAdapter.claimRunnable}. */
export interface ClaimOptions {
  /** The claiming worker's id. */
  readonly owner: string;
  readonly leaseMs: number;
  /** At most this many runs. */
  readonly limit: number;
  /**
   * Only runs of these workflows (the ones the worker can execute); an empty list claims
   * nothing. Omitted: runs of any workflow.
   */
  readonly workflows?: readonly string[];
  /**
   * Only runs stored with one of these workflow versions (the compiled versions the worker
   * has); an empty list claims nothing. Omitted: runs of any version. A run of a version
   * no worker lists is never claimed by those workers: it stays as stored, unleased,
   * rather than being claimed and released over and over. Combined with `workflows`, a
   * run must match both.
   */
  readonly versions?: readonly string[];
  /**
   * Also claim `sleeping` and `waiting` runs whose `wakeAt` is at or before this time
   * (epoch milliseconds on the engine's clock, which a test may move): sleeps that are over
   * and waits that timed out. Omitted: none of them.
   */
  readonly wakeBefore?: number;
  /**
   * `wakeBefore` as milliseconds from the claiming process's own clock (`wakeBefore -
   * Date.now()`, so 0: an engine on the system clock sends it, one on a custom clock does
   * not). An adapter that times wakes by the store's clock then claims the runs whose
   * `wakeAt` (stored from {@link Commit.wakeInMs}) is at or before the store's now plus
   * this; one on the process's clock ignores it and uses `wakeBefore`.
   */
  readonly wakeBeforeInMs?: number;
}

/**
 * A store for runs. Implement every method; run the conformance tests against it.
 *
 * All methods may be called concurrently, from one process or many.
 */
export interface StorageAdapter {
  /** A short name for messages, e.g. `"sqlite"`. */
  readonly name: string;
  /**
   * Prepare the store (open files, run schema migrations). Called once by the engine
   * before any other method; calling it again is harmless.
   */
  init(): Promise<void>;
  /**
   * Store a new run, or return the existing run with the same idempotency key
   * (`created: false`, whatever the rest of `run` says). A new run has `seq` 0 and
   * `createdAt` = `updatedAt` = now. Rejects with a {@link StorageError} `run-exists` when
   * the id is taken by a run without that idempotency key.
   */
  createRun(run: NewRun): Promise<{ run: StoredRun; created: boolean }>;
  /** The run with this id, or `null`. */
  loadRun(runId: string): Promise<StoredRun | null>;
  /**
   * Commit a checkpoint or an end state atomically, with compare-and-set on `seq` and
   * owner. On success `seq` is incremented, `updatedAt` is now, and the outcome carries
   * the new `seq`.
   */
  commit(commit: Commit): Promise<CommitOutcome>;
  /**
   * Lease up to `limit` runs that are `pending` or `running`, whose lease is absent or
   * expired, and that match the `workflows` and `versions` filters, to `owner` for
   * `leaseMs`; mark them `running`. Oldest first (by `createdAt`, then creation order). Never hands one run to two concurrent claims. A claim is not a
   * commit: `seq` and `updatedAt` are unchanged.
   */
  claimRunnable(options: ClaimOptions): Promise<StoredRun[]>;
  /**
   * Extend to now + `leaseMs` the leases `owner` still holds among `runIds`; resolves to
   * those ids, in the order given. Ids `owner` does not hold are skipped, not errors.
   */
  renewLeases(owner: string, runIds: readonly string[], leaseMs: number): Promise<string[]>;
  /**
   * Give up the lease on a run now, if `owner` holds it, so another worker may claim it.
   * The status is unchanged; otherwise a no-op.
   */
  releaseLease(runId: string, owner: string): Promise<void>;
  /** Runs matching the query, newest first. */
  listRuns(query?: RunQuery): Promise<StoredRun[]>;
  /**
   * Optional: call `listener` soon after runs may have become claimable — created
   * unleased, or released by {@link StorageAdapter.releaseLease} — by any process sharing
   * the store, so a worker can claim at once instead of at its next poll. Only a hint: it
   * names no run, may coalesce many changes into one call, may be missed, and says nothing
   * about leases that merely expire; workers keep polling. Returns a function that stops
   * the calls. Called after `init()`; the adapter stops calling when closed.
   *
   * @example The Postgres adapter implements it with `LISTEN`/`NOTIFY`.
   */
  subscribe?(listener: () => void): () => void;
  /**
   * Optional (needed for `waitForUser`/`waitForEvent`): if the run is `waiting` and its
   * `wait` still equals `delivery.wait`, store the payload in `inbox`, clear `wait`,
   * `waitEvent` and `wakeAt`, set the status to `pending` (claimable at once) and bump
   * `seq` — atomically, so of two deliveries to one wait exactly one applies. Resolves to
   * whether it applied; otherwise nothing is written.
   */
  deliver?(delivery: Delivery): Promise<boolean>;
  /**
   * Optional, with {@link StorageAdapter.pendingEvents} (needed for events kept for a run:
   * `emit(name, payload, { runId })`, and `idempotencyKey` deduplicating deliveries): keep
   * an event for `event.runId` until a {@link Delivery} with its `eventId` consumes it.
   * When the run already has an event with the same non-null `key` — pending or delivered —
   * nothing is stored and it resolves to `false`; otherwise `true`. Delivered events are
   * kept (that is what makes a repeated key deliver nothing) until the run is purged.
   */
  storeEvent?(event: Omit<PendingEvent, "createdAt">): Promise<boolean>;
  /**
   * Optional, with {@link StorageAdapter.storeEvent}: the events not delivered yet, of one
   * run or (`runId` omitted) of every run, oldest first (by `createdAt`, then storage order).
   */
  pendingEvents?(runId?: string): Promise<PendingEvent[]>;
  /**
   * Optional (needed for `RunHandle.cancel`): unless the run already ended, set its status
   * to `cancelled` with this serialized error, release its lease, clear any wait, and bump
   * `seq`, so a process still executing it fails its next commit and stops. Resolves to
   * whether it applied.
   */
  cancel?(runId: string, error: string): Promise<boolean>;
  /**
   * Optional (needed for `ctx.session.state`): the state of a session as stored, with its
   * version (`{ state: null, version: 0 }` for one never written).
   */
  loadSession?(sessionId: string): Promise<StoredSession>;
  /**
   * Optional (needed for `engine.purge` and retention): delete the runs matching `options`,
   * oldest first, with their step history, and the session rows no remaining run refers
   * to; the idempotency keys of deleted runs become free. Resolves to how many runs were
   * deleted.
   */
  purge?(options: PurgeFilter): Promise<number>;
  /**
   * Optional (needed for `RunHandle.retry`): if the run is `failed` or `parked` (a worker
   * could not read its frame, e.g. a class it does not register), make it `pending` again —
   * error cleared, frame kept, lease released, `seq` bumped — so a worker resumes it from
   * its last checkpoint. Resolves to whether it applied.
   */
  retry?(runId: string): Promise<boolean>;
  /**
   * Optional (needed for parked runs to be handed back without a restart): if the run is
   * `parked` and its `seq` is still `expectedSeq`, lease it to `owner` for `leaseMs` and
   * mark it `running` with its reason (`error`) cleared, whatever lease it had (a parked
   * run holds none; stores written before parking was lease-free may hold one for good).
   * Frame, wait, wake time and inbox are kept. A claim is not a commit: `seq` and
   * `updatedAt` are unchanged. Resolves to the claimed run, or `null` when it did not
   * apply; of two concurrent calls for one run at most one applies. The normal claim path
   * ({@link StorageAdapter.claimRunnable}) never returns a parked run: only a worker whose
   * code can resume it takes it, by this.
   */
  claimParked?(options: {
    readonly runId: string;
    readonly expectedSeq: number;
    readonly owner: string;
    readonly leaseMs: number;
  }): Promise<StoredRun | null>;
  /** Optional (needed for step history): store these step attempts. */
  recordSteps?(steps: readonly StoredStep[]): Promise<void>;
  /** Optional (needed for step history): a run's recorded step attempts, in the order recorded. */
  listSteps?(runId: string): Promise<StoredStep[]>;
  /** Release resources. The adapter is not used afterwards. */
  close(): Promise<void>;
}

/** The stable codes of {@link StorageError}. */
export type StorageErrorCode =
  /** `createRun` was given an id that another run already has. */
  | "run-exists"
  /** An argument or option is invalid (the message says which). */
  | "invalid-argument"
  /** A driver the adapter needs (e.g. `better-sqlite3`) is not installed. */
  | "driver-missing"
  /** The store was migrated by a newer Ratchet than this one. */
  | "schema-too-new"
  /** The store cannot be opened or read: not a database, damaged, or out of reach (the message names it). */
  | "unusable-store"
  /** A method was called before `init()` or after `close()`. */
  | "not-ready";

/**
 * An error an adapter throws for a misuse or a misconfigured store. A commit that loses
 * its compare-and-set is not an error: it resolves to a failed {@link CommitOutcome}.
 *
 * @example
 * ```ts
 * try {
 *   await storage.createRun({ id: "order-42", workflow: "order", version, args });
 * } catch (error) {
 *   if (error instanceof StorageError && error.code === "run-exists") {
 *     // pick another id, or pass an idempotencyKey to get the existing run back
 *   }
 * }
 * ```
 */
export class StorageError extends Error {
  /** Which misuse this is; stable across releases. */
  readonly code: StorageErrorCode;

  /**
   * @param code - the stable code
   * @param message - what happened, where, and how to fix it
   * @param options - `cause`: the underlying error, if any
   */
  constructor(code: StorageErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StorageError";
    this.code = code;
  }
}
