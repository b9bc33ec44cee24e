/**
 * Whether a stored run can resume on the code an engine has — decided per checkpoint, not
 * per version (docs/guides/versioning.md). Shared by the engine (at claim) and
 * `ratchet check --db` (before a deploy), so both apply the same rule.
 * @module
 */
import type { CheckpointInfo, MachineManifest } from "./machine.js";

/**
 * What a migration returns: the variables to resume with at the same checkpoint, or
 * `{ at, vars }` to resume after another checkpoint instead.
 */
export type MigrationResult =
  | Record<string, unknown>
  | { readonly at: string; readonly vars: Record<string, unknown> };

/** What a migration is told about the run besides its variables. */
export interface MigrationRun<A extends readonly unknown[] = readonly unknown[]> {
  /** The arguments the run was started with. */
  readonly args: A;
}

/**
 * A migration for the runs stored at one checkpoint: gets the stored variables (by their
 * frame keys: a variable's name, `name@if` where the body shadows it) and the run's
 * arguments, and returns what the new code needs there.
 */
export type Migration = (vars: Record<string, unknown>, run: MigrationRun) => MigrationResult;

/** The `migrate` option of a workflow: a migration per checkpoint id of the old code. */
export type Migrations = Readonly<Record<string, Migration>>;

/**
 * The workflows `ratchet lock` recorded, by name, for typing `migrate`: the declaration file
 * it writes beside the lock (`ratchet.lock.d.ts`) fills this interface in, by module
 * augmentation, with each workflow's `stored` variables per checkpoint of the locked code
 * and the `current` ones per checkpoint of the source it was run on. Empty without that
 * file, and then `migrate` is typed as {@link Migrations}.
 *
 * @example What `ratchet lock` writes
 * ```ts
 * declare module "ratchetjs" {
 *   interface LockedWorkflows {
 *     approve: {
 *       stored: { "waitForEvent:decided": { order: string; total: number } };
 *       current: { "waitForEvent:decided": { order: string; price: number } };
 *     };
 *   }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by module augmentation
export interface LockedWorkflows {}

/** The shape of one entry of {@link LockedWorkflows}. */
export interface LockedFrames {
  readonly stored: object;
  readonly current: object;
}

/**
 * What a typed migration may return, given the current code's variables per checkpoint: the
 * variables the code needs at the stored checkpoint `At` (when it still has it), or
 * `{ at, vars }` with another checkpoint of the current code and its variables.
 */
export type MigrationTarget<Current, At> =
  | (At extends keyof Current ? Current[At] : never)
  | { [C in keyof Current]: { readonly at: C; readonly vars: Current[C] } }[keyof Current];

/**
 * The `migrate` option of the workflow named `Name`: typed by {@link LockedWorkflows} when
 * the lock knows the workflow — one optional migration per checkpoint of the locked code,
 * `vars` as it stored them, the result as the current code needs it — else
 * {@link Migrations}.
 */
export type MigrationsOf<Name extends string> = string extends Name
  ? Migrations
  : Name extends keyof LockedWorkflows
    ? LockedWorkflows[Name] extends infer W extends LockedFrames
      ? {
          readonly [C in keyof W["stored"]]?: (
            vars: W["stored"][C],
            run: MigrationRun,
          ) => MigrationTarget<W["current"], C>;
        }
      : Migrations
    : Migrations;

/** How a stored run continues on this code. */
export type ResumeDecision =
  | {
      readonly kind: "resume";
      /** The checkpoint the run re-enters after. */
      readonly checkpoint: CheckpointInfo;
      readonly vars: Record<string, unknown>;
      /** Set when a migration made the variables. */
      readonly migrated: boolean;
    }
  | {
      readonly kind: "park";
      /** The stored checkpoint id. */
      readonly checkpoint: string;
      /** The variables the code needs there that the stored run (or migration) lacks. */
      readonly missing: readonly string[];
      /** What an operator reads: what does not fit, and how to fix it. */
      readonly reason: string;
    };

/**
 * Decide how a run stored at checkpoint `storedId` with variables `stored` continues on the
 * workflow `manifest`: it resumes when the code has a checkpoint with that id (the id
 * names the operation, so the kind matches too) and every variable live there is stored;
 * else a migration for `storedId`, when there is one, maps the variables (or moves the
 * run to another checkpoint) and the same test applies to what it returns; else the run
 * is parked, with a reason naming the checkpoint and the variables.
 */
