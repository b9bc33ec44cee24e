import {
  FatalError,
  type FunctionContext,
  fn,
  RetryableError,
  type WorkflowContext,
  workflow,
} from "ratchetjs";

/**
 * The seed's bulk processor: one durable function called once per document with
 * `ctx.batch`, at most `maxConcurrency` at a time. Each document's outcome is checkpointed
 * as it finishes, and a failed document does not fail the batch: the workflow reads
 * `results` and `stats` and decides. (`ctx.map` is the strict variant: the values, or a
 * `BatchError` if any item failed.)
 *
 * The document store is an in-memory fake: one document is corrupt (a `FatalError`, never
 * retried), one fails once with a transient error (retried after `retryAfter`).
 */

export interface DocumentRef {
  readonly docId: string;
}
export interface ProcessedDocument {
  readonly docId: string;
  readonly status: "processed";
  readonly pages: number;
  readonly attempts: number;
}
export interface BulkSummary {
  readonly processed: number;
  readonly failed: number;
  readonly failures: readonly { readonly docId: string; readonly reason: string }[];
  /** Documents that needed more than one attempt. */
  readonly retried: readonly string[];
}

export const documentStore = {
  latencyMs: 20,
  corrupt: new Set(["doc-07"]),
  /** Documents whose first read fails with a transient error. */
  flaky: new Set(["doc-10"]),
  inFlight: 0,
  maxInFlight: 0,
  processed: [] as string[],
  async process(docId: string, attempt: number): Promise<number> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      if (this.corrupt.has(docId)) throw new FatalError(`${docId} is not a valid PDF`);
      if (this.flaky.has(docId) && attempt === 1) {
        throw new RetryableError(`${docId}: storage timed out`, { retryAfter: "20ms" });
      }
      this.processed.push(docId);
      return 1 + (Number(docId.replace(/\D/g, "")) % 5);
    } finally {
      this.inFlight--;
    }
  },
};

export const processDocument = fn(
  async (ctx: FunctionContext, doc: DocumentRef): Promise<ProcessedDocument> => {
    const pages = await documentStore.process(doc.docId, ctx.attempt);
    return { docId: doc.docId, status: "processed", pages, attempts: ctx.attempt };
  },
  { retries: { max: 3, initialDelay: "50ms" }, timeout: "30s" },
);

export const bulkProcessor = workflow(async (ctx: WorkflowContext, docIds: string[]) => {
  const { results, stats } = await ctx.batch(
    processDocument,
    docIds.map((docId) => ({ docId })),
    { maxConcurrency: 4 },
  );
  const failures = results.flatMap((result, i) =>
    result.ok
      ? []
      : [
          {
            docId: docIds[i],
            reason: result.error instanceof Error ? result.error.message : String(result.error),
          },
        ],
  );
  const summary: BulkSummary = {
    processed: stats.completedItems,
    failed: stats.failedItems,
    failures,
    retried: results.flatMap((r) => (r.ok && r.value.attempts > 1 ? [r.value.docId] : [])),
  };
  return summary;
});
