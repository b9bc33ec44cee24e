/**
 * OpenTelemetry spans through `@opentelemetry/api`, an optional peer dependency: the engine
 * uses the tracer provider an SDK registered with it, read from the API's global registry,
 * so nothing is imported — bundlers and browsers never see the package, and without an SDK
 * nothing is done. Only the few members used here are typed.
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

/** An OpenTelemetry `Context`: the engine only reads and sets the active span in it. */
interface TraceContext {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): TraceContext;
}

/** What `@opentelemetry/api` registers globally: the tracer provider and context manager. */
interface RegisteredApi {
  readonly trace?: { getTracer(name: string): TraceTracer };
  readonly context?: {
    active(): TraceContext;
    with<T>(context: TraceContext, fn: () => T): T;
  };
}

/**
 * Where `@opentelemetry/api` (major version 1) keeps what an SDK registered — a
 * `Symbol.for` key on the global object, so every copy of the API shares it — and the key of
 * the active span in a context. Reading them needs no import: without an SDK, nothing is
 * there and nothing is traced.
 */
const API_KEY = Symbol.for("opentelemetry.js.api.1");
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/** A context holding only `span`, for when no context manager is registered. */
function contextWith(span: TraceSpan): TraceContext {
  const values = new Map<symbol, unknown>([[SPAN_KEY, span]]);
  const make = (entries: Map<symbol, unknown>): TraceContext => ({
    getValue: (key) => entries.get(key),
    setValue: (key, value) => make(new Map(entries).set(key, value)),
  });
  return make(values);
}

/** `SpanStatusCode.ERROR`. */
const ERROR = 2;

/** Spans for runs and step attempts, on a tracer from `@opentelemetry/api`. */
export class Tracing {
  readonly #api: RegisteredApi;
  readonly #tracer: TraceTracer;

  constructor(api: RegisteredApi, tracer: TraceTracer) {
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
    const manager = this.#api.context;
    const withParent = (span: TraceSpan | undefined): TraceContext | undefined =>
      span === undefined
        ? manager?.active()
        : (manager?.active().setValue(SPAN_KEY, span) ?? contextWith(span));
    const parentContext = withParent(parent);
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
      // The step's span is active while it runs, when a context manager can make it so.
      return await (manager
        ? manager.with(manager.active().setValue(SPAN_KEY, span), call)
        : call());
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
 * Spans on the tracer provider an OpenTelemetry SDK registered through `@opentelemetry/api`,
 * or `undefined` when none is (the package is absent, or no SDK was set up). Cheap: one
 * property read, so it is asked again for every run.
 */
export function registeredTracing(): Tracing | undefined {
  const api = (globalThis as Record<symbol, RegisteredApi | undefined>)[API_KEY];
  const tracer = api?.trace?.getTracer("ratchetjs");
  return api && tracer ? new Tracing(api, tracer) : undefined;
}
