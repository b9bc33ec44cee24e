import {
  event,
  type FunctionContext,
  fn,
  TimeoutError,
  type WorkflowContext,
  workflow,
} from "ratchetjs";

/**
 * The seed's welcome workflow, started by an event: `engine.emit("user.signup", user)`
 * starts a run of every workflow with an `event("user.signup")` trigger, with the payload as
 * its one argument. It sends the welcome email, then waits (up to 3 days) for the
 * `user.verified` event of the same user — `match` picks that user's event out of everyone's
 * — and sends either the getting-started guide or a reminder.
 *
 * Mind the order: an event is delivered only to runs already waiting for it when it is
 * emitted. A `user.verified` emitted while the welcome email is still being sent is not kept
 * for this run (main.ts emits it once the run is `waiting`).
 *
 * The mailer is an in-memory fake that records what it sent.
 */

/** The payload of `user.signup`. */
export interface SignupEvent {
  readonly userId: string;
  readonly email: string;
  readonly name: string;
}

/** The payload of `user.verified`. */
export interface VerifiedEvent {
  readonly userId: string;
  readonly verifiedAt: string;
}

export type Template = "welcome" | "getting-started" | "verify-reminder";

export const mailer = {
  sent: [] as { readonly to: string; readonly template: Template }[],
  async send(to: string, template: Template): Promise<void> {
    this.sent.push({ to, template });
  },
};

export const sendEmail = fn(
  async (_ctx: FunctionContext, to: string, template: Template) => {
    await mailer.send(to, template);
    return `${template} email sent to ${to}`;
  },
  { retries: { max: 5, initialDelay: "500ms" } },
);

export const welcomeWorkflow = workflow(
  { triggers: [event("user.signup")] },
  async (ctx: WorkflowContext, user: SignupEvent) => {
    await ctx.step(sendEmail, user.email, "welcome");
    try {
      await ctx.waitForEvent<VerifiedEvent>("user.verified", {
        match: { userId: user.userId },
        timeout: "3d",
      });
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      await ctx.step(sendEmail, user.email, "verify-reminder");
      return { userId: user.userId, verified: false };
    }
    await ctx.step(sendEmail, user.email, "getting-started");
    return { userId: user.userId, verified: true };
  },
);
