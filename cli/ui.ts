/**
 * `ratchet ui`: a local web inspector on a store — runs by status, and for one run its state
 * machine with the current checkpoint highlighted, its live variables, its step history, and
 * cancel/retry buttons. A small node:http server; the page script is bundled at build time
 * (dist/cli/ui/client.js) with the playground's graph component.
 * @module
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Command, InvalidArgumentError } from "commander";
import { describeMachine } from "../compiler/index.js";
import type { Engine, RunStatus } from "../runtime/index.js";
import { RunNotFoundError } from "../runtime/index.js";
import { CliError } from "./errors.js";
import type { CommandResult, GlobalOptions } from "./main.js";
import { toJson } from "./output.js";
import { findWorkflow, type SourceWorkflow, workflowsIn } from "./sources.js";
import { openEngine, storeUrl } from "./store.js";

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError("give a port number from 0 to 65535 (0: any free port).");
  }
  return port;
}

/** The page script, built next to this module's compiled file. */
function clientScript(): string {
  const url = new URL("./ui/client.js", import.meta.url);
  try {
    return readFileSync(url, "utf8");
  } catch {
    throw new CliError(
      `the inspector's page script is missing (${url.pathname}); build the package with npm run build.`,
      1,
    );
  }
}

const page = (store: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Ratchet inspector</title>
<style>
:root { --bg:#f6f7f9; --pane:#fff; --border:#d9dde3; --text:#1d2330; --muted:#667085;
  --accent:#2f6fde; --current:#f08c00; --committed:#2b8a3e; --danger:#c92a2a; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; gap:12px; align-items:center; padding:10px 16px; background:#1d2330; color:#fff; }
header h1 { font-size:16px; margin:0; }
header .store { color:#c5cbd6; font-family:ui-monospace, monospace; font-size:12px; }
main { display:grid; grid-template-columns:minmax(420px, 1fr) 1.3fr; gap:12px; padding:12px; }
section { background:var(--pane); border:1px solid var(--border); border-radius:6px; padding:10px 12px; overflow:auto; }
.filters { display:flex; gap:8px; align-items:center; margin-bottom:8px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--border); vertical-align:top; }
th { font-size:12px; color:var(--muted); font-weight:600; }
#runs tbody tr { cursor:pointer; }
#runs tbody tr:hover { background:#eef3fd; }
.mono, .value { font-family:ui-monospace, monospace; font-size:12.5px; white-space:pre-wrap; }
.status-failed { color:var(--danger); font-weight:600; }
.status-completed { color:var(--committed); }
.status-sleeping, .status-waiting { color:var(--accent); }
.status-parked { color:var(--current); font-weight:600; }
.error { color:var(--danger); }
dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:0 0 8px; }
dt { color:var(--muted); }
dd { margin:0; font-family:ui-monospace, monospace; font-size:12.5px; white-space:pre-wrap; }
h2 { font-size:15px; margin:0 0 8px; }
h3 { font-size:13px; margin:12px 0 4px; color:var(--muted); }
.actions { display:flex; gap:8px; align-items:center; margin:6px 0; }
button { font:inherit; padding:3px 10px; border-radius:4px; border:1px solid var(--border); background:#fff; cursor:pointer; }
button:disabled { opacity:.45; cursor:default; }
#graph { overflow:auto; max-height:560px; border:1px solid var(--border); border-radius:4px; }
.muted { color:var(--muted); }
.machine-graph { display:block; margin:0 auto; }
.edge { fill:none; stroke:#8a94a6; stroke-width:1.4; }
.edge-dashed { stroke-dasharray:5 4; }
.arrowhead { fill:#8a94a6; }
.edge-label { font-size:10.5px; fill:var(--muted); paint-order:stroke; stroke:#fff; stroke-width:3px; }
.node rect { fill:#f1f3f5; stroke:#adb5bd; stroke-width:1.2; }
.node-title { font-size:12px; font-weight:600; fill:var(--text); }
.node-subtitle { font-size:11px; fill:var(--muted); font-family:ui-monospace, monospace; }
.node-checkpoint rect { fill:#e7f0ff; stroke:var(--accent); stroke-width:1.6; }
.node-start rect, .node-done rect { fill:#1d2330; stroke:#1d2330; }
.node-start text, .node-done text { fill:#fff; }
.node.is-current rect { fill:#ffe8cc; stroke:var(--current); stroke-width:3; }
.node-done.is-current rect { fill:var(--committed); stroke:var(--committed); }
</style>
</head>
<body>
<header><h1>Ratchet inspector</h1><span class="store">${escapeHtml(store)}</span></header>
<main>
<section>
  <div class="filters">
    <label>status <select id="status">
      <option value="">all</option>
      ${["pending", "running", "sleeping", "waiting", "failed", "parked", "completed", "cancelled"].map((s) => `<option>${s}</option>`).join("")}
    </select></label>
    <label>workflow <input id="workflow" size="14" placeholder="any"></label>
    <button id="refresh">refresh</button>
    <span id="count" class="muted"></span>
  </div>
  <table id="runs"><thead><tr><th>run</th><th>workflow</th><th>status</th><th>at</th><th>updated</th></tr></thead><tbody></tbody></table>
</section>
<section id="detail" hidden>
  <h2 id="run-title"></h2>
  <div class="actions"><button id="cancel">cancel</button><button id="retry">retry</button><span id="message" class="muted"></span></div>
  <dl id="facts"></dl>
  <h3>state machine</h3>
  <p id="graph-note" class="muted"></p>
  <div id="graph"></div>
  <h3>live variables</h3>
  <table id="variables"><thead><tr><th>name</th><th>value</th></tr></thead><tbody></tbody></table>
  <p id="no-variables" class="muted">none stored at this checkpoint</p>
  <h3>step history</h3>
  <table id="steps"><thead><tr><th>step</th><th>attempt</th><th>started</th><th>took</th><th>error</th></tr></thead><tbody></tbody></table>
  <p id="no-steps" class="muted">not recorded (createEngine({ history: true }) records it)</p>
</section>
</main>
<script type="module" src="/client.js"></script>
</body>
</html>`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A store URL with its password hidden, for the page header. */
function displayStore(store: string): string {
  return store.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  response.end(body);
}

/** The JSON API and the page. */
function handler(
  engine: Engine,
  sources: Map<string, SourceWorkflow[]> | undefined,
  store: string,
) {
  const script = clientScript();
  const descriptions = new Map<SourceWorkflow, ReturnType<typeof describeMachine>>();
  const describe = (source: SourceWorkflow) => {
    let found = descriptions.get(source);
    if (!found) {
      found = describeMachine(source.code, source.manifest.file);
      descriptions.set(source, found);
    }
    return found.find((m) => m.name === source.manifest.name) ?? null;
  };

  const runDetail = async (id: string) => {
    const run = await (await engine.get(id)).info();
    let note: string | null = null;
    let machine = null;
    let ids: [number, string][] = [];
    let current: number | null = null;
    let source: string | null = null;
    const found = sources && findWorkflow(sources, run.workflow, run.version);
    if (!sources) {
      note = "Start ratchet ui with --src <your workflow files> to see the state machine.";
    } else if (!found) {
      note = `Workflow "${run.workflow}" is not in the --src files.`;
    } else {
      const { manifest } = found.source;
      machine = describe(found.source);
      ids = manifest.checkpoints.map((c) => [c.index, c.id]);
      const cp = manifest.checkpoints.find((c) => c.id === run.checkpoint?.id);
      current = cp?.index ?? null;
      if (cp) source = `${manifest.file}:${cp.line}:${cp.column}`;
      note = found.exact
        ? `${manifest.file} — highlighted: the checkpoint the run is at`
        : `The source has version ${manifest.version}; the run was stored with ${run.version}.`;
    }
    return { run, machine, checkpointIds: ids, current, source, note };
  };

  return async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    try {
      if (request.method === "GET" && url.pathname === "/") {
        return send(response, 200, "text/html; charset=utf-8", page(displayStore(store)));
      }
      if (request.method === "GET" && url.pathname === "/client.js") {
        return send(response, 200, "text/javascript; charset=utf-8", script);
      }
      if (request.method === "GET" && url.pathname === "/api/runs") {
        const status = url.searchParams.get("status");
        const workflow = url.searchParams.get("workflow");
        const runs = await engine.list({
          ...(status ? { status: status.split(",") as RunStatus[] } : {}),
          ...(workflow ? { workflow } : {}),
          limit: Number(url.searchParams.get("limit") ?? 200),
        });
        return send(response, 200, "application/json", toJson(runs));
      }
      const match = /^\/api\/runs\/([^/]+)(?:\/(cancel|retry))?$/.exec(url.pathname);
      if (match) {
        const id = decodeURIComponent(match[1]!);
        const action = match[2];
        if (!action && request.method === "GET") {
          return send(response, 200, "application/json", toJson(await runDetail(id)));
        }
        if (action && request.method === "POST") {
          const handle = await engine.get(id);
          const ok = action === "cancel" ? await handle.cancel() : await handle.retry();
          const message = ok
            ? action === "cancel"
              ? `cancelled run ${id}`
              : `run ${id} is pending again; a worker with its workflow resumes it`
            : `nothing changed: run ${id} is ${(await handle.info()).status}`;
          return send(response, 200, "application/json", toJson({ ok, message }));
        }
      }
      send(response, 404, "application/json", toJson({ error: "not found" }));
    } catch (error) {
      const status = error instanceof RunNotFoundError ? 404 : 500;
      send(response, status, "application/json", toJson({ error: (error as Error).message }));
    }
  };
}

export function uiCommand(_result: CommandResult): Command {
  return new Command("ui")
    .summary("serve the web inspector on a store (runs, state machine, variables, actions)")
    .description(
      "Serve a local page on the store: runs by status with filters, and for one run its state\n" +
        "machine with the current checkpoint highlighted (needs --src, your workflow files),\n" +
        "its live variables, its step history, and cancel/retry buttons. Stops with Ctrl-C.",
    )
    .option("-p, --port <port>", "the port (0: any free one)", parsePort, 4321)
    .option("--host <host>", "the interface to listen on", "127.0.0.1")
    .option("--src <paths...>", "workflow source files or directories, for the state machine")
    .action(async function (this: Command) {
      const options = this.optsWithGlobals<
        GlobalOptions & { port: number; host: string; src?: string[] }
      >();
      const store = storeUrl(options);
      const sources = options.src ? workflowsIn(options.src) : undefined;
      const engine = await openEngine(options);
      const server = createServer(handler(engine, sources, store));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port, options.host, resolve);
      }).catch(async (error: Error) => {
        await engine.close();
        throw new CliError(`cannot listen on ${options.host}:${options.port}: ${error.message}`, 1);
      });
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : options.port;
      console.log(`Ratchet inspector on http://${options.host}:${port}/ (Ctrl-C stops it)`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          server.close(() => resolve());
          server.closeAllConnections();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      await engine.close();
    });
}
