/**
 * `ratchetjs/webpack`: compiles Ratchet workflows in a webpack build, before the loader that strips TypeScript.
 * docs/plugins.md has the whole setup.
 *
 * @example
 * ```js
 * // webpack.config.mjs
 * import ratchet from "ratchetjs/webpack";
 *
 * export default { plugins: [ratchet()], module: { rules: [{ test: /\.ts$/, loader: "swc-loader" }] } };
 * ```
 *
 * @module
 */
import { ratchetUnplugin } from "./index.js";

export type { FilterPattern, RatchetPluginOptions } from "./types.js";

/** The Ratchet plugin for webpack: `ratchet(options?)`. */
export default ratchetUnplugin.webpack;
