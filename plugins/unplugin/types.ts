/**
 * Options shared by every bundler entry of the Ratchet plugin (`ratchetjs/vite`, `ratchetjs/rollup`,
 * `ratchetjs/esbuild`, `ratchetjs/webpack`, `ratchetjs/rspack`).
 *
 * @module
 */

/**
 * Which modules a pattern selects: a regular expression tested against the module's absolute
 * path, or a picomatch glob (relative globs are resolved against the working directory).
 */
export type FilterPattern = string | RegExp | readonly (string | RegExp)[];

/** Options of the Ratchet bundler plugin. */
export interface RatchetPluginOptions {
  /**
   * The modules the plugin looks at. Default: `.ts`, `.tsx`, `.mts`, `.cts`, `.js`, `.jsx` and
   * `.mjs` files. Giving `include` replaces the default.
   */
  readonly include?: FilterPattern;
  /**
   * The modules the plugin never looks at, even when `include` selects them. Default: anything
   * under a `node_modules` folder. Giving `exclude` replaces the default.
   */
  readonly exclude?: FilterPattern;
  /**
   * Hand the bundler a source map of each compiled module, so stack traces and the bundle's own
   * map lead back to the workflow's source lines. Default `true`.
   */
  readonly sourceMap?: boolean;
  /**
   * Where compiled modules are cached across builds and processes, keyed by their content, the
   * options and the compiler's version; `false` keeps the cache in memory only. Default:
   * `node_modules/.cache/ratchet` of the project around the working directory.
   */
  readonly cacheDir?: string | false;
}
