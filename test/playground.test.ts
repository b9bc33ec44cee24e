import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { build, type PreviewServer, preview } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The playground in a real headless Chromium (Debian's, installed by .ci/run): build it, serve
 * the build, and drive the page as a person would — type into the editor, read the
 * diagnostic, step a workflow through its checkpoints, crash it and watch it resume.
 * Screenshots go to test-artifacts/.
 */

const CHROMIUM = "/usr/bin/chromium";
const root = fileURLToPath(new URL("..", import.meta.url));
const configFile = join(root, "playground/vite.config.ts");
const artifacts = join(root, "test-artifacts");
const hasChromium = existsSync(CHROMIUM);

if (!hasChromium && process.env.CI) {
  throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium before the tests.`);
}

describe.skipIf(!hasChromium)("playground in headless Chromium", () => {
  let outDir: string;
  let server: PreviewServer;
  let browser: Browser;
  let url: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), "ratchet-playground-"));
    await build({
      configFile,
      logLevel: "warn",
      build: {
        outDir,
        emptyOutDir: true,
        rolldownOptions: { checks: { bundlerTimings: false }, output: { keepNames: true } },
      },
    });
    server = await preview({
      configFile,
      logLevel: "warn",
      build: { outDir },
      preview: { host: "127.0.0.1", port: 0, strictPort: false, open: false },
    });
    url = server.resolvedUrls?.local[0] ?? "";
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    mkdirSync(artifacts, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  async function open(address: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(address);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
    await until(() => page.textContent("#compile-status")).toMatch(/^compiled in/);
    return page;
  }

  /** expect.poll with room for a loaded CI machine. */
  const until = <T>(read: () => Promise<T> | T) =>
    expect.poll(read, { timeout: 20_000, interval: 50 });
  const status = (page: Page) => page.textContent("#run-status");
  const log = (page: Page) => page.textContent("#log");

  async function next(page: Page): Promise<void> {
    await page.locator("#next:not([disabled])").click();
  }

  it("edits, diagnoses, steps, crashes and resumes, and shares", async () => {
    const page = await open(url);
    // The order example is loaded and drawn: three checkpoints, as nodes.
    await until(() => page.locator("#graph [data-checkpoint]").count()).toBe(3);
    expect(await page.textContent("#graph")).toContain("step:chargeCustomer");
    expect(await page.textContent("#emitted")).toContain("var $pc = $frame.pc");

    // Type a workflow that calls ctx in a nested function: the diagnostic appears inline.
    await page.locator("#editor .cm-content").click();
    await page.keyboard.press("Control+End");
    await page.keyboard.press("Enter");
    await page.keyboard.type(
      "export const broken = workflow(async (ctx: WorkflowContext, ids: string[]) => ids.map((id) => ctx.step(validateOrder, id)));",
    );
    await until(() => page.textContent("#diagnostics")).toMatch(/RATCHET100[34]/);
    await until(() => page.locator("#editor .cm-lintRange-error").count()).toBeGreaterThan(0);
    const diagnosticLine = await page.textContent("#diagnostics li");
    expect(diagnosticLine).toMatch(/^RATCHET100[34] 32:\d+ /);
    // The edited code is in the address: a new tab opened on it shows it.
    await until(() => page.url()).toContain("#code=");
    const shared = await open(page.url());
    expect(await shared.textContent("#editor .cm-content")).toContain("export const broken");
    await shared.close();

    // Nothing runs while a workflow has an error; deleting the line fixes it.
    expect(await page.isDisabled("#start")).toBe(true);
    expect(await status(page)).toContain("Fix the errors");
    await page.locator("#editor .cm-line").last().click();
    await page.keyboard.press("Alt+l");
    await page.keyboard.press("Backspace");
    await until(() => page.locator("#diagnostics li").count()).toBe(0);
    await until(() => page.isDisabled("#start")).toBe(false);

    await page.selectOption("#workflow", "orderWorkflow");
    await page.fill("#args", '["order-42"]');
    await page.click("#start");
    await until(() => status(page)).toContain("At checkpoint 1");
    expect(await page.getAttribute("#graph [data-checkpoint='1']", "class")).toContain(
      "is-current",
    );
    expect(await page.textContent("#live")).toContain('orderId: "order-42"');
    await until(() => page.inputValue("#step-result")).toContain('"valid": true');
    await next(page);
    await until(() => status(page)).toContain("At checkpoint 2");
    expect(await page.getAttribute("#graph [data-checkpoint='1']", "class")).toContain(
      "is-committed",
    );
    expect(await page.textContent("#frame")).toContain("step:validateOrder");
    expect(await page.textContent("#store-status")).toContain("seq 1");
    // The current checkpoint's line is highlighted in the source.
    expect(await page.textContent("#editor .cm-current-checkpoint")).toContain("chargeCustomer");

    // Override the charge's result by hand before committing it.
    await until(() => page.inputValue("#step-result")).toContain("chargeId");
    await page.fill(
      "#step-result",
      '{ "orderId": "order-42", "chargeId": "ch_by_hand", "status": "paid" }',
    );
    await next(page);
    await until(() => status(page)).toContain("At checkpoint 3");
    expect(await page.textContent("#live")).toContain("ch_by_hand");
    expect(await page.textContent("#frame")).toContain("ch_by_hand");

    // Crash: the worker is thrown away; the run resumes from the stored frame of checkpoint 2.
    await page.click("#crash");
    await until(() => log(page)).toContain("resumed after checkpoint 2");
    await until(() => page.textContent("#live-note")).toContain("live at checkpoint 3");
    expect(await status(page)).toContain("At checkpoint 3");
    expect(await page.textContent("#live")).toContain("ch_by_hand");
    expect(await page.getAttribute("#graph [data-checkpoint='2']", "class")).toContain(
      "is-resumed",
    );
    await page.screenshot({ path: join(artifacts, "playground-resumed.png") });
    await next(page);
    await until(() => page.textContent("#result")).toContain('status: "complete"');
    expect(await page.textContent("#result")).toContain("ch_by_hand");
    expect(await page.textContent("#store-status")).toContain("status completed");
    // Each step ran once: validate and charge were not run again after the crash.
    const console = (await log(page)) ?? "";
    expect(console.match(/console: validating/g)).toHaveLength(1);
    expect(console.match(/console: charging/g)).toHaveLength(1);
    await page.screenshot({ path: join(artifacts, "playground.png") });
    await page.close();
  });

  it("answers a waitForUser and skips a sleep", async () => {
    const page = await open(url);
    await page.selectOption("#example", "approval");
    await until(() => page.inputValue("#workflow")).toBe("approvalWorkflow");
    await page.click("#start");
    await until(() => status(page)).toContain("At checkpoint 1");
    await next(page);
    await until(() => status(page)).toContain("for an answer");
    expect(await page.textContent("#operation")).toContain(
      "Approve this order? order-1001 for Ada",
    );
    await page.click("#operation button:has-text('Approve')");
    await until(() => status(page)).toContain("At checkpoint 5");
    await next(page);
    await until(() => page.textContent("#result")).toContain('status: "fulfilled"');
    // Again, and nobody answers: skipping 48 hours times the wait out; the workflow catches it.
    await page.click("#start");
    await until(() => status(page)).toContain("At checkpoint 1");
    await next(page);
    await until(() => status(page)).toContain("for an answer");
    await page.click("#operation .skip-time");
    await until(() => status(page)).toContain("At checkpoint 3");
    expect(await log(page)).toContain("TimeoutError");
    await next(page);
    await until(() => page.textContent("#result")).toContain('status: "expired"');

    await page.selectOption("#example", "follow-up");
    await until(() => page.inputValue("#workflow")).toBe("followUpWorkflow");
    await page.click("#start");
    await until(() => status(page)).toContain("At checkpoint 1");
    await next(page);
    await until(() => status(page)).toContain("Asleep at checkpoint 2");
    expect(await page.isDisabled("#next")).toBe(true);
    await page.click("#operation .skip-time");
    await next(page);
    await until(() => status(page)).toContain("At checkpoint 3");
    await next(page);
    await until(() => page.textContent("#result")).toContain("Follow-up sent.");
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});
