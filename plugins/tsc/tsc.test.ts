import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts6 from "typescript";
import ts5 from "typescript5";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RatchetTscConfig, ratchetTsc } from "./index.js";

// The fixtures are plain Node projects outside the repository. Their node_modules/ratchetjs links
// to this package, so `"transform": "ratchetjs/tsc"` and `import … from "ratchetjs"` resolve the way
// they do for a user: to dist/, which the global setup (test/support/build.ts) builds.
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), "ratchet-tsc-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** The two TypeScript majors with a transformer API, and the ts-patch major for each. */
const toolchains = [
  {
    label: "TypeScript 6",
    ts: ts6 as unknown as typeof ts6,
    tspc: "node_modules/ts-patch/bin/tspc.js",
    typescriptDir: "node_modules/typescript",
    version: /^Version 6\./,
  },
  {
    label: "TypeScript 5",
    ts: ts5 as unknown as typeof ts6,
    tspc: "node_modules/ts-patch3/bin/tspc.js",
    typescriptDir: "node_modules/typescript5",
    version: /^Version 5\.9\./,
  },
] as const;

type Toolchain = (typeof toolchains)[number];

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

/** A fresh project directory whose node_modules has `ratchet` (this package) and `@types`. */
function newProject(name: string, files: Record<string, string>): string {
  const dir = join(workDir, name);
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  symlinkSync(repoRoot, join(dir, "node_modules/ratchetjs"), "dir");
  symlinkSync(join(repoRoot, "node_modules/@types"), join(dir, "node_modules/@types"), "dir");
  writeFiles(dir, {
    "package.json": JSON.stringify({ name, private: true, type: "module" }),
    ...files,
  });
  return dir;
}

function tsconfig(extra: Record<string, unknown> = {}): string {
  return JSON.stringify(
    {
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        skipLibCheck: true,
        types: ["node"],
        outDir: "dist",
        rootDir: "src",
        sourceMap: true,
        plugins: [{ transform: "ratchetjs/tsc" }],
        ...extra,
      },
      include: ["src"],
    },
    null,
    2,
  );
}

