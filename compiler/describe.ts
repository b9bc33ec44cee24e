import ts from "typescript";
import { DiagnosticSink } from "./diagnostics.js";
import { discoverWorkflows } from "./discover.js";
import { explodeBody } from "./explode.js";
import type { Block, MachineIR } from "./ir.js";
import { computeLiveness, handlerOf } from "./liveness.js";
import { checkpointIds } from "./manifest.js";
import { frameKeys } from "./names.js";
import { parseModule } from "./parse.js";
import { resolveScopes } from "./scopes.js";
import { withTransformationContext } from "./transformation-context.js";
import { validateBody } from "./validate.js";

/** How control leaves a block along one edge. */
export type MachineEdgeKind =
  | "next"
  | "true"
  | "false"
  | "checkpoint"
  | "jump"
  | "exception"
  | "finally";

/** One basic block of a compiled workflow (a `case` of the emitted machine's `switch`). */
export interface MachineBlockDescription {
  /** The block's number: the machine's state (`$pc`). */
  readonly id: number;
  /** How the block ends. */
  readonly terminator: Block["terminator"]["kind"];
  /** For a block ending in a checkpoint: its 1-based number (as in the manifest). */
  readonly checkpoint: number | undefined;
  /** Where control may go from this block. */
  readonly edges: readonly { readonly to: number; readonly kind: MachineEdgeKind }[];
  /** 1-based source lines this block's statements come from, or `null` for a block of bookkeeping only. */
  readonly lines: { readonly from: number; readonly to: number } | null;
  /** Whether a statement of the block may end the run: a `return` or `throw` inside it. */
  readonly exits: boolean;
  /** Which part of a `try` the block belongs to, if any. */
  readonly part: Block["part"];
}

/** A checkpoint as the block graph sees it. */
export interface MachineCheckpointDescription {
  readonly index: number;
  /** The `ctx` method: `step`, `sleep`, `waitForUser`, `parallel`, … */
  readonly method: string;
  /** The block ending in it, and the block a resumed run continues at. */
  readonly block: number;
  readonly resume: number;
  /** 1-based line and column of its `await`, and the last line of the awaited call. */
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  /** Live variables persisted here. */
  readonly live: readonly string[];
}

/** The state machine of one workflow, for tools that draw it (the playground). */
export interface MachineDescription {
  readonly name: string;
  /** The block the machine starts at (always 0). */
  readonly entry: number;
  readonly blocks: readonly MachineBlockDescription[];
  readonly checkpoints: readonly MachineCheckpointDescription[];
  /** 1-based lines of the workflow body. */
  readonly lines: { readonly from: number; readonly to: number };
}

/** Whether `node` holds a `return` or `throw` of the body itself (not of a nested function). */
function exitsIn(node: ts.Node): boolean {
  if (ts.isReturnStatement(node) || ts.isThrowStatement(node)) return true;
  if (ts.isFunctionLike(node) || ts.isClassLike(node)) return false;
  return ts.forEachChild(node, exitsIn) ?? false;
}

/** The source span of a node, looking through the compiler's renamed and synthesized nodes. */
function spanOf(node: ts.Node, sourceFile: ts.SourceFile): [number, number] | undefined {
  const original = ts.getOriginalNode(node);
  if (original.pos >= 0 && original.end >= original.pos && original.end <= sourceFile.end) {
    return [original.getStart(sourceFile), original.end];
  }
  let span: [number, number] | undefined;
  ts.forEachChild(node, (child) => {
    const inner = spanOf(child, sourceFile);
    if (inner) span = span ? [Math.min(span[0], inner[0]), Math.max(span[1], inner[1])] : inner;
  });
  return span;
}

