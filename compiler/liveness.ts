import ts from "typescript";
import { DiagnosticCodes, type DiagnosticSink } from "./diagnostics.js";
import type { Block, MachineIR, Slot } from "./ir.js";
import { forEachReference, isFunctionValue, skipOuterExpressions } from "./syntax.js";

const { SyntaxKind } = ts;

/** Where an exception raised in a block goes: a catch block, a finally block, or out. */
export type Handler =
  | { readonly kind: "catch"; readonly region: number; readonly block: number }
  | { readonly kind: "finally"; readonly region: number; readonly block: number };

/** The handler of exceptions raised in `block`, walking out through enclosing `try`s. */
export function handlerOf(ir: MachineIR, block: Block): Handler | undefined {
  let region = block.region;
  let part = block.part;
  while (region >= 0) {
    const r = ir.regions[region]!;
    if (part === "try" && r.catchBlock !== undefined) {
      return { kind: "catch", region, block: r.catchBlock };
    }
    if ((part === "try" || part === "catch") && r.finallyBlock !== undefined) {
      return { kind: "finally", region, block: r.finallyBlock };
    }
    part = r.parentPart;
    region = r.parent;
  }
  return undefined;
}

/** Every block control may reach from the end of `block` (or from inside it). */
export function successorsOf(ir: MachineIR, block: Block): number[] {
  const out: number[] = [];
  const t = block.terminator;
  switch (t.kind) {
    case "goto":
      out.push(t.target);
      break;
    case "branch":
      out.push(t.whenTrue, t.whenFalse);
      break;
    case "durable":
      out.push(t.resume);
      break;
    case "finallyEnd": {
      const region = ir.regions[t.region]!;
      out.push(region.afterBlock, ...(ir.finallyTargets.get(t.region) ?? []));
      if (region.outerFinally >= 0) out.push(ir.regions[region.outerFinally]!.finallyBlock!);
      break;
    }
  }
  for (const item of block.items) out.push(...item.jumps);
  return out;
}

/**
 * Liveness over the block graph: which slots hold a value that may still be read after
 * each checkpoint. Exactly those are persisted there, so a large or unserializable value
 * that is dead at a checkpoint is neither stored nor an error.
 *
 * The analysis is conservative where JavaScript is dynamic: any reference by name counts
 * as a use (even one shadowed inside a nested function), and only whole-variable
 * assignments the compiler can see count as definitions. A function made again on resume
 * (a declaration, or `const f = () => …`) is followed like a variable: where it may still be
 * referred to after a checkpoint (called, or handed to code that may call it), the variables
 * it reads are used there.
 */
