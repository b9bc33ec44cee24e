import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, type FunctionContext, fn, type StorageAdapter, workflow } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { sqlite } from "ratchetjs/adapters/sqlite";
import { afterAll, describe, expect, it } from "vitest";

// JavaScript lets code throw anything. A string or a plain object thrown by a step or a body
// is data the caller needs (an error code, a response body): it survives storage as it was.

const dir = mkdtempSync(join(tmpdir(), "ratchet-thrown-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const throwsValue = fn(
  async (_ctx: FunctionContext, value: unknown) => {
    throw value;
  },
  { retries: 0 },
);

const stepThrows = workflow(async (ctx, value: unknown) => {
  await ctx.step(throwsValue, value);
  return "unreachable";
});

const bodyThrows = workflow(async (ctx, value: unknown) => {
  await ctx.step("before", () => 1);
  throw value;
});

const caughtInBody = workflow(async (ctx, value: unknown) => {
  try {
    await ctx.step(throwsValue, value);
    return undefined;
  } catch (caught) {
    return { caught };
  }
});

const throwsUnstorable = workflow(async (ctx) => {
  await ctx.step("before", () => 1);
  throw { code: "E_SOCKET", retry: () => {} };
});

const stores: [string, () => StorageAdapter][] = [
  ["memory", () => memory()],
  ["sqlite", () => sqlite({ path: join(dir, `${Math.random()}.db`) })],
];

describe.each(stores)("a thrown non-Error value on %s", (_name, storage) => {
  const values: [string, unknown][] = [
    ["a string", "card declined"],
    ["a plain object", { code: "E_LIMIT", limit: 500, at: new Date(0) }],
    ["a number", 42],
    ["null", null],
  ];

  it.each(values)("from a step: result() rejects with %s as it was thrown", async (_, value) => {
    const engine = createEngine({ storage: storage(), workflows: [stepThrows] });
    try {
      const run = await engine.start(stepThrows, [value]);
      await expect(run.result()).rejects.toStrictEqual(value);
      expect(await run.status()).toBe("failed");
      // Read back from storage by a second handle, not from the process that ran it.
      await expect((await engine.get(run.id)).result()).rejects.toStrictEqual(value);
    } finally {
      await engine.close();
    }
  });

  it.each(values)("from the body: result() rejects with %s", async (_, value) => {
    const engine = createEngine({ storage: storage(), workflows: [bodyThrows] });
    try {
      await expect(engine.run(bodyThrows, [value])).rejects.toStrictEqual(value);
    } finally {
      await engine.close();
    }
  });

  it.each(values)("caught in the body after a checkpoint: %s", async (_, value) => {
    const engine = createEngine({ storage: storage(), workflows: [caughtInBody] });
    try {
      await expect(engine.run(caughtInBody, [value])).resolves.toStrictEqual({ caught: value });
    } finally {
      await engine.close();
    }
  });

  it("a thrown value that cannot be stored fails the run with an Error saying what it was", async () => {
    const engine = createEngine({ storage: storage(), workflows: [throwsUnstorable] });
    try {
      const error = await engine.run(throwsUnstorable, []).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe(
        "The run threw a value that cannot be stored ([object Object] with keys code, retry); throw an Error, or plain data, instead.",
      );
    } finally {
      await engine.close();
    }
  });
});
