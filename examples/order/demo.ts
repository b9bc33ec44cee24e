/**
 * The crash demo: run the order workflow in a child process, SIGKILL it right after the
 * charge commits, start it again, and show that it finishes without charging twice.
 *
 *   npm run demo
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../../.ratchet-demo/", import.meta.url));
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const env = {
  ...process.env,
  RATCHET_DB: `${dir}orders.db`,
  RATCHET_LEDGER: `${dir}ledger.jsonl`,
  RATCHET_DEMO: "1",
};
const worker = fileURLToPath(new URL("./main.ts", import.meta.url));
const start = (extra: Record<string, string>) =>
  spawnSync(process.execPath, ["--import", "ratchetjs/register", worker], {
    env: { ...env, ...extra },
    stdio: "inherit",
  });

console.log("Ratchet demo: an order workflow (validate → charge → confirm) on SQLite.\n");
console.log(
  "1. A worker process starts the run, and is killed with SIGKILL right after the charge commits:",
);
const first = start({ RATCHET_CRASH_AFTER: "step:chargeCustomer" });
console.log(
  first.signal === "SIGKILL"
    ? "    ✗ the process died (SIGKILL): nothing ran after that checkpoint.\n"
    : `    (unexpected: the process ended with code ${first.status} instead of being killed)\n`,
);

console.log("2. A new process starts on the same database file:");
const second = start({});
if (second.status !== 0) {
  console.error(`    the second process failed with code ${second.status}`);
  process.exit(1);
}

const ledger = existsSync(env.RATCHET_LEDGER)
  ? readFileSync(env.RATCHET_LEDGER, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { event: string; pid: number })
  : [];
const count = (event: string) => ledger.filter((e) => e.event === event).length;
console.log("\n3. What really ran, from the ledger the steps append to:");
for (const event of ["validate", "charge", "confirm"]) {
  const pids = [...new Set(ledger.filter((e) => e.event === event).map((e) => e.pid))];
  console.log(`    ${event.padEnd(8)} ran ${count(event)} time(s), in process ${pids.join(", ")}`);
}
const ok = count("validate") === 1 && count("charge") === 1 && count("confirm") === 1;
console.log(
  ok
    ? "\nThe run resumed at its last checkpoint: the customer was charged exactly once."
    : "\nSomething ran twice: see the ledger above.",
);
process.exit(ok ? 0 : 1);
