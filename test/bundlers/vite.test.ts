import { rmSync } from "node:fs";
import { join } from "node:path";
import { build, createServer, type InlineConfig, type ViteDevServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ratchet from "../../plugins/unplugin/vite.js";
import {
  brokenDiagnostic,
  expectAppRan,
  fixture,
  fixtureDir,
  markerLine,
  outputDir,
  runBundle,
} from "./support.js";

/** What test/fixtures/bundler-app/app.ts exports. */
interface FixtureApp {
  runAll(): Promise<{ receipt: unknown; shipment: { labels: string[] }; failure: string }>;
}

let outDir: string;

beforeAll(() => {
  outDir = outputDir("vite");
});

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

/** A Vite config of its own: nothing from this repository's vitest.config.ts leaks in. */
function config(extra: InlineConfig): InlineConfig {
  return {
    root: fixtureDir,
    configFile: false,
    envFile: false,
    logLevel: "silent",
    cacheDir: join(outDir, ".vite"),
    plugins: [ratchet()],
    ...extra,
  };
}

function ssrBuild(entry: string) {
  return build(
    config({
      build: {
        ssr: fixture(entry),
        outDir: join(outDir, "build"),
        emptyOutDir: true,
        sourcemap: true,
        minify: false,
      },
      // Bundle "ratchet" too: the bundle then holds the runtime the workflows are compiled for.
      ssr: { noExternal: true, target: "node" },
    }),
  );
}

describe("ratchetjs/vite in a build", () => {
  it("builds an SSR bundle for Node whose workflows run, with errors mapped to the .ts lines", async () => {
    await ssrBuild("main.ts");

    expectAppRan(runBundle(join(outDir, "build/main.js")));
  });

  it("fails the build on a workflow that does not compile, at its file:line:column", async () => {
    const failure = await ssrBuild("broken.ts").then(
      () => undefined,
      (error: unknown) => error as Error,
    );

    expect(failure).toBeInstanceOf(Error);
    expect(failure?.message).toMatch(brokenDiagnostic);
    expect(failure?.message).toContain("[plugin ratchet]");
  });
});

describe("ratchetjs/vite in the dev server", () => {
  let server: ViteDevServer;

  beforeAll(async () => {
    server = await createServer(
      config({ appType: "custom", server: { middlewareMode: true, hmr: false, watch: null } }),
    );
  });

  afterAll(async () => {
    await server?.close();
  });

  it("compiles a workflow module on request, and leaves a module without workflows alone", async () => {
    const orders = await server.transformRequest("/orders.ts", { ssr: true });
    const pricing = await server.transformRequest("/pricing.ts", { ssr: true });

    expect(orders?.code).toContain("var $pc = $frame.pc");
    expect(orders?.map).toMatchObject({ sources: ["orders.ts"] });
    expect(pricing?.code).not.toContain("$frame");
  });

  it("runs workflows loaded through ssrLoadModule", async () => {
    const app = (await server.ssrLoadModule("/app.ts")) as FixtureApp;

    const { receipt, shipment, failure } = await app.runAll();

    expect(receipt).toEqual({ id: "o-1", total: 24, chargeId: "ch_o-1_1" });
    expect(shipment.labels).toEqual(["o-1/1:2.0kg", "o-1/2:12.5kg"]);
    expect(server.ssrRewriteStacktrace(failure)).toContain(
      `(${fixture("orders.ts")}:${markerLine("orders.ts", "CHECKOUT-THROW")}:11)`,
    );
  });

  it("reports a workflow that does not compile with its location", async () => {
    const failure = await server.ssrLoadModule("/broken.ts").then(
      () => undefined,
      (error: unknown) => error as Error & { loc?: { line: number; column: number } },
    );

    expect(failure?.message).toMatch(brokenDiagnostic);
    // Vite takes Rollup's 0-based column and points its code frame at `ctx`.
    expect(failure?.loc).toMatchObject({ line: markerLine("broken.ts", "LEAK"), column: 15 });
  });
});