/** `tspc` — ts-patch's live compiler: `tsc` with the plugins of tsconfig.json, no install patched. */
function tspc(toolchain: Toolchain, dir: string, args: string[] = []) {
  const result = spawnSync(
    process.execPath,
    [join(repoRoot, toolchain.tspc), "-p", dir, "--pretty", "false", ...args],
    {
      cwd: dir,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, TSP_COMPILER_TS_PATH: join(repoRoot, toolchain.typescriptDir) },
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function node(dir: string, entry: string, env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [entry], {
    cwd: dir,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return {
    status: result.status,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
  };
}

const steps = `import { appendFileSync } from "node:fs";
import { FatalError, type FunctionContext, fn } from "ratchetjs";

function record(event: string): void {
  if (process.env.LEDGER) appendFileSync(process.env.LEDGER, \`\${event}\\n\`);
}

export const price = fn(async (_ctx: FunctionContext, item: string) => {
  record(\`price:\${item}\`);
  if (item === "broken") throw new FatalError(\`no price for \${item}\`);
  return item.length * 10;
});

export const charge = fn(async (ctx: FunctionContext, total: number) => {
  record("charge");
  return { chargeId: \`ch_\${ctx.idempotencyKey}\`, total };
});
`;

const workflows = `import { type WorkflowContext, workflow } from "ratchetjs";
import { charge, price } from "./steps.js";

interface Line {
  item: string;
  cents: number;
}

export const checkout = workflow(async (ctx: WorkflowContext, items: string[]) => {
  const lines: Line[] = [];
  let total = 0;
  const skipped: string[] = [];
  for (const item of items) {
    try {
      const cents = await ctx.step(price, item);
      lines.push({ item, cents });
      total += cents;
    } catch (error) {
      skipped.push(\`\${item}: \${(error as Error).message}\`);
    }
  }
  const { chargeId } = await ctx.step(charge, total);
  return { lines, total, skipped, chargeId };
});
`;

// No top-level await, so the same sources build as ES modules and as CommonJS.
const main = `import { createEngine } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { checkout } from "./workflows.js";

async function main(): Promise<void> {
  const checkpoints: string[] = [];
  const engine = createEngine({
    storage: memory(),
    workflows: [checkout],
    onCheckpoint: (event) => checkpoints.push(event.checkpoint.id),
  });
  const run = await engine.start(checkout, [["tea", "broken", "cake"]]);
  const result = await run.result();
  console.log(JSON.stringify({ result, status: await run.status(), checkpoints }));
  await engine.close();
}

void main();
`;

// One worker process on an SQLite file: starts run "r1", or carries it on once the lease of
// the process that died holding it expires. CRASH_AFTER=<checkpoint id> kills it right after
// that checkpoint commits.
const worker = `import { createEngine, type RunHandle } from "ratchetjs";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { checkout } from "./workflows.js";

async function main(): Promise<void> {
  const engine = createEngine({
    storage: sqlite({ path: process.env.DB! }),
    workflows: [checkout],
    worker: { leaseMs: 200, pollIntervalMs: 20 },
    onCheckpoint: (event) => {
      if (event.checkpoint.id === process.env.CRASH_AFTER) process.kill(process.pid, "SIGKILL");
    },
  });
  const stored = (await engine.list({ workflow: checkout.name })).some((r) => r.id === "r1");
  const handle: RunHandle = stored
    ? await engine.get("r1")
    : await engine.start(checkout, [["tea", "cake"]], { runId: "r1" });
  console.log(JSON.stringify(await handle.result()));
  await engine.close();
}

void main();
`;

const expectedResult = {
  lines: [
    { item: "tea", cents: 30 },
    { item: "cake", cents: 40 },
  ],
  total: 70,
  skipped: ["broken: no price for broken"],
};

describe.each(toolchains)("ratchetjs/tsc under ts-patch's tspc, $label", (toolchain) => {
  const name = toolchain.label.replace(/\W+/g, "-").toLowerCase();
  let project: string;
  let build: ReturnType<typeof tspc>;

  beforeAll(() => {
    project = newProject(`${name}-app`, {
      "tsconfig.json": tsconfig(),
      "src/steps.ts": steps,
      "src/workflows.ts": workflows,
      "src/main.ts": main,
      "src/worker.ts": worker,
    });
    build = tspc(toolchain, project);
  });

  it("compiles with the intended TypeScript", () => {
    expect(tspc(toolchain, project, ["--version"]).stdout).toMatch(toolchain.version);
  });

  it("builds the project, turning the workflow into a state machine", () => {
    expect(build.stdout + build.stderr).toBe("");
    expect(build.status).toBe(0);
    const output = readFileSync(join(project, "dist/workflows.js"), "utf8");
    expect(output).toContain("$ratchet: 1");
    expect(output).toMatch(/name: "checkout",\s+file: "src\/workflows\.ts"/);
    expect(output).toContain("machine: async function* ratchet$checkout(ctx, $frame)");
    // Types are gone and the plain modules are emitted as TypeScript emits them.
    expect(readFileSync(join(project, "dist/steps.js"), "utf8")).not.toContain(": FunctionContext");
  });

  it("runs the built workflow on the engine", () => {
    const run = node(project, "dist/main.js");
    // The one thing said on stderr: the engine's default logger reporting the step the
    // fixture fails on purpose (a FatalError, so no retry).
    expect(run.stderr.split("\n").filter((line) => line.startsWith("[ratchet]"))).toEqual([
      expect.stringMatching(
        /^\[ratchet\] step "price" of run \S+ failed without retrying \(FatalError\)/,
      ),
    ]);
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout) as {
      result: typeof expectedResult & { chargeId: string };
      status: string;
      checkpoints: string[];
    };
    expect(out.result).toMatchObject(expectedResult);
    expect(out.result.chargeId).toMatch(/^ch_.+:step:charge:/);
    expect(out.status).toBe("completed");
    expect(out.checkpoints).toEqual(["step:price", "step:price", "step:charge"]);
  });

  it("resumes the built workflow after its process is killed at a checkpoint", () => {
    const db = join(project, "runs.db");
    const ledger = join(project, "ledger.txt");
    const crashed = node(project, "dist/worker.js", {
      DB: db,
      LEDGER: ledger,
      CRASH_AFTER: "step:price",
    });
    expect(crashed.signal).toBe("SIGKILL");
    expect(readFileSync(ledger, "utf8").trim().split("\n")).toEqual(["price:tea"]);

    const resumed = node(project, "dist/worker.js", { DB: db, LEDGER: ledger });
    expect(resumed.stderr).toBe("");
    expect(resumed.status).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ total: 70, skipped: [] });
    // The first step ran once: the second process started after its checkpoint.
    expect(readFileSync(ledger, "utf8").trim().split("\n")).toEqual([
      "price:tea",
      "price:cake",
      "charge",
    ]);
  });

  it("reports Ratchet's diagnostics as tsc diagnostics and fails the build", () => {
    const dir = newProject(`${name}-diagnostics`, {
      "tsconfig.json": tsconfig(),
      "src/steps.ts": steps,
      "src/escape.ts": `import { type WorkflowContext, workflow } from "ratchetjs";
import { price } from "./steps.js";

function helper(ctx: WorkflowContext): string {
  return ctx.runId;
}

export const escapes = workflow(async (ctx: WorkflowContext) => {
  const cents = await ctx.step(price, "tea");
  return helper(ctx) + cents;
});
`,
      "src/typed.ts": `import { type WorkflowContext, workflow } from "ratchetjs";
import { price } from "./steps.js";

class Client {
  constructor(readonly url: string) {}
}

export const typed = workflow(async (ctx: WorkflowContext) => {
  const client = new Client("https://example.com");
  const cents = await ctx.step(price, "tea");
  return client.url + cents;
});
`,
    });
    const result = tspc(toolchain, dir);
    expect(result.status).toBe(2); // diagnostics present, outputs generated
    const lines = result.stdout.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^src\/escape\.ts\(10,17\): error TS991003: RATCHET1003: .*`ctx`.*$/),
      expect.stringMatching(/^ {2}hint: /),
      "src/typed.ts(9,9): error TS991007: RATCHET1007: `client` is live across checkpoint 1 " +
        '(`step:price`, line 10) of workflow "typed", and its type `Client` is an instance of ' +
        "the class `Client`, which cannot be persisted.",
      "  hint: Keep plain data across the checkpoint (objects, arrays, Map, Set, Date…) and " +
        "create the instance after it, or do the work inside a step.",
    ]);
    // A workflow with a compiler error is emitted uncompiled (the engine refuses to run it);
    // one with only a type-aware error is compiled (the runtime would refuse its checkpoint).
    expect(readFileSync(join(dir, "dist/escape.js"), "utf8")).not.toContain("$ratchet");
    expect(readFileSync(join(dir, "dist/typed.js"), "utf8")).toContain("$ratchet: 1");
  });
});

