import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createEngine,
  type Engine,
  FatalError,
  type FunctionContext,
  fn,
  workflow,
} from "ratchetjs";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "./main.js";

const dir = mkdtempSync(join(tmpdir(), "ratchet-runs-"));
const db = join(dir, "runs.db");
const self = fileURLToPath(import.meta.url);

let declined = true;
const reserve = fn(async (_ctx: FunctionContext, sku: string) => ({ sku, held: true }), {
  name: "reserve",
});
const charge = fn(
  async (_ctx: FunctionContext, amount: number) => {
    if (declined) throw new FatalError("card declined");
    return `ch_${amount}`;
  },
  { name: "charge" },
);

const checkout = workflow(async (ctx, sku: string, amount: number) => {
  const hold = await ctx.step(reserve, sku);
  const receipt = await ctx.step(charge, amount);
  return { hold, receipt };
});
const reminder = workflow(async (ctx, email: string) => {
  const note = `remind ${email}`;
  await ctx.sleep("2h");
  return note;
});

const ids: Record<string, string> = {};
let out: string[];
let err: string[];

async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Run the CLI; resolves to its exit code, its stdout and its stderr. */
async function cli(...argv: string[]) {
  out = [];
  err = [];
  const code = await main(argv);
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

beforeAll(async () => {
  const engine = createEngine({
    storage: sqlite({ path: db }),
    workflows: [checkout, reminder],
    history: true,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  try {
    const failed = await engine.start(checkout, ["sku-1", 30], { runId: "run-failed" });
    await expect(failed.result()).rejects.toThrow("card declined");
    const sleeping = await engine.start(reminder, ["ada@example.com"], { runId: "run-sleeping" });
    await until(async () => (await sleeping.status()) === "sleeping");
    declined = false;
    await engine.run(checkout, ["sku-2", 12], { runId: "run-done" });
    ids.failed = failed.id;
  } finally {
    await engine.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ratchet runs", () => {
  beforeEach(() => {
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  });
  afterEach(() => vi.restoreAllMocks());

  it("lists runs as a table, filtered by status and workflow, or as JSON", async () => {
    const all = await cli("runs", "list", "--db", db);
    expect(all.code).toBe(0);
    const lines = all.stdout.split("\n");
    expect(lines[0]).toMatch(/^ID\s+WORKFLOW\s+STATUS\s+AT\s+UPDATED\s+CREATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ["run-done", "checkout", "completed", "—"],
      ["run-sleeping", "reminder", "sleeping", "sleep:2h"],
      ["run-failed", "checkout", "failed", "step:reserve"],
    ]);
    const failed = await cli("runs", "list", "--status", "failed,cancelled", "--db", db);
    expect(failed.stdout.split("\n")).toHaveLength(2);
    const json = await cli("--json", "runs", "list", "--workflow", "reminder", "--db", db);
    const [run] = JSON.parse(json.stdout);
    expect(run).toMatchObject({
      id: "run-sleeping",
      status: "sleeping",
      args: ["ada@example.com"],
      variables: { note: "remind ada@example.com" },
      checkpoint: { id: "sleep:2h" },
    });
    expect(typeof run.createdAt).toBe("string");
    expect((await cli("runs", "list", "--limit", "1", "--db", db)).stdout).toContain(
      "(the newest 1; --limit shows more)",
    );
  });

  it("shows one run: checkpoint with its source line, variables, error, step history", async () => {
    const shown = await cli("runs", "show", "run-failed", "--db", db, "--src", self);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^status:\s+failed$/m);
    expect(shown.stdout).toMatch(/^workflow:\s+checkout \(version \w+\)$/m);
    expect(shown.stdout).toMatch(/^checkpoint:\s+step:reserve$/m);
    expect(shown.stdout).toMatch(
      /^source:\s+cli\/runs\.test\.ts:34:\d+\s+const hold = await ctx\.step\(reserve, sku\);$/m,
    );
    expect(shown.stdout).toMatch(/^arguments:\s+\[ 'sku-1', 30 \]$/m);
    expect(shown.stdout).toMatch(/^ {2}amount = 30$/m);
    expect(shown.stdout).toMatch(/^error:\s+FatalError: card declined$/m);
    expect(shown.stdout).toMatch(/^ {2}reserve\s+1\s+\S+\s+\d+ ms\s*$/m);
    expect(shown.stdout).toMatch(/^ {2}charge\s+1\s+\S+\s+\d+ ms\s+FatalError: card declined$/m);

    const sleeping = await cli("runs", "show", "run-sleeping", "--db", db);
    expect(sleeping.stdout).toMatch(/^wakes:\s+\d{4}-/m);
    expect(sleeping.stdout).toMatch(/^source:\s+pass --src/m);
    const json = JSON.parse((await cli("runs", "show", "run-done", "--json", "--db", db)).stdout);
    expect(json).toMatchObject({
      status: "completed",
      result: { hold: { sku: "sku-2", held: true }, receipt: "ch_12" },
    });
    expect(json.steps.map((s: { name: string }) => s.name)).toEqual(["reserve", "charge"]);

    const missing = await cli("runs", "show", "nope", "--db", db);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No run with id "nope"');
  });

  it("retries a failed run and cancels a sleeping one, refusing what does not apply", async () => {
    const retried = await cli("runs", "retry", "run-failed", "--db", db);
    expect(retried).toMatchObject({ code: 0 });
    expect(retried.stdout).toContain("run run-failed is pending again");
    const again = await cli("runs", "retry", "run-failed", "--json", "--db", db);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toEqual({
      id: "run-failed",
      retried: false,
      status: "pending",
    });

    // A worker with the workflow resumes it after the reserve step, which does not run again.
    const worker: Engine = createEngine({
      storage: sqlite({ path: db }),
      workflows: [checkout, reminder],
      history: true,
      retention: false,
    });
    try {
      expect(await (await worker.get("run-failed")).result()).toEqual({
        hold: { sku: "sku-1", held: true },
        receipt: "ch_30",
      });
      const steps = (await (await worker.get("run-failed")).info()).steps!;
      expect(steps.map((s) => `${s.name}#${s.attempt}`)).toEqual([
        "reserve#1",
        "charge#1",
        "charge#1",
      ]);
    } finally {
      await worker.close();
    }

    expect((await cli("runs", "cancel", "run-sleeping", "--db", db)).stdout).toBe(
      "cancelled run run-sleeping",
    );
    const twice = await cli("runs", "cancel", "run-sleeping", "--db", db);
    expect(twice.code).toBe(1);
    expect(twice.stdout).toContain("had already ended");
  });

  it("purges finished runs older than a duration, never unfinished ones", async () => {
    expect((await cli("runs", "purge", "--db", db)).stdout).toBe(
      "deleted 0 finished run(s) older than 30d",
    );
    const refused = await cli("runs", "purge", "--status", "sleeping", "--db", db);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("sleeping is not finished");
    const bad = await cli("runs", "purge", "--older-than", "soon", "--db", db);
    expect(bad.code).toBe(2);
    const purged = await cli(
      "runs",
      "purge",
      "--older-than",
      "0",
      "--status",
      "cancelled",
      "--json",
      "--db",
      db,
    );
    expect(JSON.parse(purged.stdout)).toEqual({ deleted: 1, olderThan: "0" });
    const left = JSON.parse((await cli("runs", "list", "--json", "--db", db)).stdout);
    expect(left.map((r: { id: string }) => r.id).sort()).toEqual(["run-done", "run-failed"]);
  });

  it("says which store to use, and refuses a file that does not exist", async () => {
    const saved = process.env.RATCHET_DB;
    delete process.env.RATCHET_DB;
    try {
      const none = await cli("runs", "list");
      expect(none.code).toBe(2);
      expect(none.stderr).toContain("Pass --db <file.db | postgres://…>, or set RATCHET_DB");
      process.env.RATCHET_DB = db;
      expect((await cli("runs", "list", "--json")).code).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.RATCHET_DB;
      else process.env.RATCHET_DB = saved;
    }
    const missing = await cli("runs", "list", "--db", join(dir, "typo.db"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no SQLite database at");
    expect((await cli("runs", "--help")).stdout).toContain("purge [options]");
  });
});
