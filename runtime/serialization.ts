import * as devalue from "devalue";
import {
  BatchError,
  CancelledError,
  CorruptFrameError,
  DefinitionError,
  FatalError,
  FrameTooLargeError,
  InputError,
  LeaseLostError,
  RatchetError,
  RetryableError,
  RunNotFoundError,
  SerializationError,
  StorageRefusedError,
  TimeoutError,
  UnknownWorkflowError,
  WorkflowNotCompiledError,
} from "./errors.js";

/**
 * Persisted values go through devalue: JSON plus `undefined`, Date, Map, Set, BigInt,
 * RegExp, URL, typed arrays, -0, NaN, ±Infinity, sparse arrays, and shared and cyclic
 * references. Reducers added here: classes registered with {@link registerClass}, Error
 * (class name, message, stack, `cause`, an AggregateError's `errors`, own data), Buffer,
 * a RegExp whose `lastIndex` is not 0, an array with properties besides its elements (a
 * match result's `index`, `input`, `groups`), and an object with an own `__proto__` key.
 * devalue stores built-ins by their tag, so a subclass (`class Bag extends Map`) would come
 * back as its parent class: {@link tagOf} makes it refused instead, like any unregistered
 * class. docs/serialization.md records why devalue, and the stored format.
 */

// ---------------------------------------------------------------------------------------
// Registered classes
// ---------------------------------------------------------------------------------------

/** How instances of a class registered with {@link registerClass} are stored and rebuilt. */
export interface ClassSerializer<T, D = unknown> {
  /**
   * The name stored with every instance (default: the class's `name`). It must be unique
   * among registered classes and must not change while runs that stored it are alive:
   * a run resumed after a deploy finds its class by this name.
   */
  readonly name?: string;
  /**
   * The instance as data that can be persisted (anything this module stores: plain objects,
   * Maps, Dates, other registered instances…). Called at every checkpoint where the instance
   * is live, so keep it cheap and free of side effects.
   */
  serialize(instance: T): D;
  /** A new instance from what {@link serialize} returned, read back from storage. */
  deserialize(data: D): T;
}

interface Registered {
  readonly name: string;
  readonly Class: abstract new (...args: never[]) => unknown;
  readonly serialize: (instance: unknown) => unknown;
  readonly deserialize: (data: unknown) => unknown;
}

const byPrototype = new Map<object, Registered>();

/** Node's Buffer, where there is one: stored as a Buffer, not as the Uint8Array it extends. */
const BufferClass = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const BUFFER_PROTOTYPE: object | undefined = BufferClass?.prototype;
const byName = new Map<string, Registered>();

/** Classes devalue (or the Error reducer) persists already; registering one would shadow it. */
const BUILTIN_CLASSES: ReadonlySet<unknown> = new Set<unknown>([
  Object,
  Array,
  Function,
  Promise,
  Date,
  RegExp,
  Map,
  Set,
  WeakMap,
  WeakSet,
  URL,
  URLSearchParams,
  ArrayBuffer,
  DataView,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  Number,
  String,
  Boolean,
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
  ...(BufferClass ? [BufferClass] : []),
]);

/**
 * Let instances of `Class` be persisted: as live variables across a checkpoint, as step
 * results, arguments, return values, state and event payloads. `serialize` turns an
 * instance into storable data; `deserialize` builds an instance from it when a run is
 * resumed, in this process or another one after a crash, so the resumed workflow holds an
 * instance of `Class` again (with its methods and `instanceof`).
 *
 * Register at module level, next to the class, so every process that can resume a run has
 * registered it before its engine starts. Only instances whose prototype is exactly
 * `Class.prototype` match: a subclass needs its own registration. One instance referenced
 * from several places is stored once and comes back as one instance; a cycle that leads
 * from the data back to the instance (or to anything containing it) is refused with a
 * {@link SerializationError}, since the instance cannot exist before its data is rebuilt.
 *
 * @throws DefinitionError when the name is taken, the class is registered already, or the
 *   class is one that is persisted already (Date, Map, Error, …).
 *
 * @example
 * class Money {
 *   constructor(readonly cents: bigint, readonly currency: string) {}
 * }
 * registerClass(Money, {
 *   serialize: (m) => ({ cents: m.cents, currency: m.currency }),
 *   deserialize: (d) => new Money(d.cents, d.currency),
 * });
 */
