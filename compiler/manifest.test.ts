import { describe, expect, it } from "vitest";
import { hashText } from "./manifest.js";

describe("hashText", () => {
  it("is 64-bit FNV-1a over UTF-16 code units, as stored versions and ids were hashed", () => {
    // Versions and checkpoint ids of stored runs were made with these values: they must not move.
    expect(hashText("")).toBe("cbf29ce484222325");
    expect(hashText("a")).toBe("af63dc4c8601ec8c");
    expect(hashText("foobar")).toBe("85944171f73967e8");
    expect(hashText("step:charge")).toBe("4df845d5fcaae38f");
    expect(hashText("é→😀")).toBe("82832485073708d7");
    expect(hashText("x".repeat(1000))).toBe("e1add1d93134d2c5");
  });
});