export function computeLiveness(
  ir: MachineIR,
  sink: DiagnosticSink,
  withProperties?: string[][],
): string[][] {
  const persistable = new Set(
    [...ir.slots.values()]
      .filter((s) => s.kind !== "function" && s.kind !== "volatile")
      .map((s) => s.name),
  );
  // A function made again on resume is not persisted, but it is followed like a variable:
  // where it may still be called, what it reads must be restored.
  const functions = new Set(
    [...ir.slots.values()].filter((s) => s.kind === "function").map((s) => s.name),
  );
  const tracked = new Set([...persistable, ...functions]);
  const usesIn = (node: ts.Node | undefined, into: Set<string>): void => {
    if (!node) return;
    forEachReference(
      node,
      (id) => {
        if (tracked.has(id.text)) into.add(id.text);
      },
      (subtree) => {
        // A subtree of the user's code as parsed: its references are a run of the body's, found
        // by position instead of walking it.
        const refs = ir.references;
        let low = 0;
        let high = refs.length;
        while (low < high) {
          const mid = (low + high) >>> 1;
          if (refs[mid]!.pos < subtree.pos) low = mid + 1;
          else high = mid;
        }
        for (let i = low; i < refs.length && refs[i]!.pos < subtree.end; i++) {
          if (tracked.has(refs[i]!.text)) into.add(refs[i]!.text);
        }
      },
    );
  };

  // What each function made again on resume reads (other such functions included).
  const reads = new Map<string, Set<string>>();
  for (const fn of ir.hoistedFunctions) {
    if (fn.name) usesIn(fn, getOrAdd(reads, fn.name.text));
  }
  for (const statement of [...ir.recreatedFunctions, ...ir.chosenFunctions]) {
    for (const d of statement.declarationList.declarations) {
      if (d.name.kind === SyntaxKind.Identifier)
        usesIn(d.initializer, getOrAdd(reads, d.name.text));
    }
  }

  // A reference to such a function is where it may be called (directly, or by whatever it
  // is handed to): what it reads, and what the functions it refers to read, are used there.
  const closed = new Map<string, Set<string>>();
  for (const name of reads.keys()) {
    const all = new Set<string>();
    const pending = [name];
    while (pending.length > 0) {
      for (const read of reads.get(pending.pop()!) ?? []) {
        if (all.has(read)) continue;
        all.add(read);
        if (functions.has(read)) pending.push(read);
      }
    }
    closed.set(name, all);
  }
  const withCalls = (names: Set<string>): Set<string> => {
    for (const name of [...names]) {
      if (functions.has(name)) for (const read of closed.get(name) ?? []) names.add(read);
    }
    return names;
  };

  const successors = ir.blocks.map((b) => successorsOf(ir, b));

  // The fixpoint below works on bit sets: each name that can be live gets a number.
  const numbered = [...tracked];
  for (const block of ir.blocks) {
    const t = block.terminator;
    if (t.kind === "finallyEnd") numbered.push(ir.regions[t.region]!.completionSlot!);
  }
  const numberOf = new Map<string, number>();
  for (const name of numbered) if (!numberOf.has(name)) numberOf.set(name, numberOf.size);
  const nameOf = [...numberOf.keys()];
  const words = (numberOf.size + 31) >>> 5;
  const numbers = (names: Iterable<string>): number[] => {
    const out: number[] = [];
    for (const name of names) {
      const n = numberOf.get(name);
      if (n !== undefined) out.push(n);
    }
    return out;
  };
  const liveIn = ir.blocks.map(() => new Uint32Array(words));

  // Each block's reads, found once: the fixpoint below revisits blocks many times but never
  // walks a syntax tree again. Per item, the names it reads; for the terminator, the names its
  // test, call or value reads (or the completion slot a `finally` ends on).
  const itemUses = ir.blocks.map((block) =>
    block.items.map((item) => {
      const names = new Set<string>();
      for (const node of item.uses) usesIn(node, names);
      return numbers(withCalls(names));
    }),
  );
  const itemKills = ir.blocks.map((block) => block.items.map((item) => numbers(item.kills)));
  const terminatorUses = ir.blocks.map((block) => {
    const names = new Set<string>();
    const t = block.terminator;
    if (t.kind === "branch") usesIn(t.test, names);
    else if (t.kind === "durable") usesIn(t.call, names);
    else if (t.kind === "return" || t.kind === "throw") usesIn(t.value, names);
    else if (t.kind === "finallyEnd") names.add(ir.regions[t.region]!.completionSlot!);
    return numbers(withCalls(names));
  });

  // What an exception raised in a block needs: its handler's live-in, less the slot the
  // machine's catch writes (the caught error, or the pending completion) before entering it.
  const handlers = ir.blocks.map((b) => {
    const handler = handlerOf(ir, b);
    if (!handler) return undefined;
    const region = ir.regions[handler.region]!;
    const written = handler.kind === "catch" ? region.catchSlot : region.completionSlot;
    return { block: handler.block, written: written ? numberOf.get(written) : undefined };
  });

  // An exception can be raised anywhere in a block — at its resume point (a failed step, a
  // timed-out wait) and in any item, before that item's assignment happens — so the
  // handler's needs join the live set before every item, not only at the block's end.
  const live = new Uint32Array(words);
  const onThrow = new Uint32Array(words);
  const transfer = (block: Block): void => {
    live.fill(0);
    const handler = handlers[block.id];
    if (handler) {
      onThrow.set(liveIn[handler.block]!);
      const w = handler.written;
      if (w !== undefined) onThrow[w >>> 5]! &= ~(1 << (w & 31));
    } else onThrow.fill(0);
    for (const s of successors[block.id]!) {
      const from = liveIn[s]!;
      for (let k = 0; k < words; k++) live[k]! |= from[k]!;
    }
    for (let k = 0; k < words; k++) live[k]! |= onThrow[k]!;
    for (const n of terminatorUses[block.id]!) live[n >>> 5]! |= 1 << (n & 31);
    const uses = itemUses[block.id]!;
    const kills = itemKills[block.id]!;
    for (let i = block.items.length - 1; i >= 0; i--) {
      for (const n of kills[i]!) live[n >>> 5]! &= ~(1 << (n & 31));
      for (const n of uses[i]!) live[n >>> 5]! |= 1 << (n & 31);
      for (let k = 0; k < words; k++) live[k]! |= onThrow[k]!;
    }
  };

  // Blocks are numbered roughly in source order, so iterating backwards converges fast.
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = ir.blocks.length - 1; i >= 0; i--) {
      transfer(ir.blocks[i]!);
      const previous = liveIn[i]!;
      let same = true;
      for (let k = 0; k < words && same; k++) same = previous[k] === live[k];
      if (!same) {
        previous.set(live);
        changed = true;
      }
    }
  }

  return ir.checkpoints.map((site) => {
    const live = new Set<string>();
    const bits = liveIn[site.resume]!;
    for (let n = 0; n < nameOf.length; n++) {
      if (bits[n >>> 5]! & (1 << (n & 31))) live.add(nameOf[n]!);
    }
    const names = [...live].filter((name) => persistable.has(name)).sort();
    // Functions made again on resume whose own properties the frame keeps here: those the
    // body gives properties to and may still refer to after the checkpoint.
    const carried = [...live]
      .filter((name) => functions.has(name) && ir.propertyFunctions.has(name))
      .sort();
    withProperties?.push(carried);
    for (const name of carried) {
      // A property holding a function the body made (`f.helper = () => 1`) is kept with the
      // other properties, and cannot be persisted.
      const slot = ir.slots.get(name)!;
      const source = slot.functionSource;
      const assignment = source?.parent;
      if (
        source &&
        assignment &&
        ts.isBinaryExpression(assignment) &&
        assignment.right === source &&
        (ts.isPropertyAccessExpression(assignment.left) ||
          ts.isElementAccessExpression(assignment.left))
      ) {
        sink.report(
          site.await,
          DiagnosticCodes.functionLiveAcrossCheckpoint,
          `\`${slot.description}\` is given a function or class as a property, \`${assignment.left.getText()}\` (${positionOf(assignment)}), and is used after this checkpoint: the frame keeps a function's properties for its resume, and a function cannot be persisted.`,
          `Give the function its own \`const\` and refer to it by name, or set \`${assignment.left.getText()}\` after this checkpoint.`,
        );
      }
    }
    for (const name of live) {
      const slot = functions.has(name) ? ir.slots.get(name) : undefined;
      const before = slot?.reassigned?.find((w) => mayRunBefore(w, site.await));
      if (!slot || !before) continue;
      const write = before.getText().replace(/\s+/g, " ");
      sink.report(
        site.await,
        DiagnosticCodes.functionLiveAcrossCheckpoint,
        `\`${slot.description}\` is a function declaration that the body writes to, \`${write.length > 40 ? `${write.slice(0, 37)}…` : write}\` (${positionOf(before)}), and is used after this checkpoint: a function declaration is made again on resume as it is written, so what the write put there would be lost.`,
        `Keep the choice in data instead (a flag the function reads), or give the replacement a name of its own and call it where it applies.`,
      );
    }
    for (const name of names) {
      const slot = ir.slots.get(name)!;
      if (slot.holds === "function") {
        const { message, hint } = functionValueDiagnostic(slot);
        sink.report(site.await, DiagnosticCodes.functionLiveAcrossCheckpoint, message, hint);
      } else if (slot.holds) {
        // A generator is certain; an iterator is judged by a method name, so only warned.
        sink.report(
          site.await,
          DiagnosticCodes.functionLiveAcrossCheckpoint,
          `\`${slot.description}\` holds ${slot.holds === "generator" ? "a generator" : "what looks like an iterator"} and is still used after this checkpoint; its position cannot be persisted.`,
          `Turn it into an array before the checkpoint (const items = [...${slot.description}]) and use that.`,
          slot.holds === "generator" ? "error" : "warning",
        );
      }
    }
    return names;
  });
}

