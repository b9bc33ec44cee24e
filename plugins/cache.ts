/**
 * The compile cache every Node front end shares (the bundler plugins and `ratchetjs/register`):
 * the same text is never compiled twice, in one process or across processes.
 *
 * An entry is keyed by a SHA-256 of the source, the file name (manifests and diagnostics carry
 * it), the options and the compiler's version — the text of the compiler's own modules and
 * TypeScript's version, so a changed compiler never reads an old entry. Entries live in memory
 * and, as one file each, in a directory (`node_modules/.cache/ratchet` by default): a line of
 * JSON (the key, the manifests and diagnostics, and the lengths of what follows), then the code
 * and the source map's JSON as they are, so a hit parses only that line, and the map only when
 * it is asked for. A file is written under a temporary name and renamed into place, so a
 * process racing another on the same entry reads either nothing or a whole entry; a missing,
 * unreadable or short entry is a miss.
 *
 * The compiler (and with it TypeScript) is loaded only on a miss, through V8's code cache kept in
 * the same directory (`./code-cache.ts`); so are the modules that load it, so a build served
 * from the cache loads only this module.
 *
 * The directory is kept bounded ({@link pruneCache}): a disk hit refreshes its entry's
 * modification time (at most once a day), and at most once a day, after a miss, a process
 * removes the entries no process has used for {@link CACHE_MAX_AGE_DAYS} days, then the least
 * recently used ones while the folder holds more than {@link CACHE_MAX_BYTES}.
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SourceMapJson, TransformOptions, TransformResult } from "../compiler/index.js";

/** Where the cache keeps its files, or `false` for memory only. */
export type CacheDir = string | false;

/** How many results one process keeps in memory (oldest dropped first). */
const MEMORY_ENTRIES = 1000;

/**
 * What the cache holds in a process, shared by every copy of this module the process loads:
 * `ratchetjs/esbuild` is one file with this module bundled in (`scripts/bundle-compiler.mjs`),
 * and Vite's, the register hook's and a tool's `plugins/cache.js` must see the same memory.
 */
interface ProcessCache {
  readonly memory: Map<string, TransformResult>;
  readonly stats: { memoryHits: number; diskHits: number; compiles: number };
  readonly madeDirs: Set<string>;
  readonly prunedDirs: Set<string>;
  /** The source map's JSON text of results read from disk or just compiled. */
  readonly mapTexts: WeakMap<TransformResult, string>;
}

const processCacheKey = Symbol.for("ratchetjs.compile-cache.v1");
const globals = globalThis as { [processCacheKey]?: ProcessCache };
globals[processCacheKey] ??= {
  memory: new Map(),
  stats: { memoryHits: 0, diskHits: 0, compiles: 0 },
  madeDirs: new Set(),
  prunedDirs: new Set(),
  mapTexts: new WeakMap(),
};
const processCache: ProcessCache = globals[processCacheKey];
const { memory, stats, madeDirs, prunedDirs, mapTexts } = processCache;
let fingerprint: string | undefined;

/** Entries no process has read or written for this many days are removed. */
export const CACHE_MAX_AGE_DAYS = 14;
/** Past this many bytes of entries, the least recently used are removed. */
export const CACHE_MAX_BYTES = 256 * 1024 * 1024;
const DAY = 24 * 60 * 60 * 1000;
/** A temporary file this old was left by a process that died between writing and renaming. */
const ORPHAN_MS = 60 * 60 * 1000;
/**
 * Written next to the compiler's bundle when it is built (scripts/bundle-compiler.mjs): the
 * SHA-256 of `bundle.cjs` and its length, so a process need not read and hash the bundle.
 */
const BUNDLE_HASH = "bundle.cjs.sha256";
/** Touched by the process that last pruned the directory. */
const PRUNED_MARKER = ".pruned";

/**
 * The default cache directory: `node_modules/.cache/ratchet` of the project around the working
 * directory (the nearest folder with a `package.json`), or `false` outside any project.
 */
export function defaultCacheDir(from: string = process.cwd()): CacheDir {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")))
      return join(dir, "node_modules", ".cache", "ratchet");
    if (dirname(dir) === dir) return false;
  }
}

