import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The playground: `npm run playground` serves this folder. It imports the compiler, the
 * runtime and the memory adapter from the repository's sources, so it always shows the code
 * as it is.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  server: { fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] } },
  optimizeDeps: {
    // Pre-bundled at startup, so the first compile does not make the dev server reload.
    include: [
      "typescript",
      "devalue",
      "@dagrejs/dagre",
      "codemirror",
      "@codemirror/lang-javascript",
      "@codemirror/lint",
      "@codemirror/state",
      "@codemirror/view",
    ],
  },
  // Keep class names: the runtime names its errors after their classes (and revives stored
  // errors by that name), which a minifier would otherwise shorten.
  worker: { format: "es", rolldownOptions: { output: { keepNames: true } } },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    // TypeScript alone is several megabytes; it is loaded only when the compiler first runs.
    chunkSizeWarningLimit: 12_000,
    rolldownOptions: { output: { keepNames: true } },
  },
});
