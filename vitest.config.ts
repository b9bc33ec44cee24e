import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";
import { formatDiagnostic, mayContainWorkflow, transform } from "./compiler/index.js";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Tests import "ratchet" the way users do; inside this repository that means the sources,
 * compiled on the fly by the Ratchet compiler (the same transform the plugins run).
 */
function ratchetSources(): Plugin {
  return {
    name: "ratchet-test-compiler",
    enforce: "pre",
    transform(code, id) {
      if (!/\.[cm]?tsx?$/.test(id) || id.includes("/node_modules/") || !mayContainWorkflow(code)) {
        return null;
      }
      const out = transform(code, { filename: id });
      const errors = out.diagnostics.filter((d) => d.severity === "error");
      if (errors.length > 0) this.error(errors.map(formatDiagnostic).join("\n"));
      if (out.workflows.length === 0) return null;
      return { code: out.code, map: out.map };
    },
  };
}

export default defineConfig({
  plugins: [ratchetSources()],
  resolve: {
    alias: [
      { find: /^ratchet$/, replacement: here("./runtime/index.ts") },
      { find: /^ratchet\/compiler$/, replacement: here("./compiler/index.ts") },
      { find: /^ratchet\/adapters$/, replacement: here("./adapters/index.ts") },
      { find: /^ratchet\/adapters\/(.+)$/, replacement: here("./adapters/$1/index.ts") },
    ],
  },
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "dist/**", "test/fixtures/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    globalSetup: ["test/support/build.ts"],
  },
});
