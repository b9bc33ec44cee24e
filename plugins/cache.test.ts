import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { transform } from "../compiler/index.js";
import {
  CACHE_MAX_AGE_DAYS,
  cachedTransform,
  cacheKey,
  cacheStats,
  clearMemoryCache,
  defaultCacheDir,
  pruneCache,
  sourceMapText,
} from "./cache.js";

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
    expect(readdirSync(dir).filter((f) => f.endsWith(".entry"))).toHaveLength(1);
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
    const [entry] = readdirSync(dir).filter((f) => f.endsWith(".entry"));
    writeFileSync(join(dir, entry!), '{"key":"');
    clearMemoryCache();
    expect(await cachedTransform(flow(1), options, dir, "test")).toStrictEqual(
      transform(flow(1), options),
    );
  });

  it("treats a short or overlong entry as a miss, and never reads an entry of the JSON format", async () => {
    const options = { filename: "/app/flow.ts" };
    const expected = transform(flow(2), options);
    const path = join(dir, `${cacheKey(flow(2), options)}.entry`);
    await cachedTransform(flow(2), options, dir, "test");
    const whole = readFileSync(path, "utf8");
    // Cut inside the code, inside the map, one character short, and one too many.
    for (const text of [
      whole.slice(0, whole.indexOf("\n") + 10),
      whole.slice(0, -100),
      whole.slice(0, -1),
      `${whole} `,
    ]) {
      writeFileSync(path, text);
      clearMemoryCache();
      const before = cacheStats();
      expect(await cachedTransform(flow(2), options, dir, "test")).toStrictEqual(expected);
      expect(cacheStats().compiles - before.compiles).toBe(1);
    }
    expect(readFileSync(path, "utf8")).toBe(whole);

    // An entry an earlier version wrote (one JSON file, here made to say something else) is
    // not read: the text is compiled.
    const legacy = join(dir, `${cacheKey(flow(3), options)}.json`);
    const wrong = { ...transform(flow(3), options), code: "stale" };
    writeFileSync(legacy, JSON.stringify({ key: cacheKey(flow(3), options), result: wrong }));
    clearMemoryCache();
    expect(await cachedTransform(flow(3), options, dir, "test")).toStrictEqual(
      transform(flow(3), options),
    );
  });

  it("treats an entry cut inside a character, or whose first line is not a header, as a miss", async () => {
    // Without a map the code ends the file, here with a character of three bytes in UTF-8.
    const options = { filename: "/app/flow.ts", sourceMap: false };
    const source = `${flow(2)}// \u2603`;
    const expected = transform(source, options);
    expect(expected.code.endsWith("\u2603")).toBe(true);
    const path = join(dir, `${cacheKey(source, options)}.entry`);
    await cachedTransform(source, options, dir, "test");
    const whole = readFileSync(path);
    const code = whole.subarray(whole.indexOf("\n") + 1).toString("utf8");
    for (const bytes of [
      whole.subarray(0, -1),
      whole.subarray(0, -2),
      Buffer.from(`null\n${code}`),
      Buffer.from(`7\n${code}`),
    ]) {
      writeFileSync(path, bytes);
      clearMemoryCache();
      const before = cacheStats();
      expect(await cachedTransform(source, options, dir, "test")).toStrictEqual(expected);
      expect(cacheStats().compiles - before.compiles).toBe(1);
    }
  });

  it("keys a text with a lone surrogate apart from the text with U+FFFD in its place", async () => {
    const options = { filename: "/app/flow.ts" };
    const replaced = flow(2).replace("return x;", 'return x + "\uFFFD";');
    const lone = flow(2).replace("return x;", 'return x + "\uD800";');
    expect(cacheKey(lone, options)).not.toBe(cacheKey(replaced, options));
    expect(await cachedTransform(replaced, options, dir, "test")).toStrictEqual(
      transform(replaced, options),
    );
    expect((await cachedTransform(lone, options, dir, "test")).code).toBe(
      transform(lone, options).code,
    );
    clearMemoryCache();
    expect((await cachedTransform(lone, options, dir, "test")).code).toBe(
      transform(lone, options).code,
    );
  });

  it("keeps a module whose text has a lone surrogate in memory only (UTF-8 cannot store it)", async () => {
    const options = { filename: "/app/flow.ts" };
    const code = `// \uD800\n${flow(2)}`;
    expect(await cachedTransform(code, options, dir, "test")).toStrictEqual(
      transform(code, options),
    );
    expect(readdirSync(dir).filter((f) => f.endsWith(".entry"))).toEqual([]);
    clearMemoryCache();
    const before = cacheStats();
    expect((await cachedTransform(code, options, dir, "test")).code).toBe(
      transform(code, options).code,
    );
    expect(cacheStats().compiles - before.compiles).toBe(1);
  });

  it("stores the code and map as they are, and gives the map's stored text without parsing it", async () => {
    const options = { filename: "/app/flow.ts" };
    const compiled = await cachedTransform(flow(2), options, dir, "test");
    clearMemoryCache();
    const fromDisk = await cachedTransform(flow(2), options, dir, "test");
    const text = sourceMapText(fromDisk);
    expect(text).toBe(JSON.stringify(compiled.map));
    expect(sourceMapText(compiled)).toBe(text);
    expect(fromDisk.map).toStrictEqual(compiled.map);
    const file = readFileSync(join(dir, `${cacheKey(flow(2), options)}.entry`), "utf8");
    expect(file.endsWith(`\n${compiled.code}${text}`)).toBe(true);
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
    const files = readdirSync(dir).filter((f) => f !== ".pruned" && f !== "v8");
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // V8's code cache of the compiler and TypeScript, written by the racing processes too.
    expect(readdirSync(join(dir, "v8")).filter((f) => !f.endsWith(".bin"))).toEqual([]);
    expect(files).toHaveLength(texts.length);
    // Each file a whole entry: its header's lengths account for the rest of the file.
    for (const file of files) {
      const text = readFileSync(join(dir, file), "utf8");
      const headerEnd = text.indexOf("\n");
      const header = JSON.parse(text.slice(0, headerEnd)) as {
        codeLength: number;
        mapLength: number;
      };
      expect(text.length).toBe(headerEnd + 1 + header.codeLength + Math.max(header.mapLength, 0));
    }
  });

  it("serves a fresh process from a warm cache without loading TypeScript", async () => {
    const cacheModule = pathToFileURL(join(repoRoot, "dist/plugins/cache.js")).href;
    const script = `
      import { createRequire } from "node:module";
      import { cachedTransform, cacheStats } from ${JSON.stringify(cacheModule)};
      const out = await cachedTransform(process.argv[2], { filename: "/app/flow.ts" }, process.argv[1], "test");
      const loaded = Object.keys(createRequire(import.meta.url).cache)
        .filter((path) => /[\\/]typescript[\\/]lib[\\/]/.test(path));
      console.log(JSON.stringify({ out, stats: cacheStats(), loaded }));
    `;
    const run = () =>
      new Promise<{ out: unknown; stats: ReturnType<typeof cacheStats>; loaded: string[] }>(
        (resolve, reject) => {
          const child = spawn(process.execPath, [
            "--input-type=module",
            "-e",
            script,
            dir,
            flow(3),
          ]);
          let out = "";
          let err = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (err += d));
          child.on("exit", (code) =>
            code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err)),
          );
        },
      );
    const cold = await run();
    const warm = await run();

    // The cold process compiled, and so loaded TypeScript (which shows the check sees it).
    expect(cold.stats).toStrictEqual({ memoryHits: 0, diskHits: 0, compiles: 1 });
    expect(cold.loaded.length).toBeGreaterThan(0);
    expect(warm.stats).toStrictEqual({ memoryHits: 0, diskHits: 1, compiles: 0 });
    expect(warm.loaded).toStrictEqual([]);
    expect(warm.out).toStrictEqual(transform(flow(3), { filename: "/app/flow.ts" }));
  });

  it("keys entries by the compiler's bundle: its recorded hash while the length holds, else its text", async () => {
    // A copy of the built cache module beside a copy of the compiler's bundle, in a folder of
    // its own; the key of one text in a fresh process, for each state of the bundle.
    const root = join(dir, "package");
    mkdirSync(join(root, "plugins"), { recursive: true });
    mkdirSync(join(root, "compiler"), { recursive: true });
    copyFileSync(join(repoRoot, "dist/plugins/cache.js"), join(root, "plugins/cache.js"));
    const bundle = readFileSync(join(repoRoot, "dist/compiler/bundle.cjs"));
    const hashFile = join(root, "compiler/bundle.cjs.sha256");
    const keyOf = () => {
      const script = `
        import { cacheKey } from ${JSON.stringify(pathToFileURL(join(root, "plugins/cache.js")).href)};
        console.log(cacheKey("text", { filename: "/app/flow.ts" }));
      `;
      return execFileSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
      }).trim();
    };
    const hashOf = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

    writeFileSync(join(root, "compiler/bundle.cjs"), bundle);
    copyFileSync(join(repoRoot, "dist/compiler/bundle.cjs.sha256"), hashFile);
    const recorded = keyOf();
    expect(readFileSync(hashFile, "utf8")).toBe(`${hashOf(bundle)} ${bundle.length}\n`);
    // Without the hash file, the bundle's text gives the same key.
    rmSync(hashFile);
    expect(keyOf()).toBe(recorded);
    // The file is what is read while it records the bundle's length (the bundle is not).
    writeFileSync(hashFile, `${"0".repeat(64)} ${bundle.length}\n`);
    expect(keyOf()).not.toBe(recorded);
    // A bundle patched by hand (its length changed) is hashed, whatever the file says.
    const patched = Buffer.concat([bundle, Buffer.from("\n// patched\n")]);
    writeFileSync(join(root, "compiler/bundle.cjs"), patched);
    copyFileSync(join(repoRoot, "dist/compiler/bundle.cjs.sha256"), hashFile);
    const patchedKey = keyOf();
    expect(patchedKey).not.toBe(recorded);
    rmSync(hashFile);
    expect(keyOf()).toBe(patchedKey);
  });

  it("prunes entries unused for weeks, orphaned temporaries, and the oldest past a size cap", async () => {
    const day = 24 * 60 * 60 * 1000;
    const now = Date.now();
    const options = (i: number) => ({ filename: `/app/flow${i}.ts` });
    const entry = (i: number) => join(dir, `${cacheKey(flow(i + 1), options(i))}.entry`);
    const age = (path: string, ms: number) =>
      utimesSync(path, (now - ms) / 1000, (now - ms) / 1000);
    for (let i = 0; i < 4; i++) await cachedTransform(flow(i + 1), options(i), dir, "test");
    age(entry(0), (CACHE_MAX_AGE_DAYS + 1) * day);
    age(entry(1), (CACHE_MAX_AGE_DAYS - 1) * day);
    const orphan = join(dir, "dead.entry.123.abc.tmp");
    const writing = join(dir, "live.entry.456.def.tmp");
    writeFileSync(orphan, "{");
    writeFileSync(writing, "{");
    age(orphan, 2 * 60 * 60 * 1000);

    expect(pruneCache(dir, { now }).removed).toBe(2);
    const left = readdirSync(dir).filter((f) => f !== ".pruned");
    expect(left.sort()).toStrictEqual(
      [entry(1), entry(2), entry(3), writing].map((p) => p.slice(dir.length + 1)).sort(),
    );

    // Over the cap, the least recently used goes first.
    const size = (i: number) => statSync(entry(i)).size;
    const result = pruneCache(dir, { now, maxBytes: size(2) + size(3) });
    expect(result).toStrictEqual({ removed: 1, keptBytes: size(2) + size(3) });
    expect(readdirSync(dir).filter((f) => f.endsWith(".entry")).length).toBe(2);

    // A pruned entry is compiled again, never served from anywhere stale.
    clearMemoryCache();
    const before = cacheStats();
    expect(await cachedTransform(flow(1), options(0), dir, "test")).toStrictEqual(
      transform(flow(1), options(0)),
    );
    expect(cacheStats().compiles - before.compiles).toBe(1);
  });

  it("marks a disk hit as used, and prunes after a miss at most once a day per folder", async () => {
    const day = 24 * 60 * 60 * 1000;
    const options = { filename: "/app/flow.ts" };
    const path = join(dir, `${cacheKey(flow(2), options)}.entry`);
    await cachedTransform(flow(2), options, dir, "test");
    const old = (Date.now() - 3 * day) / 1000;
    utimesSync(path, old, old);
    clearMemoryCache();
    await cachedTransform(flow(2), options, dir, "test");
    expect(Date.now() - statSync(path).mtimeMs).toBeLessThan(day);

    // Another folder, pruned by another process an hour ago: a miss does not prune it again.
    const other = mkdtempSync(join(tmpdir(), "ratchet-cache-"));
    try {
      const stale = join(other, "0".repeat(64) + ".json");
      writeFileSync(stale, "{}");
      const longAgo = (Date.now() - (CACHE_MAX_AGE_DAYS + 5) * day) / 1000;
      utimesSync(stale, longAgo, longAgo);
      writeFileSync(join(other, ".pruned"), "");
      const hourAgo = (Date.now() - 60 * 60 * 1000) / 1000;
      utimesSync(join(other, ".pruned"), hourAgo, hourAgo);
      await cachedTransform(flow(3), options, other, "test");
      expect(readdirSync(other)).toContain(stale.slice(other.length + 1));

      // A day later the next miss prunes it.
      const dayAgo = (Date.now() - day - 1000) / 1000;
      const third = mkdtempSync(join(tmpdir(), "ratchet-cache-"));
      try {
        writeFileSync(join(third, "0".repeat(64) + ".json"), "{}");
        utimesSync(join(third, "0".repeat(64) + ".json"), longAgo, longAgo);
        writeFileSync(join(third, ".pruned"), "");
        utimesSync(join(third, ".pruned"), dayAgo, dayAgo);
        clearMemoryCache();
        await cachedTransform(flow(3), options, third, "test");
        // The new entry; the stale one (of the earlier JSON format) is pruned all the same.
        expect(readdirSync(third).filter((f) => f.endsWith(".entry"))).toHaveLength(1);
        expect(readdirSync(third)).not.toContain("0".repeat(64) + ".json");
      } finally {
        rmSync(third, { recursive: true, force: true });
      }
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("shares one process's memory with the copy bundled into ratchetjs/esbuild", () => {
    // ratchetjs/esbuild is one file with the cache bundled in; the cache's own module, imported
    // beside it, must see (and clear) the same memory.
    writeFileSync(join(dir, "flow.ts"), flow(2));
    const bundled = pathToFileURL(join(repoRoot, "dist/plugins/esbuild-plugin.js")).href;
    const cacheModule = pathToFileURL(join(repoRoot, "dist/plugins/cache.js")).href;
    const script = `
      import { build } from "esbuild";
      import ratchet from ${JSON.stringify(bundled)};
      import { cacheStats, clearMemoryCache } from ${JSON.stringify(cacheModule)};
      const options = { entryPoints: [process.argv[1]], bundle: true, write: false, format: "esm",
        external: ["ratchetjs"], logLevel: "silent", plugins: [ratchet({ cacheDir: false })] };
      const codes = [];
      for (const clear of [false, true]) {
        if (clear) clearMemoryCache();
        codes.push((await build(options)).outputFiles[0].text);
        codes.push((await build(options)).outputFiles[0].text);
      }
      console.log(JSON.stringify({ stats: cacheStats(), same: codes.every((c) => c === codes[0]),
        compiled: codes[0].includes("$ratchet: 1") }));
    `;
    const out = execFileSync(
      process.execPath,
      ["--input-type=module", "-e", script, join(dir, "flow.ts")],
      { cwd: repoRoot, encoding: "utf8" },
    );
    expect(JSON.parse(out)).toStrictEqual({
      stats: { memoryHits: 2, diskHits: 0, compiles: 2 },
      same: true,
      compiled: true,
    });
  });

  it("lives in node_modules/.cache/ratchet of the project around the working directory", () => {
    expect(defaultCacheDir(join(repoRoot, "compiler"))).toBe(
      join(repoRoot, "node_modules", ".cache", "ratchet"),
    );
    expect(defaultCacheDir("/")).toBe(false);
  });
});
