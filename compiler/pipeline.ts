import type ts from "typescript";
import type { DiagnosticSink } from "./diagnostics.js";
import type { WorkflowSite } from "./discover.js";
import { emitMachine, propertiesKey } from "./emit.js";
import { explodeBody } from "./explode.js";
import { computeLiveness } from "./liveness.js";
import {
  type CheckpointManifest,
  checkpointIds,
  migrationIds,
  versionHash,
  type WorkflowManifest,
} from "./manifest.js";
import { frameKeys, unassignedParams } from "./names.js";
import { resolveScopes } from "./scopes.js";
import { validateBody } from "./validate.js";

/** One workflow compiled: its manifest, and the machine descriptor that replaces its body. */
export interface CompiledWorkflow {
  readonly manifest: WorkflowManifest;
  readonly descriptor: ts.Expression;
  /** Per checkpoint, the live variables with the user's nodes behind them. */
  readonly liveness: CheckpointLiveness[];
}

/** A variable persisted at a checkpoint, with the user's node behind it. */
export interface LiveVariable {
  /** As in the manifest's `live` list. */
  readonly name: string;
  /** For messages: the user's name, or what a compiler temporary holds. */
  readonly description: string;
  /** The declaring identifier, or the expression a temporary holds; absent for bookkeeping. */
  readonly node: ts.Node | undefined;
}

/** One checkpoint of a compiled workflow with its live variables (for type-aware checks). */
export interface CheckpointLiveness {
  readonly checkpoint: CheckpointManifest;
  readonly await: ts.AwaitExpression;
  readonly live: readonly LiveVariable[];
}

/**
 * Compile one workflow body. The passes, in order:
 *
 * 1. `resolveScopes` — the one walk of the body: every name resolved to its declaration,
 *    and what the next passes ask about the body's nodes, collected on the way.
 * 2. `validateBody` — reject what cannot be compiled; find the durable awaits.
 * 3. `explodeBody` — give the variables around checkpoints unique frame slots, and cut the
 *    body into basic blocks at the durable awaits: loops, `switch`, `try` and expressions
 *    included (the `MachineIR`).
 * 4. `computeLiveness` — the variables live at each checkpoint: exactly what is persisted.
 * 5. `checkpointIds` / `frameKeys` / `versionHash` — stable identity for checkpoints, the
 *    variables stored at them (compiler/names.ts), and the machine.
 * 6. `emitMachine` — the async generator that the runtime drives.
 *
 * Returns `undefined` when any pass reported an error; the diagnostics say why.
 */
export function compileWorkflow(
  site: WorkflowSite,
  sourceFile: ts.SourceFile,
  file: string,
  sink: DiagnosticSink,
  context: ts.TransformationContext,
): CompiledWorkflow | undefined {
  const errorsBefore = sink.errorCount;
  const scopes = resolveScopes(site.body);
  const validation = validateBody(site.body, scopes, sink);
  if (sink.errorCount > errorsBefore) return undefined;
  const ir = explodeBody(site.body, validation, scopes, sink, context, sourceFile);
  const withProperties: string[][] = [];
  const live = computeLiveness(ir, sink, withProperties);
  if (sink.errorCount > errorsBefore) return undefined;

  const ids = checkpointIds(ir.checkpoints, sourceFile);
  const keys = frameKeys(ir, ids, site.body, scopes, sourceFile);
  const checkpoints = ir.checkpoints.map((site, i) => {
    const at = sourceFile.getLineAndCharacterOfPosition(site.await.getStart(sourceFile));
    return {
      index: site.index,
      id: ids[i]!,
      kind: site.method,
      resume: site.resume,
      live: live[i]!.map((slot) => keys.get(slot)!).sort(),
      line: at.line + 1,
      column: at.character + 1,
    };
  });
  const params = ir.paramNames;
  const unassigned = unassignedParams(site.body, scopes);
  const migrations = migrationIds(site.options);
  const temporaries: Record<string, string> = {};
  for (const name of new Set(live.flat())) {
    const slot = ir.slots.get(name);
    if (slot?.kind === "temp") temporaries[keys.get(name)!] = slot.description;
  }
  for (const name of new Set(withProperties.flat())) {
    temporaries[propertiesKey(keys.get(name)!)] =
      `the properties of function \`${ir.slots.get(name)?.description ?? name}\``;
  }
  const manifest: WorkflowManifest = {
    id: `${file}#${site.name}`,
    name: site.name,
    file,
    version: versionHash(params, checkpoints),
    params,
    ...(unassigned.length > 0 ? { unassignedParams: unassigned } : {}),
    checkpoints,
    ...(Object.keys(temporaries).length > 0 ? { temporaries } : {}),
    ...(migrations ? { migrations } : {}),
  };
  const liveness = checkpoints.map((checkpoint, i) => ({
    checkpoint,
    await: ir.checkpoints[i]!.await,
    live: live[i]!.map((name) => {
      const slot = ir.slots.get(name);
      return { name: keys.get(name)!, description: slot?.description ?? name, node: slot?.node };
    }),
  }));
  return {
    manifest,
    descriptor: emitMachine(ir, manifest, site.body, keys, withProperties),
    liveness,
  };
}
