import { FatalError, type FunctionContext, fn, type WorkflowContext, workflow } from "ratchetjs";

/**
 * The seed's notify workflow: look a user up, then email them. Two durable functions, two
 * checkpoints. The "services" are in-memory fakes standing in for a database and a mail
 * provider; they record what was called so the demo and the tests can show it.
 */

export interface User {
  readonly id: string;
  readonly name: string;
  readonly email: string;
}

export interface Email {
  readonly to: string;
  readonly subject: string;
  readonly body: string;
  /** What the mail provider deduplicates on: a retried or repeated send is sent once. */
  readonly idempotencyKey: string;
}

/** A fake user database. */
export const userDirectory = new Map<string, User>([
  ["u-1", { id: "u-1", name: "Ada", email: "ada@example.com" }],
  ["u-2", { id: "u-2", name: "Grace", email: "grace@example.com" }],
]);

/** A fake mail provider: `outbox` is what it sent. */
export const mailer = {
  outbox: [] as Email[],
  async send(email: Email): Promise<{ messageId: string }> {
    const seen = this.outbox.findIndex((e) => e.idempotencyKey === email.idempotencyKey);
    if (seen === -1) this.outbox.push(email);
    return { messageId: `msg-${seen === -1 ? this.outbox.length : seen + 1}` };
  },
};

export const fetchUser = fn(async (_ctx: FunctionContext, userId: string): Promise<User> => {
  const user = userDirectory.get(userId);
  // Retrying will not make an unknown user appear: fail the run now.
  if (!user) throw new FatalError(`No user with id ${userId}.`);
  return user;
});

export const sendEmail = fn(
  async (ctx: FunctionContext, user: User, subject: string): Promise<string> => {
    await mailer.send({
      to: user.email,
      subject,
      body: `Hi ${user.name}, thanks for joining!`,
      idempotencyKey: ctx.idempotencyKey,
    });
    return `Sent to ${user.name}`;
  },
  { retries: { max: 3, initialDelay: "200ms" }, timeout: "10s" },
);

export const notifyWorkflow = workflow(async (ctx: WorkflowContext, userId: string) => {
  const user = await ctx.step(fetchUser, userId);
  const result = await ctx.step(sendEmail, user, "Welcome!");
  return result;
});
