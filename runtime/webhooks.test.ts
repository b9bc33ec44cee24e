import { createHmac, randomBytes } from "node:crypto";
import {
  createEngine,
  createTestClock,
  DefinitionError,
  type Engine,
  type EngineOptions,
  webhook,
  workflow,
} from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { timingSafeEqual } from "./webhooks.js";

interface PaymentEvent {
  readonly id?: string;
  readonly type: string;
  readonly data: { readonly amount: number; readonly currency: string };
}

const recordPayment = workflow(
  { triggers: [webhook("acme", { event: "payment.succeeded" })] },
  async (ctx, event: PaymentEvent) => {
    const recorded = await ctx.step("record", () => `${event.data.amount} ${event.data.currency}`);
    return { recorded };
  },
);
const refundPayment = workflow(
  { triggers: [webhook("acme", { event: "payment.refunded" })] },
  async (ctx, event: PaymentEvent) => await ctx.step("refund", () => -event.data.amount),
);
const createOrder = workflow(
  {
    triggers: [webhook("acme", { event: "order.created" })],
    input: z.object({ type: z.string(), data: z.object({ orderId: z.string().min(3) }) }),
  },
  async (ctx, event: { data: { orderId: string } }) =>
    await ctx.step("order", () => event.data.orderId),
);
const stripePayment = workflow(
  { triggers: [webhook("stripe", { event: "payment_intent.succeeded" })] },
  async (ctx, event: { id: string; data: { object: { amount: number } } }) =>
    await ctx.step("paid", () => ({ id: event.id, amount: event.data.object.amount })),
);
const githubPush = workflow(
  { triggers: [webhook("github", { event: "push" })] },
  async (ctx, push: { ref: string }) => await ctx.step("push", () => push.ref),
);
const anyCustom = workflow(
  { triggers: [webhook("custom")] },
  async (ctx, body: { kind: string }) => await ctx.step("custom", () => body.kind),
);

const standardKey = randomBytes(32);
const standardSecret = `whsec_${standardKey.toString("base64")}`;
const stripeSecret = "whsec_stripe_test_secret";
const githubSecret = "github-test-secret";

const workflows = [recordPayment, refundPayment, createOrder, stripePayment, githubPush, anyCustom];
let engine: Engine | undefined;

function open(options: Partial<EngineOptions> = {}): Engine {
  engine = createEngine({
    storage: memory(),
    workflows,
    worker: { pollIntervalMs: 10 },
    webhooks: {
      acme: { secret: standardSecret },
      stripe: { secret: stripeSecret, scheme: "stripe" },
      github: { secret: githubSecret, scheme: "github", maxBodyBytes: 64 },
      custom: {
        scheme: {
          verify: (request) => request.headers.get("x-token") === "let-me-in",
          deliveryId: (request) => request.headers.get("x-delivery") ?? undefined,
        },
        eventType: "kind",
      },
    },
    ...options,
  });
  return engine;
}

afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const seconds = (ms = Date.now()) => String(Math.floor(ms / 1000));

function standardRequest(
  body: string,
  options: { id?: string; timestamp?: string; signature?: string; path?: string } = {},
): Request {
  const id = options.id ?? `msg_${randomBytes(6).toString("hex")}`;
  const timestamp = options.timestamp ?? seconds();
  const signature =
    options.signature ??
    `v1,${createHmac("sha256", standardKey).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
  return new Request(`https://app.example${options.path ?? "/api/webhooks/acme"}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": timestamp,
      "webhook-signature": signature,
    },
    body,
  });
}

function stripeRequest(body: string, options: { t?: string; secret?: string } = {}): Request {
  const t = options.t ?? seconds();
  const v1 = createHmac("sha256", options.secret ?? stripeSecret)
    .update(`${t}.${body}`)
    .digest("hex");
  return new Request("https://app.example/webhooks/stripe", {
    method: "POST",
    headers: { "stripe-signature": `t=${t},v1=${v1},v0=ignored` },
    body,
  });
}

function githubRequest(body: string, event: string, secret = githubSecret): Request {
  const signature = createHmac("sha256", secret).update(body).digest("hex");
  return new Request("https://app.example/webhooks/github", {
    method: "POST",
    headers: {
      "x-hub-signature-256": `sha256=${signature}`,
      "x-github-event": event,
      "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    },
    body,
  });
}

async function accepted(response: Response): Promise<string[]> {
  const body = (await response.json()) as { runIds: string[] };
  expect(response.status, JSON.stringify(body)).toBe(202);
  return body.runIds;
}

async function refused(response: Response, status: number): Promise<string> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/json");
  return ((await response.json()) as { error: string }).error;
}

