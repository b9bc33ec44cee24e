import type { Commit, StorageAdapter, StoredRun } from "../adapters/contract.js";
import { type Clock, MachineContext, type Operation, type SessionAccess } from "./context.js";
import type { Workflow } from "./definitions.js";
import { CorruptFrameError, DefinitionError, TimeoutError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { CheckpointInfo, CompiledMachine, MachineFrame, MachineRequest } from "./machine.js";
import { type BranchOutcome, performOperation } from "./operations.js";
import type { AttemptObserver, StepEnvironment } from "./retry.js";
import { deserialize, serialize, serializeOrExplain, whyUnserializable } from "./serialization.js";

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
  /** Whether the engine is closing: executions stop at their next checkpoint. */
  readonly closing: boolean;
  readonly onCheckpoint: ((event: CheckpointEvent) => void) | undefined;
  /** Watches step attempts (history, traces, logs). */
  readonly attemptObserver: AttemptObserver | undefined;
  readonly logger: Logger;
  /**
   * Store the child run (idempotently: the same id returns the stored run) and start it
   * when this engine can; resolves to the stored child.
   */
  startChild(child: { id: string; workflow: string; args: readonly unknown[] }): Promise<StoredRun>;
  /** Hand a finished child's outcome to its waiting parent (exactly once). */
  notifyParent(child: StoredRun): Promise<void>;
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

/** The event a parent waits for: its child's end. */
export function childEvent(childId: string): string {
  return `ratchet.child:${childId}`;
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
  | { readonly kind: "suspended" }
  /** The engine closed, or another process took the run over or cancelled it. */
  | { readonly kind: "stopped" }
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
): string {
  const frame: StoredFrame =
    state.size > 0
      ? { cp: cp.id, v: live, r: result, st: state }
      : { cp: cp.id, v: live, r: result };
  try {
    return serialize(frame);
  } catch {
    const context = { checkpoint: cp.id, location: location(compiled, cp), runId };
    for (const [name, value] of Object.entries(live)) {
      if (whyUnserializable(value)) serializeOrExplain(value, `variable "${name}"`, context);
    }
    for (const [key, value] of state) {
      if (whyUnserializable(value)) serializeOrExplain(value, `state "${key}"`, context);
    }
    serializeOrExplain(result, `the result of ${cp.id}`, context);
    // Every part alone can be stored but not all of them together (a reference between
    // them the serializer cannot rebuild): explain the frame as a whole.
    return serializeOrExplain(frame, `the frame of ${cp.id}`, context);
  }
}

/** Where a run re-enters, read from its stored frame. */
interface Entry {
  readonly frame: { -readonly [K in keyof MachineFrame]: MachineFrame[K] };
  /** The text of the last committed checkpoint's frame. */
  readonly base: string | null;
  readonly partial: PartialFrame["partial"] | undefined;
  readonly state: Map<string, unknown>;
}

function parse<T>(run: StoredRun, text: string): T {
  try {
    return deserialize(text) as T;
  } catch (error) {
    throw new CorruptFrameError(run.id, (error as Error).message);
  }
}

function decodeFrame(run: StoredRun, compiled: CompiledMachine): Entry | string {
  const initial = (partial: PartialFrame["partial"] | undefined): Entry => {
    const args = parse<unknown>(run, run.args);
    if (!Array.isArray(args)) throw new CorruptFrameError(run.id, "its arguments are not a list");
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
  const cp = compiled.manifest.checkpoints.find((c) => c.id === full.cp);
  if (!cp) {
    return `its checkpoint "${full.cp}" does not exist in workflow "${compiled.manifest.name}" version ${compiled.manifest.version}`;
  }
  const frame: Entry["frame"] = {
    pc: cp.resume,
    vars: full.v ?? {},
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
  return { frame, base, partial, state: new Map(full.st ?? []) };
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

const NO_BRANCHES: ReadonlyMap<number, BranchOutcome> = new Map();
const ignoreBranch = (): void => {};

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
      const wait: StoredWait = { kind: "event", id: key, name: op.name, match: op.match };
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

/**
 * Drive one run from its stored position to its end (or until it sleeps or waits, the
 * engine closes, or another process takes it), committing every checkpoint. This is the
 * runtime's hot path: per checkpoint, one serialization and one storage commit.
 */
export async function executeRun(
  host: ExecutorHost,
  run: StoredRun,
  definition: Workflow,
): Promise<ExecutionOutcome> {
  const compiled = definition.compiled!;
  const { storage, owner } = host;
  let seq = run.seq;
  // The first commit after resuming from a wait consumes what was delivered.
  let resumeFields: Pick<Commit, "wakeAt" | "wait" | "inbox"> =
    run.wait != null || run.inbox != null || run.wakeAt != null
      ? { wakeAt: null, wait: null, inbox: null }
      : {};
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
    if (!storage.loadSession) {
      throw new DefinitionError(`The ${storage.name} adapter does not support session state.`);
    }
    const stored = await storage.loadSession(run.sessionId);
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

  /** Commit; `true`, or how the execution ends because the commit did not apply. */
  const commit = async (
    fields: Omit<Commit, "runId" | "expectedSeq" | "owner">,
    withSession = true,
  ): Promise<true | ExecutionOutcome> => {
    const write =
      withSession && session?.dirty && run.sessionId
        ? {
            session: {
              id: run.sessionId,
              expectedVersion: session.version,
              state: serializeOrExplain(session.state, "the session state", { runId: run.id }),
            },
          }
        : {};
    const outcome = await storage.commit({
      runId: run.id,
      expectedSeq: seq,
      owner,
      ...resumeFields,
      ...fields,
      ...write,
    });
    if (outcome.ok) {
      seq = outcome.seq;
      resumeFields = {};
      if (withSession) session = undefined;
      return true;
    }
    if (outcome.reason === "lease-lost" || outcome.reason === "not-found") {
      host.logger.warn(
        { runId: run.id, workflow: definition.name, reason: outcome.reason, status: fields.status },
        outcome.reason === "lease-lost"
          ? `run ${run.id} lost its lease (another worker took it over, or it was cancelled); this process stops executing it`
          : `run ${run.id} is no longer stored (purged?); this process stops executing it`,
      );
    }
    return outcome.reason === "session-conflict" ? { kind: "retry" } : { kind: "stopped" };
  };

  const finish = async (
    status: "completed" | "failed",
    fields: { result?: string; error?: string },
  ): Promise<ExecutionOutcome> => {
    const committed = await commit({ status, ...fields });
    if (committed !== true) return committed;
    return { kind: "finished", status, result: fields.result ?? null, error: fields.error ?? null };
  };
  const fail = (error: unknown) => finish("failed", { error: encodeError(error) });

  let entry: Entry | string;
  try {
    entry = decodeFrame(run, compiled);
  } catch (error) {
    return fail(error);
  }
  if (typeof entry === "string") return fail(new CorruptFrameError(run.id, entry));
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
  );
  const machine = compiled.machine(ctx, entry.frame);
  const checkpoints = compiled.manifest.checkpoints;
  let next: IteratorResult<MachineRequest, unknown>;
  try {
    next = await machine.next();
  } catch (error) {
    return fail(error);
  }

  while (!next.done) {
    const [index, op, live] = next.value;
    const cp = checkpoints[index - 1]!;
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
      let text: string;
      try {
        text = encodeFrame(run.id, compiled, cp, live, undefined, state);
      } catch (error) {
        return fail(error);
      }
      // No lease: a sleeping or waiting run belongs to no process until it is due.
      const committed = await commit({ ...suspend, frame: text });
      if (committed !== true) return committed;
      host.onCheckpoint?.({ runId: run.id, workflow: definition.name, checkpoint: cp, seq });
      if (operation.kind === "child") {
        // Waiting first, then starting the child, so its end always finds the parent
        // waiting; a child that already ended (this checkpoint ran before a crash) is
        // handed over at once.
        try {
          const child = await host.startChild({
            id: operation.runId ?? key,
            workflow: operation.workflow,
            args: operation.args,
          });
          if (
            child.status === "completed" ||
            child.status === "failed" ||
            child.status === "cancelled"
          ) {
            await host.notifyParent(child);
          }
        } catch (error) {
          // The parent is already waiting: deliver the failure to start as the child's error.
          const wait = suspend.wait as { spec: string };
          await storage.deliver?.({
            runId: run.id,
            wait: wait.spec,
            payload: serialize({ $child: true, ok: false, error } satisfies ChildOutcome),
          });
        }
      }
      return { kind: "suspended" };
    }

    let result: unknown;
    let commits: Promise<void> = Promise.resolve();
    let partialFailure: unknown;
    let lostLease = false;
    if (operation.kind === "step") {
      // The common case, kept lean: one step has no branches to checkpoint on their own.
      try {
        result = await performOperation(operation, {
          runId: run.id,
          workflowName: definition.name,
          key,
          done: NO_BRANCHES,
          onBranch: ignoreBranch,
          observed: host.attemptObserver && { observer: host.attemptObserver, checkpoint: cp.id },
          steps: host.steps,
        });
      } catch (error) {
        try {
          next = await machine.throw(error);
          continue;
        } catch (uncaught) {
          return fail(uncaught);
        }
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
            if (committed !== true) lostLease = true;
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
        });
      } catch (error) {
        await commits;
        if (lostLease) return { kind: "stopped" };
        try {
          next = await machine.throw(error);
          continue;
        } catch (uncaught) {
          return fail(uncaught);
        }
      }
      await commits;
      if (lostLease) return { kind: "stopped" };
      if (partialFailure !== undefined) return fail(partialFailure);
    }

    let text: string;
    try {
      text = encodeFrame(run.id, compiled, cp, live, result, state);
    } catch (error) {
      return fail(error);
    }
    const committed = await commit({ status: "running", frame: text, leaseMs: host.leaseMs });
    if (committed !== true) return committed;
    base = text;
    host.onCheckpoint?.({ runId: run.id, workflow: definition.name, checkpoint: cp, seq });
    if (host.closing) {
      await storage.releaseLease(run.id, owner);
      return { kind: "stopped" };
    }
    try {
      next = await machine.next(result);
    } catch (error) {
      return fail(error);
    }
  }

  let resultText: string;
  try {
    resultText = serializeOrExplain(
      next.value,
      `the return value of workflow "${definition.name}"`,
      { runId: run.id },
    );
  } catch (error) {
    return fail(error);
  }
  return finish("completed", { result: resultText });
}
