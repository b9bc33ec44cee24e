/**
 * One process of the child-run crash test (test/child-crash.test.ts), on an SQLite file.
 *
 *   start    store run "p" (a parent that starts child run "kid") and execute it; the process
 *            kills itself with SIGKILL right after the storage call named by KILL_AT applied:
 *            child-created   the child's creation (before the parent's waiting commit)
 *            parent-waiting  the parent's waiting commit (the child just started)
 *            child-decided   the child's commit of its outcome (before its parent is told)
 *            child-ended     the child's final commit
 *   resume   execute whatever is stored, print run "p"'s result as JSON, exit
 *
 * Environment: DB (the SQLite file), LEDGER (a file each step execution is appended to).
 */
import { appendFileSync } from "node:fs";
import { createEngine, type FunctionContext, fn, workflow } from "ratchetjs";
import type { Commit, NewRun } from "ratchetjs/adapters";
import { sqlite } from "ratchetjs/adapters/sqlite";

const killAt = process.argv[2] === "start" ? process.env.KILL_AT : undefined;
const die = () => process.kill(process.pid, "SIGKILL");

const base = sqlite({ path: process.env.DB! });
const storage = new Proxy(base, {
  get(target, key) {
    if (key === "createRun") {
      return async (run: NewRun) => {
        const created = await target.createRun(run);
        if (killAt === "child-created" && run.id === "kid") die();
        return created;
      };
    }
    if (key === "commit") {
      return async (change: Commit) => {
        const outcome = await target.commit(change);
        if (outcome.ok) {
          const kid = change.runId === "kid";
          if (killAt === "parent-waiting" && !kid && change.status === "waiting") die();
          if (killAt === "child-decided" && kid && change.status === "running" && change.result)
            die();
          if (killAt === "child-ended" && kid && change.status === "completed") die();
        }
        return outcome;
      };
    }
    const value = Reflect.get(target, key, target);
    return typeof value === "function" ? value.bind(target) : value;
  },
});

const note = fn(
  async (_ctx: FunctionContext, what: string) => {
    appendFileSync(process.env.LEDGER!, `${what}\n`);
    return what;
  },
  { retries: 0 },
);

export const kid = workflow(async (ctx, n: number) => {
  await ctx.step(note, "kid-step");
  return n * 2;
});

export const parent = workflow(async (ctx, n: number) => {
  await ctx.step(note, "parent-before");
  const doubled = await ctx.child(kid, [n], { runId: "kid" });
  await ctx.step(note, "parent-after");
  return doubled + 1;
});

const engine = createEngine({
  storage,
  workflows: [parent, kid],
  worker: { leaseMs: 300, pollIntervalMs: 20 },
});
if (process.argv[2] === "start") {
  await engine.start(parent, [20], { runId: "p" });
  // The kill comes from inside a storage call; a process still alive after this missed it.
  await new Promise((resolve) => setTimeout(resolve, 15_000));
  process.exit(3);
}
console.log(JSON.stringify(await (await engine.get("p")).result()));
await engine.close();
