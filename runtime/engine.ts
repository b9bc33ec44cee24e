import {
  type RunQuery,
  type RunStatus,
  type StorageAdapter,
  type StoredRun,
  type StoredStep,
  terminalStatuses,
} from "../adapters/contract.js";
import type { Clock, WorkflowContext } from "./context.js";
import { type InputSchema, refuseUnknownOptions, type Workflow } from "./definitions.js";
import { type Duration, toMilliseconds } from "./duration.js";
import {
  CancelledError,
  DefinitionError,
  InputError,
  RatchetError,
  RunNotFoundError,
  UnknownWorkflowError,
  WorkflowNotCompiledError,
} from "./errors.js";
import {
  CHILD_EVENT,
  CHILD_KEY,
  type CheckpointEvent,
  type ChildOutcome,
  childEvent,
  childOutcomeOf,
  type ExecutionOutcome,
  executeRun,
  readableHere,
  type StoredWait,
  storedPosition,
} from "./executor.js";
import { describeRun, describeStep, type RunInfo } from "./inspect.js";
import { RunLease } from "./lease.js";
import { type Logger, stderrLogger } from "./logger.js";
import { type AttemptInfo, type AttemptObserver, delay, type StepEnvironment } from "./retry.js";
import { classRegistrations, deserialize, serialize, serializeOrExplain } from "./serialization.js";
import { retryStorage, StorageRetryStopped } from "./storage-faults.js";
import { fail as failSpan, registeredTracing, type TraceSpan } from "./tracing.js";
import { decideResume, type ResumeDecision } from "./versioning.js";
import { type WebhookSource, Webhooks } from "./webhooks.js";

/** Refused by `engine.respond` or `engine.emit`: the answer or run does not fit. */
export class DeliveryError extends RatchetError {
  constructor(message: string) {
    super("RATCHET_DELIVERY", message);
  }
}

const systemClock: Clock = { now: () => Date.now() };

/**
 * A workflow as engines take it: a definition made by `workflow(...)`, or a static method
 * decorated with `@workflow` (which the compiler turns into such a definition).
 */
export type WorkflowRef<A extends unknown[] = unknown[], R = unknown> =
  | Workflow<A, R>
  | ((ctx: WorkflowContext, ...args: A) => Promise<R>);

/** Any workflow, whatever its argument and result types. */
export type AnyWorkflowRef =
  | Workflow<unknown[], unknown>
  | ((ctx: WorkflowContext, ...args: never[]) => Promise<unknown>);

/** Options of the in-process worker. */
export interface WorkerOptions {
  /** How long a claim lasts without renewal (default 30 s). A dead process's runs are taken over after this. */
  readonly leaseMs?: number;
  /** How often to look for runnable runs (default 1 s). */
  readonly pollIntervalMs?: number;
  /** How many runs this process executes at once (default 100). */
  readonly maxConcurrentRuns?: number;
  /**
   * How often to look for parked runs this code can now resume (default 60 s); also done
   * when the worker starts, and soon after this process registers a class.
   */
  readonly parkedCheckIntervalMs?: number;
}

/** Options of {@link createEngine}. */
export interface EngineOptions {
  readonly storage: StorageAdapter;
  /** The workflows this engine can start and execute. */
  readonly workflows: readonly AnyWorkflowRef[];
  /**
   * The worker: a loop in this process that claims runnable runs (new, or abandoned by a
   * dead process once their lease expired). Default on; `false` makes a producer-only engine.
   */
  readonly worker?: boolean | WorkerOptions;
  /** Called after every committed checkpoint, synchronously. */
  readonly onCheckpoint?: (event: CheckpointEvent) => void;
  /** The time source for sleeps and wait timeouts (default: the system clock); see `createTestClock`. */
  readonly clock?: Clock;
  /**
   * Webhook sources by name, for `engine.handleWebhook` (`POST …/webhooks/<source>`):
   * `{ secret, scheme?, tolerance?, maxBodyBytes?, eventType? }`.
   */
  readonly webhooks?: Readonly<Record<string, WebhookSource>>;
  /**
   * Where the engine reports what operators must know (storage errors, lost leases, parked
   * runs, exhausted retries): any pino-style logger. Default: warnings and errors to stderr.
   */
  readonly logger?: Logger;
  /**
   * How long finished runs (completed, failed, cancelled) are kept after their last commit
   * before the worker deletes them, with their step history and the session state no
   * other run shares: a duration (default `"30d"`), or `false` to keep them forever.
   * Only engines with a worker delete, and only on adapters that can (`purge`).
   */
  readonly retention?: Duration | false;
  /**
   * Record every step attempt (name, attempt, start, end, error) in storage, for
   * `handle.info()` and `ratchet runs show`. Off by default: one extra write per batch of
   * attempts. Needs an adapter with step history (`recordSteps`).
   */
  readonly history?: boolean;
  /**
   * OpenTelemetry spans for each run's execution and each step attempt, on the tracer
   * provider an SDK registered with `@opentelemetry/api` (default `true`; nothing is
   * imported, and nothing is done without a registered SDK). `false` turns them off.
   */
  readonly tracing?: boolean;
  /**
   * The largest checkpoint frame (live variables, the step's result, run state), return
   * value or error a run may commit, serialized, in bytes (default 2 MiB). A larger one is
   * refused before anything is written: that run fails with `FrameTooLargeError` naming its
   * largest variables; other runs carry on.
   */
  readonly maxFrameBytes?: number;
}

/** How long a read made for a caller (`get`, `status`, `info`) is retried on storage faults. */
const readRetryMs = 10_000;

/** The retention when `createEngine` is given none. */
export const defaultRetention: Duration = "30d";

/** Options of {@link Engine.purge}. */
export interface PurgeOptions {
  /**
   * Delete only runs whose last commit is at least this old (default: the engine's
   * `retention`, or 30 days when it keeps runs forever). `0` deletes every finished run.
   */
  readonly olderThan?: Duration;
  /** Only runs with these statuses, all of them finished (default: completed, failed and cancelled). */
  readonly status?: FinishedStatus | readonly FinishedStatus[];
  /** Told the running total after each batch of deletions. */
  readonly onProgress?: (deleted: number) => void;
}

/** The statuses a run ends with. */
export type FinishedStatus = "completed" | "failed" | "cancelled";

/** What `engine.emit` did. */
export interface EmitOutcome {
  /** Runs started by `event(name)` triggers. */
  readonly started: string[];
  /**
   * Waiting runs the payload was delivered to. With `runId`: that run, if it was waiting
   * for the event now; otherwise empty, and the event is kept for it.
   */
  readonly delivered: string[];
  /** Triggered workflows whose `input` schema refused the payload (nothing started there). */
  readonly rejected: { readonly workflow: string; readonly error: InputError }[];
}

