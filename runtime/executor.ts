import type { Commit, CommitOutcome, StorageAdapter, StoredRun } from "../adapters/contract.js";
import { type Clock, MachineContext, type Operation, type SessionAccess } from "./context.js";
import type { Workflow } from "./definitions.js";
import {
  CorruptFrameError,
  DefinitionError,
  FrameTooLargeError,
  StorageRefusedError,
  TimeoutError,
} from "./errors.js";
import type { RunLease } from "./lease.js";
import type { Logger } from "./logger.js";
import type { CheckpointInfo, CompiledMachine, MachineFrame, MachineRequest } from "./machine.js";
import { type BranchOutcome, performOperation, performStep } from "./operations.js";
import type { AttemptObserver, StepEnvironment } from "./retry.js";
import {
  deserialize,
  serialize,
  serializeOrExplain,
  serializePrimitiveFrame,
  UnregisteredClassError,
  whyUnserializable,
} from "./serialization.js";
import {
  isTransientStorageError,
  pauseUnlessStopped,
  retryStorage,
  StorageRetryStopped,
  storageBackoff,
} from "./storage-faults.js";
import { decideResume, type Migrations, type ResumeDecision } from "./versioning.js";

/**
 * A checkpoint as stored: which checkpoint, the live variables, the operation's result, and
 * the run-scoped state (`st`, omitted when empty).
 */
export interface StoredFrame {
  /** The checkpoint's stable id. */
  readonly cp: string;
  readonly v: Record<string, unknown>;
  readonly r: unknown;
  readonly st?: Map<string, unknown>;
  /**
   * At a `waitForEvent`: the event name and the deadline of the whole wait (epoch
   * milliseconds, or `null`), so that waiting again after a predicate refused an event keeps
   * the deadline of the first wait.
   */
  readonly w?: TestedWait;
}

/** The part of a tested wait (`waitForEvent` with a predicate) that outlives a delivery. */
export interface TestedWait {
  readonly name: string;
  readonly until: number | null;
}

/**
 * The branches of a concurrent operation that finished, stored while the others still run:
 * the last checkpoint's frame text (`base`, `null` before the first) is kept as it was
 * committed, so a resumed run re-enters there, reaches the operation again and runs only
 * the branches not in `done`.
 */
export interface PartialFrame {
  readonly base: string | null;
  readonly partial: {
    /** The checkpoint id of the operation. */
    readonly cp: string;
    /** Its idempotency key, kept so re-run branches get the same keys. */
    readonly key: string;
    readonly done: Record<number, BranchOutcome>;
  };
}

/** A wait as stored in the run's `wait` field, read by `engine.respond` and `engine.emit`. */
export type StoredWait =
  | {
      readonly kind: "user";
      /** Unique per wait, so a late answer cannot reach a later wait. */
      readonly id: string;
      readonly question: string;
      readonly inputType: "approval" | "choice" | "text";
      readonly options: readonly { readonly id: string; readonly label?: string }[];
    }
  | {
      readonly kind: "event";
      readonly id: string;
      readonly name: string;
      readonly match: Readonly<Record<string, unknown>> | null;
      /** The run tests every event of `name` with its predicate (delivered whatever it holds). */
      readonly tested?: true;
    }
  | { readonly kind: "child"; readonly id: string; readonly child: string };

/** Told after every committed checkpoint. */
export interface CheckpointEvent {
  readonly runId: string;
  readonly workflow: string;
  /** The checkpoint's number, stable id, kind and source position. */
  readonly checkpoint: CheckpointInfo;
  /** The run's sequence number after the commit. */
  readonly seq: number;
}

/** What the executor needs from the engine. */
export interface ExecutorHost {
  readonly storage: StorageAdapter;
  readonly owner: string;
  readonly leaseMs: number;
  readonly clock: Clock;
  /**
   * Whether the engine runs on the system clock: then wake times also go to the store as
   * delays (`Commit.wakeInMs`), which an adapter on the store's clock adds to its own now.
   * A custom clock (a test clock) is compared as it is.
   */
  readonly systemClock: boolean;
  /** Whether the engine is closing: executions stop at their next checkpoint. */
  readonly closing: boolean;
  readonly onCheckpoint: ((event: CheckpointEvent) => void) | undefined;
  /** Watches step attempts (history, traces, logs). */
  readonly attemptObserver: AttemptObserver | undefined;
  /** Where storage errors, retries and lost leases are reported. */
  readonly logger: Logger;
  /** The largest frame, step result or return value committed, serialized, in bytes. */
  readonly maxFrameBytes: number;
  /**
   * Store the child run (idempotently: the same id returns the stored run) and start it
   * when this engine can; resolves to the stored child.
   */
  startChild(child: { id: string; workflow: string; args: readonly unknown[] }): Promise<StoredRun>;
  /**
   * Hand an ended child's outcome to its parent if the parent waits for it (a delivery
   * applies once, so calling it again is harmless).
   */
  notifyParent(childId: string, outcome: ChildOutcome): Promise<void>;
  /** Step implementations and timers; a test engine replaces them. */
  readonly steps?: StepEnvironment;
}

