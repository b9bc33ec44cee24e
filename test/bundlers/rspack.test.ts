import { rmSync } from "node:fs";
import { join } from "node:path";
import { type Configuration, rspack, type Stats } from "@rspack/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ratchet from "../../plugins/unplugin/rspack.js";
import { brokenDiagnostic, expectAppRan, fixtureDir, outputDir, runBundle } from "./support.js";

let outDir: string;

beforeAll(() => {
  outDir = outputDir("rspack");
});

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

/** Rspack for Node (CommonJS output) with the Ratchet plugin, then its builtin swc loader. */
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
          loader: "builtin:swc-loader",
          options: { jsc: { parser: { syntax: "typescript" }, target: "es2022" } },
        },
      ],
    },
    plugins: [ratchet()],
  };
  return new Promise((resolve, reject) => {
    const compiler = rspack(config);
    compiler.run((error, stats) => {
      compiler.close(() => {
        if (error || stats === undefined) reject(error ?? new Error("rspack returned no stats"));
        else resolve({ file: join(outDir, filename), stats });
      });
    });
  });
}

describe("ratchet/rspack", () => {
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
