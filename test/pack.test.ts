import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The package as a user gets it: packed, installed into a fresh project outside this
// repository, run with `node --import ratchetjs/register`, and type-checked against its .d.ts.

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const installTimeoutMs = 240_000;

let workDir: string;
let projectDir: string;
let install: SpawnSyncReturns<string>;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), "ratchet-pack-"));

  // --ignore-scripts: `prepare` would rebuild dist/ (rm -rf first) under the other test files
  // running in parallel; dist/ is already built by the global setup (test/support/build.ts).
  const pack = npm(["pack", "--json", "--ignore-scripts", "--pack-destination", workDir], repoRoot);
  if (pack.status !== 0) throw new Error(`npm pack failed:\n${pack.stdout}\n${pack.stderr}`);
  const [packed] = JSON.parse(pack.stdout) as [{ filename: string }];
  const tarball = join(workDir, packed.filename);

  projectDir = join(workDir, "project");
  writeFiles(projectDir, {
    "package.json": JSON.stringify(
      {
        name: "ratchet-pack-check",
        private: true,
        type: "module",
        // npm runs only the dependency install scripts allowed here: @swc/core's postinstall
        // checks its native binding. A tarball's scripts are keyed by its file: URL; ratchet's
        // `prepare` would build from sources the package does not ship, and dist/ is in it.
        allowScripts: { "@swc/core": true, [`file:${tarball}`]: false },
      },
      null,
      2,
    ),
    "tsconfig.json": JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2023", "DOM"],
          strict: true,
          noEmit: true,
          // No @types/node here, and the package's own declarations are checked too: its
          // types must stand on their own for a project that never uses Node's APIs.
          types: [],
          skipLibCheck: false,
        },
        files: ["app.ts", "type-checks.ts"],
      },
      null,
      2,
    ),
    "app.ts": appSource,
    "type-checks.ts": typeChecksSource,
  });

  // The version this repository was tested with, which `npm ci` left in the npm cache.
  const swcVersion = (
    JSON.parse(readFileSync(join(repoRoot, "node_modules/@swc/core/package.json"), "utf8")) as {
      version: string;
    }
  ).version;
  install = npm(
    ["install", tarball, `@swc/core@${swcVersion}`, "--no-audit", "--no-fund", "--prefer-offline"],
    projectDir,
  );
}, installTimeoutMs + 60_000);

afterAll(() => {
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

describe("the packed package in a fresh project", () => {
  it("installs", () => {
    expect(install.status, `${install.stdout}\n${install.stderr}`).toBe(0);
  });

  it("runs a two-step workflow with node --import ratchetjs/register", () => {
    const run = spawnSync(process.execPath, ["--import", "ratchetjs/register", "app.ts"], {
      cwd: projectDir,
      encoding: "utf8",
      timeout: 60_000,
    });

    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe('{"doubled":40,"text":"n=41"} completed');
  });

  it("type-checks against the package's declarations", () => {
    const tsc = join(repoRoot, "node_modules/typescript/bin/tsc");
    const check = spawnSync(process.execPath, [tsc, "--noEmit", "-p", projectDir], {
      cwd: projectDir,
      encoding: "utf8",
      timeout: 120_000,
    });

    expect(check.stdout + check.stderr).toBe("");
    expect(check.status).toBe(0);
  });
});

const appSource = `import { createEngine, fn, workflow, type FunctionContext, type WorkflowContext } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";

export const double = fn(async (_ctx: FunctionContext, n: number): Promise<number> => n * 2);
export const label = fn(async (_ctx: FunctionContext, n: number): Promise<string> => \`n=\${n}\`);

export const pipeline = workflow(async (ctx: WorkflowContext, n: number) => {
  const doubled = await ctx.step(double, n);
  const text = await ctx.step(label, doubled + 1);
  return { doubled, text };
});

const engine = createEngine({ storage: memory(), workflows: [pipeline] });
const run = await engine.start(pipeline, [20]);
console.log(JSON.stringify(await run.result()), await run.status());
await engine.close();
`;

// Only type-checked, never run: each @ts-expect-error fails the check if the published types
// are too loose (e.g. \`any\`) to catch the mistake below it.
const typeChecksSource = `import { fn, workflow, type FunctionContext, type WorkflowContext } from "ratchetjs";

const double = fn(async (_ctx: FunctionContext, n: number) => n * 2);

export const typed = workflow(async (ctx: WorkflowContext) => {
  const n: number = await ctx.step(double, 1);
  // @ts-expect-error: double takes a number
  await ctx.step(double, "one");
  // @ts-expect-error: a step resolves to its function's result type
  const s: string = await ctx.step(double, 2);
  return { n, s };
});
`;

/** Runs npm without the npm_* variables of the `npm test` that started vitest. */
function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_")),
  );
  return spawnSync("npm", args, { cwd, env, encoding: "utf8", timeout: installTimeoutMs });
}

function writeFiles(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}
