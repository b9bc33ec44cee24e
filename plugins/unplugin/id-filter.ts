/**
 * `include`/`exclude` as a test of a module's path, with the meaning unplugin gives them for
 * the bundlers it adapts (`ratchetjs/esbuild` tests them itself, without loading unplugin): a
 * regular expression is tested against the path with `/` separators; a string is a picomatch
 * glob, and a relative one is resolved against the working directory.
 *
 * @module
 */
import { createRequire } from "node:module";
import { resolve } from "node:path";

type Matcher = (path: string) => boolean;
type Picomatch = (glob: string, options: { dot: boolean }) => Matcher;

/** A module path's verdict: `true` when the plugin should look at it. */
export function createIdFilter(
  include: readonly (string | RegExp)[],
  exclude: readonly (string | RegExp)[],
): (id: string) => boolean {
  const cwd = process.cwd();
  const included = include.map((pattern) => matcher(pattern, cwd));
  const excluded = exclude.map((pattern) => matcher(pattern, cwd));
  return (id) => {
    const path = id.replace(/\\/g, "/");
    if (excluded.some((test) => test(path))) return false;
    return included.length === 0 || included.some((test) => test(path));
  };
}

function matcher(pattern: string | RegExp, cwd: string): Matcher {
  if (pattern instanceof RegExp) {
    return (path) => {
      const matched = pattern.test(path);
      pattern.lastIndex = 0;
      return matched;
    };
  }
  const glob = pattern.replace(/\\/g, "/");
  const absolute =
    glob.startsWith("**") || /^(?:\/|(?:[A-Z]:)?[/\\|])/i.test(glob)
      ? glob
      : `${resolve(cwd)
          .replace(/\\/g, "/")
          .replace(/[\\^$*+?.()|[\]{}]/g, "\\$&")}/${glob.replace(/^\.\//, "")}`;
  return picomatch()(absolute, { dot: true });
}

let loadedPicomatch: Picomatch | undefined;

/** unplugin's own picomatch (its dependency), loaded only when a glob is given. */
function picomatch(): Picomatch {
  if (loadedPicomatch === undefined) {
    const require = createRequire(import.meta.url);
    loadedPicomatch = createRequire(require.resolve("unplugin"))("picomatch") as Picomatch;
  }
  return loadedPicomatch;
}
