/**
 * The playground page: edit a workflow, see it compiled into a state machine, and drive one
 * run of it a checkpoint at a time. Everything runs in this browser tab: the compiler (with
 * TypeScript, loaded on first use), the runtime in a sandbox worker, and a memory() store.
 */
import { memory } from "../../adapters/memory/index.ts";
import type { MachineDescription } from "../../compiler/describe.ts";
import { createTestClock } from "../../runtime/clock.ts";
import { deserialize, serialize } from "../../runtime/serialization.ts";
import type { Compiled } from "./compile.ts";
import {
  createOutputView,
  createSourceEditor,
  highlightLines,
  setDocument,
  showDiagnostics,
} from "./editor.ts";
import { EXAMPLES, type Example } from "./examples.ts";
import { buildGraph, drawGraph, type GraphNode } from "./graph.ts";
import type { FromSandbox, OperationView, ToSandbox } from "./protocol.ts";
import { readHash, writeHash } from "./share.ts";
import { fromEditable, show } from "./show.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const ui = {
  example: $<HTMLSelectElement>("example"),
  share: $<HTMLButtonElement>("share"),
  shareNote: $("share-note"),
  compileStatus: $("compile-status"),
  diagnostics: $("diagnostics"),
  graph: $("graph"),
  graphNote: $("graph-note"),
  workflow: $<HTMLSelectElement>("workflow"),
  args: $<HTMLInputElement>("args"),
  start: $<HTMLButtonElement>("start"),
  next: $<HTMLButtonElement>("next"),
  crash: $<HTMLButtonElement>("crash"),
  reset: $<HTMLButtonElement>("reset"),
  runStatus: $("run-status"),
  operation: $("operation"),
  live: $("live"),
  liveNote: $("live-note"),
  frame: $("frame"),
  frameDecoded: $("frame-decoded"),
  storeStatus: $("store-status"),
  log: $("log"),
  result: $("result"),
  clock: $("clock"),
};

// ---- compiling ----------------------------------------------------------------------

let compiler: Promise<typeof import("./compile.ts")> | undefined;
let compiled: Compiled | undefined;
let selectedNode: string | undefined;
let compileSerial = 0;

async function recompile(code: string): Promise<void> {
  const serial = ++compileSerial;
  if (!compiler) {
    ui.compileStatus.textContent = "loading the compiler (TypeScript)…";
    compiler = import("./compile.ts");
  }
  const { compile } = await compiler;
  if (serial !== compileSerial) return;
  const started = performance.now();
  let out: Compiled;
  try {
    out = compile(code);
  } catch (error) {
    ui.compileStatus.textContent = `the compiler threw: ${String(error)}`;
    return;
  }
  compiled = out;
  const errors = out.diagnostics.filter((d) => d.severity === "error").length;
  const warnings = out.diagnostics.length - errors;
  ui.compileStatus.textContent =
    `compiled in ${Math.round(performance.now() - started)} ms: ` +
    `${out.workflows.length} workflow${out.workflows.length === 1 ? "" : "s"}, ` +
    `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`;
  ui.compileStatus.dataset.state = errors > 0 ? "error" : "ok";
  showDiagnostics(source, out.diagnostics);
  ui.diagnostics.replaceChildren(
    ...out.diagnostics.map((d) => {
      const item = document.createElement("li");
      item.className = `diagnostic diagnostic-${d.severity}`;
      item.textContent = `${d.code} ${d.line}:${d.column} ${d.message}${d.hint ? ` — ${d.hint}` : ""}`;
      item.addEventListener("click", () =>
        highlight({ selected: { from: d.line, to: d.endLine } }, d.line),
      );
      return item;
    }),
  );
  setDocument(emitted, out.code);
  const names = out.workflows.map((w) => w.name);
  const previous = ui.workflow.value || pendingWorkflowChoice;
  ui.workflow.replaceChildren(
    ...names.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    }),
  );
  if (previous && names.includes(previous)) ui.workflow.value = previous;
  pendingWorkflowChoice = undefined;
  renderGraph();
  renderControls();
}

let pendingWorkflowChoice: string | undefined;

function currentMachine(): MachineDescription | undefined {
  const name = run?.workflow ?? ui.workflow.value;
  return compiled?.machines.find((m) => m.name === name);
}