/**
 * `transform(code, options)`, served from the cache when the same text was compiled before with
 * the same options by the same compiler. `who` names the front end in the error raised when a
 * miss needs TypeScript and it is not installed.
 */
export async function cachedTransform(
  code: string,
  options: TransformOptions,
  cacheDir: CacheDir,
  who: string,
): Promise<TransformResult> {
  const key = cacheKey(code, options);
  const inMemory = memory.get(key);
  if (inMemory) {
    stats.memoryHits++;
    remember(key, inMemory);
    return inMemory;
  }
  const onDisk = cacheDir === false ? undefined : readEntry(cacheDir, key);
  if (onDisk) {
    stats.diskHits++;
    remember(key, onDisk);
    return onDisk;
  }
  stats.compiles++;
  // Imported on the first miss only: a warm build loads neither these modules nor what they
  // import (node:vm, node:zlib), let alone TypeScript.
  const [{ loadCompiler }, { saveCodeCaches }] = await Promise.all([
    import("./typescript-peer.js"),
    import("./code-cache.js"),
  ]);
  const compiler = await loadCompiler(who, cacheDir);
  const result = compiler.transform(code, options);
  saveCodeCaches();
  remember(key, result);
  if (cacheDir !== false) {
    writeEntry(cacheDir, key, result);
    // A miss already paid for a compile; a hit never pays for pruning.
    if (!prunedDirs.has(cacheDir)) {
      prunedDirs.add(cacheDir);
      if (dueForPruning(cacheDir)) pruneCache(cacheDir);
    }
  }
  return result;
}

const LONE_SURROGATE = /\p{Cs}/u;

/** The cache key of one compilation. */
export function cacheKey(code: string, options: TransformOptions): string {
  const wellFormed = !LONE_SURROGATE.test(code);
  return (
    createHash("sha256")
      .update(compilerFingerprint())
      .update("\0")
      .update(options.filename)
      .update("\0")
      .update(options.sourceMap === false ? "nomap" : "map")
      // UTF-8 writes a lone surrogate as U+FFFD, which would give such a text the key of the text
      // with U+FFFD in its place: it is hashed as its UTF-16 units, after another separator.
      .update(wellFormed ? "\0" : "\u0001")
      .update(code, wellFormed ? "utf8" : "utf16le")
      .digest("hex")
  );
}

/** How this process's compilations were served so far. */
export function cacheStats(): { memoryHits: number; diskHits: number; compiles: number } {
  return { ...stats };
}

/** Forget what this process holds in memory (the files stay). */
export function clearMemoryCache(): void {
  memory.clear();
}

function remember(key: string, result: TransformResult): void {
  memory.delete(key);
  memory.set(key, result);
  if (memory.size > MEMORY_ENTRIES) memory.delete(memory.keys().next().value as string);
}

/**
 * The first line of an entry file; the code and the source map's JSON follow it as they are
 * (`codeLength` and `mapLength` UTF-16 units; a `mapLength` of -1 is a `null` map).
 */
interface EntryHeader {
  readonly key: string;
  readonly codeLength: number;
  readonly mapLength: number;
  readonly workflows: TransformResult["workflows"];
  readonly diagnostics: TransformResult["diagnostics"];
}

/** An entry file's name ends so; the `.json` files of earlier versions are never read, only pruned. */
const ENTRY_SUFFIX = ".entry";
const LEGACY_ENTRY_SUFFIX = ".json";

/**
 * The JSON text of `result.map` (`null` without a map): for a result read from the cache, the
 * text as stored, never parsed; for one just compiled, the text written to the cache.
 */
export function sourceMapText(result: TransformResult): string | null {
  const text = mapTexts.get(result);
  if (text !== undefined) return text;
  return result.map === null ? null : JSON.stringify(result.map);
}

