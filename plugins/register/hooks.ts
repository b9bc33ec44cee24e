/**
 * Node module customization hooks behind `ratchetjs/register` (registered by `./index.ts`; they
 * run on Node's hooks thread).
 *
 * - `resolve` adds TypeScript's specifier conventions to Node's: `./x.js` finds `./x.ts` (or
 *   `./x.tsx`; `.mjs` finds `.mts`), and an extensionless `./x` finds `./x.ts`, `./x.tsx`,
 *   `./x.mts` or `./x/index.ts`.
 * - `load` compiles the workflows of the user's `.js` and `.mjs` ES modules, and compiles
 *   `.ts`, `.mts` and `.tsx` files: the Ratchet transform for files that contain workflows
 *   (served from the compile cache, `../cache.ts`, when the same text was compiled before:
 *   `RATCHET_CACHE_DIR` names its folder, `false` keeps it in memory), then type stripping with
 *   `@swc/core` when it is installed (else TypeScript's own `transpileModule`), with one inline
 *   source map back to the original file.
 *   Every loaded TypeScript file is an ES module.
 *
 * @module
 */
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire, type LoadHook, type ResolveHook } from "node:module";
import { fileURLToPath } from "node:url";
import remapping from "@jridgewell/remapping";
import { formatDiagnostic } from "../../compiler/diagnostics.js";
import { mayContainWorkflow } from "../../compiler/prefilter.js";
import { type CacheDir, cachedTransform, defaultCacheDir } from "../cache.js";
import { loadTypeScript } from "../typescript-peer.js";

type Diagnostic = import("../../compiler/index.js").Diagnostic;
type Swc = typeof import("@swc/core");

/** What to try when a relative specifier names a `.js`-family file that does not exist. */
const typeScriptForJavaScript: Readonly<Record<string, readonly string[]>> = {
  ".js": [".ts", ".tsx"],
  ".jsx": [".tsx"],
  ".mjs": [".mts"],
  ".cjs": [".cts"],
};

/** What to append to a relative specifier that names no file (`./x`, `./dir`). */
const appendedSuffixes = [".ts", ".tsx", ".mts", "/index.ts", "/index.tsx"] as const;

/**
 * Maps TypeScript-style relative specifiers to the `.ts` files they mean; everything else, and
 * every specifier that names an existing file, goes to Node's own resolution.
 */
