import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Vitest global setup: compile dist/ once before any test runs, so the tests that spawn
 * `node --import ratchetjs/register` or pack the package use today's sources. It runs tsc
 * directly rather than `npm run build`, whose `rm -rf dist` is not needed here.
 */
export default function buildDist(): void {
  const tsc = join(repoRoot, "node_modules/typescript/bin/tsc");
  const build = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  // Type errors are the typecheck's to report (`npm run typecheck`); tsc still emits.
  if (!existsSync(join(repoRoot, "dist/plugins/register/index.js"))) {
    throw new Error(`building dist/ failed:\n${build.stdout}\n${build.stderr}`);
  }
}
