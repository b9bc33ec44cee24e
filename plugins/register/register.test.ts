import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// These tests run the built hook (dist/), the way `node --import ratchetjs/register` runs it.
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const registerEntry = join(repoRoot, "dist/plugins/register/index.js");

// Fixtures live inside the repository (in the git-ignored test-artifacts/) so that "ratchet"
// and "ratchetjs/register" resolve to this package by self-reference.
let projectDir: string;

beforeAll(() => {
  mkdirSync(join(repoRoot, "test-artifacts"), { recursive: true });
  projectDir = mkdtempSync(join(repoRoot, "test-artifacts", "register-"));
});

afterAll(() => {
  if (projectDir !== undefined) rmSync(projectDir, { recursive: true, force: true });
});

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

function runTs(
  entry: string,
  options: { cwd?: string; importSpecifier?: string; env?: Record<string, string> } = {},
): { status: number | null; stdout: string; stderr: string } {
  const importSpecifier = options.importSpecifier ?? pathToFileURL(registerEntry).href;
  const result = spawnSync(process.execPath, ["--import", importSpecifier, entry], {
    cwd: options.cwd ?? projectDir,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("ratchetjs/register on TypeScript without workflows", () => {
  it("strips type annotations, interfaces, generics, enums and type-only imports", () => {
    writeFiles(projectDir, {
      "strip/shapes.ts": "export interface Shape { kind: string; size: number }\n",
      "strip/main.ts": [
        'import type { Shape } from "./shapes.js";',
        "enum Unit { Px = 1, Em = 16 }",
        "type Pair<T> = [T, T];",
        "function area<T extends Shape>(shape: T, unit: Unit): number {",
        "  return shape.size * shape.size * unit;",
        "}",
        "const pair: Pair<number> = [area({ kind: 'sq', size: 2 }, Unit.Px), 0];",
        "const checked = { total: pair[0] as number } satisfies { total: number };",
        "console.log(JSON.stringify(checked));",
        "",
      ].join("\n"),
    });

    const result = runTs("strip/main.ts");

    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('{"total":4}');
  });

  it("resolves ./x.js to x.ts and ./x.mjs to x.mts, as TypeScript's NodeNext does", () => {
    writeFiles(projectDir, {
      "js-ext/lib.ts": "export const fromTs: string = 'lib.ts';\n",
      "js-ext/mod.mts": "export const fromMts: string = 'mod.mts';\n",
      "js-ext/main.ts": [
        'import { fromTs } from "./lib.js";',
        'import { fromMts } from "./mod.mjs";',
        "console.log(fromTs, fromMts);",
        "",
      ].join("\n"),
    });

    const result = runTs("js-ext/main.ts");

    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("lib.ts mod.mts");
  });

  it("resolves extensionless specifiers to .ts files and to a directory's index.ts", () => {
    writeFiles(projectDir, {
      "bare/util.ts": "export const util: string = 'util.ts';\n",
      "bare/lib/index.ts": "export const lib: string = 'lib/index.ts';\n",
      "bare/main.ts": [
        'import { util } from "./util";',
        'import { lib } from "./lib";',
        "console.log(util, lib);",
        "",
      ].join("\n"),
    });

    const result = runTs("bare/main.ts");

    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("util.ts lib/index.ts");
  });

  it("reports an error thrown in a .ts file at that file's own line", () => {
    // The interface and the annotations vanish from the JavaScript, so without the source map
    // the throw would be reported several lines up.
    writeFiles(projectDir, {
      "stack/throws.ts": [
        "interface Order {",
        "  id: string;",
        "  total: number;",
        "}",
        "",
        "function charge(order: Order): never {",
        "  throw new Error('card declined for ' + order.id);",
        "}",
        "",
        "charge({ id: 'o-1', total: 5 });",
        "",
      ].join("\n"),
    });

    const result = runTs("stack/throws.ts");
    const file = join(projectDir, "stack/throws.ts");

    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("Error: card declined for o-1");
    expect(result.stderr).toContain(`at charge (${file}:7:9)`);
    expect(result.stderr).toContain(`${file}:10:`);
  });

  it("refuses .cts files with a clear message", () => {
    writeFiles(projectDir, {
      "cts/legacy.cts": "export const legacy: number = 1;\n",
      "cts/main.ts": 'import { legacy } from "./legacy.cjs";\nconsole.log(legacy);\n',
    });

    const result = runTs("cts/main.ts");

    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      `ratchetjs/register cannot load ${join(projectDir, "cts/legacy.cts")}: ` +
        "CommonJS TypeScript (.cts) is not supported yet",
    );
  });

  it("is reachable as ratchetjs/register through the package's exports", () => {
    writeFiles(projectDir, { "exports/main.ts": "const n: number = 42;\nconsole.log(n);\n" });

    const result = runTs("exports/main.ts", { importSpecifier: "ratchetjs/register" });

    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("42");
  });

  /**
   * A copy of the hook in a directory of its own, with no node_modules above it but the
   * packages linked here, so the others cannot be found.
   */
  function isolatedHook(linked: readonly string[]): string {
    const isolated = mkdtempSync(join(tmpdir(), "ratchet-register-isolated-"));
    for (const file of [
      "plugins/register/index.js",
      "plugins/register/hooks.js",
      "plugins/typescript-peer.js",
      "plugins/code-cache.js",
      "plugins/cache.js",
      "compiler/prefilter.js",
      "compiler/diagnostics.js",
    ]) {
      mkdirSync(dirname(join(isolated, file)), { recursive: true });
      copyFileSync(join(repoRoot, "dist", file), join(isolated, file));
    }
    mkdirSync(join(isolated, "node_modules"));
    // The hook's own dependencies (installed with ratchetjs), then the peers under test.
    for (const name of ["@jridgewell", ...linked]) {
      symlinkSync(join(repoRoot, "node_modules", name), join(isolated, "node_modules", name));
    }
    return isolated;
  }

  function runIsolated(isolated: string, files: Record<string, string>, entry: string) {
    writeFiles(isolated, files);
    return runTs(entry, {
      cwd: isolated,
      importSpecifier: pathToFileURL(join(isolated, "plugins/register/index.js")).href,
    });
  }

  it("strips types with TypeScript when @swc/core is not installed", () => {
    const isolated = isolatedHook(["typescript"]);
    try {
      const result = runIsolated(
        isolated,
        {
          "app/shapes.ts": "export interface Shape { size: number }\nexport const unit = 2;\n",
          "app/main.ts": [
            'import { type Shape, unit } from "./shapes.js";',
            "enum Scale { Double = 2 }",
            "const shape: Shape = { size: 21 };",
            "console.log(shape.size * Scale.Double, unit);",
            "throw new Error('where');",
            "",
          ].join("\n"),
        },
        "app/main.ts",
      );

      expect(result.stdout.trim()).toBe("42 2");
      // The inline source map leads the stack back to the .ts line.
      expect(result.stderr).toMatch(/app[\\/]main\.ts:5:7/);
    } finally {
      rmSync(isolated, { recursive: true, force: true });
    }
  });

  it("says what to install when neither @swc/core nor typescript is there", () => {
    const isolated = isolatedHook([]);
    try {
      const result = runIsolated(
        isolated,
        { "app/main.ts": "const n: number = 1;\nconsole.log(n);\n" },
        "app/main.ts",
      );

      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(
        "ratchetjs/register strips types with @swc/core, which is not installed, or else with TypeScript, and the typescript package is not installed",
      );
      expect(result.stderr).toContain("npm install -D typescript");
    } finally {
      rmSync(isolated, { recursive: true, force: true });
    }
  });
});

describe("ratchetjs/register on workflows", () => {
  it("serves a second start from the compile cache without loading TypeScript, and compiles an edited file again", () => {
    const cacheDir = join(projectDir, "cache");
    const env = { RATCHET_CACHE_DIR: cacheDir };
    const program = (add: number) =>
      [
        'import { createEngine, fn, workflow } from "ratchetjs";',
        'import { memory } from "ratchetjs/adapters/memory";',
        `const add = fn(async (_ctx, n: number): Promise<number> => n + ${add});`,
        "export const flow = workflow(async (ctx, n: number) => await ctx.step(add, n));",
        "const engine = createEngine({ storage: memory(), workflows: [flow] });",
        "console.log(await (await engine.start(flow, [1])).result());",
        "await engine.close();",
        "",
      ].join("\n");
    const entries = () =>
      readdirSync(cacheDir)
        .filter((name) => name.endsWith(".entry"))
        .map((name) => ({ name, mtime: statSync(join(cacheDir, name)).mtimeMs }));
    // Node's module debug log names every CommonJS file Node loads, and Ratchet's names the
    // files it loads through V8's code cache (TypeScript among them), in the hooks' thread too.
    const debug = { ...env, NODE_DEBUG: "module,ratchet" };
    const loadsTypeScript = /node_modules[\\/]typescript[\\/]lib[\\/]typescript\.js/;

    writeFiles(projectDir, { "cached/main.ts": program(1) });
    const cold = runTs("cached/main.ts", { env: debug });
    expect(cold.stdout.trim()).toBe("2");
    expect(cold.stderr).toMatch(loadsTypeScript);
    const first = entries();
    expect(first).toHaveLength(1);

    // The same text again: read from the cache, not compiled and written again, and
    // TypeScript is never loaded.
    const warm = runTs("cached/main.ts", { env: debug });
    expect(warm.stdout.trim()).toBe("2");
    expect(warm.stderr).not.toMatch(loadsTypeScript);
    expect(entries()).toEqual(first);

    writeFiles(projectDir, { "cached/main.ts": program(10) });
    expect(runTs("cached/main.ts", { env }).stdout.trim()).toBe("11");
    expect(entries()).toHaveLength(2);
  });

  it("compiles and runs a two-step workflow", () => {
    writeFiles(projectDir, {
      "workflow/main.ts": [
        'import { createEngine, fn, workflow, type FunctionContext, type WorkflowContext } from "ratchetjs";',
        'import { memory } from "ratchetjs/adapters/memory";',
        "",
        "export const double = fn(async (_ctx: FunctionContext, n: number): Promise<number> => n * 2);",
        "export const label = fn(async (_ctx: FunctionContext, n: number): Promise<string> => 'n=' + n);",
        "",
        "export const pipeline = workflow(async (ctx: WorkflowContext, n: number) => {",
        "  const doubled = await ctx.step(double, n);",
        "  const text = await ctx.step(label, doubled + 1);",
        "  return { doubled, text };",
        "});",
        "",
        "const engine = createEngine({ storage: memory(), workflows: [pipeline] });",
        "const run = await engine.start(pipeline, [20]);",
        "console.log(JSON.stringify(await run.result()), await run.status());",
        "await engine.close();",
        "",
      ].join("\n"),
    });

    const result = runTs("workflow/main.ts");

    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe('{"doubled":40,"text":"n=41"} completed');
  });

  it("compiles workflows written in .js and .mjs files", () => {
    writeFiles(projectDir, {
      "javascript/flows.mjs": [
        'import { fn, workflow } from "ratchetjs";',
        "export const inc = fn(async (_ctx, n) => n + 1);",
        "export const twice = workflow(async (ctx, n) => {",
        "  const once = await ctx.step(inc, n);",
        "  return await ctx.step(inc, once);",
        "});",
        "",
      ].join("\n"),
      "javascript/main.js": [
        'import { createEngine } from "ratchetjs";',
        'import { memory } from "ratchetjs/adapters/memory";',
        'import { twice } from "./flows.mjs";',
        "const engine = createEngine({ storage: memory(), workflows: [twice] });",
        "console.log(await engine.run(twice, [40]));",
        "await engine.close();",
        "",
      ].join("\n"),
    });

    const result = runTs("javascript/main.js");

    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("42");
  });

  it("runs workflows across .ts, .mts and .tsx modules that import each other", () => {
    writeFiles(projectDir, {
      "multi/steps.mts": [
        'import { fn, type FunctionContext } from "ratchetjs";',
        "export const shout = fn(async (_ctx: FunctionContext, s: string) => s.toUpperCase());",
        "",
      ].join("\n"),
      "multi/child.tsx": [
        'import { workflow, type WorkflowContext } from "ratchetjs";',
        'import { shout } from "./steps.mjs";',
        "// JSX outside the workflow is kept for the app's own JSX setup.",
        "export const view = (name: string) => <b>{name}</b>;",
        "export const greet = workflow(async (ctx: WorkflowContext, name: string) => {",
        '  return await ctx.step(shout, "hello " + name);',
        "});",
        "",
      ].join("\n"),
      "multi/main.ts": [
        'import { createEngine, workflow, type WorkflowContext } from "ratchetjs";',
        'import { memory } from "ratchetjs/adapters/memory";',
        'import { greet } from "./child.js";',
        'import { shout } from "./steps.mjs";',
        "export const parent = workflow(async (ctx: WorkflowContext, names: string[]) => {",
        "  const out: string[] = [];",
        "  for (const name of names) out.push(await ctx.child(greet, [name]));",
        "  out.push(await ctx.step(shout, 'done'));",
        "  return out;",
        "});",
        "const engine = createEngine({ storage: memory(), workflows: [parent, greet] });",
        "console.log(JSON.stringify(await engine.run(parent, [['ada', 'alan']])));",
        "await engine.close();",
        "",
      ].join("\n"),
      // The app's own JSX runtime, as a React app would have it.
      "multi/node_modules/react/package.json": JSON.stringify({
        name: "react",
        type: "module",
        exports: { "./jsx-runtime": "./jsx-runtime.js" },
      }),
      "multi/node_modules/react/jsx-runtime.js":
        "export const jsx = (t, p) => ({ t, p }); export const jsxs = jsx; export const Fragment = 'f';\n",
    });

    const result = runTs("multi/main.ts");

    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe('["HELLO ADA","HELLO ALAN","DONE"]');
  });

  it("reports an error thrown in a workflow body at the body's own line", () => {
    writeFiles(projectDir, {
      "workflow-stack/main.ts": [
        'import { createEngine, fn, workflow, type FunctionContext, type WorkflowContext } from "ratchetjs";',
        'import { memory } from "ratchetjs/adapters/memory";',
        "",
        "export const quote = fn(async (_ctx: FunctionContext, id: string) => ({ id, total: 0 }));",
        "",
        "export const checkout = workflow(async (ctx: WorkflowContext, id: string) => {",
        "  const order = await ctx.step(quote, id);",
        "  if (order.total === 0) {",
        "    throw new Error('empty order ' + order.id);",
        "  }",
        "  return order;",
        "});",
        "",
        "const engine = createEngine({ storage: memory(), workflows: [checkout] });",
        "try {",
        "  await engine.run(checkout, ['o-7']);",
        "} catch (error) {",
        "  console.log((error as Error).stack);",
        "}",
        "await engine.close();",
        "",
      ].join("\n"),
    });

    const result = runTs("workflow-stack/main.ts");

    expect(result.stdout).toContain("Error: empty order o-7");
    expect(result.stdout).toContain(`${join(projectDir, "workflow-stack/main.ts")}:9:`);
  });

  it("refuses a workflow that does not compile, listing each diagnostic", () => {
    writeFiles(projectDir, {
      "workflow-invalid/main.ts": [
        'import { workflow, type WorkflowContext } from "ratchetjs";',
        "",
        "export const leaky = workflow(async (ctx: WorkflowContext) => {",
        "  return arguments.length;",
        "});",
        "",
      ].join("\n"),
    });

    const result = runTs("workflow-invalid/main.ts");
    const file = join(projectDir, "workflow-invalid/main.ts");

    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(
      new RegExp(`ratchetjs/register: ${escapeRegExp(file)} has \\d+ workflow errors?:`),
    );
    expect(result.stderr).toMatch(
      new RegExp(`${escapeRegExp(file)}:4:\\d+ - error RATCHET\\d{4}: .*arguments`),
    );
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
