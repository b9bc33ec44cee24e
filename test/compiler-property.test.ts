import { loadavg } from "node:os";
import { inspect } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type LoadedCase,
  load,
  loadMany,
  type OracleCase,
  runCompiled,
  runPlain,
} from "./support/oracle.js";
import {
  ALL_FEATURES,
  BASIC,
  FEATURE_NAMES,
  type GeneratorFeatures,
  programArbitrary,
  SUPPORTED_NOW,
} from "./support/program-generator.js";

/**
 * Property-based compile-and-run: generated workflow programs (test/support/program-generator.ts)
 * run as plain async code, compiled uninterrupted, and compiled then crashed after each of
 * their checkpoints and resumed — all must give the same result or error and the same step
 * calls. A program the generator believes supported that does not compile is a failure too.
 *
 * Environment:
 * - RATCHET_PROPERTY_RUNS: programs per run (default 1000; `npm run test:property:long` 20000).
 * - RATCHET_PROPERTY_SEED: replay a run (fast-check prints the seed of a failure).
 * - RATCHET_PROPERTY_FEATURES: generator flags to change from SUPPORTED_NOW, comma separated:
 *   `awaitInDestructuringDefaults` turns one on, `-checkpointsInTry` turns one off; `all` and
 *   `basic` (the subset before checkpoints in loops, try, … were supported) start from those.
 *
 * Speed: importing one module per program through Vite costs ~15 ms, so the programs
 * fast-check will try are drawn first (`fc.sample` of the same arbitrary with the same seed
 * gives the same values) and loaded in batches, one module per batch; the property then
 * finds them in a cache. Programs made while shrinking are loaded one by one.
 */

const runs = Number(process.env.RATCHET_PROPERTY_RUNS ?? 1000);
const seed = process.env.RATCHET_PROPERTY_SEED
  ? Number(process.env.RATCHET_PROPERTY_SEED)
  : Math.floor(Math.random() * 0x7fffffff);
const BATCH = 200;

function featuresFromEnv(value: string | undefined): GeneratorFeatures {
  const features: Record<string, boolean> = { ...SUPPORTED_NOW };
  for (const item of (value ?? "").split(",").map((n) => n.trim())) {
    if (item === "") continue;
    if (item === "all" || item === "basic") {
      Object.assign(features, item === "all" ? ALL_FEATURES : BASIC);
      continue;
    }
    const name = item.replace(/^-/, "");
    if (!(FEATURE_NAMES as string[]).includes(name)) {
      throw new Error(
        `RATCHET_PROPERTY_FEATURES: unknown flag "${name}"; known: ${FEATURE_NAMES.join(", ")}`,
      );
    }
    features[name] = !item.startsWith("-");
  }
  return features as unknown as GeneratorFeatures;
}

const features = featuresFromEnv(process.env.RATCHET_PROPERTY_FEATURES);

function show(c: OracleCase): string {
  return `async (ctx, ${c.params}) => {\n${c.body}\n}  // args: ${JSON.stringify(c.args)}`;
}

const keyOf = (c: OracleCase) => `${c.params}\n${c.body}`;

/** Loaded programs by source; filled a batch at a time. */
class ProgramCache {
  readonly #loaded = new Map<string, LoadedCase>();
  readonly #batchOf = new Map<string, number>();
  readonly #batches: OracleCase[][] = [];
  readonly #loading = new Map<number, Promise<void>>();
  hits = 0;
  misses = 0;

