/**
 * The compiler, loaded on demand: it brings TypeScript (several megabytes) into the page.
 */
import ts from "typescript";
import { describeMachine, transform } from "../../compiler/index.ts";

export const FILENAME = "playground.ts";

export function compile(code: string) {
  const out = transform(code, { filename: FILENAME, sourceMap: false });
  // transform() keeps the module's types (a bundler strips them); the sandbox runs JavaScript.
  const js = ts.transpileModule(out.code, {
    fileName: FILENAME,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  return { ...out, code: js, machines: describeMachine(code, FILENAME) };
}

export type Compiled = ReturnType<typeof compile>;
