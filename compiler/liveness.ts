import ts from "typescript";
import { DiagnosticCodes, type DiagnosticSink } from "./diagnostics.js";
import type { Block, Item, MachineIR, Terminator } from "./ir.js";
import { boundNames, forEachReference, skipOuterExpressions } from "./syntax.js";

/**
 * Liveness over the block graph: which slots hold a value that may still be read after
 * each checkpoint. Exactly those are persisted there, so a large or unserializable value
 * that is dead at a checkpoint is neither stored nor an error.
 *
 * The analysis is conservative where JavaScript is dynamic: any reference by name counts
 * as a use (even one shadowed inside a nested function), and only whole-variable
 * assignments at statement level count as definitions. Variables that hoisted function
 * declarations read are live everywhere, since those functions may be called anywhere.
 */
export function computeLiveness(ir: MachineIR, sink: DiagnosticSink): string[][] {
  const persistable = new Set(
    [...ir.slots.values()].filter((s) => s.kind !== "function").map((s) => s.name),
  );
  const usesIn = (node: ts.Node | undefined, into: Set<string>): Set<string> => {
    if (node) {
      forEachReference(node, (id) => {
        if (persistable.has(id.text)) into.add(id.text);
      });
    }
    return into;
  };

  const alwaysLive = new Set<string>();
  for (const fn of ir.hoistedFunctions) usesIn(fn, alwaysLive);

  const liveIn = new Map<number, Set<string>>(ir.blocks.map((b) => [b.id, new Set()]));
  const successors = (t: Terminator): number[] => {
    switch (t.kind) {
      case "goto":
        return [t.target];
      case "branch":
        return [t.whenTrue, t.whenFalse];
      case "durable":
        return [t.resume];
      case "end":
        return [];
    }
  };

  const transferItem = (item: Item, live: Set<string>): void => {
    switch (item.kind) {
      case "statement": {
        const expression = ts.isExpressionStatement(item.node)
          ? skipOuterExpressions(item.node.expression)
          : undefined;
        if (
          expression &&
          ts.isBinaryExpression(expression) &&
          expression.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
          ts.isIdentifier(expression.left)
        ) {
          live.delete(expression.left.text);
          usesIn(expression.right, live);
        } else {
          usesIn(item.node, live);
        }
        return;
      }
      case "declare":
        for (const name of boundNames(item.target)) live.delete(name);
        // Defaults and computed keys inside a destructuring pattern are uses too.
        if (!ts.isIdentifier(item.target)) usesIn(item.target, live);
        usesIn(item.initializer, live);
        return;
      case "receive":
        if (item.target) {
          for (const name of boundNames(item.target)) live.delete(name);
          if (!ts.isIdentifier(item.target)) usesIn(item.target, live);
        }
        return;
      case "returnReceived":
        live.clear();
        return;
    }
  };

  const transferBlock = (block: Block): Set<string> => {
    const live = new Set<string>();
    for (const successor of successors(block.terminator)) {
      for (const name of liveIn.get(successor)!) live.add(name);
    }
    const t = block.terminator;
    if (t.kind === "branch") usesIn(t.test, live);
    if (t.kind === "durable") usesIn(t.call, live);
    for (let i = block.items.length - 1; i >= 0; i--) transferItem(block.items[i]!, live);
    return live;
  };

  // Blocks are numbered roughly in source order, so iterating backwards converges fast.
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = ir.blocks.length - 1; i >= 0; i--) {
      const block = ir.blocks[i]!;
      const next = transferBlock(block);
      const previous = liveIn.get(block.id)!;
      if (next.size !== previous.size || [...next].some((n) => !previous.has(n))) {
        liveIn.set(block.id, next);
        changed = true;
      }
    }
  }

  return ir.checkpoints.map((site) => {
    const live = new Set(liveIn.get(site.resume)!);
    for (const name of alwaysLive) live.add(name);
    const names = [...live].sort();
    for (const name of names) {
      const slot = ir.slots.get(name)!;
      if (slot.holdsFunction) {
        sink.report(
          site.await,
          DiagnosticCodes.functionLiveAcrossCheckpoint,
          `\`${name}\` holds a function or class and is still used after this checkpoint, so it would have to be persisted, which is impossible.`,
          `Declare it as a function declaration (function ${name}() {…}), which is re-created on resume, or create it after the checkpoint.`,
        );
      }
    }
    return names;
  });
}
