/**
 * The plugin benchmark's app, generated on disk (in a temporary folder) the same way on every
 * run: 200 TypeScript modules that import one another, of which 20 define workflows.
 *
 * - 160 library modules (`src/lib/lib-N.ts`): an enum, interfaces, a type alias, functions with
 *   loops and a `switch`, a generic class, a `satisfies` constant; each imports two earlier
 *   ones. Every fourth says "workflow" in a comment; none mentions `ratchet`, so the pre-filter
 *   rejects them all without a parse.
 * - 20 step modules (`src/steps/steps-N.ts`): durable functions (`fn(…)` from `ratchetjs`), said
 *   in a comment to be used by a workflow; they do not import `workflow`, so the pre-filter
 *   rejects them unparsed (Vite's native code filter lets them through: they say `ratchetjs`).
 * - 20 workflow modules (`src/flows/flow-N.ts`): three workflows each, of 4–6 checkpoints
 *   among `if`/`else`, a `for…of` loop with a step inside and a `try`/`catch` around one.
 *
 * Two entries: `src/main.ts` imports all 200 modules; `src/plain.ts` imports only the 180
 * without workflows.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";

export const LIB_MODULES = 160;
export const STEP_MODULES = 20;
export const FLOW_MODULES = 20;
export const WORKFLOWS_PER_FLOW = 3;

/** Where the generated app lives, and its two entries. */
export interface PluginApp {
  readonly root: string;
  /** Imports all 200 modules. */
  readonly entryAll: string;
  /** Imports the 180 modules without workflows. */
  readonly entryPlain: string;
  readonly modules: number;
  readonly workflowModules: number;
  readonly workflows: number;
  readonly bytes: number;
}

function libModule(i: number): string {
  const imports =
    i === 0
      ? []
      : [...new Set([i - 1, Math.floor(i / 2)])].map(
          (j) => `import { type Shape${j}, scale${j}, Kind${j} } from "./lib-${j}";`,
        );
  const uses =
    i === 0
      ? "values"
      : [...new Set([i - 1, Math.floor(i / 2)])].reduce(
          (expression, j) => `scale${j}(${expression}, Kind${j}.B.length)`,
          "values",
        );
  const mentions = i % 4 === 0 ? "\n// Shared by the order workflow and the reports.\n" : "\n";
  return `${imports.join("\n")}${mentions}
export enum Kind${i} {
  A = "a${i}",
  B = "bb${i}",
  C = "ccc${i}",
}

export interface Record${i} {
  readonly id: string;
  kind: Kind${i};
  values: number[];
  meta?: Record<string, string>;
}

export type Shape${i} = Pick<Record${i}, "id" | "values">;

export const defaults${i} = { kind: Kind${i}.A, values: [${i}, ${i + 1}, ${i + 2}] } satisfies Partial<Record${i}>;

export function scale${i}(values: readonly number[], factor: number): number[] {
  const out: number[] = [];
  for (const value of values) out.push(value * factor + ${i % 7});
  return out;
}

export function normalize${i}(shape: Shape${i}): Shape${i} {
  const values = ${uses};
  const max = values.reduce((a: number, b: number) => Math.max(a, b), 1);
  return { id: shape.id.trim().toLowerCase(), values: values.map((v: number) => v / max) };
}

export function label${i}(record: Record${i}): string {
  switch (record.kind) {
    case Kind${i}.A:
      return \`A:\${record.id}\`;
    case Kind${i}.B:
      return \`B:\${record.id}:\${record.values.length}\`;
    default:
      return \`C:\${record.id}:\${record.meta?.source ?? "none"}\`;
  }
}

export function summarize${i}(records: readonly Record${i}[]): { count: number; total: number; labels: string[] } {
  let total = 0;
  const labels: string[] = [];
  for (const record of records) {
    for (const value of record.values) total += value;
    if (record.values.length > ${i % 5}) labels.push(label${i}(record));
  }
  return { count: records.length, total, labels };
}

export class Store${i}<T extends { readonly id: string }> {
  readonly #items = new Map<string, T>();

  put(item: T): this {
    this.#items.set(item.id, item);
    return this;
  }

  get(id: string): T | undefined {
    return this.#items.get(id);
  }

  where(predicate: (item: T) => boolean): T[] {
    return [...this.#items.values()].filter(predicate);
  }

  get size(): number {
    return this.#items.size;
  }
}
`;
}

