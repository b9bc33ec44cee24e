/**
 * The serialization benchmark: devalue (as Ratchet uses it, and bare), seroval and superjson
 * compared on what they can store of the types DESIGN.md lists, and on the cost of a
 * serialize + parse of realistic checkpoint frames, each as a ratio to JSON.stringify +
 * JSON.parse of the same frame timed in the same round. bench/README.md says what each figure
 * measures; docs/serialization.md records the choice.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import * as devalue from "devalue";
import {
  createPlugin,
  fromJSON,
  type SerovalNode,
  deserialize as serovalEval,
  serialize as serovalSerialize,
  toJSON,
} from "seroval";
import { SuperJSON } from "superjson";
import { deserialize, registerClass, serialize } from "../runtime/serialization.js";
import {
  type Comparison,
  formatMicros,
  formatRatio,
  machineInfo,
  printRows,
  summarize,
  writeResults,
} from "./report.js";

/** A package's installed version (devalue's `exports` does not expose its package.json). */
function packageVersion(name: string): string {
  const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

const WARMUP_ROUNDS = 2;
const ROUNDS = 41;
/** A sample runs enough serialize + parse pairs to take about this long. */
const SAMPLE_MS = 20;

// ---------------------------------------------------------------------------------------
// The registered class every library is configured with, its own way.
// ---------------------------------------------------------------------------------------

class Money {
  constructor(
    readonly cents: bigint,
    readonly currency: string,
  ) {}
  format(): string {
    return `${this.currency} ${(Number(this.cents) / 100).toFixed(2)}`;
  }
}

registerClass(Money, {
  name: "bench.Money",
  serialize: (m) => ({ cents: m.cents, currency: m.currency }),
  deserialize: (d) => new Money(d.cents, d.currency),
});

const devalueReducers = {
  Money: (v: unknown) => v instanceof Money && { cents: v.cents, currency: v.currency },
};
const devalueRevivers = {
  Money: (d: { cents: bigint; currency: string }) => new Money(d.cents, d.currency),
};

// seroval's JS mode writes code that `eval` runs in the global scope: the class must be
// reachable from there.
(globalThis as Record<string, unknown>).__benchMoney = Money;
const serovalMoney = createPlugin<Money, { cents: SerovalNode; currency: SerovalNode }>({
  tag: "bench/Money",
  skipPlainObjects: true,
  test: (v) => v instanceof Money,
  parse: {
    sync: (m, ctx) => ({ cents: ctx.parse(m.cents), currency: ctx.parse(m.currency) }),
  },
  serialize: (node, ctx) =>
    `new globalThis.__benchMoney(${ctx.serialize(node.cents)},${ctx.serialize(node.currency)})`,
  deserialize: (node, ctx) =>
    new Money(ctx.deserialize<bigint>(node.cents), ctx.deserialize<string>(node.currency)),
});
const serovalPlugins = [serovalMoney];

const superjson = new SuperJSON();
superjson.registerClass(Money, { identifier: "bench.Money" });

// ---------------------------------------------------------------------------------------
// The codecs
// ---------------------------------------------------------------------------------------

interface Codec {
  readonly name: string;
  readonly version: string;
  encode(value: unknown): string;
  decode(text: string): unknown;
  /** Whether reading back evaluates the stored text as code. */
  readonly evaluates: boolean;
}

const json: Codec = {
  name: "JSON",
  version: process.version,
  encode: (v) => JSON.stringify(v),
  decode: (t) => JSON.parse(t),
  evaluates: false,
};

const codecs: readonly Codec[] = [
  {
    name: "ratchet (devalue + reducers)",
    version: packageVersion("devalue"),
    encode: serialize,
    decode: deserialize,
    evaluates: false,
  },
  {
    name: "devalue",
    version: packageVersion("devalue"),
    encode: (v) => devalue.stringify(v, devalueReducers),
    decode: (t) => devalue.parse(t, devalueRevivers),
    evaluates: false,
  },
  {
    name: "seroval (JSON)",
    version: packageVersion("seroval"),
    encode: (v) => JSON.stringify(toJSON(v, { plugins: serovalPlugins })),
    decode: (t) => fromJSON(JSON.parse(t), { plugins: serovalPlugins }),
    evaluates: false,
  },
  {
    name: "seroval (JS, eval)",
    version: packageVersion("seroval"),
    encode: (v) => serovalSerialize(v, { plugins: serovalPlugins }),
    decode: (t) => serovalEval(t),
    evaluates: true,
  },
  {
    name: "superjson",
    version: packageVersion("superjson"),
    encode: (v) => superjson.stringify(v),
    decode: (t) => superjson.parse(t),
    evaluates: false,
  },
];

// ---------------------------------------------------------------------------------------
// Coverage
// ---------------------------------------------------------------------------------------

class NotFound extends Error {
  override name = "NotFound";
  readonly status = 404;
}

class Connection {
  constructor(readonly url: string) {}
}

interface Case {
  readonly name: string;
  readonly value: () => unknown;
  /** Whether the value read back is right; `original` is the value that was stored. */
  readonly check: (back: unknown, original: unknown) => boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: checks poke at values of any shape.
type Any = any;

const cases: readonly Case[] = [
  {
    name: "JSON data",
    value: () => ({ s: "é\u2028</script>", n: 1.5, b: true, z: null, a: [1, { x: [] }] }),
    check: (b: Any, o: Any) => JSON.stringify(b) === JSON.stringify(o),
  },
  {
    name: "undefined (key kept)",
    value: () => ({ a: undefined, list: [undefined] }),
    check: (b: Any) => Object.hasOwn(b, "a") && b.a === undefined && 0 in b.list,
  },
  {
    name: "Date",
    value: () => new Date("2024-02-29T12:00:00.123Z"),
    check: (b: Any, o: Any) => b instanceof Date && b.getTime() === o.getTime(),
  },
  {
    name: "Map (object keys)",
    value: () => new Map<unknown, unknown>([[{ k: 1 }, "v"]]),
    check: (b: Any) => b instanceof Map && [...b.keys()][0]?.k === 1 && [...b.values()][0] === "v",
  },
  {
    name: "Set",
    value: () => new Set([1, "a"]),
    check: (b: Any) => b instanceof Set && b.has(1) && b.has("a"),
  },
  {
    name: "BigInt",
    value: () => ({ n: 2n ** 70n }),
    check: (b: Any) => b.n === 2n ** 70n,
  },
  {
    name: "RegExp (flags)",
    value: () => /a\/b+/giu,
    check: (b: Any) => b instanceof RegExp && b.source === "a\\/b+" && b.flags === "giu",
  },
  {
    name: "Error: class, message",
    value: () => new RangeError("boom"),
    check: (b: Any) => b instanceof RangeError && b.message === "boom",
  },
  {
    name: "Error: stack",
    value: () => new Error("boom"),
    check: (b: Any, o: Any) => b instanceof Error && b.stack === o.stack,
  },
  {
    name: "Error: user class name",
    value: () => new NotFound("missing"),
    check: (b: Any) => b instanceof Error && b.name === "NotFound" && b.message === "missing",
  },
  {
    name: "Error: cause",
    value: () => new Error("outer", { cause: new TypeError("inner") }),
    check: (b: Any) => b?.cause instanceof TypeError && b.cause.message === "inner",
  },
  {
    name: "Error: extra fields",
    value: () => Object.assign(new Error("x"), { code: "E_X", retries: 3 }),
    check: (b: Any) => b.code === "E_X" && b.retries === 3 && b instanceof Error,
  },
  {
    name: "typed arrays",
    value: () => [new Uint8Array([1, 255]), new Float64Array([1.5])],
    check: (b: Any) =>
      b[0] instanceof Uint8Array &&
      b[0][1] === 255 &&
      b[1] instanceof Float64Array &&
      b[1][0] === 1.5,
  },
  {
    name: "BigInt64Array",
    value: () => new BigInt64Array([-1n]),
    check: (b: Any) => b instanceof BigInt64Array && b[0] === -1n,
  },
  {
    name: "shared references",
    value: () => {
      const shared = { city: "Lyon" };
      return { billing: shared, shipping: shared };
    },
    check: (b: Any) => b.billing === b.shipping && b.billing.city === "Lyon",
  },
  {
    name: "cyclic references",
    value: () => {
      const order: Any = { id: 1, items: [] };
      order.items.push({ order });
      order.self = order;
      return order;
    },
    check: (b: Any) => b.self === b && b.items[0].order === b,
  },
  { name: "-0", value: () => [-0], check: (b: Any) => Object.is(b[0], -0) },
  { name: "NaN", value: () => [Number.NaN], check: (b: Any) => Number.isNaN(b[0]) },
  {
    name: "Infinity, -Infinity",
    value: () => [Infinity, -Infinity],
    check: (b: Any) => b[0] === Infinity && b[1] === -Infinity,
  },
  {
    name: "sparse arrays",
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point.
    value: () => [1, , 3],
    check: (b: Any) => Array.isArray(b) && b.length === 3 && !(1 in b) && b[2] === 3,
  },
  {
    name: "registered class",
    value: () => ({ price: new Money(1999n, "EUR") }),
    check: (b: Any) => b.price instanceof Money && b.price.format() === "EUR 19.99",
  },
  {
    name: "registered class, shared",
    value: () => {
      const price = new Money(1n, "EUR");
      return { a: price, b: [price], m: new Map([["k", price]]) };
    },
    check: (b: Any) => b.a instanceof Money && b.b[0] === b.a && b.m.get("k") === b.a,
  },
];

/** What each library does with a value it cannot store. */
const refusals = [
  {
    name: "refuses a function",
    value: () => ({ order: { items: [{ handler: () => 1 }] } }),
    path: "items[0].handler",
  },
  {
    name: "refuses an unregistered class instance",
    value: () => ({ conn: new Connection("db://x") }),
    path: ".conn",
  },
] as const;

function coverage(codec: Codec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of cases) {
    const original = c.value();
    let text: string;
    try {
      text = codec.encode(original);
    } catch {
      out[c.name] = "throws";
      continue;
    }
    let back: unknown;
    try {
      back = codec.decode(text);
    } catch {
      out[c.name] = "read fails";
      continue;
    }
    let ok = false;
    try {
      ok = c.check(back, original);
    } catch {
      ok = false;
    }
    out[c.name] = ok ? "yes" : "lossy";
  }
  for (const r of refusals) {
    try {
      const text = codec.encode(r.value());
      const back = codec.decode(text) as Record<string, unknown>;
      out[r.name] =
        `no: stored as ${JSON.stringify(back, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)) ?? "undefined"}`;
    } catch (error) {
      const e = error as { message?: string; path?: string };
      const where = `${e.path ?? ""} ${e.message ?? ""}`;
      out[r.name] = where.includes(r.path)
        ? `yes, at ${e.path ?? "(in the message)"}`
        : "yes, no path";
    }
  }
  out["reads without eval"] = codec.evaluates ? "no" : "yes";
  return out;
}

// ---------------------------------------------------------------------------------------
// Frames: what the executor stores at a checkpoint ({ cp, v: live variables, r: result }).
// ---------------------------------------------------------------------------------------

const day = Date.UTC(2024, 5, 1);

function smallFrame() {
  return {
    cp: "step:chargeCustomer",
    v: { orderId: "ord_8f3a21", attempt: 2, email: "ada@example.com" },
    r: { ok: true, chargeId: "ch_3PqX9", amount: 4999 },
  };
}

function order(i: number) {
  return {
    id: `ord_${i}`,
    status: "paid",
    createdAt: new Date(day + i * 60_000),
    customer: {
      id: `cus_${i % 97}`,
      name: "Ada Lovelace",
      email: "ada@example.com",
      vip: i % 3 === 0,
    },
    items: Array.from({ length: 12 }, (_, j) => ({
      sku: `SKU-${1000 + j}`,
      name: `Item number ${j}`,
      quantity: 1 + (j % 4),
      unitPrice: 499 + j * 100,
      tags: ["gift", j % 2 ? "fragile" : "standard"],
      options: { color: "blue", size: j % 2 ? "L" : "M" },
    })),
    shipping: {
      method: "express",
      address: { line1: "12 Analytical Row", city: "London", zip: "N1 9GU", country: "GB" },
      eta: new Date(day + 3 * 86_400_000),
    },
    totals: { subtotal: 21_588, tax: 4_318, shipping: 990, total: 26_896, currency: "EUR" },
  };
}

function mediumFrame() {
  return { cp: "step:reserveStock", v: { order: order(1), attempt: 1 }, r: { reserved: 12 } };
}

function largeFrame() {
  return {
    cp: "step:loadUsers",
    v: { page: 3, cursor: "c_1000" },
    r: Array.from({ length: 1000 }, (_, i) => ({
      id: i,
      name: `User ${i}`,
      email: `user${i}@example.com`,
      createdAt: new Date(day + i * 3_600_000),
      score: (i * 37) % 1000,
      active: i % 5 !== 0,
      tags: ["a", i % 2 ? "b" : "c"],
    })),
  };
}

/** An order whose items point back at it, a customer listing it, and a shared address. */
function cyclicFrame(backReferences: boolean) {
  const o = order(2) as Record<string, unknown> & { items: Record<string, unknown>[] };
  const address = (o.shipping as { address: Record<string, string> }).address;
  const customer = { id: "cus_1", name: "Ada", orders: [] as unknown[], address };
  for (const item of o.items) {
    if (backReferences) item.order = o;
    else item.orderId = o.id;
  }
  o.customer = backReferences ? customer : { ...customer, orders: undefined };
  if (backReferences) customer.orders.push(o);
  o.billing = backReferences ? address : { ...address };
  return { cp: "step:ship", v: { order: o, customer }, r: null };
}

interface Frame {
  readonly name: string;
  readonly value: unknown;
  /** What JSON is timed on: the same frame, or its acyclic twin for the cyclic one. */
  readonly jsonValue: unknown;
}

const frames: readonly Frame[] = [
  { name: "small", value: smallFrame(), jsonValue: smallFrame() },
  { name: "medium", value: mediumFrame(), jsonValue: mediumFrame() },
  { name: "large", value: largeFrame(), jsonValue: largeFrame() },
  { name: "cyclic", value: cyclicFrame(true), jsonValue: cyclicFrame(false) },
];

let sink = 0;

function microsPerOp(codec: Codec, value: unknown, iterations: number): number {
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    const text = codec.encode(value);
    const back = codec.decode(text);
    sink += text.length + (back === undefined ? 0 : 1);
  }
  return ((performance.now() - started) * 1000) / iterations;
}

