/**
 * One process of the cancellation crash test (test/cancel-crash.test.ts), on SQLite (DB, a
 * file) or Postgres (DATABASE_URL and SCHEMA). Run "p" catches the error of its child run
 * "kid", which waits for child run "grandkid", which waits for an event that never comes.
 *
 *   start CANCEL   store run "p", wait until "grandkid" waits, then cancel run CANCEL; with
 *                  KILL=1 the process kills itself with SIGKILL right after the storage
 *                  cancelled "kid" (before anyone else is told), else it prints "cancelled"
 *   resume         execute whatever is stored until "p" has ended, print its status and
 *                  result as JSON, exit
 */
import { createEngine, type FunctionContext, fn, workflow } from "ratchetjs";
import type { StorageAdapter } from "ratchetjs/adapters";
import { postgres } from "ratchetjs/adapters/postgres";
import { sqlite } from "ratchetjs/adapters/sqlite";

const [mode, target] = process.argv.slice(2);
const kill = mode === "start" && process.env.KILL === "1";

const base: StorageAdapter = process.env.DB
  ? sqlite({ path: process.env.DB })
  : postgres({ connectionString: process.env.DATABASE_URL!, schema: process.env.SCHEMA! });
const storage = new Proxy(base, {
  get(object, key) {
    if (key === "cancel") {
      return async (runId: string, error: string) => {
        const cancelled = await object.cancel!(runId, error);
        if (kill && runId === "kid") process.kill(process.pid, "SIGKILL");
        return cancelled;
      };
    }
    const value = Reflect.get(object, key, object);
    return typeof value === "function" ? value.bind(object) : value;
  },
});

const note = fn(async (_ctx: FunctionContext, what: string) => what, { retries: 0 });

export const grandkid = workflow(async (ctx) => {
  await ctx.step(note, "grandkid");
  await ctx.waitForEvent("never");
  return "grandkid ended";
});

export const kid = workflow(async (ctx) => {
  await ctx.step(note, "kid");
  return await ctx.child(grandkid, [], { runId: "grandkid" });
});

export const parent = workflow(async (ctx) => {
  await ctx.step(note, "p");
  try {
    return await ctx.child(kid, [], { runId: "kid" });
  } catch (error) {
    return `caught ${(error as Error).name}: ${(error as Error).message}`;
  }
});

const engine = createEngine({
  storage,
  workflows: [parent, kid, grandkid],
  worker: { leaseMs: 2000, pollIntervalMs: 50 },
});
const deadline = Date.now() + 60_000;
const until = async (done: () => Promise<boolean>) => {
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};
if (mode === "start") {
  await engine.start(parent, [], { runId: "p" });
  for (const id of ["grandkid", "kid", "p"]) {
    await until(async () => (await base.loadRun(id))?.status === "waiting");
  }
  await (await engine.get(target!)).cancel();
  console.log(JSON.stringify("cancelled"));
} else {
  const p = await engine.get("p");
  const ended = ["completed", "failed", "cancelled"];
  await until(async () => ended.includes(await p.status()));
  const result = await p.result().catch((error: Error) => `threw ${error.name}`);
  console.log(JSON.stringify({ status: await p.status(), result }));
}
await engine.close();
