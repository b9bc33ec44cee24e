/**
 * `ratchetjs/esbuild`: compiles Ratchet workflows in an esbuild build.
 * docs/plugins.md has the whole setup.
 *
 * @example
 * ```js
 * import { build } from "esbuild";
 * import ratchet from "ratchetjs/esbuild";
 *
 * await build({ entryPoints: ["src/main.ts"], bundle: true, plugins: [ratchet()] });
 * ```
 *
 * @module
 */
import { ratchetUnplugin } from "./index.js";

export type { FilterPattern, RatchetPluginOptions } from "./types.js";

/** The Ratchet plugin for esbuild: `ratchet(options?)`. */
export default ratchetUnplugin.esbuild;
