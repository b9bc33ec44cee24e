/**
 * `ratchet runs list|show|cancel|retry|purge`: see and fix the runs in a store.
 * @module
 */
import { inspect } from "node:util";
import { Command, InvalidArgumentError, Option } from "commander";
import { terminalStatuses } from "../adapters/contract.js";
import { toMilliseconds } from "../runtime/duration.js";
import type { FinishedStatus, RunInfo, RunStatus } from "../runtime/index.js";
import { CliError } from "./errors.js";
import type { CommandResult, GlobalOptions } from "./main.js";
import { ago, formatTable, oneLine, progress, progressDone, toJson } from "./output.js";
import { findWorkflow, workflowsIn } from "./sources.js";
import { withEngine } from "./store.js";

const statuses: readonly RunStatus[] = [
  "pending",
  "running",
  "sleeping",
  "waiting",
  "completed",
  "failed",
  "cancelled",
  "parked",
];

/** `--status a,b` → the statuses, each checked. */
function parseStatuses(value: string, previous: RunStatus[] = []): RunStatus[] {
  const list = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const status of list) {
    if (!statuses.includes(status as RunStatus)) {
      throw new InvalidArgumentError(`"${status}" is not a status; use ${statuses.join(", ")}.`);
    }
  }
  return [...previous, ...(list as RunStatus[])];
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("give a whole number >= 1.");
  return n;
}

