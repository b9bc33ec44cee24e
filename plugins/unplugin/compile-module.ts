/**
 * What every bundler entry does with one module, whichever way the bundler hands it over:
 * the options resolved once, the pre-filter, the compile cache, and the compiler's diagnostics
 * turned into the bundler's warnings and error; and the plugin in the shape Vite and Rollup
 * take, which is also what the unplugin factory returns. It imports neither `unplugin` nor
 * TypeScript, so an entry that does not need them (`ratchetjs/vite`, `ratchetjs/esbuild`)
 * loads neither.
 *
 * @module
 */
import { formatDiagnostic } from "../../compiler/diagnostics.js";
import type { Diagnostic, SourceMapJson, TransformResult } from "../../compiler/index.js";
import { mayContainWorkflow } from "../../compiler/prefilter.js";
import { type CacheDir, cachedTransform, defaultCacheDir, sourceMapText } from "../cache.js";
import { createIdFilter } from "./id-filter.js";
import type { FilterPattern, RatchetPluginOptions } from "./types.js";

/** The name the plugin goes by in every bundler's messages. */
export const pluginName = "ratchet";

/** The modules the plugin looks at unless `include` says otherwise. */
export const defaultInclude = /\.(?:[cm]?ts|tsx|jsx?|mjs)$/;
/** The modules it never looks at unless `exclude` says otherwise. */
export const defaultExclude = /[\\/]node_modules[\\/]/;
/** Every module that may define a workflow says this (it imports `workflow` from it). */
export const workflowModuleMarker = "ratchetjs";

/** The plugin's options with their defaults applied. */
export interface PluginSettings {
  readonly include: readonly (string | RegExp)[];
  readonly exclude: readonly (string | RegExp)[];
  /** Whether `include` is the default (a filter a bundler can test natively). */
  readonly defaultInclude: boolean;
  readonly sourceMap: boolean;
  readonly cacheDir: CacheDir;
}

/** Apply the defaults to the options a user passed to an entry. */
export function resolveSettings(options: RatchetPluginOptions = {}): PluginSettings {
  return {
    include: toArray(options.include ?? defaultInclude),
    exclude: toArray(options.exclude ?? defaultExclude),
    defaultInclude: options.include === undefined,
    sourceMap: options.sourceMap !== false,
    cacheDir: options.cacheDir ?? defaultCacheDir(),
  };
}

/** What a Vite or Rollup plugin context (and unplugin's) offers the transform hook. */
export interface PluginContext {
  warn(message: PluginMessage): void;
  error(message: PluginMessage): void;
}

/** The Ratchet plugin as Vite and Rollup take it (and as the unplugin factory returns it). */
export interface TransformPlugin {
  readonly name: string;
  readonly enforce: "pre";
  readonly transform: {
    readonly filter: {
      readonly id: { include: (string | RegExp)[]; exclude: (string | RegExp)[] };
      readonly code: { include: string[] };
    };
    handler(
      this: PluginContext,
      code: string,
      id: string,
    ): Promise<{ code: string; map: SourceMapJson | null } | null>;
  };
}

/**
 * The plugin's one hook: `transform`, before the bundler's own TypeScript handling
 * (`enforce: "pre"`), since the compiler's output is the same language as its input, which
 * the bundler then strips.
 */
export function createTransformPlugin(options: RatchetPluginOptions = {}): TransformPlugin {
  const settings = resolveSettings(options);
  let accepts: ((id: string) => boolean) | undefined;
  return {
    name: pluginName,
    enforce: "pre",
    transform: {
      // Rollup 4.40+, Vite and Rolldown test the filter themselves, so excluded modules never
      // reach the handler; unplugin tests it for the other bundlers. The code filter is the
      // pre-filter's first test: Vite (Rolldown) runs it natively, so a module that never says
      // `ratchetjs` is not even handed to JavaScript.
      filter: {
        id: { include: [...settings.include], exclude: [...settings.exclude] },
        code: { include: [workflowModuleMarker] },
      },
      async handler(code, id) {
        // A host that ignores `filter` (Vite before 6.3) still keeps to include and exclude;
        // for the others this repeats a few regular expression tests on the modules that
        // passed the pre-filter.
        if (!mayContainWorkflow(code)) return null;
        accepts ??= createIdFilter(settings.include, settings.exclude);
        if (!accepts(id)) return null;
        const compiled = await compileModule(code, id, settings);
        for (const warning of compiled.warnings) this.warn(warning);
        if (compiled.error) this.error(compiled.error);
        return compiled.output;
      },
    },
  };
}

