/** `import … from "ratchetjs"` statements, with what they import (group 1). */
const importFromRatchet = /\bimport\s+([^;'"]*?)\s*\bfrom\s*["']ratchetjs["']/g;

/**
 * A cheap test, with no parse, that a module may define a workflow: it imports `workflow` from
 * `ratchetjs` (by name, renamed, or through `import * as r`), and calls it (`workflow(`,
 * `workflow<…>(`) or decorates with it (`@workflow`). Every front end calls it first, so step
 * modules, modules that only set up an engine and modules that merely mention the word cost a
 * few substring searches and no parse.
 *
 * It may say yes to a module without workflows (the parse then finds none); it never says no to
 * one that has a workflow the compiler would find.
 */
export function mayContainWorkflow(code: string): boolean {
  if (!code.includes("ratchetjs") || !code.includes("workflow")) return false;
  const callees: string[] = [];
  for (const match of code.matchAll(importFromRatchet)) {
    const clause = match[1]!;
    if (/^type\s/.test(clause)) continue;
    const namespace = /\*\s*as\s+([\w$]+)/.exec(clause);
    if (namespace) callees.push(`${escapeName(namespace[1]!)}\\s*\\.\\s*workflow`);
    const named = /\{([^}]*)\}/.exec(clause);
    if (!named) continue;
    for (const specifier of named[1]!.split(",")) {
      const parts = /^\s*(type\s+)?workflow(?:\s+as\s+([\w$]+))?\s*$/.exec(
        specifier.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, ""),
      );
      if (parts && !parts[1]) callees.push(escapeName(parts[2] ?? "workflow"));
    }
  }
  if (callees.length === 0) return false;
  // A call (`wf(`, `wf<T>(`, `wf?.(`), or a decorator (`@wf`, `@r.workflow(…)`).
  const use = new RegExp(
    `(?:@\\s*(?:${callees.join("|")})\\b|(?<![\\w$.])(?:${callees.join("|")})\\s*[(<?])`,
  );
  return use.test(code);
}

function escapeName(name: string): string {
  return name.replace(/\$/g, "\\$");
}
