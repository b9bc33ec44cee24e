/**
 * The Ratchet bundler plugin for the bundlers reached through unplugin: one factory that the
 * Rollup, webpack and Rspack entries (`ratchetjs/rollup`, `ratchetjs/webpack`,
 * `ratchetjs/rspack`) adapt in a few lines. The plugin itself (`./compile-module.ts`) is a
 * Vite/Rollup plugin, which `ratchetjs/vite` hands to Vite as it is; `ratchetjs/esbuild`
 * (`./esbuild.ts`) wraps the same per-module work in an esbuild plugin.
 *
 * It runs before the bundler's own TypeScript handling (`enforce: "pre"`): a module that may
 * define a workflow goes through the Ratchet compiler, which replaces each workflow with its
 * state machine and leaves the rest of the text as written; the bundler then strips its types
 * as for every other module. Results are cached by content (`../cache.ts`).
 *
 * @module
 */
import { createUnplugin, type UnpluginFactory } from "unplugin";
import { createTransformPlugin } from "./compile-module.js";
import type { RatchetPluginOptions } from "./types.js";

export { pluginName } from "./compile-module.js";
export type { FilterPattern, RatchetPluginOptions } from "./types.js";

/**
 * The factory behind the unplugin entries. `unplugin`'s adapters turn its one `transform` hook
 * into a Rollup plugin hook or a webpack/Rspack loader.
 */
export const ratchetPluginFactory: UnpluginFactory<RatchetPluginOptions | undefined, false> = (
  options = {},
) => createTransformPlugin(options);

/** The plugin for every bundler `unplugin` supports; the `ratchet/<bundler>` entries use it. */
export const ratchetUnplugin = createUnplugin(ratchetPluginFactory);
