/**
 * The engine's logger: any object with pino-style methods (`pino`, `bunyan`-likes, or a few
 * lines of your own). Each call gets structured fields first, then a message.
 *
 * @example
 * ```ts
 * import pino from "pino";
 * const engine = createEngine({ storage, workflows, logger: pino() });
 * ```
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * The default logger: warnings and errors go to stderr (one line each, prefixed
 * `[ratchet]`), debug and info are dropped. An engine is never silent about lost leases,
 * parked runs, exhausted retries or storage errors.
 */
export const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn(fields, message) {
    console.warn(`[ratchet] ${message}`, fields);
  },
  error(fields, message) {
    console.error(`[ratchet] ${message}`, fields);
  },
};
