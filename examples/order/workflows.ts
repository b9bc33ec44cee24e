import { appendFileSync } from "node:fs";
import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

/**
 * The seed's order workflow: validate → charge → confirm. Each step appends a line to the
 * ledger file named by RATCHET_LEDGER (when set), so the demo and the crash tests can count
 * how often each step really ran; RATCHET_DEMO=1 also narrates it.
 */
function record(event: string, detail: Record<string, unknown>, say: string): void {
  const ledger = process.env.RATCHET_LEDGER;
  if (ledger) appendFileSync(ledger, `${JSON.stringify({ event, pid: process.pid, ...detail })}\n`);
  if (process.env.RATCHET_DEMO === "1") console.log(`    step: ${say}`);
  if (process.env.RATCHET_CRASH_DURING === event) process.kill(process.pid, "SIGKILL");
}

export const validateOrder = fn(async (ctx: FunctionContext, orderId: string) => {
  record("validate", { orderId, attempt: ctx.attempt }, `validating ${orderId}`);
  return { orderId, total: 89.99, valid: !orderId.startsWith("bad-") };
});

export const chargeCustomer = fn(
  async (ctx: FunctionContext, orderId: string, amount: number) => {
    const chargeId = `ch_${ctx.idempotencyKey}`;
    record("charge", { orderId, amount, chargeId }, `charging $${amount} (charge ${chargeId})`);
    return { orderId, chargeId, status: "paid" as const };
  },
  { retries: { max: 5, backoff: "exponential" }, timeout: "30s" },
);

export const sendConfirmation = fn(
  async (_ctx: FunctionContext, orderId: string, chargeId: string) => {
    record("confirm", { orderId, chargeId }, `emailing the confirmation for ${chargeId}`);
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
