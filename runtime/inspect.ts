/**
 * What a stored run means, decoded for people and tools: `engine.list()` and
 * `handle.info()` return these, never the storage encoding.
 * @module
 */
import type { RunStatus, StoredRun, StoredStep } from "../adapters/contract.js";
import type { PartialFrame, StoredFrame, StoredWait } from "./executor.js";
import type { MachineManifest } from "./machine.js";
import { deserialize } from "./serialization.js";

/** Where a run is: the checkpoint its last commit recorded. */
export interface RunCheckpoint {
  /** The checkpoint's stable id, e.g. `step:chargeCustomer`. */
  readonly id: string;
  /**
   * Where its `await` is in the source (`file`, 1-based `line` and `column`), when the
   * looking engine has the workflow version the run was stored with.
   */
  readonly source?: { readonly file: string; readonly line: number; readonly column: number };
}

/** What a `waiting` run waits for. */
export type RunWait =
  | {
      readonly kind: "user";
      readonly question: string;
      readonly inputType: "approval" | "choice" | "text";
      readonly options: readonly { readonly id: string; readonly label?: string }[];
    }
  | {
      readonly kind: "event";
      readonly name: string;
      readonly match: Readonly<Record<string, unknown>> | null;
    }
  | { readonly kind: "child"; readonly runId: string };

/** One attempt of a step, as recorded when `createEngine({ history: true })`. */
export interface StepAttempt {
  /** The step's name (the `fn`'s, or an inline step's). */
  readonly name: string;
  /** The checkpoint the step belongs to. */
  readonly checkpoint: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly startedAt: Date;
  readonly endedAt: Date;
  /** The attempt's error, when it threw. */
  readonly error?: { readonly name: string; readonly message: string };
}

/** A stored run, decoded. */
export interface RunInfo<R = unknown> {
  readonly id: string;
  readonly workflow: string;
  /** The version hash of the compiled workflow the run was started with. */
  readonly version: string;
  /** As stored; see {@link RunInfo.parkedReason}. */
  readonly status: RunStatus;
  /** Why the run is parked (stored as parked, or its version is not the looking engine's). */
  readonly parkedReason?: string;
  /** The workflow's arguments. */
  readonly args: readonly unknown[];
  /** The return value, once `completed`. */
  readonly result?: R;
  /** The error that ended a `failed` or `cancelled` run, rebuilt with its class name. */
  readonly error?: Error;
  /** The last committed checkpoint, or `null` before the first. */
  readonly checkpoint: RunCheckpoint | null;
  /** The live variables stored at that checkpoint, by name. */
  readonly variables: Readonly<Record<string, unknown>>;
  /** The run-scoped state (`ctx.state`) at that checkpoint. */
  readonly state: ReadonlyMap<string, unknown>;
  /** Branches of a `parallel`/`gather`/`batch` already finished while others run. */
  readonly finishedBranches?: number;
  /** What a `waiting` run waits for. */
  readonly wait?: RunWait;
  /** When a `sleeping` run wakes, or a `waiting` run's wait times out. */
  readonly wakeAt?: Date;
  readonly sessionId: string | null;
  readonly idempotencyKey: string | null;
  /** The worker holding the run's lease, and until when. */
  readonly lease: { readonly owner: string; readonly expiresAt: Date } | null;
  readonly createdAt: Date;
  /** The time of the last commit. */
  readonly updatedAt: Date;
  /** How many commits the run has made. */
  readonly commits: number;
  /** The step attempts recorded for the run (only with `createEngine({ history: true })`). */
  readonly steps?: readonly StepAttempt[];
  /** Set when part of the stored run could not be decoded: what was wrong. */
  readonly decodeError?: string;
}

function decode(text: string): unknown {
  return deserialize(text);
}

/** An error as stored, or a park reason (a plain string), as an `Error`. */
function decodeError(text: string): Error {
  const value = decode(text);
  if (value instanceof Error) return value;
  return new Error(typeof value === "string" ? value : String(value));
}

/**
 * Decode a stored run. A part that cannot be decoded (a corrupt frame, a class not
 * registered in this process) is left out and explained in `decodeError`, so one bad run
 * never hides the others from a listing.
 */
