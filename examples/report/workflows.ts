import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

/**
 * The seed's report workflow: fetch sales, inventory and customers at the same time with
 * `ctx.parallel`, then compile them into one report. Each fetch is its own checkpoint,
 * committed as it finishes: after a crash only the fetches that had not finished run again.
 *
 * The "warehouse" is an in-memory fake with a little latency; it counts the queries in
 * flight, so the demo and the tests can see that the three fetches overlap.
 */

export interface SalesFigures {
  readonly orders: number;
  readonly revenue: number;
}
export interface InventoryLevels {
  readonly skus: number;
  readonly lowStock: readonly string[];
}
export interface CustomerCounts {
  readonly active: number;
  readonly new: number;
}
export interface Report {
  readonly reportId: string;
  readonly title: string;
  readonly lines: readonly string[];
}

export const warehouse = {
  latencyMs: 100,
  inFlight: 0,
  maxInFlight: 0,
  queries: [] as string[],
  async query<T>(table: string, reportId: string, rows: T): Promise<T> {
    this.queries.push(`${table}:${reportId}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      return rows;
    } finally {
      this.inFlight--;
    }
  },
};

export const fetchSales = fn(
  (_ctx: FunctionContext, reportId: string): Promise<SalesFigures> =>
    warehouse.query("sales", reportId, { orders: 1_284, revenue: 96_310.5 }),
);

export const fetchInventory = fn(
  (_ctx: FunctionContext, reportId: string): Promise<InventoryLevels> =>
    warehouse.query("inventory", reportId, { skus: 412, lowStock: ["SKU-17", "SKU-203"] }),
);

export const fetchCustomers = fn(
  (_ctx: FunctionContext, reportId: string): Promise<CustomerCounts> =>
    warehouse.query("customers", reportId, { active: 3_907, new: 218 }),
);

export const compileReport = fn(
  (
    _ctx: FunctionContext,
    reportId: string,
    sales: SalesFigures,
    inventory: InventoryLevels,
    customers: CustomerCounts,
  ): Report => ({
    reportId,
    title: `Weekly report ${reportId}`,
    lines: [
      `${sales.orders} orders, $${sales.revenue.toFixed(2)} revenue`,
      `${inventory.skus} SKUs, low on ${inventory.lowStock.join(", ")}`,
      `${customers.active} active customers (${customers.new} new)`,
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
