/**
 * The plugin benchmark: how much longer a real build of a generated 200-module app takes with
 * the Ratchet plugin than without it, for Vite and esbuild, as ratios measured in the same
 * rounds. bench/README.md says what each figure measures.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build as esbuild } from "esbuild";
import ratchetEsbuild from "ratchetjs/esbuild";
import ratchetVite from "ratchetjs/vite";
import ts from "typescript";
import { build as viteBuild } from "vite";
import { type PluginApp, writePluginApp } from "./plugin-app.js";
import {
  type Comparison,
  formatRatio,
  machineInfo,
  packageVersion,
  printRows,
  summarize,
  writeResults,
} from "./report.js";

const WARMUP_ROUNDS = 2;
const ROUNDS = 15;
/** Fresh-process builds cost a process start each, so they get fewer rounds. */
const COLD_ROUNDS = 9;

const repoRoot = fileURLToPath(new URL("../", import.meta.url));

type Bundler = "vite" | "esbuild";

/**
 * One build of `entry`, in this process, with or without the plugin; resolves to the bundle's
 * code. "ratchet" stays external: the runtime is the same on both sides and not what is
 * measured.
 */
async function buildInProcess(
  bundler: Bundler,
  entry: string,
  withPlugin: boolean,
  outDir: string,
): Promise<string> {
  const outfile = path.join(outDir, "main.js");
  if (bundler === "vite") {
    await viteBuild({
      root: path.dirname(entry),
      configFile: false,
      envFile: false,
      logLevel: "silent",
      cacheDir: path.join(outDir, ".vite"),
      plugins: withPlugin ? [ratchetVite()] : [],
      build: {
        ssr: entry,
        outDir,
        emptyOutDir: true,
        sourcemap: true,
        minify: false,
        rolldownOptions: { external: [/^ratchet(?:\/|$)/], output: { entryFileNames: "main.js" } },
      },
    });
  } else {
    await esbuild({
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      format: "esm",
      sourcemap: true,
      outfile,
      external: ["ratchetjs", "ratchetjs/*"],
      logLevel: "silent",
      plugins: withPlugin ? [ratchetEsbuild()] : [],
    });
  }
  return readFile(outfile, "utf8");
}

/**
 * The same build in a fresh `node` process, as a one-off `vite build` or build script runs:
 * the time includes starting Node and loading the bundler, the plugin and (with workflows)
 * the TypeScript compiler. The built entries are imported from dist/ by package name.
 */
const coldScript = `
const [bundler, entry, outDir, withPlugin] = process.argv.slice(1);
const path = await import("node:path");
if (bundler === "vite") {
  const { build } = await import("vite");
  const plugins = withPlugin === "1" ? [(await import("ratchetjs/vite")).default()] : [];
  await build({
    root: path.dirname(entry), configFile: false, envFile: false, logLevel: "silent",
    cacheDir: path.join(outDir, ".vite"), plugins,
    build: { ssr: entry, outDir, emptyOutDir: true, sourcemap: true, minify: false,
      rolldownOptions: { external: [/^ratchet(?:\\/|$)/], output: { entryFileNames: "main.js" } } },
  });
} else {
  const { build } = await import("esbuild");
  const plugins = withPlugin === "1" ? [(await import("ratchetjs/esbuild")).default()] : [];
  await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm",
    sourcemap: true, outfile: path.join(outDir, "main.js"), external: ["ratchetjs", "ratchetjs/*"],
    logLevel: "silent", plugins });
}
`;

function buildInFreshProcess(
  bundler: Bundler,
  entry: string,
  withPlugin: boolean,
  outDir: string,
): number {
  const started = performance.now();
  const child = spawnSync(
    process.execPath,
    ["--input-type=module", "-e", coldScript, bundler, entry, outDir, withPlugin ? "1" : "0"],
    { cwd: repoRoot, encoding: "utf8" },
  );
  const elapsed = performance.now() - started;
  if (child.status !== 0) throw new Error(`${bundler} build failed:\n${child.stderr}`);
  return elapsed;
}