/** Iterations that make one sample of `codec` on `value` take about SAMPLE_MS. */
function calibrate(codec: Codec, value: unknown): number {
  let iterations = 1;
  for (;;) {
    const micros = microsPerOp(codec, value, iterations) * iterations;
    if (micros >= 2000) return Math.max(1, Math.round((iterations * SAMPLE_MS * 1000) / micros));
    iterations *= 4;
  }
}

/** Whether `codec` stores `frame` and reads back a frame that looks like it. */
function roundTrips(codec: Codec, frame: Frame): boolean {
  try {
    const back = codec.decode(codec.encode(frame.value)) as { cp?: unknown };
    return back?.cp === (frame.value as { cp: string }).cp;
  } catch {
    return false;
  }
}

interface SerializationComparison extends Comparison {
  readonly frame: string;
  readonly library: string;
  readonly bytes: number;
  readonly jsonBytes: number;
  readonly iterations: number;
  readonly jsonIterations: number;
}

/** Run the serialization benchmark: print its tables and write `bench/results/serialization.json`. */
export async function runSerialization(): Promise<void> {
  const table: Record<string, Record<string, string>> = {};
  for (const codec of codecs) table[codec.name] = coverage(codec);
  const rowNames = [
    ...cases.map((c) => c.name),
    ...refusals.map((r) => r.name),
    "reads without eval",
  ];
  printRows(
    "Coverage: does the value come back right? (each library configured with one registered class)",
    ["value", ...codecs.map((c) => c.name)],
    rowNames.map((row) => [row, ...codecs.map((c) => shorten(table[c.name][row]))]),
    [0, ...codecs.map((_, i) => i + 1)],
  );

  interface Row {
    readonly frame: Frame;
    readonly codec: Codec;
    readonly iterations: number;
    readonly jsonIterations: number;
  }
  const rows: Row[] = [];
  const skipped: string[] = [];
  for (const frame of frames) {
    const jsonIterations = calibrate(json, frame.jsonValue);
    for (const codec of codecs) {
      if (!roundTrips(codec, frame)) {
        skipped.push(`${codec.name} on ${frame.name}`);
        continue;
      }
      rows.push({ frame, codec, iterations: calibrate(codec, frame.value), jsonIterations });
    }
  }

  const samples = rows.map(() => ({ subject: [] as number[], baseline: [] as number[] }));
  const started = performance.now();
  for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
    for (const [i, row] of rows.entries()) {
      // Alternate which side goes first, so drift within a round does not favour one side.
      const subjectFirst = round % 2 === 0;
      const subject = () => microsPerOp(row.codec, row.frame.value, row.iterations);
      const baseline = () => microsPerOp(json, row.frame.jsonValue, row.jsonIterations);
      const a = subjectFirst ? subject() : baseline();
      const b = subjectFirst ? baseline() : subject();
      if (round < 0) continue;
      samples[i].subject.push(subjectFirst ? a : b);
      samples[i].baseline.push(subjectFirst ? b : a);
    }
    process.stdout.write(round < 0 ? "warm-up done\n" : `round ${round + 1}/${ROUNDS} done\n`);
  }
  if (sink <= 0) throw new Error("unreachable: keeps the results alive");

  const comparisons: SerializationComparison[] = rows.map((row, i) => ({
    name: `${row.frame.name}, ${row.codec.name}`,
    subject: `${row.codec.name}: serialize + parse of the ${row.frame.name} frame`,
    baseline: "JSON.stringify + JSON.parse",
    frame: row.frame.name,
    library: row.codec.name,
    bytes: Buffer.byteLength(row.codec.encode(row.frame.value)),
    jsonBytes: Buffer.byteLength(JSON.stringify(row.frame.jsonValue)),
    iterations: row.iterations,
    jsonIterations: row.jsonIterations,
    subjectMicros: samples[i].subject,
    baselineMicros: samples[i].baseline,
  }));

  printRows(
    `Serialize + parse of a checkpoint frame, median of ${ROUNDS} rounds ` +
      `(${((performance.now() - started) / 1000).toFixed(0)} s)`,
    [
      "frame",
      "library",
      "µs/op",
      "JSON µs/op",
      "ratio (median)",
      "ratio range",
      "bytes",
      "JSON bytes",
    ],
    comparisons
      .map(summarize)
      .map((c) => [
        c.frame,
        c.library,
        formatMicros(c.subjectMedianMicros),
        formatMicros(c.baselineMedianMicros),
        `${formatRatio(c.ratioMedian)}×`,
        `${formatRatio(c.ratioMin)}–${formatRatio(c.ratioMax)}×`,
        String(c.bytes),
        String(c.jsonBytes),
      ]),
    [0, 1],
  );
  if (skipped.length > 0)
    console.log(`not timed (the frame does not round-trip): ${skipped.join("; ")}`);

  const written = await writeResults("serialization", {
    description:
      "µs per serialize + parse of a checkpoint frame ({ cp, v: live variables, r: result }) by " +
      "each library, against JSON.stringify + JSON.parse of the same frame timed in the same " +
      "round (for the cyclic frame, of its acyclic twin: ids instead of back-references). Frames: " +
      "small (a few fields), medium (an order with 12 items and Dates), large (1,000 user " +
      "objects with a Date each), cyclic (an order whose items point back at it, a customer " +
      "listing it, a shared address). Every library is configured with one registered class. " +
      "ratioMedian is the median of the per-round ratios. `coverage` says, per library, whether " +
      "each type DESIGN.md lists comes back right: yes, lossy (comes back, but not equal), " +
      "throws (on write), read fails.",
    settings: { rounds: ROUNDS, warmupRounds: WARMUP_ROUNDS, sampleMs: SAMPLE_MS, skipped },
    machine: machineInfo({
      devalue: packageVersion("devalue"),
      seroval: packageVersion("seroval"),
      superjson: packageVersion("superjson"),
    }),
    comparisons,
    extra: { coverage: table },
  });
  console.log(`wrote ${path.relative(process.cwd(), written)}`);
}

function shorten(text: string): string {
  return text.length > 34 ? `${text.slice(0, 33)}…` : text;
}
