/**
 * `ratchet check --db`: read the stored in-flight runs and tell, per workflow and
 * checkpoint, how many the current source would resume, migrate or park — the engine's
 * own rule (runtime/versioning.ts), applied before the deploy instead of after it.
 * @module
 */
import type { StorageAdapter, StoredRun } from "../adapters/contract.js";
import type { WorkflowManifest } from "../compiler/index.js";
import { deserializeData } from "../runtime/serialization.js";
import { decideResume } from "../runtime/versioning.js";
import { byName } from "./lock.js";
import { openStorage } from "./store.js";

/** What the current code would do with the stored runs of one workflow at one checkpoint. */
export interface ForecastRow {
  readonly workflow: string;
  /** The stored checkpoint id; `(start)` for runs that reached none (they start over). */
  readonly checkpoint: string;
  readonly resume: number;
  /** Runs the workflow's `migrate` option would take (a migration for this checkpoint exists). */
  readonly migrate: number;
  readonly park: number;
  /** For parked runs: why (the first run's reason). */
  readonly reason?: string;
}

const IN_FLIGHT = ["pending", "running", "sleeping", "waiting", "parked"] as const;

/** The run's arguments, read as {@link position} reads its frame. */
function argsOf(run: StoredRun): unknown[] {
  const args = deserializeData(run.args) as unknown;
  return Array.isArray(args) ? args : [];
}

/**
 * Where a stored run re-enters and what it stored there, read without the classes the
 * application registered (only the variables' names matter here).
 */
function position(run: StoredRun): { checkpoint: string; vars: Record<string, unknown> } | null {
  if (run.frame === null) return null;
  type Frame = {
    cp?: string;
    v?: Record<string, unknown>;
    base?: string | null;
    partial?: unknown;
  };
  let frame = deserializeData(run.frame) as Frame;
  if (frame.partial !== undefined) {
    if (!frame.base) return null;
    frame = deserializeData(frame.base) as Frame;
  }
  return { checkpoint: String(frame.cp), vars: frame.v ?? {} };
}

/** The forecast for every in-flight run in the store, one row per workflow and checkpoint. */
export async function forecast(
  storage: StorageAdapter,
  manifests: readonly WorkflowManifest[],
): Promise<ForecastRow[]> {
  const workflows = byName(manifests);
  await storage.init();
  const runs = await storage.listRuns({ status: [...IN_FLIGHT] });
  const rows = new Map<string, { -readonly [K in keyof ForecastRow]: ForecastRow[K] }>();
  for (const run of runs) {
    const manifest = workflows.get(run.workflow);
    const at = position(run);
    const key = `${run.workflow}\u0000${at?.checkpoint ?? ""}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        workflow: run.workflow,
        checkpoint: at?.checkpoint ?? "(start)",
        resume: 0,
        migrate: 0,
        park: 0,
      };
      rows.set(key, row);
    }
    if (!manifest) {
      row.park++;
      row.reason ??= `workflow "${run.workflow}" is not in the checked source`;
      continue;
    }
    if (!at) {
      row.resume++;
      continue;
    }
    const decision = decideResume(manifest, at.checkpoint, at.vars, undefined, () => argsOf(run));
    if (decision.kind === "resume") row.resume++;
    else if (manifest.migrations?.includes(at.checkpoint)) row.migrate++;
    else {
      row.park++;
      row.reason ??= decision.reason;
    }
  }
  return [...rows.values()].sort(
    (a, b) => a.workflow.localeCompare(b.workflow) || a.checkpoint.localeCompare(b.checkpoint),
  );
}

/** `ratchet check --db`: print the forecast; 1 when the current code would park any run. */
export async function checkStore(
  db: string,
  manifests: readonly WorkflowManifest[],
  json: boolean,
): Promise<{ exitCode: number; rows: ForecastRow[] }> {
  const storage = await openStorage(db);
  let rows: ForecastRow[];
  try {
    rows = await forecast(storage, manifests);
  } finally {
    await storage.close();
  }
  const parked = rows.reduce((n, r) => n + r.park, 0);
  if (!json) {
    const table = [["WORKFLOW", "CHECKPOINT", "RESUME", "MIGRATE", "PARK"]].concat(
      rows.map((r) => [r.workflow, r.checkpoint, `${r.resume}`, `${r.migrate}`, `${r.park}`]),
    );
    const widths = table[0]!.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
    for (const line of table)
      console.log(
        line
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd(),
      );
    for (const row of rows.filter((r) => r.park > 0)) {
      console.log(`\n${row.workflow} at ${row.checkpoint}: ${row.reason}`);
    }
    console.log(
      parked > 0
        ? `\n${parked} in-flight run(s) would be parked by this code.`
        : `\nevery in-flight run resumes on this code.`,
    );
  }
  return { exitCode: parked > 0 ? 1 : 0, rows };
}