/**
 * Whether `write` may run before `checkpoint` is reached: it comes first in the text, or a loop
 * holds both (a write later in the body runs before the next iteration's checkpoint), or it is
 * in a function nested in the body.
 */
function mayRunBefore(write: ts.Node, checkpoint: ts.Node): boolean {
  if (write.pos < checkpoint.pos) return true;
  // In a nested function, it runs whenever that function is called.
  if (
    ts.findAncestor(write, ts.isFunctionLike) !== ts.findAncestor(checkpoint, ts.isFunctionLike)
  ) {
    return true;
  }
  for (let n: ts.Node | undefined = write.parent; n && !ts.isFunctionLike(n); n = n.parent) {
    if (ts.isIterationStatement(n, false) && n.pos <= checkpoint.pos && checkpoint.end <= n.end) {
      return true;
    }
  }
  return false;
}

function getOrAdd(map: Map<string, Set<string>>, key: string): Set<string> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

/**
 * What RATCHET1007 says of a slot holding a function or class that is still read after a
 * checkpoint: what it is, where it is declared, why it cannot cross, and what to write.
 */
function functionValueDiagnostic(slot: Slot): { message: string; hint: string } {
  const name = slot.description;
  if (slot.kind === "temp" && slot.functionSource) {
    // The list a `for…of` keeps (compiler/explode.ts).
    const text = slot.functionSource.getText().replace(/\s+/g, " ");
    return {
      message: `${name[0]!.toUpperCase()}${name.slice(1)} holds functions made in the workflow body, from \`${text.length > 40 ? `${text.slice(0, 37)}…` : text}\` (${positionOf(slot.functionSource)}): the loop keeps it across this checkpoint, and a function cannot be persisted.`,
      hint: 'Iterate over data (names, indexes) and choose the function by it in the loop\'s body (`(key === "inc" ? inc : dec)(x)`), or call the functions in a loop that holds no checkpoint.',
    };
  }
  const declaration = slot.node?.parent;
  const at = declaration ? ` (declared at ${positionOf(declaration)})` : "";
  const isClass =
    declaration !== undefined &&
    (ts.isClassDeclaration(declaration) ||
      (ts.isVariableDeclaration(declaration) &&
        declaration.initializer !== undefined &&
        ts.isClassExpression(skipOuterExpressions(declaration.initializer))));
  if (isClass) {
    return {
      message: `\`${name}\`${at} is a class and is used after this checkpoint: a class made in the workflow body cannot be persisted, and it is not made again on resume.`,
      hint: `Declare the class at the top level of the module (it is then the same class after a resume), or use \`${name}\` only before this checkpoint or only after it.`,
    };
  }
  const source = slot.functionSource;
  const isDefault =
    declaration !== undefined && (ts.isBindingElement(declaration) || ts.isParameter(declaration));
  if (source && (isDefault || !isFunctionValue(source))) {
    const text = source.getText();
    const shown = text.length > 40 ? `${text.slice(0, 37)}…` : text;
    return {
      message: `\`${name}\`${at} may hold a function or class made in the workflow body, from \`${shown.replace(/\s+/g, " ")}\` (${positionOf(source)}), and is used after this checkpoint: such a value cannot be persisted, and only a function declaration or a \`const\` whose initializer is the function itself is made again on resume.`,
      hint: functionSourceHint(name, source),
    };
  }
  const list = declaration?.parent;
  const kind =
    list && ts.isVariableDeclarationList(list)
      ? list.flags & ts.NodeFlags.Let
        ? "`let`"
        : list.flags & ts.NodeFlags.Const
          ? "`const`"
          : "`var`"
      : undefined;
  if (kind !== "`const`") {
    return {
      message: `\`${name}\`${at} holds a function and is used after this checkpoint: a function cannot be persisted, and only a function declaration or a \`const\` holding a function written in place is made again on resume${kind ? `, not a ${kind}` : ""}.`,
      hint: `Declare it as \`const ${name} = (…) => …\` or \`function ${name}(…) {…}\` if it is not reassigned, or make it after this checkpoint.`,
    };
  }
  return {
    message: `\`${name}\`${at} holds a function and is used after this checkpoint: a function cannot be persisted, and this one is not made again on resume.`,
    hint: `Make it after this checkpoint, or declare it as a function declaration.`,
  };
}

