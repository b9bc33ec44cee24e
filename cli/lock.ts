/**
 * `ratchet lock` and the lock half of `ratchet check`: the lock file records every
 * workflow's checkpoints with their resume signatures (the checkpoint's kind and the frame
 * keys live there); checking compares the source with it, checkpoint by checkpoint, by the
 * same rule the engine resumes stored runs with (docs/guides/versioning.md).
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { Command } from "commander";
import type { WorkflowManifest } from "../compiler/index.js";
import { CliError } from "./errors.js";
import {
  declarationFile,
  declarationPath,
  type FrameTypes,
  frameTypes,
  lockDirectory,
} from "./lock-types.js";
import type { CommandResult, GlobalOptions } from "./main.js";
import { toJson } from "./output.js";
import { compileFile, sourceFiles } from "./sources.js";

/** The lock file's name, looked for in the working directory. */
export const LOCK_FILE = "ratchet.lock.json";

/** What `ratchet.lock.json` holds. */
export interface LockFile {
  /** The format's version. */
  readonly ratchet: 1;
  /** By workflow name (the name runs are stored under). */
  readonly workflows: Readonly<Record<string, LockedWorkflow>>;
}

/** One checkpoint in the lock file: its resume signature. */
export interface LockedCheckpoint {
  readonly kind: string;
  /** The frame keys stored there. */
  readonly live: string[];
  /** Each stored variable's TypeScript type (`unknown` where it cannot be named). */
  readonly types?: Readonly<Record<string, string>>;
}

/** One workflow in the lock file. */
export interface LockedWorkflow {
  readonly file: string;
  readonly version: string;
  /**
   * By stable checkpoint id: its resume signature. A checkpoint the code changed
   * incompatibly (or removed) keeps its locked entry while a migration covers it: runs of
   * that shape may still be stored.
   */
  readonly checkpoints: Readonly<Record<string, LockedCheckpoint>>;
}

/** A locked checkpoint the source no longer resumes as the lock says. */
export interface CheckpointChange {
  readonly workflow: string;
  readonly checkpoint: string;
  /** `removed`: the checkpoint is gone; `needs`: the code now needs variables not stored there. */
  readonly change: "removed" | "needs" | "workflow-removed";
  readonly missing: readonly string[];
  /** Whether the workflow's `migrate` option has a migration for this checkpoint. */
  readonly covered: boolean;
}

/** The workflows by name; two of one name are refused (their runs could not be told apart). */
export function byName(manifests: readonly WorkflowManifest[]): Map<string, WorkflowManifest> {
  const out = new Map<string, WorkflowManifest>();
  for (const manifest of manifests) {
    const other = out.get(manifest.name);
    if (other) {
      throw new CliError(
        `two workflows are named "${manifest.name}" (${other.file} and ${manifest.file}); give one another name with workflow({ name }, …)`,
      );
    }
    out.set(manifest.name, manifest);
  }
  return out;
}

/**
 * The lock file for these workflows: each checkpoint's signature (with its variables' types,
 * when `types` has them), except that a checkpoint of the `previous` lock that the code
 * changed incompatibly or removed keeps its locked entry while the workflow's `migrate`
 * covers it (the migration is for runs of that shape).
 */
export function lockOf(
  manifests: readonly WorkflowManifest[],
  previous?: LockFile,
  types?: FrameTypes,
): LockFile {
  const workflows: Record<string, LockedWorkflow> = {};
  for (const manifest of [...byName(manifests).values()].sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const typed = types?.get(manifest.name);
    const checkpoints: Record<string, LockedCheckpoint> = Object.fromEntries(
      manifest.checkpoints.map((c) => [
        c.id,
        {
          kind: c.kind,
          live: [...c.live],
          ...(typed?.[c.id] ? { types: typed[c.id] } : {}),
        },
      ]),
    );
    const locked = previous?.workflows[manifest.name];
    if (locked) {
      const kept = new Set(
        compareWithLock({ ratchet: 1, workflows: { [manifest.name]: locked } }, [manifest])
          .filter((change) => change.covered)
          .map((change) => change.checkpoint),
      );
      for (const id of kept) checkpoints[id] = locked.checkpoints[id]!;
    }
    workflows[manifest.name] = {
      file: manifest.file,
      version: manifest.version,
      checkpoints,
    };
  }
  return { ratchet: 1, workflows };
}