  constructor(cases: readonly OracleCase[]) {
    for (const c of cases) {
      const key = keyOf(c);
      if (this.#batchOf.has(key)) continue;
      if ((this.#batches.at(-1)?.length ?? BATCH) >= BATCH) this.#batches.push([]);
      this.#batchOf.set(key, this.#batches.length - 1);
      this.#batches.at(-1)!.push(c);
    }
  }

  async get(c: OracleCase): Promise<LoadedCase> {
    const key = keyOf(c);
    const batch = this.#batchOf.get(key);
    if (batch !== undefined) {
      let loading = this.#loading.get(batch);
      if (!loading) {
        loading = this.#loadBatch(this.#batches[batch]!);
        this.#loading.set(batch, loading);
      }
      await loading;
    }
    const loaded = this.#loaded.get(key);
    if (loaded) {
      this.hits++;
      return loaded;
    }
    this.misses++;
    return await load(c);
  }

  /** One module for the batch; when it does not compile, halve it until the culprits are alone. */
  async #loadBatch(cases: readonly OracleCase[]): Promise<void> {
    if (cases.length === 0) return;
    try {
      const loaded = await loadMany(cases);
      for (const [i, c] of cases.entries()) this.#loaded.set(keyOf(c), loaded[i]!);
    } catch {
      // A lone case that does not compile is reported by `load` in the property.
      if (cases.length === 1) return;
      const half = Math.ceil(cases.length / 2);
      await this.#loadBatch(cases.slice(0, half));
      await this.#loadBatch(cases.slice(half));
    }
  }
}

/** Progress of a long run, on stderr every 1,000 programs (a run of 20,000 takes a while). */
const progress = { checked: 0, started: performance.now() };
function report(): void {
  progress.checked++;
  if (runs <= 1000 || progress.checked % 1000 !== 0) return;
  const seconds = (performance.now() - progress.started) / 1000;
  process.stderr.write(
    `compiler-property: ${progress.checked} programs checked in ${seconds.toFixed(0)} s (seed ${seed}, load average ${loadavg()[0]!.toFixed(1)})\n`,
  );
}

async function check(c: OracleCase, cache: ProgramCache): Promise<void> {
  report();
  let loaded: LoadedCase;
  try {
    loaded = await cache.get(c);
  } catch (error) {
    throw new Error(`this program does not compile:\n${show(c)}\n${(error as Error).message}`);
  }
  // The time limit counts the runs, not the loading: a batch of programs compiles as one
  // module, which on a busy machine can take longer than running any program.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`this program ran for more than 20 s:\n${show(c)}`)),
      20_000,
    );
  });
  try {
    await Promise.race([compare(c, loaded), limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function compare(c: OracleCase, loaded: LoadedCase): Promise<void> {
  const expected = await runPlain(loaded.plain, c.args);
  const { checkpoints, ...uninterrupted } = await runCompiled(loaded.compiled, c.args);
  const outcomes: { what: string; outcome: unknown }[] = [
    { what: "uninterrupted", outcome: uninterrupted },
  ];
  for (let k = 1; k <= checkpoints; k++) {
    const { checkpoints: _, ...resumed } = await runCompiled(loaded.compiled, c.args, k);
    outcomes.push({ what: `crashed after checkpoint ${k}`, outcome: resumed });
  }
  for (const { what, outcome } of outcomes) {
    try {
      expect(outcome).toStrictEqual(expected);
    } catch {
      const text = (o: unknown) => inspect(o, { depth: 6, breakLength: Number.POSITIVE_INFINITY });
      throw new Error(
        `compiled (${what}) differs from the plain function:\n${show(c)}\n  plain:    ${text(expected)}\n  compiled: ${text(outcome)}`,
      );
    }
  }
}

const changed = FEATURE_NAMES.filter((name) => features[name] !== SUPPORTED_NOW[name]).map(
  (name) => (features[name] ? `+${name}` : `-${name}`),
);

// fast-check prints the seed of a failing run; it stays out of the name so the name is stable.
describe(`generated programs (${runs} runs${changed.length > 0 ? `, ${changed.join(" ")}` : ""})`, () => {
  it(
    "compiled workflows match the untransformed function, uninterrupted and crashed at every checkpoint",
    async () => {
      const programs = programArbitrary(features);
      // Sampling the arbitrary (not the property: fc.sample would treat it as an arbitrary
      // and bias it differently) with the seed gives exactly the values fc.assert tries.
      const cache = new ProgramCache(fc.sample(programs, { seed, numRuns: runs }));
      const property = fc.asyncProperty(programs, (c) => check(c, cache));
      await fc.assert(property, { seed, numRuns: runs });
      if (cache.misses > runs / 10) {
        console.warn(
          `compiler-property: ${cache.misses} of ${cache.hits + cache.misses} programs were not preloaded; fast-check's sample no longer matches assert, so this test got slower.`,
        );
      }
    },
    // ~8 programs a second on a loaded 2-core machine; 20,000 took longer than 100 ms each.
    60_000 + runs * 250,
  );

  it("the generator makes valid programs that terminate, with every feature on", async () => {
    // Run as plain async functions (no compiler): only the errors programs mean to raise may escape.
    const AsyncFunction = (async () => {}).constructor as new (
      ...source: string[]
    ) => (...args: unknown[]) => Promise<unknown>;
    class FatalError extends Error {}
    const steps = {
      add: (_: unknown, a: number, b: number) => a + b,
      echo: (_: unknown, x: unknown) => x,
      boom: (_: unknown, message: string) => {
        throw new FatalError(message);
      },
    };
    const ctx = {
      async step(target: unknown, ...args: unknown[]) {
        if (typeof target === "string") return await (args[0] as () => unknown)();
        return await (target as (...a: unknown[]) => unknown)(undefined, ...args);
      },
    };
    await fc.assert(
      // Without `using`: Node 20 does not parse it (the oracle's modules are compiled first).
      fc.asyncProperty(programArbitrary({ ...ALL_FEATURES, using: false }), async (c) => {
        let body: (...args: unknown[]) => Promise<unknown>;
        try {
          const make = new AsyncFunction(
            "add",
            "echo",
            "boom",
            // Strict, like the ES modules the programs run in elsewhere.
            `"use strict"; return async (ctx, ${c.params}) => {\n${c.body}\n};`,
          );
          body = (await make(steps.add, steps.echo, steps.boom)) as typeof body;
        } catch (error) {
          throw new Error(`invalid program:\n${show(c)}\n${error}`);
        }
        try {
          await body(ctx, ...c.args);
        } catch (error) {
          const thrown =
            error instanceof FatalError ||
            (error instanceof Error && error.constructor === Error && /^t/.test(error.message)) ||
            // A dead-zone access left uncaught (DeadZone in the generator).
            (error instanceof ReferenceError && /before initialization/.test(error.message));
          if (!thrown) throw new Error(`program failed unexpectedly:\n${show(c)}\n${error}`);
        }
      }),
      { seed, numRuns: Math.min(runs, 2000), timeout: 5_000 },
    );
  });
});
