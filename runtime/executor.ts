import type { StorageAdapter, StoredRun } from "../adapters/contract.js";
import { MachineContext, type Operation } from "./context.js";
import type { Workflow } from "./definitions.js";
import { CorruptFrameError } from "./errors.js";
import type { CheckpointInfo, CompiledMachine, MachineFrame, MachineRequest } from "./machine.js";
import { type BranchOutcome, performOperation } from "./operations.js";
import { deserialize, serialize, serializeOrExplain, whyUnserializable } from "./serialization.js";

/** A checkpoint as stored: which checkpoint, the live variables, the operation's result. */
interface StoredFrame {
  /** The checkpoint's stable id. */
  readonly cp: string;
  readonly v: Record<string, unknown>;
  readonly r: unknown;
}

/**
 * The branches of a concurrent operation that finished, stored while the others still run:
 * the last checkpoint's frame text (`base`, `null` before the first) is kept as it was
 * committed, so a resumed run re-enters there, reaches the operation again and runs only
 * the branches not in `done`.
 */
interface PartialFrame {
  readonly base: string | null;
  readonly partial: {
    /** The checkpoint id of the operation. */
    readonly cp: string;
    /** Its idempotency key, kept so re-run branches get the same keys. */
    readonly key: string;
    readonly done: Record<number, BranchOutcome>;
  };
}

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
  /** Whether the engine is closing: executions stop at their next checkpoint. */
  readonly closing: boolean;
  readonly onCheckpoint: ((event: CheckpointEvent) => void) | undefined;
}

/** How an execution in this process ended. */
export type ExecutionOutcome =
  | {
      readonly kind: "finished";
      readonly status: "completed" | "failed";
      readonly result: string | null;
      readonly error: string | null;
    }
  /** The engine closed, or another process took the run over: it goes on elsewhere. */
  | { readonly kind: "stopped" };

function location(compiled: CompiledMachine, cp: CheckpointInfo): string {
  return `${compiled.manifest.file}:${cp.line}:${cp.column}`;
}

/**
 * Serialize a checkpoint's frame, or explain exactly which variable (or the step result)
 * cannot be persisted — before anything is committed.
 */
function encodeFrame(
  runId: string,
  compiled: CompiledMachine,
  cp: CheckpointInfo,
  live: Record<string, unknown>,
  result: unknown,
): string {
  const frame: StoredFrame = { cp: cp.id, v: live, r: result };
  try {
    return serialize(frame);
  } catch {
    const context = { checkpoint: cp.id, location: location(compiled, cp), runId };
    for (const [name, value] of Object.entries(live)) {
      if (whyUnserializable(value)) serializeOrExplain(value, `variable "${name}"`, context);
    }
    return serializeOrExplain(result, `the result of ${cp.id}`, context);
  }
}

/** Where a run re-enters, read from its stored frame. */
interface Entry {
  readonly frame: MachineFrame;
  /** The text of the last committed checkpoint's frame. */
  readonly base: string | null;
  readonly partial: PartialFrame["partial"] | undefined;
}

function decodeFrame(run: StoredRun, compiled: CompiledMachine): Entry | string {
  const initial = (): MachineFrame => {
    const args = deserialize(run.args);
    if (!Array.isArray(args)) throw new CorruptFrameError(run.id, "its arguments are not a list");
    return { pc: 0, vars: {}, args, sent: undefined };
  };
  if (run.frame === null) return { frame: initial(), base: null, partial: undefined };
  let stored: StoredFrame | PartialFrame;
  try {
    stored = deserialize(run.frame) as StoredFrame | PartialFrame;
  } catch (error) {
    throw new CorruptFrameError(run.id, (error as Error).message);
  }
  if (typeof stored !== "object" || stored === null) {
    throw new CorruptFrameError(run.id, "it is not a frame");
  }
  let base: string | null = run.frame;
  let partial: PartialFrame["partial"] | undefined;
  if ("partial" in stored) {
    partial = stored.partial;
    base = stored.base;
    if (base === null) return { frame: initial(), base, partial };
    try {
      stored = deserialize(base) as StoredFrame;
    } catch (error) {
      throw new CorruptFrameError(run.id, (error as Error).message);
    }
  }
  if (typeof (stored as StoredFrame).cp !== "string") {
    throw new CorruptFrameError(run.id, "it has no checkpoint id");
  }
  const full = stored as StoredFrame;
  const cp = compiled.manifest.checkpoints.find((c) => c.id === full.cp);
  if (!cp) {
    return `its checkpoint "${full.cp}" does not exist in workflow "${compiled.manifest.name}" version ${compiled.manifest.version}`;
  }
  return { frame: { pc: cp.resume, vars: full.v ?? {}, args: [], sent: full.r }, base, partial };
}