function renderGraph(): void {
  const machine = currentMachine();
  if (!machine || !compiled) {
    ui.graph.replaceChildren();
    ui.graphNote.textContent = compiled
      ? "No workflow compiles yet: see the diagnostics."
      : "Compiling…";
    return;
  }
  const manifest = compiled.workflows.find((w) => w.name === machine.name);
  const ids = new Map(manifest?.checkpoints.map((c) => [c.index, c.id]) ?? []);
  const stale = run !== undefined && manifest?.version !== run.version;
  ui.graphNote.textContent =
    `${machine.name}: ${machine.checkpoints.length} checkpoint${machine.checkpoints.length === 1 ? "" : "s"}, ` +
    `version ${manifest?.version ?? "?"}` +
    (stale ? ` — the run was started on version ${run!.version}` : "") +
    ". Click a node to see its lines.";
  drawGraph(
    ui.graph,
    buildGraph(machine, ids),
    {
      pending: run?.pending?.index,
      committed: run?.committed ?? new Set(),
      resumedFrom: run?.resumedFrom,
      finished: run?.finished !== undefined,
      selected: selectedNode,
    },
    (node: GraphNode) => {
      selectedNode = node.key;
      highlight({ selected: node.lines }, node.lines?.from);
      renderGraph();
    },
  );
}

let selectedLines: { from: number; to: number } | null = null;

function highlight(change: { selected?: { from: number; to: number } | null }, scrollTo?: number) {
  if (change.selected !== undefined) selectedLines = change.selected;
  const machine = currentMachine();
  const cp =
    run?.pending && machine
      ? machine.checkpoints.find((c) => c.index === run!.pending!.index)
      : undefined;
  highlightLines(
    source,
    { current: cp ? { from: cp.line, to: cp.endLine } : null, selected: selectedLines },
    scrollTo ?? cp?.line,
  );
}

// ---- the run ------------------------------------------------------------------------

/** One run, as the page knows it: the store holds its committed frames. */
interface Run {
  readonly id: string;
  readonly workflow: string;
  readonly version: string;
  /** The compiled code the worker runs. */
  code: string;
  seq: number;
  committed: Set<number>;
  pending: { index: number; id: string; operation: OperationView } | undefined;
  /** The steps' outcome for the pending checkpoint, once they ran. */
  performed: { ok: boolean; shown: string } | undefined;
  resumedFrom: number | undefined;
  finished: { status: "completed" | "failed"; shown: string } | undefined;
  /** Whether the page waits for the worker (a commit in flight). */
  busy: boolean;
}

const OWNER = "playground";
const LEASE = 1e12;
const storage = memory();
const clock = createTestClock();
let run: Run | undefined;
let worker: Worker | undefined;
let runCount = 0;
let messages: Promise<void> = Promise.resolve();

function log(text: string, kind = "info"): void {
  const line = document.createElement("div");
  line.className = `log-${kind}`;
  line.textContent = text;
  ui.log.appendChild(line);
  ui.log.scrollTop = ui.log.scrollHeight;
}

function spawn(): Worker {
  const created = new Worker(new URL("./sandbox.ts", import.meta.url), { type: "module" });
  created.addEventListener("message", (event: MessageEvent<FromSandbox>) => {
    if (created !== worker) return;
    messages = messages
      .then(() => onMessage(event.data))
      .catch((error: unknown) => {
        log(`playground error: ${String(error)}`, "error");
      });
  });
  created.addEventListener("error", (event) => {
    log(`sandbox error: ${event.message}`, "error");
  });
  return created;
}

function send(message: ToSandbox): void {
  worker?.postMessage(message);
}

async function boot(current: Run): Promise<void> {
  const stored = await storage.loadRun(current.id);
  worker?.terminate();
  worker = spawn();
  current.busy = true;
  send({
    type: "boot",
    code: current.code,
    workflow: current.workflow,
    runId: current.id,
    args: stored!.args,
    frame: stored!.frame,
    now: clock.now(),
  });
}

