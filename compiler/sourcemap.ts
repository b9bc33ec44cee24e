/**
 * Text assembled from pieces of a module (copied as written) and new code, with the source map
 * that leads each piece back to the module: the one writer both the printer (compiler/print.ts)
 * and the splice (compiler/splice.ts) write to, and the encoding of its map.
 */

/** Where each line of `text` starts (lines end at `\n`, as in source maps). */
export function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** The 0-based line of `offset` in a text with these line starts. */
export function lineOf(lineStarts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** What `copy` does at a character: its class, for the characters below 128. */
const BLANK = 0;
const WORD = 1;
const OTHER = 2;
const NEWLINE = 3;

/**
 * The class of each ASCII character: letters, digits, `_` and `$` make words (as does anything
 * beyond ASCII); space, tab and CR are blanks; `\n` ends a line; the rest stand alone.
 */
const CHAR_CLASS = Uint8Array.from({ length: 128 }, (_, c) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36
    ? WORD
    : c === 32 || c === 9 || c === 13
      ? BLANK
      : c === 10
        ? NEWLINE
        : OTHER,
);

/**
 * Writes text from pieces, and with a source map, its segments: four numbers each, in one flat
 * array — generated line and column (0-based, in the text written), source line and column (in
 * the module). Segments are in the order of the text; two at one place keep the later.
 */
export class MappedWriter {
  #text = "";
  /** Where the next character goes. */
  line = 0;
  column = 0;
  /**
   * The segments, in the first `#length` entries of a buffer that doubles when full: a module
   * has a segment every few characters, and a plain array grown one push at a time copied them
   * over and over (the writer's largest allocation by far).
   */
  #segments: Int32Array;
  #length = 0;

  /**
   * `source` is the module as written; `lineStarts` its line starts (`lineStartsOf`), or
   * `undefined` for text without a map.
   */
  constructor(
    readonly source: string,
    readonly lineStarts: readonly number[] | undefined,
  ) {
    this.#segments = new Int32Array(lineStarts ? 1024 : 0);
  }

  /** The segments written, or `undefined` when no map is made. */
  get segments(): Int32Array | undefined {
    return this.lineStarts ? this.#segments.subarray(0, this.#length) : undefined;
  }

  /** Room for `count` more numbers; returns the buffer, which may be a new one. */
  #reserve(count: number): Int32Array {
    const segments = this.#segments;
    const needed = this.#length + count;
    if (needed <= segments.length) return segments;
    const grown = new Int32Array(Math.max(needed, segments.length * 2));
    grown.set(segments.subarray(0, this.#length));
    this.#segments = grown;
    return grown;
  }

  /** Append text that holds no line break. */
  write(text: string): void {
    this.#text += text;
    this.column += text.length;
  }

  /** Append text that may hold line breaks. */
  writeLines(text: string): void {
    this.#text += text;
    let i = text.indexOf("\n");
    if (i === -1) {
      this.column += text.length;
      return;
    }
    let last = i;
    for (; i !== -1; i = text.indexOf("\n", i + 1)) {
      this.line++;
      last = i;
    }
    this.column = text.length - last - 1;
  }

  /** Start a new line, then `indent` (spaces, no line break). */
  newLine(indent: string): void {
    this.#text += "\n" + indent;
    this.line++;
    this.column = indent.length;
  }

  /** A segment here, leading to `offset` of the module. */
  mark(offset: number): void {
    const lineStarts = this.lineStarts;
    if (!lineStarts) return;
    const line = lineOf(lineStarts, offset);
    this.#segment(this.line, this.column, line, offset - lineStarts[line]!);
  }

  #segment(line: number, column: number, sourceLine: number, sourceColumn: number): void {
    const n = this.#length;
    let segments = this.#segments;
    if (n > 0 && segments[n - 4] === line && segments[n - 3] === column) {
      segments[n - 2] = sourceLine;
      segments[n - 1] = sourceColumn;
      return;
    }
    if (n + 4 > segments.length) segments = this.#reserve(4);
    segments[n] = line;
    segments[n + 1] = column;
    segments[n + 2] = sourceLine;
    segments[n + 3] = sourceColumn;
    this.#length = n + 4;
  }

  /**
   * Append `source.slice(start, end)` as written. With a map, every word and every other
   * character but blanks leads back to itself: the finest a stack trace or a breakpoint needs,
   * as magic-string's `hires: "boundary"` does.
   */
  copy(start: number, end: number): void {
    if (start >= end) return;
    const source = this.source;
    this.#text += source.slice(start, end);
    const lineStarts = this.lineStarts;
    if (!lineStarts) {
      this.#advanceOver(start, end);
      return;
    }
    let sourceLine = lineOf(lineStarts, start);
    let sourceColumn = start - lineStarts[sourceLine]!;
    let line = this.line;
    let column = this.column;
    let inWord = false;
    let n = this.#length;
    let segments = this.#segments;
    // The first segment may fall where one was just marked: the copy's wins.
    if (n > 0 && segments[n - 4] === line && segments[n - 3] === column) n -= 4;
    let room = segments.length;
    for (let i = start; i < end; i++) {
      const c = source.charCodeAt(i);
      const kind = c < 128 ? CHAR_CLASS[c]! : WORD;
      if (kind === WORD) {
        if (inWord) {
          column++;
          sourceColumn++;
          continue;
        }
        inWord = true;
      } else {
        inWord = false;
        if (kind === BLANK) {
          column++;
          sourceColumn++;
          continue;
        }
        if (kind === NEWLINE) {
          line++;
          column = 0;
          sourceLine++;
          sourceColumn = 0;
          continue;
        }
      }
      if (n + 4 > room) {
        this.#length = n;
        segments = this.#reserve(4);
        room = segments.length;
      }
      segments[n] = line;
      segments[n + 1] = column;
      segments[n + 2] = sourceLine;
      segments[n + 3] = sourceColumn;
      n += 4;
      column++;
      sourceColumn++;
    }
    this.#length = n;
    this.line = line;
    this.column = column;
  }

  #advanceOver(start: number, end: number): void {
    const source = this.source;
    let last = -1;
    for (
      let i = source.indexOf("\n", start);
      i !== -1 && i < end;
      i = source.indexOf("\n", i + 1)
    ) {
      this.line++;
      last = i;
    }
    this.column = last === -1 ? this.column + end - start : end - last - 1;
  }

  /**
   * Append text printed by another writer over the same module, with its segments
   * (`segments` as this writer's, lines relative to `text`).
   */
  append(text: string, segments: ArrayLike<number>): void {
    if (this.lineStarts) {
      const line = this.line;
      const column = this.column;
      let i = 0;
      // The first may fall where the last one written is, and replaces it; no other can.
      if (segments.length > 0) {
        const l = segments[0]!;
        this.#segment(
          l + line,
          l === 0 ? segments[1]! + column : segments[1]!,
          segments[2]!,
          segments[3]!,
        );
        i = 4;
      }
      const own = this.#reserve(segments.length - i);
      let n = this.#length;
      for (; i < segments.length; i += 4) {
        const l = segments[i]!;
        own[n] = l + line;
        own[n + 1] = l === 0 ? segments[i + 1]! + column : segments[i + 1]!;
        own[n + 2] = segments[i + 2]!;
        own[n + 3] = segments[i + 3]!;
        n += 4;
      }
      this.#length = n;
    }
    this.writeLines(text);
  }

  /** The text written. */
  text(): string {
    return this.#text;
  }

  /** The segments as a source map's `mappings` (one source, index 0). */
  mappings(): string {
    return encodeMappings(this.#segments.subarray(0, this.#length));
  }
}

