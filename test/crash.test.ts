import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * Real crashes: the order workflow runs in a child process on an SQLite file and the child
 * is killed with SIGKILL at every checkpoint in turn (right after it commits), and inside
 * every step (after the step's side effect, before its checkpoint commits). A second
 * process then finishes the run from storage.
 */
const worker = fileURLToPath(new URL("../examples/order/main.ts", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ratchet-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const expected = {
  status: "complete",
  orderId: "order-42",
  chargeId: "ch_order-42:step:chargeCustomer:2",
};
const checkpoints = ["step:validateOrder", "step:chargeCustomer", "step:sendConfirmation"];
const steps = ["validate", "charge", "confirm"];

let scenario = 0;
function runWorker(env: Record<string, string>, files: { db: string; ledger: string }) {
  return spawnSync(process.execPath, ["--import", "ratchetjs/register", worker], {
    cwd: root,
    encoding: "utf8",
    env: {
      ...process.env,
      RATCHET_DB: files.db,
      RATCHET_LEDGER: files.ledger,
      RATCHET_LEASE_MS: "200",
      ...env,
    },
    timeout: 60_000,
  });
}

function ledger(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { event: string }).event);
}

function freshFiles() {
  scenario++;
  return { db: join(dir, `orders-${scenario}.db`), ledger: join(dir, `ledger-${scenario}.jsonl`) };
}

function finish(files: { db: string; ledger: string }) {
  const second = runWorker({}, files);
  expect(second.status, second.stderr).toBe(0);
  expect(JSON.parse(second.stdout.trim().split("\n").pop()!)).toEqual(expected);
}

describe("SIGKILL and resume, order workflow on SQLite", () => {
  it("runs through without a crash", () => {
    const files = freshFiles();
    finish(files);
    expect(ledger(files.ledger)).toEqual(steps);
  });

  it.each(checkpoints.map((id, i) => [id, i]))(
    "killed right after %s commits: no committed step runs again",
    (checkpoint, index) => {
      const files = freshFiles();
      const first = runWorker({ RATCHET_CRASH_AFTER: String(checkpoint) }, files);
      expect(first.signal).toBe("SIGKILL");
      const before = ledger(files.ledger);
      expect(before).toEqual(steps.slice(0, Number(index) + 1));
      finish(files);
      // Every step ran exactly once: the ones before the crash were not repeated.
      expect(ledger(files.ledger)).toEqual(steps);
    },
  );

  it.each(steps.map((step, i) => [step, i]))(
    "killed inside %s, before its checkpoint commits: only that step runs again",
    (step, index) => {
      const files = freshFiles();
      const first = runWorker({ RATCHET_CRASH_DURING: String(step) }, files);
      expect(first.signal).toBe("SIGKILL");
      finish(files);
      const i = Number(index);
      // At-least-once: the interrupted step ran twice, every other step once.
      expect(ledger(files.ledger)).toEqual([...steps.slice(0, i + 1), ...steps.slice(i)]);
    },
  );
});
