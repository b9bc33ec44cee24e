import { type ChildProcess, spawn } from "node:child_process";

/** How a child process ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A worker process that reports on stdout, one JSON object a line. */
export interface JsonWorker {
  readonly child: ChildProcess;
  /** Resolves when the worker printed `{"ready": …}` (its engine is up). */
  readonly ready: Promise<void>;
  readonly exited: Promise<ChildExit>;
}

/**
 * Start `node <script> ...args` and hand every JSON line it prints, except `ready`, to
 * `onMessage`. `stderr`: "inherit" shows the worker's logs, "ignore" drops them unless
 * `showLogs` is set.
 */
export function spawnJsonWorker(
  script: string,
  args: readonly string[],
  options: {
    readonly cwd: string;
    readonly env: NodeJS.ProcessEnv;
    readonly stderr: "inherit" | "ignore";
    readonly showLogs?: boolean;
  },
  onMessage: (message: Record<string, unknown>) => void,
): JsonWorker {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", options.stderr === "inherit" ? "inherit" : "pipe"],
  });
  let buffer = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (!line.startsWith("{")) continue;
      const message = JSON.parse(line) as Record<string, unknown>;
      if ("ready" in message) markReady();
      else onMessage(message);
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    if (options.showLogs) process.stderr.write(chunk);
  });
  const exited = new Promise<ChildExit>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, ready, exited };
}
