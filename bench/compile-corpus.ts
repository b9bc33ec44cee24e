/**
 * The compile benchmark's corpus, generated in memory from a fixed seed, so every run
 * compiles the same text:
 *
 * - workflow modules: each defines 2–4 workflows of 5–30 statements among ordinary code
 *   (interfaces, enums, functions, classes, step functions), 3–15 KB a file; the bodies keep
 *   to what the first compiler accepted (no checkpoint inside a loop, `switch` or `try`);
 * - modules without workflows, in three kinds by what the pre-filter sees (see
 *   {@link PlainKind}).
 */

/** One generated module. */
export interface SourceFile {
  readonly filename: string;
  readonly code: string;
}

/**
 * A module without workflows, by what the pre-filter sees:
 *
 * - `plain`: no mention of `ratchet` (some say "workflow" in comments) — rejected unparsed;
 * - `ratchet-filtered`: imports `ratchet` (step functions, types) but never says "workflow"
 *   in lower case — rejected unparsed;
 * - `ratchet-parsed`: imports `ratchet` and says "workflow" (an engine set up with
 *   `workflows: […]`, step modules documented as "used by the … workflow") — passes the
 *   pre-filter, so `transform()` parses it once and finds no workflow.
 */
export type PlainKind = "plain" | "ratchet-filtered" | "ratchet-parsed";

export interface PlainFile extends SourceFile {
  readonly kind: PlainKind;
}

export interface WorkflowFile extends SourceFile {
  /** The workflows the module defines, by name. */
  readonly workflows: readonly string[];
}

export interface Corpus {
  readonly workflowFiles: readonly WorkflowFile[];
  readonly plainFiles: readonly PlainFile[];
}

export interface CorpusOptions {
  readonly seed: number;
  readonly workflowFiles: number;
  readonly plain: number;
  readonly ratchetFiltered: number;
  readonly ratchetParsed: number;
}

/** mulberry32: small, fast, and the same sequence on every platform. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  private readonly next: () => number;
  private counter = 0;

  constructor(seed: number) {
    this.next = random(seed);
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A number in [0, 1). */
  unit(): number {
    return this.next();
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A fresh identifier, unique in the corpus. */
  id(stem: string): string {
    return `${stem}${++this.counter}`;
  }
}

const DOMAINS = [
  "order",
  "invoice",
  "shipment",
  "refund",
  "account",
  "payment",
  "subscription",
  "ticket",
  "report",
  "inventory",
  "customer",
  "coupon",
] as const;

const VERBS = [
  "load",
  "validate",
  "reserve",
  "charge",
  "notify",
  "archive",
  "sync",
  "price",
  "score",
  "approve",
  "publish",
  "audit",
] as const;

const FIELDS = ["total", "count", "status", "id", "owner", "region", "attempts", "score"] as const;

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

// ---------------------------------------------------------------------------------------
// Ordinary code: the same blocks fill workflow modules and modules without workflows.
// `mention` adds comments that say "workflow" (never "ratchet").

function interfaceBlock(g: Gen, mention: boolean): string {
  const name = g.id(cap(g.pick(DOMAINS)));
  const lines = [
    mention
      ? `/** The ${name} record as the approval workflow sees it. */`
      : `/** A ${name} record as stored. */`,
    `export interface ${name} {`,
    `  readonly id: string;`,
  ];
  const fields = g.int(3, 9);
  for (let i = 0; i < fields; i++) {
    const field = g.id(g.pick(FIELDS));
    const type = g.pick([
      "number",
      "string",
      "boolean",
      "readonly string[]",
      "Date | null",
      `Record<string, number>`,
      `"open" | "closed" | "pending"`,
    ]);
    lines.push(
      `  ${g.chance(0.3) ? "readonly " : ""}${field}${g.chance(0.2) ? "?" : ""}: ${type};`,
    );
  }
  lines.push("}", "");
  return lines.join("\n");
}