export function decideResume(
  manifest: MachineManifest,
  storedId: string,
  stored: Record<string, unknown>,
  migrate: Migrations | undefined,
  args: () => readonly unknown[] = () => [],
): ResumeDecision {
  const direct = fits(manifest, storedId, stored, args);
  if (direct.kind === "resume") return direct;
  const migration = migrate && Object.hasOwn(migrate, storedId) ? migrate[storedId] : undefined;
  if (!migration) return park(manifest, storedId, direct.missing, direct.problem, stored);
  let output: MigrationResult;
  try {
    output = migration({ ...stored }, { args: args() });
  } catch (error) {
    return {
      kind: "park",
      checkpoint: storedId,
      missing: direct.missing,
      reason: `the migration for checkpoint "${storedId}" of workflow "${manifest.name}" threw: ${(error as Error)?.message ?? String(error)}. Fix the migration and deploy again; the run resumes by itself.`,
    };
  }
  const moved =
    typeof output === "object" &&
    output !== null &&
    typeof (output as { at?: unknown }).at === "string" &&
    typeof (output as { vars?: unknown }).vars === "object";
  const target = moved ? (output as { at: string }).at : storedId;
  const vars = (moved ? (output as { vars: Record<string, unknown> }).vars : output) ?? {};
  const after = fits(manifest, target, vars as Record<string, unknown>, args);
  if (after.kind === "resume") return { ...after, migrated: true };
  return {
    kind: "park",
    checkpoint: storedId,
    missing: after.missing,
    reason: `the migration for checkpoint "${storedId}" of workflow "${manifest.name}" ${
      after.problem === "no-checkpoint"
        ? `moved the run to checkpoint "${target}", which this code does not have (it has: ${ids(manifest)})`
        : `returned no ${list(after.missing)}, which the code needs at checkpoint "${target}"`
    }. Fix the migration and deploy again; the run resumes by itself.`,
  };
}

type Fit =
  | Extract<ResumeDecision, { kind: "resume" }>
  | {
      readonly kind: "mismatch";
      readonly problem: "no-checkpoint" | "missing-variables";
      readonly missing: string[];
    };

function fits(
  manifest: MachineManifest,
  id: string,
  vars: Record<string, unknown>,
  args: () => readonly unknown[],
): Fit {
  const checkpoint = manifest.checkpoints.find((c) => c.id === id);
  if (!checkpoint) return { kind: "mismatch", problem: "no-checkpoint", missing: [] };
  let missing = checkpoint.live.filter((name) => !Object.hasOwn(vars, name));
  if (missing.length > 0) {
    const recovered = fromArgs(manifest, missing, args);
    if (recovered) {
      vars = { ...vars, ...recovered };
      missing = missing.filter((name) => !Object.hasOwn(recovered, name));
    }
  }
  if (missing.length > 0) return { kind: "mismatch", problem: "missing-variables", missing };
  return { kind: "resume", checkpoint, vars, migrated: false };
}

/**
 * The missing variables that are parameters this code never assigns, from the run's
 * arguments: their value anywhere in this code is the argument, so it is at the checkpoint
 * too. Only values that cannot have been changed in place since the run started (strings,
 * numbers, booleans, bigints, null, undefined): an object argument may have been mutated
 * by the code that ran before the checkpoint, and is left to a migration (`run.args`).
 */
function fromArgs(
  manifest: MachineManifest,
  missing: readonly string[],
  args: () => readonly unknown[],
): Record<string, unknown> | undefined {
  const unassigned = manifest.unassignedParams;
  if (!unassigned?.some((name) => missing.includes(name))) return undefined;
  const values = args();
  const out: Record<string, unknown> = {};
  for (const name of missing) {
    if (!unassigned.includes(name)) continue;
    const value = values[manifest.params.indexOf(name)];
    if (typeof value === "object" ? value === null : typeof value !== "function") {
      out[name] = value;
    }
  }
  return out;
}

function park(
  manifest: MachineManifest,
  storedId: string,
  missing: string[],
  problem: "no-checkpoint" | "missing-variables",
  stored: Record<string, unknown>,
): ResumeDecision {
  const fix = `add workflow({ migrate: { "${storedId}": (vars) => … } }) to "${manifest.name}" (or deploy the code it was stored by again); the run then resumes by itself`;
  if (problem === "no-checkpoint") {
    return {
      kind: "park",
      checkpoint: storedId,
      missing,
      reason: `it is stored at checkpoint "${storedId}", which workflow "${manifest.name}" (${manifest.file}) no longer has (it has: ${ids(manifest)}). To resume it, ${fix.replace("(vars) => …", `(vars) => ({ at: "<checkpoint id>", vars })`)}.`,
    };
  }
  const checkpoint = manifest.checkpoints.find((c) => c.id === storedId)!;
  const have = Object.keys(stored);
  return {
    kind: "park",
    checkpoint: storedId,
    missing,
    reason: `at checkpoint "${storedId}" (${manifest.file}:${checkpoint.line}:${checkpoint.column}) workflow "${manifest.name}" now needs ${list(missing)}, which the stored run does not have (it stored: ${have.length > 0 ? have.join(", ") : "nothing"}). To resume it, ${fix}.`,
  };
}

function ids(manifest: MachineManifest): string {
  return manifest.checkpoints.map((c) => c.id).join(", ") || "no checkpoints";
}

function list(names: readonly string[]): string {
  return names.length === 1 ? `variable ${names[0]}` : `variables ${names.join(", ")}`;
}