function positionOf(node: ts.Node): string {
  const file = node.getSourceFile();
  const at = file.getLineAndCharacterOfPosition(node.getStart(file));
  return `${at.line + 1}:${at.character + 1}`;
}

/** What to write instead, by the shape of the expression a function came from. */
function functionSourceHint(name: string, source: ts.Expression): string {
  const e = skipOuterExpressions(source);
  const inner =
    ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.EqualsToken ? e : undefined;
  if (ts.isArrayLiteralExpression(e) || ts.isObjectLiteralExpression(e)) {
    return `Keep functions out of data that crosses a checkpoint: declare them with \`const\` and refer to them by name, or make \`${name}\` after this checkpoint.`;
  }
  if (ts.isIdentifier(e)) {
    return `Refer to \`${e.text}\` itself after this checkpoint instead of to another name for it, or make \`${name}\` after the checkpoint.`;
  }
  if (ts.isCallExpression(e)) {
    return `Make \`${name}\` after this checkpoint (call \`${e.expression.getText()}\` there), or write the function itself as the initializer of a \`const\`.`;
  }
  if (inner === undefined && (ts.isConditionalExpression(e) || ts.isBinaryExpression(e))) {
    return `Give each function its own \`const\` (\`const inc = (v) => …\`), keep the choice as data, and choose where the function is called (\`(up ? inc : dec)(x)\`); or make \`${name}\` after this checkpoint.`;
  }
  return `Give the function its own \`const\` (\`const ${name}Default = () => …\`) and choose where it is called (\`(${name} ?? ${name}Default)()\`), or make \`${name}\` after this checkpoint.`;
}
