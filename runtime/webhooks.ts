/**
 * Webhooks: `engine.handleWebhook(request)` verifies a delivery's signature, parses its JSON
 * body, and starts the workflows whose `webhook(source, { event })` trigger matches, with the
 * payload as their one argument. Fetch-standard `Request`/`Response` and Web Crypto only, so
 * it runs in browsers, Deno, Bun, workers and Node alike.
 * @module
 */
import type { Clock } from "./context.js";
import type { Workflow } from "./definitions.js";
import { type Duration, toMilliseconds } from "./duration.js";
import { DefinitionError, InputError } from "./errors.js";

/**
 * A custom signature check. `rawBody` is the body exactly as received (the request's own body
 * stream has been read by then: read headers from `request`, the body from `rawBody`).
 */
export interface WebhookVerifier {
  verify(request: Request, rawBody: Uint8Array): boolean | Promise<boolean>;
  /**
   * The delivery's id, so that a redelivery starts nothing new; without it (or when it
   * returns `undefined`) every delivery starts runs.
   */
  deliveryId?(request: Request, body: unknown): string | undefined;
}

/**
 * How a source signs its deliveries: `"standard"` (Standard Webhooks: `webhook-id`,
 * `webhook-timestamp`, `webhook-signature`), `"stripe"` (`Stripe-Signature`), `"github"`
 * (`X-Hub-Signature-256`), or a {@link WebhookVerifier}.
 */
export type WebhookScheme = "standard" | "stripe" | "github" | WebhookVerifier;

/** Reads the event name of a delivery from its parsed body (and request). */
export type WebhookEventType = (body: unknown, request: Request) => string | undefined;

interface WebhookSourceCommon {
  /** How far the signed timestamp may be from now, either way (default 5 min; standard and stripe). */
  readonly tolerance?: Duration;
  /** The largest body accepted (default 1 MiB); a larger one is answered 413. */
  readonly maxBodyBytes?: number;
  /**
   * The event name, matched against `webhook(source, { event })`: a field of the parsed body
   * (a dotted path such as `"data.kind"`), or a function. Default: the body's `type` field, or
   * the `X-GitHub-Event` header for `"github"`.
   */
  readonly eventType?: string | WebhookEventType;
}

/** One entry of `createEngine({ webhooks: { [source]: … } })`. */
export type WebhookSource = WebhookSourceCommon &
  (
    | {
        /**
         * The signing secret: `whsec_<base64>` for `"standard"` (the prefix is optional), the
         * endpoint's `whsec_…` string for `"stripe"`, the webhook's secret for `"github"`.
         */
        readonly secret: string;
        /** Default `"standard"`. */
        readonly scheme?: "standard" | "stripe" | "github";
      }
    | { readonly scheme: WebhookVerifier; readonly secret?: string }
  );

/** What the engine lends the webhook handler. */
export interface WebhookHost {
  readonly clock: Clock;
  /** The engine's workflows. */
  workflows(): Iterable<Workflow>;
  /** The arguments as the workflow's `input` schema outputs them; throws `InputError`. */
  checkInput(definition: Workflow, args: readonly unknown[]): Promise<unknown[]>;
  start(
    definition: Workflow,
    args: unknown[],
    options: { idempotencyKey?: string },
  ): Promise<{ readonly id: string }>;
}

interface ResolvedSource {
  readonly name: string;
  readonly scheme: WebhookScheme;
  /** The HMAC key, for the built-in schemes. */
  readonly key: Promise<CryptoKey> | undefined;
  readonly toleranceMs: number;
  readonly maxBodyBytes: number;
  readonly eventType: WebhookEventType;
}

const DEFAULT_TOLERANCE_MS = 5 * 60_000;
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const encoder = new TextEncoder();

/** Verifies and routes webhook deliveries for one engine. */
export class Webhooks {
  readonly #sources = new Map<string, ResolvedSource>();
  readonly #host: WebhookHost;

  /** Checks the configuration at once: a mistake is a `DefinitionError` from `createEngine`. */
  constructor(sources: Readonly<Record<string, WebhookSource>>, host: WebhookHost) {
    this.#host = host;
    if (typeof sources !== "object" || sources === null) {
      throw new DefinitionError("createEngine: webhooks must be an object { [source]: options }.");
    }
    for (const [name, source] of Object.entries(sources)) {
      this.#sources.set(name, resolveSource(name, source));
    }
  }

