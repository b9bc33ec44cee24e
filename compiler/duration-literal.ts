/**
 * Durations written as literals (`ctx.sleep("15 minuts")`, `{ timeout: "1.5ms" }`) are checked
 * at compile time, in the grammar the runtime reads (`ms`'s, see runtime/duration.ts). The
 * compiler never imports the runtime, so the grammar is restated here;
 * `compiler/duration-literal.test.ts` checks that both agree.
 * @module
 */

const unitMs: Readonly<Record<string, number>> = (() => {
  const second = 1000;
  const minute = 60 * second;
  const hour = 60 * minute;
  const day = 24 * hour;
  const units: [readonly string[], number][] = [
    [["ms", "msec", "msecs", "millisecond", "milliseconds"], 1],
    [["s", "sec", "secs", "second", "seconds"], second],
    [["m", "min", "mins", "minute", "minutes"], minute],
    [["h", "hr", "hrs", "hour", "hours"], hour],
    [["d", "day", "days"], day],
    [["w", "week", "weeks"], 7 * day],
    [["y", "yr", "yrs", "year", "years"], 365.25 * day],
  ];
  return Object.fromEntries(units.flatMap(([names, ms]) => names.map((n) => [n, ms])));
})();

const maxDurationMs = 100 * 365.25 * 24 * 3_600_000;

/** Why a literal duration (a string or a number) is not one, or `undefined` when it is. */
export function durationLiteralProblem(value: string | number): string | undefined {
  let ms: number;
  if (typeof value === "number") {
    ms = value;
  } else {
    const match = /^(-?\d*\.?\d+) *([a-z]+)?$/i.exec(value.trim());
    if (!match) return "is not a duration";
    const factor = unitMs[(match[2] ?? "ms").toLowerCase()];
    if (factor === undefined) return `has an unknown unit "${match[2]}"`;
    const exact = Number(match[1]) * factor;
    ms = Math.abs(exact - Math.round(exact)) < 1e-6 ? Math.round(exact) : exact;
  }
  if (Number.isNaN(ms) || ms < 0) return "is not a length of time >= 0";
  if (!Number.isFinite(ms) || ms > maxDurationMs) return "is longer than 100 years";
  if (!Number.isInteger(ms)) return "is not a whole number of milliseconds";
  return undefined;
}
