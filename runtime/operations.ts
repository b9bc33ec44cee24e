import type { Operation, StepOperation } from "./context.js";
import { fnOptionsOf, type ResolvedFnOptions } from "./definitions.js";
import { BatchError } from "./errors.js";
import {
  type AttemptObserver,
  callWithRetries,
  type StepCallContext,
  type StepEnvironment,
} from "./retry.js";

/** How one branch of a concurrent operation ended. */
export type BranchOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

/** What performing an operation needs to know about its run and checkpoint. */
export interface OperationScope {
  readonly runId: string;
  readonly workflowName: string;
  /** The idempotency key of this checkpoint; a branch adds `:<index>`. */
  readonly key: string;
  /** Branches that already finished before a crash, by index: they do not run again. */
  readonly done: ReadonlyMap<number, BranchOutcome>;
  /** Told as each branch finishes, so it can be checkpointed at once. */
  readonly onBranch: (index: number, outcome: BranchOutcome) => void;
  /** The checkpoint's stable id, and who watches its step attempts (history, traces, logs). */
  readonly observed?: { readonly observer: AttemptObserver; readonly checkpoint: string };
  /** Step implementations and timers (default: as defined, real time). */
  readonly steps?: StepEnvironment;
  /**
   * Aborted when the run must stop in this process (its lease was lost, a branch's commit
   * was refused): no further branch or attempt starts, and steps' `ctx.signal` follow it.
   */
  readonly signal?: AbortSignal;
  /**
   * Asked before each branch starts: `undefined` to go on at once, or a promise that
   * settles when the branch may start (rejecting when it must not).
   */
  readonly gate?: () => Promise<void> | undefined;
}

const OPTIONS = new WeakMap<object, ResolvedFnOptions>();

function optionsOf(step: StepOperation): ResolvedFnOptions {
  let options = OPTIONS.get(step.call);
  if (!options) {
    options = fnOptionsOf(step.call);
    OPTIONS.set(step.call, options);
  }
  return step.inline ? { ...options, name: step.name } : options;
}

function callStep(step: StepOperation, scope: OperationScope, key: string): Promise<unknown> {
  return callWithRetries(
    step.call,
    step.args,
    optionsOf(step),
    {
      runId: scope.runId,
      workflowName: scope.workflowName,
      idempotencyKey: key,
      runSignal: scope.signal,
    },
    step.inline,
    scope.observed,
    scope.steps,
  );
}

/**
 * Perform one step, as {@link performOperation} does for an operation of kind `step`,
 * given the step call's context itself: the executor's path for every plain step, which
 * builds no {@link OperationScope} (a step has no branches). Never throws; rejects instead.
 */
export function performStep(
  step: StepOperation,
  context: StepCallContext,
  observed: OperationScope["observed"],
  steps: StepEnvironment | undefined,
): Promise<unknown> {
  try {
    return callWithRetries(
      step.call,
      step.args,
      optionsOf(step),
      context,
      step.inline,
      observed,
      steps,
    );
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Run branches at most `limit` at a time; outcomes in branch order. */
async function runBranches(
  branches: readonly StepOperation[],
  limit: number,
  scope: OperationScope,
): Promise<BranchOutcome[]> {
  const outcomes: BranchOutcome[] = new Array(branches.length);
  const pending: number[] = [];
  branches.forEach((_, i) => {
    const done = scope.done.get(i);
    if (done) outcomes[i] = done;
    else pending.push(i);
  });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pending.length) {
      if (scope.signal?.aborted) throw scope.signal.reason;
      const wait = scope.gate?.();
      if (wait) await wait;
      if (next >= pending.length) break;
      const i = pending[next++]!;
      let outcome: BranchOutcome;
      try {
        outcome = { ok: true, value: await callStep(branches[i]!, scope, `${scope.key}:${i}`) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      outcomes[i] = outcome;
      scope.onBranch(i, outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, pending.length) }, worker));
  return outcomes;
}

/**
 * Perform a durable operation: a step, or a concurrent group of steps whose branches are
 * reported one by one as they finish. Resolves to the value the workflow's `await` gets,
 * or rejects with the error it throws.
 */
export function performOperation(op: Operation, scope: OperationScope): Promise<unknown> {
  // A step is the step's own promise: no async layer around it (one per checkpoint).
  if (op.kind !== "step") return performGroup(op, scope);
  try {
    return callStep(op, scope, scope.key);
  } catch (error) {
    return Promise.reject(error);
  }
}

async function performGroup(op: Operation, scope: OperationScope): Promise<unknown> {
  if (op.kind !== "parallel" && op.kind !== "gather" && op.kind !== "batch" && op.kind !== "map") {
    throw new TypeError(`ctx.${op.kind} is not an operation that runs steps.`);
  }
  const limit =
    op.kind === "parallel" || op.kind === "gather" ? op.branches.length : op.maxConcurrency;
  const outcomes = await runBranches(op.branches, limit, scope);
  switch (op.kind) {
    case "parallel":
    case "gather": {
      const failed = outcomes.find((o) => !o.ok);
      if (failed && !failed.ok) throw failed.error;
      const values = outcomes.map((o) => (o as { value: unknown }).value);
      if (op.kind === "parallel") return values;
      return Object.fromEntries(op.keys.map((k, i) => [k, values[i]]));
    }
    case "batch": {
      const failedItems = outcomes.filter((o) => !o.ok).length;
      return {
        results: outcomes,
        stats: {
          totalItems: outcomes.length,
          completedItems: outcomes.length - failedItems,
          failedItems,
        },
      };
    }
    case "map": {
      const failures = outcomes.flatMap((o, index) => (o.ok ? [] : [{ index, error: o.error }]));
      if (failures.length > 0) throw new BatchError(failures, outcomes.length);
      return outcomes.map((o) => (o as { value: unknown }).value);
    }
  }
}
