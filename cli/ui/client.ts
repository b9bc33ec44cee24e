/**
 * The web inspector's page script (bundled with the playground's graph component into
 * dist/cli/ui/client.js by `npm run build`): runs by status with filters, and for one run its
 * state machine with the current checkpoint highlighted, its variables, its step history,
 * and cancel/retry buttons. It talks to `ratchet ui`'s JSON endpoints.
 */
import type { MachineDescription } from "../../compiler/describe.ts";
import { buildGraph, drawGraph } from "../../playground/src/graph.ts";

interface RunRow {
  id: string;
  workflow: string;
  status: string;
  checkpoint: { id: string } | null;
  updatedAt: string;
  createdAt: string;
}

interface RunDetail {
  run: RunRow & {
    version: string;
    args: unknown[];
    variables: Record<string, unknown>;
    result?: unknown;
    error?: { name: string; message: string; stack?: string };
    parkedReason?: string;
    steps?: {
      name: string;
      attempt: number;
      startedAt: string;
      endedAt: string;
      error?: { name: string; message: string };
    }[];
    commits: number;
  };
  machine: MachineDescription | null;
  checkpointIds: [number, string][];
  current: number | null;
  source: string | null;
  note: string | null;
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

function cell(row: HTMLTableRowElement, text: string, className?: string): void {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "undefined";
}

async function loadRuns(): Promise<void> {
  const params = new URLSearchParams();
  const status = $<HTMLSelectElement>("#status").value;
  const workflow = $<HTMLInputElement>("#workflow").value.trim();
  if (status) params.set("status", status);
  if (workflow) params.set("workflow", workflow);
  const response = await fetch(`/api/runs?${params}`);
  const runs = (await response.json()) as RunRow[];
  const body = $<HTMLTableSectionElement>("#runs tbody");
  body.replaceChildren();
  for (const run of runs) {
    const row = body.insertRow();
    row.dataset.id = run.id;
    cell(row, run.id, "mono");
    cell(row, run.workflow);
    cell(row, run.status, `status status-${run.status}`);
    cell(row, run.status === "completed" ? "—" : (run.checkpoint?.id ?? "(start)"), "mono");
    cell(row, new Date(run.updatedAt).toLocaleString());
    row.addEventListener("click", () => void showRun(run.id));
  }
  $("#count").textContent = `${runs.length} run${runs.length === 1 ? "" : "s"}`;
}

async function showRun(id: string): Promise<void> {
  location.hash = encodeURIComponent(id);
  const response = await fetch(`/api/runs/${encodeURIComponent(id)}`);
  const detail = (await response.json()) as RunDetail;
  const { run } = detail;
  $("#detail").hidden = false;
  $("#run-title").textContent = `${run.workflow} · ${run.id}`;
  const facts: [string, string][] = [
    ["status", run.status],
    ["version", run.version],
    ["checkpoint", run.checkpoint?.id ?? "none yet"],
    ["source", detail.source ?? "—"],
    ["updated", `${new Date(run.updatedAt).toLocaleString()} (${run.commits} commits)`],
    ["arguments", JSON.stringify(run.args)],
  ];
  if (run.parkedReason) facts.push(["parked", run.parkedReason]);
  if (run.status === "completed") facts.push(["result", json(run.result)]);
  if (run.error) facts.push(["error", `${run.error.name}: ${run.error.message}`]);
  const list = $("#facts");
  list.replaceChildren();
  for (const [name, value] of facts) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.fact = name;
    list.append(dt, dd);
  }
  const vars = $<HTMLTableSectionElement>("#variables tbody");
  vars.replaceChildren();
  for (const [name, value] of Object.entries(run.variables)) {
    const row = vars.insertRow();
    cell(row, name, "mono");
    cell(row, json(value), "mono value");
  }
  $("#no-variables").hidden = Object.keys(run.variables).length > 0;
  const steps = $<HTMLTableSectionElement>("#steps tbody");
  steps.replaceChildren();
  for (const step of run.steps ?? []) {
    const row = steps.insertRow();
    cell(row, step.name, "mono");
    cell(row, String(step.attempt));
    cell(row, new Date(step.startedAt).toLocaleTimeString());
    cell(row, `${new Date(step.endedAt).getTime() - new Date(step.startedAt).getTime()} ms`);
    cell(row, step.error ? `${step.error.name}: ${step.error.message}` : "", "error");
  }
  $("#no-steps").hidden = (run.steps ?? []).length > 0;
  $<HTMLButtonElement>("#cancel").disabled = ["completed", "failed", "cancelled"].includes(
    run.status,
  );
  $<HTMLButtonElement>("#retry").disabled = run.status !== "failed";
  $("#graph-note").textContent = detail.note ?? "";
  const graph = $("#graph");
  if (detail.machine) {
    drawGraph(
      graph,
      buildGraph(detail.machine, new Map(detail.checkpointIds)),
      {
        pending: detail.current ?? undefined,
        committed: new Set(),
        resumedFrom: undefined,
        finished: run.status === "completed",
        selected: undefined,
      },
      () => {},
    );
  } else {
    graph.replaceChildren();
  }
  $<HTMLElement>("#detail").dataset.run = run.id;
}

async function act(action: "cancel" | "retry"): Promise<void> {
  const id = $<HTMLElement>("#detail").dataset.run;
  if (!id) return;
  const response = await fetch(`/api/runs/${encodeURIComponent(id)}/${action}`, { method: "POST" });
  const outcome = (await response.json()) as { ok: boolean; message: string };
  $("#message").textContent = outcome.message;
  await Promise.all([loadRuns(), showRun(id)]);
}

$("#status").addEventListener("change", () => void loadRuns());
$("#workflow").addEventListener("input", () => void loadRuns());
$("#refresh").addEventListener("click", () => void loadRuns());
$("#cancel").addEventListener("click", () => void act("cancel"));
$("#retry").addEventListener("click", () => void act("retry"));
void loadRuns().then(() => {
  if (location.hash.length > 1) void showRun(decodeURIComponent(location.hash.slice(1)));
});
