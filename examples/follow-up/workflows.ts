import { type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

/**
 * The seed's follow-up workflow: confirm now, sleep durably for 24 hours, follow up. The
 * wake time is committed with the sleep's checkpoint; while it sleeps the run holds no
 * memory in any process, and a worker started later (after a restart, on another machine)
 * picks it up when it is due.
 *
 * The mailer is an in-memory fake that records what it sent and when (by the engine's clock,
 * passed in, so a test clock shows simulated time).
 */

export interface SentEmail {
  readonly to: string;
  readonly template: "confirmation" | "follow-up";
  readonly at: number;
}

export const mailer = {
  /** The time source for `at`: set it to the engine's clock. */
  now: () => Date.now(),
  sent: [] as SentEmail[],
  async send(to: string, template: SentEmail["template"]): Promise<void> {
    this.sent.push({ to, template, at: this.now() });
  },
};

export const sendConfirmation = fn(async (_ctx: FunctionContext, userId: string) => {
  await mailer.send(userId, "confirmation");
  return { userId, sent: "confirmation" as const };
});

export const sendFollowUp = fn(async (_ctx: FunctionContext, userId: string) => {
  await mailer.send(userId, "follow-up");
  return { userId, sent: "follow-up" as const };
});

export const followUpWorkflow = workflow(async (ctx: WorkflowContext, userId: string) => {
  await ctx.step(sendConfirmation, userId);

  await ctx.sleep("24h", { name: "wait_24h" });

  await ctx.step(sendFollowUp, userId);
  return "Follow-up sent.";
});
