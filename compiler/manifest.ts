import ts from "typescript";
import type { CheckpointSite } from "./ir.js";

// TypeScript's CommonJS entry exposes each export through a getter on an object of some
// 2,000 properties: `ts.isIdentifier(…)` or `ts.SyntaxKind.X` is a getter call each time.
// The walks ask such questions of every node, so they read them once, here.
const {
  SyntaxKind,
  isCallExpression,
  isComputedPropertyName,
  isIdentifier,
  isObjectLiteralExpression,
  isPropertyAccessExpression,
  isPropertyAssignment,
  isStringLiteralLike,
} = ts;

/** One checkpoint of a compiled workflow, as the manifest records it. */
export interface CheckpointManifest {
  /** The checkpoint's number in this machine, 1-based, in source order. */
  readonly index: number;
  /**
   * A stable id: the durable operation and its target (`step:chargeCustomer`); calls that
   * share one are told apart by a hash of the call (`step:note~3fa2c1`). It does not change
   * when code between checkpoints changes, so a stored run can be matched to new code.
   */
  readonly id: string;
  /** The `ctx` method, e.g. `step`. */
  readonly kind: string;
  /** The machine state where a resumed run continues. */
  readonly resume: number;
  /** The variables persisted at this checkpoint. */
  readonly live: readonly string[];
  /** Where the durable `await` is in the source, 1-based. */
  readonly line: number;
  readonly column: number;
}

/** What the compiler tells the runtime (and tools) about one compiled workflow. */
export interface WorkflowManifest {
  /** `<file>#<name>`. */
  readonly id: string;
  readonly name: string;
  /** The source file, as given to the compiler. */
  readonly file: string;
  /**
   * A hash of the machine's shape: its parameters, and each checkpoint's id, kind and live
   * variables. It identifies a build; resuming does not depend on it.
   */
  readonly version: string;
  /** Parameter names after `ctx`, as written (destructured ones as `[n]`). */
  readonly params: readonly string[];
  /**
   * The parameters whose value anywhere in the body is the run's argument (plain names
   * without a default that the body never assigns; compiler/names.ts): a stored run that
   * lacks one at its checkpoint takes it from its arguments. Absent when there is none.
   */
  readonly unassignedParams?: readonly string[];
  readonly checkpoints: readonly CheckpointManifest[];
  /**
   * What each compiler temporary persisted at some checkpoint holds, by its frame key, for
   * messages: ``"step:charge/value.3fa2c1": "the value of `makeOrder()` (4:40)"``. Absent
   * when no temporary is persisted. Not part of the version.
   */
  readonly temporaries?: Readonly<Record<string, string>>;
  /**
   * The checkpoint ids the workflow's `migrate` option has a migration for, when it is an
   * object literal with literal keys (for `ratchet check`); absent without `migrate`.
   */
  readonly migrations?: readonly string[];
}

/** The keys of `options.migrate`, when the options and `migrate` are object literals. */
export function migrationIds(options: ts.Expression | undefined): string[] | undefined {
  if (!options || !isObjectLiteralExpression(options)) return undefined;
  const migrate = options.properties.find(
    (p): p is ts.PropertyAssignment =>
      isPropertyAssignment(p) && !isComputedPropertyName(p.name) && p.name.text === "migrate",
  );
  if (!migrate || !isObjectLiteralExpression(migrate.initializer)) return undefined;
  const ids: string[] = [];
  for (const property of migrate.initializer.properties) {
    const name = property.name;
    if (!name) continue;
    if (isIdentifier(name) || isStringLiteralLike(name)) ids.push(name.text);
    else if (isComputedPropertyName(name) && isStringLiteralLike(name.expression)) {
      ids.push(name.expression.text);
    }
  }
  return ids;
}

/**
 * The target of a durable call, as text: the step function or the inline step's name; for
 * `ctx.parallel`/`ctx.gather`, the targets of its steps (`parallel:fetchSales,fetchStock`).
 */
