/**
 * Every error a Ratchet user can meet has a class and a stable `code`; messages say what
 * happened, where (run id, checkpoint) and how to fix it.
 * @module
 */

/** The base class of Ratchet's own errors. */
export class RatchetError extends Error {
  /** A stable code, e.g. `RATCHET_SERIALIZATION`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A value that must be persisted (a live variable at a checkpoint, a step's result, an
 * argument, a return value) is not serializable. Nothing was committed.
 */
export class SerializationError extends RatchetError {
  /** What could not be stored, e.g. `variable "order"` or `the result of step:charge`. */
  readonly subject: string;
  /** Where inside the value it failed, e.g. `order.items[0].handler`; empty for the value itself. */
  readonly path: string;
  /** The checkpoint's stable id, when the value was being checkpointed. */
  readonly checkpoint: string | undefined;
  readonly runId: string | undefined;

  constructor(init: {
    subject: string;
    path: string;
    reason: string;
    checkpoint?: string;
    location?: string;
    runId?: string;
  }) {
    const where = [
      init.checkpoint ? `at checkpoint ${init.checkpoint}` : undefined,
      init.location ? `(${init.location})` : undefined,
      init.runId ? `of run ${init.runId}` : undefined,
    ]
      .filter(Boolean)
      .join(" ");
    super(
      "RATCHET_SERIALIZATION",
      `Cannot persist ${init.subject}${where ? ` ${where}` : ""}: ${init.reason}${init.path ? ` (at ${init.path})` : ""}. ` +
        "Persisted values must be JSON-like data, undefined, Date, Map, Set, BigInt, RegExp, Error, typed arrays, or plain objects and arrays of them. " +
        "Keep functions and class instances out of variables that live across a checkpoint, or convert them to plain data first.",
    );
    this.subject = init.subject;
    this.path = init.path;
    this.checkpoint = init.checkpoint;
    this.runId = init.runId;
  }
}

/** Thrown by a durable function to stop retrying: the step fails at once with this error. */
export class FatalError extends RatchetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RATCHET_FATAL", message, options);
  }
}

/** Thrown by a durable function to ask for a retry, optionally after a given delay. */
export class RetryableError extends RatchetError {
  /** Wait this long before the next attempt (a number is milliseconds, or e.g. `"30s"`). */
  readonly retryAfter: number | string | undefined;

  constructor(message: string, options?: { cause?: unknown; retryAfter?: number | string }) {
    super("RATCHET_RETRYABLE", message, options);
    this.retryAfter = options?.retryAfter;
  }
}

/** A durable function exceeded its `timeout`. */
export class TimeoutError extends RatchetError {
  constructor(message: string) {
    super("RATCHET_TIMEOUT", message);
  }
}

/** The run was cancelled. */
export class CancelledError extends RatchetError {
  constructor(message: string) {
    super("RATCHET_CANCELLED", message);
  }
}

/** A workflow reached the runtime without passing through the Ratchet compiler. */
export class WorkflowNotCompiledError extends RatchetError {
  constructor(name: string) {
    super(
      "RATCHET_NOT_COMPILED",
      `Workflow "${name}" was not compiled by Ratchet, so it cannot run durably. ` +
        "Run your program with `node --import ratchetjs/register app.ts`, or add the Ratchet plugin to your build (docs/plugins.md).",
    );
  }
}

/** The engine was asked about a workflow it was not given. */
export class UnknownWorkflowError extends RatchetError {
  constructor(name: string, known: readonly string[]) {
    super(
      "RATCHET_UNKNOWN_WORKFLOW",
      `Workflow "${name}" is not registered with this engine (registered: ${known.length ? known.join(", ") : "none"}). ` +
        "Pass it in createEngine({ workflows: [...] }).",
    );
  }
}

/** No run has this id. */
export class RunNotFoundError extends RatchetError {
  constructor(runId: string) {
    super("RATCHET_RUN_NOT_FOUND", `No run with id "${runId}" is stored.`);
  }
}

/** A definition (`workflow`, `fn`, engine options) was given something it cannot use. */
export class DefinitionError extends RatchetError {
  constructor(message: string) {
    super("RATCHET_DEFINITION", message);
  }
}

/** A stored frame could not be read back. The run fails with this error; others carry on. */
export class CorruptFrameError extends RatchetError {
  constructor(runId: string, detail: string) {
    super(
      "RATCHET_CORRUPT_FRAME",
      `The stored frame of run ${runId} cannot be read (${detail}); the run cannot continue.`,
    );
  }
}

/** `ctx.map` found failed items; `failures` lists each one's index and error. */
export class BatchError extends RatchetError {
  readonly failures: readonly { readonly index: number; readonly error: unknown }[];

  constructor(failures: readonly { index: number; error: unknown }[], total: number) {
    const first = failures[0];
    super(
      "RATCHET_BATCH",
      `${failures.length} of ${total} items failed (items ${failures.map((f) => f.index).join(", ")})` +
        (first ? `; the first: ${(first.error as Error)?.message ?? String(first.error)}` : "") +
        ". Use ctx.batch to get every item's outcome instead of an error.",
    );
    this.failures = failures;
  }
}