/** Emit a project in process with `program.emit` and ratchetjs/tsc as a `before` transformer. */
function emitProject(
  ts: typeof ts6,
  dir: string,
  rootNames: string[],
  options: ts6.CompilerOptions,
  config?: RatchetTscConfig<ts6.Diagnostic>,
) {
  const compilerOptions: ts6.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    types: ["node"],
    rootDir: join(dir, "src"),
    ...options,
  };
  // Manifests and diagnostics name files relative to the program's current directory.
  const host = ts.createCompilerHost(compilerOptions);
  host.getCurrentDirectory = () => dir;
  const program = ts.createProgram({
    rootNames: rootNames.map((f) => join(dir, f)),
    options: compilerOptions,
    host,
  });
  const ratchet = ratchetTsc(program, config);
  const result = program.emit(undefined, undefined, undefined, false, { before: [ratchet] });
  return { program, ratchet, result };
}

describe.each(toolchains)("ratchetTsc with program.emit, $label", (toolchain) => {
  const name = toolchain.label.replace(/\W+/g, "-").toLowerCase();
  const { ts } = toolchain;

  it("compiles workflows to CommonJS that runs", () => {
    const dir = newProject(`${name}-emit-cjs`, {
      "src/steps.ts": steps,
      "src/workflows.ts": workflows,
      "src/main.ts": main,
      // A CommonJS package: under NodeNext its .ts files compile to CommonJS.
      "package.json": JSON.stringify({ name: `${name}-emit-cjs`, private: true, type: "commonjs" }),
    });
    const { program, ratchet, result } = emitProject(ts, dir, ["src/main.ts"], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      outDir: join(dir, "cjs"),
    });
    expect(ts.getPreEmitDiagnostics(program)).toEqual([]);
    expect(result.diagnostics).toEqual([]);
    expect(ratchet.diagnostics).toEqual([]);
    expect(ratchet.workflows.map((w) => [w.id, w.checkpoints.map((c) => c.id)])).toEqual([
      ["src/workflows.ts#checkout", ["step:price", "step:charge"]],
    ]);
    const output = readFileSync(join(dir, "cjs/workflows.js"), "utf8");
    expect(output).toContain('require("ratchetjs")');
    // Imports used in the body are rewritten by TypeScript's CommonJS transform in the machine too.
    expect(output).toContain("ctx.step(steps_js_1.price, item)");

    const run = node(dir, "cjs/main.js");
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ result: expectedResult, status: "completed" });
  });

  it("collects diagnostics on the transformer and passes them to onDiagnostic", () => {
    const dir = newProject(`${name}-emit-diagnostics`, {
      "src/steps.ts": steps,
      "src/bad.ts": `import { type WorkflowContext, workflow } from "ratchetjs";
import { price } from "./steps.js";

export const bad = workflow(async (ctx: WorkflowContext) => {
  const saved = ctx;
  return await ctx.step(price, saved.runId);
});
`,
    });
    const seen: ts6.Diagnostic[] = [];
    const { ratchet } = emitProject(
      ts,
      dir,
      ["src/bad.ts"],
      { module: ts.ModuleKind.ESNext, outDir: join(dir, "dist") },
      { onDiagnostic: (d) => seen.push(d) },
    );
    expect(ratchet.diagnostics).toHaveLength(1);
    expect(seen).toEqual(ratchet.diagnostics);
    const [d] = ratchet.diagnostics as [ts6.Diagnostic];
    expect(d.file?.fileName).toBe(join(dir, "src/bad.ts"));
    expect(d.file?.text.slice(d.start, d.start! + d.length!)).toBe("ctx");
    expect(d.category).toBe(ts.DiagnosticCategory.Error);
    expect(d.code).toBe(991003);
    expect(d.source).toBe("ratchet");
    const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    expect(text).toMatch(/^RATCHET1003: .+\n {2}hint: .+$/);
    expect(ratchet.workflows).toEqual([]);
  });

  it("accepts a program of this TypeScript in its types", () => {
    // Type-level: ratchetTsc's parameter and result follow the program's own TypeScript types,
    // so both majors type-check without casts (see the `as const` toolchains above).
    const program5 = ts5.createProgram({ rootNames: [], options: {} });
    const before5: ts5.CustomTransformers["before"] = [ratchetTsc(program5)];
    const program6 = ts6.createProgram({ rootNames: [], options: {} });
    const before6: ts6.CustomTransformers["before"] = [ratchetTsc(program6)];
    expect(before5).toHaveLength(1);
    expect(before6).toHaveLength(1);
  });
});