function typeAliasBlock(g: Gen): string {
  const name = g.id(`${cap(g.pick(DOMAINS))}Event`);
  const variants = g.int(2, 5);
  const lines = [`export type ${name} =`];
  for (let i = 0; i < variants; i++) {
    lines.push(
      `  | { readonly type: "${g.pick(VERBS)}${i}"; readonly at: number; readonly ${g.pick(FIELDS)}: ${g.pick(["string", "number"])} }`,
    );
  }
  lines[lines.length - 1] += ";";
  lines.push("");
  return lines.join("\n");
}

function enumBlock(g: Gen): string {
  const name = g.id(`${cap(g.pick(DOMAINS))}State`);
  const members = ["Draft", "Open", "Pending", "Closed", "Failed", "Archived"].slice(
    0,
    g.int(3, 6),
  );
  return [`export enum ${name} {`, ...members.map((m, i) => `  ${m} = ${i * 10},`), "}", ""].join(
    "\n",
  );
}

function functionBlock(g: Gen, mention: boolean): string {
  const domain = g.pick(DOMAINS);
  const name = g.id(`${g.pick(VERBS)}${cap(domain)}`);
  const lines = [
    mention
      ? `/** Pure helper; safe to call from a workflow body because it does no I/O. */`
      : `/** Computes a summary of ${domain} entries. */`,
    `export function ${name}(entries: readonly { ${g.pick(FIELDS)}: number; tag: string }[], limit = ${g.int(5, 500)}): { sum: number; tags: string[] } {`,
    `  let sum = 0;`,
    `  const tags = new Set<string>();`,
    `  for (const entry of entries) {`,
    `    if (sum > limit) break;`,
    `    sum += Object.values(entry).filter((v): v is number => typeof v === "number").reduce((a, b) => a + b, 0);`,
    `    tags.add(entry.tag.trim().toLowerCase());`,
    `  }`,
  ];
  if (g.chance(0.5)) {
    lines.push(
      `  switch (tags.size) {`,
      `    case 0:`,
      `      return { sum: 0, tags: [] };`,
      `    case 1:`,
      `      return { sum, tags: [...tags] };`,
      `    default:`,
      `      break;`,
      `  }`,
    );
  }
  lines.push(`  return { sum: Math.round(sum * 100) / 100, tags: [...tags].sort() };`, `}`, ``);
  return lines.join("\n");
}

function classBlock(g: Gen, mention: boolean): string {
  const entity = cap(g.pick(DOMAINS));
  const name = g.id(`${entity}Repository`);
  const lines = [
    mention
      ? `/** In-memory cache in front of the store; workflow steps read through it. */`
      : `/** Caches ${entity} rows in front of the store. */`,
    `export class ${name}<T extends { id: string; updatedAt: number }> {`,
    `  private readonly rows = new Map<string, T>();`,
    `  #hits = 0;`,
    `  #misses = 0;`,
    ``,
    `  constructor(`,
    `    private readonly load: (id: string) => Promise<T | undefined>,`,
    `    readonly maxAgeMs: number = ${g.int(1, 60) * 1000},`,
    `  ) {}`,
    ``,
    `  async get(id: string, now = Date.now()): Promise<T | undefined> {`,
    `    const cached = this.rows.get(id);`,
    `    if (cached !== undefined && now - cached.updatedAt < this.maxAgeMs) {`,
    `      this.#hits++;`,
    `      return cached;`,
    `    }`,
    `    this.#misses++;`,
    `    const row = await this.load(id);`,
    `    if (row) this.rows.set(id, row);`,
    `    else this.rows.delete(id);`,
    `    return row;`,
    `  }`,
    ``,
    `  get stats(): { hits: number; misses: number; size: number } {`,
    `    return { hits: this.#hits, misses: this.#misses, size: this.rows.size };`,
    `  }`,
  ];
  const extra = g.int(0, 3);
  for (let i = 0; i < extra; i++) {
    const method = g.id(g.pick(["evict", "touch", "scan", "prune"]));
    lines.push(
      ``,
      `  ${method}(predicate: (row: T) => boolean): number {`,
      `    let removed = 0;`,
      `    for (const [key, row] of this.rows) {`,
      `      if (!predicate(row)) continue;`,
      `      this.rows.delete(key);`,
      `      removed++;`,
      `    }`,
      `    return removed;`,
      `  }`,
    );
  }
  lines.push(`}`, ``);
  return lines.join("\n");
}