async function start(): Promise<void> {
  if (!compiled || compiled.diagnostics.some((d) => d.severity === "error")) return;
  const name = ui.workflow.value;
  const manifest = compiled.workflows.find((w) => w.name === name);
  if (!manifest) return;
  let args: unknown;
  try {
    args = JSON.parse(ui.args.value || "[]");
  } catch (error) {
    setStatus(`The arguments are not JSON: ${(error as Error).message}`, "error");
    return;
  }
  if (!Array.isArray(args)) args = [args];
  const id = `run-${++runCount}`;
  await storage.createRun({
    id,
    workflow: name,
    version: manifest.version,
    args: serialize(args),
    leaseOwner: OWNER,
    leaseMs: LEASE,
  });
  run = {
    id,
    workflow: name,
    version: manifest.version,
    code: compiled.code,
    seq: 0,
    committed: new Set(),
    pending: undefined,
    performed: undefined,
    resumedFrom: undefined,
    finished: undefined,
    busy: true,
  };
  ui.log.replaceChildren();
  ui.result.textContent = "";
  log(`started ${id}: ${name}(${show(args, 0).slice(1, -1)})`);
  setStatus("starting…");
  await boot(run);
  await refreshStore();
  renderAll();
}

/** "Crash": throw the worker away, with the machine in it, and resume from the stored frame. */
async function crash(): Promise<void> {
  if (!run || run.finished) return;
  worker?.terminate();
  worker = undefined;
  const lost = run.pending;
  const ran =
    lost && run.performed ? "; its step had run but was not committed, so it runs again" : "";
  log(
    `crash: the sandbox worker was terminated${lost ? ` while waiting at checkpoint ${lost.index}${ran}` : ""}; ` +
      "nothing in memory survives",
    "crash",
  );
  run.pending = undefined;
  run.performed = undefined;
  run.busy = true;
  // Resume on the code as it is now, as a restarted process would: refused when the edit
  // changed what is persisted (the version).
  if (compiled) {
    const manifest = compiled.workflows.find((w) => w.name === run!.workflow);
    if (manifest?.version === run.version) run.code = compiled.code;
    else if (manifest) {
      log(
        `the code now has version ${manifest.version}, the run ${run.version}: resuming on the code it was started with (the engine would park it)`,
        "warn",
      );
    }
  }
  const stored = await storage.loadRun(run.id);
  if (stored?.frame) {
    const frame = deserialize(stored.frame) as { cp: string };
    log(`resuming ${run.id} from its stored frame (checkpoint ${frame.cp}, seq ${stored.seq})`);
  } else {
    log(`resuming ${run.id} from its start: no checkpoint was committed yet`);
  }
  renderAll();
  await boot(run);
}

function reset(): void {
  worker?.terminate();
  worker = undefined;
  run = undefined;
  ui.log.replaceChildren();
  ui.result.textContent = "";
  ui.frame.textContent = "";
  ui.frameDecoded.textContent = "";
  ui.storeStatus.textContent = "no run";
  ui.live.textContent = "";
  ui.liveNote.textContent = "";
  renderAll();
}

async function commit(override?: string): Promise<void> {
  if (!run?.pending || run.busy) return;
  if (override !== undefined) {
    try {
      fromEditable(override);
    } catch (error) {
      setStatus(`The result is not JSON: ${(error as Error).message}`, "error");
      return;
    }
    log(
      `checkpoint ${run.pending.index}: result overridden by hand: ${override.replace(/\s+/g, " ")}`,
      "warn",
    );
  }
  run.busy = true;
  renderControls();
  send(
    override === undefined
      ? { type: "commit", now: clock.now() }
      : { type: "commit", override, now: clock.now() },
  );
}

