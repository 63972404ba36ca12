// Where the run graph draws each step: in layers, left to right. A step's layer is 1 + the largest
// layer of the steps in its `after` (a step with no `after` is in layer 0), so every edge points right.
// Within a layer, steps are ordered by the mean row of what they wait for (then by index), which keeps
// most edges short and uncrossed. Also the words a node says about its step. Pure and DOM-free (a unit
// test reads it).
import type { RunDetail } from "./api-types.ts";
import { absolute } from "./format.ts";

export type RunStep = RunDetail["steps"][number];

export interface GraphStep {
  name: string;
  index: number;
  after: string[];
}

export interface PlacedNode<S extends GraphStep> {
  step: S;
  layer: number;
  /** Position within its layer, from the top. */
  row: number;
  x: number;
  y: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  /** An SVG path from the right side of `from` to the left side of `to`. */
  d: string;
}

export interface GraphLayout<S extends GraphStep> {
  nodes: PlacedNode<S>[];
  edges: PlacedEdge[];
  width: number;
  height: number;
  layers: number;
}

export const NODE = { width: 212, height: 118, gapX: 56, gapY: 18 } as const;

/** Each step's layer. A name in `after` that is not a step is ignored; a cycle (the API refuses one) is cut. */
export function stepLayers(steps: GraphStep[]): Map<string, number> {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (s: GraphStep): number => {
    const known = layer.get(s.name);
    if (known !== undefined) return known;
    if (visiting.has(s.name)) return -1;
    visiting.add(s.name);
    let l = 0;
    for (const dep of s.after) {
      const d = byName.get(dep);
      if (d && d !== s) l = Math.max(l, visit(d) + 1);
    }
    visiting.delete(s.name);
    layer.set(s.name, l);
    return l;
  };
  for (const s of steps) visit(s);
  return layer;
}

export function layoutGraph<S extends GraphStep>(steps: S[]): GraphLayout<S> {
  const layerOf = stepLayers(steps);
  const count = steps.length ? Math.max(...layerOf.values()) + 1 : 0;
  const columns: S[][] = Array.from({ length: count }, () => []);
  for (const s of [...steps].sort((a, b) => a.index - b.index)) columns[layerOf.get(s.name)!].push(s);

  const rowOf = new Map<string, number>();
  for (const column of columns) {
    const weight = (s: S) => {
      const rows = s.after.map((n) => rowOf.get(n)).filter((r): r is number => r !== undefined);
      return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : s.index;
    };
    column.sort((a, b) => weight(a) - weight(b) || a.index - b.index);
    column.forEach((s, i) => rowOf.set(s.name, i));
  }

  const tallest = Math.max(0, ...columns.map((c) => c.length));
  const pitchX = NODE.width + NODE.gapX;
  const pitchY = NODE.height + NODE.gapY;
  const nodes: PlacedNode<S>[] = [];
  const at = new Map<string, PlacedNode<S>>();
  columns.forEach((column, layer) => {
    // A shorter layer is centred against the tallest.
    const offset = ((tallest - column.length) * pitchY) / 2;
    column.forEach((step, row) => {
      const node = { step, layer, row, x: layer * pitchX, y: offset + row * pitchY };
      nodes.push(node);
      at.set(step.name, node);
    });
  });

  const edges: PlacedEdge[] = [];
  for (const node of nodes) {
    for (const dep of node.step.after) {
      const from = at.get(dep);
      if (!from || from === node) continue;
      const x1 = from.x + NODE.width, y1 = from.y + NODE.height / 2;
      const x2 = node.x, y2 = node.y + NODE.height / 2;
      const mid = (x1 + x2) / 2;
      edges.push({ from: dep, to: node.step.name, d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}` });
    }
  }
  return {
    nodes,
    edges,
    layers: count,
    width: count ? count * pitchX - NODE.gapX : 0,
    height: tallest ? tallest * pitchY - NODE.gapY : 0,
  };
}

/** What a step is, in a few words: its task type, or the kind of wait. */
export function kindLabel(step: RunStep): string {
  const wait = asRecord(step.waiting_for);
  switch (step.kind) {
    case "task": return `task · ${step.type}`;
    case "sleep": return "sleep";
    case "wait_for_event": return "wait for event";
    case "workflow": return typeof wait?.workflow === "string" ? `workflow · ${wait.workflow}` : "workflow";
    default: return String(step.kind).replace(/_/g, " ");
  }
}

export const asRecord = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : undefined;

/** What a waiting step waits for, as a line of text. */
export function waitingText(step: RunStep): string | undefined {
  const w = asRecord(step.waiting_for);
  if (!w) return undefined;
  if (typeof w.until === "string") return `until ${absolute(w.until)}`;
  const event = asRecord(w.event);
  if (event) {
    const match = asRecord(event.match);
    return `event ${String(event.source)}/${String(event.type)}${match && Object.keys(match).length ? ` matching ${JSON.stringify(match)}` : ""}`;
  }
  if (typeof w.workflow === "string") return w.run_id != null ? `run #${String(w.run_id)} of ${w.workflow}` : `workflow ${w.workflow}`;
  const approval = asRecord(w.approval);
  if (approval) return `approval${approval.ticket_id != null ? ` (ticket #${String(approval.ticket_id)})` : ""}`;
  return JSON.stringify(w);
}
