/**
 * The sandbox: a module worker that loads the compiled code and drives its state machine one
 * checkpoint at a time, the way runtime/executor.ts does, but waiting for the page before
 * every commit. It holds the only in-memory copy of the run; the page keeps the committed
 * frames in a memory() store, so "Crash" is `worker.terminate()` and a new worker booted from
 * the stored frame.
 */
import type { Operation, StepOperation } from "../../runtime/context.ts";
import { MachineContext } from "../../runtime/context.ts";
import type { Workflow } from "../../runtime/definitions.ts";
import * as ratchet from "../../runtime/index.ts";
import type { CheckpointInfo, CompiledMachine, MachineFrame } from "../../runtime/machine.ts";
import { performOperation } from "../../runtime/operations.ts";
import { deserialize, serialize } from "../../runtime/serialization.ts";
import type { FromSandbox, OperationView, ToSandbox } from "./protocol.ts";
import { fromEditable, show, toEditable } from "./show.ts";

interface WorkerScope {
  postMessage(message: FromSandbox): void;
  addEventListener(type: "message", listener: (event: MessageEvent<ToSandbox>) => void): void;
}
const scope = self as unknown as WorkerScope;
const post = (message: FromSandbox) => scope.postMessage(message);

// The compiled module's `import { workflow, fn, … } from "ratchetjs"` reads this object: the
// runtime bundled into this worker, so its workflow() and the driver below are one runtime.
(globalThis as { __ratchet?: unknown }).__ratchet = ratchet;

for (const level of ["log", "info", "warn", "error"] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    original(...args);
    post({
      type: "log",
      text: args.map((a) => (typeof a === "string" ? a : show(a, 0))).join(" "),
    });
  };
}

/** Rewrite the compiled module's imports of "ratchetjs" to read the bundled runtime. */
export function link(code: string): string {
  return code.replace(
    /^import\s+([^;]*?)\s+from\s+["']([^"']+)["'];?/gm,
    (_whole, clause: string, specifier: string) => {
      if (specifier !== "ratchetjs") {
        throw new Error(
          `The playground provides only "ratchetjs" to import; define other code inline (import from "${specifier}").`,
        );
      }
      const namespace = /^\*\s+as\s+([\w$]+)$/.exec(clause.trim());
      if (namespace) return `const ${namespace[1]} = globalThis.__ratchet;`;
      const named = /^\{([^}]*)\}$/.exec(clause.trim());
      if (!named)
        throw new Error(`"ratchetjs" has no default export: import { … } from "ratchetjs".`);
      const bindings = named[1]!
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => s.replace(/^([\w$]+)\s+as\s+([\w$]+)$/, "$1: $2"));
      return `const { ${bindings.join(", ")} } = globalThis.__ratchet;`;
    },
  );
}

interface Pending {
  readonly cp: CheckpointInfo;
  readonly op: Operation;
  readonly live: Record<string, unknown>;
  /** The steps' outcome, for operations that run steps. */
  readonly performed:
    | Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }>
    | undefined;
}

let now = Date.now();
const clock = { now: () => now };
let compiled: CompiledMachine | undefined;
let machine: AsyncGenerator<readonly [number, unknown, Record<string, unknown>], unknown, unknown>;
let pending: Pending | undefined;
let runId = "";
let workflowName = "";
let passes = 0;
const state = new Map<string, unknown>();
const session = new Map<string, unknown>();

/** The module's exported names of its functions: `fn(async (…) => …)` has no name of its own. */
const exportNames = new Map<unknown, string>();

function stepView(step: StepOperation) {
  const name = step.inline ? step.name : (exportNames.get(step.call) ?? step.name);
  return { name, args: show(step.args, 0) };
}

function view(op: Operation): OperationView {
  switch (op.kind) {
    case "step":
      return { kind: "step", ...stepView(op) };
    case "parallel":
    case "gather":
    case "batch":
    case "map":
      return { kind: op.kind, branches: op.branches.map(stepView) };
    case "sleep":
      return { kind: "sleep", until: op.until };
    case "waitForUser":
      return {
        kind: "waitForUser",
        question: op.question.question,
        inputType: op.question.inputType,
        options: op.question.options,
        timeoutAt: op.timeoutAt,
      };
    case "waitForEvent":
      return {
        kind: "waitForEvent",
        name: op.name,
        match: show(op.match, 0),
        timeoutAt: op.timeoutAt,
      };
    default:
      return { kind: "other", description: show(op, 0) };
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : show(error, 0);
}

async function advance(step: () => Promise<IteratorResult<unknown, unknown>>): Promise<void> {
  let next: IteratorResult<unknown, unknown>;
  try {
    next = await step();
  } catch (error) {
    let text: string;
    try {
      text = serialize(error instanceof Error ? error : new Error(String(error)));
    } catch {
      text = serialize(new Error(errorText(error)));
    }
    post({ type: "done", status: "failed", text, shown: errorText(error) });
    return;
  }
  if (next.done) {
    try {
      post({
        type: "done",
        status: "completed",
        text: serialize(next.value),
        shown: show(next.value),
      });
    } catch (error) {
      const text = serialize(new Error(`The result cannot be stored: ${errorText(error)}`));
      post({ type: "done", status: "failed", text, shown: errorText(error) });
    }
    return;
  }
  const [index, op, live] = next.value as readonly [number, Operation, Record<string, unknown>];
  const cp = compiled!.manifest.checkpoints[index - 1]!;
  passes++;
  const runsSteps = ["step", "parallel", "gather", "batch", "map"].includes(op.kind);
  const performed = runsSteps
    ? performOperation(op, {
        runId,
        workflowName,
        key: `${runId}:${cp.id}:${passes}`,
        done: new Map(),
        onBranch: () => {},
      }).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      )
    : undefined;
  pending = { cp, op, live, performed };
  post({ type: "pending", index, id: cp.id, operation: view(op), live: show(live) });
  if (performed) {
    const outcome = await performed;
    post(
      outcome.ok
        ? { type: "performed", ok: true, shown: toEditable(outcome.value) }
        : { type: "performed", ok: false, shown: errorText(outcome.error) },
    );
  }
}

