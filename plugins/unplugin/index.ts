/**
 * The Ratchet bundler plugin: one unplugin factory that the Vite, Rollup, webpack and Rspack
 * entries (`ratchetjs/vite`, `ratchetjs/rollup`, `ratchetjs/webpack`, `ratchetjs/rspack`) adapt
 * in a few lines; `ratchetjs/esbuild` (`./esbuild.ts`) is an esbuild plugin of its own around
 * the same per-module work (`./compile-module.ts`).
 *
 * It runs before the bundler's own TypeScript handling (`enforce: "pre"`): a module that may
 * define a workflow goes through the Ratchet compiler, which replaces each workflow with its
 * state machine and leaves the rest of the text as written; the bundler then strips its types
 * as for every other module. Results are cached by content (`../cache.ts`).
 *
 * @module
 */
import { createUnplugin, type UnpluginFactory } from "unplugin";
import {
  compileModule,
  pluginName,
  resolveSettings,
  workflowModuleMarker,
} from "./compile-module.js";
import type { RatchetPluginOptions } from "./types.js";

export { pluginName } from "./compile-module.js";
export type { FilterPattern, RatchetPluginOptions } from "./types.js";

/**
 * The factory behind the unplugin entries. `unplugin`'s adapters turn its one `transform` hook
 * into a Vite/Rollup plugin hook or a webpack/Rspack loader.
 */
export const ratchetPluginFactory: UnpluginFactory<RatchetPluginOptions | undefined, false> = (
  options = {},
) => {
  const settings = resolveSettings(options);
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
        id: { include: [...settings.include], exclude: [...settings.exclude] },
        code: { include: [workflowModuleMarker] },
      },
      async handler(code, id) {
        const compiled = await compileModule(code, id, settings);
        for (const warning of compiled.warnings) this.warn(warning);
        if (compiled.error) this.error(compiled.error);
        return compiled.output;
      },
    },
  };
};

/** The plugin for every bundler `unplugin` supports; the `ratchet/<bundler>` entries use it. */
export const ratchetUnplugin = createUnplugin(ratchetPluginFactory);
