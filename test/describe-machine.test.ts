import { describe, expect, it } from "vitest";
import { describeMachine, transform } from "../compiler/index.ts";

/** compiler/describe.ts: the block graph the playground draws. */

const source = `import { workflow } from "ratchetjs";
const a = (_: unknown) => 1;
export const flow = workflow(async (ctx, id: string) => {
  const x = await ctx.step(a, id);
  if (x > 0) return "early";
  try {
    await ctx.step(a, x);
  } catch {
    await ctx.step(a, "caught");
  }
  return "late";
});
`;

describe("describeMachine", () => {
  it("gives blocks, edges, checkpoints and lines that agree with the manifest", () => {
    const [machine, ...rest] = describeMachine(source, "flow.ts");
    expect(rest).toEqual([]);
    expect(machine!.name).toBe("flow");
    expect(machine!.lines).toEqual({ from: 3, to: 12 });
    const manifest = transform(source, { filename: "flow.ts" }).workflows[0]!;
    expect(machine!.checkpoints.map((c) => [c.index, c.line, c.resume, c.live])).toEqual(
      manifest.checkpoints.map((c) => [c.index, c.line, c.resume, c.live]),
    );
    const blocks = new Map(machine!.blocks.map((b) => [b.id, b]));
    for (const cp of machine!.checkpoints) {
      const block = blocks.get(cp.block)!;
      expect(block.terminator).toBe("durable");
      expect(block.checkpoint).toBe(cp.index);
      expect(block.edges).toContainEqual({ to: cp.resume, kind: "checkpoint" });
    }
    const edges = machine!.blocks.flatMap((b) => b.edges.map((e) => e.kind));
    expect(edges).toContain("exception");
    // The early return sits in the block after the first checkpoint.
    const afterFirst = blocks.get(machine!.checkpoints[0]!.resume)!;
    expect(afterFirst.exits).toBe(true);
    expect(afterFirst.lines).toEqual({ from: 5, to: 5 });
  });

  it("leaves out a workflow with an error, and never throws", () => {
    const broken = `import { workflow } from "ratchetjs";
export const bad = workflow(async (ctx, ids: string[]) => ids.map((id) => ctx.step(f, id)));`;
    expect(describeMachine(broken, "bad.ts")).toEqual([]);
    expect(describeMachine("workflow(( ratchet", "x.ts")).toEqual([]);
  });
});
