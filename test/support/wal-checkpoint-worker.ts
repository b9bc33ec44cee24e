/**
 * One process of the WAL checkpoint crash test (test/wal-checkpoint-crash.test.ts),
 * compiled once by the test and run with plain `node`. It opens the SQLite store with
 * `synchronous: "normal"`, so the log is checkpointed from the adapter's thread, and commits
 * checkpoints of several runs at once, each with a frame the test can check, reporting on
 * stdout:
 *
 * - `c <run> <seq>` once the commit of `seq` has resolved;
 * - `P` when the adapter pokes its checkpoint thread, `D` once the thread has finished
 *   a checkpoint since (seen after the next commit).
 *
 * Environment: RATCHET_PATH, the file; RATCHET_RUNS, how many runs (RATCHET_PREFIX, default
 * `r`, then 0…), created if missing and continued from their stored seq; RATCHET_MODE: `burst` commits until killed,
 * `leave` commits RATCHET_COMMITS per run and ends without close(), `close` the same and
 * then awaits close() at the top level.
 */
import { sqlite } from "ratchetjs/adapters/sqlite";

/** The frame of `run`'s checkpoint `seq`: about 1.5 KiB, a page a commit (the test checks it). */
const frameFor = (run: string, seq: number) => `${run}:${seq}:${"x".repeat(1500)}`;

interface Checkpointer {
  readonly checkpoints: number;
  poke(): void;
}
// The module the adapter imports (same URL from dist/), so its thread is seen here.
const { WalCheckpointer } = (await import(
  new URL("../dist/adapters/sqlite/wal-checkpointer.js", import.meta.url).href
)) as { WalCheckpointer: { prototype: Checkpointer } };

// Synchronous on Linux for a pipe: a line is out before the next commit starts.
const say = (text: string) => process.stdout.write(text);
let thread: Checkpointer | undefined;
let done = 0;
const poke = WalCheckpointer.prototype.poke;
WalCheckpointer.prototype.poke = function (this: Checkpointer) {
  thread = this;
  say("P\n");
  poke.call(this);
};

const mode = process.env.RATCHET_MODE ?? "burst";
const commits = Number(process.env.RATCHET_COMMITS ?? 0);
const prefix = process.env.RATCHET_PREFIX ?? "r";
const runs = Array.from(
  { length: Number(process.env.RATCHET_RUNS ?? 4) },
  (_, i) => `${prefix}${i}`,
);
const storage = sqlite({ path: process.env.RATCHET_PATH!, synchronous: "normal" });
await storage.init();
const leaseMs = 3_600_000;
await Promise.all(
  runs.map(async (id) => {
    if ((await storage.loadRun(id)) === null) {
      await storage.createRun({
        id,
        workflow: "w",
        version: "v1",
        args: "[]",
        leaseOwner: "w",
        leaseMs,
      });
    }
    let seq = (await storage.loadRun(id))!.seq;
    const until = seq + commits;
    while (mode === "burst" || seq < until) {
      const frame = frameFor(id, seq + 1);
      const outcome = await storage.commit({
        runId: id,
        expectedSeq: seq,
        owner: "w",
        leaseMs,
        status: "running",
        frame,
      });
      if (!outcome.ok) throw new Error(`${id} at ${seq}: ${JSON.stringify(outcome)}`);
      seq = outcome.seq;
      say(`c ${id} ${seq}\n`);
      if (thread !== undefined && thread.checkpoints > done) {
        done = thread.checkpoints;
        say("D\n");
      }
    }
  }),
);
if (mode === "close") await storage.close();
say("end\n");
