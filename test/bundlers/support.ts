import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

// Shared by the bundler tests: each builds test/fixtures/bundler-app with one bundler and the
// Ratchet plugin, runs the bundle with node and checks what it prints.

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const fixtureDir = join(repoRoot, "test/fixtures/bundler-app");

/** The absolute path of a fixture module. */
export const fixture = (name: string): string => join(fixtureDir, name);

/**
 * A fresh output folder under the git-ignored test-artifacts/, inside the repository so that a
 * bundle that leaves "ratchetjs" external still finds it by self-reference.
 */
export function outputDir(bundler: string): string {
  mkdirSync(join(repoRoot, "test-artifacts"), { recursive: true });
  return mkdtempSync(join(repoRoot, "test-artifacts", `bundler-${bundler}-`));
}

/** The 1-based line of the fixture module `name` that carries the comment `// marker`. */
export function markerLine(name: string, marker: string): number {
  const lines = readFileSync(fixture(name), "utf8").split("\n");
  const index = lines.findIndex((line) => line.includes(`// ${marker}`));
  if (index < 0) throw new Error(`no "// ${marker}" in ${name}`);
  return index + 1;
}

/** What main.ts prints first when both workflows ran compiled. */
export const expectedResults = {
  receipt: { id: "o-1", total: 24, chargeId: "ch_o-1_1" },
  shipment: { labels: ["o-1/1:2.0kg", "o-1/2:12.5kg"], speed: 1, heavy: 1 },
};

/** Runs a built bundle with source maps on, as a user debugging it would. */
export function runBundle(file: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ["--enable-source-maps", file], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 30_000,
  });
}

/**
 * The bundle of main.ts ran both workflows to completion, and the error thrown in the checkout
 * workflow's body is reported at its line in orders.ts: the plugin's source map is chained
 * into the bundle's.
 */
export function expectAppRan(result: SpawnSyncReturns<string>): void {
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  const [json, ...stack] = result.stdout.split("\n");
  expect(JSON.parse(json)).toEqual(expectedResults);
  expect(stack[0]).toBe("Error: order o-2 has nothing to charge");
  expect(stack.join("\n")).toContain(
    `(${fixture("orders.ts")}:${markerLine("orders.ts", "CHECKOUT-THROW")}:11)`,
  );
}

/** broken.ts passes `ctx` to a helper: RATCHET1003 at the argument. */
export const brokenDiagnostic = new RegExp(
  `${escapeRegExp(`${fixture("broken.ts")}:${markerLine("broken.ts", "LEAK")}:16`)} - error RATCHET1003: `,
);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