/** The stored form of an error that ended a run. */
function encodeError(error: unknown): string {
  try {
    return serialize(error instanceof Error ? error : new Error(String(error)));
  } catch {
    const e = error as Error;
    return serialize(
      Object.assign(new Error(String(e?.message ?? error)), { name: e?.name ?? "Error" }),
    );
  }
}

/**
 * Drive one run from its stored position to its end (or until the engine closes or loses
 * the lease), committing every checkpoint. This is the runtime's hot path: per checkpoint,
 * one serialization and one storage commit.
 */
export async function executeRun(
  host: ExecutorHost,
  run: StoredRun,
  definition: Workflow,
): Promise<ExecutionOutcome> {
  const compiled = definition.compiled!;
  const { storage, owner } = host;
  let seq = run.seq;

  const finish = async (
    status: "completed" | "failed",
    fields: { result?: string; error?: string },
  ): Promise<ExecutionOutcome> => {
    const outcome = await storage.commit({
      runId: run.id,
      expectedSeq: seq,
      owner,
      status,
      ...fields,
    });
    if (!outcome.ok) return { kind: "stopped" };
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

  const ctx = new MachineContext(run.id, definition.name, run.sessionId ?? undefined);
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
    const key = resumed?.key ?? `${run.id}:${cp.id}:${seq + 1}`;
    const done = new Map<number, BranchOutcome>(
      resumed ? Object.entries(resumed.done).map(([i, o]) => [Number(i), o]) : undefined,
    );
    let commits: Promise<void> = Promise.resolve();
    let partialFailure: unknown;
    let lostLease = false;
    const onBranch = (index: number, outcome: BranchOutcome) => {
      done.set(index, outcome);
      // One commit at a time; branches finishing meanwhile share the next one.
      commits = commits
        .then(async () => {
          if (lostLease || partialFailure !== undefined || done.size === 0) return;
          const frame: PartialFrame = {
            base,
            partial: { cp: cp.id, key, done: Object.fromEntries(done) },
          };
          const text = serializeOrExplain(frame, `the finished branches of ${cp.id}`, {
            checkpoint: cp.id,
            location: location(compiled, cp),
            runId: run.id,
          });
          const outcome = await storage.commit({
            runId: run.id,
            expectedSeq: seq,
            owner,
            status: "running",
            frame: text,
            leaseMs: host.leaseMs,
          });
          if (outcome.ok) seq = outcome.seq;
          else lostLease = true;
        })
        .catch((error: unknown) => {
          partialFailure = error;
        });
    };
    let result: unknown;
    try {
      result = await performOperation(operation, {
        runId: run.id,
        workflowName: definition.name,
        // The sequence number tells apart the iterations of a step inside a loop, and is
        // the same again when a crashed attempt is resumed.
        key,
        done,
        onBranch,
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

    let text: string;
    try {
      text = encodeFrame(run.id, compiled, cp, live, result);
    } catch (error) {
      return fail(error);
    }
    const outcome = await storage.commit({
      runId: run.id,
      expectedSeq: seq,
      owner,
      status: "running",
      frame: text,
      leaseMs: host.leaseMs,
    });
    if (!outcome.ok) return { kind: "stopped" };
    seq = outcome.seq;
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
      {
        runId: run.id,
      },
    );
  } catch (error) {
    return fail(error);
  }
  return finish("completed", { result: resultText });
}
