import type { RunHandle, RunStatus } from "ratchetjs";

/**
 * Poll until the run is `status` (the engine has no "wait for this status" call yet).
 * The examples use it before answering a question or moving a test clock.
 */
export async function statusBecomes(run: RunHandle, status: RunStatus): Promise<void> {
  for (;;) {
    const now = await run.status();
    if (now === status) return;
    if (now === "completed" || now === "failed" || now === "cancelled") {
      throw new Error(`Run ${run.id} ended (${now}) before it was ${status}.`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
