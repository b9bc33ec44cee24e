import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createIdFilter } from "./id-filter.js";

describe("createIdFilter", () => {
  it("tests regular expressions on the path with / separators, exclude first", () => {
    const accepts = createIdFilter([/\.ts$/], [/[\\/]node_modules[\\/]/]);

    expect(accepts("/app/src/a.ts")).toBe(true);
    expect(accepts("C:\\app\\src\\a.ts")).toBe(true);
    expect(accepts("/app/src/a.css")).toBe(false);
    expect(accepts("/app/node_modules/dep/a.ts")).toBe(false);
  });

  it("reads strings as globs, a relative one from the working directory", () => {
    const accepts = createIdFilter(["src/**/*.ts", "**/shared/*.mts"], ["src/legacy/**"]);

    expect(accepts(join(process.cwd(), "src/flows/a.ts"))).toBe(true);
    expect(accepts(join(process.cwd(), "src/.hidden/a.ts"))).toBe(true);
    expect(accepts(join(process.cwd(), "lib/a.ts"))).toBe(false);
    expect(accepts("/elsewhere/shared/b.mts")).toBe(true);
    expect(accepts(join(process.cwd(), "src/legacy/old.ts"))).toBe(false);
  });

  it("accepts every path not excluded when nothing is included", () => {
    const accepts = createIdFilter([], [/\.css$/]);

    expect(accepts("/app/a.js")).toBe(true);
    expect(accepts("/app/a.css")).toBe(false);
  });
});