/** How many workflows a bundle holds compiled: one manifest each. */
const compiledWorkflows = (code: string) => code.match(/\$ratchet: 1/g)?.length ?? 0;

/**
 * Check the app builds as the benchmark claims before timing it: with the plugin every
 * workflow is compiled, without it none is, and a build of the modules without workflows is
 * the same code with and without the plugin (it left them all untouched).
 */
async function verify(app: PluginApp, outRoot: string): Promise<void> {
  for (const bundler of ["vite", "esbuild"] as const) {
    const dir = (name: string) => path.join(outRoot, `verify-${bundler}-${name}`);
    const withPlugin = await buildInProcess(bundler, app.entryAll, true, dir("with"));
    const without = await buildInProcess(bundler, app.entryAll, false, dir("without"));
    if (compiledWorkflows(withPlugin) !== app.workflows || compiledWorkflows(without) !== 0) {
      throw new Error(
        `${bundler}: ${compiledWorkflows(withPlugin)} workflows compiled with the plugin and ` +
          `${compiledWorkflows(without)} without; expected ${app.workflows} and 0`,
      );
    }
    const plainWith = await buildInProcess(bundler, app.entryPlain, true, dir("plain-with"));
    const plainWithout = await buildInProcess(bundler, app.entryPlain, false, dir("plain-without"));
    if (plainWith !== plainWithout) {
      throw new Error(`${bundler}: the plugin changed a build of modules without workflows`);
    }
  }
}

interface Row {
  readonly name: string;
  readonly bundler: Bundler;
  readonly entry: "all" | "plain";
  readonly cold: boolean;
}

interface BuildComparison extends Comparison {
  readonly bundler: Bundler;
  readonly modules: number;
  readonly workflowModules: number;
  readonly freshProcess: boolean;
}