/** A warning or error for the bundler, in the shape Rollup's `this.warn`/`this.error` take. */
export interface PluginMessage {
  readonly message: string;
  readonly id: string;
  /** A 1-based line and a 0-based column, as Rollup and esbuild count. */
  readonly loc: { readonly file: string; readonly line: number; readonly column: number };
}

/** What the plugin makes of one module. */
export interface CompiledModule {
  /** The module with its workflows compiled, or `null` to leave it to the bundler as it is. */
  readonly output: { readonly code: string; readonly map: SourceMapJson | null } | null;
  /**
   * The JSON text of `output.map` (`null` without one), for a bundler that takes a map as text:
   * a map read from the compile cache is then never parsed.
   */
  sourceMapText(): string | null;
  readonly warnings: readonly PluginMessage[];
  /** Every error of the module in one message, located at the first; the build must fail. */
  readonly error: PluginMessage | undefined;
}

const untouched: CompiledModule = {
  output: null,
  sourceMapText: () => null,
  warnings: [],
  error: undefined,
};

/**
 * Compile the workflows of the module `id` (served from the compile cache when the same text
 * was compiled before). A module the pre-filter rejects costs a few substring searches.
 */
export async function compileModule(
  code: string,
  id: string,
  settings: PluginSettings,
): Promise<CompiledModule> {
  if (!mayContainWorkflow(code)) return untouched;
  const result = await cachedTransform(
    code,
    { filename: id, sourceMap: settings.sourceMap },
    settings.cacheDir,
    "The Ratchet bundler plugin",
  );
  if (result.diagnostics.length === 0 && result.workflows.length === 0) return untouched;
  if (result.workflows.length === 0) {
    return { output: null, sourceMapText: () => null, ...messages(id, result) };
  }
  return {
    // The map read when the bundler reads it: a result from the cache parses it then.
    output: {
      code: result.code,
      get map() {
        return result.map;
      },
    },
    sourceMapText: () => sourceMapText(result),
    ...messages(id, result),
  };
}

/**
 * Each warning as the bundler's own warning, and the errors as one build error listing them
 * all (Rollup and Vite stop at the first `this.error`), located at the first so code frames
 * and editors point at it.
 */
function messages(
  id: string,
  result: TransformResult,
): { warnings: PluginMessage[]; error: PluginMessage | undefined } {
  const warnings: PluginMessage[] = [];
  const errors: Diagnostic[] = [];
  for (const diagnostic of result.diagnostics) {
    if (diagnostic.severity === "error") errors.push(diagnostic);
    else warnings.push({ message: formatDiagnostic(diagnostic), id, loc: location(diagnostic) });
  }
  const [first] = errors;
  if (first === undefined) return { warnings, error: undefined };
  const count = errors.length === 1 ? "1 workflow error" : `${errors.length} workflow errors`;
  const message = `${id} has ${count}:\n${errors.map(formatDiagnostic).join("\n")}`;
  return { warnings, error: { message, id, loc: location(first) } };
}

/** Bundlers take a 1-based line and a 0-based column, as Rollup and esbuild do. */
function location(diagnostic: Diagnostic): PluginMessage["loc"] {
  return { file: diagnostic.file, line: diagnostic.line, column: diagnostic.column - 1 };
}

function toArray(pattern: FilterPattern): (string | RegExp)[] {
  return typeof pattern === "string" || pattern instanceof RegExp ? [pattern] : [...pattern];
}
