/**
 * Profile `transform()` on the compile benchmark's modules with workflows:
 * `node --import ratchetjs/register --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-transform.ts [seconds]`
 * compiles them over and over for that long (default 10 s) and prints µs per module.
 */
import { transform } from "../compiler/index.js";
import { generateCorpus } from "./compile-corpus.js";

const { workflowFiles } = generateCorpus({
  seed: 3,
  workflowFiles: 20,
  plain: 0,
  ratchetFiltered: 0,
  ratchetParsed: 0,
});
const seconds = Number(process.argv[2] ?? 10);
const sourceMap = process.env.PROFILE_SOURCE_MAP !== "0";
const until = performance.now() + seconds * 1000;
let modules = 0;
const started = performance.now();
while (performance.now() < until) {
  for (const file of workflowFiles) {
    transform(file.code, { filename: file.filename, sourceMap });
    modules++;
  }
}
const micros = ((performance.now() - started) * 1000) / modules;
console.log(`${modules} modules, ${micros.toFixed(0)} µs per module`);