/** Run the plugin benchmark: print its table and write `bench/results/plugin-build.json`. */
export async function runPluginBuild(): Promise<void> {
  // Outside the repository: the app is bundler input, not part of this project's typecheck.
  const tmp = await mkdtemp(path.join(os.tmpdir(), "ratchet-plugin-bench-"));
  const outRoot = path.join(tmp, "out");
  try {
    await measure(await writePluginApp(path.join(tmp, "app")), outRoot);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function measure(app: PluginApp, outRoot: string): Promise<void> {
  await verify(app, outRoot);

  const rows: readonly Row[] = [
    { name: "Vite, all 200 modules", bundler: "vite", entry: "all", cold: false },
    { name: "Vite, 180 without workflows", bundler: "vite", entry: "plain", cold: false },
    { name: "esbuild, all 200 modules", bundler: "esbuild", entry: "all", cold: false },
    { name: "esbuild, 180 without workflows", bundler: "esbuild", entry: "plain", cold: false },
    { name: "Vite, all 200, fresh process", bundler: "vite", entry: "all", cold: true },
    { name: "esbuild, all 200, fresh process", bundler: "esbuild", entry: "all", cold: true },
  ];
  const entryOf = (row: Row) => (row.entry === "all" ? app.entryAll : app.entryPlain);
  const modulesOf = (row: Row) =>
    row.entry === "all" ? app.modules : app.modules - app.workflowModules;

  /** Milliseconds of one build of `row`, with or without the plugin. */
  async function timeBuild(row: Row, withPlugin: boolean): Promise<number> {
    const outDir = path.join(outRoot, `${row.bundler}-${withPlugin ? "with" : "without"}`);
    if (row.cold) return buildInFreshProcess(row.bundler, entryOf(row), withPlugin, outDir);
    const started = performance.now();
    await buildInProcess(row.bundler, entryOf(row), withPlugin, outDir);
    return performance.now() - started;
  }

  const samples = rows.map(() => ({ subject: [] as number[], baseline: [] as number[] }));
  const started = performance.now();
  for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
    for (const [i, row] of rows.entries()) {
      if (row.cold && round >= COLD_ROUNDS) continue;
      // Alternate which side goes first, so drift within a round does not favour one side.
      const subjectFirst = round % 2 === 0;
      const a = await timeBuild(row, subjectFirst);
      const b = await timeBuild(row, !subjectFirst);
      if (round < 0) continue;
      // Comparison samples are microseconds per operation; the operation here is one build.
      samples[i].subject.push((subjectFirst ? a : b) * 1000);
      samples[i].baseline.push((subjectFirst ? b : a) * 1000);
    }
    process.stdout.write(round < 0 ? "warm-up done\n" : `round ${round + 1}/${ROUNDS} done\n`);
  }

  const comparisons: BuildComparison[] = rows.map((row, i) => ({
    name: row.name,
    subject: `${row.bundler} build with ratchet/${row.bundler}`,
    baseline: `${row.bundler} build without it`,
    bundler: row.bundler,
    modules: modulesOf(row),
    workflowModules: row.entry === "all" ? app.workflowModules : 0,
    freshProcess: row.cold,
    subjectMicros: samples[i].subject,
    baselineMicros: samples[i].baseline,
  }));

  const ms = (micros: number) => (micros / 1000).toFixed(micros >= 100_000 ? 0 : 1);
  printRows(
    `Build time with the Ratchet plugin ÷ without, median of ${ROUNDS} rounds ` +
      `(${COLD_ROUNDS} for fresh processes; ${((performance.now() - started) / 1000).toFixed(0)} s)`,
    ["build", "with plugin ms", "without ms", "ratio (median)", "ratio range", "added ms"],
    comparisons
      .map(summarize)
      .map((c) => [
        c.name,
        ms(c.subjectMedianMicros),
        ms(c.baselineMedianMicros),
        `${formatRatio(c.ratioMedian)}×`,
        `${formatRatio(c.ratioMin)}–${formatRatio(c.ratioMax)}×`,
        ms(c.subjectMedianMicros - c.baselineMedianMicros),
      ]),
    [0],
  );
  console.log(
    `app: ${app.modules} modules, ${(app.bytes / 1024).toFixed(0)} KB; ${app.workflowModules} ` +
      `define ${app.workflows} workflows`,
  );

  const written = await writeResults("plugin-build", {
    description:
      "Milliseconds (stored as µs) of one production build of a generated TypeScript app, with " +
      "the Ratchet plugin and without it, timed back to back in the same round (alternating which " +
      "goes first). The app: 160 library modules that never mention ratchet, 20 step modules " +
      "(fn from ratchetjs, parsed once by the plugin, left untouched), 20 modules of 3 workflows " +
      "each. Vite: an SSR build to Node ESM, source maps on, no minification. esbuild: bundle, " +
      "platform node, ESM, source maps on. 'ratchet' is external. In-process rows reuse one " +
      "process, so the TypeScript compiler the plugin loads is loaded once; fresh-process rows " +
      "spawn node for every build, so they include loading Node, the bundler, the plugin and " +
      "TypeScript. ratioMedian is the median of the per-round ratios.",
    settings: {
      rounds: ROUNDS,
      coldRounds: COLD_ROUNDS,
      warmupRounds: WARMUP_ROUNDS,
      app: {
        modules: app.modules,
        workflowModules: app.workflowModules,
        workflows: app.workflows,
        kilobytes: Math.round(app.bytes / 1024),
      },
    },
    machine: machineInfo({
      vite: packageVersion("vite"),
      esbuild: packageVersion("esbuild"),
      unplugin: packageVersion("unplugin"),
      typescript: ts.version,
    }),
    comparisons,
  });
  console.log(`wrote ${path.relative(process.cwd(), written)}`);
}
