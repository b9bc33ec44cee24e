import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createEngine } from "ratchetjs";
import { memory } from "ratchetjs/adapters/memory";
import { describe, expect, it } from "vitest";
import { ledger, paymentWorkflow } from "../examples/payment/workflows.ts";

/** examples/payment: its workflow behind a Stripe-signed webhook, and its main.ts. */
describe("payment example", () => {
  it("a signed payment_intent.succeeded records the payment once, however often it is delivered", async () => {
    ledger.entries.clear();
    const secret = "whsec_payment_test";
    const engine = createEngine({
      storage: memory(),
      workflows: [paymentWorkflow],
      webhooks: { stripe: { secret, scheme: "stripe" } },
    });
    const body = JSON.stringify({
      id: "evt_1",
      type: "payment_intent.succeeded",
      data: { object: { id: "pi_1", amount: 1250, currency: "usd" } },
    });
    const deliver = () => {
      const t = Math.floor(Date.now() / 1000);
      const v1 = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
      return engine.handleWebhook(
        new Request("https://shop.example/webhooks/stripe", {
          method: "POST",
          headers: { "stripe-signature": `t=${t},v1=${v1}` },
          body,
        }),
      );
    };
    const first = (await (await deliver()).json()) as { runIds: string[] };
    const again = (await (await deliver()).json()) as { runIds: string[] };
    expect(again.runIds).toEqual(first.runIds);
    expect(await (await engine.get(first.runIds[0]!)).result()).toBe("Payment recorded: 12.50 USD");
    expect([...ledger.entries.values()]).toEqual([
      { paymentIntent: "pi_1", amount: 1250, currency: "usd" },
    ]);
    await engine.close();
  });

  it("examples/payment/main.ts runs", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "ratchetjs/register", "examples/payment/main.ts"],
      { cwd: root, timeout: 30_000 },
    );
    expect(stdout).toContain("Payment recorded: 89.99 EUR");
    expect(stdout).toContain("→ 401 Stripe-Signature does not match.");
    expect(stdout).toContain("runs stored: 1;");
  });
});
