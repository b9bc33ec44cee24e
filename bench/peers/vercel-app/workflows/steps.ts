// The Vercel Workflow SDK's side of the peers benchmark, compiled by `workflow build
// --target standalone` (its SWC plugin) into .well-known/workflow/v1/{flow,step}.js.
async function noop(i: number) {
  "use step";
  return i;
}

/** `n` sequential no-op steps. */
export async function stepsWorkflow(n: number) {
  "use workflow";
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await noop(i);
  return sum;
}

async function hang() {
  "use step";
  process.stdout.write(`${JSON.stringify({ hanging: true, pid: process.pid })}\n`);
  (globalThis as { onHang?: () => void }).onHang?.();
  await new Promise(() => {});
}

/** `k` no-op steps, then a step that never ends. */
export async function hangAfter(k: number) {
  "use workflow";
  for (let i = 0; i < k; i++) await noop(i);
  await hang();
  return k;
}
