/**
 * The plugin benchmark: how much longer a real build of a generated 200-module app takes with
 * the Ratchet plugin than without it, for Vite and esbuild, as ratios measured in the same
 * rounds. bench/README.md says what each figure measures.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
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
/** `BENCH_ROUNDS` overrides it for a short run on a busy machine. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
/** Fresh-process builds cost a process start each, so they get fewer rounds. */
const COLD_ROUNDS = Math.min(9, ROUNDS);

const repoRoot = fileURLToPath(new URL("../", import.meta.url));

/**
 * The compile cache of the built plugin (the instance `ratchetjs/vite` and `ratchetjs/esbuild`
 * use), to empty its memory between in-process builds.
 */
function pluginCache(): Promise<{ clearMemoryCache(): void }> {
  return import(new URL("../dist/plugins/cache.js", import.meta.url).href);
}

/**
 * A file for `node --import ratchetjs/register`: three workflows of five steps, or (`plain`) the
 * same text with the workflows made plain functions, which the pre-filter lets pass unparsed.
 * It imports the runtime either way and exits at once.
 */
function registerStartFile(plain: boolean): string {
  const flows = [0, 1, 2].map((n) =>
    [
      `export const flow${n} = ${plain ? "plain" : "workflow"}(async (ctx: WorkflowContext, order: Order) => {`,
      "  let total = 0;",
      "  for (const line of order.lines) total += await ctx.step(price, line);",
      "  const checked = await ctx.step(price, { sku: order.id, qty: 1 });",
      "  if (checked > total) {",
      "    try {",
      "      await ctx.step(price, { sku: 'refund', qty: checked - total });",
      "    } catch (error) {",
      "      return { order: order.id, failed: String(error) };",
      "    }",
      "  }",
      "  const note = await ctx.step(price, { sku: 'note', qty: 2 });",
      "  return { order: order.id, total, checked, note };",
      "});",
    ].join("\n"),
  );
  return [
    `import { fn, ${plain ? "" : "workflow, "}type FunctionContext, type WorkflowContext } from "ratchetjs";`,
    "interface Line { sku: string; qty: number }",
    "interface Order { id: string; lines: Line[] }",
    plain ? "const plain = <T>(f: T): T => f;" : "",
    "const price = fn(async (_ctx: FunctionContext, line: Line): Promise<number> => line.qty * 3);",
    ...flows,
    "",
  ].join("\n");
}

