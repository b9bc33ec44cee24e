import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const codeCacheModule = pathToFileURL(
  join(fileURLToPath(new URL("..", import.meta.url)), "dist/plugins/code-cache.js"),
).href;

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ratchet-code-cache-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh process that loads `file` through the code cache in `cacheDir` and prints it. */
function load(file: string, cacheDir: string) {
  const script = `
    import { createRequire } from "node:module";
    import { requireWithCodeCache, saveCodeCaches } from ${JSON.stringify(codeCacheModule)};
    const [file, cacheDir] = process.argv.slice(1);
    const loaded = requireWithCodeCache(file, cacheDir);
    saveCodeCaches();
    const same = createRequire(import.meta.url)(file) === loaded;
    console.log(JSON.stringify({ value: loaded.value(), same }));
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script, file, cacheDir], {
    encoding: "utf8",
    env: { ...process.env, NODE_DEBUG: "ratchet" },
  });
  if (child.status !== 0) throw new Error(child.stderr);
  const served = /code cache (hit|miss)/.exec(child.stderr)?.[1];
  return { ...(JSON.parse(child.stdout) as { value: string; same: boolean }), served };
}

describe("requireWithCodeCache", () => {
  it("loads a CommonJS file as require does, and from V8's code cache in a later process", () => {
    const file = join(dir, "lib.cjs");
    const cacheDir = join(dir, "cache");
    writeFileSync(
      file,
      'const path = require("node:path");\nexports.value = () => path.basename(__filename);\n',
    );

    expect(load(file, cacheDir)).toStrictEqual({ value: "lib.cjs", same: true, served: "miss" });
    expect(readdirSync(join(cacheDir, "v8"))).toHaveLength(1);
    expect(load(file, cacheDir)).toStrictEqual({ value: "lib.cjs", same: true, served: "hit" });
  });

  it("never runs the cache of another text, even of the same length, and keeps only the newest", () => {
    const file = join(dir, "lib.cjs");
    const cacheDir = join(dir, "cache");
    writeFileSync(file, 'exports.value = () => "one";\n');
    load(file, cacheDir);

    writeFileSync(file, 'exports.value = () => "two";\n');

    expect(load(file, cacheDir)).toStrictEqual({ value: "two", same: true, served: "miss" });
    expect(readdirSync(join(cacheDir, "v8"))).toHaveLength(1);
    expect(load(file, cacheDir)).toStrictEqual({ value: "two", same: true, served: "hit" });
  });
});