  /** Answer one delivery; see `Engine.handleWebhook`. */
  async handle(request: Request): Promise<Response> {
    const name = sourceName(request.url);
    const source = name === undefined ? undefined : this.#sources.get(name);
    if (!source) {
      return answer(404, {
        error:
          name === undefined
            ? "Webhook URLs end in /webhooks/<source>."
            : `No webhook source "${name}" is configured (createEngine({ webhooks })).`,
      });
    }
    if (request.method !== "POST") {
      return answer(405, { error: "Webhooks are delivered with POST." }, { allow: "POST" });
    }
    const raw = await readBody(request, source.maxBodyBytes);
    if (!raw) {
      return answer(413, { error: `The body is larger than ${source.maxBodyBytes} bytes.` });
    }
    const refusal = await verify(source, request, raw, this.#host.clock.now());
    if (refusal) return answer(401, { error: refusal });

    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
    } catch {
      return answer(400, { error: "The body is not JSON." });
    }
    const eventName = source.eventType(payload, request);
    const deliveryId = deliveryIdOf(source, request, payload);
    const targets = [...this.#host.workflows()].filter(
      (definition) =>
        definition.compiled &&
        definition.options.triggers?.some(
          (t) =>
            t.kind === "webhook" &&
            t.source === source.name &&
            (t.event === undefined || t.event === eventName),
        ),
    );
    // Every target's schema is checked before any run starts, so a refused delivery starts
    // nothing and its redelivery is judged the same way.
    for (const definition of targets) {
      try {
        await this.#host.checkInput(definition, [payload]);
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        return answer(400, {
          error: error.message,
          workflow: definition.name,
          issues: error.issues,
        });
      }
    }
    const runIds: string[] = [];
    for (const definition of targets) {
      const idempotencyKey =
        deliveryId === undefined
          ? undefined
          : `webhook:${source.name}:${deliveryId}:${definition.name}`;
      runIds.push((await this.#host.start(definition, [payload], { idempotencyKey })).id);
    }
    return answer(202, { runIds });
  }
}

function resolveSource(name: string, source: WebhookSource): ResolvedSource {
  const where = `createEngine: webhooks["${name}"]`;
  if (name === "" || name.includes("/")) {
    throw new DefinitionError(`${where}: a source name must be non-empty and contain no "/".`);
  }
  if (typeof source !== "object" || source === null) {
    throw new DefinitionError(`${where} must be an object { secret, scheme?, … }.`);
  }
  const scheme = source.scheme ?? "standard";
  let key: Promise<CryptoKey> | undefined;
  if (typeof scheme === "string") {
    if (scheme !== "standard" && scheme !== "stripe" && scheme !== "github") {
      throw new DefinitionError(
        `${where}.scheme must be "standard", "stripe", "github" or { verify(request, rawBody) }; got ${JSON.stringify(scheme)}.`,
      );
    }
    if (typeof source.secret !== "string" || source.secret === "") {
      throw new DefinitionError(`${where}.secret is missing: the "${scheme}" scheme needs it.`);
    }
    const bytes =
      scheme === "standard" ? standardSecret(source.secret) : encoder.encode(source.secret);
    if (!bytes) {
      throw new DefinitionError(
        `${where}.secret is not a Standard Webhooks secret: expected "whsec_" followed by base64.`,
      );
    }
    key = importKey(bytes);
    // A key that fails to import is reported where it is awaited, at the first delivery.
    key.catch(() => {});
  } else if (typeof scheme !== "object" || scheme === null || typeof scheme.verify !== "function") {
    throw new DefinitionError(`${where}.scheme must have a verify(request, rawBody) method.`);
  }
  const maxBodyBytes = source.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw new DefinitionError(`${where}.maxBodyBytes must be a whole number of bytes.`);
  }
  return {
    name,
    scheme,
    key,
    toleranceMs:
      source.tolerance === undefined
        ? DEFAULT_TOLERANCE_MS
        : toMilliseconds(source.tolerance, `${where}.tolerance`),
    maxBodyBytes,
    eventType: eventTypeReader(source.eventType, scheme, where),
  };
}

function eventTypeReader(
  eventType: string | WebhookEventType | undefined,
  scheme: WebhookScheme,
  where: string,
): WebhookEventType {
  if (typeof eventType === "function") return eventType;
  if (eventType === undefined && scheme === "github") {
    return (_body, request) => request.headers.get("x-github-event") ?? undefined;
  }
  if (eventType !== undefined && (typeof eventType !== "string" || eventType === "")) {
    throw new DefinitionError(`${where}.eventType must be a field name or a function.`);
  }
  const path = (eventType ?? "type").split(".");
  return (body) => {
    let value = body;
    for (const key of path) {
      if (typeof value !== "object" || value === null) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
    return typeof value === "string" ? value : undefined;
  };
}

/** The source in `…/webhooks/<source>` (a trailing slash allowed), or `undefined`. */
function sourceName(url: string): string | undefined {
  const path = new URL(url, "http://localhost").pathname.replace(/\/$/, "");
  const match = /\/webhooks\/([^/]+)$/.exec(path);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
}

/** The body, or `undefined` when it is longer than `limit` (declared or actual). */
async function readBody(request: Request, limit: number): Promise<Uint8Array | undefined> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) return undefined;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      // Stop reading: the rest of an oversized body is never buffered.
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** Why the delivery is refused, or `undefined` when its signature is good. */
async function verify(
  source: ResolvedSource,
  request: Request,
  body: Uint8Array,
  now: number,
): Promise<string | undefined> {
  const { scheme } = source;
  if (typeof scheme === "object") {
    return (await scheme.verify(request, body)) ? undefined : "The signature does not verify.";
  }
  const key = await source.key!;
  const headers = request.headers;
  if (scheme === "standard") {
    const id = headers.get("webhook-id");
    const timestamp = headers.get("webhook-timestamp");
    const signatures = headers.get("webhook-signature");
    if (!id || !timestamp || !signatures) {
      return "Missing webhook-id, webhook-timestamp or webhook-signature header.";
    }
    const stale = checkTimestamp(timestamp, now, source.toleranceMs);
    if (stale) return stale;
    const expected = base64(await hmac(key, concat(encoder.encode(`${id}.${timestamp}.`), body)));
    const given = signatures
      .split(" ")
      .filter((s) => s.startsWith("v1,"))
      .map((s) => s.slice(3));
    return anyEqual(expected, given) ? undefined : "webhook-signature does not match.";
  }
  if (scheme === "stripe") {
    const header = headers.get("stripe-signature");
    if (!header) return "Missing Stripe-Signature header.";
    const fields = header.split(",").map((part) => {
      const at = part.indexOf("=");
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    });
    const timestamp = fields.find(([k]) => k === "t")?.[1];
    const given = fields.filter(([k]) => k === "v1").map(([, v]) => v);
    if (!timestamp || given.length === 0) return "Stripe-Signature has no t= or no v1= part.";
    const stale = checkTimestamp(timestamp, now, source.toleranceMs);
    if (stale) return stale;
    const expected = hex(await hmac(key, concat(encoder.encode(`${timestamp}.`), body)));
    return anyEqual(expected, given) ? undefined : "Stripe-Signature does not match.";
  }
  const header = headers.get("x-hub-signature-256");
  if (!header?.startsWith("sha256=")) return "Missing X-Hub-Signature-256 header.";
  const expected = hex(await hmac(key, body));
  return anyEqual(expected, [header.slice(7)]) ? undefined : "X-Hub-Signature-256 does not match.";
}

function checkTimestamp(timestamp: string, now: number, toleranceMs: number): string | undefined {
  if (!/^\d+$/.test(timestamp)) return "The signed timestamp is not a number of seconds.";
  if (Math.abs(now - Number(timestamp) * 1000) > toleranceMs) {
    return `The signed timestamp is more than ${toleranceMs / 1000} s from now (a replay, or a clock out of step).`;
  }
  return undefined;
}

function deliveryIdOf(source: ResolvedSource, request: Request, body: unknown): string | undefined {
  const { scheme } = source;
  if (typeof scheme === "object") return scheme.deliveryId?.(request, body);
  if (scheme === "standard") return request.headers.get("webhook-id") ?? undefined;
  if (scheme === "github") return request.headers.get("x-github-delivery") ?? undefined;
  const id = typeof body === "object" && body !== null ? (body as { id?: unknown }).id : undefined;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/**
 * Whether `expected` equals one of `given`, comparing bytes in constant time for equal
 * lengths (a length difference says nothing about the secret).
 */
function anyEqual(expected: string, given: readonly string[]): boolean {
  const want = encoder.encode(expected);
  let found = false;
  for (const candidate of given) {
    if (timingSafeEqual(want, encoder.encode(candidate))) found = true;
  }
  return found;
}

/** Constant-time comparison: every byte is looked at whatever the first difference. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let difference = 0;
  for (let i = 0; i < a.byteLength; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

function importKey(secret: Uint8Array): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey(
    "raw",
    secret as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

async function hmac(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await globalThis.crypto.subtle.sign("HMAC", key, data as Uint8Array<ArrayBuffer>),
  );
}

/** The key bytes of a Standard Webhooks secret (`whsec_` + base64), or `undefined`. */
function standardSecret(secret: string): Uint8Array | undefined {
  const encoded = secret.startsWith("whsec_") ? secret.slice(6) : secret;
  try {
    const binary = atob(encoded);
    if (binary.length === 0) return undefined;
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
