/**
 * `ratchetjs/rollup`: compiles Ratchet workflows in a Rollup build, before the plugin that strips TypeScript.
 * docs/plugins.md has the whole setup.
 *
 * @example
 * ```js
 * // rollup.config.mjs
 * import swc from "@rollup/plugin-swc";
 * import ratchet from "ratchetjs/rollup";
 *
 * export default { input: "src/main.ts", plugins: [ratchet(), swc()] };
 * ```
 *
 * @module
 */
import { ratchetUnplugin } from "./index.js";

export type { FilterPattern, RatchetPluginOptions } from "./types.js";

/** The Ratchet plugin for Rollup: `ratchet(options?)`. */
export default ratchetUnplugin.rollup;