const typedSource = `import { EventEmitter } from "node:events";
import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

export const bump = fn(async (_ctx: FunctionContext, n: number) => n + 1);

class PaymentClient {
  constructor(readonly url: string) {}
  send(): string {
    return this.url;
  }
}
class Money {
  constructor(readonly cents: number) {}
}
class NotFound extends Error {}
interface Order {
  id: string;
  lines: { sku: string }[];
}
function makeClient(): PaymentClient {
  return new PaymentClient("https://pay.example.com");
}
function makeHandler(): (n: number) => number {
  return (n) => n + 1;
}
function* counter(): Generator<number> {
  yield 1;
}
function load(): Order {
  return { id: "o1", lines: [] };
}
function describeIt(client: PaymentClient, n: number): string {
  return client.send() + n;
}

export const typed = workflow(async (ctx: WorkflowContext, order: Order) => {
  const client = makeClient();
  const money = new Money(5);
  const handler = makeHandler();
  const pending = Promise.resolve(3);
  const numbers = counter();
  const keys = new Map([["a", 1]]).keys();
  const emitter = new EventEmitter();
  const weak = new WeakMap<object, number>();
  const maybe: PaymentClient | undefined = Math.random() > 2 ? client : undefined;
  const either: PaymentClient | string = Math.random() > 2 ? client : "none";

  const when = new Date();
  const seen = new Map<string, number>([["a", 1]]);
  const tags = new Set(["x"]);
  const pattern = /a+/g;
  const failure = new NotFound("gone");
  const bytes = new Uint8Array(2);
  const list = [1, 2, 3];
  const plain = { a: 1, b: [2] };
  const loaded = load();
  const url = new URL("https://example.com");
  const count = 3;
  const label = "x";
  const big = 10n;
  const nothing = null;
  const unset = undefined;

  const n = await ctx.step(bump, 1);
  const described = describeIt(makeClient(), await ctx.step(bump, n));
  return [
    client.send(), money, handler(n), await pending, numbers.next().value, [...keys],
    emitter.eventNames(), weak.has(order), maybe, either, when, seen, tags, pattern, failure,
    bytes, list, plain, loaded, url, count, label, big, nothing, unset, described, order,
  ];
});
`;

