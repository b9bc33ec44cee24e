import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import { createEngine } from "ratchetjs";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkout, state } from "./fixtures/inspector-workflows.js";

const CHROMIUM = "/usr/bin/chromium";
const root = fileURLToPath(new URL("..", import.meta.url));
/** Screenshots; docs/guides/images holds copies for the operations guide. */
const images = join(root, "test-artifacts");
const dir = mkdtempSync(join(tmpdir(), "ratchet-inspector-"));
const db = join(dir, "inspector.db");

if (!existsSync(CHROMIUM)) {
  throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium before the tests.`);
}

let server: ChildProcess | undefined;
let browser: Browser | undefined;
let url = "";

async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeAll(async () => {
  // The page script, as `npm run build` bundles it (the test setup runs tsc only).
  await build({
    entryPoints: [join(root, "cli/ui/client.ts")],
    bundle: true,
    format: "esm",
    outfile: join(root, "dist/cli/ui/client.js"),
    logLevel: "warning",
  });
  // A store with real runs: one failed at its charge, one asleep after it, one waiting to retry.
  const engine = createEngine({
    storage: sqlite({ path: db }),
    workflows: [checkout],
    history: true,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  try {
    const failed = await engine.start(checkout, ["sku-1", 30], { runId: "order-1-failed" });
    await expect(failed.result()).rejects.toThrow("card declined");
    const other = await engine.start(checkout, ["sku-3", 7], { runId: "order-3-failed" });
    await expect(other.result()).rejects.toThrow("card declined");
    state.declined = false;
    const sleeping = await engine.start(checkout, ["sku-2", 12], { runId: "order-2-sleeping" });
    await until(async () => (await sleeping.status()) === "sleeping");
  } finally {
    await engine.close();
  }

  server = spawn(
    process.execPath,
    [
      join(root, "dist/cli/bin.js"),
      "ui",
      "--db",
      db,
      "--port",
      "0",
      "--src",
      join(root, "test/fixtures/inspector-workflows.ts"),
    ],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  server.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  server.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  await until(async () => /http:\/\/127\.0\.0\.1:\d+\//.test(output) || server!.exitCode !== null);
  url = /http:\/\/127\.0\.0\.1:\d+\//.exec(output)?.[0] ?? "";
  expect(url, output).not.toBe("");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  mkdirSync(images, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("ratchet ui", () => {
  let page: Page;
  const errors: string[] = [];

  it("lists the runs, filtered by status", async () => {
    page = await browser!.newPage({ viewport: { width: 1500, height: 950 } });
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(url);
    await page.waitForSelector("#runs tbody tr");
    const rows = await page.$$eval("#runs tbody tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 4).map((td) => td.textContent)),
    );
    expect(rows).toEqual([
      ["order-2-sleeping", "checkout", "sleeping", "sleep:1h"],
      ["order-3-failed", "checkout", "failed", "step:reserve"],
      ["order-1-failed", "checkout", "failed", "step:reserve"],
    ]);
    await page.selectOption("#status", "failed");
    await expect.poll(() => page.$$eval("#runs tbody tr", (trs) => trs.length)).toBe(2);
    await page.selectOption("#status", "");
    await expect.poll(() => page.$$eval("#runs tbody tr", (trs) => trs.length)).toBe(3);
    await page.screenshot({ path: join(images, "inspector-runs.png") });
  });

  it("shows a run on its state machine, with its variables and step history", async () => {
    await page.click("#runs tbody tr[data-id='order-2-sleeping']");
    await page.waitForSelector("#graph .node.is-current");
    const current = await page.$$eval("#graph .node.is-current", (nodes) =>
      nodes.map((n) => n.textContent),
    );
    expect(current).toEqual([expect.stringContaining("sleep:1h")]);
    expect(await page.textContent("[data-fact=status]")).toBe("sleeping");
    expect(await page.textContent("[data-fact=source]")).toMatch(/inspector-workflows\.ts:21:3$/);
    const variables = await page.$$eval("#variables tbody tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
    );
    expect(variables).toEqual([
      ["hold", '{\n  "sku": "sku-2",\n  "held": true\n}'],
      ["receipt", '"ch_12"'],
    ]);
    const steps = await page.$$eval("#steps tbody tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 2).map((td) => td.textContent)),
    );
    expect(steps).toEqual([
      ["reserve", "1"],
      ["charge", "1"],
    ]);
    expect(await page.isDisabled("#retry")).toBe(true);
    await page.screenshot({ path: join(images, "inspector-run.png"), fullPage: true });
  });

  it("retries a failed run and cancels a sleeping one", async () => {
    await page.click("#runs tbody tr[data-id='order-1-failed']");
    await expect.poll(() => page.textContent("[data-fact=status]")).toBe("failed");
    expect(await page.textContent("[data-fact=error]")).toBe("FatalError: card declined");
    expect(await page.textContent("#steps tbody")).toContain("FatalError: card declined");
    await page.click("#retry");
    await expect.poll(() => page.textContent("#message")).toContain("is pending again");
    await expect.poll(() => page.textContent("[data-fact=status]")).toBe("pending");

    await page.click("#runs tbody tr[data-id='order-2-sleeping']");
    await expect.poll(() => page.textContent("[data-fact=status]")).toBe("sleeping");
    await page.click("#cancel");
    await expect.poll(() => page.textContent("[data-fact=status]")).toBe("cancelled");
    expect(await page.isDisabled("#cancel")).toBe(true);
    expect(errors).toEqual([]);
  });
});