function parseDuration(value: string): string {
  try {
    toMilliseconds(value, "--older-than");
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

/** A value as people read it: strings as they are, the rest as Node prints it, on one line. */
function show(value: unknown): string {
  return typeof value === "string" ? value : inspect(value, { depth: 4, breakLength: Infinity });
}

function where(run: RunInfo): string {
  if (run.status === "completed") return "—";
  return run.checkpoint ? run.checkpoint.id : "(start)";
}

function listCommand(): Command {
  return new Command("list")
    .summary("list runs, newest first")
    .description(
      "List the runs in the store, newest first: id, workflow, status, the checkpoint each is at,\n" +
        "when it last committed and when it started.",
    )
    .addOption(
      new Option("-s, --status <statuses>", "only these statuses (comma-separated)").argParser(
        parseStatuses,
      ),
    )
    .option("-w, --workflow <name>", "only runs of this workflow")
    .addOption(
      new Option("-n, --limit <n>", "at most this many runs").argParser(parseLimit).default(50),
    )
    .action(async function (this: Command) {
      const options = this.optsWithGlobals<
        GlobalOptions & { status?: RunStatus[]; workflow?: string; limit: number }
      >();
      const runs = await withEngine(options, (engine) =>
        engine.list({
          ...(options.status ? { status: options.status } : {}),
          ...(options.workflow ? { workflow: options.workflow } : {}),
          limit: options.limit,
        }),
      );
      if (options.json) {
        console.log(toJson(runs));
        return;
      }
      if (runs.length === 0) {
        console.log("no runs match");
        return;
      }
      console.log(
        formatTable(runs, [
          { title: "id", value: (r) => r.id },
          { title: "workflow", value: (r) => r.workflow },
          { title: "status", value: (r) => r.status },
          { title: "at", value: where },
          { title: "updated", value: (r) => ago(r.updatedAt) },
          { title: "created", value: (r) => r.createdAt.toISOString() },
        ]),
      );
      if (runs.length === options.limit) {
        console.log(`(the newest ${options.limit}; --limit shows more)`);
      }
    });
}

/** The lines of `runs show`. */
function describe(
  run: RunInfo,
  source: { line: string; note?: string } | undefined,
  srcGiven: boolean,
): string {
  const lines: string[] = [];
  const field = (name: string, value: string) => lines.push(`${`${name}:`.padEnd(12)} ${value}`);
  field("run", run.id);
  field("workflow", `${run.workflow} (version ${run.version})`);
  field("status", run.status);
  if (run.parkedReason) field("parked", run.parkedReason);
  if (run.checkpoint) {
    field("checkpoint", run.checkpoint.id);
    if (source) field("source", source.note ? `${source.line} (${source.note})` : source.line);
    else if (!srcGiven) field("source", "pass --src <dir> (your workflow files) to see the line");
  } else if (run.status !== "completed") {
    field("checkpoint", "none yet: the run has not committed a checkpoint");
  }
  if (run.wait) {
    const wait = run.wait;
    field(
      "waiting for",
      wait.kind === "user"
        ? `an answer to "${wait.question}" (${wait.inputType}${wait.options.length > 0 ? `: ${wait.options.map((o) => o.id).join(", ")}` : ""})`
        : wait.kind === "event"
          ? `event "${wait.name}"${wait.match ? ` matching ${show(wait.match)}` : ""}`
          : `child run ${wait.runId}`,
    );
  }
  if (run.wakeAt)
    field(run.status === "sleeping" ? "wakes" : "times out", run.wakeAt.toISOString());
  field("created", run.createdAt.toISOString());
  field(
    "updated",
    `${run.updatedAt.toISOString()} (${ago(run.updatedAt)}), ${run.commits} commit(s)`,
  );
  if (run.lease) field("lease", `${run.lease.owner} until ${run.lease.expiresAt.toISOString()}`);
  if (run.sessionId) field("session", run.sessionId);
  if (run.idempotencyKey) field("key", run.idempotencyKey);
  field("arguments", show(run.args));
  const variables = Object.entries(run.variables);
  if (variables.length > 0) {
    lines.push("variables:");
    for (const [name, value] of variables) lines.push(`  ${name} = ${show(value)}`);
  }
  if (run.state.size > 0) {
    lines.push("state:");
    for (const [key, value] of run.state) lines.push(`  ${key} = ${show(value)}`);
  }
  if (run.status === "completed") field("result", show(run.result));
  if (run.error) {
    field("error", `${run.error.name}: ${run.error.message}`);
    const stack = run.error.stack?.split("\n").slice(1, 6) ?? [];
    for (const frame of stack) lines.push(`  ${frame.trim()}`);
  }
  if (run.steps && run.steps.length > 0) {
    lines.push("", "steps:");
    lines.push(
      formatTable(run.steps, [
        { title: "step", value: (s) => s.name },
        { title: "attempt", value: (s) => String(s.attempt) },
        { title: "started", value: (s) => s.startedAt.toISOString() },
        { title: "took", value: (s) => `${s.endedAt.getTime() - s.startedAt.getTime()} ms` },
        { title: "error", value: (s) => (s.error ? `${s.error.name}: ${s.error.message}` : "") },
      ])
        .split("\n")
        .map((line) => `  ${line}`)
        .join("\n"),
    );
  }
  if (run.decodeError) field("unreadable", run.decodeError);
  return lines.join("\n");
}

function showCommand(): Command {
  return new Command("show")
    .summary("show one run: where it is, its variables, result or error, its steps")
    .description(
      "Show one run: status, workflow and version, the checkpoint it is at (with its source\n" +
        "line when --src points at your workflow files), its live variables decoded, its result\n" +
        "or error, why it is parked, its timestamps, and its step attempts when the engine\n" +
        "records step history (createEngine({ history: true })).",
    )
    .argument("<id>", "the run id")
    .option("--src <paths...>", "workflow source files or directories, for source lines")
    .action(async function (this: Command, id: string) {
      const options = this.optsWithGlobals<GlobalOptions & { src?: string[] }>();
      const run = await withEngine(options, async (engine) => (await engine.get(id)).info());
      let source: { line: string; note?: string; location: string } | undefined;
      if (options.src && run.checkpoint) {
        const found = findWorkflow(workflowsIn(options.src), run.workflow, run.version);
        const cp = found?.source.manifest.checkpoints.find((c) => c.id === run.checkpoint!.id);
        if (found && cp) {
          const text = found.source.code.split("\n")[cp.line - 1]?.trim() ?? "";
          source = {
            location: `${found.source.manifest.file}:${cp.line}:${cp.column}`,
            line: `${found.source.manifest.file}:${cp.line}:${cp.column}  ${oneLine(text, 100)}`,
            ...(found.exact
              ? {}
              : { note: `from version ${found.source.manifest.version} of the source` }),
          };
        }
      }
      if (options.json) {
        console.log(toJson(source ? { ...run, source: source.location } : run));
        return;
      }
      console.log(describe(run, source, options.src !== undefined));
    });
}

function cancelCommand(result: CommandResult): Command {
  return new Command("cancel")
    .summary("cancel a run that has not ended")
    .description(
      "Cancel a run: it becomes cancelled at once, and a worker still executing it stops at\n" +
        "its next checkpoint. Exits 1 when the run had already ended.",
    )
    .argument("<id>", "the run id")
    .action(async function (this: Command, id: string) {
      const options = this.optsWithGlobals<GlobalOptions>();
      const cancelled = await withEngine(options, async (engine) =>
        (await engine.get(id)).cancel(),
      );
      if (options.json) console.log(toJson({ id, cancelled }));
      else
        console.log(
          cancelled ? `cancelled run ${id}` : `run ${id} had already ended; nothing changed`,
        );
      if (!cancelled) result.exitCode = 1;
    });
}

function retryCommand(result: CommandResult): Command {
  return new Command("retry")
    .summary("resume a failed run from its last checkpoint")
    .description(
      "Make a failed run pending again: a worker that has its workflow resumes it from its\n" +
        "last checkpoint, and the step that failed runs again with a fresh attempt count.\n" +
        "Exits 1 when the run is not failed.",
    )
    .argument("<id>", "the run id")
    .action(async function (this: Command, id: string) {
      const options = this.optsWithGlobals<GlobalOptions>();
      const { retried, status } = await withEngine(options, async (engine) => {
        const handle = await engine.get(id);
        const retried = await handle.retry();
        return { retried, status: (await handle.info()).status };
      });
      if (options.json) console.log(toJson({ id, retried, status }));
      else
        console.log(
          retried
            ? `run ${id} is pending again; a worker with its workflow resumes it from its last checkpoint`
            : `run ${id} is ${status}, not failed; nothing changed`,
        );
      if (!retried) result.exitCode = 1;
    });
}

function purgeCommand(): Command {
  return new Command("purge")
    .summary("delete finished runs older than a duration")
    .description(
      "Delete finished runs (completed, failed, cancelled) whose last commit is older than\n" +
        "--older-than, with their step history and the session state no remaining run\n" +
        "shares. Unfinished runs are never deleted. Example: ratchet runs purge --older-than 7d",
    )
    .addOption(
      new Option("--older-than <duration>", 'e.g. "7d", "12h"; 0 deletes every finished run')
        .argParser(parseDuration)
        .default("30d"),
    )
    .addOption(
      new Option(
        "-s, --status <statuses>",
        "only these finished statuses (comma-separated)",
      ).argParser(parseStatuses),
    )
    .action(async function (this: Command) {
      const options = this.optsWithGlobals<
        GlobalOptions & { olderThan: string; status?: RunStatus[] }
      >();
      const unfinished = options.status?.filter((s) => !terminalStatuses.has(s)) ?? [];
      if (unfinished.length > 0) {
        throw new CliError(
          `runs purge deletes finished runs only; ${unfinished.join(", ")} ${unfinished.length === 1 ? "is" : "are"} not finished (cancel such runs first).`,
        );
      }
      const deleted = await withEngine(options, (engine) =>
        engine.purge({
          olderThan: options.olderThan as never,
          ...(options.status ? { status: options.status as FinishedStatus[] } : {}),
          onProgress: options.json ? undefined : (n) => n > 0 && progress(`deleted ${n} run(s)…`),
        }),
      );
      if (!options.json && deleted > 0) progressDone();
      if (options.json) console.log(toJson({ deleted, olderThan: options.olderThan }));
      else console.log(`deleted ${deleted} finished run(s) older than ${options.olderThan}`);
    });
}

export function runsCommand(result: CommandResult): Command {
  return new Command("runs")
    .summary("see and fix the runs in a store (list, show, cancel, retry, purge)")
    .description(
      "See and fix the runs in a store. Every subcommand needs the store:\n" +
        "--db <file.db | postgres://…> or the RATCHET_DB environment variable.",
    )
    .addCommand(listCommand())
    .addCommand(showCommand())
    .addCommand(cancelCommand(result))
    .addCommand(retryCommand(result))
    .addCommand(purgeCommand());
}
