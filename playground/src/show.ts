/**
 * A readable rendering of a value as the runtime may persist it (JSON plus undefined, Date,
 * Map, Set, BigInt, RegExp, Error), for the page; `indent` 0 gives one line.
 */
export function show(value: unknown, indent = 2): string {
  const seen = new Set<object>();
  const pad = (depth: number) => (indent > 0 ? `\n${" ".repeat(indent * depth)}` : "");
  const sep = indent > 0 ? "," : ", ";
  const list = (items: string[], open: string, close: string, depth: number): string => {
    if (items.length === 0) return open + close;
    if (indent > 0) {
      return `${open}${items.map((i) => pad(depth + 1) + i).join(sep)}${pad(depth)}${close}`;
    }
    return `${open}${items.join(sep)}${close}`;
  };
  const render = (v: unknown, depth: number): string => {
    if (v === undefined) return "undefined";
    if (v === null || typeof v === "boolean" || typeof v === "number") return String(v);
    if (typeof v === "string") return JSON.stringify(v);
    if (typeof v === "bigint") return `${v}n`;
    if (typeof v === "function") return `[function ${v.name || "anonymous"}]`;
    if (typeof v === "symbol") return v.toString();
    const o = v as object;
    if (seen.has(o)) return "[circular]";
    if (o instanceof Date)
      return `Date(${JSON.stringify(Number.isNaN(o.getTime()) ? "invalid" : o.toISOString())})`;
    if (o instanceof RegExp) return String(o);
    if (o instanceof Error) return `${o.name}(${JSON.stringify(o.message)})`;
    seen.add(o);
    try {
      if (Array.isArray(o))
        return list(
          o.map((x) => render(x, depth + 1)),
          "[",
          "]",
          depth,
        );
      if (o instanceof Map) {
        const items = [...o].map(([k, x]) => `${render(k, depth + 1)} => ${render(x, depth + 1)}`);
        return `Map ${list(items, "{", "}", depth)}`;
      }
      if (o instanceof Set) {
        return `Set ${list(
          [...o].map((x) => render(x, depth + 1)),
          "{",
          "}",
          depth,
        )}`;
      }
      const items = Object.entries(o).map(([k, x]) => {
        const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k);
        return `${key}: ${render(x, depth + 1)}`;
      });
      return list(items, "{", "}", depth);
    } finally {
      seen.delete(o);
    }
  };
  return render(value, 0);
}

/** JSON for an editable result; `undefined` stays `undefined`. */
export function toEditable(value: unknown): string {
  if (value === undefined) return "undefined";
  try {
    return JSON.stringify(value, null, 2) ?? "undefined";
  } catch {
    return show(value);
  }
}

/** Read back what {@link toEditable} wrote, or what a person typed: JSON, or `undefined`. */
export function fromEditable(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "undefined" || trimmed === "") return undefined;
  return JSON.parse(trimmed);
}