function stepModule(i: number): string {
  const lib = (i * 7) % LIB_MODULES;
  return `import { fn, type FunctionContext } from "ratchetjs";
import { type Record${lib}, summarize${lib} } from "../lib/lib-${lib}";

// The durable steps of the flow-${i} workflows.

export interface Quote${i} {
  readonly id: string;
  readonly total: number;
  readonly lines: number;
}

export const load${i} = fn(async (ctx: FunctionContext, id: string): Promise<Record${lib}[]> => {
  const response = await fetch(\`https://api.example.com/records/\${encodeURIComponent(id)}\`, {
    headers: { "idempotency-key": ctx.idempotencyKey },
  });
  if (!response.ok) throw new Error(\`load${i} failed: \${response.status}\`);
  return (await response.json()) as Record${lib}[];
});

export const quote${i} = fn(async (_ctx: FunctionContext, id: string, records: Record${lib}[]): Promise<Quote${i}> => {
  const summary = summarize${lib}(records);
  return { id, total: summary.total, lines: summary.count };
});

export const charge${i} = fn(
  async (ctx: FunctionContext, id: string, amount: number) => ({ id, amount, chargeId: \`ch_\${ctx.idempotencyKey}\` }),
  { retries: { max: 3, backoff: "exponential" }, timeout: "30s" },
);

export const notify${i} = fn(async (_ctx: FunctionContext, id: string, message: string): Promise<boolean> => {
  return message.length > 0 && id.length > 0;
});
`;
}

function flowModule(i: number): string {
  const lib = (i * 11 + 3) % LIB_MODULES;
  const workflows: string[] = [];
  for (let w = 0; w < WORKFLOWS_PER_FLOW; w++) {
    const name = `flow${i}_${w}`;
    workflows.push(`export const ${name} = workflow(async (ctx: WorkflowContext, input: FlowInput${i}) => {
  const records = await ctx.step(load${i}, input.id);
  const quote = await ctx.step(quote${i}, input.id, records);
  if (quote.total <= ${w}) {
    await ctx.step(notify${i}, input.id, "nothing to charge");
    return { id: input.id, status: "empty" as const, charged: 0 };
  }
  const shape = normalize${lib}({ id: input.id, values: records.flatMap((r) => r.values) });
  let charged = 0;
  for (const part of input.parts ?? [quote.total]) {
    const charge = await ctx.step(charge${i}, input.id, part + shape.values.length);
    charged += charge.amount;
  }
  let notified = false;
  try {
    notified = await ctx.step(notify${i}, input.id, \`charged \${charged}\`);
  } catch {
    notified = false;
  }
  return { id: input.id, status: notified ? ("done" as const) : ("quiet" as const), charged } satisfies FlowResult${i};
});`);
  }
  return `import { type WorkflowContext, workflow } from "ratchetjs";
import { normalize${lib} } from "../lib/lib-${lib}";
import { charge${i}, load${i}, notify${i}, quote${i} } from "../steps/steps-${i}";

interface FlowInput${i} {
  readonly id: string;
  readonly parts?: number[];
}

interface FlowResult${i} {
  id: string;
  status: "empty" | "done" | "quiet";
  charged: number;
}

${workflows.join("\n\n")}
`;
}

function entry(modules: readonly string[]): string {
  const lines = modules.map((m, i) => `import * as m${i} from "${m}";`);
  lines.push("", `export const modules = [${modules.map((_, i) => `m${i}`).join(", ")}];`, "");
  return lines.join("\n");
}

/** Write the app under `dir` (emptied first). */
export async function writePluginApp(dir: string): Promise<PluginApp> {
  await rm(dir, { recursive: true, force: true });
  const files = new Map<string, string>();
  for (let i = 0; i < LIB_MODULES; i++) files.set(`src/lib/lib-${i}.ts`, libModule(i));
  for (let i = 0; i < STEP_MODULES; i++) files.set(`src/steps/steps-${i}.ts`, stepModule(i));
  for (let i = 0; i < FLOW_MODULES; i++) files.set(`src/flows/flow-${i}.ts`, flowModule(i));
  const specifier = (file: string) => `./${file.slice("src/".length, -".ts".length)}`;
  const all = [...files.keys()];
  const plain = all.filter((file) => !file.startsWith("src/flows/"));
  files.set("src/main.ts", entry(all.map(specifier)));
  files.set("src/plain.ts", entry(plain.map(specifier)));

  let bytes = 0;
  for (const [name, text] of files) {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
    bytes += Buffer.byteLength(text);
  }
  return {
    root: dir,
    entryAll: path.join(dir, "src/main.ts"),
    entryPlain: path.join(dir, "src/plain.ts"),
    modules: all.length,
    workflowModules: FLOW_MODULES,
    workflows: FLOW_MODULES * WORKFLOWS_PER_FLOW,
    bytes,
  };
}
