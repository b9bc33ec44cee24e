import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import ratchet from "./plugins/unplugin/vite.js";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Tests import "ratchet" the way users do; inside this repository that means the sources,
 * with workflows compiled on the fly by the Ratchet plugin for Vite (ratchetjs/vite), from source.
 */
export default defineConfig({
  plugins: [ratchet()],
  resolve: {
    alias: [
      { find: /^ratchetjs$/, replacement: here("./runtime/index.ts") },
      { find: /^ratchetjs\/compiler$/, replacement: here("./compiler/index.ts") },
      { find: /^ratchetjs\/testing$/, replacement: here("./testing/index.ts") },
      { find: /^ratchetjs\/adapters$/, replacement: here("./adapters/index.ts") },
      { find: /^ratchetjs\/adapters\/(.+)$/, replacement: here("./adapters/$1/index.ts") },
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
