/**
 * `ratchetjs/vite`: compiles Ratchet workflows in a Vite build, the Vite dev server and Vitest.
 * docs/plugins.md has the whole setup.
 *
 * @example
 * ```js
 * // vite.config.ts
 * import { defineConfig } from "vite";
 * import ratchet from "ratchetjs/vite";
 *
 * export default defineConfig({ plugins: [ratchet()] });
 * ```
 *
 * @module
 */
import { ratchetUnplugin } from "./index.js";

export type { FilterPattern, RatchetPluginOptions } from "./types.js";

/** The Ratchet plugin for Vite: `ratchet(options?)`. */
export default ratchetUnplugin.vite;
