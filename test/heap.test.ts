import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "ratchet-heap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("10,000 sleeping runs: the worker's heap stays flat", () => {
  const script = fileURLToPath(new URL("./fixtures/sleepers.ts", import.meta.url));
  const out = spawnSync(
    process.execPath,
    ["--expose-gc", "--import", "ratchetjs/register", script],
    {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      encoding: "utf8",
      env: { ...process.env, DB: join(dir, "sleepers.db"), SLEEPERS: "10000" },
      timeout: 120_000,
    },
  );
  expect(out.status, out.stderr).toBe(0);
  const { baseline, after, sleeping } = JSON.parse(out.stdout.trim().split("\n").pop()!);
  expect(sleeping).toBe(10_000);
  // 8,000 more sleeping runs may cost at most 100 bytes each of heap: nothing held per run.
  const perRun = (after - baseline) / 8_000;
  console.log(
    `heap: ${(baseline / 1e6).toFixed(2)} MB at 2,000 sleepers, ${(after / 1e6).toFixed(2)} MB at 10,000 (${perRun.toFixed(0)} B per run)`,
  );
  expect(perRun).toBeLessThan(100);
});
