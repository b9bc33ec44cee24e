/**
 * `ratchet check [paths…]`: compile workflow files (a directory is walked) and report the
 * compiler's diagnostics; compare the workflows with ratchet.lock.json (cli/lock.ts); with
 * `--db`, count the stored runs they would park (cli/check-db.ts). Exit 1 on an error, an
 * incompatible change no migration covers, or a stored run the source would park.
 * @module
 */
import { Command } from "commander";
import { type Diagnostic, formatDiagnostic, type WorkflowManifest } from "../compiler/index.js";
import { checkStore } from "./check-db.js";
import { checkAgainstLock, LOCK_FILE } from "./lock.js";
import type { CommandResult, GlobalOptions } from "./main.js";
import { progress, progressDone, toJson } from "./output.js";
import { compileFile, sourceFiles } from "./sources.js";

export function checkCommand(result: CommandResult): Command {
  return new Command("check")
    .summary(
      "report diagnostics, changes against ratchet.lock.json, and (--db) runs the source would park",
    )
    .description(
      "Compile every workflow file at the paths given (directories are walked, skipping\n" +
        "node_modules, build output and hidden directories) and print each diagnostic as\n" +
        `file:line:column. With a ${LOCK_FILE}, list the locked checkpoints runs could no\n` +
        "longer resume at, and whether a migration covers each. With --db, count per workflow\n" +
        "and checkpoint the stored in-flight runs this source would resume, migrate or park.\n" +
        "Exits 1 on an error, an uncovered incompatible change, or a run it would park.",
    )
    .argument("[paths...]", "files or directories", ["."])
    .option("--lock <file>", "the lock file to compare with", LOCK_FILE)
    .action(async function (this: Command, paths: string[]) {
      const { json, db, lock } = this.optsWithGlobals<GlobalOptions & { lock: string }>();
      const files = sourceFiles(paths);
      const diagnostics: Diagnostic[] = [];
      const manifests: WorkflowManifest[] = [];
      files.forEach((file, i) => {
        if (files.length > 50 && i % 50 === 0) progress(`checking ${i}/${files.length} files…`);
        const out = compileFile(file);
        manifests.push(...out.workflows);
        diagnostics.push(...out.diagnostics);
      });
      const workflows = manifests.length;
      if (files.length > 50) progressDone();
      const errors = diagnostics.filter((d) => d.severity === "error").length;
      if (!json) {
        for (const d of diagnostics) console.error(formatDiagnostic(d));
        console.log(
          `${files.length} file(s), ${workflows} workflow(s) compiled, ${errors} error(s)`,
        );
      }
      const locked = checkAgainstLock(manifests, lock, json === true);
      const store = db ?? process.env.RATCHET_DB;
      const stored = store ? await checkStore(store, manifests, json === true) : undefined;
      if (json) {
        console.log(
          toJson({
            files: files.length,
            workflows,
            errors,
            diagnostics,
            changes: locked.changes,
            runs: stored?.rows,
          }),
        );
      }
      if (errors > 0 || locked.exitCode > 0 || (stored?.exitCode ?? 0) > 0) result.exitCode = 1;
    });
}
