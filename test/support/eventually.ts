/** Poll until `done`, for up to 30 s (a loaded machine is slow; the assertion is never skipped). */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A line the engine logged, as `recordingLogger` keeps it. */
export interface Logged {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

/** A logger that keeps every line in `into`. */
export function recordingLogger(into: Logged[]) {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void =>
      void into.push({ level, fields, message });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
