import { type FunctionContext, fn, type WorkflowContext, webhook, workflow } from "ratchetjs";
import { z } from "zod";

/**
 * The seed's payment workflow, started by a webhook: Stripe posts
 * `payment_intent.succeeded` to `…/webhooks/stripe`, `engine.handleWebhook` checks its
 * `Stripe-Signature`, and every workflow with a `webhook("stripe", { event })` trigger for
 * that event starts with the Stripe event as its one argument.
 *
 * The `input` schema is checked before a run is created: a delivery whose payload does not
 * fit is answered 400 and starts nothing. The ledger is an in-memory fake; it ignores a
 * second entry for the same payment intent, the way a real ledger keyed on it would.
 */

/** The part of Stripe's `payment_intent.succeeded` event this workflow reads. */
export const PaymentIntentSucceeded = z.object({
  id: z.string(),
  type: z.literal("payment_intent.succeeded"),
  data: z.object({
    object: z.object({
      id: z.string().startsWith("pi_"),
      amount: z.number().int().positive(),
      currency: z.string().length(3),
    }),
  }),
});
export type PaymentIntentSucceeded = z.infer<typeof PaymentIntentSucceeded>;

export interface LedgerEntry {
  readonly paymentIntent: string;
  readonly amount: number;
  readonly currency: string;
}

/** A fake ledger: one entry per payment intent. */
export const ledger = {
  entries: new Map<string, LedgerEntry>(),
  async record(entry: LedgerEntry): Promise<void> {
    if (!this.entries.has(entry.paymentIntent)) this.entries.set(entry.paymentIntent, entry);
  },
};

export const recordPayment = fn(
  async (_ctx: FunctionContext, paymentIntent: string, amount: number, currency: string) => {
    await ledger.record({ paymentIntent, amount, currency });
    return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
  },
  { retries: { max: 5, initialDelay: "500ms" } },
);

export const paymentWorkflow = workflow(
  {
    triggers: [webhook("stripe", { event: "payment_intent.succeeded" })],
    input: PaymentIntentSucceeded,
  },
  async (ctx: WorkflowContext, event: PaymentIntentSucceeded) => {
    const { id, amount, currency } = event.data.object;
    const recorded = await ctx.step(recordPayment, id, amount, currency);
    return `Payment recorded: ${recorded}`;
  },
);
