/**
 * OpenTelemetry spans through `@opentelemetry/api`, an optional peer dependency: loaded on
 * first use when installed, and nothing at all when it is not (or in a browser bundle
 * without it). Only the few members used here are typed, so the package's types are never
 * needed either.
 * @module
 */

/** The part of an OpenTelemetry `Span` the engine uses. */
export interface TraceSpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
  recordException(exception: Error): void;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** The part of an OpenTelemetry `Tracer` the engine uses. */
export interface TraceTracer {
  startSpan(
    name: string,
    options?: { attributes?: Record<string, string | number | boolean>; kind?: number },
    context?: unknown,
  ): TraceSpan;
}

/** The part of `@opentelemetry/api` the engine uses. */
interface TraceApi {
  readonly trace: {
    getTracer(name: string, version?: string): TraceTracer;
    setSpan(context: unknown, span: TraceSpan): unknown;
  };
  readonly context: {
    active(): unknown;
    with<T>(context: unknown, fn: () => T): T;
  };
}

/** `SpanStatusCode.ERROR`. */
const ERROR = 2;

/** Spans for runs and step attempts, on a tracer from `@opentelemetry/api`. */
export class Tracing {
  readonly #api: TraceApi;
  readonly #tracer: TraceTracer;

  constructor(api: TraceApi, tracer: TraceTracer) {
    this.#api = api;
    this.#tracer = tracer;
  }

  /** A span for one stretch of a run's execution in this process. */
  startRun(run: { id: string; workflow: string; version: string; resumed: boolean }): TraceSpan {
    return this.#tracer.startSpan(`ratchet.run ${run.workflow}`, {
      attributes: {
        "ratchet.run.id": run.id,
        "ratchet.workflow.name": run.workflow,
        "ratchet.workflow.version": run.version,
        "ratchet.run.resumed": run.resumed,
      },
    });
  }

  /**
   * Run `call` (one step attempt) inside a span that is a child of `parent` and the active
   * span while the step runs, so spans the step makes (an HTTP call) nest under it.
   */
  async attempt<T>(
    parent: TraceSpan | undefined,
    step: { name: string; attempt: number; checkpoint: string; runId: string; key: string },
    call: () => Promise<T>,
  ): Promise<T> {
    const api = this.#api;
    const parentContext =
      parent === undefined ? api.context.active() : api.trace.setSpan(api.context.active(), parent);
    const span = this.#tracer.startSpan(
      `ratchet.step ${step.name}`,
      {
        attributes: {
          "ratchet.run.id": step.runId,
          "ratchet.step.name": step.name,
          "ratchet.step.attempt": step.attempt,
          "ratchet.checkpoint.id": step.checkpoint,
          "ratchet.step.idempotency_key": step.key,
        },
      },
      parentContext,
    );
    try {
      return await api.context.with(api.trace.setSpan(parentContext, span), call);
    } catch (error) {
      fail(span, error);
      throw error;
    } finally {
      span.end();
    }
  }
}

/** Mark a span failed with `error`. */
export function fail(span: TraceSpan, error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  span.recordException(e);
  span.setStatus({ code: ERROR, message: e.message });
}

/**
 * `@opentelemetry/api`'s tracer for Ratchet, or `undefined` when the package is not
 * installed. The specifier is a variable so bundlers leave the import to run time instead
 * of requiring the package.
 */
export async function loadTracing(): Promise<Tracing | undefined> {
  const specifier = "@opentelemetry/api";
  try {
    const api = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as TraceApi;
    if (typeof api?.trace?.getTracer !== "function") return undefined;
    return new Tracing(api, api.trace.getTracer("ratchetjs"));
  } catch {
    return undefined;
  }
}