export function writeLock(path: string, lock: LockFile): void {
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
}

/** The lock file at `path`, or `undefined` when there is none. */
export function readLock(path: string): LockFile | undefined {
  if (!existsSync(path)) return undefined;
  const lock = JSON.parse(readFileSync(path, "utf8")) as LockFile;
  if (lock?.ratchet !== 1 || typeof lock.workflows !== "object") {
    throw new CliError(`${path} is not a Ratchet lock file (run \`ratchet lock\` to write one)`);
  }
  return lock;
}

/**
 * Every locked checkpoint that runs stored there could not resume at on the current
 * source: gone, or needing variables the locked code did not store there. Checkpoints
 * that only gained fewer needs, and new checkpoints, are compatible.
 */
export function compareWithLock(
  lock: LockFile,
  manifests: readonly WorkflowManifest[],
): CheckpointChange[] {
  const current = byName(manifests);
  const changes: CheckpointChange[] = [];
  for (const [name, locked] of Object.entries(lock.workflows)) {
    const manifest = current.get(name);
    if (!manifest) {
      changes.push({
        workflow: name,
        checkpoint: "*",
        change: "workflow-removed",
        missing: [],
        covered: false,
      });
      continue;
    }
    const covered = new Set(manifest.migrations ?? []);
    for (const [id, signature] of Object.entries(locked.checkpoints)) {
      const now = manifest.checkpoints.find((c) => c.id === id);
      const missing = now ? now.live.filter((key) => !signature.live.includes(key)) : [];
      if (now && now.kind === signature.kind && missing.length === 0) continue;
      changes.push({
        workflow: name,
        checkpoint: id,
        change: now && now.kind === signature.kind ? "needs" : "removed",
        missing,
        covered: covered.has(id),
      });
    }
  }
  return changes;
}

/** The changes as text, one line per checkpoint, grouped by workflow. */
export function formatChanges(changes: readonly CheckpointChange[]): string {
  const lines: string[] = [];
  let workflow: string | undefined;
  for (const change of changes) {
    if (change.workflow !== workflow) {
      workflow = change.workflow;
      lines.push(`${workflow}:`);
    }
    const what =
      change.change === "workflow-removed"
        ? "the workflow is gone from the source"
        : change.change === "removed"
          ? `checkpoint ${change.checkpoint} is gone`
          : `checkpoint ${change.checkpoint} now needs ${change.missing.join(", ")}`;
    lines.push(
      `  ${what}: ${change.covered ? "covered by migrate" : "NOT covered (runs stored there would be parked)"}`,
    );
  }
  return lines.join("\n");
}