async function onMessage(message: FromSandbox): Promise<void> {
  const current = run;
  if (!current) return;
  switch (message.type) {
    case "booted":
      if (message.resumedAt) {
        current.resumedFrom = message.resumedAt.index;
        log(
          `resumed after checkpoint ${message.resumedAt.index} (${message.resumedAt.id}) with the stored variables ${message.resumedAt.vars.replace(/\s+/g, " ")}`,
          "resume",
        );
        ui.live.textContent = message.resumedAt.vars;
        ui.liveNote.textContent = `restored from the stored frame of checkpoint ${message.resumedAt.index}`;
      }
      break;
    case "pending":
      current.busy = false;
      current.pending = { index: message.index, id: message.id, operation: message.operation };
      current.performed = undefined;
      ui.live.textContent = message.live;
      ui.liveNote.textContent = `live at checkpoint ${message.index}: what its frame will persist`;
      log(
        `reached checkpoint ${message.index} (${message.id}): ${describeOperation(message.operation)}`,
      );
      break;
    case "performed":
      current.performed = { ok: message.ok, shown: message.shown };
      if (!message.ok) log(`the step failed: ${message.shown}`, "error");
      break;
    case "frame": {
      const outcome = await storage.commit({
        runId: current.id,
        expectedSeq: current.seq,
        owner: OWNER,
        status: "running",
        frame: message.text,
        leaseMs: LEASE,
      });
      if (!outcome.ok) throw new Error(`the commit was refused: ${outcome.reason}`);
      current.seq = outcome.seq;
      current.committed.add(message.index);
      current.pending = undefined;
      log(`committed checkpoint ${message.index} (${message.id}) — seq ${outcome.seq}`, "commit");
      await refreshStore();
      break;
    }
    case "thrown":
      current.pending = undefined;
      log(
        `not committed: the error is thrown at checkpoint ${message.index}'s await (${message.message})`,
        "warn",
      );
      break;
    case "done": {
      const outcome = await storage.commit({
        runId: current.id,
        expectedSeq: current.seq,
        owner: OWNER,
        status: message.status,
        ...(message.status === "completed" ? { result: message.text } : { error: message.text }),
      });
      if (outcome.ok) current.seq = outcome.seq;
      current.busy = false;
      current.pending = undefined;
      current.finished = { status: message.status, shown: message.shown };
      ui.result.textContent = message.shown;
      ui.result.dataset.status = message.status;
      log(
        `run ${message.status}: ${message.shown.replace(/\s+/g, " ")}`,
        message.status === "completed" ? "commit" : "error",
      );
      await refreshStore();
      break;
    }
    case "log":
      log(`console: ${message.text}`, "console");
      break;
    case "error":
      current.busy = false;
      log(message.message, "error");
      setStatus(message.message, "error");
      break;
  }
  renderAll();
}

function describeOperation(op: OperationView): string {
  switch (op.kind) {
    case "step":
      return `step ${op.name}(${op.args.slice(1, -1)})`;
    case "parallel":
    case "gather":
    case "batch":
    case "map":
      return `${op.kind} of ${op.branches.map((b) => `${b.name}(${b.args.slice(1, -1)})`).join(", ")}`;
    case "sleep":
      return `sleep until ${new Date(op.until).toISOString()}`;
    case "waitForUser":
      return `wait for a user: ${op.question}`;
    case "waitForEvent":
      return `wait for the event "${op.name}"`;
    default:
      return op.description;
  }
}

async function refreshStore(): Promise<void> {
  if (!run) return;
  const stored = await storage.loadRun(run.id);
  if (!stored) return;
  ui.storeStatus.textContent = `memory() store · ${stored.id} · status ${stored.status} · seq ${stored.seq}`;
  ui.frame.textContent = stored.frame ?? "null (no checkpoint committed yet)";
  ui.frameDecoded.textContent = stored.frame ? show(deserialize(stored.frame)) : "";
}

// ---- rendering ----------------------------------------------------------------------

function setStatus(text: string, kind = "info"): void {
  ui.runStatus.textContent = text;
  ui.runStatus.dataset.kind = kind;
}

function button(label: string, onClick: () => void, className = ""): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (className) b.className = className;
  b.addEventListener("click", onClick);
  return b;
}

