/**
 * Ratchet: durable workflows for TypeScript, without replay.
 * @module
 */
export type { RunQuery, RunStatus, StorageAdapter, StoredRun } from "../adapters/contract.js";
export type {
  BatchItemResult,
  BatchOptions,
  BatchResult,
  Operation,
  StepOperation,
  WorkflowContext,
} from "./context.js";
export type {
  DurableFunction,
  FnOptions,
  FunctionContext,
  RetryPolicy,
  StepFunction,
  Workflow,
  WorkflowBody,
  WorkflowOptions,
} from "./definitions.js";
export { fn, workflow } from "./definitions.js";
export type { Duration } from "./duration.js";
export type {
  AnyWorkflowRef,
  Engine,
  EngineOptions,
  RunHandle,
  StartOptions,
  WorkerOptions,
  WorkflowRef,
} from "./engine.js";
export { createEngine } from "./engine.js";
export {
  BatchError,
  CancelledError,
  CorruptFrameError,
  DefinitionError,
  FatalError,
  RatchetError,
  RetryableError,
  RunNotFoundError,
  SerializationError,
  TimeoutError,
  UnknownWorkflowError,
  WorkflowNotCompiledError,
} from "./errors.js";
export type { CheckpointEvent } from "./executor.js";
export type { CheckpointInfo, MachineManifest } from "./machine.js";
