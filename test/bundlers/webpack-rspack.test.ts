import { rmSync } from "node:fs";
import { join } from "node:path";
import { rspack } from "@rspack/core";
import { afterAll, describe, expect, it } from "vitest";
import webpack from "webpack";
import ratchetRspack from "../../plugins/unplugin/rspack.js";
import ratchetWebpack from "../../plugins/unplugin/webpack.js";
import { brokenDiagnostic, expectAppRan, fixtureDir, outputDir, runBundle } from "./support.js";

/** What a webpack-compatible bundler's build reports back (webpack's and Rspack's `Stats`). */
interface BuildStats {
  hasErrors(): boolean;
  toJson(options: { all: false; errors: true; warnings?: true }): {
    errors?: { moduleName?: string; message: string }[];
    warnings?: unknown[];
  };
}

/** webpack and Rspack take the same configuration; each with its own TypeScript loader. */
const bundlers = [
  {
    name: "webpack",
    plugin: ratchetWebpack,
    loader: "swc-loader",
    // biome-ignore lint/suspicious/noExplicitAny: each bundler's own Configuration type.
    compiler: (config: any) => webpack(config),
  },
  {
    name: "rspack",
    plugin: ratchetRspack,
    loader: "builtin:swc-loader",
    // biome-ignore lint/suspicious/noExplicitAny: each bundler's own Configuration type.
    compiler: (config: any) => rspack(config),
  },
] as const;

describe.each(bundlers)("ratchet/$name", ({ name, plugin, loader, compiler: create }) => {
  const outDir = outputDir(name);
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  /** A build for Node (CommonJS output) with the Ratchet plugin, then swc for TypeScript. */
  function bundle(entry: string): Promise<{ file: string; stats: BuildStats }> {
    const filename = entry.replace(/\.ts$/, ".cjs");
    const compiler = create({
      mode: "none",
      target: "node",
      context: fixtureDir,
      entry: `./${entry}`,
      devtool: "source-map",
      output: {
        path: outDir,
        filename,
        devtoolModuleFilenameTemplate: "[absolute-resource-path]",
      },
      resolve: { extensions: [".ts", ".js"] },
      module: {
        rules: [
          {
            test: /\.ts$/,
            exclude: /node_modules/,
            loader,
            options: { jsc: { parser: { syntax: "typescript" }, target: "es2022" } },
          },
        ],
      },
      plugins: [plugin()],
    });
    return new Promise((resolve, reject) => {
      compiler.run((error: Error | null, stats?: BuildStats) => {
        compiler.close(() => {
          if (error || stats === undefined) reject(error ?? new Error(`${name} returned no stats`));
          else resolve({ file: join(outDir, filename), stats });
        });
      });
    });
  }

  it("bundles the app for Node; its workflows run, with errors mapped to the .ts lines", async () => {
    const { file, stats } = await bundle("main.ts");

    expect(stats.toJson({ all: false, errors: true, warnings: true })).toMatchObject({
      errors: [],
      warnings: [],
    });
    expectAppRan(runBundle(file));
  });

  it("fails the build on a workflow that does not compile, at its file:line:column", async () => {
    const { stats } = await bundle("broken.ts");

    expect(stats.hasErrors()).toBe(true);
    const { errors } = stats.toJson({ all: false, errors: true });
    expect(errors).toHaveLength(1);
    expect(errors?.[0]?.moduleName).toBe("./broken.ts");
    expect(errors?.[0]?.message).toMatch(brokenDiagnostic);
  });
});