const BASE64 = Uint8Array.from(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
  (c) => c.charCodeAt(0),
);
const ascii = new TextDecoder();

/**
 * The bytes `encodeMappings` writes into, kept between calls: up to 1 MiB, what the mappings of
 * a module of some 150 KB need at most; a larger module's get bytes of their own.
 */
let encoded = new Uint8Array(1 << 14);

/**
 * Base64 VLQ `mappings` of flat segments (generated line, generated column, source line, source
 * column; sorted, all in source 0), written straight into bytes.
 */
export function encodeMappings(segments: ArrayLike<number>): string {
  const count = segments.length / 4;
  const lines = count > 0 ? segments[segments.length - 4]! + 1 : 0;
  // At most 7 characters per number (32-bit values), 4 numbers and a separator per segment.
  const size = count * 29 + lines + 16;
  let out = encoded;
  if (out.length < size) {
    out = new Uint8Array(Math.max(size, out.length * 2));
    if (out.length <= 1 << 20) encoded = out;
  }
  let n = 0;
  let line = 0;
  let column = 0;
  let sourceLine = 0;
  let sourceColumn = 0;
  let firstInLine = true;
  for (let i = 0; i < segments.length; i += 4) {
    const l = segments[i]!;
    if (l !== line) {
      for (; line < l; line++) out[n++] = 59; // ;
      column = 0;
      firstInLine = true;
    }
    if (!firstInLine) out[n++] = 44; // ,
    firstInLine = false;
    n = writeVlq(out, n, segments[i + 1]! - column);
    out[n++] = 65; // A: source 0
    n = writeVlq(out, n, segments[i + 2]! - sourceLine);
    n = writeVlq(out, n, segments[i + 3]! - sourceColumn);
    column = segments[i + 1]!;
    sourceLine = segments[i + 2]!;
    sourceColumn = segments[i + 3]!;
  }
  return ascii.decode(out.subarray(0, n));
}

/** Write `value` at `n` in base64 VLQ (sign in the lowest bit, five bits a digit, low first). */
function writeVlq(out: Uint8Array, n: number, value: number): number {
  let v = value < 0 ? (-value << 1) | 1 : value << 1;
  while (v > 31) {
    out[n++] = BASE64[(v & 31) | 32]!;
    v >>>= 5;
  }
  out[n++] = BASE64[v]!;
  return n;
}
