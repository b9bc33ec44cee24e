/**
 * Workflows with `await ctx.step` inside loops, for the benchmarks that need many
 * checkpoints of one shape: `checkpoints-concurrent` and `resume`. Every step is a no-op;
 * the only variables live across a checkpoint are loop counters, so every frame is the same
 * small size however far a run has gone.
 */
import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

export const noop = fn(async (_ctx: FunctionContext, n: number) => n, { retries: 0 });

/** `steps` no-op steps, then the count. */
export const loopSteps = workflow(async (ctx: WorkflowContext, steps: number) => {
  for (let i = 0; i < steps; i++) await ctx.step(noop, i);
  return steps;
});

/**
 * `steps` no-op steps, then, again and again, an hour's sleep followed by one more step: a
 * run that has completed `steps` checkpoints and sleeps, ready to be resumed and timed any
 * number of times.
 */
export const longRun = workflow(async (ctx: WorkflowContext, steps: number, naps: number) => {
  for (let i = 0; i < steps; i++) await ctx.step(noop, i);
  for (let nap = 0; nap < naps; nap++) {
    await ctx.sleep("1h");
    await ctx.step(noop, -1 - nap);
  }
  return steps + naps;
});
