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
import { createTransformPlugin, type TransformPlugin } from "./compile-module.js";
import type { RatchetPluginOptions } from "./types.js";

export type { FilterPattern, RatchetPluginOptions } from "./types.js";

/**
 * The Ratchet plugin for Vite: `ratchet(options?)`. Vite takes the plugin as it is (the shape
 * unplugin's Vite adapter would hand over), so a `vite build` does not load unplugin.
 */
export default function ratchet(options?: RatchetPluginOptions): TransformPlugin {
  return createTransformPlugin(options);
}