const payment = (type = "payment.succeeded", amount = 4200) =>
  JSON.stringify({ type, data: { amount, currency: "eur" } });

describe("Standard Webhooks", () => {
  it("starts the triggered workflow with the payload as its argument", async () => {
    const e = open();
    const runIds = await accepted(await e.handleWebhook(standardRequest(payment())));
    expect(runIds).toHaveLength(1);
    const run = await e.get(runIds[0]!);
    expect(await run.result()).toEqual({ recorded: "4200 eur" });
    expect((await e.list())[0]!.workflow).toBe("recordPayment");
  });

  it("refuses a wrong signature with 401 and starts nothing", async () => {
    const e = open();
    const forged = `v1,${createHmac("sha256", randomBytes(32)).update("x").digest("base64")}`;
    expect(
      await refused(await e.handleWebhook(standardRequest(payment(), { signature: forged })), 401),
    ).toMatch(/webhook-signature does not match/);
    // Signed for another body: the signature covers the body.
    const request = standardRequest(payment("payment.succeeded", 1));
    const tampered = new Request(request.url, {
      method: "POST",
      headers: request.headers,
      body: payment("payment.succeeded", 1_000_000),
    });
    await refused(await e.handleWebhook(tampered), 401);
    const unsigned = new Request("https://app.example/webhooks/acme", {
      method: "POST",
      body: payment(),
    });
    expect(await refused(await e.handleWebhook(unsigned), 401)).toMatch(/Missing webhook-id/);
    expect(await e.list()).toEqual([]);
  });

  it("accepts any one matching signature of several (secret rotation)", async () => {
    const e = open();
    const body = payment();
    const id = "msg_rotation";
    const timestamp = seconds();
    const good = createHmac("sha256", standardKey)
      .update(`${id}.${timestamp}.${body}`)
      .digest("base64");
    const signature = `v1,${randomBytes(32).toString("base64")} v1a,ignored v1,${good}`;
    expect(
      await accepted(await e.handleWebhook(standardRequest(body, { id, timestamp, signature }))),
    ).toHaveLength(1);
  });

  it("refuses a timestamp outside the tolerance, old or new", async () => {
    const e = open();
    const stale = seconds(Date.now() - 6 * 60_000);
    expect(
      await refused(await e.handleWebhook(standardRequest(payment(), { timestamp: stale })), 401),
    ).toMatch(/more than 300 s from now/);
    const future = seconds(Date.now() + 6 * 60_000);
    await refused(await e.handleWebhook(standardRequest(payment(), { timestamp: future })), 401);
    await refused(await e.handleWebhook(standardRequest(payment(), { timestamp: "soon" })), 401);
    expect(await e.list()).toEqual([]);
  });

  it("verifies the spec's example signature (checked against the engine's clock)", async () => {
    const clock = createTestClock(new Date(1614265330 * 1000 + 60_000));
    const e = open({
      clock,
      webhooks: { acme: { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } },
    });
    const request = new Request("https://app.example/webhooks/acme", {
      method: "POST",
      headers: {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
      },
      body: '{"test": 2432232314}',
    });
    // Verified; the body has no `type`, so no workflow matches.
    expect(await accepted(await e.handleWebhook(request))).toEqual([]);
  });

  it("a redelivery with the same webhook-id starts nothing new and answers the same runIds", async () => {
    const e = open();
    const body = payment();
    const first = await accepted(await e.handleWebhook(standardRequest(body, { id: "msg_1" })));
    const again = await accepted(await e.handleWebhook(standardRequest(body, { id: "msg_1" })));
    expect(again).toEqual(first);
    expect(await e.list()).toHaveLength(1);
    // Another delivery of the same event body is another delivery.
    const other = await accepted(await e.handleWebhook(standardRequest(body, { id: "msg_2" })));
    expect(other).not.toEqual(first);
    expect(await e.list()).toHaveLength(2);
  });

  it("routes by event type to the right workflow, and answers 202 with none for others", async () => {
    const e = open();
    const [refund] = await accepted(
      await e.handleWebhook(standardRequest(payment("payment.refunded", 500))),
    );
    expect(await (await e.get(refund!)).result()).toBe(-500);
    expect((await e.list()).map((r) => r.workflow)).toEqual(["refundPayment"]);
    expect(
      await accepted(await e.handleWebhook(standardRequest(payment("payment.disputed")))),
    ).toEqual([]);
    expect(await accepted(await e.handleWebhook(standardRequest("[1, 2]")))).toEqual([]);
  });

  it("reads the event type from eventType: a field path or a function", async () => {
    const byPath = open({
      webhooks: { acme: { secret: standardSecret, eventType: "meta.event" } },
    });
    const body = JSON.stringify({ meta: { event: "payment.refunded" }, data: { amount: 7 } });
    const [run] = await accepted(await byPath.handleWebhook(standardRequest(body)));
    expect(await (await byPath.get(run!)).result()).toBe(-7);
    await byPath.close();

    const byFunction = open({
      webhooks: {
        acme: {
          secret: standardSecret,
          eventType: (_body, request) => request.headers.get("x-event") ?? undefined,
        },
      },
    });
    const request = standardRequest(payment("ignored"));
    request.headers.set("x-event", "payment.succeeded");
    const [paid] = await accepted(await byFunction.handleWebhook(request));
    expect(await (await byFunction.get(paid!)).result()).toEqual({ recorded: "4200 eur" });
  });
});

