import { describe } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";

/**
 * A call's spread argument before a durable await is iterated before the await (issue 11):
 * what is not iterable throws the TypeError a call gives, with its message, not an array
 * literal's.
 */
const caught = (call: string) =>
  `try { return ${call}; } catch (e) { return e.constructor.name + ": " + e.message; }`;

const cases: Record<string, OracleCase> = {
  "Math.max(...o, await …) over an array-like object": {
    params: "o",
    body: caught("Math.max(...o, await ctx.step(echo, 1))"),
    args: [{ length: 2, 0: 5, 1: 6 }],
  },
  "a call spread of null, of a number, and after another argument": {
    params: "n",
    body: `const out = [];
for (const v of [null, 3, undefined]) {
  try { out.push(Math.max(1, ...v, await ctx.step(echo, 1))); } catch (e) { out.push(e.message); }
}
return out;`,
    args: [1],
  },
  "new with a spread before an await, and a method call": {
    params: "o",
    body: `const out = [];
try { out.push(new Array(...o, await ctx.step(echo, 1))); } catch (e) { out.push(e.message); }
try { out.push([].concat(...o, await ctx.step(echo, 2))); } catch (e) { out.push(e.message); }
return out;`,
    args: [{ a: 1 }],
  },
  "an iterable spread before an await keeps its values": {
    params: "n",
    body: `const s = new Set([n, n + 1]);
return Math.max(...s, await ctx.step(echo, 0), ...[n + 2]);`,
    args: [1],
  },
};

describe("a call's spread before a durable await throws what the call throws", () => {
  itMatchesPlain(cases);
});
