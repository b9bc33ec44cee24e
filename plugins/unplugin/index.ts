/**
 * The Ratchet bundler plugin: one unplugin factory that every bundler entry
 * (`ratchetjs/vite`, `ratchetjs/rollup`, `ratchetjs/esbuild`, `ratchetjs/webpack`, `ratchetjs/rspack`)
 * adapts in a few lines.
 *
 * It runs before the bundler's own TypeScript handling (`enforce: "pre"`): a module that may
 * define a workflow goes through the Ratchet compiler, which replaces each workflow with its
 * state machine and leaves the rest of the text as written; the bundler then strips its types
 * as for every other module. Results are cached by content (`../cache.ts`).
 *
 * @module
 */
import { createUnplugin, type UnpluginContext, type UnpluginFactory } from "unplugin";
import { formatDiagnostic } from "../../compiler/diagnostics.js";
import type { Diagnostic, TransformResult } from "../../compiler/index.js";
import { mayContainWorkflow } from "../../compiler/prefilter.js";
import { cachedTransform, defaultCacheDir } from "../cache.js";
import type { FilterPattern, RatchetPluginOptions } from "./types.js";

export type { FilterPattern, RatchetPluginOptions } from "./types.js";

/** The name the plugin goes by in every bundler's messages. */
export const pluginName = "ratchet";

const defaultInclude = /\.(?:[cm]?ts|tsx|jsx?|mjs)$/;
const defaultExclude = /[\\/]node_modules[\\/]/;
/** Every module that may define a workflow says this (it imports `workflow` from it). */
const workflowModuleMarker = "ratchetjs";

/**
 * The factory behind every entry. `unplugin`'s adapters turn its one `transform` hook into a
 * Vite/Rollup plugin hook, an esbuild `onLoad` callback, or a webpack/Rspack loader.
 */
export const ratchetPluginFactory: UnpluginFactory<RatchetPluginOptions | undefined, false> = (
  options = {},
) => {
  const sourceMap = options.sourceMap !== false;
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  return {
    name: pluginName,
    // See TypeScript before the bundler strips it; the compiler's output is the same language
    // as its input, which the bundler's own TypeScript handling then strips.
    enforce: "pre",
    transform: {
      // Rollup 4.40+, Vite and Rolldown test the filter themselves, so excluded modules never
      // reach this plugin; unplugin tests it for the other bundlers. The code filter is the
      // pre-filter's first test: Vite (Rolldown) runs it natively, so a module that never says
      // `ratchetjs` is not even handed to JavaScript.
      filter: {
        id: {
          include: toArray(options.include ?? defaultInclude),
          exclude: toArray(options.exclude ?? defaultExclude),
        },
        code: { include: [workflowModuleMarker] },
      },
      async handler(code, id) {
        if (!mayContainWorkflow(code)) return null;
        const result = await cachedTransform(
          code,
          { filename: id, sourceMap },
          cacheDir,
          "The Ratchet bundler plugin",
        );
        report(this, id, result);
        if (result.workflows.length === 0) return null;
        return { code: result.code, map: result.map };
      },
    },
  };
};

/**
 * Hands the compiler's diagnostics to the bundler: each warning as the bundler's own warning,
 * and the errors as one build error listing them all (Rollup and Vite stop at the first
 * `this.error`), located at the first so code frames and editors point at it.
 */
function report(context: UnpluginContext, id: string, result: TransformResult): void {
  const errors: Diagnostic[] = [];
  for (const diagnostic of result.diagnostics) {
    if (diagnostic.severity === "error") errors.push(diagnostic);
    else context.warn({ message: formatDiagnostic(diagnostic), id, loc: location(diagnostic) });
  }
  const [first] = errors;
  if (first === undefined) return;
  const count = errors.length === 1 ? "1 workflow error" : `${errors.length} workflow errors`;
  context.error({
    message: `${id} has ${count}:\n${errors.map(formatDiagnostic).join("\n")}`,
    id,
    loc: location(first),
  });
}

/** Bundlers take a 1-based line and a 0-based column, as Rollup and esbuild do. */
function location(diagnostic: Diagnostic): { file: string; line: number; column: number } {
  return { file: diagnostic.file, line: diagnostic.line, column: diagnostic.column - 1 };
}

function toArray(pattern: FilterPattern): (string | RegExp)[] {
  return typeof pattern === "string" || pattern instanceof RegExp ? [pattern] : [...pattern];
}

/** The plugin for every bundler `unplugin` supports; the `ratchet/<bundler>` entries use it. */
export const ratchetUnplugin = createUnplugin(ratchetPluginFactory);
