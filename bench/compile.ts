/**
 * The compile benchmark: `transform()`'s throughput on modules with workflows, and what the
 * front door a plugin uses (`mayContainWorkflow`, then `transform` only on a maybe) costs on
 * modules without workflows, each as a ratio to plain TypeScript compilation of the same
 * files timed in the same round. bench/README.md says what each figure measures.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import swc from "@swc/core";
import { mayContainWorkflow, transform } from "ratchetjs/compiler";
import ts from "typescript";
import { DiagnosticSink } from "../compiler/diagnostics.js";
import { discoverWorkflows } from "../compiler/discover.js";
import { parseModule } from "../compiler/parse.js";
import { compileWorkflow } from "../compiler/pipeline.js";
import { printExpressions } from "../compiler/print.js";
import { type SplicedWorkflow, spliceWorkflows } from "../compiler/splice.js";
import { withTransformationContext } from "../compiler/transformation-context.js";
import { cachedTransform, clearMemoryCache } from "../plugins/cache.js";
import {
  generateCorpus,
  type PlainFile,
  type PlainKind,
  type SourceFile,
  type WorkflowFile,
} from "./compile-corpus.js";
import {
  type Comparison,
  formatMicros,
  formatRatio,
  machineInfo,
  median,
  packageVersion,
  printRows,
  summarize,
  writeResults,
} from "./report.js";

const CORPUS = {
  seed: 3,
  workflowFiles: 20,
  plain: 180,
  ratchetFiltered: 6,
  ratchetParsed: 14,
} as const;
const WARMUP_ROUNDS = 2;
/** `BENCH_ROUNDS` overrides it for a short run on a busy machine. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);

/**
 * What a TypeScript build does to a file anyway: strip the types, emit ES modules as
 * written, with a source map (as `transform()` makes one).
 */
function swcStrip(file: SourceFile): number {
  const out = swc.transformSync(file.code, {
    filename: file.filename,
    sourceMaps: true,
    swcrc: false,
    configFile: false,
    isModule: true,
    jsc: {
      target: "esnext",
      parser: { syntax: "typescript" },
      transform: { useDefineForClassFields: true },
    },
  });
  return out.code.length + (out.map?.length ?? 0);
}

/**
 * `ts.transpileModule` of the whole file with no transformer: what `transform()` ran on every
 * module with a workflow before it printed only the workflows.
 */
function tsTranspile(file: SourceFile): number {
  const out = ts.transpileModule(file.code, {
    fileName: file.filename,
    compilerOptions: {
      target: ts.ScriptTarget.ESNext,
      module: ts.ModuleKind.ESNext,
      jsx: ts.JsxEmit.Preserve,
      isolatedModules: true,
      useDefineForClassFields: true,
      removeComments: false,
      sourceMap: true,
      inlineSources: true,
    },
  });
  return out.outputText.length + (out.sourceMapText?.length ?? 0);
}

function ratchetTransform(file: SourceFile): number {
  const out = transform(file.code, { filename: file.filename });
  return out.code.length + out.workflows.length;
}

/** What a bundler plugin or the register hook does with every TypeScript module. */
function frontDoor(file: SourceFile): number {
  if (!mayContainWorkflow(file.code)) return 1;
  return transform(file.code, { filename: file.filename }).code.length;
}

let sink = 0;

/** Microseconds per file of `passes` passes of `compile` over `files`. */
function microsPerFile(
  files: readonly SourceFile[],
  passes: number,
  compile: (file: SourceFile) => number,
): number {
  let total = 0;
  const started = performance.now();
  for (let pass = 0; pass < passes; pass++) {
    for (const file of files) total += compile(file);
  }
  const elapsed = performance.now() - started;
  sink += total;
  return (elapsed * 1000) / (passes * files.length);
}

interface Row {
  readonly name: string;
  readonly files: readonly SourceFile[];
  readonly subject: string;
  readonly baseline: string;
  /** Passes over the files per sample, so that one sample takes tens of milliseconds. */
  readonly subjectPasses: number;
  readonly baselinePasses: number;
  readonly runSubject: (file: SourceFile) => number;
  readonly runBaseline: (file: SourceFile) => number;
}

interface CompileComparison extends Comparison {
  readonly files: number;
  readonly bytes: number;
  readonly subjectPasses: number | null;
  readonly baselinePasses: number | null;
  /** Median throughputs, in KiB of source per second. */
  readonly subjectMedianKBps: number;
  readonly baselineMedianKBps: number;
}

const byteLength = (files: readonly SourceFile[]) =>
  files.reduce((sum, file) => sum + Buffer.byteLength(file.code), 0);

const kilobytes = (files: readonly SourceFile[]) =>
  files.map((file) => Buffer.byteLength(file.code) / 1024);

