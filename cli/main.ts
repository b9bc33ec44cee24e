/**
 * The `ratchet` command.
 *
 *   ratchet check <files…>             report the compiler's diagnostics; exit 1 on any error
 *   ratchet compile <file> [--manifest] print the compiled module (or its manifests as JSON)
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseArgs } from "node:util";
import { formatDiagnostic, transform } from "../compiler/index.js";

const usage = `Usage:
  ratchet check <files…>              report diagnostics for workflow files; exit 1 on any error
  ratchet compile <file> [--manifest] print the compiled JavaScript, or the manifests as JSON
  ratchet --help`;

function compileFile(file: string) {
  let code: string;
  try {
    code = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  return transform(code, { filename: relative(process.cwd(), file) || file });
}

/** Run the CLI with these arguments; resolves to the process exit code. */
export function main(argv: readonly string[]): number {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { manifest: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const [command, ...files] = parsed.positionals;
  if (parsed.values.help || !command) {
    console.log(usage);
    return command || parsed.values.help ? 0 : 2;
  }
  try {
    if (command === "check") {
      if (files.length === 0) throw new Error("ratchet check needs at least one file");
      let errors = 0;
      let workflows = 0;
      for (const file of files) {
        const out = compileFile(file);
        workflows += out.workflows.length;
        for (const d of out.diagnostics) {
          if (d.severity === "error") errors++;
          console.error(formatDiagnostic(d));
        }
      }
      console.log(`${files.length} file(s), ${workflows} workflow(s) compiled, ${errors} error(s)`);
      return errors > 0 ? 1 : 0;
    }
    if (command === "compile") {
      if (files.length !== 1) throw new Error("ratchet compile takes exactly one file");
      const out = compileFile(files[0]!);
      for (const d of out.diagnostics) console.error(formatDiagnostic(d));
      console.log(parsed.values.manifest ? JSON.stringify(out.workflows, null, 2) : out.code);
      return out.diagnostics.some((d) => d.severity === "error") ? 1 : 0;
    }
    throw new Error(`unknown command "${command}"`);
  } catch (error) {
    console.error(`ratchet: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
}
