/**
 * The state machine as a graph: the compiler's blocks (the machine's states) and checkpoints
 * as nodes, control transfers as edges, laid out by dagre and drawn as SVG.
 */
import dagre from "@dagrejs/dagre";
import type { MachineDescription } from "../../compiler/describe.ts";

/** What the graph highlights. */
export interface GraphState {
  /** The checkpoint the machine waits at (its number). */
  readonly pending: number | undefined;
  /** Checkpoints committed in this run. */
  readonly committed: ReadonlySet<number>;
  /** The checkpoint a crashed run was resumed from. */
  readonly resumedFrom: number | undefined;
  /** Whether the run has ended. */
  readonly finished: boolean;
  /** The selected node's key. */
  readonly selected: string | undefined;
}

export interface GraphNode {
  readonly key: string;
  readonly kind: "start" | "block" | "checkpoint" | "done";
  readonly title: string;
  readonly subtitle: string;
  /** Source lines to highlight when the node is clicked. */
  readonly lines: { readonly from: number; readonly to: number } | null;
  readonly checkpoint?: number;
}

interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
  readonly style: "solid" | "dashed";
}

const SVG = "http://www.w3.org/2000/svg";

/**
 * The nodes and edges drawn for a machine. Blocks holding only the compiler's bookkeeping
 * (no source lines, one plain jump) are folded into their successor; blocks control cannot
 * reach are left out.
 */
export function buildGraph(
  machine: MachineDescription,
  checkpointIds: ReadonlyMap<number, string>,
): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const blocks = new Map(machine.blocks.map((b) => [b.id, b]));
  const trivial = (id: number) => {
    const b = blocks.get(id);
    return (
      b !== undefined &&
      b.lines === null &&
      b.terminator === "goto" &&
      !b.exits &&
      b.edges.length === 1 &&
      b.edges[0]!.kind === "next"
    );
  };
  const target = (id: number): number => {
    const seen = new Set<number>();
    let current = id;
    while (trivial(current) && !seen.has(current)) {
      seen.add(current);
      current = blocks.get(current)!.edges[0]!.to;
    }
    return current;
  };

  const nodes: GraphNode[] = [
    {
      key: "start",
      kind: "start",
      title: "start",
      subtitle: `${machine.name}(…)`,
      lines: machine.lines,
    },
  ];
  const edges: GraphEdge[] = [];
  const entry = target(machine.entry);
  edges.push({ from: "start", to: `b${entry}`, label: "", style: "solid" });
  const reached = new Set<number>();
  const queue = [entry];
  let ends = false;
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (reached.has(id)) continue;
    reached.add(id);
    const block = blocks.get(id);
    if (!block) continue;
    const key = `b${id}`;
    const lines = block.lines;
    const t = block.terminator;
    const ending = t === "return" || t === "throw" || t === "end";
    nodes.push({
      key,
      kind: "block",
      title: `state ${id}`,
      subtitle:
        (lines
          ? lines.from === lines.to
            ? `line ${lines.from}`
            : `lines ${lines.from}–${lines.to}`
          : "—") + (block.part ? ` · ${block.part}` : ""),
      lines,
    });
    if (ending || block.exits) {
      ends = true;
      const label =
        t === "throw" ? "throw" : ending ? (t === "end" ? "end" : "return") : "may return";
      edges.push({ from: key, to: "done", label, style: ending ? "solid" : "dashed" });
    }
    for (const edge of block.edges) {
      const to = target(edge.to);
      queue.push(to);
      if (edge.kind === "checkpoint" && block.checkpoint !== undefined) {
        const cp = machine.checkpoints.find((c) => c.index === block.checkpoint);
        const cpKey = `cp${block.checkpoint}`;
        nodes.push({
          key: cpKey,
          kind: "checkpoint",
          title: `checkpoint ${block.checkpoint}`,
          subtitle: checkpointIds.get(block.checkpoint) ?? cp?.method ?? "",
          lines: cp ? { from: cp.line, to: cp.endLine } : lines,
          checkpoint: block.checkpoint,
        });
        edges.push({ from: key, to: cpKey, label: "", style: "solid" });
        edges.push({ from: cpKey, to: `b${to}`, label: "resume", style: "solid" });
        continue;
      }
      if (ending && edge.kind === "next") continue;
      const label =
        edge.kind === "true" || edge.kind === "false"
          ? edge.kind
          : edge.kind === "exception"
            ? "throws"
            : edge.kind === "finally"
              ? "after finally"
              : edge.kind === "jump"
                ? "jump"
                : "";
      edges.push({
        from: key,
        to: `b${to}`,
        label,
        style: edge.kind === "exception" ? "dashed" : "solid",
      });
    }
  }
  if (ends) nodes.push({ key: "done", kind: "done", title: "done", subtitle: "", lines: null });
  const keys = new Set(nodes.map((n) => n.key));
  const unique = new Map<string, GraphEdge>();
  for (const e of edges) {
    if (keys.has(e.from) && keys.has(e.to)) unique.set(`${e.from}>${e.to}>${e.label}`, e);
  }
  return { nodes, edges: [...unique.values()] };
}

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  parent?: Element,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  parent?.appendChild(node);
  return node;
}

