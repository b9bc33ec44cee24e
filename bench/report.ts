import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";

/**
 * One comparison: Ratchet's cost per operation (a step, a file) against a baseline timed in
 * the same rounds. Extra fields (a corpus's size, say) are copied into the results as they are.
 */
export interface Comparison {
  readonly name: string;
  readonly subject: string;
  readonly baseline: string;
  /** Ratchet, microseconds per operation, one sample per round. */
  readonly subjectMicros: readonly number[];
  /** The baseline, microseconds per operation, one sample per round. */
  readonly baselineMicros: readonly number[];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * The headline ratio is the median of the per-round ratios: each round's pair ran back to
 * back, so a slow stretch of the machine slows both sides of the ratio it lands in.
 */
export function summarize<C extends Comparison>(comparison: C) {
  const ratios = comparison.subjectMicros.map((s, i) => s / comparison.baselineMicros[i]);
  return {
    ...comparison,
    subjectMedianMicros: median(comparison.subjectMicros),
    baselineMedianMicros: median(comparison.baselineMicros),
    ratioPerRound: ratios,
    ratioMedian: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
  };
}

export function formatMicros(micros: number): string {
  return micros >= 100 ? micros.toFixed(0) : micros >= 1 ? micros.toFixed(2) : micros.toFixed(3);
}

export function formatRatio(ratio: number): string {
  if (ratio < 0.1) return ratio.toPrecision(2);
  return ratio >= 100 ? ratio.toFixed(0) : ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2);
}

/**
 * Print the comparisons of a checkpoint benchmark as a plain-text table; `unit` names what
 * Ratchet's microseconds are per ("step", "commit").
 */
export function printTable(title: string, comparisons: readonly Comparison[], unit = "step"): void {
  const header = [
    "store",
    `ratchet µs/${unit}`,
    "checkpoints/s",
    "baseline",
    "baseline µs/op",
    "ops/s",
    "ratio (median)",
    "ratio range",
  ];
  const perSecond = (micros: number) => (1e6 / micros).toFixed(0);
  const rows = comparisons
    .map(summarize)
    .map((c) => [
      c.name,
      formatMicros(c.subjectMedianMicros),
      perSecond(c.subjectMedianMicros),
      c.baseline,
      formatMicros(c.baselineMedianMicros),
      perSecond(c.baselineMedianMicros),
      `${formatRatio(c.ratioMedian)}×`,
      `${formatRatio(c.ratioMin)}–${formatRatio(c.ratioMax)}×`,
    ]);
  printRows(title, header, rows, [0, 3]);
}

/** Print a plain-text table; the columns in `leftAligned` are padded right, the rest left. */
export function printRows(
  title: string,
  header: readonly string[],
  rows: readonly (readonly string[])[],
  leftAligned: readonly number[],
): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) =>
      leftAligned.includes(i) ? cell.padEnd(widths[i]) : cell.padStart(widths[i]),
    );
  console.log(`\n${title}\n`);
  console.log(line(header).join("  "));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row).join("  "));
  console.log();
}

function gitState(): { commit: string | null; dirty: boolean | null } {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    const status = execFileSync("git", ["status", "--porcelain"], { encoding: "utf8" });
    return { commit, dirty: status.trim() !== "" };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** The installed version of a package, read from its package.json. */
export function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  return (require(`${name}/package.json`) as { version: string }).version;
}

/**
 * Where and on what the numbers were measured: they mean little without it. `versions`
 * names what the benchmark exercises besides Node (SQLite, TypeScript, swc…).
 */
export function machineInfo(versions: Readonly<Record<string, string>>) {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    ...versions,
    git: gitState(),
  };
}

/** Write `bench/results/<name>.json`, replacing the previous run's. */
export async function writeResults(
  name: string,
  record: {
    readonly description: string;
    readonly settings: Record<string, unknown>;
    readonly machine: Record<string, unknown>;
    readonly comparisons: readonly Comparison[];
    /** Anything else the benchmark records, copied into the file as it is. */
    readonly extra?: Readonly<Record<string, unknown>>;
  },
): Promise<string> {
  const dir = new URL("results/", import.meta.url);
  await mkdir(dir, { recursive: true });
  const file = new URL(`${name}.json`, dir);
  const json = {
    benchmark: name,
    date: new Date().toISOString(),
    description: record.description,
    settings: record.settings,
    machine: record.machine,
    results: record.comparisons.map(summarize),
    ...record.extra,
  };
  await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
  return file.pathname;
}

let clockTicks: number | undefined;

/**
 * CPU time (user + system, µs) each PostgreSQL backend serving `applicationName` has used so
 * far, by pid, read from `/proc/<pid>/stat`: only for a server on this machine (`undefined`
 * otherwise, or when a backend cannot be read). Two readings around a workload give the
 * server's CPU time spent on it, whatever else shares the machine.
 */
export async function serverCpuMicros(
  query: <Row>(text: string, values?: unknown[]) => Promise<Row[]>,
  applicationName: string,
): Promise<Map<number, number> | undefined> {
  const rows = await query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
    [applicationName],
  );
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const used = new Map<number, number>();
  try {
    for (const { pid } of rows) {
      // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      used.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks);
    }
  } catch {
    return undefined;
  }
  return used;
}

/** The CPU time the backends used between two {@link serverCpuMicros} readings (µs). */
export function serverCpuBetween(
  before: Map<number, number> | undefined,
  after: Map<number, number> | undefined,
): number | undefined {
  if (before === undefined || after === undefined) return undefined;
  let total = 0;
  for (const [pid, micros] of after) total += micros - (before.get(pid) ?? 0);
  return total;
}
