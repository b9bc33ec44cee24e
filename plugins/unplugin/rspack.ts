/**
 * `ratchetjs/rspack`: compiles Ratchet workflows in an Rspack build, before its `builtin:swc-loader`.
 * docs/plugins.md has the whole setup.
 *
 * @example
 * ```js
 * // rspack.config.mjs
 * import ratchet from "ratchetjs/rspack";
 *
 * export default { plugins: [ratchet()], module: { rules: [{ test: /\.ts$/, loader: "builtin:swc-loader" }] } };
 * ```
 *
 * @module
 */
import { ratchetUnplugin } from "./index.js";

export type { FilterPattern, RatchetPluginOptions } from "./types.js";

/** The Ratchet plugin for Rspack: `ratchet(options?)`. */
export default ratchetUnplugin.rspack;
