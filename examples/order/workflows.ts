import { appendFileSync } from "node:fs";
import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchet";

/**
 * The seed's order workflow: validate → charge → confirm. Each step appends a line to the
 * ledger file named by RATCHET_LEDGER (when set), so a demo or test can count how often
 * each step really ran.
 */
function record(event: string, detail: Record<string, unknown>): void {
  const ledger = process.env.RATCHET_LEDGER;
  if (ledger) appendFileSync(ledger, `${JSON.stringify({ event, ...detail })}\n`);
}

export const validateOrder = fn(async (ctx: FunctionContext, orderId: string) => {
  record("validate", { orderId, attempt: ctx.attempt });
  return { orderId, total: 89.99, valid: !orderId.startsWith("bad-") };
});

export const chargeCustomer = fn(
  async (ctx: FunctionContext, orderId: string, amount: number) => {
    const chargeId = `ch_${ctx.idempotencyKey}`;
    record("charge", { orderId, amount, chargeId });
    return { orderId, chargeId, status: "paid" as const };
  },
  { retries: { max: 5, backoff: "exponential" }, timeout: "30s" },
);

export const sendConfirmation = fn(
  async (_ctx: FunctionContext, orderId: string, chargeId: string) => {
    record("confirm", { orderId, chargeId });
    return { sent: true, to: `customer-of-${orderId}` };
  },
);

export const orderWorkflow = workflow(async (ctx: WorkflowContext, orderId: string) => {
  const order = await ctx.step(validateOrder, orderId);
  if (!order.valid) return { status: "invalid", orderId };
  const charge = await ctx.step(chargeCustomer, orderId, order.total);
  await ctx.step(sendConfirmation, orderId, charge.chargeId);
  return { status: "complete", orderId, chargeId: charge.chargeId };
});
