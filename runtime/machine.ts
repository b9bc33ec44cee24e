/**
 * The contract between compiled code and the runtime. The compiler emits, for each
 * workflow, `workflow({ name }, { $ratchet: 1, manifest, machine })`; the runtime drives
 * `machine`. (The compiler never imports the runtime: this file and compiler/manifest.ts
 * describe the same shapes from either side, and the compile-and-run tests hold them
 * together.)
 * @module
 */

/** One checkpoint, as the compiler describes it. */
export interface CheckpointInfo {
  readonly index: number;
  readonly id: string;
  readonly kind: string;
  readonly resume: number;
  readonly live: readonly string[];
  readonly line: number;
  readonly column: number;
}

/** What the compiler tells the runtime about one workflow. */
export interface MachineManifest {
  readonly id: string;
  readonly name: string;
  readonly file: string;
  readonly version: string;
  readonly params: readonly string[];
  /** The parameters whose value anywhere in the body is the run's argument. */
  readonly unassignedParams?: readonly string[];
  readonly checkpoints: readonly CheckpointInfo[];
  /**
   * What each compiler temporary persisted at some checkpoint holds, by its frame key
   * (``the value of `makeOrder()` (4:40)``): messages name it instead of the key.
   */
  readonly temporaries?: Readonly<Record<string, string>>;
  /** The checkpoint ids the `migrate` option covers, when the compiler could read them. */
  readonly migrations?: readonly string[];
}

/** Where a machine starts: the entry with arguments, or a checkpoint's resume point. */
export interface MachineFrame {
  readonly pc: number;
  readonly vars: Readonly<Record<string, unknown>>;
  readonly args: readonly unknown[];
  /** The result of the durable operation of the checkpoint being resumed. */
  readonly sent: unknown;
  /** An error the machine throws at its resume point instead (a wait that timed out). */
  thrown?: unknown;
}

/** What the machine yields at a checkpoint: its number, the operation, the live variables. */
export type MachineRequest = readonly [
  checkpoint: number,
  operation: unknown,
  live: Record<string, unknown>,
];

/** A compiled workflow body. */
export interface CompiledMachine {
  readonly $ratchet: 1;
  readonly manifest: MachineManifest;
  readonly machine: (
    ctx: unknown,
    frame: MachineFrame,
  ) => AsyncGenerator<MachineRequest, unknown, unknown>;
}

/**
 * The manifest as a compiled module carries it: without what follows from the rest (compiler/
 * emit.ts `carriedManifest`, to keep the module short) — the id where it is `<file>#<name>`, a
 * checkpoint's `index` where it is its place in the list (from 1), and its `kind` where it is how
 * its id starts (the `ctx` method, before any `:`, `~` or `#`). A module from an earlier compiler
 * has them all.
 */
export interface CarriedManifest extends Omit<MachineManifest, "id" | "checkpoints"> {
  readonly id?: string;
  readonly checkpoints: readonly (Omit<CheckpointInfo, "index" | "kind"> &
    Partial<Pick<CheckpointInfo, "index" | "kind">>)[];
}

/** What the compiler emits in place of a workflow body. */
export interface EmittedMachine extends Omit<CompiledMachine, "manifest"> {
  readonly manifest: CarriedManifest;
}

/**
 * The compiled machine with its whole manifest: what a carried manifest left out, derived (the
 * fields in the order the compiler's manifest has them).
 */
export function completeMachine(emitted: EmittedMachine): CompiledMachine {
  const carried = emitted.manifest;
  const manifest: Record<string, unknown> = { id: carried.id ?? `${carried.file}#${carried.name}` };
  for (const [key, value] of Object.entries(carried)) {
    if (key === "id") continue;
    manifest[key] =
      key === "checkpoints"
        ? carried.checkpoints.map(
            ({ index, kind, ...checkpoint }, i): CheckpointInfo => ({
              index: index ?? i + 1,
              id: checkpoint.id,
              kind: kind ?? /^[^:~#]*/.exec(checkpoint.id)![0],
              resume: checkpoint.resume,
              live: checkpoint.live,
              line: checkpoint.line,
              column: checkpoint.column,
            }),
          )
        : value;
  }
  return { ...emitted, manifest: manifest as unknown as MachineManifest };
}

/** Whether `value` is what the compiler emits in place of a workflow body. */
export function isCompiledMachine(value: unknown): value is EmittedMachine {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { $ratchet?: unknown }).$ratchet === 1 &&
    typeof (value as { machine?: unknown }).machine === "function"
  );
}
