/**
 * What the SQLite and Postgres adapters share about group commit: the option and its check.
 * @module
 */

/** The default bound on the checkpoints one group commit writes. */
export const defaultMaxBatch = 256;

/** The `groupCommit` option, checked: `false` commits every checkpoint on its own. */
export type GroupCommitConfig = { readonly maxBatch: number } | false;

/**
 * Check a `groupCommit` option (`true`/omitted: on with the default bound), or throw the
 * error `invalid` makes.
 */
export function resolveGroupCommit(
  option: boolean | { readonly maxBatch?: number } | undefined,
  invalid: (what: string) => Error,
): GroupCommitConfig {
  if (option === false) return false;
  if (option === undefined || option === true) return Object.freeze({ maxBatch: defaultMaxBatch });
  if (typeof option !== "object" || option === null) {
    throw invalid(`groupCommit must be true, false or { maxBatch }, not ${String(option)}`);
  }
  const maxBatch = option.maxBatch ?? defaultMaxBatch;
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) {
    throw invalid(`groupCommit.maxBatch must be a whole number >= 1, not ${maxBatch}`);
  }
  return Object.freeze({ maxBatch });
}