export function describeRun<R = unknown>(
  run: StoredRun,
  manifest?: MachineManifest,
  parkedReason?: string,
): RunInfo<R> {
  const problems: string[] = [];
  const attempt = <T>(what: string, read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      problems.push(`${what}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const args = attempt("arguments", () => decode(run.args) as unknown[]) ?? [];
  let checkpoint: RunCheckpoint | null = null;
  let variables: Record<string, unknown> = {};
  let state = new Map<string, unknown>();
  let finishedBranches: number | undefined;
  if (run.frame !== null) {
    attempt("frame", () => {
      let stored = decode(run.frame!) as StoredFrame | PartialFrame;
      if ("partial" in stored) {
        finishedBranches = Object.keys(stored.partial.done).length;
        if (stored.base === null) {
          checkpoint = null;
          return;
        }
        stored = decode(stored.base) as StoredFrame;
      }
      const full = stored as StoredFrame;
      const cp = manifest?.checkpoints.find((c) => c.id === full.cp);
      checkpoint = cp
        ? { id: full.cp, source: { file: manifest!.file, line: cp.line, column: cp.column } }
        : { id: full.cp };
      variables = { ...(full.v ?? {}) };
      state = new Map(full.st ?? []);
    });
  }
  let wait: RunWait | undefined;
  // A run that failed at a wait keeps it (a retry resumes there): it waits for nothing now.
  if (run.wait && run.status !== "failed" && run.status !== "pending") {
    const stored = attempt("wait", () => decode(run.wait!) as StoredWait);
    if (stored?.kind === "user") {
      wait = {
        kind: "user",
        question: stored.question,
        inputType: stored.inputType,
        options: stored.options,
      };
    } else if (stored?.kind === "event") {
      wait = { kind: "event", name: stored.name, match: stored.match };
    } else if (stored?.kind === "child") {
      wait = { kind: "child", runId: stored.child };
    }
  }
  const info: {
    -readonly [K in keyof RunInfo<R>]: RunInfo<R>[K];
  } = {
    id: run.id,
    workflow: run.workflow,
    version: run.version,
    status: run.status,
    args,
    checkpoint,
    variables,
    state,
    sessionId: run.sessionId,
    idempotencyKey: run.idempotencyKey,
    lease:
      run.leaseOwner !== null && run.leaseExpiresAt !== null
        ? { owner: run.leaseOwner, expiresAt: new Date(run.leaseExpiresAt) }
        : null,
    createdAt: new Date(run.createdAt),
    updatedAt: new Date(run.updatedAt),
    commits: run.seq,
  };
  if (run.status === "parked") {
    info.parkedReason =
      run.error === null
        ? "parked"
        : (attempt("park reason", () => decodeError(run.error!).message) ?? run.error);
  } else if (parkedReason !== undefined) {
    info.parkedReason = parkedReason;
  }
  if (run.status === "completed" && run.result !== null) {
    const result = attempt("result", () => decode(run.result!) as R);
    if (result !== undefined) info.result = result;
  }
  if ((run.status === "failed" || run.status === "cancelled") && run.error !== null) {
    const error = attempt("error", () => decodeError(run.error!));
    if (error) info.error = error;
  }
  if (finishedBranches !== undefined) info.finishedBranches = finishedBranches;
  if (wait) info.wait = wait;
  if (run.wakeAt != null) info.wakeAt = new Date(run.wakeAt);
  if (problems.length > 0) info.decodeError = problems.join("; ");
  return info;
}

/** A recorded step attempt, decoded. */
export function describeStep(step: StoredStep): StepAttempt {
  const attempt: { -readonly [K in keyof StepAttempt]: StepAttempt[K] } = {
    name: step.name,
    checkpoint: step.checkpoint,
    attempt: step.attempt,
    startedAt: new Date(step.startedAt),
    endedAt: new Date(step.endedAt),
  };
  if (step.error !== null) {
    try {
      const error = decodeError(step.error);
      attempt.error = { name: error.name, message: error.message };
    } catch (error) {
      attempt.error = { name: "Error", message: `(undecodable: ${(error as Error).message})` };
    }
  }
  return attempt;
}
