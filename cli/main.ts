/**
 * The `ratchet` command: one commander program, one file per command.
 *
 *   ratchet check [paths…] [--lock f]      diagnostics, lock changes, --db forecast (check.ts)
 *   ratchet lock [paths…]                  write ratchet.lock.json (lock.ts)
 *   ratchet compile <file> [--manifest]    the compiled module (compile.ts)
 *   ratchet runs list|show|cancel|retry|purge   runs in a store (runs.ts)
 *   ratchet ui [--port] [--src paths…]     the web inspector (ui.ts, ui/client.ts)
 *
 * Global options, accepted before or after the command: `--db <sqlite path | postgres url>`
 * (default: the RATCHET_DB environment variable) and `--json`.
 * @module
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { checkCommand } from "./check.js";
import { compileCommand } from "./compile.js";
import { CliError } from "./errors.js";
import { lockCommand } from "./lock.js";
import { runsCommand } from "./runs.js";
import { uiCommand } from "./ui.js";

/** Options every command accepts. */
export interface GlobalOptions {
  /** The store: a SQLite file path or a `postgres://` URL. */
  readonly db?: string;
  /** Print one JSON document instead of text. */
  readonly json?: boolean;
}

/** What a command's action reports back besides its output. */
export interface CommandResult {
  exitCode: number;
}

/** This package's version, read from its package.json (two levels up in dist/, one in source). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "ratchetjs" && pkg.version) return pkg.version;
    } catch {
      // not here: look one directory up
    }
    dir = dirname(dir);
  }
  return "unknown";
}

/** The program, its commands wired in; `result` receives the exit code of a failed check. */
function createProgram(result: CommandResult): Command {
  const program = new Command("ratchet")
    .description("Durable workflows for TypeScript: check and compile workflows, inspect runs.")
    .version(packageVersion(), "-v, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .option("--db <url>", "the store: a SQLite file path or a postgres:// URL (env RATCHET_DB)")
    .option("--json", "print one JSON document instead of text")
    .showSuggestionAfterError()
    .configureOutput({
      writeOut: (text) => console.log(text.trimEnd()),
      writeErr: (text) => console.error(text.trimEnd()),
    })
    .exitOverride();
  for (const command of [
    checkCommand(result),
    compileCommand(result),
    lockCommand(result),
    runsCommand(result),
    uiCommand(result),
  ]) {
    program.addCommand(command);
  }
  // Subcommands throw instead of exiting too, and share the output settings.
  const inherit = (command: Command) => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput(program.configureOutput()).showSuggestionAfterError();
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

/** Run the CLI with these arguments; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const result: CommandResult = { exitCode: 0 };
  const program = createProgram(result);
  if (argv.length === 0) {
    console.error(program.helpInformation().trimEnd());
    return 2;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return result.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version "exit" with 0; a usage mistake (already printed) with 2.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof CliError) {
      console.error(`ratchet: ${error.message}`);
      return error.exitCode;
    }
    console.error(`ratchet: ${(error as Error)?.message ?? String(error)}`);
    return 1;
  }
}
