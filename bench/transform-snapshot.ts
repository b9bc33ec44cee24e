/**
 * What `transform()` and `describeMachine()` return for a fixed set of modules, to show that a
 * change to the compiler that should not change its output does not (code, source maps,
 * manifests with their version hashes and checkpoint ids, diagnostics, block graphs):
 *
 * `node --import ratchetjs/register bench/transform-snapshot.ts write <out.json> [inputs.jsonl …]`
 * `node --import ratchetjs/register bench/transform-snapshot.ts check <out.json> [inputs.jsonl …]`
 * `node --import ratchetjs/register bench/transform-snapshot.ts meaning <out.json> [inputs.jsonl …]`
 *
 * The modules: the compile benchmark's corpus, every `.ts` file under `examples/` and
 * `test/fixtures/`, and the `{ filename, code }` lines of each `inputs.jsonl` given (modules
 * collected elsewhere, such as those the tests compile). Each is compiled with and without a
 * source map. `check` prints the modules whose output differs and exits 1 if any does.
 * `meaning` compares everything but the code and its map — the manifests (version hashes,
 * checkpoint ids, the frame keys of the live lists), the diagnostics and the block graphs — for a
 * change meant to print the machines differently and to mean the same.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { describeMachine, transform } from "../compiler/index.js";
import { generateCorpus } from "./compile-corpus.js";

interface Input {
  readonly filename: string;
  readonly code: string;
}

const root = fileURLToPath(new URL("..", import.meta.url));

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist") continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else if (/\.[cm]?tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(full);
  }
  return out.sort();
}

function inputs(extra: readonly string[]): Input[] {
  const corpus = generateCorpus({
    seed: 3,
    workflowFiles: 20,
    plain: 0,
    ratchetFiltered: 0,
    ratchetParsed: 14,
  });
  const all: Input[] = [...corpus.workflowFiles, ...corpus.plainFiles];
  for (const dir of ["examples", "test/fixtures"]) {
    for (const file of filesUnder(path.join(root, dir))) {
      all.push({ filename: path.relative(root, file), code: readFileSync(file, "utf8") });
    }
  }
  for (const jsonl of extra) {
    for (const line of readFileSync(jsonl, "utf8").split("\n")) {
      if (line.trim() !== "") all.push(JSON.parse(line) as Input);
    }
  }
  const seen = new Set<string>();
  return all.filter((input) => {
    const key = `${input.filename}\0${input.code}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function outputOf(input: Input): string {
  const withMap = transform(input.code, { filename: input.filename });
  const withoutMap = transform(input.code, { filename: input.filename, sourceMap: false });
  return JSON.stringify({
    withMap,
    withoutMap,
    machines: describeMachine(input.code, input.filename),
  });
}

const [mode, outFile, ...extra] = process.argv.slice(2);
/** What `meaning` compares of an output: all of it but the code and the map. */
function meaningOf(output: string): unknown {
  const { withMap, withoutMap, machines } = JSON.parse(output) as {
    withMap: { workflows: unknown; diagnostics: unknown };
    withoutMap: { workflows: unknown; diagnostics: unknown };
    machines: unknown;
  };
  return [
    withMap.workflows,
    withMap.diagnostics,
    withoutMap.workflows,
    withoutMap.diagnostics,
    machines,
  ];
}

if ((mode !== "write" && mode !== "check" && mode !== "meaning") || !outFile) {
  console.error("usage: transform-snapshot.ts write|check|meaning <out.json> [inputs.jsonl …]");
  process.exit(2);
}
const modules = inputs(extra);
const outputs: Record<string, string> = {};
for (const input of modules) {
  outputs[`${input.filename}\0${input.code}`] = outputOf(input);
}
if (mode === "write") {
  writeFileSync(outFile, JSON.stringify(outputs));
  console.log(`${modules.length} modules written to ${outFile}`);
} else {
  const expected = JSON.parse(readFileSync(outFile, "utf8")) as Record<string, string>;
  let differ = 0;
  let missing = 0;
  for (const [key, output] of Object.entries(outputs)) {
    if (!(key in expected)) missing++;
    else if (
      mode === "check"
        ? expected[key] !== output
        : !isDeepStrictEqual(meaningOf(expected[key]!), meaningOf(output))
    ) {
      differ++;
      console.log(`differs: ${key.split("\0")[0]}`);
    }
  }
  const what = mode === "check" ? "differ" : "differ in meaning";
  console.log(`${modules.length} modules: ${differ} ${what}, ${missing} not in ${outFile}`);
  if (differ > 0) process.exit(1);
}