describe("Stripe", () => {
  const intent = (id: string, amount = 1999) =>
    JSON.stringify({ id, type: "payment_intent.succeeded", data: { object: { amount } } });

  it("verifies Stripe-Signature and starts the workflow with the event", async () => {
    const e = open();
    const [run] = await accepted(await e.handleWebhook(stripeRequest(intent("evt_1"))));
    expect(await (await e.get(run!)).result()).toEqual({ id: "evt_1", amount: 1999 });
  });

  it("refuses a wrong secret and a stale timestamp", async () => {
    const e = open();
    expect(
      await refused(
        await e.handleWebhook(stripeRequest(intent("evt_2"), { secret: "whsec_other" })),
        401,
      ),
    ).toMatch(/Stripe-Signature does not match/);
    await refused(
      await e.handleWebhook(
        stripeRequest(intent("evt_2"), { t: seconds(Date.now() - 10 * 60_000) }),
      ),
      401,
    );
    const noV1 = new Request("https://app.example/webhooks/stripe", {
      method: "POST",
      headers: { "stripe-signature": `t=${seconds()}` },
      body: intent("evt_2"),
    });
    await refused(await e.handleWebhook(noV1), 401);
    expect(await e.list()).toEqual([]);
  });

  it("a redelivery of the same event id (even re-signed later) answers the same runIds", async () => {
    const e = open();
    const first = await accepted(await e.handleWebhook(stripeRequest(intent("evt_3"))));
    const later = await accepted(
      await e.handleWebhook(stripeRequest(intent("evt_3"), { t: seconds(Date.now() + 30_000) })),
    );
    expect(later).toEqual(first);
    expect(await e.list()).toHaveLength(1);
  });
});

describe("GitHub", () => {
  it("verifies X-Hub-Signature-256 and routes by X-GitHub-Event", async () => {
    const e = open();
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const [run] = await accepted(await e.handleWebhook(githubRequest(body, "push")));
    expect(await (await e.get(run!)).result()).toBe("refs/heads/main");
    expect(await accepted(await e.handleWebhook(githubRequest(body, "issues")))).toEqual([]);
    // The same X-GitHub-Delivery again: the same run.
    expect(await accepted(await e.handleWebhook(githubRequest(body, "push")))).toEqual([run]);
    expect(await e.list()).toHaveLength(1);
  });

  it("refuses a wrong signature", async () => {
    const e = open();
    const body = JSON.stringify({ ref: "refs/heads/main" });
    expect(await refused(await e.handleWebhook(githubRequest(body, "push", "wrong")), 401)).toMatch(
      /X-Hub-Signature-256 does not match/,
    );
    expect(await e.list()).toEqual([]);
  });
});

describe("a custom verifier", () => {
  it("decides with verify(request, rawBody) and dedupes by its deliveryId", async () => {
    const seen: string[] = [];
    const e = open({
      webhooks: {
        custom: {
          scheme: {
            verify: (request, rawBody) => {
              seen.push(new TextDecoder().decode(rawBody));
              return request.headers.get("x-token") === "let-me-in";
            },
            deliveryId: (request) => request.headers.get("x-delivery") ?? undefined,
          },
          eventType: "kind",
        },
      },
    });
    const send = (token: string, delivery?: string) =>
      e.handleWebhook(
        new Request("https://app.example/webhooks/custom", {
          method: "POST",
          headers: { "x-token": token, ...(delivery ? { "x-delivery": delivery } : {}) },
          body: '{"kind":"ping"}',
        }),
      );
    await refused(await send("nope"), 401);
    const [run] = await accepted(await send("let-me-in", "d-1"));
    expect(await (await e.get(run!)).result()).toBe("ping");
    expect(await accepted(await send("let-me-in", "d-1"))).toEqual([run]);
    // Without a delivery id every delivery starts a run.
    await accepted(await send("let-me-in"));
    expect(await e.list()).toHaveLength(2);
    expect(seen).toContain('{"kind":"ping"}');
  });
});

