import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "./main.js";

const dir = mkdtempSync(join(tmpdir(), "ratchet-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = join(dir, "good.ts");
const bad = join(dir, "bad.ts");
writeFileSync(
  good,
  `import { workflow } from "ratchetjs";\nexport const w = workflow(async (ctx, id: string) => {\n  const a = await ctx.step(load, id);\n  return a;\n});\n`,
);
writeFileSync(
  bad,
  `import { workflow } from "ratchetjs";\nexport const w = workflow(async (ctx) => {\n  helper(ctx);\n});\n`,
);

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

  it("check passes a good file and fails a bad one with file:line:column", () => {
    expect(main(["check", good])).toBe(0);
    expect(out.join("\n")).toContain("1 workflow(s) compiled, 0 error(s)");
    expect(main(["check", bad])).toBe(1);
    expect(err.join("\n")).toMatch(/bad\.ts:3:10 - error RATCHET1003/);
  });

  it("compile prints the machine or the manifest", () => {
    expect(main(["compile", good])).toBe(0);
    expect(out.join("\n")).toContain("async function* w(");
    out.length = 0;
    expect(main(["compile", good, "--manifest"])).toBe(0);
    expect(JSON.parse(out.join("\n"))[0].checkpoints[0].id).toBe("step:load");
  });

  it("explains bad usage", () => {
    expect(main([])).toBe(2);
    expect(main(["frobnicate", good])).toBe(2);
    expect(err.join("\n")).toContain('unknown command "frobnicate"');
    expect(main(["check", join(dir, "missing.ts")])).toBe(2);
    expect(err.join("\n")).toContain("cannot read");
  });
});