/** KiB per second of a corpus of `files` files and `bytes` bytes at `micros` µs per file. */
const kbPerSecond = (bytes: number, files: number, micros: number) =>
  bytes / 1024 / ((micros * files) / 1e6);

/**
 * Check the corpus is what the benchmark claims before timing it: every workflow compiles
 * with no diagnostic, every module without workflows comes back unchanged, and the
 * pre-filter lets through exactly the kind meant to be parsed.
 */
function verifyCorpus(workflowFiles: readonly WorkflowFile[], plainFiles: readonly PlainFile[]) {
  let workflows = 0;
  let checkpoints = 0;
  for (const file of workflowFiles) {
    const out = transform(file.code, { filename: file.filename });
    if (out.diagnostics.length > 0) {
      throw new Error(`${file.filename}: ${out.diagnostics.map((d) => d.message).join("; ")}`);
    }
    const names = out.workflows.map((w) => w.name).join(",");
    if (names !== file.workflows.join(",")) {
      throw new Error(`${file.filename} compiled [${names}], expected [${file.workflows}]`);
    }
    workflows += out.workflows.length;
    checkpoints += out.workflows.reduce((sum, w) => sum + w.checkpoints.length, 0);
  }
  let mentionWorkflow = 0;
  for (const file of plainFiles) {
    // None imports `workflow`: the pre-filter rejects all three kinds unparsed.
    const passes = mayContainWorkflow(file.code);
    if (passes) throw new Error(`${file.filename} (${file.kind}): the pre-filter says ${passes}`);
    if (file.kind === "plain" && file.code.includes("ratchet")) {
      throw new Error(`${file.filename} mentions ratchet`);
    }
    if (file.kind === "plain" && file.code.includes("workflow")) mentionWorkflow++;
    const out = transform(file.code, { filename: file.filename });
    if (
      out.code !== file.code ||
      out.map !== null ||
      out.workflows.length > 0 ||
      out.diagnostics.length > 0
    ) {
      throw new Error(`${file.filename}: transform() changed a module without workflows`);
    }
  }
  for (const file of [...workflowFiles, ...plainFiles]) swcStrip(file);
  return { workflows, checkpoints, plainFilesMentioningWorkflow: mentionWorkflow };
}

/** Where `transform()`'s time goes on one module with workflows, in µs per phase. */
interface Phases {
  parse: number;
  discover: number;
  passes: number;
  print: number;
  sourceMap: number;
  splice: number;
  cacheHit: number;
}
const phaseNames = [
  "parse",
  "discover",
  "passes",
  "print",
  "sourceMap",
  "splice",
  "cacheHit",
] as const satisfies readonly (keyof Phases)[];

/**
 * `transform()`'s steps on one module, each timed: the parse, discovery, the passes (in the
 * transformation context `withTransformationContext` lends, as in `transform()`), printing the
 * machines without a source map, what printing them with one adds, and splicing them into the
 * text with the merged map. Then what the compile cache costs instead of all that on a hit from
 * disk (a fresh process's case): the key's SHA-256, reading the entry and parsing its JSON.
 */
async function timePhases(file: SourceFile, into: Phases, cacheDir: string): Promise<void> {
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const elapsed = (now - t) * 1000;
    t = now;
    return elapsed;
  };
  const sourceFile = parseModule(file.code, file.filename);
  into.parse += lap();
  const sink = new DiagnosticSink(sourceFile, file.filename);
  const sites = discoverWorkflows(sourceFile, sink);
  into.discover += lap();
  const compiled: SplicedWorkflow[] = [];
  withTransformationContext((context) => {
    for (const site of sites) {
      const c = compileWorkflow(site, sourceFile, file.filename, sink, context);
      if (c) compiled.push({ site, ...c });
    }
  });
  into.passes += lap();
  const descriptors = compiled.map((c) => c.descriptor);
  printExpressions(descriptors, sourceFile, false);
  const print = lap();
  into.print += print;
  const printed = printExpressions(descriptors, sourceFile, true);
  into.sourceMap += Math.max(0, lap() - print);
  spliceWorkflows(file.code, sourceFile, file.filename, compiled, true, printed);
  into.splice += lap();
  clearMemoryCache();
  await cachedTransform(file.code, { filename: file.filename }, cacheDir, "bench");
  into.cacheHit += lap();
}