function renderOperation(): void {
  const box = ui.operation;
  box.replaceChildren();
  const pending = run?.pending;
  if (!run || !pending) return;
  const op = pending.operation;
  const heading = document.createElement("div");
  heading.className = "op-heading";
  heading.textContent = `checkpoint ${pending.index} · ${pending.id}`;
  box.appendChild(heading);
  const detail = document.createElement("div");
  detail.className = "op-detail";
  detail.textContent = describeOperation(op);
  box.appendChild(detail);
  switch (op.kind) {
    case "step":
    case "parallel":
    case "gather":
    case "batch":
    case "map": {
      if (!run.performed) {
        box.append("running in the sandbox…");
        return;
      }
      const label = document.createElement("label");
      label.htmlFor = "step-result";
      label.textContent = run.performed.ok
        ? "Result (edit to override before committing):"
        : "It threw. Next throws it at the await — or type a result to commit instead:";
      const area = document.createElement("textarea");
      area.id = "step-result";
      area.rows = Math.min(10, run.performed.shown.split("\n").length + 1);
      area.spellcheck = false;
      const original = run.performed.ok ? run.performed.shown : "";
      area.value = original;
      area.dataset.original = original;
      if (!run.performed.ok) {
        const error = document.createElement("div");
        error.className = "op-error";
        error.textContent = run.performed.shown;
        box.appendChild(error);
      }
      box.append(label, area);
      return;
    }
    case "sleep": {
      const remaining = op.until - clock.now();
      const p = document.createElement("div");
      p.textContent =
        remaining > 0
          ? `Sleeping until ${new Date(op.until).toISOString()} — ${formatDuration(remaining)} to go on the playground's test clock.`
          : "Due: Next wakes it.";
      box.appendChild(p);
      if (remaining > 0) {
        box.appendChild(
          button(
            `Skip ${formatDuration(remaining)}`,
            () => {
              clock.advance(Math.max(0, op.until - clock.now()));
              log(`skipped time: the clock is now ${new Date(clock.now()).toISOString()}`);
              renderAll();
            },
            "skip-time",
          ),
        );
      }
      return;
    }
    case "waitForUser": {
      renderTimeout(box, op.timeoutAt);
      const q = document.createElement("div");
      q.className = "question";
      q.textContent = op.question;
      box.appendChild(q);
      if (op.inputType === "text") {
        const input = document.createElement("input");
        input.id = "answer-text";
        input.placeholder = "your answer";
        box.append(
          input,
          button("Answer", () => void commit(JSON.stringify(input.value)), "answer"),
        );
      } else {
        const row = document.createElement("div");
        row.className = "answers";
        for (const option of op.options) {
          row.appendChild(
            button(
              option.label ?? option.id,
              () => {
                log(`answered "${option.id}"`);
                void commit(JSON.stringify(option.id));
              },
              "answer",
            ),
          );
        }
        box.appendChild(row);
      }
      return;
    }
    case "waitForEvent": {
      renderTimeout(box, op.timeoutAt);
      const area = document.createElement("textarea");
      area.id = "event-payload";
      area.value = op.match === "null" ? "{}" : "{}";
      box.append(
        `Payload of "${op.name}" (JSON):`,
        area,
        button("Deliver", () => void commit(area.value), "answer"),
      );
      return;
    }
    default:
      box.append("The playground cannot perform this operation; type its result:");
  }
}

/** A wait with a timeout: skip to it, and the await throws TimeoutError. */
function renderTimeout(box: HTMLElement, timeoutAt: number | null): void {
  if (timeoutAt === null || !run) return;
  const remaining = timeoutAt - clock.now();
  const row = document.createElement("div");
  row.className = "timeout-row";
  row.append(
    `Times out at ${new Date(timeoutAt).toISOString()} (${formatDuration(Math.max(0, remaining))} from now). `,
  );
  row.appendChild(
    button(
      `Skip ${formatDuration(Math.max(0, remaining))}: time out`,
      () => {
        if (!run || run.busy) return;
        clock.advance(Math.max(0, timeoutAt - clock.now()));
        log(
          `skipped time: the clock is now ${new Date(clock.now()).toISOString()}; the wait timed out`,
        );
        run.busy = true;
        send({ type: "timeout", now: clock.now() });
        renderAll();
      },
      "skip-time",
    ),
  );
  box.appendChild(row);
}

