import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, expect, it } from "vitest";
import { compileWorker } from "./support/compile-worker.js";

/**
 * A parent and its child run, with the process killed (SIGKILL) right after each storage
 * write that links them (test/support/child-crash-worker.ts): the child's creation, the
 * parent's waiting commit, the child's commit of its outcome, the child's final commit.
 * A new process must finish both, the parent getting the child's result exactly once: one
 * child run, every step executed once except in the at-least-once windows noted below (a step
 * that ran just before the kill, its checkpoint not committed), the parent's result right.
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ratchet-child-crash-"));
const worker = compileWorker(new URL("./support/child-crash-worker.ts", import.meta.url));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  worker.remove();
});

it.each(["child-created", "parent-waiting", "child-decided", "child-ended"])(
  "killed right after %s: the parent gets its child's result exactly once",
  { timeout: 60_000 },
  (moment) => {
    const env = {
      ...process.env,
      DB: join(dir, `${moment}.db`),
      LEDGER: join(dir, `${moment}.ledger`),
      KILL_AT: moment,
    };
    const first = spawnSync(process.execPath, [worker.path, "start"], {
      cwd: root,
      env,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(first.signal, first.stderr).toBe("SIGKILL");
    const second = spawnSync(process.execPath, [worker.path, "resume"], {
      cwd: root,
      env,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(second.status, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout.trim().split("\n").pop()!)).toBe(41);

    const steps = readFileSync(env.LEDGER, "utf8").trim().split("\n").sort();
    // The child starts executing as soon as it is stored, so when the process dies after
    // the parent's waiting commit, the child's step may have run without its checkpoint
    // committing: the one window where a step runs again (at-least-once, as documented).
    const kidSteps = steps.filter((s) => s === "kid-step").length;
    if (moment === "parent-waiting") expect(kidSteps).toBeLessThanOrEqual(2);
    else expect(kidSteps).toBe(1);
    // Once the child's outcome is durable the parent goes on in the same process, so when
    // the process dies after the child's final commit, the parent's next step may already
    // have run without its checkpoint committing: the same at-least-once window, for the
    // parent's step after the child.
    const parentAfter = steps.filter((s) => s === "parent-after").length;
    if (moment === "child-ended") expect([1, 2]).toContain(parentAfter);
    else expect(parentAfter).toBe(1);
    expect(steps.filter((s) => s === "parent-before")).toEqual(["parent-before"]);
    const db = new Database(env.DB, { readonly: true });
    const runs = db.prepare("SELECT id, status FROM ratchet_runs ORDER BY id").all();
    db.close();
    expect(runs).toEqual([
      { id: "kid", status: "completed" },
      { id: "p", status: "completed" },
    ]);
  },
);
