/**
 * A cheap test, with no parse, that a module may define a workflow: it must mention the
 * `ratchet` package and the word `workflow`. Every front end calls it first, so files
 * without workflows cost one or two substring searches.
 */
export function mayContainWorkflow(code: string): boolean {
  return code.includes("ratchet") && code.includes("workflow");
}
