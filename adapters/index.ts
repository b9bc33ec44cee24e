/**
 * The storage adapter contract, for people writing their own adapter.
 * @module
 */
export type {
  ClaimOptions,
  Commit,
  CommitOutcome,
  Delivery,
  NewRun,
  PendingEvent,
  PurgeFilter,
  RunQuery,
  RunStatus,
  StorageAdapter,
  StorageErrorCode,
  StoredRun,
  StoredSession,
  StoredStep,
} from "./contract.js";
export { StorageError, terminalStatuses } from "./contract.js";