/** `ratchet lock [paths…]`: write the lock file for the workflows at the paths. */
export function lockCommand(result: CommandResult): Command {
  return new Command("lock")
    .summary(`write ${LOCK_FILE}: every workflow's checkpoints and what is live at each`)
    .description(
      "Compile every workflow file at the paths given and record, per workflow, each\n" +
        "checkpoint's id, kind and the variables stored there, with their types; and write\n" +
        "ratchet.lock.d.ts beside it, which types each workflow's migrate option by the lock.\n" +
        "Commit both: `ratchet check` then tells which changes would park runs stored by the\n" +
        "locked code. A checkpoint a migration covers keeps its locked entry.",
    )
    .argument("[paths...]", "files or directories", ["."])
    .option("--lock <file>", "the lock file to write", LOCK_FILE)
    .option(
      "--no-types",
      "skip the type checker: no variable types, no declaration file for migrate",
    )
    .action(function (this: Command, paths: string[]) {
      const {
        json,
        lock: lockPath,
        types: withTypes,
      } = this.optsWithGlobals<GlobalOptions & { lock: string; types: boolean }>();
      const files = sourceFiles(paths);
      const results = files.map(compileFile);
      const errors = results.flatMap((r) => r.diagnostics).filter((d) => d.severity === "error");
      if (errors.length > 0) {
        throw new CliError(
          `${errors.length} compile error(s); run \`ratchet check\` to see them. Nothing was written.`,
          1,
        );
      }
      const manifests = results.flatMap((r) => r.workflows);
      const types = withTypes
        ? frameTypes(
            files.filter((_, i) => results[i]!.workflows.length > 0),
            lockDirectory(lockPath),
          )
        : undefined;
      const lock = lockOf(manifests, readLock(lockPath), types);
      writeLock(lockPath, lock);
      let declarations: string | undefined;
      if (types) {
        declarations = declarationPath(lockPath);
        writeFileSync(
          declarations,
          declarationFile(typedWorkflows(lock, types), basename(lockPath)),
        );
      }
      const workflows = Object.values(lock.workflows);
      const checkpoints = workflows.reduce((n, w) => n + Object.keys(w.checkpoints).length, 0);
      if (json) console.log(toJson(lock));
      else {
        console.log(
          `wrote ${lockPath}${declarations ? ` and ${declarations}` : ""}: ${workflows.length} workflow(s), ${checkpoints} checkpoint(s). Commit ${declarations ? "them" : "it"}; \`ratchet check\` compares the source with it.`,
        );
      }
      result.exitCode = 0;
    });
}

/**
 * For the declaration file: per workflow, the locked variables' types at each checkpoint
 * (`unknown` for a variable locked without one) and the current source's.
 */
function typedWorkflows(lock: LockFile, types: FrameTypes) {
  const out = new Map<
    string,
    {
      stored: Record<string, Record<string, string>>;
      current: Record<string, Record<string, string>>;
    }
  >();
  for (const [name, locked] of Object.entries(lock.workflows)) {
    const stored: Record<string, Record<string, string>> = {};
    for (const [id, checkpoint] of Object.entries(locked.checkpoints)) {
      stored[id] = Object.fromEntries(
        checkpoint.live.map((key) => [key, checkpoint.types?.[key] ?? "unknown"]),
      );
    }
    out.set(name, { stored, current: types.get(name) ?? {} });
  }
  return out;
}

/**
 * The lock half of `ratchet check`: compare the compiled workflows with the lock file (when
 * there is one) and print the incompatible changes; 1 when one is not covered by a migration.
 */
export function checkAgainstLock(
  manifests: readonly WorkflowManifest[],
  lockPath: string,
  json: boolean,
): { exitCode: number; changes: CheckpointChange[] | undefined } {
  const lock = readLock(lockPath);
  if (!lock) {
    if (!json) console.log(`no ${lockPath}: run \`ratchet lock\` to record the checkpoints`);
    return { exitCode: 0, changes: undefined };
  }
  const changes = compareWithLock(lock, manifests);
  const uncovered = changes.filter((c) => !c.covered);
  if (!json) {
    if (changes.length > 0) console.log(formatChanges(changes));
    console.log(
      uncovered.length > 0
        ? `${uncovered.length} incompatible change(s) not covered by a migration. Add workflow({ migrate: { "<checkpoint id>": (vars) => … } }), bring the checkpoint back, or, when no stored run is there (\`ratchet check --db\` counts them), accept the change with \`ratchet lock\`.`
        : `${lockPath}: every stored position resumes on this source${changes.length > 0 ? " (with the migrations above)" : ""}`,
    );
  }
  return { exitCode: uncovered.length > 0 ? 1 : 0, changes };
}
