import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createEngine } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { expect, it } from "vitest";
import { throwsInBody, throwsInStep } from "./fixtures/throwing.js";

const fixture = fileURLToPath(new URL("./fixtures/throwing.ts", import.meta.url));
const lineOf = (marker: string) =>
  readFileSync(fixture, "utf8")
    .split("\n")
    .findIndex((line) => line.includes(marker)) + 1;

it("reports an error thrown in a workflow body at the user's file and line", async () => {
  const engine = createEngine({ storage: memory(), workflows: [throwsInBody] });
  const error = (await engine.run(throwsInBody, [5]).catch((e: unknown) => e)) as Error;
  await engine.close();
  expect(error).toBeInstanceOf(TypeError);
  expect(error.message).toBe("body refused 3");
  expect(error.stack).toContain(`throwing.ts:${lineOf("BODY-THROW")}:`);
});

it("reports an error thrown in a step at the user's file and line", async () => {
  const engine = createEngine({ storage: memory(), workflows: [throwsInStep] });
  const error = (await engine.run(throwsInStep, [9]).catch((e: unknown) => e)) as Error;
  await engine.close();
  expect(error).toBeInstanceOf(RangeError);
  expect(error.stack).toContain(`throwing.ts:${lineOf("STEP-THROW")}:`);
});
