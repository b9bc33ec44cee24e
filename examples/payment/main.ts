/**
 * Stripe-style webhooks, signed here with a test secret and handed straight to
 * `engine.handleWebhook` (in a server, route `POST /webhooks/:source` to it: it takes a
 * fetch `Request` and returns a `Response`). Shows a delivery starting a run, Stripe's retry
 * of it starting nothing new, a forged signature, an event no workflow listens to, and a
 * payload the workflow's input schema refuses. In-memory storage.
 *
 *   node --import ratchetjs/register examples/payment/main.ts
 */
import { createHmac } from "node:crypto";
import { createEngine } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { ledger, paymentWorkflow } from "./workflows.ts";

/** The endpoint's signing secret, as Stripe's dashboard shows it. */
const secret = "whsec_example_payment_secret";

const engine = createEngine({
  storage: memory(),
  workflows: [paymentWorkflow],
  webhooks: { stripe: { secret, scheme: "stripe" } },
});

/** A delivery as Stripe sends it: `Stripe-Signature: t=<seconds>,v1=<HMAC-SHA256 hex>`. */
function delivery(event: unknown, signWith = secret): Request {
  const body = JSON.stringify(event);
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac("sha256", signWith).update(`${t}.${body}`).digest("hex");
  return new Request("https://shop.example/webhooks/stripe", {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": `t=${t},v1=${v1}` },
    body,
  });
}

async function send(label: string, request: Request): Promise<string[]> {
  const response = await engine.handleWebhook(request);
  const body = (await response.json()) as { runIds?: string[]; error?: string };
  const said = body.runIds
    ? `runIds ${JSON.stringify(body.runIds.map((id) => id.slice(0, 8)))}`
    : body.error;
  console.log(`${label.padEnd(34)} → ${response.status} ${said}`);
  return body.runIds ?? [];
}

const succeeded = {
  id: "evt_3Pq1",
  type: "payment_intent.succeeded",
  data: { object: { id: "pi_3Pq1", amount: 8999, currency: "eur" } },
};

console.log("payment: Stripe webhooks start the payment workflow\n");
const [runId] = await send("payment_intent.succeeded", delivery(succeeded));
console.log(`  run ${runId!.slice(0, 8)}: ${await (await engine.get<string>(runId!)).result()}`);

await send("the same event again (a retry)", delivery(succeeded));
await send("signed with another secret", delivery(succeeded, "whsec_not_ours"));
await send(
  "payment_intent.payment_failed",
  delivery({ ...succeeded, id: "evt_3Pq2", type: "payment_intent.payment_failed" }),
);
await send(
  "succeeded, without an amount",
  delivery({ ...succeeded, id: "evt_3Pq3", data: { object: { id: "pi_3Pq3", currency: "eur" } } }),
);

console.log(`\nruns stored: ${(await engine.list()).length}; ledger entries:`);
for (const entry of ledger.entries.values()) {
  console.log(`  ${entry.paymentIntent}  ${entry.amount} ${entry.currency}`);
}
await engine.close();