export function registerClass<T extends object, D>(
  Class: abstract new (...args: never[]) => T,
  serializer: ClassSerializer<T, D>,
): void {
  if (typeof Class !== "function" || typeof Class.prototype !== "object") {
    throw new DefinitionError("registerClass(Class, ...) needs a class.");
  }
  if (BUILTIN_CLASSES.has(Class)) {
    throw new DefinitionError(
      `registerClass: ${Class.name} is persisted already; register your own classes only.`,
    );
  }
  if (typeof serializer?.serialize !== "function" || typeof serializer.deserialize !== "function") {
    throw new DefinitionError(
      `registerClass(${Class.name || "<anonymous class>"}, ...) needs serialize and deserialize functions.`,
    );
  }
  const name = serializer.name ?? Class.name;
  if (typeof name !== "string" || name === "") {
    throw new DefinitionError(
      "registerClass: this class has no name; pass one with registerClass(Class, { name, serialize, deserialize }).",
    );
  }
  const taken = byName.get(name);
  if (taken) {
    throw new DefinitionError(
      taken.Class === Class
        ? `registerClass: class ${Class.name} is registered already as "${name}".`
        : `registerClass: the name "${name}" is taken by another class; pass a unique { name } (it is stored with every instance).`,
    );
  }
  const existing = byPrototype.get(Class.prototype);
  if (existing) {
    throw new DefinitionError(
      `registerClass: class ${Class.name} is registered already, as "${existing.name}".`,
    );
  }
  const entry: Registered = {
    name,
    Class,
    serialize: serializer.serialize as (instance: unknown) => unknown,
    deserialize: serializer.deserialize as (data: unknown) => unknown,
  };
  byPrototype.set(Class.prototype, entry);
  byName.set(name, entry);
  registrations++;
}

let registrations = 0;

/**
 * How many classes this process registered so far: an engine looks again at the runs
 * parked for a class it lacked when this moves on.
 */
export function classRegistrations(): number {
  return registrations;
}

/** The registered class `value` is an exact instance of, if any. */
function registeredOf(value: unknown): Registered | undefined {
  if (byPrototype.size === 0 || typeof value !== "object" || value === null) return undefined;
  return byPrototype.get(Object.getPrototypeOf(value));
}

/** A registered class's `serialize` threw. */
class ClassSerializeFailure extends Error {
  constructor(
    readonly className: string,
    override readonly cause: unknown,
  ) {
    super(`the serialize function registered for ${className} threw: ${describe(cause)}`);
  }
}

