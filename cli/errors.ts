/**
 * A mistake in how the command was called or what it was pointed at (a missing file, a bad
 * option value): printed as `ratchet: <message>` with exit code 2, never a stack trace.
 */
export class CliError extends Error {
  /** The process exit code: 2 for usage, 1 for a failed operation. */
  readonly exitCode: number;

  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}
