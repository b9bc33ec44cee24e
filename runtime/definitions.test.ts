import { describe, expect, it } from "vitest";
import { fn, workflow } from "./definitions.js";
import { DefinitionError } from "./errors.js";

const charge = async () => "ok";

describe("fn() checks its options where it is defined", () => {
  it("reports a bad timeout with the function's name", () => {
    expect(() => fn(charge, { timeout: "30 secnds" as never })).toThrow(
      /^Invalid fn "charge": timeout: "30 secnds" has an unknown unit "secnds"/,
    );
    expect(() => fn(charge, { name: "pay", timeout: -1 })).toThrow(/fn "pay": timeout/);
  });

  it("reports bad retry delays with the function's name", () => {
    expect(() => fn(charge, { retries: { max: 2, initialDelay: "1.5ms" as never } })).toThrow(
      /fn "charge": retries.initialDelay/,
    );
  });

  it("accepts the ms grammar", () => {
    expect(() =>
      fn(charge, {
        timeout: "2 minutes",
        retries: { max: 3, initialDelay: "1.5s", maxDelay: "1h" },
      }),
    ).not.toThrow();
  });

  it("refuses a misplaced option, saying where it belongs", () => {
    expect(() => fn(charge, { backoff: "linear" } as never)).toThrow(DefinitionError);
    expect(() => fn(charge, { backoff: "linear" } as never)).toThrow(
      'fn "charge": unknown option "backoff"; it belongs in retries: { max, backoff }.',
    );
    expect(() => fn(charge, { retries: { max: 1, delay: 5 } } as never)).toThrow(
      'fn "charge": retries: unknown option "delay"; the options are max, backoff, initialDelay, maxDelay.',
    );
    expect(() => fn(charge, { timeOut: "5s" } as never)).toThrow(
      'fn "charge": unknown option "timeOut"; the options are name, retries, timeout.',
    );
  });
});

describe("workflow() definitions", () => {
  it("refuses unknown options", () => {
    expect(() => workflow({ name: "w", trigger: [] } as never, async () => 1)).toThrow(
      'workflow(options, body) of "w": unknown option "trigger"; the options are name, triggers, input, migrate.',
    );
  });

  it("says the workflow was not compiled, rather than that it has no name", () => {
    // What reaches the runtime when neither the register hook nor a plugin compiled the module.
    const uncompiled = [async () => 1][0];
    expect(() => workflow(uncompiled as never)).toThrow(
      /not compiled by Ratchet.*node --import ratchetjs\/register app\.ts.*Ratchet plugin/s,
    );
  });
});