function describeBlock(
  ir: MachineIR,
  block: Block,
  sourceFile: ts.SourceFile,
): MachineBlockDescription {
  const edges: { to: number; kind: MachineEdgeKind }[] = [];
  const nodes: ts.Node[] = block.items.map((item) => item.statement);
  const t = block.terminator;
  let checkpoint: number | undefined;
  switch (t.kind) {
    case "goto":
      edges.push({ to: t.target, kind: "next" });
      break;
    case "branch":
      edges.push({ to: t.whenTrue, kind: "true" }, { to: t.whenFalse, kind: "false" });
      nodes.push(t.test);
      break;
    case "durable":
      checkpoint = t.checkpoint;
      edges.push({ to: t.resume, kind: "checkpoint" });
      nodes.push(t.call);
      break;
    case "return":
    case "throw":
      nodes.push(t.node);
      break;
    case "finallyEnd": {
      const region = ir.regions[t.region]!;
      const targets = [region.afterBlock, ...(ir.finallyTargets.get(t.region) ?? [])];
      if (region.outerFinally >= 0) targets.push(ir.regions[region.outerFinally]!.finallyBlock!);
      for (const to of new Set(targets)) edges.push({ to, kind: "finally" });
      break;
    }
  }
  for (const item of block.items) for (const to of item.jumps) edges.push({ to, kind: "jump" });
  const handler = handlerOf(ir, block);
  if (handler) edges.push({ to: handler.block, kind: "exception" });

  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const node of nodes) {
    const span = spanOf(node, sourceFile);
    if (!span) continue;
    from = Math.min(from, sourceFile.getLineAndCharacterOfPosition(span[0]).line + 1);
    to = Math.max(to, sourceFile.getLineAndCharacterOfPosition(span[1]).line + 1);
  }
  return {
    id: block.id,
    terminator: t.kind,
    checkpoint,
    edges,
    lines: Number.isFinite(from) ? { from, to } : null,
    exits: block.items.some((item) => exitsIn(item.statement)),
    part: block.part,
  };
}

/**
 * The block graph of every workflow in a module that compiles, for tools that draw it (the
 * playground): the same passes as {@link transform} up to liveness, without emitting.
 * Workflows with errors are left out (`transform` reports why). Never throws.
 */
export function describeMachine(code: string, filename: string): MachineDescription[] {
  let sourceFile: ts.SourceFile;
  try {
    sourceFile = parseModule(code, filename);
  } catch {
    return [];
  }
  const out: MachineDescription[] = [];
  const file = sourceFile;
  const describe = (context: ts.TransformationContext): void => {
    const sink = new DiagnosticSink(file, filename);
    for (const site of discoverWorkflows(file, sink)) {
      try {
        const errors = sink.errorCount;
        const scopes = resolveScopes(site.body);
        const validation = validateBody(site.body, scopes, sink);
        if (sink.errorCount > errors) continue;
        const ir = explodeBody(site.body, validation, scopes, sink, context, file);
        const live = computeLiveness(ir, sink);
        if (sink.errorCount > errors) continue;
        const keys = frameKeys(ir, checkpointIds(ir.checkpoints, file), site.body, scopes, file);
        const line = (pos: number) => file.getLineAndCharacterOfPosition(pos).line + 1;
        const blockOf = new Map<number, number>();
        for (const block of ir.blocks) {
          if (block.terminator.kind === "durable") {
            blockOf.set(block.terminator.checkpoint, block.id);
          }
        }
        out.push({
          name: site.name,
          entry: 0,
          blocks: ir.blocks.map((block) => describeBlock(ir, block, file)),
          checkpoints: ir.checkpoints.map((cp, i) => {
            const at = file.getLineAndCharacterOfPosition(cp.await.getStart(file));
            return {
              index: cp.index,
              method: cp.method,
              block: blockOf.get(cp.index) ?? -1,
              resume: cp.resume,
              line: at.line + 1,
              column: at.character + 1,
              endLine: line(cp.await.end),
              live: (live[i] ?? []).map((slot) => keys.get(slot)!).sort(),
            };
          }),
          lines: { from: line(site.body.getStart(file)), to: line(site.body.end) },
        });
      } catch {
        // A workflow the passes choke on is left out; transform() reports it.
      }
    }
  };
  try {
    withTransformationContext(describe);
  } catch {
    return out;
  }
  return out;
}
