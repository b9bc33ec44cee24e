import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../cli/main.js";

/**
 * `migrate` typed by the lock: a project locked at build 1, then changed to build 2 with
 * migrations, type-checked by the real tsc — the migrations pass with no annotation, each
 * wrong one is an error, and without the declaration file everything type-checks as before.
 */
const repo = fileURLToPath(new URL("..", import.meta.url));
const fixtures = join(repo, "test/fixtures/typed-migrations");
const project = mkdtempSync(join(tmpdir(), "ratchet-typed-migrations-"));
afterAll(() => rmSync(project, { recursive: true, force: true }));
const lock = join(project, "ratchet.lock.json");
const declarations = join(project, "ratchet.lock.d.ts");
const flows = join(project, "src/flows.ts");

/** `file(line): TScode` for every error tsc reports on the project. */
function typeCheck(): string[] {
  const tsc = join(repo, "node_modules/typescript/bin/tsc");
  const run = spawnSync(process.execPath, [tsc, "-p", ".", "--pretty", "false"], {
    cwd: project,
    encoding: "utf8",
  });
  expect(run.error).toBeUndefined();
  const errors = [...run.stdout.matchAll(/^(src\/[\w.-]+)\((\d+),\d+\): error (TS\d+)/gm)].map(
    (m) => `${m[1]}(${m[2]}): ${m[3]}`,
  );
  // Every error is one of those; a clean run exits 0 with nothing printed.
  expect({
    errors: errors.length > 0,
    status: run.status !== 0,
    out: errors.length > 0 ? "" : run.stdout,
  }).toStrictEqual({
    errors: errors.length > 0,
    status: errors.length > 0,
    out: "",
  });
  return errors;
}

/** The name of the `export const` each error is in, with its code. */
function byDeclaration(errors: readonly string[], file: string): string[] {
  const lines = readFileSync(join(project, file), "utf8").split("\n");
  return errors
    .filter((e) => e.startsWith(`${file}(`))
    .map((e) => {
      const [, line, code] = /\((\d+)\): (TS\d+)/.exec(e)!;
      for (let i = Number(line) - 1; i >= 0; i--) {
        const name = /^export const (\w+)/.exec(lines[i]!)?.[1];
        if (name) return `${name}: ${code}`;
      }
      return `?: ${code}`;
    });
}

describe("migrate typed by ratchet lock", () => {
  let out: string[];
  beforeEach(() => {
    out = [];
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  });
  afterEach(() => vi.restoreAllMocks());

  it("types vars by the locked build and the result by the current one", async () => {
    mkdirSync(join(project, "src"), { recursive: true });
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          skipLibCheck: true,
          paths: { ratchetjs: [join(repo, "dist/runtime/index.d.ts")] },
        },
        include: ["src", "*.d.ts"],
      }),
    );
    writeFileSync(join(project, "package.json"), '{ "type": "module" }\n');
    copyFileSync(join(fixtures, "types.ts"), join(project, "src/types.ts"));
    copyFileSync(join(fixtures, "flows-v1.ts"), flows);

    // Build 1 is locked: its checkpoints, and the types of what they store.
    expect(await main(["lock", flows, "--lock", lock])).toBe(0);
    const locked = JSON.parse(readFileSync(lock, "utf8"));
    expect(locked.workflows.approve.checkpoints["waitForEvent:decided"].types).toStrictEqual({
      note: "unknown",
      order: 'import("./src/types.js").Order',
      total: "number",
    });
    expect(locked.workflows.remind.checkpoints["sleep:nap"].types).toStrictEqual({
      at: "Date",
      who: "string",
    });
    expect(typeCheck()).toStrictEqual([]);

    // Build 2 changes both workflows and migrates the runs build 1 stored. Locking it keeps
    // build 1's entries for the checkpoints the migrations cover, and types the result by
    // build 2.
    copyFileSync(join(fixtures, "flows-v2.ts"), flows);
    expect(await main(["check", flows, "--lock", lock])).toBe(0);
    expect(await main(["lock", flows, "--lock", lock])).toBe(0);
    const relocked = JSON.parse(readFileSync(lock, "utf8"));
    expect(relocked.workflows.approve.checkpoints["waitForEvent:decided"].live).toStrictEqual([
      "note",
      "order",
      "total",
    ]);
    expect(Object.keys(relocked.workflows.remind.checkpoints).sort()).toStrictEqual([
      "sleep:nap",
      "sleep:rest",
      "step:count",
    ]);
    const text = readFileSync(declarations, "utf8");
    expect(text).toContain('declare module "ratchetjs"');
    expect(typeCheck()).toStrictEqual([]);
    out.length = 0;
    expect(await main(["check", flows, "--lock", lock])).toBe(0);
    expect(out.join("\n")).toContain("checkpoint sleep:nap is gone: covered by migrate");

    // Each wrong migration is a type error in its own workflow, and only there.
    copyFileSync(join(fixtures, "wrong.ts"), join(project, "src/wrong.ts"));
    const errors = typeCheck();
    expect(errors.filter((e) => !e.startsWith("src/wrong.ts"))).toStrictEqual([]);
    expect(byDeclaration(errors, "src/wrong.ts")).toStrictEqual([
      "gone: TS2769",
      "gone: TS7006",
      "gone: TS7006",
      "notStored: TS2339",
      "lacking: TS2769",
      "wrongType: TS2769",
      "localType: TS18046",
      "nowhere: TS2769",
    ]);

    // Without the declaration file `migrate` is typed as before: any checkpoint id, `vars` a
    // record of unknowns — so only the two uses of a stored value's own members fail (code
    // in that style, as in test/fixtures/versioning-v3.ts, type-checks with the project).
    rmSync(declarations);
    const loose = typeCheck();
    expect(loose.map((e) => e.replace(/\(\d+\)/, ""))).toStrictEqual([
      "src/flows.ts: TS18046",
      "src/wrong.ts: TS18046",
    ]);
    expect(byDeclaration(loose, "src/wrong.ts")).toStrictEqual(["localType: TS18046"]);
    // tsc runs four times, in a process of its own each: minutes on a loaded machine.
  }, 600_000);
});