function constantsBlock(g: Gen): string {
  const name = g.id(`${g.pick(DOMAINS).toUpperCase()}_LIMITS`);
  const entries = g.int(3, 8);
  const lines = [`export const ${name} = {`];
  for (let i = 0; i < entries; i++) {
    lines.push(`  ${g.id(g.pick(FIELDS))}: ${g.int(1, 10_000)},`);
  }
  lines.push(`} as const satisfies Record<string, number>;`, ``);
  return lines.join("\n");
}

function ordinaryBlock(g: Gen, mention: boolean): string {
  switch (g.int(0, 6)) {
    case 0:
    case 1:
      return interfaceBlock(g, mention);
    case 2:
      return typeAliasBlock(g);
    case 3:
      return enumBlock(g);
    case 4:
      return functionBlock(g, mention);
    case 5:
      return classBlock(g, mention);
    default:
      return constantsBlock(g);
  }
}

/** A step function definition; returns the code and the step's name. */
function stepBlock(g: Gen, mention: boolean): { code: string; name: string } {
  const domain = g.pick(DOMAINS);
  const name = g.id(`${g.pick(VERBS)}${cap(domain)}`);
  const field = g.pick(FIELDS.filter((f) => f !== "id"));
  const code = [
    mention
      ? `/** Step used by the ${domain} workflow. */`
      : `/** Talks to the ${domain} service. */`,
    `export const ${name} = fn(`,
    `  async (ctx: FunctionContext, id: string, amount = 0) => {`,
    `    const response = await fetch(\`https://api.example.com/${domain}/\${encodeURIComponent(id)}\`, {`,
    `      signal: ctx.signal,`,
    `      headers: { "idempotency-key": ctx.idempotencyKey },`,
    `    });`,
    `    if (!response.ok) throw new Error(\`${name} failed: \${response.status}\`);`,
    `    const body = (await response.json()) as { ${field}: number; status: string; items: { sku: string; qty: number; price: number }[] };`,
    `    return { id, ${field}: body.${field} + amount, status: body.status, items: body.items, total: amount, ok: true };`,
    `  },`,
    `  { retries: ${g.int(0, 5)} },`,
    `);`,
    ``,
  ].join("\n");
  return { code, name };
}

// ---------------------------------------------------------------------------------------
// Workflow bodies: const/let, expressions, if/else, return, `await ctx.step(…)` as a
// statement, an initializer or the right side of `x = …`; loops, switch, try and closures
// only where no ctx call is inside them. Every name is unique in its workflow, so no two
// blocks split by checkpoints declare the same one.

interface BodyState {
  readonly g: Gen;
  readonly steps: readonly string[];
  /** Values in scope (parameters and step results), innermost last. */
  readonly values: string[];
}

function stepCall(s: BodyState): string {
  const args = [`${s.g.pick(s.values)}.id`];
  if (s.g.chance(0.5)) args.push(`${s.g.pick(s.values)}.total ?? 0`);
  return `await ctx.step(${s.g.pick(s.steps)}, ${args.join(", ")})`;
}

function statements(s: BodyState, count: number, depth: number, indent: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(...statement(s, depth, indent));
  return out;
}

