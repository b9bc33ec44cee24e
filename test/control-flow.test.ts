import { describe } from "vitest";
import { itMatchesPlain, type OracleCase } from "./support/oracle.js";

/**
 * Every construct around a checkpoint, against the oracle (the untransformed function):
 * same result or error and same step calls, uninterrupted and crashed-then-resumed after
 * each checkpoint.
 */
const cases: Record<string, OracleCase> = {
  "while with break and continue": {
    params: "n",
    body: `let i = 0, total = 0;
while (true) {
  i++;
  if (i % 2 === 0) continue;
  total = await ctx.step(add, total, i);
  if (i > n) break;
}
return { i, total };`,
    args: [5],
  },
  "do/while": {
    params: "n",
    body: `let i = 0;
do { i = await ctx.step(add, i, 2); } while (i < n);
return i;`,
    args: [7],
  },
  "for with let, continue and an early return": {
    params: "n",
    body: `const seen = [];
for (let i = 0; i < n; i++) {
  if (i === 1) continue;
  const v = await ctx.step(add, i, 100);
  seen.push(v);
  if (v > 103) return { early: seen };
}
return { seen };`,
    args: [10],
  },
  "labelled break and continue across nested loops": {
    params: "rows",
    body: `const out = [];
outer: for (let r = 0; r < rows; r++) {
  inner: for (let c = 0; c < 3; c++) {
    if (c === 1) continue inner;
    if (r === 1) continue outer;
    out.push(await ctx.step(add, r * 10, c));
    if (r === 2 && c === 2) break outer;
  }
}
return out;`,
    args: [4],
  },
  "a loop without a checkpoint that continues or breaks the loop around it, which has one": {
    params: "rows",
    body: `const out = [];
outer: for (let r = 0; r < rows; r++) {
  out.push(await ctx.step(add, r, 100));
  for (let c = 0; c < 4; c++) {
    if (c === r) continue outer;
    if (r === 3 && c === 1) break outer;
    out.push(c);
  }
  out.push("end " + r);
}
return out;`,
    args: [5],
  },
  "a switch without a checkpoint that continues or breaks the loop around it": {
    params: "n",
    body: `const out = [];
loop: for (let i = 0; i < n; i++) {
  out.push(await ctx.step(add, i, 0));
  switch (i % 3) {
    case 0: continue loop;
    case 1: out.push("one"); break;
    default: if (i > 3) break loop;
  }
  out.push("after " + i);
}
return out;`,
    args: [7],
  },
  "a return through a finally from a loop without a checkpoint": {
    params: "n",
    body: `const log = [];
try {
  log.push(await ctx.step(add, n, 1));
  let i = 0;
  do { i++; if (i > n) return log; log.push(i); } while (true);
} finally {
  log.push(await ctx.step(echo, "finally"));
}`,
    args: [3],
  },
  "labelled block": {
    params: "n",
    body: `let note = "start";
done: {
  const a = await ctx.step(add, n, 1);
  if (a > 2) break done;
  note = "small";
}
return note + (await ctx.step(echo, "!"));`,
    args: [5],
  },
  "for…of over arrays, with destructuring, and over other iterables": {
    params: "pairs",
    body: `const out = [];
for (const [k, v] of pairs) out.push(await ctx.step(echo, k + "=" + v));
for (const [k, v] of new Map(pairs)) out.push(await ctx.step(add, v, 1));
for (const ch of "ab") out.push(await ctx.step(echo, ch));
let last;
for (last of new Set([7, 8])) await ctx.step(echo, last);
return { out, last };`,
    args: [
      [
        ["a", 1],
        ["b", 2],
      ],
    ],
  },
  "for…in over an object": {
    params: "obj",
    body: `const keys = [];
for (const key in obj) keys.push(await ctx.step(echo, key + ":" + obj[key]));
return keys;`,
    args: [{ x: 1, y: 2, z: 3 }],
  },
  "switch with fall-through, default in the middle, and awaits in cases": {
    params: "n",
    body: `const out = [];
for (const v of [n, n + 1, n + 2, 99]) {
  switch (v) {
    case 1:
      out.push(await ctx.step(echo, "one"));
    case 2:
      out.push("two");
      break;
    default:
      out.push(await ctx.step(echo, "other " + v));
    case await ctx.step(add, 2, 1):
      out.push("three");
      break;
  }
}
return out;`,
    args: [1],
  },
  "a step's error caught by the workflow": {
    params: "n",
    body: `let message = "none";
try {
  await ctx.step(add, n, 1);
  await ctx.step(boom, "declined");
  message = "not reached";
} catch (error) {
  message = error.name + ": " + error.message;
  await ctx.step(echo, "compensate");
}
return message;`,
    args: [1],
  },
  "try/catch/finally with awaits in every part": {
    params: "n",
    body: `const log = [];
try {
  log.push(await ctx.step(add, n, 1));
  if (n > 0) throw new Error("bad " + n);
  log.push("unreached");
} catch ({ message }) {
  log.push(await ctx.step(echo, "caught " + message));
} finally {
  log.push(await ctx.step(echo, "finally"));
}
return log;`,
    args: [2],
  },
  "return through finally": {
    params: "n",
    body: `try {
  const a = await ctx.step(add, n, 1);
  return "returned " + a;
} finally {
  await ctx.step(echo, "cleanup");
}`,
    args: [1],
  },
  "return through two finally blocks": {
    params: "n",
    body: `const log = [];
try {
  try {
    log.push(await ctx.step(add, n, 1));
    return log;
  } finally {
    log.push(await ctx.step(echo, "inner"));
  }
} finally {
  log.push(await ctx.step(echo, "outer"));
}`,
    args: [1],
  },
  "break and continue through finally": {
    params: "n",
    body: `const log = [];
for (let i = 0; i < n; i++) {
  try {
    if (i === 1) continue;
    if (i === 3) break;
    log.push(await ctx.step(add, i, 0));
  } finally {
    log.push(await ctx.step(echo, "f" + i));
  }
}
return log;`,
    args: [6],
  },
  "break out of two try/finally levels": {
    params: "n",
    body: `const log = [];
outer: for (let i = 0; i < n; i++) {
  try {
    for (let j = 0; j < n; j++) {
      try {
        if (j === 1) break outer;
        log.push(await ctx.step(add, i, j));
      } finally {
        log.push(await ctx.step(echo, "inner" + j));
      }
    }
  } finally {
    log.push(await ctx.step(echo, "outer" + i));
  }
}
return log;`,
    args: [3],
  },
  "rethrow from catch to an outer catch": {
    params: "n",
    body: `try {
  try {
    await ctx.step(boom, "first");
  } catch (e) {
    await ctx.step(echo, "inner saw " + e.message);
    throw new TypeError("wrapped " + e.message);
  }
} catch (outer) {
  return await ctx.step(echo, outer.name + " " + outer.message);
}`,
    args: [0],
  },
  "an exception from plain code inside try, and one escaping": {
    params: "text",
    body: `let parsed;
try {
  await ctx.step(echo, text);
  parsed = JSON.parse(text);
} catch {
  parsed = await ctx.step(echo, "fallback");
}
await ctx.step(echo, parsed);
if (parsed === "fallback") throw new RangeError("gave up");
return parsed;`,
    args: ["{bad json"],
  },
  "finally replacing a throw with a return": {
    params: "n",
    body: `try {
  await ctx.step(boom, "lost");
} finally {
  await ctx.step(echo, "finally");
  return "finally wins";
}`,
    args: [0],
  },
  "awaits in call arguments, keeping evaluation order": {
    params: "n",
    body: `let x = 1;
const r = Math.max(x, await ctx.step(add, n, 1), (x = 50), await ctx.step(add, x, 1));
let y = 1;
const order = [y, await ctx.step(add, y, 1), (y = 7), await ctx.step(add, y, 1), y];
return [r, x, order, String(await ctx.step(echo, n)).padStart(3, "0")];`,
    args: [5],
  },
  "awaits in operators": {
    params: "n",
    body: `const a = n * 2 + (await ctx.step(add, n, 1)) * 3 - (await ctx.step(add, 1, 1));
const b = (await ctx.step(echo, n)) > 3 ? await ctx.step(echo, "big") : await ctx.step(echo, "small");
const c = n > 100 && (await ctx.step(echo, "never"));
const d = n < 100 || (await ctx.step(echo, "never either"));
const e = (await ctx.step(echo, null)) ?? (await ctx.step(echo, "default"));
const f = typeof (await ctx.step(echo, 1)) + !(await ctx.step(echo, false));
return { a, b, c, d, e, f };`,
    args: [4],
  },
  "awaits in literals and templates": {
    params: "n",
    body: `const base = [1, 2];
const obj = { n, [await ctx.step(echo, "key")]: await ctx.step(add, n, 1), ...(await ctx.step(echo, { spread: true })) };
const arr = [...base, await ctx.step(add, n, 2), ...(await ctx.step(echo, [9]))];
const text = \`n=\${n} a=\${await ctx.step(add, n, 3)} b=\${obj.key}\`;
return { obj, arr, text, first: (await ctx.step(echo, { deep: { v: 7 } })).deep.v };`,
    args: [1],
  },
  "assignments with awaits": {
    params: "n",
    body: `let x = n;
x += await ctx.step(add, x, 1);
let y;
y ??= await ctx.step(echo, "set");
let z = "kept";
z ||= await ctx.step(echo, "not run");
const obj = { total: 0 }, arr = [0, 0];
obj.total = await ctx.step(add, x, 10);
let i = 1;
arr[i] = await ctx.step(echo, "slot");
return { x, y, z, obj, arr };`,
    args: [2],
  },
  "the same name in different blocks, and shadowing": {
    params: "n",
    body: `const out = [];
const v = "outer";
{
  const v = await ctx.step(add, n, 1);
  out.push(v);
}
if (n > 0) {
  let v = await ctx.step(add, n, 2);
  v += 1;
  out.push(v);
}
for (let k = 0; k < 2; k++) {
  const v = await ctx.step(echo, "loop" + k);
  out.push(v);
}
out.push(v);
return out;`,
    args: [1],
  },
  "closures and helpers in loops": {
    params: "items",
    body: `function label(x) { return prefix + x; }
const prefix = "#";
const out = [];
for (const item of items) {
  const scaled = await ctx.step(add, item, item);
  const fmt = (x) => label(x) + "/" + scaled;
  out.push([1, 2].map(fmt).join(","));
}
return out;`,
    args: [[1, 2, 3]],
  },
  "steps nested in if inside loops inside try": {
    params: "n",
    body: `let acc = 0;
try {
  for (let i = 0; i < n; i++) {
    if (i % 2) {
      acc = await ctx.step(add, acc, i);
    } else if (i === 4) {
      await ctx.step(boom, "four");
    } else {
      acc = await ctx.step(add, acc, 100);
    }
  }
} catch (e) {
  acc = await ctx.step(add, acc, -1);
}
return acc;`,
    args: [6],
  },
  "parameters with defaults, destructuring and rest": {
    params: "{ id, opts: { retries = 2 } = {} }, label = 'none', ...rest",
    body: `const a = await ctx.step(add, retries, rest.length);
return { id, retries, label, rest, a };`,
    args: [{ id: "x" }, undefined, 1, 2, 3],
  },
  "loop whose every iteration recovers from a failure": {
    params: "n",
    body: `const results = [];
for (let i = 0; i < n; i++) {
  try {
    if (i === 1) await ctx.step(boom, "bad " + i);
    results.push(await ctx.step(add, i, 0));
  } catch (e) {
    results.push("error " + e.message);
  }
}
return results;`,
    args: [3],
  },
};

describe("control flow around checkpoints matches the untransformed function", () => {
  itMatchesPlain(cases);
});
