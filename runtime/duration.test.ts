import { describe, expect, it } from "vitest";
import { InvalidDurationError, maxDurationMs, toMilliseconds } from "./duration.js";

describe("durations in the ms grammar", () => {
  it.each([
    [250, 250],
    ["250", 250],
    ["500ms", 500],
    ["30s", 30_000],
    ["15m", 900_000],
    ["15 minutes", 900_000],
    ["1.5h", 5_400_000],
    ["24h", 86_400_000],
    ["2 Hours", 7_200_000],
    ["7d", 604_800_000],
    ["1w", 604_800_000],
    ["2 weeks", 1_209_600_000],
    ["1y", 31_557_600_000],
    ["0.1s", 100],
    [".5s", 500],
    ["  10 secs ", 10_000],
    ["100 years", maxDurationMs],
  ])("reads %j as %d ms", (duration, ms) => {
    expect(toMilliseconds(duration as string)).toBe(ms);
  });

  it.each([
    ["15 minuts", /unknown unit "minuts"/],
    ["-1h", /not a length of time >= 0/],
    [-5, /not a length of time >= 0/],
    [Number.NaN, /not a length of time >= 0/],
    [Number.POSITIVE_INFINITY, /longer than 100 years/],
    ["101y", /longer than 100 years/],
    [1.5, /comes to 1.5 ms, not a whole number/],
    ["0.5ms", /not a whole number of milliseconds/],
    ["soon", /is not a duration/],
    ["", /is not a duration/],
    ["1e3", /is not a duration/],
  ])("refuses %j, saying why and what it was for", (duration, reason) => {
    const call = () => toMilliseconds(duration as string, 'fn "charge": timeout');
    expect(call).toThrow(InvalidDurationError);
    expect(call).toThrow(reason);
    expect(call).toThrow(/^Invalid fn "charge": timeout: /);
    expect(call).toThrow(/"500ms", "30s", "15m", "1.5h", "7d", "2 weeks"/);
  });

  it("refuses values that are neither numbers nor strings", () => {
    expect(() => toMilliseconds({} as never, "ctx.sleep duration")).toThrow(
      /Invalid ctx.sleep duration: \(object\) is neither a number nor a string/,
    );
    const error = (() => {
      try {
        toMilliseconds("3 fortnights");
      } catch (caught) {
        return caught;
      }
    })() as InvalidDurationError;
    expect(error.code).toBe("RATCHET_DURATION");
    expect(error.value).toBe("3 fortnights");
  });
});
