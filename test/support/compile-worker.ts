import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { transform } from "ratchetjs/compiler";
import ts from "typescript";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Compile a worker script with workflows (TypeScript importing only packages, no relative
 * modules) to JavaScript that plain `node` runs, for tests and benchmarks that start many
 * processes: through `ratchetjs/register` a process takes most of a second to start (it loads
 * TypeScript), compiled a tenth of that. The file goes to the git-ignored test-artifacts/,
 * inside the package, so its `import "ratchetjs"` resolves to this package's dist/.
 */
export function compileWorker(source: URL): { readonly path: string; remove(): void } {
  const filename = fileURLToPath(source);
  const compiled = transform(readFileSync(filename, "utf8"), { filename, sourceMap: false });
  const errors = compiled.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    throw new Error(`${filename} did not compile: ${JSON.stringify(errors, null, 2)}`);
  }
  const dir = join(root, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  const path = join(
    dir,
    `${basename(filename, ".ts")}-${process.pid}-${Date.now().toString(36)}.mjs`,
  );
  // transform() keeps the module's types; strip them as a build would, for plain `node`.
  const js = ts.transpileModule(compiled.code, {
    fileName: filename,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  writeFileSync(path, js);
  return { path, remove: () => rmSync(path, { force: true }) };
}