function formatDuration(ms: number): string {
  if (ms >= 3_600_000) return `${+(ms / 3_600_000).toFixed(2)} h`;
  if (ms >= 60_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 1000).toFixed(1)} s`;
}

function canCommit(): boolean {
  const pending = run?.pending;
  if (!run || !pending || run.busy || run.finished) return false;
  const op = pending.operation;
  if (op.kind === "sleep") return op.until <= clock.now();
  if (op.kind === "waitForUser" || op.kind === "waitForEvent") return false;
  if (op.kind === "other") return true;
  return run.performed !== undefined;
}

function renderControls(): void {
  const hasWorkflow = (compiled?.workflows.length ?? 0) > 0;
  const errors = compiled?.diagnostics.some((d) => d.severity === "error") ?? false;
  ui.start.disabled = !hasWorkflow || errors;
  ui.start.textContent = run ? "Restart" : "Start";
  ui.next.disabled = !canCommit();
  ui.crash.disabled = !run || run.finished !== undefined;
  ui.reset.disabled = !run;
  ui.workflow.disabled = false;
  ui.clock.textContent = `clock ${new Date(clock.now()).toISOString().replace("T", " ").slice(0, 19)}`;
  if (!run) {
    setStatus(
      errors
        ? "Fix the errors to run: a workflow with an error is left uncompiled, and the runtime refuses it."
        : hasWorkflow
          ? "Press Start to run the selected workflow."
          : "Nothing to run yet.",
      errors ? "error" : "info",
    );
  } else if (run.finished)
    setStatus(`Run ${run.finished.status}.`, run.finished.status === "completed" ? "ok" : "error");
  else if (run.pending) {
    const op = run.pending.operation;
    setStatus(
      op.kind === "waitForUser"
        ? `Waiting at checkpoint ${run.pending.index} for an answer.`
        : op.kind === "sleep" && op.until > clock.now()
          ? `Asleep at checkpoint ${run.pending.index}: skip time, then Next.`
          : `At checkpoint ${run.pending.index} (${run.pending.id}): Next commits it.`,
    );
  } else if (run.busy) setStatus("running…");
}

function renderAll(): void {
  renderControls();
  renderOperation();
  renderGraph();
  highlight({});
}

// ---- wiring -------------------------------------------------------------------------

const params = await readHash(location.hash);
const firstExample = EXAMPLES[0]!;
let debounce: ReturnType<typeof setTimeout> | undefined;
let hashTimer: ReturnType<typeof setTimeout> | undefined;
let loadingExample = false;

const source = createSourceEditor($("editor"), params?.code ?? firstExample.code, (code) => {
  clearTimeout(debounce);
  debounce = setTimeout(() => void recompile(code), 250);
  clearTimeout(hashTimer);
  hashTimer = setTimeout(() => void updateHash(), 800);
  if (!loadingExample) ui.example.value = "";
});
const emitted = createOutputView($("emitted"));

async function updateHash(): Promise<string> {
  const hash = await writeHash({
    code: source.state.doc.toString(),
    workflow: ui.workflow.value || undefined,
    args: ui.args.value || undefined,
  });
  history.replaceState(null, "", hash);
  return location.href;
}

function loadExample(example: Example): void {
  pendingWorkflowChoice = example.workflow;
  ui.workflow.value = "";
  selectedNode = undefined;
  selectedLines = null;
  ui.args.value = example.args;
  reset();
  loadingExample = true;
  setDocument(source, example.code);
  loadingExample = false;
  ui.example.value = example.id;
}

ui.example.replaceChildren(
  ...[{ id: "", title: "(edited)" }, ...EXAMPLES].map((e) => {
    const option = document.createElement("option");
    option.value = e.id;
    option.textContent = e.title;
    option.hidden = e.id === "";
    return option;
  }),
);
ui.example.addEventListener("change", () => {
  const example = EXAMPLES.find((e) => e.id === ui.example.value);
  if (example) loadExample(example);
});
ui.workflow.addEventListener("change", () => {
  if (run) reset();
  renderAll();
});
ui.start.addEventListener("click", () => {
  reset();
  void start();
});
ui.next.addEventListener("click", () => {
  const area = document.getElementById("step-result") as HTMLTextAreaElement | null;
  const edited = area && area.value !== area.dataset.original ? area.value : undefined;
  void commit(edited);
});
ui.crash.addEventListener("click", () => void crash());
ui.reset.addEventListener("click", () => reset());
ui.share.addEventListener("click", async () => {
  const url = await updateHash();
  try {
    await navigator.clipboard.writeText(url);
    ui.shareNote.textContent = "Link copied.";
  } catch {
    ui.shareNote.textContent = "The address bar holds the link.";
  }
});

if (params) {
  ui.example.value = "";
  pendingWorkflowChoice = params.workflow;
  ui.args.value = params.args ?? "[]";
} else {
  ui.example.value = firstExample.id;
  pendingWorkflowChoice = firstExample.workflow;
  ui.args.value = firstExample.args;
}
renderAll();
await recompile(source.state.doc.toString());
document.body.dataset.ready = "true";
