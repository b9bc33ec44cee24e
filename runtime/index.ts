/**
 * Ratchet: durable workflows for TypeScript, without replay.
 * @module
 */
export type { RunQuery, RunStatus, StorageAdapter, StoredRun } from "../adapters/contract.js";
export { createTestClock, type TestClock } from "./clock.js";
export type {
  BatchItemResult,
  BatchOptions,
  BatchResult,
  Clock,
  Operation,
  RunState,
  SessionState,
  StepOperation,
  UserOption,
  UserQuestion,
  WaitForEventOptions,
  WorkflowContext,
} from "./context.js";
export type {
  DurableFunction,
  EventTrigger,
  FnOptions,
  FunctionContext,
  InputSchema,
  RetryPolicy,
  StandardResult,
  StepFunction,
  Trigger,
  WebhookTrigger,
  Workflow,
  WorkflowBody,
  WorkflowOptions,
} from "./definitions.js";
export { event, fn, webhook, workflow } from "./definitions.js";
export {
  type Duration,
  type DurationString,
  InvalidDurationError,
  maxDurationMs,
} from "./duration.js";
export type {
  AnyWorkflowRef,
  EmitOptions,
  EmitOutcome,
  Engine,
  EngineOptions,
  FinishedStatus,
  PurgeOptions,
  RunHandle,
  StartOptions,
  WorkerOptions,
  WorkflowRef,
} from "./engine.js";
export { createEngine, DeliveryError, defaultRetention } from "./engine.js";
export {
  BatchError,
  CancelledError,
  CorruptFrameError,
  DefinitionError,
  FatalError,
  FrameTooLargeError,
  InputError,
  LeaseLostError,
  RatchetError,
  RetryableError,
  RunNotFoundError,
  SerializationError,
  StorageRefusedError,
  TimeoutError,
  UnknownWorkflowError,
  UnpersistableIteratorError,
  WorkflowNotCompiledError,
} from "./errors.js";
export type { CheckpointEvent } from "./executor.js";
export type { RunCheckpoint, RunInfo, RunWait, StepAttempt } from "./inspect.js";
export { type Logger, stderrLogger } from "./logger.js";
export type { CheckpointInfo, MachineManifest } from "./machine.js";
export { type ClassSerializer, registerClass } from "./serialization.js";
export type {
  LockedFrames,
  LockedWorkflows,
  Migration,
  MigrationResult,
  MigrationRun,
  Migrations,
  MigrationsOf,
  MigrationTarget,
} from "./versioning.js";
export type {
  WebhookEventType,
  WebhookScheme,
  WebhookSource,
  WebhookVerifier,
} from "./webhooks.js";
