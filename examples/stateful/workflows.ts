import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

/** A fake page-view log, so the example can show what the steps did. */
export const pageViews: { userId: string; page: string }[] = [];

export const recordView = fn(
  async (_ctx: FunctionContext, userId: string, page: string) => {
    pageViews.push({ userId, page });
    return pageViews.length;
  },
  { retries: 0 },
);

/**
 * The seed's stateful workflow: run-scoped state for this run's phase, and session state
 * counting visits across every run of the same session.
 */
export const statefulWorkflow = workflow(async (ctx: WorkflowContext, userId: string) => {
  await ctx.state.set("phase", "started");
  await ctx.step(recordView, userId, "/home");

  // Read and write in one stretch between checkpoints: the update is atomic.
  const count = (await ctx.session.state.get<number>("visit_count", 0)) ?? 0;
  await ctx.session.state.set("visit_count", count + 1);
  await ctx.state.set("phase", "counted");

  await ctx.step(recordView, userId, "/thanks");
  return { visits: count + 1, phase: await ctx.state.get<string>("phase") };
});
