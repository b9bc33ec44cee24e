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
  RunQuery,
  RunStatus,
  StorageAdapter,
  StorageErrorCode,
  StoredRun,
  StoredSession,
} from "./contract.js";
export { StorageError, terminalStatuses } from "./contract.js";
