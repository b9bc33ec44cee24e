/**
 * `ratchet check [paths…]`: compile workflow files (a directory is walked) and report the
 * compiler's diagnostics; exit 1 on any error.
 * @module
 */
import { Command } from "commander";
import { type Diagnostic, formatDiagnostic } from "../compiler/index.js";
import type { CommandResult, GlobalOptions } from "./main.js";
import { progress, progressDone, toJson } from "./output.js";
import { compileFile, sourceFiles } from "./sources.js";

export function checkCommand(result: CommandResult): Command {
  return new Command("check")
    .summary("report the compiler's diagnostics for workflow files; exit 1 on any error")
    .description(
      "Compile every workflow file at the paths given (directories are walked, skipping\n" +
        "node_modules, build output and hidden directories) and print each diagnostic as\n" +
        "file:line:column. Exits 1 when any is an error.",
    )
    .argument("[paths...]", "files or directories", ["."])
    .action(function (this: Command, paths: string[]) {
      const { json } = this.optsWithGlobals<GlobalOptions>();
      const files = sourceFiles(paths);
      const diagnostics: Diagnostic[] = [];
      let workflows = 0;
      files.forEach((file, i) => {
        if (files.length > 50 && i % 50 === 0) progress(`checking ${i}/${files.length} files…`);
        const out = compileFile(file);
        workflows += out.workflows.length;
        diagnostics.push(...out.diagnostics);
      });
      if (files.length > 50) progressDone();
      const errors = diagnostics.filter((d) => d.severity === "error").length;
      if (json) {
        console.log(toJson({ files: files.length, workflows, errors, diagnostics }));
      } else {
        for (const d of diagnostics) console.error(formatDiagnostic(d));
        console.log(
          `${files.length} file(s), ${workflows} workflow(s) compiled, ${errors} error(s)`,
        );
      }
      if (errors > 0) result.exitCode = 1;
    });
}
