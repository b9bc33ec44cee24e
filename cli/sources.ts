/**
 * Workflow source files: the paths a command was given, with directories walked.
 * @module
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import {
  mayContainWorkflow,
  type TransformResult,
  transform,
  type WorkflowManifest,
} from "../compiler/index.js";
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

/** A workflow found in the sources: its manifest, and the file's text for showing lines. */
export interface SourceWorkflow {
  readonly manifest: WorkflowManifest;
  readonly file: string;
  readonly code: string;
}

/** Every workflow compiled from the files at `paths`, by name (a name may appear in several versions). */
export function workflowsIn(paths: readonly string[]): Map<string, SourceWorkflow[]> {
  const found = new Map<string, SourceWorkflow[]>();
  for (const file of sourceFiles(paths)) {
    const code = readFileSync(file, "utf8");
    if (!mayContainWorkflow(code)) continue;
    for (const manifest of compileFile(file).workflows) {
      const list = found.get(manifest.name) ?? [];
      list.push({ manifest, file, code });
      found.set(manifest.name, list);
    }
  }
  return found;
}

/** The source of `workflow` at `version`, or else any version of it (`exact: false`). */
export function findWorkflow(
  sources: ReadonlyMap<string, readonly SourceWorkflow[]>,
  workflow: string,
  version: string,
): { source: SourceWorkflow; exact: boolean } | undefined {
  const candidates = sources.get(workflow) ?? [];
  const exact = candidates.find((c) => c.manifest.version === version);
  if (exact) return { source: exact, exact: true };
  return candidates[0] && { source: candidates[0], exact: false };
}