describe("refusals", () => {
  it("404 for an unknown source or a URL not under /webhooks/, 405 for a method other than POST", async () => {
    const e = open();
    expect(
      await refused(
        await e.handleWebhook(standardRequest(payment(), { path: "/webhooks/nope" })),
        404,
      ),
    ).toMatch(/No webhook source "nope"/);
    await refused(await e.handleWebhook(standardRequest(payment(), { path: "/hooks/acme" })), 404);
    await refused(
      await e.handleWebhook(standardRequest(payment(), { path: "/webhooks/acme/x" })),
      404,
    );
    expect(
      await accepted(
        await e.handleWebhook(standardRequest(payment(), { path: "/webhooks/acme/" })),
      ),
    ).toHaveLength(1);
    const get = await e.handleWebhook(new Request("https://app.example/webhooks/acme"));
    await refused(get, 405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("413 for a body over maxBodyBytes, declared by Content-Length", async () => {
    const e = open();
    const body = JSON.stringify({ ref: "refs/heads/main", padding: "x".repeat(100) });
    const request = githubRequest(body, "push");
    request.headers.set("content-length", String(new TextEncoder().encode(body).byteLength));
    expect(await refused(await e.handleWebhook(request), 413)).toMatch(/larger than 64 bytes/);
    expect(await e.list()).toEqual([]);
  });

  it("413 for a streamed body without Content-Length, read no further than the limit", async () => {
    const e = open();
    let pulled = 0;
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new TextEncoder().encode("x".repeat(40)));
      },
      cancel() {
        cancelled = true;
      },
    });
    const request = new Request("https://app.example/webhooks/github", {
      method: "POST",
      headers: { "x-hub-signature-256": "sha256=00", "x-github-event": "push" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(request.headers.get("content-length")).toBeNull();
    await refused(await e.handleWebhook(request), 413);
    expect(cancelled).toBe(true);
    expect(pulled).toBeLessThan(5);
  });

  it("400 for a body that is not JSON", async () => {
    const e = open();
    expect(
      await refused(await e.handleWebhook(standardRequest("type=payment.succeeded")), 400),
    ).toMatch(/not JSON/);
    expect(await e.list()).toEqual([]);
  });

  it("400 for a payload failing a triggered workflow's input schema; nothing starts", async () => {
    const e = open();
    const bad = JSON.stringify({ type: "order.created", data: { orderId: "x" } });
    const response = await e.handleWebhook(standardRequest(bad));
    expect(response.status).toBe(400);
    const answer = (await response.json()) as {
      error: string;
      workflow: string;
      issues: unknown[];
    };
    expect(answer.workflow).toBe("createOrder");
    expect(answer.error).toMatch(/input schema/);
    expect(answer.issues).toHaveLength(1);
    expect(await e.list()).toEqual([]);
    const good = JSON.stringify({ type: "order.created", data: { orderId: "o-42" } });
    const [run] = await accepted(await e.handleWebhook(standardRequest(good)));
    expect(await (await e.get(run!)).result()).toBe("o-42");
  });
});

describe("configuration", () => {
  it("createEngine refuses a source it cannot verify", () => {
    const make = (webhooks: EngineOptions["webhooks"]) =>
      createEngine({ storage: memory(), workflows, worker: false, webhooks });
    expect(() => make({ a: { secret: "" } })).toThrow(DefinitionError);
    expect(() => make({ a: { secret: "whsec_***" } })).toThrow(/Standard Webhooks secret/);
    expect(() => make({ a: { secret: "s", scheme: "svix" as "stripe" } })).toThrow(
      /scheme must be/,
    );
    expect(() => make({ a: { secret: "s", scheme: "github", maxBodyBytes: -1 } })).toThrow(
      /maxBodyBytes/,
    );
    expect(() => make({ a: { secret: "s", scheme: "github", tolerance: "soon" as "1s" } })).toThrow(
      /tolerance/,
    );
    expect(() => webhook("a/b")).toThrow(DefinitionError);
    expect(webhook("stripe", { event: "charge.succeeded" })).toEqual({
      kind: "webhook",
      source: "stripe",
      event: "charge.succeeded",
    });
  });

  it("timingSafeEqual compares bytes", () => {
    const bytes = (s: string) => new TextEncoder().encode(s);
    expect(timingSafeEqual(bytes("abc"), bytes("abc"))).toBe(true);
    expect(timingSafeEqual(bytes("abc"), bytes("abd"))).toBe(false);
    expect(timingSafeEqual(bytes("abc"), bytes("abcd"))).toBe(false);
    expect(timingSafeEqual(bytes(""), bytes(""))).toBe(true);
  });
});
