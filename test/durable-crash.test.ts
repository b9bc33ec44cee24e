import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const worker = fileURLToPath(new URL("./fixtures/durable-worker.ts", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ratchet-durable-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, DB: join(dir, "durable.db"), LEDGER: join(dir, "ledger") };

const ledger = () =>
  readFileSync(env.LEDGER, "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const [what, at] = line.split(" ");
      return { what: what!, at: Number(at) };
    });

it("a sleep survives SIGKILL: the restarted process sleeps only what remains, then a wait survives it too", async () => {
  const sleepMs = 1500;
  const first = spawn(process.execPath, ["--import", "ratchetjs/register", worker], {
    cwd: root,
    env: { ...env, MODE: "start", SLEEP_MS: String(sleepMs) },
  });
  // Kill it once the run is asleep.
  for (let i = 0; i < 400; i++) {
    await new Promise((r) => setTimeout(r, 25));
    try {
      if (ledger().some((e) => e.what === "started")) break;
    } catch {
      // The ledger does not exist yet.
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  first.kill("SIGKILL");
  await new Promise((r) => first.once("exit", r));
  const killedAt = Date.now();

  const second = spawnSync(process.execPath, ["--import", "ratchetjs/register", worker], {
    cwd: root,
    encoding: "utf8",
    env: { ...env, MODE: "resume", ANSWER: "approve" },
    timeout: 30_000,
  });
  expect(second.status, second.stderr).toBe(0);
  expect(JSON.parse(second.stdout.trim().split("\n").pop()!)).toBe("approve");

  const events = ledger().filter((e) => e.what !== "started");
  expect(events.map((e) => e.what)).toEqual(["before-sleep", "after-sleep", "answered-approve"]);
  const slept = events[1]!.at - events[0]!.at;
  // Woke after the full sleep counted from before the crash, not a new sleep from the restart.
  expect(slept).toBeGreaterThanOrEqual(sleepMs);
  expect(events[1]!.at - killedAt).toBeLessThan(sleepMs);
});
