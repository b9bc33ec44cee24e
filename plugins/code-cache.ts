/**
 * `require` for the two big CommonJS files the compiler needs in a fresh process — TypeScript
 * (9 MB) and the compiler's own bundle — with V8's code cache kept on disk next to the compile
 * cache, so a later process skips parsing and compiling them (and the functions the first
 * compile used come back compiled too).
 *
 * A file is compiled as Node's CommonJS loader would (`Module.wrap`, the same `require`,
 * `module`, `__filename` and `__dirname`) and registered in `require.cache`, so a later
 * `require` of it in the process gets the same module. The cache entry is named after the
 * file's name, a CRC-32 and the length of its text, and Node's version and architecture: an
 * edited or reinstalled file, or another Node, reads no entry written for another text, and V8
 * itself rejects data made by another V8 or with other flags (then the entry is written anew).
 * Entries are written under a temporary name and renamed into place, so a racing process reads
 * a whole entry or none; one that cannot be read or written only costs a slower load.
 *
 * Node 22's `module.enableCompileCache` does the same for every module a process loads after
 * it is called; this is kept to the compiler's own files, in a process (a bundler's, a test
 * runner's) that is the user's.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import Module, { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { debuglog } from "node:util";
import vm from "node:vm";
import { crc32 } from "node:zlib";

/** `NODE_DEBUG=ratchet` names each file loaded here, and whether its code cache served. */
const debug = debuglog("ratchet");

interface Unsaved {
  readonly script: vm.Script;
  readonly path: string;
  readonly prefix: string;
}

const unsaved: Unsaved[] = [];

/** The subfolder of the compile cache that holds V8's code cache. */
const CODE_CACHE_DIR = "v8";

/**
 * `require(filename)` through V8's code cache in `cacheDir` (plain `require` when `cacheDir` is
 * `false`, or when the file is loaded already).
 */
export function requireWithCodeCache(filename: string, cacheDir: string | false): unknown {
  const require = createRequire(filename);
  const loaded = require.cache[filename];
  if (loaded !== undefined || cacheDir === false) return require(filename);

  const bytes = readFileSync(filename);
  const source = bytes.toString("utf8");
  const prefix = `${basename(filename)}-`;
  const name = `${prefix}${crc32(bytes).toString(16)}-${bytes.length}-${process.version}-${process.arch}.bin`;
  const path = join(cacheDir, CODE_CACHE_DIR, name);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(path);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(source), {
    filename,
    cachedData,
    // As in a module Node loads: a dynamic `import()` in the file uses Node's own loader.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = new Module(filename);
  module.filename = filename;
  module.paths = require.resolve.paths("x") ?? [];
  require.cache[filename] = module;
  try {
    const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
    wrapper.call(module.exports, module.exports, require, module, filename, dirname(filename));
  } catch (error) {
    delete require.cache[filename];
    throw error;
  }
  module.loaded = true;
  const served = cachedData !== undefined && !script.cachedDataRejected;
  debug("loaded %s (code cache %s)", filename, served ? "hit" : "miss");
  if (!served) unsaved.push({ script, path, prefix });
  return module.exports;
}

/**
 * Write the code cache of the files loaded without one. Called once the compiler has compiled
 * something, so the cache also holds the functions that took (V8 compiles a function only when
 * it first runs). The data is taken at once and written in the background; older entries of the
 * same files (another TypeScript, another Node) go.
 */
export function saveCodeCaches(): void {
  for (const { script, path, prefix } of unsaved.splice(0)) {
    void writeEntry(script.createCachedData(), path, prefix);
  }
}

async function writeEntry(data: Buffer, path: string, prefix: string): Promise<void> {
  const dir = dirname(path);
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(temporary, data);
    await rename(temporary, path);
    for (const other of await readdir(dir)) {
      if (other.startsWith(prefix) && other.endsWith(".bin") && join(dir, other) !== path) {
        await rm(join(dir, other), { force: true });
      }
    }
  } catch {
    // A read-only or full disk: the next process loads without a code cache.
    await rm(temporary, { force: true }).catch(() => undefined);
  }
}
