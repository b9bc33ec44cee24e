import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "./main.js";

const dir = mkdtempSync(join(tmpdir(), "ratchet-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, "flows.ts");
const lock = join(dir, "ratchet.lock.json");

const source = (afterSleep: string, options = "") => `import { workflow } from "ratchetjs";
export const remind = workflow({ name: "remind"${options} }, async (ctx, who: string) => {
  const greeting = await ctx.step("greet", () => "hi " + who);
  await ctx.sleep("1h", { name: "nap" });
  ${afterSleep}
});
`;

describe("ratchet lock and ratchet check", () => {
  let out: string[];
  beforeEach(() => {
    out = [];
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  });
  afterEach(() => vi.restoreAllMocks());

  it("locks the checkpoints, then fails only on a change no migration covers", async () => {
    writeFileSync(file, source("return greeting;"));
    expect(await main(["lock", file, "--lock", lock])).toBe(0);
    const locked = JSON.parse(readFileSync(lock, "utf8"));
    expect(locked.workflows.remind.checkpoints["sleep:nap"]).toMatchObject({
      kind: "sleep",
      live: ["greeting"],
    });

    // A step added after the sleep: runs stored there still resume.
    writeFileSync(file, source(`return await ctx.step("shout", () => greeting.toUpperCase());`));
    expect(await main(["check", file, "--lock", lock])).toBe(0);

    // Now `who` is needed after the sleep, and the locked code did not store it there.
    out.length = 0;
    writeFileSync(file, source("return greeting + who;"));
    expect(await main(["check", file, "--lock", lock])).toBe(1);
    expect(out.join("\n")).toContain("checkpoint sleep:nap now needs who: NOT covered");

    // Migrations for those checkpoints cover them (at step:greet `who` is now live too).
    out.length = 0;
    writeFileSync(
      file,
      source(
        "return greeting + who;",
        `, migrate: { "step:greet": (vars) => ({ ...vars, who: "" }), "sleep:nap": (vars) => ({ ...vars, who: "" }) }`,
      ),
    );
    const covered = await main(["check", file, "--lock", lock]);
    expect(out.join("\n")).toContain("checkpoint sleep:nap now needs who: covered by migrate");
    expect(covered).toBe(0);
  });
});
