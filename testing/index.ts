/**
 * `ratchetjs/testing`: an engine for tests. It stores runs in memory, runs on a test clock
 * that drives everything timed — `ctx.sleep`, wait timeouts, retry delays and step timeouts —
 * lets a test replace a durable function's implementation, and waits for a run to reach a
 * status. It imports no test framework: it works under Vitest, Jest and `node:test` alike.
 *
 * @example
 * ```ts
 * import { createTestEngine } from "ratchetjs/testing";
 *
 * const t = createTestEngine({ workflows: [orderWorkflow] });
 * t.override(chargeCustomer, async (_ctx, orderId) => ({ orderId, chargeId: "ch_test" }));
 * const run = await t.start(orderWorkflow, ["order-42"]);
 * expect(await t.finish(run)).toEqual({ status: "complete", orderId: "order-42", chargeId: "ch_test" });
 * await t.close();
 * ```
 * @module
 */
import { type RunStatus, type StorageAdapter, terminalStatuses } from "../adapters/contract.js";
import { memory } from "../adapters/memory/index.js";
import { createTestClock, type TestClock } from "../runtime/clock.js";
import type { DurableFunction, FunctionContext, StepFunction } from "../runtime/definitions.js";
import { type Duration, toMilliseconds } from "../runtime/duration.js";
import {
  createEngineWith,
  type Engine,
  type EngineOptions,
  type RunHandle,
} from "../runtime/engine.js";
import { RatchetError } from "../runtime/errors.js";
import type { StepEnvironment, StepTimer } from "../runtime/retry.js";

/** Options of {@link createTestEngine}: those of `createEngine`, with test defaults. */
export interface TestEngineOptions extends Omit<EngineOptions, "storage" | "clock"> {
  /** Default: a fresh `memory()` store. */
  readonly storage?: StorageAdapter;
  /** Where the test clock starts (default: now). */
  readonly start?: Date | number;
  /**
   * How long (real time) {@link TestEngineHelpers.until} and {@link TestEngineHelpers.finish}
   * wait before they fail; default 5000 ms.
   */
  readonly timeoutMs?: number;
}

/** What a test engine adds to an {@link Engine}. */
export interface TestEngineHelpers {
  /** The clock every timed thing of this engine runs on. */
  readonly clock: TestClock;
  /** The store the engine uses. */
  readonly storage: StorageAdapter;
  /**
   * Replace a durable function's implementation for this engine: its steps call `impl`
   * instead, with the function's own retries and timeout. An inline step
   * (`ctx.step("name", () => …)`) is replaced by its name.
   */
  override<A extends unknown[], R>(
    f: DurableFunction<A, R>,
    impl: (ctx: FunctionContext, ...args: A) => R | Promise<R>,
  ): void;
  override(inlineStepName: string, impl: () => unknown): void;
  /** Undo {@link TestEngineHelpers.override} for one function or inline step, or for all. */
  restore(f?: StepFunction | string): void;
  /** Move the test clock forward (a number is milliseconds, or e.g. `"24h"`) and let runs react. */
  advance(by: Duration): Promise<void>;
  /**
   * Wait (in real time) until the run's status is one of `statuses`; resolves to it. Fails
   * when the run ends in another status (with its error) or the test engine's `timeoutMs`
   * passes.
   */
  until(run: RunHandle | string, statuses: RunStatus | readonly RunStatus[]): Promise<RunStatus>;
  /** {@link TestEngineHelpers.until} the run is `sleeping` in `ctx.sleep`. */
  untilSleeping(run: RunHandle | string): Promise<void>;
  /** {@link TestEngineHelpers.until} the run is `waiting` (for an event, a person or a child). */
  untilWaiting(run: RunHandle | string): Promise<void>;
  /**
   * The run's result, skipping time: whenever the run is idle at a timer — a sleep, a wait's
   * timeout, a retry delay, a step's timeout — the clock jumps to it. Rejects with the run's
   * error, or when it waits with no timeout for something only the test can send.
   */
  finish<R>(run: RunHandle<R>): Promise<R>;
}

/** An engine for tests: an {@link Engine} plus {@link TestEngineHelpers}. */
export type TestEngine = Engine & TestEngineHelpers;

/** A test engine's wait ran out, or the run ended or stalled where the test did not expect. */
export class TestEngineError extends RatchetError {
  constructor(message: string) {
    super("RATCHET_TEST_ENGINE", message);
  }
}

/**
 * An engine on memory storage and a test clock, with step overrides and helpers that wait
 * for a run's status or skip its timers. Close it at the end of the test.
 *
 * @example
 * ```ts
 * const t = createTestEngine({ workflows: [followUp] });
 * const run = await t.start(followUp, ["user-1"]);
 * await t.untilSleeping(run);
 * await t.advance("24h");
 * expect(await run.result()).toBe("followed up");
 * await t.close();
 * ```
 */