export const resolve: ResolveHook = (specifier, context, nextResolve) => {
  const parentURL = context.parentURL;
  if (!isPathLike(specifier) || parentURL === undefined || !parentURL.startsWith("file:")) {
    return nextResolve(specifier, context);
  }
  const target = new URL(specifier, parentURL);
  if (target.protocol !== "file:" || isFile(target)) return nextResolve(specifier, context);

  for (const candidate of typeScriptCandidates(target)) {
    if (isFile(candidate)) return { url: candidate.href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
};

/**
 * Compiles `.ts`, `.mts` and `.tsx` files (declaration files excepted) to JavaScript ES modules;
 * other URLs go to Node's own loading.
 */
export const load: LoadHook = async (url, context, nextLoad) => {
  if (!url.startsWith("file:")) return nextLoad(url, context);
  const pathname = new URL(url).pathname;
  const kind = typeScriptKind(pathname);
  if (kind === undefined) {
    return isOwnJavaScript(pathname)
      ? compileJavaScript(url, await nextLoad(url, context))
      : nextLoad(url, context);
  }

  const filename = fileURLToPath(url);
  if (kind === ".cts") {
    throw new Error(
      `ratchetjs/register cannot load ${filename}: CommonJS TypeScript (.cts) is not supported yet. ` +
        "Rename the file to .ts or .mts; ratchetjs/register loads those as ES modules.",
    );
  }

  const original = await readFile(filename, "utf8");
  const workflowOutput = await compileWorkflows(original, filename);
  const source = await stripTypes(workflowOutput?.code ?? original, {
    filename,
    tsx: kind === ".tsx",
    inputSourceMap: workflowOutput?.map ?? null,
  });
  return { format: "module", source, shortCircuit: true };
};

/**
 * A JavaScript ES module of the user's (`.js`, `.mjs`) as Node loaded it, with its workflows
 * compiled: workflows written in JavaScript are as durable as TypeScript ones. CommonJS files
 * and files without workflows are left as they are.
 */
async function compileJavaScript(
  url: string,
  loaded: Awaited<ReturnType<Parameters<LoadHook>[2]>>,
): Promise<Awaited<ReturnType<LoadHook>>> {
  if (loaded.format !== "module" || loaded.source == null) return loaded;
  const original =
    typeof loaded.source === "string" ? loaded.source : new TextDecoder().decode(loaded.source);
  const filename = fileURLToPath(url);
  const output = await compileWorkflows(original, filename);
  if (output === undefined) return loaded;
  return { format: "module", source: withInlineMap(output.code, output.map), shortCircuit: true };
}

/** Ratchet's own built files (this hook is `<root>/plugins/register/hooks.js`). */
const ratchetRoot = new URL("../../", import.meta.url).pathname;

/**
 * `.js`/`.mjs` of the user's: packages ship compiled code, and Ratchet's own files (the
 * compiler this hook loads among them) mention workflows without defining any.
 */
function isOwnJavaScript(pathname: string): boolean {
  return (
    /\.m?js$/.test(pathname) &&
    !pathname.includes("/node_modules/") &&
    !pathname.startsWith(ratchetRoot)
  );
}

/** The Ratchet transform's output for a file, or `undefined` for a file without workflows. */
async function compileWorkflows(
  source: string,
  filename: string,
): Promise<{ code: string; map: unknown } | undefined> {
  // The pre-filter is a few substring searches in a module of its own; the compiler proper
  // imports `typescript`, which takes far longer to load than most files take to compile, so
  // files without workflows never load it, and files in the cache do not either.
  if (!mayContainWorkflow(source)) return undefined;
  const result = await cachedTransform(
    source,
    { filename, sourceMap: true },
    cacheDir(),
    "ratchetjs/register",
  );
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new WorkflowCompileError(filename, result.diagnostics);
  for (const warning of result.diagnostics) reportWarningOnce(formatDiagnostic(warning));
  return { code: result.code, map: result.map };
}

/**
 * Thrown when a file's workflows do not compile. The message lists every diagnostic the
 * compiler reported for the file (errors and warnings), each with its location and fix hint:
 * the error crosses from the hooks thread to the application as its message, so the message
 * is the whole report.
 */
class WorkflowCompileError extends Error {
  /** A stable code for this failure. */
  readonly code = "RATCHET_WORKFLOW_COMPILE_ERROR";

  constructor(filename: string, diagnostics: readonly Diagnostic[]) {
    const errorCount = diagnostics.filter((d) => d.severity === "error").length;
    const listed = diagnostics.map(formatDiagnostic).join("\n");
    super(
      `ratchetjs/register: ${filename} has ${errorCount} workflow ` +
        `${errorCount === 1 ? "error" : "errors"}:\n${listed}`,
    );
    this.name = "WorkflowCompileError";
  }
}

let cacheDirectory: CacheDir | undefined;

/** `RATCHET_CACHE_DIR` (a folder, or `false` for memory only), else the project's default. */
function cacheDir(): CacheDir {
  if (cacheDirectory === undefined) {
    const fromEnv = process.env.RATCHET_CACHE_DIR;
    cacheDirectory =
      fromEnv === undefined || fromEnv === ""
        ? defaultCacheDir()
        : fromEnv === "false"
          ? false
          : fromEnv;
  }
  return cacheDirectory;
}

const reportedWarnings = new Set<string>();

function reportWarningOnce(formatted: string): void {
  if (reportedWarnings.has(formatted)) return;
  reportedWarnings.add(formatted);
  process.stderr.write(`${formatted}\n`);
}

/** `@swc/core` when the user installed it (an optional peer); `null` when not. */
let swcModule: Swc | null | undefined;

function loadSwc(): Swc | null {
  if (swcModule !== undefined) return swcModule;
  try {
    // Resolved from the user's install, and only once a TypeScript file is actually loaded.
    swcModule = createRequire(import.meta.url)("@swc/core") as Swc;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw cause;
    swcModule = null;
  }
  return swcModule;
}

/**
 * JavaScript for `code` with one inline source map back to the original file: swc's type
 * stripping when `@swc/core` is installed (fast), else TypeScript's own `transpileModule`.
 */
async function stripTypes(
  code: string,
  options: { filename: string; tsx: boolean; inputSourceMap: unknown },
): Promise<string> {
  const swc = loadSwc();
  if (swc !== null) return stripWithSwc(swc, code, options);
  return stripWithTypeScript(code, options);
}

function stripWithSwc(
  swc: Swc,
  code: string,
  options: { filename: string; tsx: boolean; inputSourceMap: unknown },
): string {
  const { filename, tsx, inputSourceMap } = options;
  return swc.transformSync(code, {
    filename,
    sourceFileName: filename,
    sourceMaps: "inline",
    // Chain the workflow transform's map, so the inline map leads back to the original file.
    inputSourceMap: inputSourceMap === null ? false : JSON.stringify(inputSourceMap),
    // Ratchet decides how TypeScript is compiled here; a project's .swcrc is for its own build.
    swcrc: false,
    configFile: false,
    isModule: true,
    jsc: {
      target: "es2022",
      parser: { syntax: "typescript", tsx, decorators: true },
      transform: {
        decoratorVersion: "2022-03",
        useDefineForClassFields: true,
        // The runtime of `"jsx": "react-jsx"`, what current React projects configure.
        react: { runtime: "automatic" },
      },
    },
  }).code;
}

async function stripWithTypeScript(
  code: string,
  options: { filename: string; tsx: boolean; inputSourceMap: unknown },
): Promise<string> {
  const { filename, tsx, inputSourceMap } = options;
  const ts = await loadTypeScript(
    "ratchetjs/register",
    "strips types with @swc/core, which is not installed, or else with TypeScript",
    cacheDir(),
  );
  const output = ts.transpileModule(code, {
    fileName: filename,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      jsx: tsx ? ts.JsxEmit.ReactJSX : ts.JsxEmit.Preserve,
      useDefineForClassFields: true,
      // Imports used only as types are dropped, as swc drops them.
      isolatedModules: true,
      sourceMap: true,
      inlineSources: true,
    },
  });
  const js = output.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
  if (output.sourceMapText === undefined) return js;
  const map = { ...(JSON.parse(output.sourceMapText) as object), sources: [filename] };
  // A workflow module went through the Ratchet transform first: chain its map, so the inline
  // map leads back to the original file, as swc's inputSourceMap does.
  const chained =
    inputSourceMap === null
      ? map
      : remapping([map as never, inputSourceMap as never], () => null, { excludeContent: false });
  return withInlineMap(js, chained);
}

function withInlineMap(code: string, map: unknown): string {
  const encoded = Buffer.from(JSON.stringify(map)).toString("base64");
  return `${code}\n//# sourceMappingURL=data:application/json;base64,${encoded}\n`;
}

function isPathLike(specifier: string): boolean {
  return (
    specifier.startsWith("./") ||
    specifier.startsWith("../") ||
    specifier === "." ||
    specifier === ".." ||
    specifier.startsWith("/") ||
    specifier.startsWith("file:")
  );
}

function* typeScriptCandidates(target: URL): Generator<URL> {
  const path = target.pathname;
  const extension = /\.[cm]?jsx?$/.exec(path)?.[0];
  const replacements = extension === undefined ? undefined : typeScriptForJavaScript[extension];
  if (extension !== undefined && replacements !== undefined) {
    const stem = path.slice(0, -extension.length);
    for (const replacement of replacements) yield withPathname(target, stem + replacement);
    return;
  }
  const base = path.endsWith("/") ? path.slice(0, -1) : path;
  for (const suffix of appendedSuffixes) yield withPathname(target, base + suffix);
}

function withPathname(url: URL, pathname: string): URL {
  const copy = new URL(url.href);
  copy.pathname = pathname;
  return copy;
}

function isFile(url: URL): boolean {
  return statSync(fileURLToPath(url), { throwIfNoEntry: false })?.isFile() ?? false;
}

function typeScriptKind(pathname: string): ".ts" | ".mts" | ".tsx" | ".cts" | undefined {
  // Declaration files, including `x.d.css.ts` (TypeScript's allowArbitraryExtensions).
  if (/\.d\.(?:[^./]+\.)?[cm]?ts$/.test(pathname)) return undefined;
  const extension = /\.(?:[cm]?ts|tsx)$/.exec(pathname)?.[0];
  return extension as ".ts" | ".mts" | ".tsx" | ".cts" | undefined;
}