/** Lay out and draw the graph into `container`; `onSelect` is told which node was clicked. */
export function drawGraph(
  container: HTMLElement,
  graph: { nodes: GraphNode[]; edges: GraphEdge[] },
  state: GraphState,
  onSelect: (node: GraphNode) => void,
): void {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 34, edgesep: 12, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) {
    const text = Math.max(node.title.length, node.subtitle.length);
    const width =
      node.kind === "done" || node.kind === "start" ? Math.max(70, text * 7 + 20) : text * 7 + 28;
    g.setNode(node.key, { width, height: node.kind === "checkpoint" ? 46 : 40 });
  }
  graph.edges.forEach((edge, i) => {
    g.setEdge(
      edge.from,
      edge.to,
      {
        label: edge.label,
        width: edge.label.length * 6.5,
        height: edge.label ? 14 : 0,
        labelpos: "c",
      },
      String(i),
    );
  });
  dagre.layout(g);
  const { width = 100, height = 100 } = g.graph();

  container.replaceChildren();
  const svg = el("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: "machine-graph",
    role: "img",
    "aria-label": "state machine",
  });
  container.appendChild(svg);
  const defs = el("defs", {}, svg);
  const marker = el(
    "marker",
    {
      id: "arrow",
      viewBox: "0 0 10 10",
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: "auto-start-reverse",
    },
    defs,
  );
  el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }, marker);

  graph.edges.forEach((edge, i) => {
    const layout = g.edge({ v: edge.from, w: edge.to, name: String(i) });
    const points: { x: number; y: number }[] = layout?.points ?? [];
    if (points.length === 0) return;
    const d = points
      .map((p, j) => `${j === 0 ? "M" : "L"} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`)
      .join(" ");
    el("path", { d, class: `edge edge-${edge.style}`, "marker-end": "url(#arrow)" }, svg);
    if (edge.label && layout?.x !== undefined && layout.y !== undefined) {
      const label = el(
        "text",
        { x: layout.x, y: layout.y + 4, class: "edge-label", "text-anchor": "middle" },
        svg,
      );
      label.textContent = edge.label;
    }
  });

  for (const node of graph.nodes) {
    const layout = g.node(node.key);
    if (!layout || layout.x === undefined || layout.y === undefined) continue;
    const classes = ["node", `node-${node.kind}`];
    if (node.checkpoint !== undefined) {
      if (state.pending === node.checkpoint) classes.push("is-current");
      if (state.committed.has(node.checkpoint)) classes.push("is-committed");
      if (state.resumedFrom === node.checkpoint) classes.push("is-resumed");
    }
    if (node.kind === "done" && state.finished) classes.push("is-current");
    if (state.selected === node.key) classes.push("is-selected");
    const group = el(
      "g",
      {
        class: classes.join(" "),
        transform: `translate(${layout.x - layout.width / 2}, ${layout.y - layout.height / 2})`,
        "data-key": node.key,
        tabindex: 0,
      },
      svg,
    );
    if (node.checkpoint !== undefined)
      group.setAttribute("data-checkpoint", String(node.checkpoint));
    const radius = node.kind === "checkpoint" ? 10 : node.kind === "block" ? 3 : layout.height / 2;
    el("rect", { width: layout.width, height: layout.height, rx: radius, ry: radius }, group);
    const title = el(
      "text",
      {
        x: layout.width / 2,
        y: node.subtitle ? 16 : layout.height / 2 + 4,
        class: "node-title",
        "text-anchor": "middle",
      },
      group,
    );
    title.textContent = node.title;
    if (node.subtitle) {
      const sub = el(
        "text",
        {
          x: layout.width / 2,
          y: node.kind === "checkpoint" ? 34 : 31,
          class: "node-subtitle",
          "text-anchor": "middle",
        },
        group,
      );
      sub.textContent = node.subtitle;
    }
    const tip = el("title", {}, group);
    tip.textContent = node.lines
      ? `${node.title}: lines ${node.lines.from}–${node.lines.to} (click to show)`
      : node.title;
    group.addEventListener("click", () => onSelect(node));
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") onSelect(node);
    });
  }
}