/** Options of {@link Engine.emit}. */
export interface EmitOptions {
  /**
   * The event's own id (a delivery id, a message id). A repeated emit with the same key
   * starts no new run: each triggered workflow's run is stored under the key, so a retried
   * emit, even from another process, gets the runs the first one started; a run the
   * event was delivered (or, with `runId`, kept) for under the key gets nothing again.
   */
  readonly idempotencyKey?: string;
  /**
   * Address the event to this run only: it is stored for the run (durably, in the
   * adapter) until the run waits for an event of this name whose `match` accepts it, then
   * delivered exactly once — at once if the run waits for it now. No other run gets it
   * and no trigger starts. Rejects with `RunNotFoundError` for an unknown run and
   * `DeliveryError` for one that has ended.
   */
  readonly runId?: string;
}

/** Options of {@link Engine.start}. */
export interface StartOptions {
  /** Use this run id instead of a random one. */
  readonly runId?: string;
  readonly sessionId?: string;
  /** A second start with the same key returns the first run and starts nothing. */
  readonly idempotencyKey?: string;
}

/** A stored run, seen from an engine. */
export interface RunHandle<R = unknown> {
  readonly id: string;
  /** The run's status now. `parked` when it needs a workflow version this engine does not have. */
  status(): Promise<RunStatus>;
  /** Why the run is parked, or `undefined` when it is not. */
  parkedReason(): Promise<string | undefined>;
  /** Wait for the run to end; resolves to its return value or rejects with its error. */
  result(): Promise<R>;
  /**
   * Cancel the run: its status becomes `cancelled` at once (final), and a process still
   * executing it stops at its next checkpoint. Resolves to `false` when it had already ended.
   */
  cancel(): Promise<boolean>;
  /**
   * Resume a failed run from its last checkpoint: the step that failed runs again with a
   * fresh attempt count. A run a worker parked (its frame names a class that worker does
   * not register) is made claimable again the same way. Resolves to `false` when the run
   * is neither `failed` nor parked so.
   */
  retry(): Promise<boolean>;
  /**
   * The run decoded: status, arguments, result or error, the checkpoint it is at (with its
   * source position when this engine has its version), its live variables and state, and
   * its step attempts when step history is recorded.
   */
  info(): Promise<RunInfo<R>>;
}

/** Starts, executes and looks up runs. Made by {@link createEngine}. */
export interface Engine {
  /**
   * Store a new run and, when this engine has a worker, start executing it at once. A storage
   * error is not retried here: it rejects, and the run may or may not have been stored (the
   * answer can be lost after the store wrote it). Pass an `idempotencyKey` and call `start`
   * again to get the run exactly once.
   */
  start<A extends unknown[], R>(
    workflow: Workflow<A, R>,
    args: NoInfer<A>,
    options?: StartOptions,
  ): Promise<RunHandle<R>>;
  /** The same, for a static method decorated with `@workflow`. */
  start<A extends unknown[], R>(
    workflow: (ctx: WorkflowContext, ...args: A) => Promise<R>,
    args: NoInfer<A>,
    options?: StartOptions,
  ): Promise<RunHandle<Awaited<R>>>;
  /** `start` and wait for the result. */
  run<A extends unknown[], R>(
    workflow: Workflow<A, R>,
    args: NoInfer<A>,
    options?: StartOptions,
  ): Promise<R>;
  /** The same, for a static method decorated with `@workflow`. */
  run<A extends unknown[], R>(
    workflow: (ctx: WorkflowContext, ...args: A) => Promise<R>,
    args: NoInfer<A>,
    options?: StartOptions,
  ): Promise<Awaited<R>>;
  /** A handle for any stored run; rejects with `RunNotFoundError` for an unknown id. */
  get<R = unknown>(runId: string): Promise<RunHandle<R>>;
  /** Stored runs, newest first, decoded (without step history; see `RunHandle.info`). */
  list(query?: RunQuery): Promise<RunInfo[]>;
  /**
   * Delete finished runs whose last commit is older than `olderThan` (default: the
   * retention), with their step history and the session state no remaining run shares.
   * Resolves to how many runs were deleted.
   */
  purge(options?: PurgeOptions): Promise<number>;
  /**
   * Answer a run's `ctx.waitForUser`: the id of one of its options (approval, choice) or a
   * string (text). Refused with `DeliveryError` when the run is not waiting for a person,
   * the answer is not one of the options, or the question was already answered.
   */
  respond(runId: string, answer: string): Promise<void>;
  /**
   * Emit an event: deliver `payload` to every run waiting for `name` whose `match` fits,
   * and start every workflow with a matching `event(name)` trigger (the payload as its one
   * argument). Resolves to the ids of the runs started and delivered to. With
   * `options.runId`, the event goes to that run alone, now or when it waits for it.
   */
  emit(name: string, payload: unknown, options?: EmitOptions): Promise<EmitOutcome>;
  /**
   * A fetch-standard handler for `POST …/webhooks/<source>`: verifies the signature, then
   * starts the workflows whose `webhook(source, { event })` trigger matches, the parsed JSON
   * payload as their argument. Answers 202 `{ runIds }` (a redelivery: the same runs), 404
   * unknown source, 405 not POST, 401 bad or stale signature, 413 body too large, 400 body
   * not JSON or refused by a workflow's `input` schema (then nothing starts).
   */
  handleWebhook(request: Request): Promise<Response>;
  /** Stop the worker (runs in flight stop at their next checkpoint), release leases, close storage. */
  close(): Promise<void>;
}

type Finished = Extract<ExecutionOutcome, { kind: "finished" }>;

/** Whether a schema validates the whole argument list (a zod tuple) rather than the one argument. */
function isTupleSchema(schema: InputSchema): boolean {
  const s = schema as { _zod?: { def?: { type?: string } }; _def?: { typeName?: string } };
  return s._zod?.def?.type === "tuple" || s._def?.typeName === "ZodTuple";
}

/** The arguments as the workflow's `input` schema outputs them; `InputError` when they fail it. */
async function checkInput(definition: Workflow, args: readonly unknown[]): Promise<unknown[]> {
  const schema = definition.options.input;
  if (!schema) return [...args];
  const whole = isTupleSchema(schema);
  const result = await schema["~standard"].validate(whole ? args : args[0]);
  if (result.issues) throw new InputError(definition.name, result.issues);
  return whole ? [...(result.value as unknown[])] : [result.value, ...args.slice(1)];
}

/** Whether every field of `match` equals (===) the payload's. */
function matches(payload: unknown, match: Readonly<Record<string, unknown>>): boolean {
  if (typeof payload !== "object" || payload === null) return false;
  return Object.entries(match).every(([k, v]) => (payload as Record<string, unknown>)[k] === v);
}

/** A step attempt's error as the step history stores it: its class name and message. */
function encodeAttemptError(error: unknown): string {
  const e = error instanceof Error ? error : new Error(String(error));
  const plain = new Error(String(e.message));
  plain.name = String(e.name);
  return serialize(plain);
}

/** The error of a failed run as stored, decoded. */
function runError(text: string | null): Error {
  try {
    const error = text === null ? undefined : deserialize(text);
    return error instanceof Error ? error : new Error(String(error));
  } catch {
    return new Error("the run failed");
  }
}

