/**
 * How commands print: a readable table or text for people, one JSON document with
 * `--json` for scripts, and progress on stderr for long operations.
 * @module
 */

/** A table's column: its heading and how to read a row's cell. */
export interface Column<T> {
  readonly title: string;
  readonly value: (row: T) => string;
}

/** The rows as a plain-text table: a heading line, then one line per row, columns padded. */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => oneLine(c.value(row))));
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...cells.map((line) => line[i]!.length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.title.toUpperCase())), ...cells.map(line)].join("\n");
}

/** A value on one line, cut to a readable length. */
export function oneLine(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** How long ago `date` was, in the largest whole unit (`12s`, `5m`, `3h`, `2d`). */
export function ago(date: Date, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** JSON with dates as ISO strings, errors as `{ name, message, stack }`, Maps and Sets as JSON. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    function replace(this: unknown, key: string, v: unknown) {
      // JSON.stringify calls toJSON before the replacer: read the original for Dates.
      const original = (this as Record<string, unknown>)[key];
      if (original instanceof Date) return original.toISOString();
      if (v instanceof Error) return { name: v.name, message: v.message, stack: v.stack };
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      if (typeof v === "bigint") return v.toString();
      if (v === undefined && Array.isArray(this)) return null;
      return v;
    },
    2,
  );
}

/**
 * Progress of a long operation on stderr, so stdout stays clean for the result (and
 * `--json`). On a terminal each report overwrites the last; otherwise one line each.
 */
export function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\u001b[2K${message}`);
  else console.error(message);
}

/** End a line of progress on a terminal. */
export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write("\n");
}