/** Milliseconds of one `node --import ratchetjs/register <file>` run to its exit. */
function registerStart(file: string, cacheDir: string): number {
  const started = performance.now();
  const child = spawnSync(process.execPath, ["--import", "ratchetjs/register", file], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, RATCHET_CACHE_DIR: cacheDir },
  });
  const elapsed = performance.now() - started;
  if (child.status !== 0) throw new Error(`${file} failed:\n${child.stderr}`);
  return elapsed;
}

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
  // In-process rows measure compiling: no cache on disk, and the memory cache emptied.
  if (withPlugin) (await pluginCache()).clearMemoryCache();
  if (bundler === "vite") {
    await viteBuild({
      root: path.dirname(entry),
      configFile: false,
      envFile: false,
      logLevel: "silent",
      cacheDir: path.join(outDir, ".vite"),
      plugins: withPlugin ? [ratchetVite({ cacheDir: false })] : [],
      build: {
        ssr: entry,
        outDir,
        emptyOutDir: true,
        sourcemap: true,
        minify: false,
        rolldownOptions: {
          external: [/^ratchetjs(?:\/|$)/],
          output: { entryFileNames: "main.js" },
        },
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
      plugins: withPlugin ? [ratchetEsbuild({ cacheDir: false })] : [],
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
const [bundler, entry, outDir, withPlugin, cacheDir] = process.argv.slice(1);
const path = await import("node:path");
if (bundler === "vite") {
  const { build } = await import("vite");
  const plugins = withPlugin === "1" ? [(await import("ratchetjs/vite")).default({ cacheDir })] : [];
  await build({
    root: path.dirname(entry), configFile: false, envFile: false, logLevel: "silent",
    cacheDir: path.join(outDir, ".vite"), plugins,
    build: { ssr: entry, outDir, emptyOutDir: true, sourcemap: true, minify: false,
      rolldownOptions: { external: [/^ratchetjs(?:\\/|$)/], output: { entryFileNames: "main.js" } } },
  });
} else {
  const { build } = await import("esbuild");
  const plugins = withPlugin === "1" ? [(await import("ratchetjs/esbuild")).default({ cacheDir })] : [];
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
  cacheDir: string,
): number {
  const started = performance.now();
  const child = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      coldScript,
      bundler,
      entry,
      outDir,
      withPlugin ? "1" : "0",
      cacheDir,
    ],
    { cwd: repoRoot, encoding: "utf8" },
  );
  const elapsed = performance.now() - started;
  if (child.status !== 0) throw new Error(`${bundler} build failed:\n${child.stderr}`);
  return elapsed;
}

/** Empty a compile cache folder of its compiled modules, keeping V8's code cache (`v8/`). */
async function removeCompiledModules(cacheDir: string): Promise<void> {
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => name !== "v8")
      .map((name) => rm(path.join(cacheDir, name), { recursive: true, force: true })),
  );
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
  /**
   * For fresh processes: the compile cache folder removed before every build ("cold"), only its
   * compiled modules removed, V8's code cache of TypeScript and the compiler kept ("sources
   * changed": every module compiled, as after editing them all), or filled beforehand ("warm").
   */
  readonly cache?: "cold" | "changed" | "warm";
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
  const loadBefore = os.loadavg();
  await verify(app, outRoot);

  const rows: readonly Row[] = [
    { name: "Vite, all 200 modules", bundler: "vite", entry: "all", cold: false },
    { name: "Vite, 180 without workflows", bundler: "vite", entry: "plain", cold: false },
    { name: "esbuild, all 200 modules", bundler: "esbuild", entry: "all", cold: false },
    { name: "esbuild, 180 without workflows", bundler: "esbuild", entry: "plain", cold: false },
    {
      name: "Vite, all 200, fresh process, cold cache",
      bundler: "vite",
      entry: "all",
      cold: true,
      cache: "cold",
    },
    {
      name: "esbuild, all 200, fresh process, cold cache",
      bundler: "esbuild",
      entry: "all",
      cold: true,
      cache: "cold",
    },
    {
      name: "Vite, all 200, fresh process, compile cache emptied, code cache kept",
      bundler: "vite",
      entry: "all",
      cold: true,
      cache: "changed",
    },
    {
      name: "esbuild, all 200, fresh process, compile cache emptied, code cache kept",
      bundler: "esbuild",
      entry: "all",
      cold: true,
      cache: "changed",
    },
    {
      name: "Vite, all 200, fresh process, warm cache",
      bundler: "vite",
      entry: "all",
      cold: true,
      cache: "warm",
    },
    {
      name: "esbuild, all 200, fresh process, warm cache",
      bundler: "esbuild",
      entry: "all",
      cold: true,
      cache: "warm",
    },
  ];
  const cacheRoot = path.join(outRoot, "ratchet-cache");
  const entryOf = (row: Row) => (row.entry === "all" ? app.entryAll : app.entryPlain);
  const modulesOf = (row: Row) =>
    row.entry === "all" ? app.modules : app.modules - app.workflowModules;

  /** Milliseconds of one build of `row`, with or without the plugin. */
  async function timeBuild(row: Row, withPlugin: boolean): Promise<number> {
    const outDir = path.join(outRoot, `${row.bundler}-${withPlugin ? "with" : "without"}`);
    if (row.cold) {
      const cacheDir = path.join(cacheRoot, `${row.bundler}-${row.cache}`);
      if (row.cache === "cold") await rm(cacheDir, { recursive: true, force: true });
      if (row.cache === "changed") await removeCompiledModules(cacheDir);
      return buildInFreshProcess(row.bundler, entryOf(row), withPlugin, outDir, cacheDir);
    }
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

  const comparisons: Comparison[] = rows.map(
    (row, i): BuildComparison => ({
      name: row.name,
      subject: `${row.bundler} build with ratchetjs/${row.bundler}`,
      baseline: `${row.bundler} build without it`,
      bundler: row.bundler,
      modules: modulesOf(row),
      workflowModules: row.entry === "all" ? app.workflowModules : 0,
      freshProcess: row.cold,
      subjectMicros: samples[i]!.subject,
      baselineMicros: samples[i]!.baseline,
    }),
  );

  // `node --import ratchetjs/register` starting a file with workflows against the same file
  // without them, with the compile cache warm (filled by a first run) and cold (emptied).
  const generated = path.join(repoRoot, "bench", "generated", "register-start");
  await mkdir(generated, { recursive: true });
  const withFile = path.join(generated, "workflows.ts");
  const plainFile = path.join(generated, "plain.ts");
  await writeFile(withFile, registerStartFile(false));
  await writeFile(plainFile, registerStartFile(true));
  const startCache = path.join(outRoot, "register-cache");
  registerStart(withFile, startCache);
  const startRows = [
    { name: "register hook start, warm cache", cache: "warm" },
    { name: "register hook start, cold cache", cache: "cold" },
    { name: "register hook start, compile cache emptied, code cache kept", cache: "changed" },
  ] as const;
  const startSamples = startRows.map(() => ({ subject: [] as number[], baseline: [] as number[] }));
  for (let round = -WARMUP_ROUNDS; round < COLD_ROUNDS; round++) {
    for (const [i, row] of startRows.entries()) {
      const subjectFirst = round % 2 === 0;
      const time = async (subject: boolean) => {
        if (!subject) return registerStart(plainFile, startCache);
        const cacheDir =
          row.cache === "warm" ? startCache : path.join(outRoot, `register-${row.cache}`);
        if (row.cache === "cold") await rm(cacheDir, { recursive: true, force: true });
        if (row.cache === "changed") await removeCompiledModules(cacheDir);
        return registerStart(withFile, cacheDir);
      };
      const a = await time(subjectFirst);
      const b = await time(!subjectFirst);
      if (round < 0) continue;
      startSamples[i]!.subject.push((subjectFirst ? a : b) * 1000);
      startSamples[i]!.baseline.push((subjectFirst ? b : a) * 1000);
    }
  }
  for (const [i, row] of startRows.entries()) {
    comparisons.push({
      name: row.name,
      subject: "node --import ratchetjs/register, a file of 3 workflows",
      baseline: "the same file with plain functions for workflows",
      subjectMicros: startSamples[i]!.subject,
      baselineMicros: startSamples[i]!.baseline,
    });
  }

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
      "(fn from ratchetjs, said to be used by a workflow; rejected by the pre-filter), 20 modules " +
      "of 3 workflows each. Vite: an SSR build to Node ESM, source maps on, no minification. " +
      "esbuild: bundle, platform node, ESM, source maps on. 'ratchet' is external. In-process " +
      "rows reuse one process (TypeScript loaded once) with the compile cache off (cacheDir " +
      "false, memory emptied before each build), so every workflow module is compiled; " +
      "fresh-process rows spawn node for every build (Node, the bundler, the plugin and, on a " +
      "miss, TypeScript), with the compile cache folder removed before every build (cold), only " +
      "its compiled modules removed and V8's code cache of TypeScript and the compiler kept " +
      "(compile cache emptied, code cache kept), or filled by an earlier build (warm). Register rows: node --import ratchetjs/register of a file of 3 " +
      "workflows against the same file with plain functions for workflows (which the " +
      "pre-filter passes unparsed), to exit, compile cache warm, removed before each start, or " +
      "emptied of compiled modules with the code cache kept. " +
      "loadAverage: os.loadavg() before and after. ratioMedian is the median of the per-round " +
      "ratios.",
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
    extra: { loadAverage: { before: loadBefore, after: os.loadavg() } },
  });
  console.log(`wrote ${path.relative(process.cwd(), written)}`);
}
