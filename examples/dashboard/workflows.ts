import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

/**
 * The seed's dashboard workflow: three metrics fetched at the same time with `ctx.gather`,
 * which resolves to an object by name (`ctx.parallel` resolves to a tuple). The metrics
 * service is an in-memory fake with a little latency.
 */

export interface Revenue {
  readonly today: number;
  readonly currency: "USD";
}
export interface ActiveUsers {
  readonly count: number;
  readonly changePct: number;
}
export interface ErrorRate {
  readonly ratePct: number;
  readonly windowMinutes: number;
}

export const metrics = {
  latencyMs: 50,
  calls: [] as string[],
  async read<T>(metric: string, value: T): Promise<T> {
    this.calls.push(metric);
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    return value;
  },
};

export const fetchRevenue = fn(
  (_ctx: FunctionContext): Promise<Revenue> =>
    metrics.read("revenue", { today: 12_480, currency: "USD" }),
);

export const fetchActiveUsers = fn(
  (_ctx: FunctionContext): Promise<ActiveUsers> =>
    metrics.read("active_users", { count: 1_732, changePct: 4.2 }),
);

export const fetchErrorRate = fn(
  (_ctx: FunctionContext): Promise<ErrorRate> =>
    metrics.read("error_rate", { ratePct: 0.37, windowMinutes: 15 }),
);

export const dashboardWorkflow = workflow(async (ctx: WorkflowContext) => {
  const data = await ctx.gather({
    revenue: ctx.step(fetchRevenue),
    users: ctx.step(fetchActiveUsers),
    errors: ctx.step(fetchErrorRate),
  });
  // data.revenue, data.users, data.errors: each typed by its function.
  return { ...data, healthy: data.errors.ratePct < 1 };
});
