import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { describeAdapterContract } from "../testing/index.js";
import { memory } from "./index.js";

describeAdapterContract("memory", () => memory());

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