/** Run the compile benchmark: print its table and write `bench/results/compile.json`. */
export async function runCompile(): Promise<void> {
  const { workflowFiles, plainFiles } = generateCorpus(CORPUS);
  const ofKind = (kind: PlainKind) => plainFiles.filter((file) => file.kind === kind);
  const corpusStats = verifyCorpus(workflowFiles, plainFiles);

  const rows: readonly Row[] = [
    {
      name: "with workflows",
      files: workflowFiles,
      subject: "transform()",
      baseline: "swc strip",
      subjectPasses: 1,
      baselinePasses: 5,
      runSubject: ratchetTransform,
      runBaseline: swcStrip,
    },
    {
      name: "with workflows",
      files: workflowFiles,
      subject: "transform()",
      baseline: "ts.transpileModule",
      subjectPasses: 1,
      baselinePasses: 1,
      runSubject: ratchetTransform,
      runBaseline: tsTranspile,
    },
    {
      name: "none, no `ratchet`",
      files: ofKind("plain"),
      subject: "pre-filter, then transform()",
      baseline: "swc strip",
      subjectPasses: 50,
      baselinePasses: 1,
      runSubject: frontDoor,
      runBaseline: swcStrip,
    },
    {
      name: "none, imports ratchet, filtered",
      files: ofKind("ratchet-filtered"),
      subject: "pre-filter, then transform()",
      baseline: "swc strip",
      subjectPasses: 2000,
      baselinePasses: 10,
      runSubject: frontDoor,
      runBaseline: swcStrip,
    },
    {
      name: "none, imports ratchet, says workflow",
      files: ofKind("ratchet-parsed"),
      subject: "pre-filter, then transform()",
      baseline: "swc strip",
      subjectPasses: 2000,
      baselinePasses: 10,
      runSubject: frontDoor,
      runBaseline: swcStrip,
    },
  ];

  const samples = rows.map(() => ({ subject: [] as number[], baseline: [] as number[] }));
  const started = performance.now();
  for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
    for (const [i, row] of rows.entries()) {
      // Alternate which side goes first, so drift within a round does not favour one side.
      const subjectFirst = round % 2 === 0;
      const subject = () => microsPerFile(row.files, row.subjectPasses, row.runSubject);
      const baseline = () => microsPerFile(row.files, row.baselinePasses, row.runBaseline);
      const a = subjectFirst ? subject() : baseline();
      const b = subjectFirst ? baseline() : subject();
      if (round < 0) continue;
      samples[i].subject.push(subjectFirst ? a : b);
      samples[i].baseline.push(subjectFirst ? b : a);
    }
    process.stdout.write(round < 0 ? "warm-up done\n" : `round ${round + 1}/${ROUNDS} done\n`);
  }
  if (sink <= 0) throw new Error("unreachable: keeps the compilers' output alive");

  // The phases, per module with workflows, against swc stripping of the same files.
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), "ratchet-compile-bench-"));
  for (const file of workflowFiles) {
    await cachedTransform(file.code, { filename: file.filename }, cacheDir, "bench");
  }
  const phaseRounds: Phases[] = [];
  const swcRounds: number[] = [];
  for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
    const phases = Object.fromEntries(phaseNames.map((name) => [name, 0])) as unknown as Phases;
    for (const file of workflowFiles) await timePhases(file, phases, cacheDir);
    const swcMicros = microsPerFile(workflowFiles, 1, swcStrip);
    if (round < 0) continue;
    for (const key of phaseNames) phases[key] /= workflowFiles.length;
    phaseRounds.push(phases);
    swcRounds.push(swcMicros);
  }
  await rm(cacheDir, { recursive: true, force: true });
  const phaseMedians = Object.fromEntries(
    phaseNames.map((name) => {
      const micros = median(phaseRounds.map((p) => p[name]));
      const ofSwc = median(phaseRounds.map((p, i) => p[name] / swcRounds[i]!));
      return [name, { micros, ofSwc }];
    }),
  );
  printRows(
    "Where transform() spends its time on a module with workflows (median µs per module)",
    ["phase", "µs/module", "÷ swc strip of the module"],
    phaseNames.map((name) => [
      name,
      formatMicros(phaseMedians[name]!.micros),
      `${formatRatio(phaseMedians[name]!.ofSwc)}×`,
    ]),
    [0],
  );

  const comparisons: CompileComparison[] = rows.map((row, i) => {
    const bytes = byteLength(row.files);
    return {
      name: row.name,
      subject: row.subject,
      baseline: row.baseline,
      files: row.files.length,
      bytes,
      subjectPasses: row.subjectPasses,
      baselinePasses: row.baselinePasses,
      subjectMicros: samples[i].subject,
      baselineMicros: samples[i].baseline,
      subjectMedianKBps: kbPerSecond(bytes, row.files.length, median(samples[i].subject)),
      baselineMedianKBps: kbPerSecond(bytes, row.files.length, median(samples[i].baseline)),
    };
  });
  // All 200 modules without workflows: per round, the file-weighted mean of the three rows
  // above (the same work, so no extra timing).
  const noWorkflowRows = rows.map((_, i) => i).filter((i) => rows[i].name.startsWith("none"));
  const allFiles = noWorkflowRows.flatMap((i) => rows[i].files);
  const weighted = (side: "subject" | "baseline") =>
    samples[0][side].map(
      (_, round) =>
        noWorkflowRows.reduce((sum, i) => sum + samples[i][side][round] * rows[i].files.length, 0) /
        allFiles.length,
    );
  const allBytes = byteLength(allFiles);
  const allSubject = weighted("subject");
  const allBaseline = weighted("baseline");
  comparisons.push({
    name: "none, all",
    subject: "pre-filter, then transform()",
    baseline: "swc strip",
    files: allFiles.length,
    bytes: allBytes,
    subjectPasses: null,
    baselinePasses: null,
    subjectMicros: allSubject,
    baselineMicros: allBaseline,
    subjectMedianKBps: kbPerSecond(allBytes, allFiles.length, median(allSubject)),
    baselineMedianKBps: kbPerSecond(allBytes, allFiles.length, median(allBaseline)),
  });

  const kb = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  printRows(
    `Compile cost per module (workflows in the module?), median of ${ROUNDS} rounds ` +
      `(${((performance.now() - started) / 1000).toFixed(0)} s)`,
    [
      "workflows",
      "files",
      "KB",
      "ratchet µs/file",
      "ratchet KB/s",
      "baseline",
      "baseline µs/file",
      "baseline KB/s",
      "ratio (median)",
      "ratio range",
    ],
    comparisons
      .map(summarize)
      .map((c) => [
        c.name,
        String(c.files),
        kb(c.bytes / 1024),
        formatMicros(c.subjectMedianMicros),
        kb(c.subjectMedianKBps),
        c.baseline,
        formatMicros(c.baselineMedianMicros),
        kb(c.baselineMedianKBps),
        `${formatRatio(c.ratioMedian)}×`,
        `${formatRatio(c.ratioMin)}–${formatRatio(c.ratioMax)}×`,
      ]),
    [0, 5],
  );
  const sizes = (files: readonly SourceFile[]) => {
    const k = kilobytes(files);
    return {
      files: files.length,
      kilobytes: byteLength(files) / 1024,
      min: Math.min(...k),
      max: Math.max(...k),
    };
  };
  const corpus = {
    seed: CORPUS.seed,
    withWorkflows: { ...sizes(workflowFiles), ...corpusStats },
    plain: sizes(ofKind("plain")),
    ratchetFiltered: sizes(ofKind("ratchet-filtered")),
    ratchetParsed: sizes(ofKind("ratchet-parsed")),
  };
  console.log(
    `corpus: ${workflowFiles.length} modules with ${corpusStats.workflows} workflows ` +
      `(${corpusStats.checkpoints} checkpoints), ${corpus.withWorkflows.min.toFixed(1)}–` +
      `${corpus.withWorkflows.max.toFixed(1)} KB; ${plainFiles.length} without ` +
      `(${corpusStats.plainFilesMentioningWorkflow} of the ${CORPUS.plain} without \`ratchet\` ` +
      `say "workflow"), ${Math.min(...kilobytes(plainFiles)).toFixed(1)}–` +
      `${Math.max(...kilobytes(plainFiles)).toFixed(1)} KB`,
  );

  const written = await writeResults("compile", {
    description:
      "µs per module (and KiB of source per second) of compiling a generated corpus, against a " +
      "baseline timed in the same round. Modules with workflows: transform(code, { filename }) " +
      "(source map on), against @swc/core transformSync type stripping (typescript parser, " +
      "target esnext, source map) and against ts.transpileModule of the whole file with no " +
      "transformer (what transform() ran before it printed only the workflows). Modules " +
      "without workflows: mayContainWorkflow(code), then transform() only when it says maybe, " +
      "against swc type stripping; by kind: no mention of ratchet; imports ratchet but never " +
      "says 'workflow'; imports ratchet and says 'workflow' without importing it (all three " +
      "rejected by the pre-filter, unparsed). 'none, all' is the file-weighted mean of the " +
      "three per round. phases: median µs per module with workflows of each step of " +
      "transform() (print: the machines without a source map; sourceMap: what printing them " +
      "with one adds; splice: into the text, with the merged map; cacheHit: what a compile-cache " +
      "hit from disk costs instead, key hash + read + JSON parse), and its median per-round " +
      "ratio to swc stripping of the same modules. " +
      "loadAverage: os.loadavg() at the end. ratioMedian is the median of the per-round ratios.",
    settings: { rounds: ROUNDS, warmupRounds: WARMUP_ROUNDS, corpus },
    extra: {
      loadAverage: os.loadavg(),
      phases: { swcMedianMicros: median(swcRounds), ...phaseMedians },
    },
    machine: machineInfo({ typescript: ts.version, swc: packageVersion("@swc/core") }),
    comparisons,
  });
  console.log(`wrote ${path.relative(process.cwd(), written)}`);
}
