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
import { closeSync, openSync, readSync } from "node:fs";
import { dirname, extname } from "node:path";
import type { Loader, OnLoadResult, PartialMessage, Plugin } from "esbuild";
import { mayContainWorkflow } from "../../compiler/prefilter.js";
import {
  compileModule,
  defaultInclude,
  type PluginMessage,
  pluginName,
  resolveSettings,
  workflowModuleMarker,
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
      build.onLoad({ filter, namespace: "file" }, (args) => {
        const id = args.path + (args.suffix ?? "");
        if (!accepts(id)) return undefined;
        const bytes = readBytes(args.path);
        // Not a readable file: esbuild's own loading reports it.
        if (bytes === undefined) return undefined;
        // The pre-filter's first test, on the bytes: most files never say `ratchetjs`, and
        // are left to esbuild without being decoded. A rejected file gets its answer at once,
        // with no promise in between.
        if (!bytes.includes(workflowModuleMarker)) return undefined;
        const code = bytes.toString("utf8");
        if (!mayContainWorkflow(code)) return undefined;
        return load(code, id, args.path);
      });

      async function load(
        code: string,
        id: string,
        path: string,
      ): Promise<OnLoadResult | undefined> {
        const compiled = await compileModule(code, id, settings);
        if (
          compiled.output === null &&
          compiled.error === undefined &&
          compiled.warnings.length === 0
        ) {
          return undefined;
        }
        let contents = compiled.output?.code ?? code;
        // The map's text as the compile cache stored it: a hit never parses or re-encodes it.
        const map = compiled.sourceMapText();
        if (map !== null) {
          const encoded = Buffer.from(map).toString("base64");
          contents += `\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${encoded}`;
        }
        return {
          contents,
          loader: loaders[extname(path).toLowerCase()] ?? "js",
          resolveDir: dirname(path),
          warnings: compiled.warnings.map(esbuildMessage),
          errors: compiled.error ? [esbuildMessage(compiled.error)] : [],
        };
      }
    },
  };
}

const KEPT_BUFFER_BYTES = 1024 * 1024;
/** Reused by every read: most files are rejected, and their bytes are not kept. */
let readBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * A file's bytes, as a view of a buffer the next read overwrites (`undefined` when it cannot be
 * read): an open, reads into the same buffer and a close, where `readFileSync` would also stat
 * the file and allocate a buffer for each.
 */
function readBytes(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    let length = 0;
    for (;;) {
      if (length === readBuffer.length) {
        const larger = Buffer.allocUnsafe(readBuffer.length * 2);
        readBuffer.copy(larger);
        readBuffer = larger;
      }
      const read = readSync(fd, readBuffer, length, readBuffer.length - length, null);
      if (read === 0) {
        const bytes = readBuffer.subarray(0, length);
        // A large file's buffer is not kept for the rest of the process.
        if (readBuffer.length > KEPT_BUFFER_BYTES) readBuffer = Buffer.allocUnsafe(64 * 1024);
        return bytes;
      }
      length += read;
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function esbuildMessage(message: PluginMessage): PartialMessage {
  return { text: message.message, location: message.loc };
}
