import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const script = fileURLToPath(new URL("./fixtures/without-next-tick.ts", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));

it("wakes the worker when a run ends where process.nextTick is missing (a browser)", () => {
  const child = spawnSync(process.execPath, ["--import", "ratchetjs/register", script], {
    cwd: root,
    encoding: "utf8",
    // Under the minute the worker's next poll is away: the second run must start at the
    // first one's end.
    timeout: 45_000,
  });
  expect({ status: child.status, stderr: child.stderr }).toStrictEqual({ status: 0, stderr: "" });
  expect(JSON.parse(child.stdout.trim())).toStrictEqual(["a!", "b!"]);
});
