import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import webpack, { type Configuration, type Stats } from "webpack";
import ratchet from "../../plugins/unplugin/webpack.js";
import { brokenDiagnostic, expectAppRan, fixtureDir, outputDir, runBundle } from "./support.js";

let outDir: string;

beforeAll(() => {
  outDir = outputDir("webpack");
});

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

/** webpack for Node (CommonJS output) with the Ratchet plugin, then swc-loader for TypeScript. */
function bundle(entry: string): Promise<{ file: string; stats: Stats }> {
  const filename = entry.replace(/\.ts$/, ".cjs");
  const config: Configuration = {
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
          loader: "swc-loader",
          options: { jsc: { parser: { syntax: "typescript" }, target: "es2022" } },
        },
      ],
    },
    plugins: [ratchet()],
  };
  return new Promise((resolve, reject) => {
    const compiler = webpack(config);
    compiler.run((error, stats) => {
      compiler.close(() => {
        if (error || stats === undefined) reject(error ?? new Error("webpack returned no stats"));
        else resolve({ file: join(outDir, filename), stats });
      });
    });
  });
}

describe("ratchet/webpack", () => {
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