describe.each(toolchains)("type-aware diagnostics, $label", (toolchain) => {
  const name = toolchain.label.replace(/\W+/g, "-").toLowerCase();
  const { ts } = toolchain;
  let dir: string;

  beforeAll(() => {
    dir = newProject(`${name}-typed`, { "src/typed.ts": typedSource });
  });

  function diagnose(config?: RatchetTscConfig<ts6.Diagnostic>) {
    const { program, ratchet } = emitProject(
      ts,
      dir,
      ["src/typed.ts"],
      {
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        noEmit: false,
        outDir: join(dir, "dist"),
      },
      config,
    );
    expect(ts.getPreEmitDiagnostics(program).map((d) => d.messageText)).toEqual([]);
    return ratchet.diagnostics.map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      const at = d.file!.getLineAndCharacterOfPosition(d.start!);
      return {
        variable: /^RATCHET\d+: `(.+?)` (?:is live|holds)/.exec(text)![1],
        severity: d.category === ts.DiagnosticCategory.Error ? "error" : "warning",
        text,
        at: `${at.line + 1}:${at.character + 1}`,
      };
    });
  }

  it("reports live variables typed as a class instance, function, Promise or iterator", () => {
    const found = diagnose();
    expect(found.map((d) => [d.variable, d.severity])).toEqual([
      ["client", "error"],
      ["money", "error"],
      ["handler", "error"],
      ["pending", "error"],
      ["numbers", "error"],
      ["keys", "error"],
      ["emitter", "error"],
      ["weak", "error"],
      ["maybe", "error"],
      ["either", "warning"],
      ["the value of `makeClient()` (65:32)", "error"],
    ]);
    const byName = new Map(found.map((d) => [d.variable, d]));
    expect(byName.get("client")).toMatchObject({
      at: "37:9",
      text: expect.stringMatching(
        new RegExp(
          "^RATCHET1007: `client` is live across checkpoints 1 \\(`step:bump~[0-9a-f]{6}`, line 64\\) and 2 " +
            '\\(`step:bump~[0-9a-f]{6}`, line 65\\) of workflow "typed", and its type `PaymentClient` is an ' +
            "instance of the class `PaymentClient`, which cannot be persisted.\n" +
            "  hint: Keep plain data across the checkpoint \\(objects, arrays, Map, Set, Date…\\) and " +
            "create the instance after it, or do the work inside a step.$",
        ),
      ),
    });
    expect(byName.get("handler")?.text).toContain("its type `(n: number) => number` is a function");
    expect(byName.get("pending")?.text).toContain("its type `Promise<number>` is a Promise");
    expect(byName.get("numbers")?.text).toContain(
      "its type `Generator<number, any, any>` is a generator",
    );
    expect(byName.get("keys")?.text).toMatch(/its type `MapIterator<string>` is an iterator/);
    expect(byName.get("emitter")?.text).toContain("an instance of the class `EventEmitter`");
    expect(byName.get("weak")?.text).toContain("an instance of the class `WeakMap`");
    expect(byName.get("either")?.text).toContain(
      "its type `string | PaymentClient` may be an instance of the class `PaymentClient`",
    );
    expect(byName.get("the value of `makeClient()` (65:32)")?.text).toMatch(
      /live across checkpoint 2 \(`step:bump~[0-9a-f]{6}`, line 65\)/,
    );
  });

  it("leaves out the compiler's iterator guess when the type confirms it", () => {
    const found = diagnose();
    expect(found.filter((d) => d.variable === "keys")).toHaveLength(1);
    // Without the type checks the compiler's own warning is what remains.
    const untyped = diagnose({ typeCheck: false });
    expect(untyped.map((d) => [d.variable, d.severity])).toEqual([
      ["keys", "warning"],
      ["keys", "warning"],
    ]);
  });
});

