/** A length of time: a number of milliseconds, or a string like `"500ms"`, `"30s"`, `"15m"`, `"24h"`, `"7d"`. */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d"}`;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds in `duration`; throws a `TypeError` naming `what` for anything else. */
export function toMilliseconds(duration: Duration | string, what = "duration"): number {
  if (typeof duration === "number") {
    if (Number.isFinite(duration) && duration >= 0) return duration;
  } else if (typeof duration === "string") {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(duration);
    if (match) return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  throw new TypeError(
    `Invalid ${what}: ${JSON.stringify(duration)}. Use a number of milliseconds (>= 0) or a string like "500ms", "30s", "15m", "24h", "7d".`,
  );
}