export function createTestEngine(options: TestEngineOptions): TestEngine {
  const { start, timeoutMs = 5000, ...rest } = options;
  const storage = options.storage ?? memory();
  const clock = createTestClock(start);
  const timers = new ClockTimers(clock);
  const overrides = new Map<StepFunction | string, StepFunction>();
  const steps: StepEnvironment = {
    implementation: (f, name, inline) => (inline ? overrides.get(name) : overrides.get(f)) ?? f,
    timer: (ms) => timers.after(ms),
  };
  const engine = createEngineWith({ ...rest, storage, clock }, { steps });
  const idOf = (run: RunHandle | string) => (typeof run === "string" ? run : run.id);
  const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

  const until = async (
    run: RunHandle | string,
    statuses: RunStatus | readonly RunStatus[],
  ): Promise<RunStatus> => {
    const wanted: readonly RunStatus[] = typeof statuses === "string" ? [statuses] : statuses;
    const handle = await engine.get(idOf(run));
    const deadline = Date.now() + timeoutMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
      const status = await handle.status();
      if (wanted.includes(status)) return status;
      if (terminalStatuses.has(status)) {
        const error = await handle.result().then(
          () => undefined,
          (e: unknown) => e,
        );
        throw new TestEngineError(
          `Run ${handle.id} ended ${status} while the test waited for it to be ${wanted.join(" or ")}` +
            (error === undefined ? "." : `: ${describe(error)}`),
        );
      }
      if (Date.now() > deadline) {
        throw new TestEngineError(
          `Run ${handle.id} was still ${status} after ${timeoutMs} ms; the test waited for it to be ${wanted.join(" or ")}.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };

  const helpers: TestEngineHelpers = {
    clock,
    storage,
    override(f: StepFunction | string, impl: StepFunction) {
      if (typeof impl !== "function") {
        throw new TypeError("testEngine.override(f, impl): impl must be a function.");
      }
      overrides.set(f, impl);
    },
    restore(f?: StepFunction | string) {
      if (f === undefined) overrides.clear();
      else overrides.delete(f);
    },
    async advance(by) {
      clock.advance(toMilliseconds(by, "testEngine.advance duration"));
      await settle();
    },
    until,
    async untilSleeping(run) {
      await until(run, "sleeping");
    },
    async untilWaiting(run) {
      await until(run, "waiting");
    },
    async finish<R>(run: RunHandle<R>): Promise<R> {
      const deadline = Date.now() + timeoutMs;
      for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
        const stored = await storage.loadRun(run.id);
        if (stored === null) throw new TestEngineError(`No run with id ${run.id} is stored.`);
        if (terminalStatuses.has(stored.status)) return run.result();
        const next = timers.nextDue() ?? stored.wakeAt ?? undefined;
        const idle = stored.status === "sleeping" || stored.status === "waiting";
        if (next !== undefined && (idle || timers.nextDue() !== undefined)) {
          if (next > clock.now()) clock.set(next);
          await settle();
        } else if (stored.status === "waiting" && stored.wakeAt == null) {
          throw new TestEngineError(
            `Run ${run.id} is waiting with no timeout (for an event, an answer or a child run); ` +
              "emit, respond or let the child finish before finish(), or use untilWaiting() first.",
          );
        } else if (Date.now() > deadline) {
          throw new TestEngineError(
            `Run ${run.id} was still ${stored.status} after ${timeoutMs} ms of finish().`,
          );
        } else {
          await new Promise((resolve) => setTimeout(resolve, pause));
        }
      }
    },
  };
  const closeEngine = engine.close.bind(engine);
  const close = async () => {
    const closed = closeEngine();
    // A step still waiting on this clock (a retry delay, a timeout) would hold close() up
    // forever: from now on every timer fires at once.
    timers.stop();
    await closed;
  };
  return Object.assign(engine, helpers, { close });
}

/** Timers on a test clock: they fire when the clock is moved past them. */
class ClockTimers {
  readonly #clock: TestClock;
  readonly #pending = new Set<{ due: number; fire: () => void }>();

  constructor(clock: TestClock) {
    this.#clock = clock;
    clock.subscribe(() => {
      for (const timer of [...this.#pending]) if (this.#clock.now() >= timer.due) timer.fire();
    });
  }

  #stopped = false;

  /** Fire every pending timer, and every later one at once. */
  stop(): void {
    this.#stopped = true;
    for (const timer of [...this.#pending]) timer.fire();
  }

  after(ms: number): StepTimer {
    let timer: { due: number; fire: () => void } | undefined;
    const elapsed = new Promise<void>((resolve) => {
      const entry = {
        due: this.#clock.now() + ms,
        fire: () => {
          this.#pending.delete(entry);
          resolve();
        },
      };
      timer = entry;
      if (ms <= 0 || this.#stopped) resolve();
      else this.#pending.add(entry);
    });
    return { elapsed, cancel: () => timer && this.#pending.delete(timer) };
  }

  /** When the earliest pending timer fires, or `undefined` when none is pending. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const { due } of this.#pending) if (next === undefined || due < next) next = due;
    return next;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : JSON.stringify(error);
}