function statement(s: BodyState, depth: number, indent: string): string[] {
  const { g } = s;
  const value = () => g.pick(s.values);
  switch (g.int(0, 11)) {
    case 0:
    case 1:
    case 2: {
      const name = g.id(g.pick(["result", "record", "row", "reply"]));
      const line = `${indent}const ${name} = ${stepCall(s)};`;
      s.values.push(name);
      return [line];
    }
    case 3:
      return [`${indent}${stepCall(s)};`];
    case 4: {
      const name = g.id("latest");
      const line = `${indent}let ${name}: { id: string; total?: number; status?: string } = { id: ${value()}.id };`;
      const condition = `${value()}.status !== "fresh"`;
      const assign = `${indent}  ${name} = ${stepCall(s)};`;
      s.values.push(name);
      return [line, `${indent}if (${condition}) {`, assign, `${indent}}`];
    }
    case 5: {
      const name = g.id("amount");
      return [
        `${indent}const ${name} = Math.max(0, (${value()}.total ?? 0) * ${g.int(2, 9)} - ${g.int(1, 99)});`,
      ];
    }
    case 6:
      return [
        `${indent}log.info("${g.pick(VERBS)} done", { runId: ctx.runId, id: ${value()}.id, total: ${value()}.total });`,
      ];
    case 7: {
      if (depth >= 2) return [`${indent}${stepCall(s)};`];
      const inner = depth + 1;
      const saved = s.values.length;
      const then = statements(s, g.int(1, 3), inner, `${indent}  `);
      s.values.length = saved;
      const lines = [
        `${indent}if (${value()}.status === "${g.pick(["open", "pending", "ok"])}") {`,
        ...then,
      ];
      if (g.chance(0.6)) {
        const otherwise = statements(s, g.int(1, 3), inner, `${indent}  `);
        s.values.length = saved;
        lines.push(`${indent}} else {`, ...otherwise);
      }
      lines.push(`${indent}}`);
      return lines;
    }
    case 8:
      return [
        `${indent}if (!${value()}.ok) return { ok: false, id: ${value()}.id, reason: "${g.pick(VERBS)} rejected" };`,
      ];
    case 9: {
      const name = g.id("sum");
      return [
        `${indent}let ${name} = 0;`,
        `${indent}for (const item of ${value()}.items ?? []) {`,
        `${indent}  if (item.qty > 0) ${name} += item.qty * item.price;`,
        `${indent}}`,
        `${indent}log.debug("subtotal", ${name});`,
      ];
    }
    case 10: {
      const name = g.id("skus");
      return [
        `${indent}const ${name} = (${value()}.items ?? []).filter((item: { qty: number }) => item.qty > 0).map((item: { sku: string }) => item.sku.toUpperCase());`,
        `${indent}log.debug("skus", ${name}.join(","));`,
      ];
    }
    default: {
      const name = g.id("tier");
      return [
        `${indent}let ${name} = "basic";`,
        `${indent}switch (${value()}.status) {`,
        `${indent}  case "gold":`,
        `${indent}    ${name} = "gold";`,
        `${indent}    break;`,
        `${indent}  default:`,
        `${indent}    ${name} = (${value()}.total ?? 0) > ${g.int(100, 900)} ? "silver" : "basic";`,
        `${indent}}`,
      ];
    }
  }
}

function workflowBlock(g: Gen, steps: readonly string[]): { code: string; name: string } {
  const domain = g.pick(DOMAINS);
  const name = g.id(`${domain}${cap(g.pick(VERBS))}Workflow`);
  const input = g.id("input");
  const s: BodyState = { g, steps, values: [input] };
  // 4–29 statements before the final return, skewed short (median 10): most real ones are.
  const body = statements(s, 4 + Math.floor(26 * g.unit() ** 2), 0, "  ");
  const last = s.values[s.values.length - 1];
  const options = g.chance(0.3) ? `{ version: "${g.int(1, 4)}" }, ` : "";
  const code = [
    `/** Durable ${domain} process. */`,
    `export const ${name} = workflow(${options}async (ctx: WorkflowContext, ${input}: FlowInput) => {`,
    ...body,
    `  return { ok: true, id: ${input}.id, last: ${last}.id };`,
    `});`,
    ``,
  ].join("\n");
  return { code, name };
}

