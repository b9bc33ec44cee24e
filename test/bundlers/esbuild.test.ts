import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type BuildFailure, build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RatchetPluginOptions } from "../../plugins/unplugin/esbuild.js";
import ratchet from "../../plugins/unplugin/esbuild.js";
import {
  brokenDiagnostic,
  expectAppRan,
  fixture,
  markerLine,
  outputDir,
  runBundle,
} from "./support.js";

let outDir: string;

beforeAll(() => {
  outDir = outputDir("esbuild");
});

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

async function bundle(entry: string, outName: string, options?: RatchetPluginOptions) {
  const outfile = join(outDir, outName);
  await build({
    entryPoints: [fixture(entry)],
    bundle: true,
    platform: "node",
    format: "esm",
    sourcemap: true,
    outfile,
    logLevel: "silent",
    plugins: [ratchet(options)],
  });
  return outfile;
}

describe("ratchetjs/esbuild", () => {
  it("bundles the app for Node; its workflows run, with errors mapped to the .ts lines", async () => {
    expectAppRan(runBundle(await bundle("main.ts", "main.mjs")));
  });

  it("fails the build on a workflow that does not compile, with esbuild's location", async () => {
    const failure = await bundle("broken.ts", "broken.mjs").then(
      () => undefined,
      (error: unknown) => error as BuildFailure,
    );

    expect(failure?.errors).toHaveLength(1);
    const [error] = failure?.errors ?? [];
    expect(error?.pluginName).toBe("ratchet");
    expect(error?.text).toMatch(brokenDiagnostic);
    expect(error?.location).toMatchObject({ line: markerLine("broken.ts", "LEAK"), column: 15 });
  });

  it("leaves excluded modules to the bundler, and the engine refuses their workflows", async () => {
    const file = await bundle("main.ts", "excluded.mjs", { exclude: [/shipping\.ts$/] });

    const result = runBundle(file);

    expect(result.status).not.toBe(0);
    // Without the compiler, `workflow()` gets a plain function and the runtime refuses it.
    expect(result.stderr).toContain("DefinitionError");
    expect(result.stderr).toContain(`${fixture("shipping.ts")}:`);
  });

  it("compiles .js and .mts modules by default and never looks inside node_modules", async () => {
    const flow = (name: string) =>
      `import { workflow } from "ratchetjs";\n` +
      `export const ${name} = workflow({ name: "${name}" }, async (ctx) => ctx.runId);\n`;
    const files: Record<string, string> = {
      "app/plain.js": flow("plainJs"),
      "app/module.mts": flow("moduleTs"),
      "app/node_modules/dep/index.js": flow("fromDependency"),
      "app/main.mjs": [
        'import { plainJs } from "./plain.js";',
        'import { moduleTs } from "./module.mts";',
        'import { fromDependency } from "dep";',
        "const compiled = (w) => w.compiled !== undefined;",
        "console.log(JSON.stringify([plainJs, moduleTs, fromDependency].map(compiled)));",
      ].join("\n"),
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(outDir, name)), { recursive: true });
      writeFileSync(join(outDir, name), text);
    }
    const outfile = join(outDir, "defaults.mjs");
    await build({
      entryPoints: [join(outDir, "app/main.mjs")],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile,
      logLevel: "silent",
      plugins: [ratchet()],
    });

    const result = runBundle(outfile);

    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("[true,true,false]");

    // `exclude: []` drops the default, so the dependency's workflow is compiled too.
    await build({
      entryPoints: [join(outDir, "app/main.mjs")],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile,
      logLevel: "silent",
      plugins: [ratchet({ exclude: [] })],
    });
    expect(runBundle(outfile).stdout.trim()).toBe("[true,true,true]");
  });
});
