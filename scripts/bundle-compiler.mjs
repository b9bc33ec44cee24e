// Writes dist/compiler/bundle.cjs: the compiler as one CommonJS file, which the Node front ends
// load with `require` (plugins/typescript-peer.ts says why). `typescript` and the other
// packages stay external. Every compiler module imports `typescript`; they all share one
// binding of `require("typescript")` here, because esbuild's interop for an external CommonJS
// default import copies every one of TypeScript's thousands of exports onto a new object, once
// per importing module.
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
