import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { StorageAdapter, StoredRun } from "../contract.js";
import { describeAdapterContract } from "../testing/index.js";
import { memory } from "./index.js";

describeAdapterContract("memory", () => memory());
// The optional groups show as skipped, and the rest passes without the wait fields.
describeAdapterContract("memory as an adapter written before waits", () => withoutWaits());

/**
 * The memory adapter as one written before waits existed would be: no `deliver` or
 * `cancel`, and runs without `wakeAt`, `wait`, `waitEvent` or `inbox`.
 */
function withoutWaits(): StorageAdapter {
  const inner = memory();
  const waitFields = new Set(["wakeAt", "wait", "waitEvent", "inbox"]);
  const strip = (run: StoredRun) =>
    Object.fromEntries(
      Object.entries(run).filter(([key]) => !waitFields.has(key)),
    ) as unknown as StoredRun;
  return {
    name: "memory-before-waits",
    init: () => inner.init(),
    createRun: async (run) => {
      const outcome = await inner.createRun(run);
      return { ...outcome, run: strip(outcome.run) };
    },
    loadRun: async (runId) => {
      const run = await inner.loadRun(runId);
      return run === null ? null : strip(run);
    },
    commit: (commit) => inner.commit(commit),
    claimRunnable: async (options) => (await inner.claimRunnable(options)).map(strip),
    renewLeases: (owner, runIds, leaseMs) => inner.renewLeases(owner, runIds, leaseMs),
    releaseLease: (runId, owner) => inner.releaseLease(runId, owner),
    listRuns: async (query) => (await inner.listRuns(query)).map(strip),
    close: () => inner.close(),
  };
}

describe("memory adapter", () => {
  it("imports nothing but the contract, so it runs in a browser", () => {
    const folder = new URL(".", import.meta.url);
    const sources = readdirSync(folder)
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .sort();
    expect(sources).toEqual(["index.ts", "memory-adapter.ts"]);
    for (const file of sources) {
      const code = readFileSync(new URL(file, folder), "utf8");
      const specifiers = [...code.matchAll(/^(?:import|export)[^"]*?from\s+"([^"]+)"/gm)].map(
        (m) => m[1],
      );
      expect(specifiers.length, file).toBeGreaterThan(0);
      for (const specifier of specifiers) {
        expect(["../contract.js", "./memory-adapter.js"], `${file} imports ${specifier}`).toContain(
          specifier,
        );
      }
    }
  });

  it("keeps each store separate", async () => {
    const a = memory();
    const b = memory();
    await a.createRun({ id: "r", workflow: "w", version: "v", args: "[]" });
    expect(await b.loadRun("r")).toBeNull();
  });
});