async function boot(message: Extract<ToSandbox, { type: "boot" }>): Promise<void> {
  now = message.now;
  runId = message.runId;
  workflowName = message.workflow;
  const url = URL.createObjectURL(
    new Blob([`${link(message.code)}\n//# sourceURL=playground-workflows.js`], {
      type: "text/javascript",
    }),
  );
  let module: Record<string, unknown>;
  try {
    module = await import(/* @vite-ignore */ url);
  } finally {
    URL.revokeObjectURL(url);
  }
  for (const [name, value] of Object.entries(module)) {
    if (typeof value === "function") exportNames.set(value, name);
  }
  const definition = Object.values(module).find(
    (value): value is Workflow =>
      typeof value === "object" && value !== null && (value as Workflow).name === message.workflow,
  );
  if (!definition?.compiled) {
    throw new Error(`No compiled workflow "${message.workflow}" is exported by the code.`);
  }
  compiled = definition.compiled;
  let frame: MachineFrame;
  let resumedAt: Extract<FromSandbox, { type: "booted" }>["resumedAt"] = null;
  if (message.frame === null) {
    frame = { pc: 0, vars: {}, args: deserialize(message.args) as unknown[], sent: undefined };
  } else {
    const stored = deserialize(message.frame) as {
      cp: string;
      v: Record<string, unknown>;
      r: unknown;
      st?: Map<string, unknown>;
    };
    const cp = compiled.manifest.checkpoints.find((c) => c.id === stored.cp);
    if (!cp) {
      throw new Error(
        `The stored checkpoint "${stored.cp}" does not exist in this version of ${message.workflow}.`,
      );
    }
    for (const [k, v] of stored.st ?? []) state.set(k, v);
    frame = { pc: cp.resume, vars: stored.v ?? {}, args: [], sent: stored.r };
    resumedAt = { index: cp.index, id: cp.id, vars: show(stored.v ?? {}) };
  }
  // Session state lives in this worker only (the playground has one run, no sessions).
  const ctx = new MachineContext(runId, message.workflow, undefined, clock, state, {
    read: async () => new Map(session),
    write: async (change) => change(session),
  });
  machine = compiled.machine(ctx, frame);
  post({ type: "booted", version: compiled.manifest.version, resumedAt });
  await advance(() => machine.next());
}

async function commit(message: Extract<ToSandbox, { type: "commit" }>): Promise<void> {
  now = message.now;
  const current = pending;
  if (!current) return;
  let result: unknown;
  if (message.override !== undefined) {
    result = fromEditable(message.override);
  } else if (current.performed) {
    const outcome = await current.performed;
    if (!outcome.ok) {
      // As the runtime does: a failed step is not committed; its error is thrown at the await.
      pending = undefined;
      post({ type: "thrown", index: current.cp.index, message: errorText(outcome.error) });
      await advance(() => machine.throw(outcome.error));
      return;
    }
    result = outcome.value;
  } else if (current.op.kind === "sleep" && current.op.until > now) {
    throw new Error("The run is still asleep: skip time first.");
  }
  const stored =
    state.size > 0
      ? { cp: current.cp.id, v: current.live, r: result, st: state }
      : { cp: current.cp.id, v: current.live, r: result };
  const text = serialize(stored);
  pending = undefined;
  post({ type: "frame", index: current.cp.index, id: current.cp.id, text });
  await advance(() => machine.next(result));
}

/** As the runtime does for a wait that timed out: nothing is committed, the await throws. */
async function timeout(message: Extract<ToSandbox, { type: "timeout" }>): Promise<void> {
  now = message.now;
  const current = pending;
  if (!current || (current.op.kind !== "waitForUser" && current.op.kind !== "waitForEvent")) return;
  if (current.op.timeoutAt === null || current.op.timeoutAt > now) {
    throw new Error("The wait has not timed out yet: skip time first.");
  }
  const error = new ratchet.TimeoutError(
    `The wait at ${current.cp.id} (${compiled!.manifest.file}:${current.cp.line}:${current.cp.column}) timed out.`,
  );
  pending = undefined;
  post({ type: "thrown", index: current.cp.index, message: errorText(error) });
  await advance(() => machine.throw(error));
}

let queue: Promise<void> = Promise.resolve();
scope.addEventListener("message", (event) => {
  const message = event.data;
  queue = queue
    .then(() =>
      message.type === "boot"
        ? boot(message)
        : message.type === "timeout"
          ? timeout(message)
          : commit(message),
    )
    .catch((error: unknown) => post({ type: "error", message: errorText(error) }));
});
