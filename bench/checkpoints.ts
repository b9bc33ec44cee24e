import { createEngine, type StorageAdapter, type Workflow } from "ratchet";

/**
 * Microseconds per step of one `engine.run` of `workflow`, which has `steps` steps, on a
 * fresh engine over `storage`. The engine's default worker executes the run in this
 * process as soon as it is started. Opening and migrating the store happen before the
 * clock starts; creating the run and its final commit are inside the timing, spread over
 * the steps.
 */
export async function engineStepMicros(
  storage: StorageAdapter,
  workflow: Workflow<[], number>,
  steps: number,
): Promise<number> {
  const engine = createEngine({ storage, workflows: [workflow] });
  try {
    // Waits for storage.init(): list() runs after it.
    await engine.list({ limit: 1 });
    const started = performance.now();
    const result = await engine.run(workflow, []);
    const elapsed = performance.now() - started;
    if (result !== steps) throw new Error(`The workflow returned ${result}, expected ${steps}.`);
    return (elapsed * 1000) / steps;
  } finally {
    await engine.close();
  }
}
