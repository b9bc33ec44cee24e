/**
 * Workflow source files: the paths a command was given, with directories walked.
 * @module
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { type TransformResult, transform } from "../compiler/index.js";
import { CliError } from "./errors.js";

/** Extensions of files that may hold workflows. */
const SOURCE = /\.(?:[cm]?tsx?|[cm]?jsx?)$/;
/** Directories a walk never enters: dependencies, build output, tool state. */
const SKIPPED = new Set(["node_modules", "dist", "build", "coverage"]);

/**
 * The source files at `paths`: a file as given, a directory walked for `.ts`, `.tsx`, `.js`
 * … files (not `.d.ts`), skipping `node_modules`, build output and hidden directories.
 * Sorted, without duplicates.
 */
export function sourceFiles(paths: readonly string[]): string[] {
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED.has(entry.name)) walk(path);
      } else if (SOURCE.test(entry.name) && !/\.d\.[cm]?ts$/.test(entry.name)) {
        found.add(path);
      }
    }
  };
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (error) {
      throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
    }
    if (isDirectory) walk(path);
    else found.add(path);
  }
  return [...found].sort();
}

/** Read and compile one file; its name in diagnostics is relative to the working directory. */
export function compileFile(file: string): TransformResult {
  let code: string;
  try {
    code = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return transform(code, { filename: relative(process.cwd(), file) || file });
}
