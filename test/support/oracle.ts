import { transformSync } from "esbuild";
import {
  BatchError,
  createEngine,
  type FunctionContext,
  type Logger,
  stderrLogger,
  type Workflow,
  workflow,
} from "ratchetjs";
import { terminalStatuses } from "ratchetjs/adapters";
import { memory } from "ratchetjs/adapters/memory";
import { formatDiagnostic, transform } from "ratchetjs/compiler";
import { expect, it } from "vitest";
import { durable } from "./durable-store.js";
import { add, boom, callees, echo, FailingResource, Resource, stepLog } from "./steps.js";

/**
 * The compiler's oracle: the untransformed body, run as plain async code against an
 * in-memory `ctx`. A compiled workflow must give the same result or error and the same
 * sequence of step calls — uninterrupted, and crashed then resumed at every checkpoint.
 */

/** A workflow body to check: its parameters after `ctx`, its statements and its arguments. */
export interface OracleCase {
  readonly params: string;
  readonly body: string;
  readonly args: readonly unknown[];
  /**
   * How the body is written: an arrow function (the default), a function expression, or a
   * static `@workflow` method of a class (plain: the same method without the decorator).
   */
  readonly form?: "arrow" | "function" | "method";
  /** A TypeScript `this` parameter's type, written before `ctx` (function and method forms). */
  readonly thisType?: string;
  /**
   * Declarations of the module around the workflow (module constants such as a symbol or a
   * prototype the body reads), written once before both forms; its names must not be those
   * of another case loaded in the same module.
   */
  readonly prelude?: string;
}

/** How a run ended, in a form two runs can be compared by. */
export type Outcome =
  | { readonly ok: true; readonly value: unknown; readonly steps: string[] }
  | { readonly ok: false; readonly error: string; readonly steps: string[] };

type PlainBody = (ctx: unknown, ...args: unknown[]) => Promise<unknown>;

/** Both forms of a case: the untransformed function and the compiled workflow. */
export interface LoadedCase {
  readonly compiled: Workflow;
  readonly plain: PlainBody;
}

/** The module a batch of cases is compiled as; the compiler finds `workflow` by its import. */
const header = `import { workflow } from "ratchetjs";
import { add, echo, boom, Resource, FailingResource, callees } from "./steps.js";
`;

/** Load one case: the untransformed function and the compiled workflow. */
export async function load(c: OracleCase): Promise<LoadedCase> {
  return (await loadMany([c]))[0]!;
}

/**
 * Load many cases as ONE module (`plain_0`, `compiled_0`, `plain_1`, …; each workflow is
 * named after its binding), compiled by the compiler's `transform()` — the same the bundler
 * plugins call — without a source map, then evaluated with the test's own `workflow` and
 * steps (esbuild lowers what Node 20 does not parse, such as `using`). Going through Vite
 * instead cost twice the compile time: its own transforms of a 200 KB module on top. Fails
 * as a whole when any workflow in it does not compile.
 */
export async function loadMany(cases: readonly OracleCase[]): Promise<LoadedCase[]> {
  const parts = cases.map((c, i) => {
    const prelude = c.prelude === undefined ? "" : `${c.prelude}\n`;
    const head = `${c.thisType === undefined ? "" : `this: ${c.thisType}, `}ctx, ${c.params}`;
    if (c.form === "method") {
      return `${prelude}class Plain_${i} { static async run(${head}) {\n${c.body}\n} }
class Compiled_${i} { @workflow static async run(${head}) {\n${c.body}\n} }
export const plain_${i} = Plain_${i}.run;
export const compiled_${i} = Compiled_${i}.run;\n`;
    }
    const open = c.form === "function" ? `async function (${head}) {` : `async (${head}) => {`;
    return `${prelude}export const plain_${i} = ${open}\n${c.body}\n};
export const compiled_${i} = workflow(${open}\n${c.body}\n});\n`;
  });
  const out = transform(header + parts.join(""), { filename: "oracle.ts", sourceMap: false });
  const errors = out.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(errors.map(formatDiagnostic).join("\n"));
  if (!out.code.startsWith(header)) throw new Error("the compiler changed the module's imports");
  // The imports become the function's parameters; the exports, its result.
  const names = cases.flatMap((_, i) => [`plain_${i}`, `compiled_${i}`]);
  const body = out.code.slice(header.length).replace(/^export const /gm, "const ");
  const source = `function oracleModule(workflow, add, echo, boom, Resource, FailingResource, callees) {
"use strict";
${body}
return { ${names.join(", ")} };
}`;
  // TypeScript only when a case writes a type: generated programs are JavaScript, and the
  // TypeScript grammar reads some of it otherwise (`a < b > (c)` is a call with a type argument).
  const loader = cases.some((c) => c.thisType !== undefined) ? "ts" : "js";
  const js = transformSync(source, { loader, target: "node20" }).code;
  const make = new Function(`${js}\nreturn oracleModule;`)() as (
    ...imports: unknown[]
  ) => Record<string, unknown>;
  const module = make(workflow, add, echo, boom, Resource, FailingResource, callees);
  return cases.map((_, i) => ({
    plain: module[`plain_${i}`] as PlainBody,
    compiled: module[`compiled_${i}`] as Workflow,
  }));
}

function describeError(error: unknown): string {
  const e = error as Error;
  return `${e?.name}: ${e?.message}`;
}

/**
 * The engines' logger: the failures programs raise on purpose (a step that throws, its
 * retries exhausted) are what the oracle compares, not news; printing each one through the
 * test runner's console costs more than running the program. Anything else is printed.
 */
const quiet: Logger = {
  debug() {},
  info() {},
  warn(fields, message) {
    if (!/retries exhausted/.test(message)) stderrLogger.warn(fields, message);
  },
  error(fields, message) {
    if (!/retries exhausted/.test(message)) stderrLogger.error(fields, message);
  },
};

