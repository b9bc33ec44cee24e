import { FatalError, type FunctionContext, fn } from "ratchetjs";

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
