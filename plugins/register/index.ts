/**
 * `node --import ratchetjs/register app.ts` runs TypeScript with Ratchet's workflow transform and
 * no bundler or build step.
 *
 * Importing this module registers the resolve and load hooks in `./hooks.js` and turns on source
 * maps, so stack traces point at the lines of the user's `.ts` files rather than at the emitted
 * JavaScript. It exports nothing.
 *
 * @example
 * ```sh
 * npm install -D typescript   # and optionally @swc/core, for faster type stripping
 * node --import ratchetjs/register app.ts
 * ```
 *
 * @module
 */
import { register } from "node:module";

// Before any user module is compiled: Node reads a module's source map only if maps are enabled
// when the module is loaded.
process.setSourceMapsEnabled(true);
register("./hooks.js", import.meta.url);
