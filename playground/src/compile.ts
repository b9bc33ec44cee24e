/**
 * The compiler, loaded on demand: it brings TypeScript (several megabytes) into the page.
 */
import { describeMachine, transform } from "../../compiler/index.ts";

export const FILENAME = "playground.ts";

export function compile(code: string) {
  const out = transform(code, { filename: FILENAME, sourceMap: false });
  return { ...out, machines: describeMachine(code, FILENAME) };
}

export type Compiled = ReturnType<typeof compile>;
