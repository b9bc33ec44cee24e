import { transform } from "ratchetjs/compiler";
import { describe, expect, it } from "vitest";
import { durationLiteralProblem } from "../compiler/duration-literal.js";
import { toMilliseconds } from "../runtime/duration.js";

const samples = [
  "500ms",
  "30s",
  "15m",
  "15 minutes",
  "1.5h",
  "2 Hours",
  "7d",
  "1w",
  "2 weeks",
  "1y",
  "100 years",
  "0.1s",
  ".5s",
  "250",
  "15 minuts",
  "-1h",
  "101y",
  "0.5ms",
  "soon",
  "",
  "1e3",
  "3 fortnights",
  0,
  1000,
  1.5,
  -5,
  Number.POSITIVE_INFINITY,
] as const;

describe("duration literals", () => {
  it.each(samples)("the compiler and the runtime agree on %j", (sample) => {
    let runtimeAccepts = true;
    try {
      toMilliseconds(sample);
    } catch {
      runtimeAccepts = false;
    }
    expect(durationLiteralProblem(sample) === undefined).toBe(runtimeAccepts);
  });

  it("are refused at compile time in ctx.sleep and wait timeouts, with the position", () => {
    const source = [
      'import { workflow } from "ratchetjs";',
      "export const w = workflow(async (ctx) => {",
      '  await ctx.sleep("15 minuts");',
      '  await ctx.waitForEvent("paid", { timeout: "1.5ms" });',
      '  await ctx.waitForUser({ question: "ok?", inputType: "approval", timeout: -1 });',
      '  await ctx.sleep("15 minutes");',
      "  return 1;",
      "});",
      "",
    ].join("\n");
    const result = transform(source, { filename: "w.ts" });
    expect(result.diagnostics.map((d) => [d.code, d.line, d.column, d.message])).toStrictEqual([
      ["RATCHET1015", 3, 19, 'The duration "15 minuts" has an unknown unit "minuts".'],
      ["RATCHET1015", 4, 45, 'The duration "1.5ms" is not a whole number of milliseconds.'],
      ["RATCHET1015", 5, 76, "The duration -1 is not a length of time >= 0."],
    ]);
  });
});