function entryPath(dir: string, key: string): string {
  return join(dir, `${key}${ENTRY_SUFFIX}`);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function readEntry(dir: string, key: string): TransformResult | undefined {
  const path = entryPath(dir, key);
  let text: string;
  let modified: number;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    // One open for both: the entry's text, and its modification time for pruning.
    modified = fstatSync(fd).mtimeMs;
    // Strict UTF-8: an entry cut inside a character is no entry (a lenient read gives U+FFFD,
    // one unit, as the whole character was, and the lengths would hold).
    text = strictUtf8.decode(readFileSync(fd));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
  const result = parseEntry(text, key);
  if (result !== undefined) markUsed(path, modified);
  return result;
}

/** An entry file's result, or `undefined` when it is not a whole entry for `key`. */
function parseEntry(text: string, key: string): TransformResult | undefined {
  const headerEnd = text.indexOf("\n");
  if (headerEnd < 0) return undefined;
  let header: EntryHeader;
  try {
    header = JSON.parse(text.slice(0, headerEnd)) as EntryHeader;
  } catch {
    return undefined;
  }
  if (typeof header !== "object" || header === null) return undefined;
  const { codeLength, mapLength } = header;
  if (
    header.key !== key ||
    !Number.isInteger(codeLength) ||
    !Number.isInteger(mapLength) ||
    codeLength < 0 ||
    mapLength < -1 ||
    !Array.isArray(header.workflows) ||
    !Array.isArray(header.diagnostics) ||
    // A short (or overlong) file is no entry: the lengths say where it ends.
    text.length !== headerEnd + 1 + codeLength + Math.max(mapLength, 0)
  ) {
    return undefined;
  }
  const codeStart = headerEnd + 1;
  const code = text.slice(codeStart, codeStart + codeLength);
  if (mapLength < 0) {
    return { code, map: null, workflows: header.workflows, diagnostics: header.diagnostics };
  }
  const mapText = text.slice(codeStart + codeLength);
  // The map is parsed when a front end asks for it (Vite, the register hook); the esbuild
  // plugin takes its text (`sourceMapText`) and never does.
  let map: SourceMapJson | undefined;
  const result: TransformResult = {
    code,
    get map(): SourceMapJson {
      map ??= JSON.parse(mapText) as SourceMapJson;
      return map;
    },
    workflows: header.workflows,
    diagnostics: header.diagnostics,
  };
  mapTexts.set(result, mapText);
  return result;
}

/**
 * Record that an entry was used, for pruning: its modification time, refreshed only when it is
 * a day old, so most hits write nothing.
 */
function markUsed(path: string, modified: number): void {
  try {
    const now = Date.now();
    if (now - modified < DAY) return;
    const seconds = now / 1000;
    utimesSync(path, seconds, seconds);
  } catch {
    // Removed meanwhile by another process's pruning, or a read-only folder: nothing to record.
  }
}

function writeEntry(dir: string, key: string, result: TransformResult): void {
  // The code is stored as it is, in UTF-8, which has no lone surrogate to write (JSON escaped
  // them): such a module is kept in memory only, and compiled again by the next process.
  if (LONE_SURROGATE.test(result.code)) return;
  const path = entryPath(dir, key);
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    if (!madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      madeDirs.add(dir);
    }
    const mapText = result.map === null ? null : JSON.stringify(result.map);
    if (mapText !== null) mapTexts.set(result, mapText);
    const header: EntryHeader = {
      key,
      codeLength: result.code.length,
      mapLength: mapText === null ? -1 : mapText.length,
      workflows: result.workflows,
      diagnostics: result.diagnostics,
    };
    writeFileSync(temporary, `${JSON.stringify(header)}\n${result.code}${mapText ?? ""}`);
    renameSync(temporary, path);
  } catch {
    // A read-only or full disk only costs the next process a compile.
    rmSync(temporary, { force: true });
  }
}

/** Whether no process has pruned `dir` for a day (by the marker file's modification time). */
function dueForPruning(dir: string): boolean {
  try {
    return Date.now() - statSync(join(dir, PRUNED_MARKER)).mtimeMs >= DAY;
  } catch {
    return true;
  }
}

/**
 * Keep a cache directory bounded: remove the entries not used (read or written) for
 * `maxAgeDays` days, temporary files a dead process left, and then, oldest use first, entries
 * until the rest fit in `maxBytes`. Safe while other processes use the folder: a removed entry
 * is a miss for them, compiled and written again. Returns what was removed.
 *
 * The compile cache calls it itself, at most once a day per folder; it is exported for tools
 * and tests.
 */
