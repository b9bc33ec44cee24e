/**
 * `npm run bench`: every benchmark in turn; `npm run bench -- compile` (or `checkpoints`,
 * `plugin-build`, `serialization`, `scale-out`, `checkpoints-concurrent`, `resume`, `checkpoint-costs`,
 * `claims`) only the
 * ones named. Each prints a table and writes
 * `bench/results/<name>.json`; bench/README.md says what each figure measures.
 */
const benchmarks: Readonly<Record<string, () => Promise<void>>> = {
  checkpoints: async () => (await import("./checkpoints.js")).runCheckpoints(),
  compile: async () => (await import("./compile.js")).runCompile(),
  "plugin-build": async () => (await import("./plugin-build.js")).runPluginBuild(),
  serialization: async () => (await import("./serialization.js")).runSerialization(),
  "scale-out": async () => (await import("./scale-out.js")).runScaleOut(),
  "checkpoints-concurrent": async () =>
    (await import("./checkpoints-concurrent.js")).runCheckpointsConcurrent(),
  resume: async () => (await import("./resume.js")).runResume(),
  "checkpoint-costs": async () => (await import("./checkpoint-costs.js")).runCheckpointCosts(),
  claims: async () => (await import("./claims.js")).runClaims(),
};

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !Object.hasOwn(benchmarks, name));
if (unknown.length > 0) {
  console.error(
    `Unknown benchmark ${unknown.join(", ")}; the benchmarks are ${Object.keys(benchmarks).join(", ")}.`,
  );
  process.exit(2);
}
for (const name of requested.length > 0 ? requested : Object.keys(benchmarks)) {
  await benchmarks[name]();
}