/** A cycle passes through a value that is rebuilt by a reviver (a registered class, an error). */
class RevivalCycle extends Error {
  constructor(
    readonly what: string,
    readonly path: string,
  ) {
    super(`a cycle passes through ${what}`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

type ErrorClass = new (message: string) => Error;

const ERROR_CLASSES: Record<string, ErrorClass> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError: AggregateError as unknown as ErrorClass,
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
  FrameTooLargeError,
  StorageRefusedError,
  LeaseLostError,
};

/**
 * Each built-in and Ratchet error class by its prototype: an error is rebuilt as the nearest
 * of them in its prototype chain, whatever its `name` says.
 */
const KNOWN_ERROR_PROTOTYPES = new Map<object, string>(
  [...Object.entries(ERROR_CLASSES), ...Object.entries(RATCHET_ERROR_CLASSES)].map(([key, c]) => [
    c.prototype,
    key,
  ]),
);

/** The class an error stored under `name` is rebuilt as when nothing else is said. */
function classByName(name: string, aggregate: boolean): string {
  return ERROR_CLASSES[name] || RATCHET_ERROR_CLASSES[name]
    ? name
    : aggregate
      ? "AggregateError"
      : "Error";
}

/** An error as stored: its class name, message, stack and own enumerable data. */
interface StoredError {
  name: string;
  /**
   * The built-in or Ratchet class it is an instance of, when its `name` would give another
   * (a TypeError given `name = "Custom"`, an Error named "TypeError"); absent otherwise.
   */
  type?: string;
  /** Set when `name` is an own enumerable property (`error.name = "Custom"`). */
  ownName?: true;
  message: string;
  stack: string | undefined;
  props: Record<string, unknown>;
  cause?: unknown;
  /** An AggregateError's `errors` (absent from errors stored before it was kept). */
  errors?: unknown;
}

/** Errors whose data is being tried out (see {@link reduceError}); reaching one is a cycle. */
const tryingErrors = new Set<object>();
const CYCLE = Symbol("cycle");

/** Whether `value` can be stored on its own (used to drop what an error holds that cannot). */
function storable(value: unknown): boolean {
  const outer = pass;
  pass = undefined;
  try {
    stringify(value);
    return true;
  } catch {
    return false;
  } finally {
    pass = outer;
  }
}

function reduceError(value: unknown): StoredError | false {
  if (!(value instanceof Error)) return false;
  if (tryingErrors.has(value)) throw CYCLE;
  tryingErrors.add(value);
  try {
    const props: Record<string, unknown> = {};
    for (const [key, prop] of Object.entries(value)) {
      if (key === "name" || key === "message" || key === "stack" || key === "cause") continue;
      // A property that cannot be stored (or leads back to this error) is dropped; the error
      // itself still is.
      if (storable(prop)) props[key] = prop;
    }
    const stored: StoredError = {
      name: value.name || value.constructor?.name || "Error",
      message: value.message,
      stack: value.stack,
      props,
    };
    let type = "Error";
    for (let p = Object.getPrototypeOf(value); p; p = Object.getPrototypeOf(p)) {
      const known = KNOWN_ERROR_PROTOTYPES.get(p);
      if (known) {
        type = known;
        break;
      }
    }
    if (type !== classByName(stored.name, value instanceof AggregateError)) stored.type = type;
    if (Object.getOwnPropertyDescriptor(value, "name")?.enumerable) stored.ownName = true;
    if ("cause" in value) {
      stored.cause = storable(value.cause) ? value.cause : String(value.cause);
    }
    if (value instanceof AggregateError) {
      const errors: unknown = value.errors;
      // Like a cause: what cannot be stored (or is the error itself) is kept as its String().
      stored.errors = storable(errors)
        ? errors
        : Array.isArray(errors)
          ? errors.map((e) => (storable(e) ? e : String(e)))
          : String(errors);
    }
    if (pass) {
      const reducedError = stored;
      pass.reduced.set(value, {
        what: `an error (${stored.name})`,
        edges: () => {
          const out: [string, unknown][] = Object.entries(reducedError.props).map(([k, v]) => [
            keySegment(k),
            v,
          ]);
          if ("cause" in reducedError) out.push([".cause", reducedError.cause]);
          if ("errors" in reducedError) out.push([".errors", reducedError.errors]);
          return out;
        },
      });
    }
    return stored;
  } finally {
    tryingErrors.delete(value);
  }
}

/** Rebuild an error with its class (when known), name, message, stack and data. */
function reviveError(stored: StoredError): Error {
  const aggregate = "errors" in stored;
  const type = stored.type ?? stored.name;
  const builtin =
    ERROR_CLASSES[type] ?? (aggregate ? (AggregateError as unknown as ErrorClass) : undefined);
  const error =
    builtin === (AggregateError as unknown)
      ? new AggregateError([], stored.message)
      : builtin
        ? new builtin(stored.message)
        : new Error(stored.message);
  const ratchet = RATCHET_ERROR_CLASSES[type];
  if (ratchet) Object.setPrototypeOf(error, ratchet.prototype);
  Object.defineProperty(error, "name", {
    value: stored.name,
    writable: true,
    configurable: true,
    enumerable: stored.ownName === true,
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
  if (aggregate) {
    // As AggregateError makes it (non-enumerable), and the very array stored, so that a
    // reference to it from elsewhere in the value is still the same array.
    Object.defineProperty(error, "errors", {
      value: stored.errors,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  Object.assign(error, stored.props);
  return error;
}

// ---------------------------------------------------------------------------------------
// Reducers and revivers
// ---------------------------------------------------------------------------------------

/** A value stored through a reducer and rebuilt by a reviver, for the cycle check. */
interface Reduced {
  /** What it is, for a message ("a registered Money instance"). */
  readonly what: string;
  /** What devalue follows out of its stored form, with the path segment of each. */
  edges(): [segment: string, child: unknown][];
}

/**
 * Every value stored through a reducer whose stored form holds other values (a registered
 * instance, an error, an array with properties, an object with a `__proto__` key) met by
 * the serialization in progress (none while an error's data is tried out), for the cycle check.
 */
let pass: { reduced: Map<object, Reduced> } | undefined;

/** A registered instance as stored: `["Class", [name, data]]` in devalue's output. */
type StoredInstance = readonly [name: string, data: unknown];

function reduceInstance(value: unknown): StoredInstance | false {
  const entry = registeredOf(value);
  if (!entry) return false;
  let data: unknown;
  try {
    data = entry.serialize(value);
  } catch (error) {
    throw new ClassSerializeFailure(entry.name, error);
  }
  // Wrapped, so that a falsy `data` still counts as handled, and the name travels with it.
  const stored: StoredInstance = [entry.name, data];
  pass?.reduced.set(value as object, {
    what: `a registered ${entry.name} instance`,
    edges: () => [["", data]],
  });
  return stored;
}

/**
 * A stored value names a class no one registered in this process. Not the value's fault:
 * a process that registers the class can read it, so a run that meets this is parked, not failed.
 */
export class UnregisteredClassError extends Error {
  constructor(readonly className: string) {
    super(
      `a stored value is an instance of class "${className}", but no class is registered under that name in this process; call registerClass before the engine resumes runs`,
    );
    this.name = "UnregisteredClassError";
  }
}

function reviveInstance(stored: StoredInstance): unknown {
  if (!Array.isArray(stored) || typeof stored[0] !== "string") {
    throw new Error("a stored class instance is malformed");
  }
  const entry = byName.get(stored[0]);
  if (!entry) throw new UnregisteredClassError(stored[0]);
  return entry.deserialize(stored[1]);
}

// ---------------------------------------------------------------------------------------
// Built-ins devalue would store differently than they are
// ---------------------------------------------------------------------------------------

/** A Buffer as stored: `["Buffer", i]`, node `i` a Uint8Array of its bytes. */
function reduceBuffer(value: unknown): Uint8Array | false {
  if (
    BUFFER_PROTOTYPE === undefined ||
    typeof value !== "object" ||
    value === null ||
    Object.getPrototypeOf(value) !== BUFFER_PROTOTYPE
  ) {
    return false;
  }
  metSpecial = true;
  const buffer = value as Uint8Array;
  // A small Buffer's memory is a slice of Node's shared pool (Buffer.poolSize bytes), which
  // holds other Buffers' bytes: a copy of the visible bytes only. Any other is a view of its
  // memory, as a Uint8Array is stored, so a typed array or another Buffer sharing that memory
  // still shares it when they come back.
  return buffer.buffer.byteLength === BufferClass!.poolSize
    ? new Uint8Array(buffer)
    : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function reviveBuffer(bytes: Uint8Array): Uint8Array {
  return BufferClass ? BufferClass.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
}

/** A RegExp whose `lastIndex` is not 0 (devalue keeps source and flags only). */
type StoredRegExp = readonly [source: string, flags: string, lastIndex: unknown];

function reduceRegExp(value: unknown): StoredRegExp | false {
  if (
    typeof value !== "object" ||
    value === null ||
    Object.getPrototypeOf(value) !== RegExp.prototype ||
    (value as RegExp).lastIndex === 0 ||
    hasExtraProperties(value, "RegExp")
  ) {
    return false;
  }
  metSpecial = true;
  const re = value as RegExp;
  return [re.source, re.flags, re.lastIndex];
}

function reviveRegExp(stored: StoredRegExp): RegExp {
  const re = new RegExp(stored[0], stored[1]);
  re.lastIndex = stored[2] as number;
  return re;
}

/**
 * An array with own properties besides its elements and `length` (a match result's `index`,
 * `input`, `groups`; a template's `raw`): `[elements, properties, hidden?]`, `hidden` naming
 * the non-enumerable ones. devalue alone keeps the elements only.
 */
type StoredArray = readonly [
  elements: unknown[],
  props: Record<PropertyKey, unknown>,
  hidden?: string[],
];

/**
 * The own properties of an array besides its elements and `length` that are stored: the
 * enumerable string-keyed ones, and on a frozen array (a template's strings) the
 * non-enumerable ones too (its `raw`); `undefined` when there are none. A plain array costs
 * one `Object.keys` and one `Object.isFrozen`.
 */
function arrayProperties(array: unknown[]): string[] | undefined {
  const frozen = Object.isFrozen(array);
  const keys = Object.keys(array);
  const n = array.length;
  // As many keys as elements, the last one the last index: no hole, so no property either.
  if (!frozen && keys.length === n && (n === 0 || keys[n - 1] === String(n - 1))) {
    return undefined;
  }
  if (frozen) {
    // Indices first, then `length` (an array's first string key), then the rest.
    const names = Object.getOwnPropertyNames(array);
    const start = names.indexOf("length") + 1;
    return start < names.length ? names.slice(start) : undefined;
  }
  // Indices come first, in order: the properties are the keys after the last index.
  let start = keys.length;
  while (start > 0 && !isArrayIndex(keys[start - 1]!)) start--;
  return start < keys.length ? keys.slice(start) : undefined;
}

function isArrayIndex(key: string): boolean {
  const n = Number(key);
  return n >>> 0 === n && n !== 4294967295 && String(n) === key;
}

function reduceArray(value: unknown): StoredArray | false {
  if (!Array.isArray(value) || Object.getPrototypeOf(value) !== Array.prototype) return false;
  const keys = arrayProperties(value);
  if (keys === undefined) return false;
  metSpecial = true;
  const props: Record<string, unknown> = {};
  const hidden: string[] = [];
  for (const key of keys) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
    // An accessor is read, as on a plain object.
    props[key] = "value" in descriptor ? descriptor.value : (value as never)[key];
    if (!descriptor.enumerable) hidden.push(key);
  }
  const stored: StoredArray =
    hidden.length > 0 ? [value.slice(), props, hidden] : [value.slice(), props];
  pass?.reduced.set(value, {
    what: "an array with properties",
    edges: () => [
      ...arrayEdges(stored[0]),
      ...Object.keys(props).map((k): [string, unknown] => [keySegment(k), props[k]]),
    ],
  });
  return stored;
}

function reviveArray(stored: StoredArray): unknown[] {
  const [elements, props, hidden] = stored;
  for (const key of Object.keys(props)) {
    Object.defineProperty(elements, key, {
      value: props[key],
      writable: true,
      enumerable: !hidden?.includes(key),
      configurable: true,
    });
  }
  return elements;
}

/**
 * A plain (or null-prototype) object with an own `__proto__` key, which devalue refuses:
 * `[nullPrototype (0 or 1), key, value, key, value…]`. Used only once devalue refused one
 * (see {@link stringify}), so that other values pay nothing for it.
 */
function reduceProtoKey(value: unknown): unknown[] | false {
  if (typeof value !== "object" || value === null || !Object.hasOwn(value, "__proto__")) {
    return false;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  metSpecial = true;
  const stored: unknown[] = [proto === null ? 1 : 0];
  for (const key of Object.keys(value)) stored.push(key, (value as Record<string, unknown>)[key]);
  pass?.reduced.set(value, {
    what: "an object with a __proto__ key",
    edges: () => {
      const out: [string, unknown][] = [];
      for (let i = 1; i < stored.length; i += 2)
        out.push([keySegment(stored[i] as string), stored[i + 1]]);
      return out;
    },
  });
  return stored;
}

function reviveProtoKey(stored: unknown[]): object {
  const object = stored[0] === 1 ? Object.create(null) : {};
  for (let i = 1; i < stored.length; i += 2) {
    Object.defineProperty(object, stored[i] as string, {
      value: stored[i + 1],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  return object;
}

/** The tag devalue stores each built-in under, by the prototype its exact instances have. */
const BUILTIN_TAGS = new Map<object, string>();
for (const Class of [
  Date,
  RegExp,
  Map,
  Set,
  URL,
  URLSearchParams,
  ArrayBuffer,
  DataView,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  Number,
  String,
  Boolean,
  BigInt,
]) {
  BUILTIN_TAGS.set(Class.prototype, Class.name);
}
for (const name of ["Float16Array"]) {
  const Class = (globalThis as Record<string, unknown>)[name] as { prototype: object } | undefined;
  if (Class) BUILTIN_TAGS.set(Class.prototype, name);
}
const Temporal = (globalThis as { Temporal?: Record<string, { prototype?: object }> }).Temporal;
if (Temporal) {
  for (const name of [
    "Duration",
    "Instant",
    "PlainDate",
    "PlainTime",
    "PlainDateTime",
    "PlainMonthDay",
    "PlainYearMonth",
    "ZonedDateTime",
  ]) {
    const proto = Temporal[name]?.prototype;
    if (proto) BUILTIN_TAGS.set(proto, `Temporal.${name}`);
  }
}
/** The names of the built-ins in {@link BUILTIN_TAGS}. */
const BUILTIN_NAMES: ReadonlySet<string> = new Set(BUILTIN_TAGS.values());
/** Built-ins whose own keys are their elements: not listed to look for other properties. */
const VIEW_TAGS = new Set([
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Float16Array",
  "Int32Array",
  "Uint32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
]);

/**
 * Whether a built-in stored by devalue (which keeps only what makes it that built-in: a
 * Date's time, a Map's entries) has own properties it would lose. A RegExp's own
 * `lastIndex` and a String object's characters and `length` are not extra; a typed array's
 * are not looked for (it would mean listing every element).
 */
function hasExtraProperties(value: object, tag: string): boolean {
  if (VIEW_TAGS.has(tag)) return false;
  const keys = Reflect.ownKeys(value);
  if (tag === "RegExp") return keys.length !== 1 || keys[0] !== "lastIndex";
  if (tag === "String") return keys.length !== (value as { length: number }).length + 1;
  return keys.length !== 0;
}

/**
 * Whether the serialization in progress has every reducer (see {@link stringify}). The
 * first pass has only those for registered classes and errors; {@link tagOf} throws
 * {@link NEEDS_EVERY_REDUCER} when it meets a value that needs another one.
 */
let everyReducer = false;
const NEEDS_EVERY_REDUCER = Symbol("needs every reducer");
/**
 * Whether a reducer of the second pass stored a value in the pass in progress, and whether
 * the last value {@link serialize} wrote needed the second pass: the next one (most often
 * the next checkpoint of the same run, holding the same Buffer) starts with it instead of
 * writing its frame twice. Either pass writes the same text.
 */
let metSpecial = false;
let lastNeededEvery = false;

/**
 * devalue's `tagOf`, which tells which built-in an object is by `Object.prototype.toString`
 * and so stores a Map subclass, a Buffer or an Array subclass as the parent class. Here an
 * object is a built-in only when its prototype is exactly the built-in's and it has no
 * property that would be lost; any other object is "Object", which devalue stores if plain
 * and refuses (with its path) if not. Plain objects and arrays are answered first.
 */
function tagOf(value: object): string {
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return "Object";
  if (proto === Array.prototype) {
    if (!everyReducer && arrayProperties(value as unknown[]) !== undefined) {
      throw NEEDS_EVERY_REDUCER;
    }
    return "Array";
  }
  const tag = BUILTIN_TAGS.get(proto);
  if (tag === undefined) {
    if (proto === BUFFER_PROTOTYPE && !everyReducer) throw NEEDS_EVERY_REDUCER;
    return "Object";
  }
  if (tag === "RegExp" && (value as RegExp).lastIndex !== 0 && !everyReducer) {
    throw NEEDS_EVERY_REDUCER;
  }
  return hasExtraProperties(value, tag) ? "Object" : tag;
}

/** The built-in `value` is an instance of, by its prototype chain (for messages). */
function builtinBase(value: object): { tag: string; exact: boolean } | undefined {
  let proto = Object.getPrototypeOf(value);
  for (let depth = 0; proto !== null && depth < 100; depth++) {
    if (proto === Object.prototype) return undefined;
    const tag =
      proto === Array.prototype
        ? "Array"
        : proto === BUFFER_PROTOTYPE
          ? "Buffer"
          : BUILTIN_TAGS.get(proto);
    if (tag !== undefined) return { tag, exact: depth === 0 };
    proto = Object.getPrototypeOf(proto);
  }
  return undefined;
}

const stringifyOptions = {
  operations: { ...devalue.defaultStringifyOperations, tagOf },
};

/** Reducers of the first pass: registered classes first (a registered Error subclass is stored by its own serializer). */
const reducers = { Class: reduceInstance, Error: reduceError };
/** Reducers of the second pass, for a value that holds something only they store. */
const everyReducers = {
  ...reducers,
  Buffer: reduceBuffer,
  RegExpAt: reduceRegExp,
  ArrayProps: reduceArray,
  ProtoKey: reduceProtoKey,
};
const revivers = {
  Class: reviveInstance,
  Error: reviveError,
  Buffer: reviveBuffer,
  RegExpAt: reviveRegExp,
  ArrayProps: reviveArray,
  ProtoKey: reviveProtoKey,
};

/** For diagnosis only: a registered instance's data is walked where the instance is. */
function reduceForDiagnosis(value: unknown): unknown {
  const entry = registeredOf(value);
  if (!entry) return false;
  return entry.serialize(value) || [];
}
const diagnosticReducers = { ...reducers, Class: reduceForDiagnosis };
const everyDiagnosticReducer = { ...everyReducers, Class: reduceForDiagnosis };

/**
 * devalue.stringify with Ratchet's reducers and tags. Each reducer is a call per value
 * (strings and numbers included), so the first pass has only the two for registered
 * classes and errors; a value that needs another (a Buffer, a RegExp with a lastIndex, an
 * array with properties, an object with a `__proto__` key, which devalue refuses) stops
 * it, and a second pass has them all. A frame holding one pays the first pass twice.
 */
function stringify(value: unknown, diagnosis = false, hinted = false): string {
  if (!everyReducer && !(hinted && lastNeededEvery)) {
    try {
      return devalue.stringify(value, diagnosis ? diagnosticReducers : reducers, stringifyOptions);
    } catch (error) {
      const again =
        error === NEEDS_EVERY_REDUCER ||
        (error instanceof devalue.DevalueError && error.message.includes("__proto__"));
      if (!again) throw error;
    }
  }
  const outer = everyReducer;
  const outerMet = metSpecial;
  everyReducer = true;
  metSpecial = false;
  try {
    pass?.reduced.clear();
    const text = devalue.stringify(
      value,
      diagnosis ? everyDiagnosticReducer : everyReducers,
      stringifyOptions,
    );
    if (hinted) lastNeededEvery = metSpecial;
    return text;
  } finally {
    everyReducer = outer;
    metSpecial = outerMet || metSpecial;
  }
}

// ---------------------------------------------------------------------------------------
// The cycle check
// ---------------------------------------------------------------------------------------

function keySegment(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function mapKeySegment(key: unknown): string {
  if (typeof key === "string") return `.get(${JSON.stringify(key)})`;
  if (typeof key === "object" && key !== null) return ".get(...)";
  return `.get(${String(key)})`;
}

function arrayEdges(value: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i < value.length; i++) if (i in value) out.push([`[${i}]`, value[i]]);
  return out;
}

/** The edges devalue follows out of a value, in the order it follows them. */
function edges(value: object, reduced: Map<object, Reduced>): [segment: string, child: unknown][] {
  const stored = reduced.get(value);
  if (stored !== undefined) return stored.edges();
  if (Array.isArray(value)) return arrayEdges(value);
  if (value instanceof Map) {
    const out: [string, unknown][] = [];
    for (const [k, v] of value) {
      const segment = mapKeySegment(k);
      out.push([segment, k], [segment, v]);
    }
    return out;
  }
  if (value instanceof Set) return [...value].map((v) => ["", v]);
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    return Object.keys(value).map((k) => [keySegment(k), (value as Record<string, unknown>)[k]]);
  }
  // Date, RegExp, typed arrays, boxed primitives…: nothing devalue follows.
  return [];
}

/**
 * devalue rebuilds a reduced value (a registered instance, an error) only once its data is
 * rebuilt, so data that leads back to it would get a half-built copy, and a `deserialize`
 * would see half-built data. So no reduced value may be part of a cycle: this finds the
 * strongly connected components of the value's graph (Tarjan's algorithm, iteratively) and
 * returns one with a reduced value in it. Whether a value is refused does not depend on the
 * order it is walked in, so checking one variable alone finds what checking the frame found.
 */
function findRevivalCycle(
  root: unknown,
  reduced: Map<object, Reduced>,
): { what: string; path: string } | undefined {
  if (typeof root !== "object" || root === null) return undefined;
  interface Frame {
    readonly node: object;
    readonly segment: string;
    readonly out: [string, unknown][];
    next: number;
  }
  const index = new Map<object, number>();
  const low = new Map<object, number>();
  const onStack = new Set<object>();
  const component: object[] = [];
  const selfLoops = new Set<object>();
  /** Where each reduced value was first met, for the message. */
  const paths = new Map<object, string>();
  const stack: Frame[] = [];
  let counter = 0;
  const enter = (node: object, segment: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    component.push(node);
    onStack.add(node);
    stack.push({ node, segment, out: edges(node, reduced), next: 0 });
    if (reduced.has(node)) paths.set(node, stack.map((f) => f.segment).join(""));
  };
  enter(root, "");
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (frame.next < frame.out.length) {
      const [segment, child] = frame.out[frame.next++];
      if (typeof child !== "object" || child === null) continue;
      if (!index.has(child)) enter(child, segment);
      else if (onStack.has(child)) {
        if (child === frame.node) selfLoops.add(child);
        low.set(frame.node, Math.min(low.get(frame.node)!, index.get(child)!));
      }
      continue;
    }
    stack.pop();
    const node = frame.node;
    if (low.get(node) === index.get(node)) {
      const start = component.lastIndexOf(node);
      const members = component.splice(start);
      for (const member of members) onStack.delete(member);
      if (members.length > 1 || selfLoops.has(node)) {
        const culprit = members.find((m) => reduced.has(m));
        if (culprit) return { what: reduced.get(culprit)!.what, path: paths.get(culprit) ?? "" };
      }
    }
    const parent = stack[stack.length - 1];
    if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(node)!));
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// The API the runtime uses
// ---------------------------------------------------------------------------------------

/**
 * Serialize a value for storage. Throws when it cannot: devalue's error (with `.path`), or
 * an error about a registered class's serializer or a cycle through a rebuilt value.
 * {@link whyUnserializable} turns any of them into a reason and a path.
 */
export function serialize(value: unknown): string {
  const outer = pass;
  const current = { reduced: new Map<object, Reduced>() };
  pass = current;
  try {
    const text = stringify(value, false, true);
    if (current.reduced.size > 0) {
      const cycle = findRevivalCycle(value, current.reduced);
      if (cycle) throw new RevivalCycle(cycle.what, cycle.path);
    }
    return text;
  } finally {
    pass = outer;
  }
}

/** The most variables {@link serializePrimitiveFrame} writes; a larger frame goes to devalue. */
const MAX_PRIMITIVE_FRAME_VARIABLES = 32;
/** Stands for the frame and its variables' object in the table of a primitive frame. */
const OBJECT_SLOT = Symbol("object");
// The characters devalue escapes in a string (and surrogates: JSON.stringify escapes the
// unpaired ones, as devalue does, and leaves pairs as they are), and those of them
// JSON.stringify leaves raw.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const NEEDS_ESCAPE = /["<\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/;
const JSON_LEAVES_RAW = /[<\u2028\u2029]/g;
const RAW_ESCAPES: Readonly<Record<string, string>> = {
  "<": "\\u003C",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/** A string as devalue writes it. */
function quoteString(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return `"${text}"`;
  return JSON.stringify(text).replace(JSON_LEAVES_RAW, (char) => RAW_ESCAPES[char]!);
}

/**
 * Where devalue puts a primitive in `table`: its constant (undefined, NaN, ±Infinity, -0),
 * or the index of the first equal one, added at the end if new (devalue writes equal
 * primitives once). `undefined` for a value that is not a primitive this path writes.
 */
function primitiveIndex(value: unknown, table: unknown[]): number | undefined {
  switch (typeof value) {
    case "undefined":
      return -1;
    case "number":
      if (Number.isNaN(value)) return -3;
      if (value === Number.POSITIVE_INFINITY) return -4;
      if (value === Number.NEGATIVE_INFINITY) return -5;
      if (value === 0 && 1 / value < 0) return -6;
      break;
    case "string":
    case "boolean":
      break;
    case "object":
      if (value === null) break;
      return undefined;
    default:
      return undefined;
  }
  const found = table.indexOf(value);
  if (found !== -1) return found;
  table.push(value);
  return table.length - 1;
}

/**
 * `serialize({ cp, v: live, r: result })` when every variable and the result are primitives
 * (strings, numbers, booleans, null, undefined): the same text, character for character,
 * written without devalue's general walk, which was most of a checkpoint's own CPU time.
 * `undefined` for any other frame; `serialize` writes it.
 */
export function serializePrimitiveFrame(
  cp: string,
  live: Record<string, unknown>,
  result: unknown,
): string | undefined {
  if (Object.getPrototypeOf(live) !== Object.prototype) return undefined;
  const keys = Object.keys(live);
  if (keys.length > MAX_PRIMITIVE_FRAME_VARIABLES) return undefined;
  if (Object.getOwnPropertySymbols(live).length > 0) return undefined;
  // devalue's order: the frame (0), its checkpoint id (1), the variables' object (2), each
  // variable's value in key order, then the result.
  const table: unknown[] = [OBJECT_SLOT, cp, OBJECT_SLOT];
  let vars = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key === "__proto__") return undefined;
    const index = primitiveIndex(live[key], table);
    if (index === undefined) return undefined;
    vars += `${i > 0 ? "," : ""}${quoteString(key)}:${index}`;
  }
  vars += "}";
  const resultIndex = primitiveIndex(result, table);
  if (resultIndex === undefined) return undefined;
  let text = `[{"cp":1,"v":2,"r":${resultIndex}},${quoteString(cp)},${vars}`;
  for (let i = 3; i < table.length; i++) {
    const value = table[i];
    text += `,${typeof value === "string" ? quoteString(value) : String(value)}`;
  }
  return `${text}]`;
}

/** Read back a value written by {@link serialize}. */
export function deserialize(text: string): unknown {
  return devalue.parse(text, revivers);
}

/** Revivers that need no class registered: a registered instance or an error is read as its stored form. */
const dataRevivers = {
  ...revivers,
  Class: (stored: unknown) => stored,
  Error: (stored: unknown) => stored,
};

/**
 * Read back a value written by {@link serialize} without the application's classes: a
 * registered instance comes back as `[name, data]`, an error as `{ name, message, … }`;
 * the rest as {@link deserialize} reads it. For tools that look at stored runs
 * (`ratchet check --db` needs a frame's variable names).
 */
export function deserializeData(text: string): unknown {
  return devalue.parse(text, dataRevivers);
}

const REGISTER_HINT = "registerClass(Class, { serialize, deserialize })";

/** A devalue error's reason, in the runtime's words. */
function devalueReason(error: { message?: string; value?: unknown }): string {
  const found = error.value;
  const message = error.message ?? "";
  if (typeof found === "function") {
    return `a function${found.name ? ` (${found.name})` : ""} cannot be stored`;
  }
  if (typeof found === "symbol") return "a symbol cannot be stored";
  if (message.includes("Promise")) return "a Promise cannot be stored (await it first)";
  if (message.includes("non-POJO") && typeof found === "object" && found !== null) {
    const name = (found as { constructor?: { name?: string } }).constructor?.name;
    const base = builtinBase(found);
    if (base?.exact) {
      const keys = Reflect.ownKeys(found)
        .filter((k) => !(base.tag === "RegExp" && k === "lastIndex"))
        .map((k) => (typeof k === "symbol" ? k.toString() : k));
      return (
        `a ${base.tag} with its own properties (${keys.join(", ")}) cannot be stored: it would come back without them; ` +
        "keep them beside it (in a plain object holding both)"
      );
    }
    const tag = Object.prototype.toString.call(found).slice(8, -1);
    if (!base && name === tag && (tag === "Array" || BUILTIN_NAMES.has(tag))) {
      return (
        `a ${tag} from another realm (a node:vm context, an iframe) cannot be stored as one: its prototype is not this realm's ${tag}.prototype; ` +
        `copy it into this realm before the checkpoint (e.g. new ${tag}(value))`
      );
    }
    if (base) {
      return (
        `${name ? `a ${name} instance` : "an instance of a class"} (a subclass of ${base.tag}) would come back as a plain ${base.tag}; ` +
        `to persist it, register its class with ${REGISTER_HINT}, or store a plain ${base.tag}`
      );
    }
    const what = name ? `a ${name} instance` : "an instance of a class";
    if (holdsLiveResource(found)) {
      return (
        `${what} holds something live (a connection, a stream, a handle, a pending result) that cannot outlive this process; ` +
        "keep it out of variables that live across a checkpoint: store what identifies it (a URL, an id) and open it again after the checkpoint, or create it inside a step"
      );
    }
    return `${what} is not plain data; to persist it, register its class with ${REGISTER_HINT}`;
  }
  if (message.includes("symbolic keys")) return "an object with symbol keys cannot be stored";
  if (message.includes("__proto__")) return "an object with a __proto__ key cannot be stored";
  return message || "it cannot be serialized";
}

/**
 * Whether an object is a live resource rather than data a class wraps, so `registerClass`
 * (which rebuilds an instance from its data) is the wrong advice: event emitters (sockets,
 * streams, servers), web streams, anything disposable, thenables, and instances of classes
 * built into the platform (their state lives outside JavaScript).
 */
function holdsLiveResource(value: object): boolean {
  const v = value as Record<PropertyKey, unknown>;
  const isFunction = (key: PropertyKey) => typeof v[key] === "function";
  if (isFunction("on") && isFunction("emit")) return true;
  if (isFunction("addEventListener") && isFunction("dispatchEvent")) return true;
  if (["getReader", "getWriter", "then", "abort"].some(isFunction)) return true;
  if (
    (typeof Symbol.dispose === "symbol" && isFunction(Symbol.dispose)) ||
    (typeof Symbol.asyncDispose === "symbol" && isFunction(Symbol.asyncDispose))
  ) {
    return true;
  }
  const ctor = (value as { constructor?: unknown }).constructor;
  return (
    typeof ctor === "function" &&
    ctor !== Object &&
    /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(ctor))
  );
}

/** Why a value cannot be serialized, and where inside it; `undefined` when it can. */
export function whyUnserializable(value: unknown): { reason: string; path: string } | undefined {
  try {
    serialize(value);
    return undefined;
  } catch (error) {
    if (error instanceof RevivalCycle) {
      return {
        reason:
          `${error.what} is part of a cycle: what it stores leads back to it, so it could not be ` +
          "rebuilt (it is rebuilt from its data, after that data). Keep back-references out of " +
          "what a registered class's serialize returns, out of an error's fields, and out of " +
          "an array's properties",
        path: error.path,
      };
    }
    if (error instanceof ClassSerializeFailure) return { reason: error.message, path: "" };
    // Walk again with each registered instance's data where the instance is, for a path
    // that reads like the value (`order.total.format`, not `order.total[1].format`).
    let found = error as { message?: string; path?: string; value?: unknown };
    try {
      stringify(value, true);
    } catch (again) {
      if (again instanceof Error && "path" in again) found = again as typeof found;
    }
    return { reason: devalueReason(found), path: found.path ?? "" };
  }
}

/**
 * Serialize, turning failure into a {@link SerializationError} that names `subject` (e.g.
 * `variable "order"`, or ``the value of `makeOrder()` (4:40)``) and where it was being
 * persisted. The path inside the value starts from the name or expression quoted in it.
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
    const quoted = /"(.*)"|`(.*)`/.exec(subject);
    const name = quoted?.[1] ?? quoted?.[2] ?? "";
    throw new SerializationError({
      subject,
      reason: why.reason,
      path: why.path ? `${name}${why.path}` : "",
      ...context,
    });
  }
}
