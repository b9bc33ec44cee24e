import { describe, expect, it } from "vitest";
import { type Commit, mayKeepLease } from "./contract.js";

describe("mayKeepLease", () => {
  const plain: Commit = {
    runId: "r",
    expectedSeq: 3,
    owner: "w",
    status: "running",
    frame: "[1]",
    leaseMs: 30_000,
  };

  it("takes a running checkpoint that writes a frame and keeps its lease", () => {
    expect(mayKeepLease(plain)).toStrictEqual(true);
  });

  it("leaves every other commit to the full statement", () => {
    const others: Commit[] = [
      { ...plain, status: "completed" },
      { ...plain, status: "sleeping" },
      { ...plain, leaseMs: undefined },
      { ...plain, frame: undefined },
      { ...plain, result: "[1]" },
      { ...plain, error: "[1]" },
      { ...plain, wakeAt: null },
      { ...plain, wakeAt: 5 },
      { ...plain, wakeInMs: 5 },
      { ...plain, wait: null },
      { ...plain, inbox: null },
      { ...plain, session: { id: "s", expectedVersion: 0, state: "[]" } },
    ];
    expect(others.map(mayKeepLease)).toStrictEqual(others.map(() => false));
  });
});