/**
 * Call `f` once the promise jobs queued so far, and those they queue, have run: a tick in
 * Node, which fake timers (`vi.useFakeTimers()`) leave alone, unlike `setImmediate`, which
 * they hold until advanced; elsewhere (a browser, where the runtime also runs) a timer.
 */
const afterPromiseJobs: (f: () => void) => void =
  typeof process !== "undefined" && typeof process.nextTick === "function"
    ? (f) => process.nextTick(f)
    : (f) => setTimeout(f, 0);

/** A parked run's stored reason, as text. */
function parkReasonOf(run: StoredRun): string {
  if (run.error === null) return "parked (no reason stored)";
  try {
    const reason = deserialize(run.error);
    return typeof reason === "string" ? reason : String((reason as Error)?.message ?? reason);
  } catch {
    return run.error;
  }
}

/**
 * A random (version 4) UUID. A browser has `crypto.randomUUID` in secure contexts only (https,
 * localhost): a page served over plain http from another host, a dev server on a LAN address,
 * has `crypto.getRandomValues` alone, and the same UUID is made from its bytes.
 */
function randomId(): string {
  const crypto = globalThis.crypto;
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

class RatchetEngine implements Engine {
  readonly storage: StorageAdapter;
  readonly owner = `engine-${randomId()}`;
  readonly leaseMs: number;
  readonly onCheckpoint: ((event: CheckpointEvent) => void) | undefined;
  readonly clock: Clock;
  readonly systemClock: boolean;
  readonly logger: Logger;
  /** Set once tracing is loaded: absent `attempt` when nothing records attempts. */
  attemptObserver: AttemptObserver;
  readonly steps: StepEnvironment | undefined;
  readonly maxFrameBytes: number;
  closing = false;
  readonly #history: boolean;
  readonly #retention: number | undefined;
  readonly #tracing: boolean;
  readonly #runSpans = new Map<string, TraceSpan>();
  #stepBuffer: StoredStep[] = [];
  #stepFlush: Promise<void> | undefined;
  #retentionTimer: ReturnType<typeof setInterval> | undefined;
  readonly #unsubscribe: (() => void)[] = [];

  readonly #byName = new Map<string, Workflow>();
  readonly #worker: Required<WorkerOptions> | undefined;
  readonly #executing = new Map<string, Promise<ExecutionOutcome>>();
  /** What this process knows of its lease on each run it executes. */
  readonly #leases = new Map<string, RunLease>();
  readonly #ready: Promise<void>;
  readonly #webhooks: Webhooks;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #waiter: (() => void) | undefined;
  /** Set when woken while not waiting (mid-claim), so the next wait is skipped. */
  #woken = false;
  /** {@link #wake}, bound once: handed to timers and subscriptions. */
  readonly #wakeBound = (): void => this.#wake();
  #loop: Promise<void> | undefined;

  constructor(options: EngineOptions, internals: EngineInternals = {}) {
    if (!options || typeof options !== "object" || !options.storage) {
      throw new DefinitionError("createEngine needs { storage, workflows }: storage is missing.");
    }
    this.storage = options.storage;
    this.onCheckpoint = options.onCheckpoint;
    this.clock = options.clock ?? systemClock;
    this.systemClock = this.clock === systemClock;
    this.logger = options.logger ?? stderrLogger;
    this.#history = options.history === true;
    if (this.#history && (!this.storage.recordSteps || !this.storage.listSteps)) {
      throw new DefinitionError(
        `createEngine({ history: true }): the ${this.storage.name} adapter does not store step history (recordSteps/listSteps); drop the option or use an adapter that has them.`,
      );
    }
    const retention = options.retention ?? defaultRetention;
    this.#retention = retention === false ? undefined : toMilliseconds(retention, "retention");
    this.attemptObserver = {
      gaveUp: (info, error, exhausted) => this.#gaveUp(info, error, exhausted),
    };
    this.steps = internals.steps;
    const maxFrameBytes = options.maxFrameBytes ?? 2 * 1024 * 1024;
    if (!(Number.isInteger(maxFrameBytes) && maxFrameBytes > 0)) {
      throw new DefinitionError(
        `createEngine: maxFrameBytes must be a whole number of bytes > 0, not ${String(maxFrameBytes)}.`,
      );
    }
    this.maxFrameBytes = maxFrameBytes;
    for (const definition of (options.workflows ?? []) as readonly Workflow[]) {
      if (!definition || typeof definition.name !== "string" || !("compiled" in definition)) {
        throw new DefinitionError(
          "createEngine: every entry of workflows must be made by workflow().",
        );
      }
      const existing = this.#byName.get(definition.name);
      if (existing && existing !== definition) {
        throw new DefinitionError(`createEngine: two workflows are named "${definition.name}".`);
      }
      this.#byName.set(definition.name, definition);
    }
    this.#webhooks = new Webhooks(options.webhooks ?? {}, {
      clock: this.clock,
      workflows: () => this.#byName.values(),
      checkInput,
      start: (definition, args, startOptions) =>
        this.start(definition, args as never, startOptions),
    });
    const worker = options.worker ?? true;
    this.#worker =
      worker === false
        ? undefined
        : {
            leaseMs: 30_000,
            pollIntervalMs: 1000,
            maxConcurrentRuns: 100,
            parkedCheckIntervalMs: 60_000,
            ...(worker === true ? {} : worker),
          };
    this.leaseMs = this.#worker?.leaseMs ?? 30_000;
    this.#tracing = options.tracing !== false;
    if (this.#history || this.#tracing) {
      this.attemptObserver = {
        attempt: (info, call) => this.#observeAttempt(info, call),
        watches: (runId) => this.#history || this.#runSpans.has(runId),
        gaveUp: this.attemptObserver.gaveUp,
      };
    }
    this.#ready = this.storage.init();
    // Whoever awaits `#ready` sees a failed init; this only keeps it from being "unhandled".
    this.#ready.catch(() => {});
    if (this.#worker) {
      if (this.clock.subscribe) this.#unsubscribe.push(this.clock.subscribe(this.#wakeBound));
      this.#loop = this.#workLoop(this.#worker);
      this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), this.leaseMs / 3);
      if (this.#retention !== undefined && this.storage.purge) {
        // Often enough that runs outlive the retention by a tenth of it at most, at most
        // hourly; the first sweep right after start.
        const every = Math.max(1000, Math.min(this.#retention / 10, 3_600_000));
        this.#retentionTimer = setInterval(() => void this.#sweep(), every);
        void this.#ready.then(
          () => this.#sweep(),
          () => {},
        );
      }
    }
  }

  /** Delete the runs past the retention; a failure is logged and tried again next time. */
  async #sweep(): Promise<void> {
    if (this.closing || this.#retention === undefined) return;
    try {
      const deleted = await this.purge({ olderThan: this.#retention });
      if (deleted > 0) {
        this.logger.info(
          { deleted, retentionMs: this.#retention },
          `deleted ${deleted} finished run(s) past the retention`,
        );
      }
    } catch (error) {
      this.logger.error({ error }, "deleting runs past the retention failed; retrying later");
    }
  }

  async purge(options: PurgeOptions = {}): Promise<number> {
    await this.#ready;
    if (!this.storage.purge) {
      throw new DefinitionError(`The ${this.storage.name} adapter does not support purging runs.`);
    }
    const olderThan =
      options.olderThan === undefined
        ? (this.#retention ?? toMilliseconds(defaultRetention))
        : toMilliseconds(options.olderThan, "purge({ olderThan })");
    const statuses = [options.status ?? [...terminalStatuses]].flat() as RunStatus[];
    for (const status of statuses) {
      if (!terminalStatuses.has(status)) {
        throw new TypeError(
          `purge({ status }): "${status}" is not a finished status; only completed, failed and cancelled runs can be purged (cancel a run first).`,
        );
      }
    }
    const before = Date.now() - olderThan;
    const batch = 1000;
    let total = 0;
    for (;;) {
      const deleted = await this.storage.purge({ before, statuses, limit: batch });
      total += deleted;
      options.onProgress?.(total);
      if (deleted < batch) return total;
    }
  }

  /** One step attempt, recorded in the step history and traced as a span. */
  async #observeAttempt<T>(info: AttemptInfo, call: () => Promise<T>): Promise<T> {
    const span = this.#runSpans.get(info.runId);
    // No history and no tracer registered (the span map is empty then): the attempt as is.
    if (!this.#history && span === undefined) return call();
    const startedAt = Date.now();
    const tracing = span === undefined ? undefined : registeredTracing();
    const run = tracing
      ? () =>
          tracing.attempt(
            span,
            {
              name: info.name,
              attempt: info.attempt,
              checkpoint: info.checkpoint,
              runId: info.runId,
              key: info.idempotencyKey,
            },
            call,
          )
      : call;
    const record = (error: string | null) => {
      if (!this.#history) return;
      this.#stepBuffer.push({
        runId: info.runId,
        checkpoint: info.checkpoint,
        name: info.name,
        attempt: info.attempt,
        startedAt,
        endedAt: Date.now(),
        error,
      });
      this.#stepFlush ??= this.#flushSteps();
    };
    try {
      const value = await run();
      record(null);
      return value;
    } catch (error) {
      record(encodeAttemptError(error));
      throw error;
    }
  }

  /** Write the buffered step attempts, batch after batch, until none are left. */
  async #flushSteps(): Promise<void> {
    // Let the attempts finishing in the same tick join the first batch.
    await Promise.resolve();
    while (this.#stepBuffer.length > 0) {
      const batch = this.#stepBuffer;
      this.#stepBuffer = [];
      try {
        await this.storage.recordSteps!(batch);
      } catch (error) {
        this.logger.warn(
          { error, steps: batch.length },
          "recording step history failed; those attempts are missing from the history",
        );
      }
    }
    this.#stepFlush = undefined;
  }

  #gaveUp(info: AttemptInfo, error: unknown, exhausted: boolean): void {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.logger.warn(
      {
        runId: info.runId,
        workflow: info.workflowName,
        step: info.name,
        checkpoint: info.checkpoint,
        attempts: info.attempt,
        error,
      },
      exhausted
        ? `step "${info.name}" of run ${info.runId} failed after ${info.attempt} attempt(s), its retries exhausted: ${message}`
        : `step "${info.name}" of run ${info.runId} failed without retrying (FatalError): ${message}`,
    );
  }

  #definition<A extends unknown[], R>(ref: WorkflowRef<A, R>): Workflow {
    const workflow = ref as Workflow<A, R>;
    const definition = this.#byName.get(workflow?.name);
    if (!definition) {
      throw new UnknownWorkflowError(String(workflow?.name), [...this.#byName.keys()]);
    }
    if (!definition.compiled) throw new WorkflowNotCompiledError(definition.name);
    const version = workflow.compiled?.manifest.version;
    if (definition !== workflow && version !== definition.compiled.manifest.version) {
      throw new DefinitionError(
        `Workflow "${definition.name}" version ${version ?? "(not compiled)"} is not the one registered with this engine (version ${definition.compiled.manifest.version}). Start the definition you passed to createEngine.`,
      );
    }
    return definition;
  }

  async start<A extends unknown[], R>(
    workflow: WorkflowRef<A, R>,
    args: NoInfer<A>,
    options: StartOptions = {},
  ): Promise<RunHandle<Awaited<R>>> {
    if (this.closing) throw new DefinitionError("This engine is closed.");
    const definition = this.#definition(workflow);
    if (!Array.isArray(args)) {
      throw new TypeError(
        `engine.start(${definition.name}, args): args must be the list of the workflow's arguments, e.g. ["order-42"].`,
      );
    }
    const checked = await checkInput(definition, args);
    const argsText = serializeOrExplain(checked, `the arguments of workflow "${definition.name}"`);
    await this.#ready;
    const claim = this.#worker ? { leaseOwner: this.owner, leaseMs: this.leaseMs } : {};
    const sentAt = performance.now();
    const { run, created } = await this.storage.createRun({
      id: options.runId ?? randomId(),
      workflow: definition.name,
      version: definition.compiled!.manifest.version,
      args: argsText,
      idempotencyKey: options.idempotencyKey ?? null,
      sessionId: options.sessionId ?? null,
      ...claim,
    });
    if (created && this.#worker) this.#execute(run, definition, sentAt);
    return this.#handle<Awaited<R>>(run.id);
  }

  async run<A extends unknown[], R>(
    workflow: WorkflowRef<A, R>,
    args: NoInfer<A>,
    options?: StartOptions,
  ): Promise<Awaited<R>> {
    return (await this.start(workflow, args, options)).result();
  }

  async get<R = unknown>(runId: string): Promise<RunHandle<R>> {
    await this.#ready;
    if (!(await this.#read("reading a run", () => this.storage.loadRun(runId), { runId }))) {
      throw new RunNotFoundError(runId);
    }
    return this.#handle<R>(runId);
  }

  /**
   * A read made for a caller (`get`, a handle's `status`/`info`): retried with backoff while
   * the store fails transiently, for up to {@link readRetryMs}, then the error is the
   * caller's. Reads are safe to repeat; `start` is not retried (see its doc).
   */
  #read<T>(what: string, call: () => Promise<T>, fields: Record<string, unknown>): Promise<T> {
    const deadline = performance.now() + readRetryMs;
    return retryStorage(what, call, {
      logger: this.logger,
      stop: () => this.closing || performance.now() > deadline,
      fields,
    }).catch((error: unknown) => {
      throw error instanceof StorageRetryStopped ? error.last : error;
    });
  }

  async list(query?: RunQuery): Promise<RunInfo[]> {
    await this.#ready;
    return (await this.storage.listRuns(query)).map((run) => this.#describe(run));
  }

  #describe<R>(run: StoredRun): RunInfo<R> {
    // Checkpoints are matched by id across versions, so this code's manifest places the run
    // wherever it has the run's checkpoint.
    const manifest = this.#byName.get(run.workflow)?.compiled?.manifest;
    // An engine without the workflow at all (an operator's tool) reports the stored status.
    const parked = this.#byName.has(run.workflow) ? this.#parkedReason(run) : undefined;
    return describeRun<R>(run, manifest, parked);
  }

  #parkedReason(run: StoredRun): string | undefined {
    if (terminalStatuses.has(run.status)) return undefined;
    if (run.status === "parked") return parkReasonOf(run);
    const definition = this.#byName.get(run.workflow);
    if (!definition) {
      return `workflow "${run.workflow}" is not registered with this engine; the run needs version ${run.version}`;
    }
    if (!definition.compiled) return `workflow "${run.workflow}" is not compiled in this engine`;
    // Not parked yet, but this code would park it when it is claimed: say so now.
    const decision = this.#decide(run, definition);
    return decision?.kind === "park" ? decision.reason : undefined;
  }

  /** How this engine's code would resume a stored run; `undefined`: it starts over. */
  #decide(run: StoredRun, definition: Workflow): ResumeDecision | undefined {
    try {
      const position = storedPosition(run);
      if (!position) return undefined;
      return decideResume(
        definition.compiled!.manifest,
        position.checkpoint,
        position.vars,
        definition.options.migrate,
        position.args,
      );
    } catch {
      // Unreadable here (a class this process lacks): the executor parks it, or fails it
      // when it is corrupt.
      return undefined;
    }
  }

  /**
   * Take the parked runs of this engine's workflows that this process can now resume (a
   * deploy brought a migration or the code they were stored by, or the process registers
   * the class a frame names) and execute them, up to `capacity`; the others stay parked,
   * their reason logged when they were parked. Resolves to whether runs that fit were left
   * for want of capacity. Taken with `claimParked` (compare-and-set on seq), so of several
   * workers exactly one takes a run, and a worker whose code cannot resume it never does;
   * on an adapter without it, `retry` makes the run pending for the next claim.
   */
  async #unpark(capacity: number): Promise<boolean> {
    let left = false;
    for (const definition of this.#byName.values()) {
      if (!definition.compiled) continue;
      let parked: StoredRun[];
      try {
        parked = await this.storage.listRuns({ status: "parked", workflow: definition.name });
      } catch (error) {
        this.logger.error({ workflow: definition.name, error }, "listing parked runs failed");
        continue;
      }
      let resumed = 0;
      for (const run of parked) {
        if (this.closing) return false;
        if (!readableHere(run) || this.#decide(run, definition)?.kind === "park") continue;
        if (capacity <= 0) {
          left = true;
          break;
        }
        try {
          if (this.storage.claimParked) {
            const sentAt = performance.now();
            const claimed = await this.storage.claimParked({
              runId: run.id,
              expectedSeq: run.seq,
              owner: this.owner,
              leaseMs: this.leaseMs,
            });
            if (!claimed) continue;
            this.#execute(claimed, definition, sentAt);
            capacity--;
          } else if (!(await this.storage.retry?.(run.id))) continue;
          resumed++;
        } catch (error) {
          this.logger.warn({ runId: run.id, error }, "taking a parked run failed");
        }
      }
      if (resumed > 0) {
        this.logger.info(
          { workflow: definition.name, runs: resumed },
          `${resumed} parked run(s) of workflow "${definition.name}" fit this code now and resume`,
        );
      }
    }
    return left;
  }

  #handle<R>(runId: string): RunHandle<R> {
    const load = async () => {
      const run = await this.#read("reading a run", () => this.storage.loadRun(runId), { runId });
      if (!run) throw new RunNotFoundError(runId);
      return run;
    };
    return {
      id: runId,
      status: async () => {
        const run = await load();
        return this.#parkedReason(run) ? "parked" : run.status;
      },
      parkedReason: async () => this.#parkedReason(await load()),
      result: () => this.#result<R>(runId),
      cancel: async () => {
        await this.#ready;
        if (!this.storage.cancel) {
          throw new DefinitionError(
            `The ${this.storage.name} adapter does not support cancelling runs.`,
          );
        }
        const cancelled = await this.#cancelTree(runId, new Set());
        if (cancelled) {
          // A parent waiting for this run ends its wait with the CancelledError. Should this
          // process die first, a worker's sweep of waiting parents delivers it from storage
          // (#deliverEndedChildren).
          const run = await this.storage.loadRun(runId);
          const outcome = run?.idempotencyKey?.startsWith(CHILD_KEY) && childOutcomeOf(run);
          if (outcome) await this.notifyParent(runId, outcome);
        }
        return cancelled;
      },
      retry: async () => {
        await this.#ready;
        if (!this.storage.retry) {
          throw new DefinitionError(
            `The ${this.storage.name} adapter does not support retrying runs.`,
          );
        }
        const retried = await this.storage.retry(runId);
        if (retried) this.#wake();
        return retried;
      },
      info: async () => {
        await this.#ready;
        const info = this.#describe<R>(await load());
        if (!this.storage.listSteps) return info;
        const steps = (await this.storage.listSteps(runId)).map(describeStep);
        return steps.length > 0 ? { ...info, steps } : info;
      },
    };
  }

  /**
   * Cancel a run and, first, the child run it waits for (recursively): the children's
   * cancellation is committed before their parent's, so a crash in between leaves a parent
   * still waiting for a cancelled child, whose wait a worker's sweep ends with the child's
   * CancelledError (#deliverEndedChildren); cancelling the parent again finishes the job.
   * Resolves to whether `runId` itself was cancelled now.
   */
  async #cancelTree(runId: string, seen: Set<string>): Promise<boolean> {
    seen.add(runId);
    const run = await this.storage.loadRun(runId);
    const childId =
      run?.status === "waiting" && run.waitEvent?.startsWith(CHILD_EVENT)
        ? run.waitEvent.slice(CHILD_EVENT.length)
        : undefined;
    if (childId !== undefined && !seen.has(childId)) await this.#cancelTree(childId, seen);
    const error = serialize(new CancelledError(`Run ${runId} was cancelled.`));
    return this.storage.cancel!(runId, error);
  }

  /**
   * Hand the end of a child run to a parent still waiting for it although the child has
   * ended: the process that cancelled the child, or the child's own, died before telling
   * the parent. Read from storage (one listing of the waiting runs, then each child-waiting
   * parent's child), when the worker starts and every parkedCheckIntervalMs. A child that
   * decided its outcome but has not ended is left to the worker that finishes it.
   */
  async #deliverEndedChildren(): Promise<void> {
    if (!this.storage.deliver) return;
    let waiting: StoredRun[];
    try {
      waiting = await this.storage.listRuns({ status: "waiting" });
    } catch (error) {
      this.logger.warn({ error }, "listing waiting runs failed");
      return;
    }
    for (const parent of waiting) {
      if (this.closing) return;
      if (!parent.wait || !parent.waitEvent?.startsWith(CHILD_EVENT)) continue;
      const childId = parent.waitEvent.slice(CHILD_EVENT.length);
      try {
        const child = await this.storage.loadRun(childId);
        if (!child || !terminalStatuses.has(child.status)) continue;
        const outcome = childOutcomeOf(child);
        if (!outcome) continue;
        if (await this.#deliver(parent.id, parent.wait, outcome, serialize(outcome))) {
          this.logger.info(
            { runId: parent.id, childId, childStatus: child.status },
            `run ${parent.id} was still waiting for its ${child.status} child run ${childId}; its end is handed over now`,
          );
        }
      } catch (error) {
        this.logger.warn({ runId: parent.id, childId, error }, "handing a child's end over failed");
      }
    }
  }

  async #result<R>(runId: string): Promise<R> {
    let wait = 5;
    for (;;) {
      const local = this.#executing.get(runId);
      if (local) {
        const outcome = await local;
        if (outcome.kind === "finished") return this.#settle<R>(outcome);
      }
      const run = await retryStorage("reading a run", () => this.storage.loadRun(runId), {
        logger: this.logger,
        stop: () => this.closing,
        fields: { runId },
      });
      if (!run) throw new RunNotFoundError(runId);
      if (run.status === "completed" || run.status === "failed" || run.status === "cancelled") {
        return this.#settle<R>({
          kind: "finished",
          status: run.status === "completed" ? "completed" : "failed",
          result: run.result,
          error: run.error,
        });
      }
      if (this.closing)
        throw new DefinitionError(`The engine closed while waiting for run ${runId}.`);
      await delay(wait);
      wait = Math.min(wait * 2, 500);
    }
  }

  #settle<R>(outcome: Finished): R {
    if (outcome.status === "completed") return deserialize(outcome.result ?? "[-1]") as R;
    throw deserialize(outcome.error ?? "") as Error;
  }

  /**
   * Execute a run this process just leased (the claim or creation sent at `sentAt`, on
   * `performance.now()`). The execution never rejects: whatever goes wrong ends it in this
   * process, and the run is left for a worker to claim again.
   */
  #execute(run: StoredRun, definition: Workflow, sentAt: number): void {
    const lease = new RunLease(this.leaseMs, sentAt);
    const execution = this.#executeWithRetries(run, definition, lease)
      .catch((error: unknown): ExecutionOutcome => {
        // Nothing past the last commit is lost, and the run is resumed from there by
        // whichever worker claims it. The worker carries on.
        this.logger.error(
          { runId: run.id, workflow: run.workflow, error },
          `executing run ${run.id} failed unexpectedly; it resumes from its last checkpoint in the worker that claims it`,
        );
        lease.lose("its execution failed");
        return { kind: "stopped" };
      })
      .then(async (outcome) => {
        // An execution that ended unexpectedly still holds its lease: release it, so a
        // worker (this one included) can claim the run at once. Otherwise a no-op.
        if (outcome.kind === "stopped" && lease.lost) {
          await this.storage.releaseLease(run.id, this.owner).catch(() => {});
        }
        // Logged once: a parked run is not claimed again until code that fits it comes.
        if (outcome.kind === "parked") {
          this.logger.warn(
            { runId: run.id, workflow: run.workflow, checkpoint: outcome.checkpoint },
            `run ${run.id} of workflow "${run.workflow}" is parked: ${outcome.reason}`,
          );
        }
        // A run that just began waiting for an event takes one kept for it instead of
        // waiting on; other suspensions (sleeps, answers, children) cost no extra read.
        if (outcome.kind === "suspended" && outcome.forEvent) {
          await this.#offerKeptEventsLogged(run.id);
        }
        return outcome;
      })
      .finally(() => {
        this.#executing.delete(run.id);
        this.#leases.delete(run.id);
        // The worker claims again once whoever awaits this run's result has it (the promise
        // jobs queued now have run): a synchronous store (SQLite) would otherwise hold the
        // result back for the length of a claim.
        afterPromiseJobs(this.#wakeBound);
      });
    this.#executing.set(run.id, execution);
    this.#leases.set(run.id, lease);
  }

  /**
   * Execute a run; when a session write lost to another run's (nothing was committed), run
   * it again from its last checkpoint with fresh session state.
   */
  async #executeWithRetries(
    run: StoredRun,
    definition: Workflow,
    lease: RunLease,
  ): Promise<ExecutionOutcome> {
    const span = (this.#tracing ? registeredTracing() : undefined)?.startRun({
      id: run.id,
      workflow: run.workflow,
      version: run.version,
      resumed: run.seq > 0,
    });
    if (span) this.#runSpans.set(run.id, span);
    try {
      let current = run;
      for (;;) {
        const outcome = await executeRun(this, current, definition, lease);
        if (outcome.kind !== "retry") {
          if (span) {
            span.setAttribute(
              "ratchet.run.outcome",
              outcome.kind === "finished" ? outcome.status : outcome.kind,
            );
            if (outcome.kind === "finished" && outcome.status === "failed") {
              failSpan(span, runError(outcome.error));
            }
          }
          return outcome;
        }
        const reloaded = await retryStorage("reloading a run", () => this.storage.loadRun(run.id), {
          logger: this.logger,
          stop: () => this.closing || lease.lost,
          fields: { runId: run.id },
        });
        if (!reloaded || reloaded.leaseOwner !== this.owner) return { kind: "stopped" };
        current = reloaded;
      }
    } catch (error) {
      if (span) failSpan(span, error);
      throw error;
    } finally {
      if (span) {
        span.end();
        this.#runSpans.delete(run.id);
      }
    }
  }

  async startChild(child: {
    id: string;
    workflow: string;
    args: readonly unknown[];
  }): Promise<StoredRun> {
    const definition = this.#byName.get(child.workflow);
    if (!definition) throw new UnknownWorkflowError(child.workflow, [...this.#byName.keys()]);
    if (!definition.compiled) throw new WorkflowNotCompiledError(definition.name);
    const args = await checkInput(definition, child.args);
    const claim = this.#worker ? { leaseOwner: this.owner, leaseMs: this.leaseMs } : {};
    const sentAt = performance.now();
    const { run, created } = await this.storage.createRun({
      id: child.id,
      workflow: definition.name,
      version: definition.compiled.manifest.version,
      args: serializeOrExplain(args, `the arguments of child workflow "${definition.name}"`),
      idempotencyKey: `${CHILD_KEY}${child.id}`,
      ...claim,
    });
    if (created && this.#worker) this.#execute(run, definition, sentAt);
    return run;
  }

  async notifyParent(childId: string, outcome: ChildOutcome): Promise<void> {
    const payload = serialize(outcome);
    for (const parent of await this.storage.listRuns({
      status: "waiting",
      waitEvent: childEvent(childId),
    })) {
      if (parent.wait) await this.#deliver(parent.id, parent.wait, outcome, payload);
    }
  }

  async #workLoop(worker: Required<WorkerOptions>): Promise<void> {
    try {
      await this.#ready;
    } catch {
      return;
    }
    if (this.storage.subscribe) this.#unsubscribe.push(this.storage.subscribe(this.#wakeBound));
    // An engine stopped between a run's wait and the offer of its kept events left them
    // undelivered: offer them now.
    if (this.storage.pendingEvents) {
      try {
        const kept = await this.storage.pendingEvents();
        for (const runId of new Set(kept.map((e) => e.runId))) {
          await this.#offerKeptEventsLogged(runId);
        }
      } catch (error) {
        this.logger.warn({ error }, "listing events kept for runs failed");
      }
    }
    // Runs are claimed by their workflow's name, whatever version stored them: whether one
    // resumes on this code is decided per checkpoint when it is claimed (runtime/versioning.ts).
    const workflows = [...this.#byName.values()].filter((d) => d.compiled).map((d) => d.name);
    // Parked runs are looked at when the worker starts, every parkedCheckIntervalMs (a
    // run parked meanwhile by a process with other code), after a class is registered, and
    // at the next round when capacity ran out.
    let parkedCheckedAt = Number.NEGATIVE_INFINITY;
    let registrations = -1;
    let parkedLeft = false;
    while (!this.closing) {
      if (
        workflows.length > 0 &&
        (parkedLeft ||
          registrations !== classRegistrations() ||
          performance.now() - parkedCheckedAt >= worker.parkedCheckIntervalMs)
      ) {
        if (performance.now() - parkedCheckedAt >= worker.parkedCheckIntervalMs) {
          await this.#deliverEndedChildren();
        }
        parkedCheckedAt = performance.now();
        registrations = classRegistrations();
        parkedLeft = await this.#unpark(worker.maxConcurrentRuns - this.#executing.size);
      }
      const capacity = worker.maxConcurrentRuns - this.#executing.size;
      if (capacity > 0 && workflows.length > 0) {
        try {
          const sentAt = performance.now();
          const claimed = await this.storage.claimRunnable({
            owner: this.owner,
            leaseMs: worker.leaseMs,
            limit: capacity,
            ...this.#wakeBefore(),
            workflows,
          });
          for (const run of claimed) {
            // Claimed while an execution of it is still in flight here (it just suspended
            // and is winding down, or this process was starved past its lease): never a
            // second execution at once. When the first ends, the run is read again and
            // executed only if it is still this process's to run.
            const inFlight = this.#executing.get(run.id);
            if (inFlight) {
              void inFlight.then(() => this.#afterInFlight(run.id, sentAt));
              continue;
            }
            const definition = this.#byName.get(run.workflow);
            if (definition?.compiled) this.#execute(run, definition, sentAt);
            else await this.storage.releaseLease(run.id, this.owner).catch(() => {});
          }
        } catch (error) {
          // A storage hiccup must not kill the worker; report and try again next round.
          this.logger.error({ error }, "claiming runnable runs failed");
        }
      }
      if (this.closing) break;
      if (this.#woken) {
        this.#woken = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        // Woken early (a run ended, a delivery, the clock moved): drop the timer, so a burst
        // of wake-ups leaves no pending timers behind.
        const timer = setTimeout(resolve, worker.pollIntervalMs);
        this.#pollTimer = timer;
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }

  /** Execute a run claimed while its previous execution here was in flight, if still ours. */
  async #afterInFlight(runId: string, sentAt: number): Promise<void> {
    if (this.closing || this.#executing.has(runId)) return;
    try {
      const run = await retryStorage("reading a run", () => this.storage.loadRun(runId), {
        logger: this.logger,
        stop: () => this.closing,
        fields: { runId },
      });
      if (run?.status !== "running" || run.leaseOwner !== this.owner) return;
      if (this.closing || this.#executing.has(runId)) return;
      const definition = this.#byName.get(run.workflow);
      if (definition?.compiled?.manifest.version === run.version) {
        this.#execute(run, definition, sentAt);
      } else await this.storage.releaseLease(run.id, this.owner).catch(() => {});
    } catch (error) {
      // Left leased: the run is claimed again once the lease expires.
      this.logger.warn({ runId, error }, "reading a run claimed during its execution failed");
    }
  }

  /**
   * {@link #offerKeptEvents}, logging a failure: the event stays kept, and is offered again
   * at the next emit to the run or the next engine start.
   */
  async #offerKeptEventsLogged(runId: string): Promise<void> {
    try {
      await this.#offerKeptEvents(runId);
    } catch (error) {
      this.logger.warn({ runId, error }, "offering an event kept for a run failed");
    }
  }

  /**
   * Due sleepers and timed-out waits to claim: by this engine's clock; on the system clock,
   * also as a delay from now (0) for an adapter that compares with the store's clock. A
   * custom clock (a test clock) is compared as it is, with wake times stored as it set them.
   */
  #wakeBefore(): { wakeBefore: number; wakeBeforeInMs?: number } {
    const wakeBefore = this.clock.now();
    return this.systemClock ? { wakeBefore, wakeBeforeInMs: 0 } : { wakeBefore };
  }

  /** Make the worker look for runnable runs now. */
  #wake(): void {
    if (this.#waiter) this.#waiter();
    else this.#woken = true;
  }

  async #heartbeat(): Promise<void> {
    const held = [...this.#leases].filter(([, lease]) => !lease.lost).map(([id]) => id);
    if (held.length === 0) return;
    const sentAt = performance.now();
    let renewed: string[];
    try {
      renewed = await this.storage.renewLeases(this.owner, held, this.leaseMs);
    } catch (error) {
      // Not fatal: the next beat tries again; a run whose lease lapses meanwhile stops.
      this.logger.warn({ runIds: held, error }, "renewing leases failed");
      return;
    }
    const kept = new Set(renewed);
    for (const id of held) {
      const lease = this.#leases.get(id);
      if (kept.has(id)) lease?.extend(sentAt);
      else if (lease && !lease.lost) {
        lease.lose("its renewal was refused: another worker claimed the run, or it was cancelled");
        this.logger.warn({ runId: id }, "a lease was lost; this process stops executing the run");
      }
    }
  }

  async respond(runId: string, answer: string): Promise<void> {
    await this.#ready;
    const run = await this.storage.loadRun(runId);
    if (!run) throw new RunNotFoundError(runId);
    const wait =
      run.status === "waiting" && run.wait ? (deserialize(run.wait) as StoredWait) : undefined;
    if (wait?.kind !== "user") {
      throw new DeliveryError(
        `Run ${runId} is not waiting for an answer (its status is ${run.status}); nothing was delivered.`,
      );
    }
    if (wait.inputType === "text") {
      if (typeof answer !== "string") {
        throw new DeliveryError(`Run ${runId} asked for text; the answer must be a string.`);
      }
    } else if (!wait.options.some((o) => o.id === answer)) {
      throw new DeliveryError(
        `"${String(answer)}" is not an option of run ${runId}'s question "${wait.question}"; answer one of: ${wait.options.map((o) => o.id).join(", ")}.`,
      );
    }
    if (!(await this.#deliver(run.id, run.wait!, answer))) {
      throw new DeliveryError(
        `Run ${runId}'s question was already answered, or it timed out; the answer was not delivered.`,
      );
    }
  }

  handleWebhook(request: Request): Promise<Response> {
    return this.#webhooks.handle(request);
  }

  async emit(name: string, payload: unknown, options: EmitOptions = {}): Promise<EmitOutcome> {
    if (typeof name !== "string" || name === "")
      throw new TypeError("engine.emit needs an event name.");
    refuseUnknownOptions(
      options,
      ["idempotencyKey", "runId"],
      `engine.emit("${name}", payload, options)`,
    );
    const key = options.idempotencyKey;
    if (key !== undefined && (typeof key !== "string" || key === "")) {
      throw new TypeError(`engine.emit("${name}"): idempotencyKey must be a non-empty string.`);
    }
    const target = options.runId;
    if (target !== undefined && (typeof target !== "string" || target === "")) {
      throw new TypeError(`engine.emit("${name}"): runId must be a non-empty string.`);
    }
    await this.#ready;
    const text = serializeOrExplain(payload, `the payload of event "${name}"`);
    if (target !== undefined) {
      const run = await this.storage.loadRun(target);
      if (!run) throw new RunNotFoundError(target);
      if (terminalStatuses.has(run.status)) {
        throw new DeliveryError(
          `Run ${target} has ended (${run.status}); event "${name}" was not kept for it.`,
        );
      }
      const event = { id: randomId(), runId: target, name, key: key ?? null, payload: text };
      if (
        !(await this.#keptEvents(`engine.emit("${name}", payload, { runId })`).storeEvent(event))
      ) {
        return { started: [], delivered: [], rejected: [] };
      }
      const now = await this.#offerKeptEvents(target);
      return { started: [], delivered: now === event.id ? [target] : [], rejected: [] };
    }
    const delivered: string[] = [];
    for (const run of await this.storage.listRuns({ status: "waiting", waitEvent: name })) {
      const wait = deserialize(run.wait!) as StoredWait;
      if (wait.kind !== "event" || wait.name !== name) continue;
      if (wait.match && !matches(payload, wait.match)) continue;
      if (key === undefined) {
        if (await this.#deliver(run.id, run.wait!, payload, text)) delivered.push(run.id);
        continue;
      }
      // Keyed: the delivery goes through an event kept under the key, which the adapter
      // stores once per run, so a repeated emit delivers nothing new.
      const event = { id: randomId(), runId: run.id, name, key, payload: text };
      if (
        !(await this.#keptEvents(`engine.emit("${name}", payload, { idempotencyKey })`).storeEvent(
          event,
        ))
      ) {
        continue;
      }
      if (await this.#deliver(run.id, run.wait!, payload, text, event.id)) delivered.push(run.id);
    }
    const started: string[] = [];
    const rejected: { workflow: string; error: InputError }[] = [];
    for (const definition of this.#byName.values()) {
      const triggered = definition.options.triggers?.some(
        (t) => t.kind === "event" && t.name === name,
      );
      if (triggered && definition.compiled) {
        try {
          const startOptions =
            key === undefined ? {} : { idempotencyKey: `emit:${name}:${key}:${definition.name}` };
          started.push((await this.start(definition, [payload] as never, startOptions)).id);
        } catch (error) {
          // A payload that fails one workflow's input schema starts nothing there; the
          // other workflows and waiting runs still get the event.
          if (!(error instanceof InputError)) throw error;
          rejected.push({ workflow: definition.name, error });
        }
      }
    }
    return { started, delivered, rejected };
  }

  /** The adapter's kept-event methods, or a clear refusal naming what needs them. */
  #keptEvents(use: string): Required<Pick<StorageAdapter, "storeEvent" | "pendingEvents">> {
    const { storeEvent, pendingEvents, deliver } = this.storage;
    if (!storeEvent || !pendingEvents || !deliver) {
      throw new DefinitionError(
        `${use} needs events kept for a run, and the ${this.storage.name} adapter does not keep them (it has no storeEvent/pendingEvents/deliver). Use memory(), sqlite() or postgres(), implement those methods (see adapters/contract.ts), or emit without these options.`,
      );
    }
    return {
      storeEvent: storeEvent.bind(this.storage),
      pendingEvents: pendingEvents.bind(this.storage),
    };
  }

  /**
   * If the run waits for an event now, deliver the oldest event kept for it that the wait
   * accepts, consuming it. Resolves to that event's id, or `undefined`.
   */
  async #offerKeptEvents(runId: string): Promise<string | undefined> {
    if (!this.storage.pendingEvents) return undefined;
    const events = await this.storage.pendingEvents(runId);
    if (events.length === 0) return undefined;
    const run = await this.storage.loadRun(runId);
    if (run?.status !== "waiting" || !run.wait) return undefined;
    const wait = deserialize(run.wait) as StoredWait;
    if (wait.kind !== "event") return undefined;
    for (const event of events) {
      if (event.name !== wait.name) continue;
      const payload = deserialize(event.payload);
      if (wait.match && !matches(payload, wait.match)) continue;
      // Refused: another engine delivered to this wait first; the event stays kept.
      return (await this.#deliver(runId, run.wait, payload, event.payload, event.id))
        ? event.id
        : undefined;
    }
    return undefined;
  }

  async #deliver(
    runId: string,
    wait: string,
    payload: unknown,
    text?: string,
    eventId?: string,
  ): Promise<boolean> {
    if (!this.storage.deliver) {
      throw new DefinitionError(`The ${this.storage.name} adapter does not support waits.`);
    }
    const ok = await this.storage.deliver({
      runId,
      wait,
      payload: text ?? serialize(payload),
      ...(eventId === undefined ? {} : { eventId }),
    });
    if (ok) this.#wake();
    return ok;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.#pollTimer);
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#retentionTimer);
    for (const stop of this.#unsubscribe) stop();
    this.#wake();
    await this.#loop;
    await Promise.allSettled(this.#executing.values());
    await this.#stepFlush;
    try {
      await this.#ready;
    } finally {
      await this.storage.close();
    }
  }
}

/**
 * Create an engine over a storage adapter.
 *
 * @example
 * ```ts
 * const engine = createEngine({ storage: sqlite({ path: "ratchet.db" }), workflows: [orderWorkflow] });
 * const run = await engine.start(orderWorkflow, ["order-42"]);
 * console.log(await run.result());
 * await engine.close();
 * ```
 */
export function createEngine(options: EngineOptions): Engine {
  return new RatchetEngine(options);
}

/** What `ratchetjs/testing` gives an engine beyond its public options. */
export interface EngineInternals {
  /** Step implementations and timers (default: as defined, real time). */
  readonly steps?: StepEnvironment;
}

/** {@link createEngine} with internals; for `ratchetjs/testing`, not exported by `ratchetjs`. */
export function createEngineWith(options: EngineOptions, internals: EngineInternals): Engine {
  return new RatchetEngine(options, internals);
}