function targetOf(call: ts.CallExpression, sourceFile: ts.SourceFile): string {
  const first = call.arguments[0];
  const method = isPropertyAccessExpression(call.expression) ? call.expression.name.text : "";
  if (method === "waitForUser") return "";
  if (method === "sleep") {
    const options = call.arguments[1];
    const name =
      options && isObjectLiteralExpression(options)
        ? options.properties.find(
            (p): p is ts.PropertyAssignment =>
              isPropertyAssignment(p) && isIdentifier(p.name) && p.name.text === "name",
          )
        : undefined;
    if (name && isStringLiteralLike(name.initializer)) return name.initializer.text;
  }
  if (!first) return "";
  if (isStringLiteralLike(first)) return first.text;
  if (method === "parallel") {
    return call.arguments
      .map((a) => (isCallExpression(a) ? targetOf(a, sourceFile) : "?"))
      .join(",");
  }
  if (method === "gather" && isObjectLiteralExpression(first)) {
    return first.properties.map((p) => (p.name ? p.name.getText(sourceFile) : "...")).join(",");
  }
  return first.getText(sourceFile).replace(/\s+/g, "");
}

/**
 * Stable checkpoint ids, in source order: the operation and its target (`step:charge`,
 * `sleep:reminder`). Where several calls share that, each is told apart by a short hash of
 * its call's tokens (`step:note~3fa2c1`), and `#2`, `#3` only between calls written
 * exactly alike — never by a count of other calls, so a call added elsewhere can neither
 * shift an id onto another call nor (unless it is the same operation) rename one.
 */
export function checkpointIds(
  sites: readonly CheckpointSite[],
  sourceFile: ts.SourceFile,
): string[] {
  const bases = sites.map((site) => {
    const target = targetOf(site.call, sourceFile);
    return target ? `${site.method}:${target}` : site.method;
  });
  const shared = new Map<string, number>();
  for (const base of bases) shared.set(base, (shared.get(base) ?? 0) + 1);
  const counts = new Map<string, number>();
  return sites.map((site, i) => {
    const base = bases[i]!;
    if (shared.get(base) === 1) return base;
    const id = `${base}~${hashText(tokensOf(site.call, sourceFile)).slice(0, 6)}`;
    const n = (counts.get(id) ?? 0) + 1;
    counts.set(id, n);
    return n === 1 ? id : `${id}#${n}`;
  });
}

/** A node's tokens, without whitespace and comments: reformatting the code keeps them. */
export function tokensOf(node: ts.Node, sourceFile: ts.SourceFile): string {
  // One scanner for every call: making one costs more than scanning a call's few tokens.
  tokenScanner ??= ts.createScanner(ts.ScriptTarget.ESNext, true);
  const scanner = tokenScanner;
  scanner.setLanguageVariant(sourceFile.languageVariant);
  scanner.setText(node.getText(sourceFile));
  const tokens: string[] = [];
  while (scanner.scan() !== SyntaxKind.EndOfFileToken) tokens.push(scanner.getTokenText());
  scanner.setText(undefined);
  return tokens.join(" ");
}

let tokenScanner: ts.Scanner | undefined;

/**
 * A 64-bit FNV-1a hash as 16 hex digits. Not cryptographic: it only has to tell two
 * machine shapes apart, in a browser as well as in Node.
 *
 * The 64-bit state is kept as two 32-bit halves (BigInt arithmetic per character costs more
 * than the rest of the manifest): multiplying by the FNV prime 2^40 + 0x1b3 is `h * 0x1b3`
 * plus the low half shifted into the high one by 8 bits, modulo 2^64.
 */
export function hashText(text: string): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < text.length; i++) {
    lo = (lo ^ text.charCodeAt(i)) >>> 0;
    // lo * 0x1b3 < 2^41: exact in a double; its part above 32 bits carries into hi.
    const low = lo * 0x1b3;
    hi = (Math.imul(hi, 0x1b3) + Math.floor(low / 0x100000000) + (lo << 8)) >>> 0;
    lo = low >>> 0;
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

/** The version hash of a machine shape. */
export function versionHash(
  params: readonly string[],
  checkpoints: readonly Pick<CheckpointManifest, "id" | "kind" | "live">[],
): string {
  return hashText(JSON.stringify([params, checkpoints.map((c) => [c.id, c.kind, c.live])]));
}
