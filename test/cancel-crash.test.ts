import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { compileWorker } from "./support/compile-worker.js";
import { openTestDatabase } from "./support/postgres.js";

/**
 * Cancelling runs linked as parent and child, in real worker processes
 * (test/support/cancel-crash-worker.ts): "p" catches the error of its child "kid", which
 * waits for its own child "grandkid". A cancelled child's end reaches its waiting parent
 * from storage even when the process that cancelled it is killed (SIGKILL) right after the
 * cancellation committed; cancelling a parent cancels the children it waits for first.
 * On SQLite files and on the Postgres server (a schema per test).
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ratchet-cancel-crash-"));
const worker = compileWorker(new URL("./support/cancel-crash-worker.ts", import.meta.url));
const db = await openTestDatabase();
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  worker.remove();
  await db.end().catch(() => {});
});

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker.path, ...args], { cwd: root, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const last = (stdout: string) => JSON.parse(stdout.trim().split("\n").pop()!);

const caught = { status: "completed", result: "caught CancelledError: Run kid was cancelled." };

const cases = [
  {
    name: "a child cancelled, killed before its parent is told: the parent's await throws CancelledError",
    target: "kid",
    kill: true,
    expected: { p: caught, kid: "cancelled", grandkid: "cancelled" },
  },
  {
    name: "a parent cancelled: its child and grandchild are cancelled with it",
    target: "p",
    kill: false,
    expected: {
      p: { status: "cancelled", result: "threw CancelledError" },
      kid: "cancelled",
      grandkid: "cancelled",
    },
  },
  {
    name: "a parent cancelled, killed after its children's cancellation: the parent's wait ends with the child's CancelledError",
    target: "p",
    kill: true,
    expected: { p: caught, kid: "cancelled", grandkid: "cancelled" },
  },
] as const;

type Store = {
  env(): Promise<NodeJS.ProcessEnv>;
  statuses(env: NodeJS.ProcessEnv): Promise<Record<string, string>>;
};

const stores: Record<string, Store> = {
  sqlite: {
    async env() {
      return { DB: join(dir, `${Math.random().toString(36).slice(2)}.db`) };
    },
    async statuses(env) {
      const file = new Database(env.DB!, { readonly: true });
      const rows = file.prepare("SELECT id, status FROM ratchet_runs ORDER BY id").all() as {
        id: string;
        status: string;
      }[];
      file.close();
      return Object.fromEntries(rows.map((r) => [r.id, r.status]));
    },
  },
  postgres: {
    async env() {
      // Worker processes need a server: the embedded fallback cannot be shared.
      expect(db.kind, "the Postgres server at 127.0.0.1:5432 must answer").toBe("server");
      return { DATABASE_URL: db.url!, SCHEMA: db.freshSchema() };
    },
    async statuses(env) {
      const rows = await db.query<{ id: string; status: string }>(
        `SELECT id, status FROM "${env.SCHEMA}".runs ORDER BY id`,
      );
      return Object.fromEntries(rows.map((r) => [r.id, r.status]));
    },
  },
};

describe.each(Object.keys(stores))("on %s", (storeName) => {
  const store = stores[storeName]!;
  it.each(cases)("$name", { timeout: 240_000 }, async ({ target, kill, expected }) => {
    const env = { ...process.env, ...(await store.env()), KILL: kill ? "1" : "0" };
    const first = await run(["start", target], env);
    if (kill) expect(first.signal, first.stderr).toBe("SIGKILL");
    else {
      expect(first.code, first.stderr).toBe(0);
      expect(last(first.stdout)).toBe("cancelled");
    }
    const second = await run(["resume"], env);
    expect(second.code, second.stderr).toBe(0);
    const { p, ...children } = expected;
    expect(last(second.stdout)).toStrictEqual(p);
    const statuses = await store.statuses(env);
    expect(statuses).toStrictEqual({ ...children, p: p.status });
  });
});
