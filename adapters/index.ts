/**
 * The storage adapter contract, for people writing their own adapter.
 * @module
 */
export type {
  ClaimOptions,
  Commit,
  CommitOutcome,
  NewRun,
  RunQuery,
  RunStatus,
  StorageAdapter,
  StoredRun,
} from "./contract.js";
export { terminalStatuses } from "./contract.js";