function workflowModule(g: Gen, index: number): WorkflowFile {
  // Steps and workflows alone take 2–10 KB; ordinary code fills the file up to 3–14 KB.
  const target = g.int(3, 14) * 1024;
  const parts: string[] = [
    `import { fn, type FunctionContext, type WorkflowContext, workflow } from "ratchetjs";`,
    `import { log } from "../lib/log.js";`,
    ``,
    `export interface FlowInput {`,
    `  readonly id: string;`,
    `  readonly total?: number;`,
    `  readonly status?: string;`,
    `  readonly ok?: boolean;`,
    `  readonly items?: readonly { sku: string; qty: number; price: number }[];`,
    `}`,
    ``,
  ];
  const steps: string[] = [];
  const stepCount = g.int(2, 4);
  for (let i = 0; i < stepCount; i++) {
    const step = stepBlock(g, true);
    steps.push(step.name);
    parts.push(step.code);
  }
  const workflows: string[] = [];
  const count = g.int(2, 4);
  for (let i = 0; i < count; i++) {
    const wf = workflowBlock(g, steps);
    workflows.push(wf.name);
    parts.push(wf.code);
  }
  while (parts.join("\n").length < target) parts.push(ordinaryBlock(g, g.chance(0.3)));
  return {
    filename: `src/workflows/flows-${index}.ts`,
    code: parts.join("\n"),
    workflows,
  };
}

function plainModule(g: Gen, index: number, kind: PlainKind): PlainFile {
  // Ordinary modules are smaller on average than workflow modules: 1–12 KB.
  const target = g.int(1, 12) * 1024;
  const parts: string[] = [];
  if (kind === "plain") {
    const mention = g.chance(0.25);
    parts.push(`import { readFile } from "node:fs/promises";`, ``);
    if (mention) parts.push(`// Shared by the billing workflow and the nightly batch job.`, ``);
    while (parts.join("\n").length < target) parts.push(ordinaryBlock(g, mention && g.chance(0.3)));
  } else if (kind === "ratchet-filtered") {
    // Step functions and types only; never the lower-case word the pre-filter looks for.
    parts.push(`import { fn, type FunctionContext, type Workflow } from "ratchetjs";`, ``);
    while (parts.join("\n").length < target) {
      parts.push(g.chance(0.4) ? stepBlock(g, false).code : ordinaryBlock(g, false));
    }
    parts.push(`export type Flows = readonly Workflow<[string], unknown>[];`, ``);
  } else if (g.chance(0.5)) {
    // The module that starts the engine: it names workflows but defines none.
    const flows = [g.id("orderWorkflow"), g.id("refundWorkflow"), g.id("reportWorkflow")];
    parts.push(
      `import { createEngine } from "ratchetjs";`,
      `import { sqlite } from "ratchetjs/adapters/sqlite";`,
      `import { ${flows.join(", ")} } from "./workflows/index.js";`,
      ``,
      `export const engine = createEngine({`,
      `  storage: sqlite({ path: process.env.DB_PATH ?? "ratchet.db" }),`,
      `  workflows: [${flows.join(", ")}],`,
      `});`,
      ``,
      `export async function startOrder(id: string) {`,
      `  return engine.start(${flows[0]}, [{ id }]);`,
      `}`,
      ``,
    );
    while (parts.join("\n").length < target) parts.push(ordinaryBlock(g, g.chance(0.3)));
  } else {
    // Step functions documented as used by a workflow.
    parts.push(`import { fn, type FunctionContext } from "ratchetjs";`, ``);
    while (parts.join("\n").length < target) {
      parts.push(g.chance(0.4) ? stepBlock(g, true).code : ordinaryBlock(g, g.chance(0.3)));
    }
  }
  return { filename: `src/${kind}/module-${index}.ts`, code: parts.join("\n"), kind };
}

/** The corpus for `options.seed`; the same seed gives the same text. */
export function generateCorpus(options: CorpusOptions): Corpus {
  const g = new Gen(options.seed);
  const workflowFiles: WorkflowFile[] = [];
  for (let i = 0; i < options.workflowFiles; i++) workflowFiles.push(workflowModule(g, i));
  const plainFiles: PlainFile[] = [];
  const kinds: [PlainKind, number][] = [
    ["plain", options.plain],
    ["ratchet-filtered", options.ratchetFiltered],
    ["ratchet-parsed", options.ratchetParsed],
  ];
  for (const [kind, count] of kinds) {
    for (let i = 0; i < count; i++) plainFiles.push(plainModule(g, plainFiles.length, kind));
  }
  return { workflowFiles, plainFiles };
}
