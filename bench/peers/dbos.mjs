/**
 * DBOS Transact's side of the peers benchmark: one workload per process, chosen by argv,
 * on its system database at PEERS_URL. Prints one JSON line with what it measured.
 *
 *   node dbos.mjs sequential <steps>      one workflow of <steps> sequential no-op steps
 *   node dbos.mjs concurrent <runs> <steps>  <runs> workflows of <steps> steps at once
 *   node dbos.mjs prepare <id> <k>        a workflow that completes <k> steps, then hangs
 *                                         in step k+1 (the harness SIGKILLs it there)
 *   node dbos.mjs resume <id> <k>         recover the killed workflow; time until step k+1 runs again
 */
import { createRequire } from "node:module";
import { DBOS } from "@dbos-inc/dbos-sdk";
import { countStatements } from "./count.mjs";

const require = createRequire(import.meta.url);
const counter = countStatements(require("pg"));
const [mode, a, b] = process.argv.slice(2);
const url = process.env.PEERS_URL;

const noop = async (i) => i;
let onStep = () => {};

async function steps(n) {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await DBOS.runStep(() => noop(i), { name: "noop" });
  return sum;
}
const stepsWorkflow = DBOS.registerWorkflow(steps, { name: "steps" });

async function longRun(k) {
  for (let i = 0; i < k; i++) await DBOS.runStep(() => noop(i), { name: "noop" });
  await DBOS.runStep(
    async () => {
      onStep();
      await new Promise(() => {});
    },
    { name: "hang" },
  );
}
const longRunWorkflow = DBOS.registerWorkflow(longRun, { name: "longRun" });

DBOS.setConfig({
  name: "peers",
  systemDatabaseUrl: url,
  logLevel: "error",
  runAdminServer: false,
  // Recovery at launch is for the killed executor only, and only when the harness asks.
  executorID: mode === "resume" ? "resumer" : "prepared",
});
await DBOS.launch();
const out = (result) => process.stdout.write(`${JSON.stringify(result)}\n`);

if (mode === "sequential") {
  const n = Number(a);
  await DBOS.startWorkflow(stepsWorkflow)(3).then((h) => h.getResult());
  const before = counter.statements;
  const started = performance.now();
  await DBOS.startWorkflow(stepsWorkflow)(n).then((h) => h.getResult());
  const ms = performance.now() - started;
  out({ microsPerStep: (ms * 1000) / n, statementsPerStep: (counter.statements - before) / n });
} else if (mode === "concurrent") {
  const runs = Number(a);
  const n = Number(b);
  const started = performance.now();
  const handles = await Promise.all(
    Array.from({ length: runs }, () => DBOS.startWorkflow(stepsWorkflow)(n)),
  );
  await Promise.all(handles.map((h) => h.getResult()));
  const ms = performance.now() - started;
  out({ microsPerStep: (ms * 1000) / (runs * n), stepsPerSecond: (runs * n * 1000) / ms });
} else if (mode === "prepare") {
  onStep = () => out({ hanging: true });
  await DBOS.startWorkflow(longRunWorkflow, { workflowID: a })(Number(b));
  // The harness kills this process once the workflow hangs in its last step.
  await new Promise(() => {});
} else if (mode === "resume") {
  const { DBOSExecutor } = await import("@dbos-inc/dbos-sdk/internal/dbos-executor");
  const reached = new Promise((resolve) => {
    onStep = resolve;
  });
  const started = performance.now();
  await DBOSExecutor.globalInstance.recoverPendingWorkflows(["prepared"]);
  await reached;
  out({ resumeMs: performance.now() - started });
  await DBOS.cancelWorkflow(a);
  process.exit(0);
}
await DBOS.shutdown();
process.exit(0);