export function pruneCache(
  dir: string,
  {
    maxAgeDays = CACHE_MAX_AGE_DAYS,
    maxBytes = CACHE_MAX_BYTES,
    now = Date.now(),
  }: { maxAgeDays?: number; maxBytes?: number; now?: number } = {},
): { removed: number; keptBytes: number } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { removed: 0, keptBytes: 0 };
  }
  try {
    const seconds = now / 1000;
    writeFileSync(join(dir, PRUNED_MARKER), "");
    utimesSync(join(dir, PRUNED_MARKER), seconds, seconds);
  } catch {
    // A read-only folder: prune what can be pruned; the next process tries again.
  }
  const kept: { path: string; size: number; used: number }[] = [];
  let removed = 0;
  const remove = (path: string) => {
    try {
      rmSync(path, { force: true });
      removed++;
    } catch {
      // Not ours to remove (permissions): leave it.
    }
  };
  for (const name of names) {
    const isEntry = name.endsWith(ENTRY_SUFFIX) || name.endsWith(LEGACY_ENTRY_SUFFIX);
    if (!isEntry && !name.endsWith(".tmp")) continue;
    const path = join(dir, name);
    let used: number;
    let size: number;
    try {
      const stat = statSync(path);
      used = stat.mtimeMs;
      size = stat.size;
    } catch {
      continue;
    }
    if (!isEntry) {
      if (now - used > ORPHAN_MS) remove(path);
    } else if (now - used > maxAgeDays * DAY) {
      remove(path);
    } else {
      kept.push({ path, size, used });
    }
  }
  let keptBytes = kept.reduce((sum, entry) => sum + entry.size, 0);
  if (keptBytes > maxBytes) {
    kept.sort((a, b) => a.used - b.used);
    for (const entry of kept) {
      if (keptBytes <= maxBytes) break;
      remove(entry.path);
      keptBytes -= entry.size;
    }
  }
  return { removed, keptBytes };
}

/**
 * The compiler's version: a hash of its own modules' text (a rebuilt or upgraded compiler has a
 * new one, whatever its files' dates) and TypeScript's version, which parses the code.
 */
function compilerFingerprint(): string {
  if (fingerprint !== undefined) return fingerprint;
  const hash = createHash("sha256");
  const compilerDir = fileURLToPath(new URL("../compiler/", import.meta.url));
  // The built package compiles with the compiler's bundle (./typescript-peer.ts), which holds
  // all of its modules; run from the sources, it compiles with the modules.
  const bundle = bundleHash(compilerDir);
  if (bundle !== undefined) {
    hash.update(`bundle.cjs\0${bundle}\0`);
  } else {
    const names = readdirSync(compilerDir)
      .sort()
      .filter((name) => /\.[jt]s$/.test(name) && !/\.d\.ts$|\.test\./.test(name));
    for (const name of names) {
      hash
        .update(name)
        .update("\0")
        .update(readFileSync(join(compilerDir, name)))
        .update("\0");
    }
  }
  try {
    const path = createRequire(import.meta.url).resolve("typescript/package.json");
    const typescript = JSON.parse(readFileSync(path, "utf8")) as { version: string };
    hash.update(`typescript@${typescript.version}`);
  } catch {
    hash.update("typescript@none");
  }
  fingerprint = hash.digest("hex");
  return fingerprint;
}

/**
 * The SHA-256 of the compiler's bundle in `compilerDir`, or `undefined` when there is none (run
 * from the sources). It is read from the hash file written with the bundle while that file
 * records the bundle's present length; a bundle changed by hand (a patch) mostly changes its
 * length, and is then hashed here instead.
 */
function bundleHash(compilerDir: string): string | undefined {
  const bundle = join(compilerDir, "bundle.cjs");
  let size: number;
  try {
    size = statSync(bundle).size;
  } catch {
    return undefined;
  }
  try {
    const [hex, length] = readFileSync(join(compilerDir, BUNDLE_HASH), "utf8").trim().split(" ");
    if (hex !== undefined && /^[0-9a-f]{64}$/.test(hex) && Number(length) === size) return hex;
  } catch {
    // No hash file (a bundle built some other way): hash the bundle itself.
  }
  return createHash("sha256").update(readFileSync(bundle)).digest("hex");
}
