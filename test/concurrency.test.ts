import { describe } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";

/** ctx.parallel, gather, batch and map against the oracle, crashed at every checkpoint. */
const cases: Record<string, OracleCase> = {
  "parallel, results in order": {
    params: "n",
    body: `const [a, b, c] = await ctx.parallel(ctx.step(add, n, 1), ctx.step(echo, "x"), ctx.step(add, n, 2));
const after = await ctx.step(add, a, c);
return { a, b, c, after };`,
    args: [3],
  },
  "parallel with a failing branch": {
    params: "n",
    body: `try {
  await ctx.parallel(ctx.step(add, n, 1), ctx.step(boom, "branch"), ctx.step(add, n, 2));
  return "unreached";
} catch (error) {
  return await ctx.step(echo, "caught " + error.message);
}`,
    args: [1],
  },
  "gather by name": {
    params: "id",
    body: `const { user, count } = await ctx.gather({ user: ctx.step(echo, { id }), count: ctx.step(add, 2, 3) });
return await ctx.step(echo, user.id + ":" + count);`,
    args: ["u1"],
  },
  "batch with failures and stats": {
    params: "items",
    body: `const { results, stats } = await ctx.batch(echo, items, { maxConcurrency: 2 });
const failed = await ctx.batch(boom, ["a", "b"]);
return { values: results.map((r) => r.ok ? r.value : "error"), stats, failedStats: failed.stats, first: failed.results[0].ok };`,
    args: [[1, 2, 3, 4, 5]],
  },
  "map, and map throwing BatchError": {
    params: "items",
    body: `const doubled = await ctx.map(echo, items.map((i) => i * 2), { maxConcurrency: 3 });
let error = "none";
try {
  await ctx.map(boom, ["x"]);
} catch (e) {
  error = e.name + " " + e.failures.length;
}
return { doubled, error };`,
    args: [[1, 2, 3]],
  },
  "parallel inside a loop": {
    params: "n",
    body: `const out = [];
for (let i = 0; i < n; i++) {
  const [x, y] = await ctx.parallel(ctx.step(add, i, 10), ctx.step(add, i, 20));
  out.push(x + y);
}
return out;`,
    args: [3],
  },
};

describe("concurrency matches the untransformed function", () => {
  itMatchesPlain(cases);
});
