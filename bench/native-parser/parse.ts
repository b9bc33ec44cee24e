/**
 * A prototype measurement, not a port: what would a native parser buy a cold build? The 20
 * workflow modules of the compile benchmark's corpus are parsed, in the same rounds, by
 * TypeScript (`ts.createSourceFile` as `transform()` parses: parent pointers, no JSDoc) and by
 * oxc (`oxc-parser`'s `parseSync`, TypeScript syntax; with raw transfer too where this Node
 * supports it), and stripped by swc (the baseline every other compile figure uses). It also
 * times a cold start: loading each parser into a fresh process.
 *
 * `npm install` here, then from the repository root:
 * `node --import ratchetjs/register bench/native-parser/parse.ts`
 */
import { spawnSync } from "node:child_process";
import os from "node:os";
import swc from "@swc/core";
import { parseSync, rawTransferSupported } from "oxc-parser";
import { parseModule } from "../../compiler/parse.js";
import { generateCorpus, type SourceFile } from "../compile-corpus.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const WARMUP = 3;

const { workflowFiles } = generateCorpus({
  seed: 3,
  workflowFiles: 20,
  plain: 0,
  ratchetFiltered: 0,
  ratchetParsed: 0,
});

let sink = 0;
const parsers: Record<string, (file: SourceFile) => void> = {
  "swc strip (baseline)": (file) => {
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
    sink += out.code.length;
  },
  "ts.createSourceFile": (file) => {
    const sf = parseModule(file.code, file.filename);
    sink += sf.statements.length;
  },
  "oxc parseSync": (file) => {
    sink += parseSync(file.filename, file.code, { lang: "ts" }).program.body.length;
  },
};
if (rawTransferSupported()) {
  parsers["oxc parseSync, raw transfer"] = (file) => {
    // Not in the typings of every version; the parser reads it.
    const options = { lang: "ts", experimentalRawTransfer: true } as Parameters<
      typeof parseSync
    >[2];
    sink += parseSync(file.filename, file.code, options).program.body.length;
  };
}

const names = Object.keys(parsers);
const micros: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let round = -WARMUP; round < ROUNDS; round++) {
  // Rotate the order, so drift within a round favours none.
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + round + WARMUP) % names.length]!;
    const started = performance.now();
    for (let pass = 0; pass < 3; pass++) for (const file of workflowFiles) parsers[name]!(file);
    const elapsed = ((performance.now() - started) * 1000) / (3 * workflowFiles.length);
    if (round >= 0) micros[name]!.push(elapsed);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const baseline = micros[names[0]!]!;
console.log(`parse of ${workflowFiles.length} workflow modules, median of ${ROUNDS} rounds`);
for (const name of names) {
  const ratio = median(micros[name]!.map((m, i) => m / baseline[i]!));
  console.log(
    `${name.padEnd(30)} ${median(micros[name]!).toFixed(0).padStart(6)} µs/module  ${ratio.toFixed(2)}× swc strip`,
  );
}

// Loading each parser into a fresh process: what a cold build pays before parsing anything.
// Interleaved with a bare start, the difference taken per round.
const modules = ["typescript", "oxc-parser", "@swc/core"];
const startMs = (module: string) => {
  const started = performance.now();
  const child = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(module)})`], {
    cwd: import.meta.dirname,
    encoding: "utf8",
  });
  if (child.status !== 0) throw new Error(child.stderr);
  return performance.now() - started;
};
const loads: Record<string, number[]> = Object.fromEntries(modules.map((m) => [m, []]));
for (let round = 0; round < 15; round++) {
  const bare = startMs("node:os");
  for (const module of modules) loads[module]!.push(startMs(module) - bare);
}
for (const module of modules) {
  console.log(
    `load ${module.padEnd(12)} ${median(loads[module]!).toFixed(0).padStart(5)} ms beyond a bare node start (median of 15)`,
  );
}
console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}; sink ${sink > 0}`,
);
