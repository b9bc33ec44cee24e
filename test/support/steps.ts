import { FatalError, type FunctionContext, fn, registerClass } from "ratchetjs";

/** Every call of the steps below, in order: the oracle compares these sequences. */
export const stepLog: string[] = [];

const noRetries = { retries: 0 } as const;

export const add = fn(async (_ctx: FunctionContext, a: number, b: number) => {
  stepLog.push(`add(${a},${b})`);
  return a + b;
}, noRetries);

export const echo = fn(async <T>(_ctx: FunctionContext, value: T) => {
  stepLog.push(`echo(${JSON.stringify(value)})`);
  return value;
}, noRetries);

export const boom = fn(async (_ctx: FunctionContext, message: string) => {
  stepLog.push(`boom(${message})`);
  throw new FatalError(message);
}, noRetries);

/**
 * A disposable resource that can be persisted (registered), for `using` across checkpoints:
 * its disposal is logged like a step call.
 */
export class Resource {
  constructor(readonly name: string) {}
  [Symbol.dispose](): void {
    stepLog.push(`dispose(${this.name})`);
  }
  async [Symbol.asyncDispose](): Promise<void> {
    stepLog.push(`asyncDispose(${this.name})`);
  }
}
registerClass(Resource, {
  serialize: (r) => r.name,
  deserialize: (name: string) => new Resource(name),
});

/** A persistable resource whose disposal throws `Error("dispose <name>")` (logged first). */
export class FailingResource {
  constructor(readonly name: string) {}
  [Symbol.dispose](): void {
    stepLog.push(`dispose(${this.name})`);
    throw new Error(`dispose ${this.name}`);
  }
  async [Symbol.asyncDispose](): Promise<void> {
    stepLog.push(`asyncDispose(${this.name})`);
    throw new Error(`asyncDispose ${this.name}`);
  }
}
registerClass(FailingResource, {
  serialize: (r) => r.name,
  deserialize: (name: string) => new FailingResource(name),
});

/**
 * A module object for call tests: reading `fn` (a getter) is logged like a step call, and
 * `method` tells whether it was called with `callees` as `this`.
 */
export const callees = {
  get fn(): (x: unknown) => string {
    stepLog.push("read fn");
    return (x) => `fn(${x})`;
  },
  method(this: unknown, x: unknown): [boolean, unknown] {
    return [this === callees, x];
  },
  other(x: unknown): string {
    return `other(${x})`;
  },
  missing: undefined as undefined | ((x: unknown) => unknown),
};
