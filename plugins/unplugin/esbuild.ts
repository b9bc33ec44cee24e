/**
 * `ratchetjs/esbuild`: compiles Ratchet workflows in an esbuild build.
 * docs/plugins.md has the whole setup.
 *
 * An esbuild plugin of its own rather than unplugin's adapter, for speed: esbuild hands a file
 * to a JavaScript `onLoad` only when the callback's path filter (a Go regular expression)
 * matches, so the filter is the default `include` whenever it can be, and a file the pre-filter
 * rejects is read once here and then left to esbuild (`undefined`), which loads it natively.
 * Options and behaviour are those of the other entries.
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
import { readFileSync } from "node:fs";
import { dirname, extname } from "node:path";
import type { Loader, OnLoadResult, PartialMessage, Plugin } from "esbuild";
import {
  compileModule,
  defaultInclude,
  type PluginMessage,
  pluginName,
  resolveSettings,
} from "./compile-module.js";
import { createIdFilter } from "./id-filter.js";
import type { RatchetPluginOptions } from "./types.js";

export type { FilterPattern, RatchetPluginOptions } from "./types.js";

const loaders: Readonly<Record<string, Loader>> = {
  ".js": "js",
  ".mjs": "js",
  ".cjs": "js",
  ".jsx": "jsx",
  ".ts": "ts",
  ".cts": "ts",
  ".mts": "ts",
  ".tsx": "tsx",
};

/** The Ratchet plugin for esbuild: `ratchet(options?)`. */
export default function ratchet(options: RatchetPluginOptions = {}): Plugin {
  const settings = resolveSettings(options);
  return {
    name: pluginName,
    setup(build) {
      const accepts = createIdFilter(settings.include, settings.exclude);
      // esbuild tests this filter in Go: with the default `include`, no other file (CSS, JSON,
      // …) is handed to JavaScript. A user's `include` may be a glob or a JavaScript regular
      // expression esbuild cannot run, so it is tested here instead.
      const filter = settings.defaultInclude ? defaultInclude : /.*/;
      build.onLoad(
        { filter, namespace: "file" },
        async (args): Promise<OnLoadResult | undefined> => {
          const id = args.path + (args.suffix ?? "");
          if (!accepts(id)) return undefined;
          let code: string;
          try {
            code = readFileSync(args.path, "utf8");
          } catch {
            // Not a readable file: esbuild's own loading reports it.
            return undefined;
          }
          const compiled = await compileModule(code, id, settings);
          if (
            compiled.output === null &&
            compiled.error === undefined &&
            compiled.warnings.length === 0
          ) {
            return undefined;
          }
          let contents = compiled.output?.code ?? code;
          const map = compiled.output?.map;
          if (map) {
            const encoded = Buffer.from(JSON.stringify(map)).toString("base64");
            contents += `\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${encoded}`;
          }
          return {
            contents,
            loader: loaders[extname(args.path).toLowerCase()] ?? "js",
            resolveDir: dirname(args.path),
            warnings: compiled.warnings.map(esbuildMessage),
            errors: compiled.error ? [esbuildMessage(compiled.error)] : [],
          };
        },
      );
    },
  };
}

function esbuildMessage(message: PluginMessage): PartialMessage {
  return { text: message.message, location: message.loc };
}
