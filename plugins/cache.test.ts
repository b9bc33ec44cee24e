import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { transform } from "../compiler/index.js";
import { cachedTransform, cacheStats, clearMemoryCache, defaultCacheDir } from "./cache.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

const flow = (steps: number, name = "flow") =>
  [
    'import { fn, workflow } from "ratchetjs";',
    "const inc = fn(async (_ctx, n: number) => n + 1);",
    `export const ${name} = workflow(async (ctx, n: number) => {`,
    "  let x: number = n;",
    ...Array.from({ length: steps }, () => "  x = await ctx.step(inc, x);"),
    "  return x;",
    "});",
    "",
  ].join("\n");

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ratchet-cache-"));
  clearMemoryCache();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("the compile cache", () => {
  it("serves a second compilation of the same text from memory, then from disk", async () => {
    const options = { filename: "/app/flow.ts" };
    const before = cacheStats();
    const first = await cachedTransform(flow(2), options, dir, "test");
    const again = await cachedTransform(flow(2), options, dir, "test");
    clearMemoryCache();
    const fromDisk = await cachedTransform(flow(2), options, dir, "test");
    const after = cacheStats();

    expect(first).toStrictEqual(transform(flow(2), options));
    expect(again).toStrictEqual(first);
    expect(fromDisk).toStrictEqual(first);
    expect(after.compiles - before.compiles).toBe(1);
    expect(after.memoryHits - before.memoryHits).toBe(1);
    expect(after.diskHits - before.diskHits).toBe(1);
    expect(readdirSync(dir).filter((f) => f.endsWith(".json"))).toHaveLength(1);
  });

  it("never serves the output of an edited file, another file name or other options", async () => {
    const options = { filename: "/app/flow.ts" };
    await cachedTransform(flow(2), options, dir, "test");
    clearMemoryCache();
    const variants = [
      [flow(3), options],
      [flow(2, "renamed"), options],
      [flow(2), { filename: "/app/other.ts" }],
      [flow(2), { filename: "/app/flow.ts", sourceMap: false }],
    ] as const;
    for (const [code, opts] of variants) {
      expect(await cachedTransform(code, opts, dir, "test")).toStrictEqual(transform(code, opts));
    }
    // Back to the first text: its entry is still the right one.
    clearMemoryCache();
    expect(await cachedTransform(flow(2), options, dir, "test")).toStrictEqual(
      transform(flow(2), options),
    );
  });

  it("treats a damaged entry as a miss", async () => {
    const options = { filename: "/app/flow.ts" };
    await cachedTransform(flow(1), options, dir, "test");
    const [entry] = readdirSync(dir);
    writeFileSync(join(dir, entry!), '{"key":"');
    clearMemoryCache();
    expect(await cachedTransform(flow(1), options, dir, "test")).toStrictEqual(
      transform(flow(1), options),
    );
  });

  it("keeps every result right when processes race on one cache directory", async () => {
    const cacheModule = pathToFileURL(join(repoRoot, "dist/plugins/cache.js")).href;
    const compilerModule = pathToFileURL(join(repoRoot, "dist/compiler/index.js")).href;
    const texts = [flow(1), flow(2), flow(1, "other"), flow(4)];
    const script = `
      import { cachedTransform, clearMemoryCache } from ${JSON.stringify(cacheModule)};
      import { transform } from ${JSON.stringify(compilerModule)};
      const texts = ${JSON.stringify(texts)};
      const expected = texts.map((t) => JSON.stringify(transform(t, { filename: "/app/flow.ts" })));
      for (let round = 0; round < 15; round++) {
        for (let i = 0; i < texts.length; i++) {
          clearMemoryCache();
          const got = await cachedTransform(texts[i], { filename: "/app/flow.ts" }, process.argv[1], "test");
          if (JSON.stringify(got) !== expected[i]) throw new Error("stale or wrong output for text " + i);
        }
      }
      console.log("ok");
    `;
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", script, dir]);
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.on("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(err))));
      });
    expect(await Promise.all([run(), run(), run(), run()])).toEqual(["ok", "ok", "ok", "ok"]);
    const files = readdirSync(dir);
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(files).toHaveLength(texts.length);
    for (const file of files)
      expect(() => JSON.parse(readFileSync(join(dir, file), "utf8"))).not.toThrow();
  });

  it("lives in node_modules/.cache/ratchet of the project around the working directory", () => {
    expect(defaultCacheDir(join(repoRoot, "compiler"))).toBe(
      join(repoRoot, "node_modules", ".cache", "ratchet"),
    );
    expect(defaultCacheDir("/")).toBe(false);
  });
});
