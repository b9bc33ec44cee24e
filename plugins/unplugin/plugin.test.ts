import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { UnpluginMessage } from "unplugin";
import { describe, expect, it } from "vitest";
import { ratchetPluginFactory } from "./index.js";
import type { RatchetPluginOptions } from "./types.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const fixture = (name: string) => `${repoRoot}test/fixtures/bundler-app/${name}`;

type Handler = (
  this: unknown,
  code: string,
  id: string,
) => Promise<{ code: string; map: { sources: string[] } } | null>;

/**
 * The factory's transform hook called the way every bundler adapter calls it, with a context
 * that records what the plugin reports.
 */
async function transformWith(code: string, id: string, options?: RatchetPluginOptions) {
  const plugin = ratchetPluginFactory(options, { framework: "rollup", versions: {} });
  const hook = plugin.transform as { handler: Handler };
  const warnings: UnpluginMessage[] = [];
  const errors: UnpluginMessage[] = [];
  const context = {
    warn: (message: UnpluginMessage) => warnings.push(message),
    error: (message: UnpluginMessage) => errors.push(message),
  };
  const result = await hook.handler.call(context, code, id);
  return { result, warnings, errors };
}

const read = (name: string) => readFileSync(fixture(name), "utf8");

describe("the plugin's transform", () => {
  it("returns null for a module that never mentions ratchet", async () => {
    const { result, warnings, errors } = await transformWith(
      read("pricing.ts"),
      fixture("pricing.ts"),
    );

    expect(result).toBeNull();
    expect([...warnings, ...errors]).toEqual([]);
  });

  it("returns null for a module that mentions ratchet and workflows but defines none", async () => {
    const { result } = await transformWith(read("durable.ts"), fixture("durable.ts"));

    expect(result).toBeNull();
  });

  it("returns the module with its workflows compiled, the rest as written, and a source map", async () => {
    const source = read("orders.ts");
    const { result } = await transformWith(source, fixture("orders.ts"));

    expect(result?.code).toContain("var $pc = $frame.pc");
    // Types stay for the bundler to strip: only the workflows were printed.
    const head = source.slice(0, source.indexOf("workflow("));
    expect(result?.code.startsWith(head)).toBe(true);
    expect(result?.code).toContain("interface OrderInput");
    expect(result?.map.sources).toEqual([fixture("orders.ts")]);
  });

  it("leaves the map out when sourceMap is false", async () => {
    const { result } = await transformWith(read("orders.ts"), fixture("orders.ts"), {
      sourceMap: false,
    });

    expect(result?.code).toContain("var $pc = $frame.pc");
    expect(result?.map).toBeNull();
  });

  it("reports an error through the bundler's error, with every diagnostic and the location", async () => {
    const id = fixture("broken.ts");
    const { result, errors } = await transformWith(read("broken.ts"), id);

    expect(result).toBeNull();
    expect(errors).toEqual([
      {
        message: expect.stringMatching(
          new RegExp(`^${id} has 1 workflow error:\n${id}:8:16 - error RATCHET1003: .*\n  hint: `),
        ),
        id,
        loc: { file: id, line: 8, column: 15 },
      },
    ]);
  });

  it("lists every error in one message, located at the first", async () => {
    const id = "/app/flows.ts";
    const code = [
      'import { workflow } from "ratchetjs";',
      "export const a = workflow(async (ctx) => helper(ctx));",
      "export const b = workflow(async (ctx) => {",
      "  return arguments.length;",
      "});",
    ].join("\n");

    const { errors } = await transformWith(code, id);

    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/^\/app\/flows\.ts has 2 workflow errors:\n/);
    expect(errors[0]?.message).toContain("/app/flows.ts:2:");
    expect(errors[0]?.message).toContain("/app/flows.ts:4:");
    expect(errors[0]?.loc).toMatchObject({ line: 2 });
  });

  it("reports a warning through the bundler's warning and still compiles the workflow", async () => {
    const id = "/app/iterate.ts";
    const code = [
      'import { fn, workflow } from "ratchetjs";',
      "const f = fn(async () => 1);",
      "export const w = workflow(async (ctx, m: Map<string, number>) => {",
      "  const it = m.entries();",
      "  await ctx.step(f);",
      "  return it.next();",
      "});",
    ].join("\n");

    const { result, warnings, errors } = await transformWith(code, id);

    expect(errors).toEqual([]);
    expect(warnings).toEqual([
      {
        message: expect.stringMatching(/^\/app\/iterate\.ts:5:\d+ - warning RATCHET\d{4}: /),
        id,
        loc: { file: id, line: 5, column: expect.any(Number) },
      },
    ]);
    expect(result?.code).toContain("var $pc = $frame.pc");
  });

  it("runs before the bundler's own TypeScript handling", () => {
    const plugin = ratchetPluginFactory(undefined, { framework: "vite", versions: {} });

    expect(plugin.name).toBe("ratchet");
    expect(plugin.enforce).toBe("pre");
  });
});

describe("the package's bundler entries", () => {
  it("are reachable as ratchetjs/vite, /rollup, /esbuild, /webpack and /rspack", () => {
    // The built entries, the way a user's bundler config imports them.
    const script = `
      const shapes = {};
      for (const bundler of ["vite", "rollup", "esbuild", "webpack", "rspack"]) {
        const plugin = (await import("ratchetjs/" + bundler)).default();
        shapes[bundler] = [plugin.name ?? null, typeof (plugin.apply ?? plugin.setup ?? plugin.transform)];
      }
      console.log(JSON.stringify(shapes));
    `;
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: repoRoot,
      encoding: "utf8",
    });

    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({
      vite: ["ratchet", "object"],
      rollup: ["ratchet", "object"],
      esbuild: ["ratchet", "function"],
      webpack: [null, "function"],
      rspack: [null, "function"],
    });
  });
});
