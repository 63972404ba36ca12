// A workflow run drawn as its graph: one node per step (a button that selects it), placed in layers by
// graph-layout.ts, with an arrow from each step in its `after` to it (plain SVG under the nodes). A
// node says its status in words, not only in colour, and what the edges show is in its text too.
import type { RunDetail } from "../api-types.ts";
import { asRecord, kindLabel, layoutGraph, NODE, waitingText, type RunStep } from "../graph-layout.ts";
import { href } from "../router.ts";
import { Badge, When } from "./ui.tsx";

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "_");

/** The child run a workflow step started, as a link when its workflow is known. */
export function ChildRunLink({ step }: { step: RunStep }) {
  if (step.child_run_id == null) return null;
  const workflow = asRecord(step.waiting_for)?.workflow;
  const text = `child run #${step.child_run_id}`;
  return typeof workflow === "string"
    ? <a href={href(`/workflows/${encodeURIComponent(workflow)}/runs/${step.child_run_id}`)}>{text}</a>
    : <span>{text}</span>;
}

export function RunGraph({ run, selected, onSelect }: {
  run: RunDetail;
  selected: string | null;
  onSelect: (name: string | null) => void;
}) {
  const layout = layoutGraph(run.steps);
  const statusOf = new Map(run.steps.map((s) => [s.name, s.status]));
  return (
    <div class="run-graph-scroll" role="region" aria-label={`Graph of run #${run.id}`} tabIndex={0} data-testid="run-graph">
      <div class="run-graph" style={{ width: `${layout.width}px`, height: `${layout.height}px` }}>
        <svg class="graph-edges" width={layout.width} height={layout.height} viewBox={`0 0 ${layout.width} ${layout.height}`} aria-hidden="true">
          <defs>
            <marker id="run-graph-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" />
            </marker>
          </defs>
          {layout.edges.map((e) => (
            <path key={`${e.from}->${e.to}`} d={e.d} class={`graph-edge edge-${slug(statusOf.get(e.from) ?? "")}`}
              marker-end="url(#run-graph-arrow)" data-testid="graph-edge" data-from={e.from} data-to={e.to} />
          ))}
        </svg>
        <ol class="graph-nodes">
          {layout.nodes.map(({ step, x, y }) => {
            const waiting = step.status === "waiting" ? waitingText(step) : undefined;
            return (
              <li key={step.name} class={`graph-node status-${slug(step.status)}${selected === step.name ? " selected" : ""}`}
                style={{ left: `${x}px`, top: `${y}px`, width: `${NODE.width}px`, height: `${NODE.height}px` }}
                data-testid="graph-node" data-step={step.name} data-status={step.status}>
                <button type="button" class="graph-node-main" aria-pressed={selected === step.name} aria-controls="step-detail"
                  onClick={() => onSelect(selected === step.name ? null : step.name)}>
                  <code class="graph-node-name">{step.name}</code>
                  <span class="graph-node-kind">{kindLabel(step)}</span>
                  <span class="graph-node-status"><Badge value={step.status} />{step.reused && <Badge value="reused" />}</span>
                </button>
                <div class="graph-node-meta">
                  {step.map && (
                    <span data-testid="map-progress" title="finished/total (failed)">
                      map {step.map.finished}/{step.map.total} ({step.map.failed} failed)
                    </span>
                  )}
                  {waiting && <span title={waiting}>waits for {waiting}</span>}
                  {waiting && step.timeout_at && <span>times out <When iso={step.timeout_at} future /></span>}
                  {step.kind === "workflow" && <ChildRunLink step={step} />}
                  {step.after.length > 0 && <span class="sr-only">after {step.after.join(", ")}</span>}
                </div>
              </li>
            );
          })}
        </ol>
      </div>
    </div>
  );
}