/** What a waiting parent receives when its child run ends. */
export interface ChildOutcome {
  readonly $child: true;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: unknown;
}

/** The prefix of the event a parent waits for when it waits for a child run. */
export const CHILD_EVENT = "ratchet.child:";

/** The event a parent waits for: its child's end. */
export function childEvent(childId: string): string {
  return `${CHILD_EVENT}${childId}`;
}

/** The idempotency-key prefix that marks a run started by `ctx.child`. */
export const CHILD_KEY = "child:";

/**
 * A child run's outcome once it is decided: when it ended, or when its outcome is
 * committed but not yet handed to its parent (a child writes its result or error first,
 * still `running`, then tells the parent, then commits its end) — so a parent that starts
 * waiting at any moment, and a child resumed after a crash at any moment, both find it.
 */
export function childOutcomeOf(child: StoredRun): ChildOutcome | undefined {
  const decided =
    child.status === "completed" ||
    child.status === "failed" ||
    child.status === "cancelled" ||
    (child.status === "running" && (child.result !== null || child.error !== null));
  if (!decided) return undefined;
  return child.result !== null && child.status !== "failed" && child.status !== "cancelled"
    ? { $child: true, ok: true, value: deserialize(child.result) }
    : { $child: true, ok: false, error: deserialize(child.error ?? "") };
}

/** How an execution in this process ended. */
export type ExecutionOutcome =
  | {
      readonly kind: "finished";
      readonly status: "completed" | "failed";
      readonly result: string | null;
      readonly error: string | null;
    }
  /** The run sleeps or waits, holding no memory here; a worker picks it up when it is due. */
  | {
      readonly kind: "suspended";
      /** Whether the run now waits for an event (and may take one kept for it). */
      readonly forEvent?: boolean;
    }
  /** The engine closed, or another process took the run over or cancelled it. */
  | { readonly kind: "stopped" }
  /** The run cannot resume on this code: it was stored parked, with the reason. */
  | { readonly kind: "parked"; readonly checkpoint: string; readonly reason: string }
  /**
   * Another run of the session wrote its state first: nothing was committed, and the run
   * must be executed again from its last checkpoint.
   */
  | { readonly kind: "retry" };

function location(compiled: CompiledMachine, cp: CheckpointInfo): string {
  return `${compiled.manifest.file}:${cp.line}:${cp.column}`;
}

/**
 * Serialize a checkpoint's frame, or explain exactly which variable (or the step result, or
 * a state entry) cannot be persisted — before anything is committed.
 */
