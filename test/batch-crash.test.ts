import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const worker = fileURLToPath(new URL("./fixtures/batch-worker.ts", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ratchet-batch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(env: Record<string, string>) {
  return spawnSync(process.execPath, ["--import", "ratchetjs/register", worker], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, DB: join(dir, "batch.db"), LEDGER: join(dir, "ledger"), ...env },
    timeout: 60_000,
  });
}

it("checkpoints every batch item as it finishes: killed with 7 of 10 done, only 3 run again", () => {
  const first = run({ KILL_AT: "7" });
  expect(first.signal, first.stderr).toBe("SIGKILL");
  const second = run({});
  expect(second.status, second.stderr).toBe(0);
  const result = JSON.parse(second.stdout.trim().split("\n").pop()!);
  expect(result.values).toEqual([0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
  expect(result.stats).toEqual({ totalItems: 10, completedItems: 10, failedItems: 0 });
  const calls = readFileSync(join(dir, "ledger"), "utf8").trim().split("\n").map(Number);
  // Items 0–6 ran once; 7 was interrupted and ran again with 8 and 9.
  expect(calls).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 7, 8, 9]);
});
