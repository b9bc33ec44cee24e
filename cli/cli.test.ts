import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import pkg from "../package.json" with { type: "json" };
import { main } from "./main.js";

const dir = mkdtempSync(join(tmpdir(), "ratchet-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = join(dir, "src", "good.ts");
const bad = join(dir, "bad.ts");
mkdirSync(join(dir, "src", "node_modules"), { recursive: true });
writeFileSync(
  good,
  `import { workflow } from "ratchetjs";\nexport const w = workflow(async (ctx, id: string) => {\n  const a = await ctx.step(load, id);\n  return a;\n});\n`,
);
writeFileSync(
  bad,
  `import { workflow } from "ratchetjs";\nexport const w = workflow(async (ctx) => {\n  helper(ctx);\n});\n`,
);
// A walk of the directory never enters node_modules.
writeFileSync(join(dir, "src", "node_modules", "dep.ts"), "export const broken = workflow(");

describe("ratchet CLI", () => {
  let out: string[];
  let err: string[];
  beforeEach(() => {
    out = [];
    err = [];
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  });
  afterEach(() => vi.restoreAllMocks());

  it("check passes a good file and fails a bad one with file:line:column", async () => {
    expect(await main(["check", good])).toBe(0);
    expect(out.join("\n")).toContain("1 file(s), 1 workflow(s) compiled, 0 error(s)");
    expect(await main(["check", bad])).toBe(1);
    expect(err.join("\n")).toMatch(/bad\.ts:3:10 - error RATCHET1003/);
  });

  it("check takes directories, and --json gives the diagnostics", async () => {
    expect(await main(["check", join(dir, "src")])).toBe(0);
    expect(out.join("\n")).toContain("1 file(s), 1 workflow(s) compiled");
    out.length = 0;
    expect(await main(["check", dir, "--json"])).toBe(1);
    const report = JSON.parse(out.join("\n"));
    expect(report).toMatchObject({ files: 2, workflows: 1, errors: 1 });
    expect(report.diagnostics[0]).toMatchObject({ code: "RATCHET1003", line: 3, column: 10 });
  });

  it("compile prints the machine or the manifest", async () => {
    expect(await main(["compile", good])).toBe(0);
    expect(out.join("\n")).toContain("async function* ratchet$w(");
    out.length = 0;
    expect(await main(["compile", good, "--manifest"])).toBe(0);
    expect(JSON.parse(out.join("\n"))[0].checkpoints[0].id).toBe("step:load");
    out.length = 0;
    expect(await main(["--json", "compile", good])).toBe(0);
    expect(JSON.parse(out.join("\n")).workflows[0].name).toBe("w");
  });

  it("prints its version and help", async () => {
    expect(await main(["--version"])).toBe(0);
    expect(out.join("\n")).toBe(pkg.version);
    expect(await main(["--help"])).toBe(0);
    expect(out.join("\n")).toContain("check [options] [paths...]");
    out.length = 0;
    expect(await main(["check", "--help"])).toBe(0);
    expect(out.join("\n")).toContain("directories are walked");
  });

  it("explains bad usage", async () => {
    expect(await main([])).toBe(2);
    expect(err.join("\n")).toContain("Usage: ratchet");
    expect(await main(["frobnicate", good])).toBe(2);
    expect(err.join("\n")).toContain("unknown command 'frobnicate'");
    expect(await main(["check", join(dir, "missing.ts")])).toBe(2);
    expect(err.join("\n")).toContain("cannot read");
  });
});