describe("ratchetTsc's guards", () => {
  it("compiles nothing, and says why, under a TypeScript whose syntax kinds differ", () => {
    const dir = newProject("guard-kinds", { "src/steps.ts": steps, "src/workflows.ts": workflows });
    const program = ts6.createProgram({
      rootNames: [join(dir, "src/workflows.ts")],
      options: { module: ts6.ModuleKind.ESNext, outDir: join(dir, "dist"), types: ["node"] },
    });
    // What ts-patch would pass for TypeScript 5.8, whose kinds from `SourceFile` on are one lower.
    const older = { version: "5.8.3", SyntaxKind: { ...ts6.SyntaxKind, SourceFile: 307 } };
    const added: ts6.Diagnostic[] = [];
    const ratchet = ratchetTsc(program, {}, { ts: older, addDiagnostic: (d) => added.push(d) });
    program.emit(undefined, undefined, undefined, false, { before: [ratchet] });

    expect(added).toHaveLength(1);
    expect(ts6.flattenDiagnosticMessageText(added[0]!.messageText, "\n")).toMatch(
      /^ratchetjs\/tsc cannot compile workflows with TypeScript 5\.8\.3: .+ 5\.9 and 6\.0\. No workflow was compiled\.\n {2}hint: /,
    );
    expect(added[0]!.category).toBe(ts6.DiagnosticCategory.Error);
    expect(readFileSync(join(dir, "dist/workflows.js"), "utf8")).not.toContain("$ratchet");
    expect(ratchet.workflows).toEqual([]);
  });

  it("refuses to be used as another kind of ts-patch plugin", () => {
    const program = ts6.createProgram({ rootNames: [], options: {} });
    const checker = program.getTypeChecker();
    // ts-patch's "type": "checker" passes the checker; "transformProgram" passes a CompilerHost.
    expect(() => ratchetTsc(checker as never)).toThrow(/takes a ts\.Program/);
    expect(() => ratchetTsc(program, ts6.createCompilerHost({}) as never)).toThrow(
      /remove "transformProgram"/,
    );
  });
});
