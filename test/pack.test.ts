import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A newcomer's first hour, as a test: the package packed, installed by name into a fresh
// project outside this repository with only its required peers (typescript, better-sqlite3;
// no @swc/core, no @types), the README's first workflow pasted as it is, run with
// `node --import ratchetjs/register`, type-checked with tsc and built with Vite. The package's
// own dependencies come from npm's cache where it has them (`--prefer-offline`: `npm ci` caches
// their tarballs but not the registry's metadata an install by range needs, so a fresh machine
// asks the registry for it); the peers are this repository's copies.

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const installTimeoutMs = 240_000;
const peers = ["typescript", "better-sqlite3", "vite"] as const;

/** The first fenced block of `lang` after `heading` in the README. */
function readmeBlock(heading: string, lang: string): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf(heading));
  const match = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\\n *\`\`\``).exec(section);
  if (match?.[1] === undefined) throw new Error(`README.md has no ${lang} block after ${heading}`);
  // The Vite config sits in a list item: drop the item's indentation.
  const lines = match[1].split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return `${lines.map((l) => l.slice(indent)).join("\n")}\n`;
}

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
        name: "ratchet-newcomer",
        private: true,
        type: "module",
        // ratchetjs's `prepare` would build from sources the package does not ship.
        allowScripts: { [`file:${tarball}`]: false },
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
          // No @types/node nor @types/better-sqlite3, and the package's own declarations are
          // checked too: its types must stand on their own.
          types: [],
          skipLibCheck: false,
        },
        files: ["app.ts", "type-checks.ts"],
      },
      null,
      2,
    ),
    "app.ts": readmeBlock("## A first workflow", "ts"),
    "vite.config.ts": readmeBlock("## Ways to run it", "ts"),
    "type-checks.ts": typeChecksSource,
    "no-typescript.js": noTypeScriptSource,
  });

  install = npm(
    ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--no-package-lock"],
    projectDir,
  );
  // The peers, as the user would have installed them: this repository's copies. A failed
  // install is reported by the first test, with npm's output.
  if (install.status !== 0) return;
  for (const peer of peers) {
    symlinkSync(join(repoRoot, "node_modules", peer), join(projectDir, "node_modules", peer));
  }
}, installTimeoutMs + 60_000);

afterAll(() => {
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

describe("the packed package in a fresh project", () => {
  it("installs by name, with no required dependency beyond its own small ones", () => {
    expect(install.status, `${install.stdout}\n${install.stderr}`).toBe(0);
    const manifest = JSON.parse(
      readFileSync(join(projectDir, "node_modules/ratchetjs/package.json"), "utf8"),
    ) as { dependencies: Record<string, string>; files: string[] };
    expect(Object.keys(manifest.dependencies)).not.toContain("typescript");
    expect(
      readFileSync(join(projectDir, "node_modules/ratchetjs/docs/plugins.md"), "utf8"),
    ).toMatch(/ratchetjs\/register/);
  });

  it("runs the README's first workflow with node --import ratchetjs/register (no @swc/core)", () => {
    const first = node(["--import", "ratchetjs/register", "app.ts"]);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toContain("confirmation sent for order-42");
    expect(first.stdout).toMatch(/status: 'complete', orderId: 'order-42', chargeId: 'ch_/);

    // Run again: the same idempotency key returns the stored run; nothing is sent twice.
    const second = node(["--import", "ratchetjs/register", "app.ts"]);
    expect(second.stderr).toBe("");
    expect(second.stdout).not.toContain("confirmation sent");
    expect(second.stdout.trim()).toBe(first.stdout.split("\n").slice(1).join("\n").trim());
  });

  it("type-checks the README's example against the package's declarations", () => {
    const tsc = join(projectDir, "node_modules/typescript/bin/tsc");
    const check = node([tsc, "--noEmit", "-p", projectDir], 120_000);
    expect(check.stdout + check.stderr).toBe("");
    expect(check.status).toBe(0);
  });

  it("builds the README's example with Vite and the README's config, and runs the build", () => {
    const vite = join(projectDir, "node_modules/vite/bin/vite.js");
    const build = node([vite, "build", "--logLevel", "error"], 120_000);
    expect(build.stderr).toBe("");
    expect(build.status).toBe(0);

    rmSync(join(projectDir, "ratchet.db"), { force: true });
    const run = node(["dist/app.js"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("confirmation sent for order-42");
    expect(run.stdout).toMatch(/status: 'complete'/);
  });

  it("loads neither TypeScript nor a driver when only the runtime and an adapter are imported", () => {
    const check = node(["no-typescript.js"]);
    expect(check.stderr).toBe("");
    expect(check.stdout.trim()).toBe("typescript: no, better-sqlite3: no");
  });
});

// Only type-checked, never run: each @ts-expect-error fails the check if the published types
// are too loose (e.g. `any`) to catch the mistake below it.
const typeChecksSource = `import { fn, workflow, type FunctionContext, type WorkflowContext } from "ratchetjs";
import { createTestEngine } from "ratchetjs/testing";

const double = fn(async (_ctx: FunctionContext, n: number) => n * 2);

export const typed = workflow(async (ctx: WorkflowContext) => {
  const n: number = await ctx.step(double, 1);
  // @ts-expect-error: double takes a number
  await ctx.step(double, "one");
  // @ts-expect-error: a step resolves to its function's result type
  const s: string = await ctx.step(double, 2);
  // @ts-expect-error: not a duration
  await ctx.sleep("15 minuts");
  await ctx.sleep("15 minutes");
  return { n, s };
});

const t = createTestEngine({ workflows: [typed] });
// @ts-expect-error: the override must take double's arguments
t.override(double, async (_ctx: FunctionContext, n: string) => n);
`;

const noTypeScriptSource = `import { createRequire } from "node:module";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { createEngine } from "ratchetjs";
import { createTestEngine } from "ratchetjs/testing";

void [memory, sqlite, createEngine, createTestEngine];
// CommonJS modules imported from ES modules are in require.cache too.
const loaded = Object.keys(createRequire(import.meta.url).cache);
const has = (name) => (loaded.some((path) => path.includes(\`/node_modules/\${name}/\`)) ? "yes" : "no");
console.log(\`typescript: \${has("typescript")}, better-sqlite3: \${has("better-sqlite3")}\`);
`;

function node(args: string[], timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, args, { cwd: projectDir, encoding: "utf8", timeout });
}

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
