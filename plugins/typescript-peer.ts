/**
 * `typescript` is an optional peer dependency: only the compiler needs it (the bundler
 * plugins, the register hook, `ratchetjs/tsc` and the `ratchet` command), never the runtime or
 * an adapter. These helpers turn its absence into an error that says how to install it.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { requireWithCodeCache } from "./code-cache.js";

type Compiler = typeof import("../compiler/index.js");

/** The compiler could not load because the `typescript` package is not installed. */
export class TypeScriptMissingError extends Error {
  /** A stable code for this failure. */
  readonly code = "RATCHET_TYPESCRIPT_MISSING";

  /**
   * @param who - what needs it, e.g. `ratchetjs/register`
   * @param cause - the resolution error
   * @param why - what `who` does with it
   */
  constructor(who: string, cause: unknown, why = "compiles workflows with TypeScript") {
    super(
      `${who} ${why}, and the typescript package is not installed. ` +
        "Install it next to ratchetjs: `npm install -D typescript` (5.9 or 6.x). " +
        "Code that only runs already-compiled workflows (the runtime and the storage adapters) does not need it.",
      { cause },
    );
    this.name = "TypeScriptMissingError";
  }
}

/** Whether `error` says that the `typescript` package itself could not be found. */
export function isTypeScriptMissing(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (
    (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
    typeof message === "string" &&
    /['"]typescript['"]/.test(message)
  );
}

/**
 * Run `load`, rethrowing a missing `typescript` as {@link TypeScriptMissingError} naming `who`
 * and `why` it needs TypeScript.
 */
export async function importNeedingTypeScript<T>(
  who: string,
  load: () => Promise<T>,
  why?: string,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isTypeScriptMissing(error)) throw new TypeScriptMissingError(who, error, why);
    throw error;
  }
}

let compilerModule: Promise<Compiler> | undefined;

/** The compiler as one CommonJS file, next to its modules in the built package. */
const compilerBundle = fileURLToPath(new URL("../compiler/bundle.cjs", import.meta.url));

/**
 * The compiler, loaded on first use: it needs `typescript`, which takes far longer to load
 * than most files take to compile, so a build or program whose modules all fail the
 * pre-filter (or are all in the compile cache) never loads it.
 *
 * From the built package it loads the compiler's bundle and TypeScript with `require`, through
 * V8's code cache in `cacheDir` (`./code-cache.ts`): Node's ES module loader would first scan
 * all 9 MB of TypeScript's CommonJS text for its export names, which takes longer than
 * loading it. Run from its TypeScript sources (this repository's tests), it imports the
 * compiler's modules.
 */
export function loadCompiler(who: string, cacheDir: string | false = false): Promise<Compiler> {
  compilerModule ??= importNeedingTypeScript(who, async () => {
    if (!existsSync(compilerBundle)) return import("../compiler/index.js");
    loadTypeScriptSync(cacheDir);
    return requireWithCodeCache(compilerBundle, cacheDir) as Compiler;
  });
  return compilerModule;
}

/**
 * TypeScript itself, for a front end that uses it directly (type stripping in
 * `ratchetjs/register` without swc); loaded the way {@link loadCompiler} loads it.
 */
export function loadTypeScript(
  who: string,
  why: string,
  cacheDir: string | false = false,
): Promise<typeof import("typescript")> {
  return importNeedingTypeScript(who, async () => loadTypeScriptSync(cacheDir), why);
}

function loadTypeScriptSync(cacheDir: string | false): typeof import("typescript") {
  const path = createRequire(import.meta.url).resolve("typescript");
  return requireWithCodeCache(path, cacheDir) as typeof import("typescript");
}