/** Run the untransformed body with a ctx whose `step` simply calls the function. */
export async function runPlain(body: PlainBody, args: readonly unknown[]): Promise<Outcome> {
  stepLog.length = 0;
  const ctx = {
    runId: "plain",
    workflowName: "plain",
    sessionId: undefined,
    async step(target: unknown, ...rest: unknown[]) {
      if (typeof target === "string") return await (rest[0] as () => unknown)();
      const fctx: FunctionContext = {
        runId: "plain",
        workflowName: "plain",
        attempt: 1,
        idempotencyKey: "plain",
        signal: new AbortController().signal,
      };
      return await (target as (c: FunctionContext, ...a: unknown[]) => unknown)(fctx, ...rest);
    },
    // The documented semantics, written plainly: all branches settle, then the first
    // failure in order is thrown.
    async parallel(...steps: Promise<unknown>[]) {
      const settled = await Promise.allSettled(steps);
      const failed = settled.find((s) => s.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
    },
    async gather(steps: Record<string, Promise<unknown>>) {
      const keys = Object.keys(steps);
      const values = await ctx.parallel(...keys.map((k) => steps[k]!));
      return Object.fromEntries(keys.map((k, i) => [k, values[i]]));
    },
    async batch(f: unknown, items: unknown[], options?: { maxConcurrency?: number }) {
      const results: { ok: boolean; value?: unknown; error?: unknown }[] = new Array(items.length);
      let next = 0;
      const worker = async () => {
        while (next < items.length) {
          const i = next++;
          try {
            results[i] = { ok: true, value: await ctx.step(f, items[i]) };
          } catch (error) {
            results[i] = { ok: false, error };
          }
        }
      };
      const limit = Math.min(options?.maxConcurrency ?? 10, items.length);
      await Promise.all(Array.from({ length: limit }, worker));
      const failedItems = results.filter((r) => !r.ok).length;
      return {
        results,
        stats: {
          totalItems: items.length,
          completedItems: items.length - failedItems,
          failedItems,
        },
      };
    },
    async map(f: unknown, items: unknown[], options?: { maxConcurrency?: number }) {
      const { results } = await ctx.batch(f, items, options);
      const failures = results.flatMap((r, index) => (r.ok ? [] : [{ index, error: r.error }]));
      if (failures.length > 0) throw new BatchError(failures, items.length);
      return results.map((r) => r.value);
    },
  };
  try {
    const value = await body(ctx, ...args);
    return { ok: true, value, steps: [...stepLog] };
  } catch (error) {
    return { ok: false, error: describeError(error), steps: [...stepLog] };
  }
}

/**
 * Run the compiled workflow; with `crashAfter` = k, the first engine stops right after its
 * k-th checkpoint commits (its memory is dropped: only the stored frame survives) and a
 * second engine resumes the run from storage.
 */
export async function runCompiled(
  workflow: Workflow,
  args: readonly unknown[],
  crashAfter?: number,
): Promise<Outcome & { checkpoints: number }> {
  stepLog.length = 0;
  let written = () => {};
  const storage = durable(memory(), () => written());
  let committed = 0;
  const first = createEngine({
    storage,
    workflows: [workflow],
    worker: { pollIntervalMs: 5 },
    logger: quiet,
    onCheckpoint: () => {
      committed++;
      if (committed === crashAfter) void first.close();
    },
  });
  const handle = await first.start(workflow, [...args] as never);
  let outcome: Outcome;
  try {
    const value = await handle.result();
    outcome = { ok: true, value, steps: [...stepLog] };
  } catch (error) {
    if (crashAfter !== undefined && committed === crashAfter) {
      const second = createEngine({
        storage,
        workflows: [workflow],
        worker: { pollIntervalMs: 5 },
        logger: quiet,
      });
      try {
        // result() backs off from 5 ms while the run is not yet executing here, and the run
        // usually ends sooner (one resumed run per checkpoint of every program is most of the
        // property test's time): look again each time a write that may end it settles.
        const deadline = performance.now() + 2000;
        while (performance.now() < deadline) {
          const wrote = new Promise<void>((resolve) => {
            written = resolve;
          });
          const stored = await storage.loadRun(handle.id);
          if (stored && terminalStatuses.has(stored.status)) break;
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([wrote, new Promise((resolve) => (timer = setTimeout(resolve, 5)))]);
          clearTimeout(timer);
        }
        const value = await (await second.get(handle.id)).result();
        outcome = { ok: true, value, steps: [...stepLog] };
      } catch (resumedError) {
        outcome = { ok: false, error: describeError(resumedError), steps: [...stepLog] };
      } finally {
        await second.close();
      }
    } else {
      outcome = { ok: false, error: describeError(error), steps: [...stepLog] };
    }
  } finally {
    await first.close();
  }
  return { ...outcome, checkpoints: committed };
}

/**
 * One test per case: the compiled workflow gives the plain body's outcome (`toStrictEqual`),
 * uninterrupted and crashed after each of its checkpoints.
 */
export function itMatchesPlain(cases: Readonly<Record<string, OracleCase>>): void {
  for (const [name, c] of Object.entries(cases)) {
    it(name, async () => {
      const { compiled, plain } = await load(c);
      const expected = await runPlain(plain, c.args);
      const { checkpoints, ...outcome } = await runCompiled(compiled, c.args);
      expect(outcome).toStrictEqual(expected);
      for (let k = 1; k <= checkpoints; k++) {
        const { checkpoints: _, ...resumed } = await runCompiled(compiled, c.args, k);
        expect(resumed, `crashed after checkpoint ${k} of ${checkpoints}`).toStrictEqual(expected);
      }
    });
  }
}