function encodeFrame(
  runId: string,
  compiled: CompiledMachine,
  cp: CheckpointInfo,
  live: Record<string, unknown>,
  result: unknown,
  state: Map<string, unknown>,
  maxBytes: number,
  wait?: TestedWait,
): string {
  const frame: StoredFrame = {
    cp: cp.id,
    v: live,
    r: result,
    ...(state.size > 0 ? { st: state } : {}),
    ...(wait ? { w: wait } : {}),
  };
  let text: string;
  try {
    text =
      (state.size === 0 && wait === undefined
        ? serializePrimitiveFrame(cp.id, live, result)
        : undefined) ?? serialize(frame);
  } catch {
    const context = { checkpoint: cp.id, location: location(compiled, cp), runId };
    for (const [name, value] of Object.entries(live)) {
      if (whyUnserializable(value)) serializeOrExplain(value, liveSubject(compiled, name), context);
    }
    for (const [key, value] of state) {
      if (whyUnserializable(value)) serializeOrExplain(value, `state "${key}"`, context);
    }
    serializeOrExplain(result, `the result of ${cp.id}`, context);
    // Every part alone can be stored but not all of them together (a reference between
    // them the serializer cannot rebuild): explain the frame as a whole.
    text = serializeOrExplain(frame, `the frame of ${cp.id}`, context);
  }
  const bytes = byteSize(text, maxBytes);
  if (bytes > maxBytes) {
    const parts: [string, unknown][] = [
      ...Object.entries(live).map(([name, value]): [string, unknown] => [
        liveSubject(compiled, name),
        value,
      ]),
      [`the result of ${cp.id}`, result],
      ...[...state].map(([key, value]): [string, unknown] => [`state "${key}"`, value]),
    ];
    const largest = parts
      .map(([name, value]) => ({ name, bytes: byteSize(serialize(value), 0) }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 3);
    throw new FrameTooLargeError({
      runId,
      subject: `The frame`,
      bytes,
      limit: maxBytes,
      checkpoint: cp.id,
      location: location(compiled, cp),
      largest,
    });
  }
  return text;
}

/**
 * A live variable as messages name it: `variable "order"`, or for a compiler temporary what
 * it holds and where (``the value of `makeOrder()` (4:40)``), not its frame key.
 */
function liveSubject(compiled: CompiledMachine, name: string): string {
  return compiled.manifest.temporaries?.[name] ?? `variable "${name}"`;
}

const encoder = new TextEncoder();

/**
 * The UTF-8 size of `text`, exact when it may exceed `limit` (a UTF-16 unit is at most
 * three UTF-8 bytes, so shorter texts are measured by their length alone).
 */
function byteSize(text: string, limit: number): number {
  return text.length * 3 <= limit ? text.length : encoder.encode(text).length;
}

/** `text` (a return value or an error), or {@link FrameTooLargeError} when it is over the limit. */
function limitSize(runId: string, subject: string, text: string, maxBytes: number): string {
  const bytes = byteSize(text, maxBytes);
  if (bytes <= maxBytes) return text;
  throw new FrameTooLargeError({ runId, subject, bytes, limit: maxBytes, largest: [] });
}

/** Where a run re-enters, read from its stored frame. */
interface Entry {
  readonly frame: { -readonly [K in keyof MachineFrame]: MachineFrame[K] };
  /** The text of the last committed checkpoint's frame. */
  readonly base: string | null;
  readonly partial: PartialFrame["partial"] | undefined;
  readonly state: Map<string, unknown>;
  /** The tested wait the run resumes from, if any. */
  readonly wait?: TestedWait;
}

function parse<T>(run: StoredRun, text: string): T {
  try {
    return deserialize(text) as T;
  } catch (error) {
    // Readable by a process that registers the class: the run is parked, not failed.
    if (error instanceof UnregisteredClassError) throw error;
    throw new CorruptFrameError(run.id, (error as Error).message);
  }
}

/** The run's arguments, as stored. */
function storedArgs(run: StoredRun): unknown[] {
  const args = parse<unknown>(run, run.args);
  if (!Array.isArray(args)) throw new CorruptFrameError(run.id, "its arguments are not a list");
  return args;
}

function decodeFrame(
  run: StoredRun,
  compiled: CompiledMachine,
  migrate: Migrations | undefined,
): Entry | Extract<ResumeDecision, { kind: "park" }> {
  const initial = (partial: PartialFrame["partial"] | undefined): Entry => {
    const args = storedArgs(run);
    return {
      frame: { pc: 0, vars: {}, args, sent: undefined },
      base: null,
      partial,
      state: new Map(),
    };
  };
  if (run.frame === null) return initial(undefined);
  let stored = parse<StoredFrame | PartialFrame>(run, run.frame);
  if (typeof stored !== "object" || stored === null) {
    throw new CorruptFrameError(run.id, "it is not a frame");
  }
  let base: string | null = run.frame;
  let partial: PartialFrame["partial"] | undefined;
  if ("partial" in stored) {
    partial = stored.partial;
    base = stored.base;
    if (base === null) return initial(partial);
    stored = parse<StoredFrame>(run, base);
  }
  const full = stored as StoredFrame;
  if (typeof full.cp !== "string") throw new CorruptFrameError(run.id, "it has no checkpoint id");
  // Matched by checkpoint, not by version: code that changed elsewhere still resumes it.
  const decision = decideResume(compiled.manifest, full.cp, full.v ?? {}, migrate, () =>
    storedArgs(run),
  );
  if (decision.kind === "park") return decision;
  const cp = decision.checkpoint;
  const frame: Entry["frame"] = {
    pc: cp.resume,
    vars: decision.vars,
    args: [],
    sent: full.r,
  };
  // A run resumed from a wait: the delivered answer or payload is the wait's result, and a
  // wait that ran out of time throws where the workflow awaited it.
  if (run.inbox != null) {
    const delivered = parse<unknown>(run, run.inbox);
    const child = delivered as ChildOutcome | null;
    if (child && typeof child === "object" && child.$child === true) {
      if (child.ok) frame.sent = child.value;
      else frame.thrown = child.error;
    } else {
      frame.sent = delivered;
    }
  } else if (run.wait != null) {
    frame.thrown = new TimeoutError(`The wait at ${cp.id} (${location(compiled, cp)}) timed out.`);
  }
  return {
    frame,
    base,
    partial,
    state: new Map(full.st ?? []),
    ...(full.w ? { wait: full.w } : {}),
  };
}

/**
 * The checkpoint a stored run re-enters after, and its stored variables; `undefined` for a
 * run that has not reached its first checkpoint (it starts over on any code).
 */
export function storedPosition(run: StoredRun):
  | {
      readonly checkpoint: string;
      readonly vars: Record<string, unknown>;
      /** The run's arguments, read when asked for. */
      readonly args: () => unknown[];
    }
  | undefined {
  if (run.frame === null) return undefined;
  let stored = parse<StoredFrame | PartialFrame>(run, run.frame);
  if ("partial" in stored) {
    if (stored.base === null) return undefined;
    stored = parse<StoredFrame>(run, stored.base);
  }
  return { checkpoint: stored.cp, vars: stored.v ?? {}, args: () => storedArgs(run) };
}

/**
 * Whether this process can read what a run stored (its arguments, delivered payload and
 * frame): false while one of them names a class this process does not register, or is
 * corrupt.
 */
export function readableHere(run: StoredRun): boolean {
  try {
    storedArgs(run);
    if (run.inbox != null) deserialize(run.inbox);
    storedPosition(run);
    return true;
  } catch {
    return false;
  }
}

/**
 * The stored form of what ended a run. A thrown string or plain object is stored as it is:
 * it is the caller's data (an error code, a response body), and `result()` rejects with it.
 * What cannot be stored becomes an Error that says what it was.
 */
function encodeError(error: unknown): string {
  try {
    return serialize(error);
  } catch {
    if (error instanceof Error) {
      return serialize(Object.assign(new Error(error.message), { name: error.name }));
    }
    const shown = Object.prototype.toString.call(error);
    return serialize(
      new Error(
        `The run threw a value that cannot be stored (${shown}${typeof error === "object" && error !== null ? ` with keys ${Object.keys(error).join(", ") || "none"}` : ""}); throw an Error, or plain data, instead.`,
      ),
    );
  }
}

/** What a suspending operation commits: the status, wake time and wait. */
function suspension(
  op: Operation,
  key: string,
): Pick<Commit, "status" | "wakeAt" | "wait"> | undefined {
  switch (op.kind) {
    case "sleep":
      return { status: "sleeping", wakeAt: op.until, wait: null };
    case "waitForUser": {
      const wait: StoredWait = {
        kind: "user",
        id: key,
        question: op.question.question,
        inputType: op.question.inputType,
        options: op.question.options,
      };
      return {
        status: "waiting",
        wakeAt: op.timeoutAt,
        wait: { spec: serialize(wait), event: null },
      };
    }
    case "waitForEvent": {
      const wait: StoredWait = op.tested
        ? { kind: "event", id: key, name: op.name, match: op.match, tested: true }
        : { kind: "event", id: key, name: op.name, match: op.match };
      return {
        status: "waiting",
        wakeAt: op.timeoutAt,
        wait: { spec: serialize(wait), event: op.name },
      };
    }
    case "child": {
      const wait: StoredWait = { kind: "child", id: key, child: op.runId ?? key };
      return {
        status: "waiting",
        wakeAt: null,
        wait: { spec: serialize(wait), event: childEvent(wait.child) },
      };
    }
    default:
      return undefined;
  }
}

/** A commit that consumes nothing delivered on resuming (see `resumeFields` in executeRun). */
const NOTHING_RESUMED: Pick<Commit, "wakeAt" | "wait" | "inbox"> = Object.freeze({});

/**
 * A wake time as a delay from this process's clock now (see `Commit.wakeInMs`): an adapter
 * that times wakes by the store's clock adds it to the store's now.
 */
function delayFromNow(wakeAt: number | null): number | null {
  return wakeAt === null ? null : wakeAt - Date.now();
}

/** The latest moment a `Date` can hold; later wake times are refused before any commit. */
const MAX_TIME = 8.64e15;

/** A wake time or deadline as stored: whole milliseconds, within a `Date`'s range. */
function storableTime(value: number | null, what: string): number | null {
  if (value === null) return null;
  if (!Number.isFinite(value) || Math.abs(value) > MAX_TIME) {
    throw new RangeError(
      `${what} is ${value}, which is not a moment a store can hold (epoch milliseconds within a Date's range). Pass a finite duration or a valid Date.`,
    );
  }
  // Rounded up: a sleep never ends before the time it asked for.
  return Math.ceil(value);
}

/**
 * Drive one run from its stored position to its end (or until it sleeps or waits, the
 * engine closes, or this process loses its lease), committing every checkpoint. This is
 * the runtime's hot path: per checkpoint, one serialization and one storage commit.
 *
 * It never rejects for a storage fault: a failed call is retried with backoff while the
 * lease lasts (a commit whose outcome is unknown is resolved by re-reading the run), a
 * refusal fails the run with {@link StorageRefusedError}, and anything else ends the run
 * in this process with `stopped` for a worker to pick it up again.
 */
export async function executeRun(
  host: ExecutorHost,
  run: StoredRun,
  definition: Workflow,
  lease: RunLease,
): Promise<ExecutionOutcome> {
  const compiled = definition.compiled!;
  const { storage, owner, logger } = host;
  const fields = { runId: run.id, workflow: definition.name };
  const stop = () => host.closing || lease.lost;
  const retrying = <T>(what: string, call: () => Promise<T>) =>
    retryStorage(what, call, { logger, stop, fields });
  let seq = run.seq;
  /** The checkpoint being committed, for messages. */
  let at: CheckpointInfo | undefined;
  const isChild = run.idempotencyKey?.startsWith(CHILD_KEY) === true;
  // The first commit after resuming from a wait consumes what was delivered.
  let resumeFields: Pick<Commit, "wakeAt" | "wait" | "inbox"> =
    run.wait != null || run.inbox != null || run.wakeAt != null
      ? { wakeAt: null, wait: null, inbox: null }
      : NOTHING_RESUMED;
  // Session state, read on first use in each stretch between checkpoints; its writes go
  // with the next checkpoint's commit, compare-and-set on the session's version.
  let session: { state: Map<string, unknown>; version: number; dirty: boolean } | undefined;
  const loadSession = async () => {
    if (session) return session;
    if (!run.sessionId) {
      throw new DefinitionError(
        "ctx.session needs a run started with a session: engine.start(wf, args, { sessionId }).",
      );
    }
    const load = storage.loadSession?.bind(storage);
    if (!load) {
      throw new DefinitionError(`The ${storage.name} adapter does not support session state.`);
    }
    const sessionId = run.sessionId;
    const stored = await retrying("loading session state", () => load(sessionId));
    const state =
      stored.state === null
        ? new Map<string, unknown>()
        : (deserialize(stored.state) as Map<string, unknown>);
    session = { state, version: stored.version, dirty: false };
    return session;
  };
  const sessionAccess: SessionAccess = {
    read: async () => (await loadSession()).state,
    write: async (change) => {
      const current = await loadSession();
      change(current.state);
      current.dirty = true;
    },
  };

  /**
   * Whether the process may start more work for the run. When no renewal got through for a
   * whole lease (a frozen process, a storage outage), another worker may have claimed the
   * run meanwhile: ask the store (a renewal) before going on.
   */
  const stillHeld = async (): Promise<boolean> => {
    if (lease.lost) return false;
    if (!lease.expired) return true;
    const sentAt = performance.now();
    const renewed = await retrying("confirming a lapsed lease", () =>
      storage.renewLeases(owner, [run.id], host.leaseMs),
    );
    if (renewed.includes(run.id)) {
      lease.extend(sentAt);
      return true;
    }
    lease.lose("it lapsed and another worker claimed the run, or it was cancelled");
    logger.warn(fields, "a lease lapsed and was taken; this process stops executing the run");
    return false;
  };
  /** For concurrent branches: `undefined` (go on at once) unless the lease must be confirmed. */
  const gate = (): Promise<void> | undefined => {
    if (!lease.lost && !lease.expired) return undefined;
    return stillHeld().then((held) => {
      if (!held) throw lease.signal.reason;
    });
  };

  /** Whether a commit whose answer was lost is the one now stored. */
  const appliedAs = (stored: StoredRun, change: Commit): boolean =>
    stored.seq === change.expectedSeq + 1 &&
    stored.status === change.status &&
    (change.frame === undefined || stored.frame === change.frame) &&
    (change.result === undefined || stored.result === change.result) &&
    (change.error === undefined || stored.error === change.error) &&
    (change.leaseMs === undefined || stored.leaseOwner === owner);

  /**
   * After a commit call failed without an answer (a connection lost mid-commit), find out
   * from the stored run whether it applied: its `seq` still the one expected means no, so
   * commit again; one more and the written fields mean yes; anything else means another
   * process moved the run on.
   */
  const recoverCommit = async (change: Commit, failure: unknown): Promise<CommitOutcome> => {
    let error = failure;
    for (let attempt = 1; ; attempt++) {
      if (!isTransientStorageError(error)) {
        throw new StorageRefusedError({
          adapter: storage.name,
          runId: run.id,
          what: `the commit of status "${change.status}"`,
          checkpoint: at?.id,
          location: at && location(compiled, at),
          cause: error,
        });
      }
      if (stop()) throw new StorageRetryStopped(error);
      const wait = storageBackoff(attempt);
      logger.warn(
        { ...fields, seq: change.expectedSeq, error, attempt, retryInMs: wait },
        "a commit failed without an answer; re-reading the run to see whether it applied",
      );
      await pauseUnlessStopped(wait, stop);
      const stored = await retrying("re-reading a run after a failed commit", () =>
        storage.loadRun(run.id),
      );
      if (!stored) return { ok: false, reason: "not-found" };
      if (stored.seq !== change.expectedSeq) {
        if (appliedAs(stored, change)) return { ok: true, seq: stored.seq };
        return { ok: false, reason: stored.leaseOwner === owner ? "conflict" : "lease-lost" };
      }
      try {
        return await storage.commit(change);
      } catch (again) {
        error = again;
      }
    }
  };

  /** Commit, resolving a call that failed without an answer ({@link recoverCommit}). */
  const commitResolved = async (change: Commit): Promise<CommitOutcome> => {
    try {
      return await storage.commit(change);
    } catch (error) {
      return recoverCommit(change, error);
    }
  };

  /** Commit; `true`, or how the execution ends because the commit did not apply. */
  const commit = async (
    change: Omit<Commit, "runId" | "expectedSeq" | "owner">,
    withSession = true,
  ): Promise<true | ExecutionOutcome> => {
    // A run that fails before its next checkpoint keeps what it resumed with (the answer,
    // event or child outcome delivered, or the wait that timed out): a retry resumes from the
    // same checkpoint and receives the same again. Only the wake time goes.
    const resuming: Pick<Commit, "wakeAt" | "wait" | "inbox"> =
      change.status === "failed" || (change.status === "running" && change.error !== undefined)
        ? resumeFields.wakeAt === undefined
          ? NOTHING_RESUMED
          : { wakeAt: null }
        : resumeFields;
    const write =
      withSession && session?.dirty && run.sessionId
        ? {
            session: {
              id: run.sessionId,
              expectedVersion: session.version,
              state: serializeOrExplain(session.state, "the session state", { runId: run.id }),
            },
          }
        : undefined;
    return send(
      resuming === NOTHING_RESUMED && write === undefined
        ? { runId: run.id, expectedSeq: seq, owner, ...change }
        : { runId: run.id, expectedSeq: seq, owner, ...resuming, ...change, ...write },
      resuming,
      withSession,
    );
  };

  /**
   * The checkpoint of every step: `commit({ status: "running", frame, leaseMs })`, built
   * without the general case's spreads when nothing delivered is consumed and no session
   * state is written.
   */
  const commitFrame = (frame: string): Promise<true | ExecutionOutcome> =>
    resumeFields === NOTHING_RESUMED && !(session?.dirty && run.sessionId)
      ? send(
          {
            runId: run.id,
            expectedSeq: seq,
            owner,
            status: "running",
            frame,
            leaseMs: host.leaseMs,
          },
          NOTHING_RESUMED,
          true,
        )
      : commit({ status: "running", frame, leaseMs: host.leaseMs });

  /** Send a commit built by {@link commit}; `true`, or how the execution ends. */
  const send = async (
    full: Commit,
    resuming: Pick<Commit, "wakeAt" | "wait" | "inbox">,
    withSession: boolean,
  ): Promise<true | ExecutionOutcome> => {
    const sentAt = performance.now();
    const sent =
      full.wakeAt === undefined || !host.systemClock
        ? full
        : { ...full, wakeInMs: delayFromNow(full.wakeAt) };
    // The adapter's promise is awaited here, with no async layer of its own in between: a
    // commit is on the path of every checkpoint. Only a failed call is resolved apart.
    let outcome: CommitOutcome;
    try {
      outcome = await storage.commit(sent);
    } catch (error) {
      outcome = await recoverCommit(sent, error);
    }
    if (outcome.ok) {
      seq = outcome.seq;
      if (resuming === resumeFields) resumeFields = NOTHING_RESUMED;
      if (withSession) session = undefined;
      if (full.leaseMs !== undefined) lease.extend(sentAt, true);
      return true;
    }
    if (outcome.reason === "session-conflict") return { kind: "retry" };
    lease.lose(`a commit was refused: ${outcome.reason}`);
    logger.warn(
      { ...fields, seq, reason: outcome.reason, status: full.status },
      outcome.reason === "not-found"
        ? `run ${run.id} is no longer stored (purged?); this process stops executing it`
        : `run ${run.id} lost its lease (another worker took it over, or it was cancelled); this process stops executing it`,
    );
    return { kind: "stopped" };
  };

  /**
   * End the run. A child run first commits its outcome while still `running` and holding
   * its lease, then hands it to its parent, then commits its end: a crash anywhere between
   * leaves a run that a worker claims again and finishes from the second step.
   */
  const finish = async (
    status: "completed" | "failed",
    ending: { result?: string; error?: string },
    alreadyDecided = false,
  ): Promise<ExecutionOutcome> => {
    if (isChild) {
      if (!alreadyDecided) {
        const decided = await commit({ status: "running", ...ending, leaseMs: host.leaseMs });
        if (decided !== true) return decided;
      }
      const outcome: ChildOutcome =
        status === "completed"
          ? { $child: true, ok: true, value: deserialize(ending.result ?? "[-1]") }
          : { $child: true, ok: false, error: deserialize(ending.error ?? "") };
      await retrying("handing a child's outcome to its parent", () =>
        host.notifyParent(run.id, outcome),
      );
    }
    const committed = await commit({ status, ...ending });
    if (committed !== true) return committed;
    return {
      kind: "finished",
      status,
      result: ending.result ?? null,
      error: ending.error ?? null,
    };
  };
  const fail = (error: unknown) => {
    let text = encodeError(error);
    try {
      limitSize(run.id, "The error that ended the run", text, host.maxFrameBytes);
    } catch (tooLarge) {
      text = encodeError(tooLarge);
    }
    return finish("failed", { error: text });
  };

  try {
    return await drive();
  } catch (error) {
    if (error instanceof StorageRetryStopped) return { kind: "stopped" };
    if (error instanceof UnregisteredClassError) return park(error).catch(gaveUp);
    try {
      return await fail(error);
    } catch (again) {
      return gaveUp(again);
    }
  }

  /** The store could not even record the failure: leave the run for a worker to try again. */
  function gaveUp(error: unknown): ExecutionOutcome {
    if (!(error instanceof StorageRetryStopped)) {
      logger.error(
        { ...fields, error },
        "recording a run's failure failed; the run is left to be claimed again",
      );
    }
    return { kind: "stopped" };
  }

  /** A class this process does not register: park the run for a process that has it. */
  async function park(error: UnregisteredClassError): Promise<ExecutionOutcome> {
    const reason = `${error.message} (run ${run.id} of workflow "${definition.name}"); register the class: a worker that registers it resumes the run by itself (handle.retry() or ratchet runs retry hands it to any worker at once)`;
    logger.warn(
      { ...fields, className: error.className },
      "a run was parked: a class is not registered",
    );
    const parked = await commit({ status: "parked", error: serialize(new Error(reason)) });
    return parked === true ? { kind: "stopped" } : parked;
  }

  async function drive(): Promise<ExecutionOutcome> {
    // A child whose outcome is committed but may not have reached its parent: hand it over
    // and end.
    if (isChild && run.status === "running") {
      const decided = childOutcomeOf(run);
      if (decided) {
        return finish(
          decided.ok ? "completed" : "failed",
          decided.ok ? { result: run.result! } : { error: run.error! },
          true,
        );
      }
    }
    const decoded = decodeFrame(run, compiled, definition.options.migrate);
    if ("kind" in decoded) return parkAt(decoded);
    return driveFrom(decoded);
  }

  /**
   * This code cannot resume the run where it is stored. Kept as stored (its wait, wake time
   * and delivered payload too) for code that can, with no lease: the normal claim path
   * never takes a parked run, and an engine whose code can resume it takes it with
   * `claimParked` (compare-and-set on seq).
   */
  async function parkAt(
    decision: Extract<ResumeDecision, { kind: "park" }>,
  ): Promise<ExecutionOutcome> {
    const parked = await commitResolved({
      runId: run.id,
      expectedSeq: seq,
      owner,
      status: "parked",
      error: serialize(decision.reason),
    });
    if (!parked.ok) return { kind: "stopped" };
    return { kind: "parked", checkpoint: decision.checkpoint, reason: decision.reason };
  }

  async function driveFrom(entry: Entry): Promise<ExecutionOutcome> {
    let base = entry.base;
    let partial = entry.partial;
    const state = entry.state;

    const ctx = new MachineContext(
      run.id,
      definition.name,
      run.sessionId ?? undefined,
      host.clock,
      state,
      sessionAccess,
      entry.wait,
    );
    const machine = compiled.machine(ctx, entry.frame);
    const checkpoints = compiled.manifest.checkpoints;
    let next: IteratorResult<MachineRequest, unknown> = await machine.next();

    while (!next.done) {
      const [index, op, live] = next.value;
      const cp = checkpoints[index - 1]!;
      at = cp;
      // Nothing more starts for a run whose lease this process lost: another worker may be
      // executing it already.
      // Asked of the store only when the lease may have lapsed; a lease known to hold costs
      // no await here.
      if (lease.lost || (lease.expired && !(await stillHeld()))) return { kind: "stopped" };
      const operation = op as Operation;
      // Branches that finished before a crash count only for the operation they belong to:
      // the first one reached again after resuming.
      const resumed = partial && partial.cp === cp.id ? partial : undefined;
      partial = undefined;
      // The sequence number tells apart the passes of a checkpoint inside a loop, and is the
      // same again when a crashed attempt is resumed.
      const key = resumed?.key ?? `${run.id}:${cp.id}:${seq + 1}`;

      const suspend =
        operation.kind === "sleep" && operation.until <= host.clock.now()
          ? undefined
          : suspension(operation, key);
      if (suspend) {
        const wakeAt = storableTime(
          suspend.wakeAt ?? null,
          `The ${operation.kind === "sleep" ? "wake time" : "deadline"} at checkpoint ${cp.id} (${location(compiled, cp)}) of run ${run.id}`,
        );
        const text = encodeFrame(
          run.id,
          compiled,
          cp,
          live,
          undefined,
          state,
          host.maxFrameBytes,
          // Every event wait keeps its name and deadline with the frame: a run that waited
          // with a field match may resume on code that tests a predicate there.
          operation.kind === "waitForEvent" ? { name: operation.name, until: wakeAt } : undefined,
        );
        if (operation.kind === "child") {
          // The child first (idempotent: its id comes from this checkpoint's key, the same
          // again when a crashed attempt comes back here), then the parent's wait: a crash
          // between the two leaves a child that the resumed parent finds, never a parent
          // waiting for a child that was never stored.
          let child: StoredRun;
          try {
            child = await retrying("storing a child run", () =>
              host.startChild({
                id: operation.runId ?? key,
                workflow: operation.workflow,
                args: operation.args,
              }),
            );
          } catch (error) {
            if (error instanceof StorageRetryStopped) throw error;
            // The child cannot start (an unknown workflow, arguments its schema refuses):
            // the parent's await throws, as a failed child's would.
            next = await machine.throw(error);
            continue;
          }
          const committed = await commit({ ...suspend, wakeAt, frame: text });
          if (committed !== true) return committed;
          host.onCheckpoint?.({ runId: run.id, workflow: definition.name, checkpoint: cp, seq });
          // A child that ended (or decided its outcome) before the parent waited found no
          // parent to tell: hand its outcome over now.
          const current = await retrying("reading a child run", () => storage.loadRun(child.id));
          const decided = current && childOutcomeOf(current);
          if (decided) {
            await retrying("handing a child's outcome to its parent", () =>
              host.notifyParent(child.id, decided),
            );
          }
          return { kind: "suspended" };
        }
        // No lease: a sleeping or waiting run belongs to no process until it is due.
        const committed = await commit({ ...suspend, wakeAt, frame: text });
        if (committed !== true) return committed;
        host.onCheckpoint?.({ runId: run.id, workflow: definition.name, checkpoint: cp, seq });
        return { kind: "suspended", forEvent: operation.kind === "waitForEvent" };
      }

      let result: unknown;
      let commits: Promise<void> = Promise.resolve();
      let partialFailure: unknown;
      let lostLease = false;
      if (operation.kind === "step") {
        // The common case, kept lean: one step has no branches to checkpoint on their own.
        try {
          result = await performStep(
            operation,
            {
              runId: run.id,
              workflowName: definition.name,
              idempotencyKey: key,
              runSignal: lease.signal,
            },
            host.attemptObserver && { observer: host.attemptObserver, checkpoint: cp.id },
            host.steps,
          );
        } catch (error) {
          if (lease.lost) return { kind: "stopped" };
          next = await machine.throw(error);
          continue;
        }
      } else if (operation.kind !== "sleep") {
        const done = new Map<number, BranchOutcome>(
          resumed ? Object.entries(resumed.done).map(([i, o]) => [Number(i), o]) : undefined,
        );
        const onBranch = (branch: number, outcome: BranchOutcome) => {
          done.set(branch, outcome);
          // One commit at a time; branches finishing meanwhile share the next one.
          commits = commits
            .then(async () => {
              if (lostLease || partialFailure !== undefined) return;
              const frame: PartialFrame = {
                base,
                partial: { cp: cp.id, key, done: Object.fromEntries(done) },
              };
              const text = serializeOrExplain(frame, `the finished branches of ${cp.id}`, {
                checkpoint: cp.id,
                location: location(compiled, cp),
                runId: run.id,
              });
              const committed = await commit(
                { status: "running", frame: text, leaseMs: host.leaseMs },
                false,
              );
              if (committed !== true) {
                lostLease = true;
                // No further branch starts once a commit is refused.
                lease.lose("a commit of finished branches was refused");
              }
            })
            .catch((error: unknown) => {
              partialFailure = error;
            });
        };
        try {
          result = await performOperation(operation, {
            runId: run.id,
            workflowName: definition.name,
            key,
            done,
            onBranch,
            observed: host.attemptObserver && { observer: host.attemptObserver, checkpoint: cp.id },
            steps: host.steps,
            signal: lease.signal,
            gate,
          });
        } catch (error) {
          await commits;
          if (lostLease || lease.lost) return { kind: "stopped" };
          if (partialFailure !== undefined) throw partialFailure;
          next = await machine.throw(error);
          continue;
        }
        await commits;
        if (lostLease || lease.lost) return { kind: "stopped" };
        if (partialFailure !== undefined) throw partialFailure;
      }

      const text = encodeFrame(run.id, compiled, cp, live, result, state, host.maxFrameBytes);
      const committed = await commitFrame(text);
      if (committed !== true) return committed;
      base = text;
      host.onCheckpoint?.({ runId: run.id, workflow: definition.name, checkpoint: cp, seq });
      if (host.closing) {
        await retrying("releasing a lease", () => storage.releaseLease(run.id, owner)).catch(
          () => {},
        );
        return { kind: "stopped" };
      }
      next = await machine.next(result);
    }

    at = undefined;
    const resultText = limitSize(
      run.id,
      `The return value of workflow "${definition.name}"`,
      serializeOrExplain(next.value, `the return value of workflow "${definition.name}"`, {
        runId: run.id,
      }),
      host.maxFrameBytes,
    );
    return finish("completed", { result: resultText });
  }
}
