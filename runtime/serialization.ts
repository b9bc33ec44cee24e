import * as devalue from "devalue";
import {
  BatchError,
  CancelledError,
  CorruptFrameError,
  DefinitionError,
  FatalError,
  InputError,
  RatchetError,
  RetryableError,
  RunNotFoundError,
  SerializationError,
  TimeoutError,
  UnknownWorkflowError,
  WorkflowNotCompiledError,
} from "./errors.js";

/**
 * Persisted values go through devalue: JSON plus `undefined`, Date, Map, Set, BigInt,
 * RegExp, typed arrays, and shared and cyclic references, with Error added here.
 * (docs/serialization.md records why devalue.)
 */

type ErrorClass = new (message: string) => Error;

const ERROR_CLASSES: Record<string, ErrorClass> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};
const RATCHET_ERROR_CLASSES: Record<string, { prototype: Error }> = {
  RatchetError,
  SerializationError,
  FatalError,
  RetryableError,
  TimeoutError,
  CancelledError,
  WorkflowNotCompiledError,
  UnknownWorkflowError,
  RunNotFoundError,
  DefinitionError,
  CorruptFrameError,
  BatchError,
  InputError,
};

/** An error as stored: its class name, message, stack and own enumerable data. */
interface StoredError {
  name: string;
  message: string;
  stack: string | undefined;
  cause?: unknown;
  props: Record<string, unknown>;
}

function reduceError(value: unknown): StoredError | false {
  if (!(value instanceof Error)) return false;
  const props: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(value)) {
    if (key === "name" || key === "message" || key === "stack" || key === "cause") continue;
    try {
      devalue.stringify(prop, reducers);
      props[key] = prop;
    } catch {
      // A property that cannot be stored is dropped; the error itself still is.
    }
  }
  const stored: StoredError = {
    name: value.name || value.constructor?.name || "Error",
    message: value.message,
    stack: value.stack,
    props,
  };
  if ("cause" in value) {
    try {
      devalue.stringify(value.cause, reducers);
      stored.cause = value.cause;
    } catch {
      stored.cause = String(value.cause);
    }
  }
  return stored;
}

/** Rebuild an error with its class (when known), name, message, stack and data. */
function reviveError(stored: StoredError): Error {
  const builtin = ERROR_CLASSES[stored.name];
  const error = builtin ? new builtin(stored.message) : new Error(stored.message);
  const ratchet = RATCHET_ERROR_CLASSES[stored.name];
  if (ratchet) Object.setPrototypeOf(error, ratchet.prototype);
  Object.defineProperty(error, "name", {
    value: stored.name,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  if (stored.stack !== undefined) {
    Object.defineProperty(error, "stack", {
      value: stored.stack,
      writable: true,
      configurable: true,
    });
  }
  if ("cause" in stored) {
    Object.defineProperty(error, "cause", {
      value: stored.cause,
      writable: true,
      configurable: true,
    });
  }
  Object.assign(error, stored.props);
  return error;
}

const reducers = { Error: reduceError };
const revivers = { Error: (value: StoredError) => reviveError(value) };

/** Serialize a value for storage. Throws devalue's error (with `.path`) when it cannot. */
export function serialize(value: unknown): string {
  return devalue.stringify(value, reducers);
}

/** Read back a value written by {@link serialize}. */
export function deserialize(text: string): unknown {
  return devalue.parse(text, revivers);
}

/** Why a value cannot be serialized, and where inside it; `undefined` when it can. */
export function whyUnserializable(value: unknown): { reason: string; path: string } | undefined {
  try {
    serialize(value);
    return undefined;
  } catch (error) {
    const e = error as { message?: string; path?: string; value?: unknown };
    const found = e.value;
    let reason = e.message ?? String(error);
    if (found !== null && typeof found === "object" && found.constructor?.name) {
      reason = `a ${found.constructor.name} instance is not plain data`;
    } else if (typeof found === "function") {
      reason = `a function${found.name ? ` (${found.name})` : ""} cannot be stored`;
    } else if (typeof found === "symbol") {
      reason = "a symbol cannot be stored";
    }
    return { reason, path: e.path ?? "" };
  }
}

/**
 * Serialize, turning failure into a {@link SerializationError} that names `subject` (e.g.
 * `variable "order"`) and where it was being persisted.
 */
export function serializeOrExplain(
  value: unknown,
  subject: string,
  context: { checkpoint?: string; location?: string; runId?: string } = {},
): string {
  try {
    return serialize(value);
  } catch {
    const why = whyUnserializable(value) ?? { reason: "it cannot be serialized", path: "" };
    const name = /"(.*)"/.exec(subject)?.[1] ?? "";
    throw new SerializationError({
      subject,
      reason: why.reason,
      path: why.path ? `${name}${why.path}` : "",
      ...context,
    });
  }
}
