/**
 * The Vercel Workflow SDK's side of the peers benchmark (its Postgres world), with the modes
 * of dbos.mjs. The workflows (vercel-app/workflows/steps.ts) are compiled by the SDK's own
 * standalone build; this process serves the compiled flow and step handlers over HTTP on
 * PORT, where the Postgres world's queue (graphile-worker) delivers every workflow and step
 * invocation, and starts runs with `start()` from `workflow/api`.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { countStatements } from "./count.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const app = join(here, "vercel-app");
const require = createRequire(import.meta.url);
// The world has a copy of pg of its own; graphile-worker uses the top-level one.
const counter = countStatements(require("pg"));
const worldCounter = countStatements(
  createRequire(join(here, "node_modules/@workflow/world-postgres/package.json"))("pg"),
);
const statements = () => counter.statements + worldCounter.statements;
const [mode, a, b] = process.argv.slice(2);
const port = Number(process.env.PORT ?? 3999);
process.env.PORT = String(port);
process.env.WORKFLOW_TARGET_WORLD = "@workflow/world-postgres";
process.env.WORKFLOW_POSTGRES_URL = process.env.PEERS_URL;

if (mode === "setup") {
  execFileSync(
    process.execPath,
    [join(here, "node_modules/@workflow/world-postgres/bin/setup.js")],
    {
      stdio: "inherit",
      env: process.env,
    },
  );
  if (!existsSync(join(app, ".well-known/workflow/v1/flow.js"))) {
    execFileSync(join(here, "node_modules/.bin/workflow"), ["build", "--target", "standalone"], {
      cwd: app,
      stdio: "inherit",
    });
  }
  process.exit(0);
}

const appRequire = createRequire(join(app, "index.js"));
const flow = appRequire("./.well-known/workflow/v1/flow.js");
const step = appRequire("./.well-known/workflow/v1/step.js");
const routes = {
  "/.well-known/workflow/v1/flow": flow.POST,
  "/.well-known/workflow/v1/step": step.POST,
};

const server = createServer(async (req, res) => {
  const handler = routes[new URL(req.url, "http://x").pathname];
  if (!handler) {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const request = new Request(`http://127.0.0.1:${port}${req.url}`, {
    method: req.method,
    headers: req.headers,
    body: req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.concat(chunks),
  });
  const response = await handler(request);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
});
await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));

const { start } = await import("workflow/api");
const { getWorld } = await import("workflow/runtime");
const world = getWorld();
let resumeStarted = 0;
let resumed;
if (mode === "resume") {
  // graphile-worker keeps a job locked by its worker for 4 hours, and the killed process's
  // worker held the hanging step's job: as an operator would for a worker known to be dead,
  // unlock its jobs with graphile-worker's own force_unlock_workers (outside the timing).
  const pg = require("pg");
  const client = new pg.Client({ connectionString: process.env.PEERS_URL });
  await client.connect();
  await client.query(
    `SELECT graphile_worker.force_unlock_workers(ARRAY(
       SELECT DISTINCT locked_by FROM graphile_worker._private_jobs WHERE locked_by IS NOT NULL))`,
  );
  await client.end();
  resumed = new Promise((resolve) => {
    globalThis.onHang = resolve;
  });
  // From the queue's start to step k+1 running again.
  resumeStarted = performance.now();
}
await world.start?.();
const out = (result) => process.stdout.write(`${JSON.stringify(result)}\n`);
const manifest = require(join(app, ".well-known/workflow/v1/manifest.json"));
const workflowId = (name) => manifest.workflows["workflows/steps.ts"][name].workflowId;
const stepsWorkflow = { workflowId: workflowId("stepsWorkflow") };
const hangAfter = { workflowId: workflowId("hangAfter") };

if (mode === "sequential") {
  const n = Number(a);
  await (await start(stepsWorkflow, [3])).returnValue;
  const before = statements();
  const started = performance.now();
  await (await start(stepsWorkflow, [n])).returnValue;
  const ms = performance.now() - started;
  out({ microsPerStep: (ms * 1000) / n, statementsPerStep: (statements() - before) / n });
} else if (mode === "concurrent") {
  const runs = Number(a);
  const n = Number(b);
  const started = performance.now();
  const handles = await Promise.all(Array.from({ length: runs }, () => start(stepsWorkflow, [n])));
  await Promise.all(handles.map((h) => h.returnValue));
  const ms = performance.now() - started;
  out({ microsPerStep: (ms * 1000) / (runs * n), stepsPerSecond: (runs * n * 1000) / ms });
} else if (mode === "prepare") {
  // The hanging step prints {"hanging":true}; the harness kills this process then.
  await start(hangAfter, [Number(b)]);
  await new Promise(() => {});
} else if (mode === "resume") {
  await resumed;
  out({ resumeMs: performance.now() - resumeStarted });
}
process.exit(0);
