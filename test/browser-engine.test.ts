import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ratchet from "../plugins/unplugin/esbuild.js";

/**
 * The runtime and the memory adapter in a real headless Chromium (Debian's, installed by
 * .ci/run), bundled for the browser as an app would be: esbuild with `platform: "browser"`
 * (a `node:` import reachable from them fails the build) and the Ratchet plugin compiling
 * the workflow. No Node globals in the page: no `process`, `Buffer` or `setImmediate`.
 */

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const entry = fileURLToPath(new URL("./fixtures/browser-engine.ts", import.meta.url));
const runtime = fileURLToPath(new URL("../runtime/index.ts", import.meta.url));

if (!hasChromium && process.env.CI) {
  throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium before the tests.`);
}

describe.skipIf(!hasChromium)("the engine in headless Chromium", () => {
  let browser: Browser;
  let script: string;

  beforeAll(async () => {
    const output = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      // The workflow imports `ratchetjs`: the sources, as the page's own imports are.
      alias: { ratchetjs: runtime },
      plugins: [ratchet()],
    });
    script = output.outputFiles[0]?.text ?? "";
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** Serve the page at `origin` (answered by the browser itself, nothing listens) and read its outcome. */
  async function outcomeAt(origin: string) {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.route(`${origin}/**`, (route) =>
      route.fulfill(
        route.request().url().endsWith("/page.js")
          ? { contentType: "text/javascript", body: script }
          : {
              contentType: "text/html",
              body: '<!doctype html><script type="module" src="/page.js"></script>',
            },
      ),
    );
    await page.goto(`${origin}/`);
    const nodeGlobals = await page.evaluate(() =>
      ["process", "Buffer", "setImmediate"].filter((name) => name in globalThis),
    );
    // Under the minute the worker's next poll is away: the second run starts at the first one's end.
    await page.waitForFunction(() => "outcome" in globalThis, null, { timeout: 30_000 });
    const outcome = await page.evaluate(() => (globalThis as { outcome?: unknown }).outcome);
    const secure = await page.evaluate(() => isSecureContext);
    await page.close();
    return { nodeGlobals, pageErrors, secure, outcome };
  }

  it("runs a compiled workflow with memory(), and the run waiting for capacity starts when the first ends", async () => {
    expect(await outcomeAt("http://127.0.0.1")).toStrictEqual({
      nodeGlobals: [],
      pageErrors: [],
      secure: true,
      outcome: { results: ["a!", "b!"] },
    });
  }, 60_000);

  it("runs on a page served over plain http from another host, where crypto.randomUUID is missing", async () => {
    // Not a secure context (a dev server on a LAN address): crypto.getRandomValues only.
    expect(await outcomeAt("http://ratchet.test")).toStrictEqual({
      nodeGlobals: [],
      pageErrors: [],
      secure: false,
      outcome: { results: ["a!", "b!"] },
    });
  }, 60_000);
});
