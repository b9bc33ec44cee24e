/**
 * `ratchet compile <file> [--manifest]`: print the compiled module, or its manifests.
 * @module
 */
import { Command } from "commander";
import { formatDiagnostic } from "../compiler/index.js";
import type { CommandResult, GlobalOptions } from "./main.js";
import { toJson } from "./output.js";
import { compileFile } from "./sources.js";

export function compileCommand(result: CommandResult): Command {
  return new Command("compile")
    .summary("print a workflow file with its workflows compiled, or its manifests")
    .description(
      "Print the module as the build plugins emit it (the workflow bodies as state machines),\n" +
        "or with --manifest each workflow's manifest: checkpoints, live variables, version.\n" +
        "With --json: { code, workflows, diagnostics }.",
    )
    .argument("<file>", "a workflow source file")
    .option("--manifest", "print the manifests as JSON instead of the code")
    .action(function (this: Command, file: string) {
      const { json, manifest } = this.optsWithGlobals<GlobalOptions & { manifest?: boolean }>();
      const out = compileFile(file);
      if (json) {
        console.log(
          toJson({ code: out.code, workflows: out.workflows, diagnostics: out.diagnostics }),
        );
      } else {
        for (const d of out.diagnostics) console.error(formatDiagnostic(d));
        console.log(manifest ? JSON.stringify(out.workflows, null, 2) : out.code);
      }
      if (out.diagnostics.some((d) => d.severity === "error")) result.exitCode = 1;
    });
}