/** The arguments of a start failed the workflow's `input` schema; nothing was stored. */
export class InputError extends RatchetError {
  /** The schema's issues, as it reported them. */
  readonly issues: readonly { readonly message: string; readonly path?: readonly unknown[] }[];

  constructor(
    workflow: string,
    issues: readonly { readonly message: string; readonly path?: readonly unknown[] }[],
  ) {
    const list = issues
      .map((i) => {
        const path = (i.path ?? [])
          .map((p) => (typeof p === "object" && p !== null && "key" in p ? p.key : p))
          .map(String)
          .join(".");
        return path ? `${path}: ${i.message}` : i.message;
      })
      .join("; ");
    super(
      "RATCHET_INPUT",
      `The arguments of workflow "${workflow}" do not match its input schema (${list}); no run was created.`,
    );
    this.issues = issues;
  }
}

/**
 * This process lost a run's lease while executing it: the store refused a commit or a
 * renewal, or no renewal got through before the lease expired (a frozen process, a long
 * storage outage). The run's `ctx.signal` in running steps is aborted with this error and
 * the process starts nothing more for the run; the worker that holds the lease now (maybe
 * this one, after claiming it again) continues from the last committed checkpoint.
 */
export class LeaseLostError extends RatchetError {
  constructor(reason: string) {
    super(
      "RATCHET_LEASE_LOST",
      `This process lost the run's lease (${reason}); the run continues from its last checkpoint in whichever worker claims it.`,
    );
  }
}

/**
 * The store refused to record a checkpoint or an end state (not a dropped connection: a
 * refusal it would repeat, e.g. a value out of its range). The run fails with this error;
 * the worker and other runs carry on.
 */
export class StorageRefusedError extends RatchetError {
  readonly runId: string;
  /** The checkpoint whose commit was refused, when there was one. */
  readonly checkpoint: string | undefined;

  constructor(init: {
    adapter: string;
    runId: string;
    what: string;
    checkpoint?: string;
    location?: string;
    cause: unknown;
  }) {
    const where = init.checkpoint
      ? ` at checkpoint ${init.checkpoint}${init.location ? ` (${init.location})` : ""}`
      : "";
    const reason = init.cause instanceof Error ? init.cause.message : String(init.cause);
    super(
      "RATCHET_STORAGE_REFUSED",
      `The ${init.adapter} store refused ${init.what}${where} of run ${init.runId}: ${reason}. ` +
        "It would refuse it again, so the run failed; look for a value it cannot hold (a time out of range, a very large variable).",
      { cause: init.cause },
    );
    this.runId = init.runId;
    this.checkpoint = init.checkpoint;
  }
}

/**
 * A checkpoint's frame, a step's result or a return value is larger than the engine's
 * `maxFrameBytes`. Nothing was committed; the run fails with this error, naming the largest
 * parts so the fix is clear: keep big data outside the workflow (a blob store, a table) and
 * hold only its key in variables.
 */
export class FrameTooLargeError extends RatchetError {
  readonly runId: string;
  readonly checkpoint: string | undefined;
  /** The serialized size, in bytes. */
  readonly bytes: number;
  readonly limit: number;

  constructor(init: {
    runId: string;
    subject: string;
    bytes: number;
    limit: number;
    checkpoint?: string;
    location?: string;
    largest: readonly { readonly name: string; readonly bytes: number }[];
  }) {
    const where = init.checkpoint
      ? ` at checkpoint ${init.checkpoint}${init.location ? ` (${init.location})` : ""}`
      : "";
    const parts = init.largest.map((p) => `${p.name}: ${p.bytes} bytes`).join(", ");
    super(
      "RATCHET_FRAME_TOO_LARGE",
      `${init.subject}${where} of run ${init.runId} is ${init.bytes} bytes serialized, over the limit of ${init.limit} (createEngine({ maxFrameBytes }))` +
        `${parts ? `; largest: ${parts}` : ""}. Keep large data outside the workflow (a blob store, a table) and hold its key instead, or raise maxFrameBytes.`,
    );
    this.runId = init.runId;
    this.checkpoint = init.checkpoint;
    this.bytes = init.bytes;
    this.limit = init.limit;
  }
}

/**
 * A `for…of` loop that holds a checkpoint started on an iterator whose position cannot be
 * persisted: a generator, or an iterator the program defines itself. After a crash the loop
 * could not go on where it stopped, and taking all its values when the loop starts would run
 * the iterator's code (a generator's body and its `finally`) before the loop's body — another
 * order than the program's. Thrown where the loop starts, before anything is taken from it.
 */
export class UnpersistableIteratorError extends RatchetError {
  /** `file:line:column` of the loop. */
  readonly location: string;

  constructor(location: string, what: string) {
    super(
      "RATCHET_UNPERSISTABLE_ITERATOR",
      `The for…of loop at ${location} holds a checkpoint and iterates ${what}, whose position cannot be persisted: after a crash the loop could not go on where it stopped, and taking its values when the loop starts would run its code before the loop's body. ` +
        "To take all its values first, write that: for (const x of [...values]) { … }. Otherwise iterate an array (or a Map, a Set, a string), or make each value with a step.",
    );
    this.location = location;
  }
}
