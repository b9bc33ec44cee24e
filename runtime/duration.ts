/**
 * Durations in the grammar of the `ms` package, which Vercel, Inngest and Temporal users
 * already write: a number of milliseconds, or a number and a unit (`"500ms"`, `"30s"`,
 * `"15m"`, `"1.5h"`, `"7d"`, `"1w"`, `"15 minutes"`, `"2 hours"`). Units are case-insensitive;
 * a year is 365.25 days, as in `ms`. Unlike `ms`, a duration must come to a whole number of
 * milliseconds from 0 up to {@link maxDurationMs}: negative, fractional and astronomically long
 * durations are refused with an {@link InvalidDurationError} naming what they were for.
 *
 * The grammar is reimplemented here (it is one regular expression) rather than imported: the
 * runtime runs in browsers, and `ms` ships CommonJS.
 * @module
 */
import { RatchetError } from "./errors.js";

type MsUnit = "ms" | "msec" | "msecs" | "millisecond" | "milliseconds";
type SecondUnit = "s" | "sec" | "secs" | "second" | "seconds";
type MinuteUnit = "m" | "min" | "mins" | "minute" | "minutes";
type HourUnit = "h" | "hr" | "hrs" | "hour" | "hours";
type DayUnit = "d" | "day" | "days";
type WeekUnit = "w" | "week" | "weeks";
type YearUnit = "y" | "yr" | "yrs" | "year" | "years";
type Unit = MsUnit | SecondUnit | MinuteUnit | HourUnit | DayUnit | WeekUnit | YearUnit;
type AnyCaseUnit = Unit | Uppercase<Unit> | Capitalize<Unit>;

/** A duration string: `"500ms"`, `"30s"`, `"15m"`, `"1.5h"`, `"7d"`, `"1w"`, `"15 minutes"`. */
export type DurationString = `${number}` | `${number}${AnyCaseUnit}` | `${number} ${AnyCaseUnit}`;

/**
 * A length of time: a number of milliseconds, or a string in the `ms` grammar such as
 * `"500ms"`, `"30s"`, `"15m"`, `"1.5h"`, `"24h"`, `"7d"`, `"1w"` or `"15 minutes"`.
 */
export type Duration = number | DurationString;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const YEAR = 365.25 * DAY;

/**
 * The longest duration accepted: 100 years. Every store keeps times as epoch milliseconds,
 * and "now + duration" must stay a valid date and a safe integer; nothing durable waits
 * longer than a century.
 */
export const maxDurationMs = 100 * YEAR;

const unitMs: Readonly<Record<string, number>> = {
  ms: 1,
  msec: 1,
  msecs: 1,
  millisecond: 1,
  milliseconds: 1,
  s: SECOND,
  sec: SECOND,
  secs: SECOND,
  second: SECOND,
  seconds: SECOND,
  m: MINUTE,
  min: MINUTE,
  mins: MINUTE,
  minute: MINUTE,
  minutes: MINUTE,
  h: HOUR,
  hr: HOUR,
  hrs: HOUR,
  hour: HOUR,
  hours: HOUR,
  d: DAY,
  day: DAY,
  days: DAY,
  w: WEEK,
  week: WEEK,
  weeks: WEEK,
  y: YEAR,
  yr: YEAR,
  yrs: YEAR,
  year: YEAR,
  years: YEAR,
};

// ms's own expression; a sign is read only to say that a duration cannot be negative.
const pattern = /^(-?\d*\.?\d+) *([a-z]+)?$/i;

const examples =
  'a number of milliseconds or a string like "500ms", "30s", "15m", "1.5h", "7d", "2 weeks"';

/** A duration that is not one: the message says what it was for and what is accepted. */
export class InvalidDurationError extends RatchetError {
  /** The value as it was given. */
  readonly value: unknown;
  /** What it was for, e.g. `fn "charge": timeout`. */
  readonly what: string;

  constructor(what: string, value: unknown, reason: string) {
    super(
      "RATCHET_DURATION",
      `Invalid ${what}: ${describe(value)} ${reason}. Use ${examples} (whole milliseconds from 0 up to 100 years).`,
    );
    this.value = value;
    this.what = what;
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (value === null) return "null";
  return `(${typeof value})`;
}

/**
 * Milliseconds in `duration`, checked: a whole number from 0 to {@link maxDurationMs}.
 * Throws {@link InvalidDurationError} naming `what` for anything else.
 *
 * @example
 * ```ts
 * toMilliseconds("1.5h"); // 5_400_000
 * toMilliseconds("2 weeks"); // 1_209_600_000
 * toMilliseconds("15 minuts", "ctx.sleep duration"); // throws: unknown unit "minuts"
 * ```
 */
export function toMilliseconds(duration: Duration | string, what = "duration"): number {
  let ms: number;
  if (typeof duration === "number") {
    ms = duration;
  } else if (typeof duration === "string") {
    const match = pattern.exec(duration.trim());
    if (!match) {
      throw new InvalidDurationError(what, duration, "is not a duration");
    }
    const unit = (match[2] ?? "ms").toLowerCase();
    const factor = unitMs[unit];
    if (factor === undefined) {
      throw new InvalidDurationError(what, duration, `has an unknown unit "${match[2]}"`);
    }
    // Rounded to absorb binary fractions ("0.1s" is 100.00000000000001 ms before it).
    const exact = Number(match[1]) * factor;
    ms = Math.abs(exact - Math.round(exact)) < 1e-6 ? Math.round(exact) : exact;
  } else {
    throw new InvalidDurationError(what, duration, "is neither a number nor a string");
  }
  if (Number.isNaN(ms) || ms < 0) {
    throw new InvalidDurationError(what, duration, "is not a length of time >= 0");
  }
  if (!Number.isFinite(ms) || ms > maxDurationMs) {
    throw new InvalidDurationError(what, duration, "is longer than 100 years");
  }
  if (!Number.isInteger(ms)) {
    throw new InvalidDurationError(
      what,
      duration,
      `comes to ${ms} ms, not a whole number of milliseconds`,
    );
  }
  return ms;
}
