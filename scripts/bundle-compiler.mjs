// Writes dist/compiler/bundle.cjs: the compiler as one CommonJS file, which the Node front ends
// load with `require` (plugins/typescript-peer.ts says why). `typescript` and the other
// packages stay external. Every compiler module imports `typescript`; they all share one
// binding of `require("typescript")` here, because esbuild's interop for an external CommonJS
// default import copies every one of TypeScript's thousands of exports onto a new object, once
// per importing module.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const shared = "ratchet-typescript";

await build({
  entryPoints: ["compiler/index.ts"],
  outfile: "dist/compiler/bundle.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  packages: "external",
  logLevel: "warning",
  plugins: [
    {
      name: "one-typescript-binding",
      setup(build) {
        build.onResolve({ filter: /^typescript$/ }, (args) =>
          args.namespace === shared
            ? { path: "typescript", external: true }
            : { path: "typescript", namespace: shared },
        );
        build.onLoad({ filter: /.*/, namespace: shared }, () => ({
          contents: 'const ts = require("typescript");\nexport default ts;\n',
          loader: "js",
        }));
      },
    },
  ],
});

// The bundle's SHA-256 and length, which the compile cache keys its entries by
// (plugins/cache.ts), so that a process does not read and hash the bundle to find them.
const bundle = readFileSync("dist/compiler/bundle.cjs");
writeFileSync(
  "dist/compiler/bundle.cjs.sha256",
  `${createHash("sha256").update(bundle).digest("hex")} ${bundle.length}\n`,
);

// `ratchetjs/esbuild` as one ES module, dist/plugins/esbuild-plugin.js: a fresh build process
// imports one file instead of six (the entry, compile-module, the pre-filter, diagnostics,
// id-filter and the compile cache). It sits beside plugins/cache.js, so the cache's paths
// relative to itself (the compiler's folder, the modules it imports on a miss) hold; those
// modules stay files of their own, and the cache's state is shared with its other copies
// through a global (plugins/cache.ts).
await build({
  entryPoints: ["plugins/unplugin/esbuild.ts"],
  outfile: "dist/plugins/esbuild-plugin.js",
  bundle: true,
  platform: "node",
  format: "esm",
  packages: "external",
  logLevel: "warning",
  plugins: [
    {
      name: "miss-modules-external",
      setup(build) {
        build.onResolve({ filter: /^\.\/(?:typescript-peer|code-cache)\.js$/ }, (args) => ({
          path: args.path,
          external: true,
        }));
      },
    },
  ],
});
