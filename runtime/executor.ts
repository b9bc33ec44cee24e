import type { StorageAdapter, StoredRun } from "../adapters/contract.js";
import { MachineContext, type Operation } from "./context.js";
import { fnOptionsOf, type ResolvedFnOptions, type Workflow } from "./definitions.js";
import { CorruptFrameError } from "./errors.js";
import type { CheckpointInfo, CompiledMachine, MachineFrame, MachineRequest } from "./machine.js";
import { callWithRetries } from "./retry.js";
import { deserialize, serialize, serializeOrExplain, whyUnserializable } from "./serialization.js";

/** A checkpoint as stored: which checkpoint, the live variables, the operation's result. */
interface StoredFrame {
  /** The checkpoint's stable id. */
  readonly cp: string;
  readonly v: Record<string, unknown>;
  readonly r: unknown;
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

const STEP_OPTIONS_CACHE = new WeakMap<object, ResolvedFnOptions>();

function stepOptions(op: Operation): ResolvedFnOptions {
  let options = STEP_OPTIONS_CACHE.get(op.call);
  if (!options) {
    options = fnOptionsOf(op.call);
    STEP_OPTIONS_CACHE.set(op.call, options);
  }
  return op.inline ? { ...options, name: op.name } : options;
}

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

function decodeFrame(run: StoredRun, compiled: CompiledMachine): MachineFrame | string {
  if (run.frame === null) {
    const args = deserialize(run.args);
    if (!Array.isArray(args)) throw new CorruptFrameError(run.id, "its arguments are not a list");
    return { pc: 0, vars: {}, args, sent: undefined };
  }
  let stored: StoredFrame;
  try {
    stored = deserialize(run.frame) as StoredFrame;
  } catch (error) {
    throw new CorruptFrameError(run.id, (error as Error).message);
  }
  if (typeof stored !== "object" || stored === null || typeof stored.cp !== "string") {
    throw new CorruptFrameError(run.id, "it has no checkpoint id");
  }
  const cp = compiled.manifest.checkpoints.find((c) => c.id === stored.cp);
  if (!cp) {
    return `its checkpoint "${stored.cp}" does not exist in workflow "${compiled.manifest.name}" version ${compiled.manifest.version}`;
  }
  return { pc: cp.resume, vars: stored.v ?? {}, args: [], sent: stored.r };
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

  let frame: MachineFrame | string;
  try {
    frame = decodeFrame(run, compiled);
  } catch (error) {
    return fail(error);
  }
  if (typeof frame === "string") return fail(new CorruptFrameError(run.id, frame));

  const ctx = new MachineContext(run.id, definition.name, run.sessionId ?? undefined);
  const machine = compiled.machine(ctx, frame);
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
    let result: unknown;
    try {
      const operation = op as Operation;
      result = await callWithRetries(
        operation.call,
        operation.args,
        stepOptions(operation),
        {
          runId: run.id,
          workflowName: definition.name,
          // The sequence number tells apart the iterations of a step inside a loop, and is
          // the same again when a crashed attempt is resumed.
          idempotencyKey: `${run.id}:${cp.id}:${seq + 1}`,
        },
        operation.inline,
      );
    } catch (error) {
      try {
        next = await machine.throw(error);
        continue;
      } catch (uncaught) {
        return fail(uncaught);
      }
    }

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
