import { describe } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";

/**
 * `using` / `await using` around checkpoints when disposal throws, against the
 * untransformed function (`using` lowered by the bundler's helper on Node 20, which has no
 * SuppressedError global): a disposal error replaces how the block ended, and when the
 * block threw too, the error is a SuppressedError holding both, chained disposal by
 * disposal. Uninterrupted and crashed-then-resumed after each checkpoint.
 */
const show = `const show = (e) => e && e.name === "SuppressedError"
  ? { name: e.name, message: e.message, isError: e instanceof Error, error: show(e.error), suppressed: show(e.suppressed) }
  : e && e.message;`;

const cases: Record<string, OracleCase> = {
  "the block throws and the disposal throws": {
    params: "n",
    body: `${show}
try {
  using r = new FailingResource("r");
  await ctx.step(add, n, 1);
  throw new Error("body");
} catch (e) { return show(e); }`,
    args: [1],
  },
  "a failed step and a failing disposal": {
    params: "n",
    body: `${show}
try {
  using r = new FailingResource("r");
  await ctx.step(boom, "step");
} catch (e) { return show(e); }`,
    args: [1],
  },
  "the block ends normally and the disposal throws": {
    params: "n",
    body: `${show}
const log = [];
try {
  using r = new FailingResource("r");
  log.push(await ctx.step(add, n, 1));
} catch (e) { log.push(show(e)); }
return log;`,
    args: [1],
  },
  "a return through a failing disposal": {
    params: "n",
    body: `${show}
try {
  {
    using r = new FailingResource("r");
    const v = await ctx.step(add, n, 1);
    if (v > 0) return "returned";
  }
} catch (e) { return show(e); }
return "after";`,
    args: [1],
  },
  "several disposals throw: the errors chain, last declared first": {
    params: "n",
    body: `${show}
try {
  using a = new FailingResource("a"), ok = new Resource("ok");
  using b = new FailingResource("b");
  await ctx.step(add, n, 1);
  throw new Error("body");
} catch (e) { return show(e); }`,
    args: [1],
  },
  "two disposals throw after a normal end": {
    params: "n",
    body: `${show}
try {
  using a = new FailingResource("a");
  using b = new FailingResource("b");
  await ctx.step(add, n, 1);
} catch (e) { return show(e); }
return "none";`,
    args: [1],
  },
  "await using with a rejecting asyncDispose": {
    params: "n",
    body: `${show}
try {
  await using a = new FailingResource("a");
  await using b = new Resource("b");
  await ctx.step(add, n, 1);
  throw new Error("body");
} catch (e) { return show(e); }`,
    args: [1],
  },
  "an uncaught SuppressedError ends the run": {
    params: "n",
    body: `using r = new FailingResource("r");
await ctx.step(add, n, 1);
throw new Error("body");`,
    args: [1],
  },
};

describe("using and await using when disposal throws match the untransformed function", () => {
  itMatchesPlain(cases);
});
