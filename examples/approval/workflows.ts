import { type FunctionContext, fn, TimeoutError, type WorkflowContext, workflow } from "ratchetjs";

/**
 * The seed's approval workflow: summarize an order, then wait for a person to approve or
 * reject it (`ctx.waitForUser`, answered with `engine.respond(runId, "approve")`). While it
 * waits the run holds no memory in any process. Nobody answering within 48 hours makes the
 * `await` throw `TimeoutError`, which the workflow catches to release the order.
 *
 * The order system is an in-memory fake that records what happened to each order.
 */

export interface Order {
  readonly orderId: string;
  readonly customer: string;
  readonly items: readonly { readonly sku: string; readonly qty: number }[];
  readonly total: number;
}

export type ApprovalResult =
  | { readonly status: "fulfilled"; readonly orderId: string; readonly shipmentId: string }
  | { readonly status: "rejected"; readonly orderId: string }
  | { readonly status: "expired"; readonly orderId: string };

export const orderSystem = {
  orders: new Map<string, Order>([
    ["order-1001", order("order-1001", "Ada", [["SKU-17", 2]], 1_240)],
    ["order-1002", order("order-1002", "Grace", [["SKU-203", 40]], 18_900)],
    ["order-1003", order("order-1003", "Edsger", [["SKU-5", 1]], 310)],
  ]),
  log: [] as string[],
};

function order(orderId: string, customer: string, items: [string, number][], total: number) {
  return { orderId, customer, items: items.map(([sku, qty]) => ({ sku, qty })), total };
}

export const prepareOrderSummary = fn(async (_ctx: FunctionContext, orderId: string) => {
  const found = orderSystem.orders.get(orderId);
  if (!found) throw new Error(`Unknown order ${orderId}`);
  orderSystem.log.push(`summarized ${orderId}`);
  const items = found.items.map((i) => `${i.qty} × ${i.sku}`).join(", ");
  return `${orderId} for ${found.customer}: ${items}, $${found.total.toLocaleString("en-US")}`;
});

export const fulfilOrder = fn(async (_ctx: FunctionContext, orderId: string) => {
  orderSystem.log.push(`fulfilled ${orderId}`);
  return { status: "fulfilled" as const, orderId, shipmentId: `shp-${orderId.slice(6)}` };
});

export const releaseOrder = fn(async (_ctx: FunctionContext, orderId: string, reason: string) => {
  orderSystem.log.push(`released ${orderId} (${reason})`);
});

export const approvalWorkflow = workflow(
  async (ctx: WorkflowContext, orderId: string): Promise<ApprovalResult> => {
    const summary = await ctx.step(prepareOrderSummary, orderId);

    let decision: string;
    try {
      decision = await ctx.waitForUser({
        question: `Approve this order?\n\n${summary}`,
        inputType: "approval",
        options: [
          { id: "approve", label: "Approve" },
          { id: "reject", label: "Reject" },
        ],
        timeout: "48h",
      });
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      await ctx.step(releaseOrder, orderId, "no answer within 48h");
      return { status: "expired", orderId };
    }

    if (decision === "reject") {
      await ctx.step(releaseOrder, orderId, "rejected");
      return { status: "rejected", orderId };
    }
    return await ctx.step(fulfilOrder, orderId);
  },
);
