/** The ready examples: the seed's workflows, with their durable functions defined inline. */
export interface Example {
  readonly id: string;
  readonly title: string;
  /** The workflow to run, and the arguments offered (a JSON array). */
  readonly workflow: string;
  readonly args: string;
  readonly code: string;
}

const order = `import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

// The seed's order workflow: validate → charge → confirm.
export const validateOrder = fn(async (_ctx: FunctionContext, orderId: string) => {
  console.log("validating", orderId);
  return { orderId, total: 89.99, valid: !orderId.startsWith("bad-") };
});

export const chargeCustomer = fn(
  async (ctx: FunctionContext, orderId: string, amount: number) => {
    console.log("charging", amount, "for", orderId);
    return { orderId, chargeId: \`ch_\${ctx.idempotencyKey}\`, status: "paid" };
  },
  { retries: { max: 5, backoff: "exponential" }, timeout: "30s" },
);

export const sendConfirmation = fn(
  async (_ctx: FunctionContext, orderId: string, chargeId: string) => {
    console.log("emailing the confirmation for", chargeId);
    return { sent: true, to: \`customer-of-\${orderId}\` };
  },
);

export const orderWorkflow = workflow(async (ctx: WorkflowContext, orderId: string) => {
  const order = await ctx.step(validateOrder, orderId);
  if (!order.valid) return { status: "invalid", orderId };
  const charge = await ctx.step(chargeCustomer, orderId, order.total);
  await ctx.step(sendConfirmation, orderId, charge.chargeId);
  return { status: "complete", orderId, chargeId: charge.chargeId };
});
`;

const approval = `import { type FunctionContext, fn, TimeoutError, type WorkflowContext, workflow } from "ratchetjs";

// The seed's approval workflow: summarize an order, then wait for a person to approve it.
const orders: Record<string, { customer: string; total: number }> = {
  "order-1001": { customer: "Ada", total: 1240 },
  "order-1002": { customer: "Grace", total: 18900 },
};

export const prepareOrderSummary = fn(async (_ctx: FunctionContext, orderId: string) => {
  const found = orders[orderId];
  if (!found) throw new Error(\`Unknown order \${orderId}\`);
  return \`\${orderId} for \${found.customer}: $\${found.total}\`;
});

export const fulfilOrder = fn(async (_ctx: FunctionContext, orderId: string) => {
  return { status: "fulfilled", orderId, shipmentId: \`shp-\${orderId.slice(6)}\` };
});

export const releaseOrder = fn(async (_ctx: FunctionContext, orderId: string, reason: string) => {
  console.log("released", orderId, reason);
});

export const approvalWorkflow = workflow(async (ctx: WorkflowContext, orderId: string) => {
  const summary = await ctx.step(prepareOrderSummary, orderId);

  let decision: string;
  try {
    decision = await ctx.waitForUser({
      question: \`Approve this order? \${summary}\`,
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
});
`;

const report = `import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

// The seed's report workflow: three fetches at once with ctx.parallel, then one report.
const query = <T>(rows: T): Promise<T> =>
  new Promise((resolve) => setTimeout(() => resolve(rows), 150));

export const fetchSales = fn((_ctx: FunctionContext, reportId: string) =>
  query({ reportId, orders: 1284, revenue: 96310.5 }),
);
export const fetchInventory = fn((_ctx: FunctionContext, reportId: string) =>
  query({ reportId, skus: 412, lowStock: ["SKU-17", "SKU-203"] }),
);
export const fetchCustomers = fn((_ctx: FunctionContext, reportId: string) =>
  query({ reportId, active: 3907, new: 218 }),
);

export const compileReport = fn(
  (_ctx: FunctionContext, reportId: string, sales: any, inventory: any, customers: any) => ({
    title: \`Weekly report \${reportId}\`,
    lines: [
      \`\${sales.orders} orders, $\${sales.revenue.toFixed(2)} revenue\`,
      \`\${inventory.skus} SKUs, low on \${inventory.lowStock.join(", ")}\`,
      \`\${customers.active} active customers (\${customers.new} new)\`,
    ],
  }),
);

export const reportWorkflow = workflow(async (ctx: WorkflowContext, reportId: string) => {
  const [sales, inventory, customers] = await ctx.parallel(
    ctx.step(fetchSales, reportId),
    ctx.step(fetchInventory, reportId),
    ctx.step(fetchCustomers, reportId),
  );
  return await ctx.step(compileReport, reportId, sales, inventory, customers);
});
`;

const followUp = `import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

// The seed's follow-up workflow: confirm now, sleep durably for 24 hours, follow up.
export const sendConfirmation = fn(async (_ctx: FunctionContext, userId: string) => {
  console.log("confirmation sent to", userId);
  return { userId, sent: "confirmation", at: new Date() };
});

export const sendFollowUp = fn(async (_ctx: FunctionContext, userId: string) => {
  console.log("follow-up sent to", userId);
  return { userId, sent: "follow-up", at: new Date() };
});

export const followUpWorkflow = workflow(async (ctx: WorkflowContext, userId: string) => {
  const first = await ctx.step(sendConfirmation, userId);

  await ctx.sleep("24h", { name: "wait_24h" });

  const second = await ctx.step(sendFollowUp, userId);
  return { message: "Follow-up sent.", first: first.sent, second: second.sent };
});
`;

export const EXAMPLES: readonly Example[] = [
  { id: "order", title: "Order", workflow: "orderWorkflow", args: '["order-42"]', code: order },
  {
    id: "approval",
    title: "Approval (waitForUser)",
    workflow: "approvalWorkflow",
    args: '["order-1001"]',
    code: approval,
  },
  {
    id: "report",
    title: "Parallel report",
    workflow: "reportWorkflow",
    args: '["2026-W47"]',
    code: report,
  },
  {
    id: "follow-up",
    title: "Sleep follow-up",
    workflow: "followUpWorkflow",
    args: '["user-7"]',
    code: followUp,
  },
];
