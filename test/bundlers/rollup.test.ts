import { rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { nodeResolve } from "@rollup/plugin-node-resolve";
import { type RollupLog, rollup } from "rollup";
import esbuild from "rollup-plugin-esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ratchet from "../../plugins/unplugin/rollup.js";
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
  outDir = outputDir("rollup");
});

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

/** Rollup with the Ratchet plugin first, then node-resolve and esbuild to strip the other modules' types. */
async function bundle(input: string, warnings: RollupLog[] = []) {
  const name = basename(input, ".ts");
  const build = await rollup({
    input,
    plugins: [
      ratchet(),
      nodeResolve({ extensions: [".ts", ".mjs", ".js"] }),
      esbuild({ target: "es2022", sourceMap: true }),
    ],
    onwarn: (warning) => warnings.push(warning),
  });
  try {
    await build.write({ dir: join(outDir, `${name}-out`), format: "esm", sourcemap: true });
  } finally {
    await build.close();
  }
  return join(outDir, `${name}-out`, `${name}.js`);
}

describe("ratchetjs/rollup", () => {
  it("bundles the app for Node; its workflows run, with errors mapped to the .ts lines", async () => {
    const warnings: RollupLog[] = [];
    const file = await bundle(fixture("main.ts"), warnings);

    expect(warnings.filter((w) => w.plugin === "ratchet")).toEqual([]);
    expectAppRan(runBundle(file));
  });

  it("fails the build on a workflow that does not compile, with Rollup's location", async () => {
    const failure = await bundle(fixture("broken.ts")).then(
      () => undefined,
      (error: unknown) => error as Error & { plugin?: string; id?: string; loc?: object },
    );

    expect(failure?.message).toMatch(brokenDiagnostic);
    expect(failure?.plugin).toBe("ratchet");
    expect(failure?.id).toBe(fixture("broken.ts"));
    expect(failure?.loc).toEqual({
      file: fixture("broken.ts"),
      line: markerLine("broken.ts", "LEAK"),
      column: 15,
    });
  });

  it("hands compiler warnings to Rollup's onwarn with their location", async () => {
    const input = join(outDir, "iterate.ts");
    writeFileSync(
      input,
      [
        'import { fn, workflow } from "ratchetjs";',
        "const count = fn(async () => 1);",
        "export const drain = workflow(async (ctx, m: Map<string, number>) => {",
        "  const entries = m.entries();",
        "  await ctx.step(count);",
        "  return entries.next().done;",
        "});",
      ].join("\n"),
    );
    const warnings: RollupLog[] = [];

    await bundle(input, warnings);

    const ours = warnings.filter((w) => w.plugin === "ratchet");
    expect(ours).toHaveLength(1);
    expect(ours[0]?.message).toMatch(
      new RegExp(
        `${input.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:5:\\d+ - warning RATCHET\\d{4}: `,
      ),
    );
    expect(ours[0]?.loc).toMatchObject({ file: input, line: 5 });
  });
});
