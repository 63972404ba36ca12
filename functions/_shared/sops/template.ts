// The embedded SOP generator: no AI, no network, same input -> same SOP. It
// writes the procedure from what happened: the ticket, its events grouped by
// message, and each task's history (attempts, last error, warning/error logs).
import { clip, type SopContext, type SopEvent, type SopTask } from "./context.ts";
import { type SopContent, sopContentSchema, type SopStep } from "./schema.ts";

const MAX_EVENT_GROUPS = 8;
const MAX_TASK_STEPS = 12;
const plural = (n: number, one: string, many = one + "s") => `${n} ${n === 1 ? one : many}`;
const quote = (s: string, n = 240) => `"${clip(s.replace(/\s+/g, " ").trim(), n)}"`;
const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const uniq = <T>(xs: T[]) => [...new Set(xs)];
const SEVERE = new Set(["error", "fatal", "critical"]);

interface EventGroup {
  key: string;
  source: string;
  type: string;
  level: string;
  message: string;
  fingerprint?: string;
  count: number;
  first?: string;
  last?: string;
  ids: number[];
}

function groupEvents(events: SopEvent[]): EventGroup[] {
  const groups = new Map<string, EventGroup>();
  for (const e of [...events].sort((a, b) => a.id - b.id)) {
    const key = e.fingerprint ?? `${e.source}|${e.type}|${e.message}`;
    const g = groups.get(key);
    if (g) {
      g.count++;
      g.ids.push(e.id);
      if (e.occurred_at && (!g.last || e.occurred_at > g.last)) g.last = e.occurred_at;
      if (e.occurred_at && (!g.first || e.occurred_at < g.first)) g.first = e.occurred_at;
    } else {
      groups.set(key, { key, source: e.source, type: e.type, level: e.level, message: e.message, fingerprint: e.fingerprint, count: 1, first: e.occurred_at, last: e.occurred_at, ids: [e.id] });
    }
  }
  // Most severe first, then the most frequent, then the oldest: a stable order.
  const rank = (l: string) => (SEVERE.has(l) ? 0 : l === "warn" || l === "warning" ? 1 : 2);
  return [...groups.values()].sort((a, b) => rank(a.level) - rank(b.level) || b.count - a.count || a.ids[0] - b.ids[0]);
}

function eventStep(g: EventGroup): SopStep {
  const when = g.first ? (g.first === g.last ? `, at ${g.first}` : `, first ${g.first}, last ${g.last}`) : "";
  const query = g.fingerprint ? `GET /events?fingerprint=${g.fingerprint}` : `GET /events?source=${g.source}&type=${g.type}`;
  const step: SopStep = {
    action: `Check the ${g.level} "${g.type}" events from ${g.source}: ${quote(g.message)} (${plural(g.count, "occurrence")}${when}). List them with ${query} and find what triggered the first one.`,
    expected_result: `You know the trigger of these events and whether they are still arriving.`,
  };
  if (SEVERE.has(g.level)) step.warning = `If new ${g.type} events keep arriving while you work, treat this as an active incident and tell the ${g.source} owners first.`;
  return step;
}

function keyLogLines(t: SopTask): string {
  const lines = t.logs.filter((l) => l.level === "warn" || SEVERE.has(l.level)).slice(-3);
  return lines.length ? ` Key log lines: ${lines.map((l) => `[${l.level}] ${quote(l.message, 160)}`).join("; ")}.` : "";
}

function taskSteps(t: SopTask): SopStep[] {
  const name = `task #${t.id} (${t.type})`;
  const logs = `GET /logs?task_id=${t.id}`;
  switch (t.status) {
    case "dead":
      return [
        {
          action: `Find why ${name} failed for good after ${plural(t.attempts, "attempt")} of ${t.max_attempts}${t.last_error ? `: ${quote(t.last_error)}` : ""}. Read its logs with ${logs}.${keyLogLines(t)}`,
          expected_result: `The cause of the failure is known and fixed (configuration, data or an outside service).`,
        },
        {
          action: `Run ${name} again with POST /tasks/${t.id}/retry.`,
          expected_result: `GET /tasks/${t.id} shows status succeeded.`,
          warning: `Retry only after the cause is fixed: a task may run more than once (at-least-once delivery), so check it is safe to repeat.`,
        },
      ];
    case "succeeded":
      return [{
        action: `Repeat the work of ${name} if the procedure needs it: enqueue the same type with POST /tasks. It succeeded after ${plural(t.attempts, "attempt")}${t.attempts > 1 && t.last_error ? `; the earlier failure was ${quote(t.last_error)}` : ""}.${keyLogLines(t)}`,
        expected_result: `The new task reaches succeeded, as ${name} did.`,
      }];
    case "cancelled":
      return [{
        action: `Decide whether ${name}, cancelled after ${plural(t.attempts, "attempt")}, is still needed; if so, queue it again with POST /tasks/${t.id}/retry.`,
        expected_result: `The task is either deliberately left cancelled or succeeds on the new run.`,
      }];
    default:
      return [{
        action: `Watch ${name}, now ${t.status} (attempt ${t.attempts} of ${t.max_attempts}), with GET /tasks/${t.id} and ${logs}.${keyLogLines(t)}`,
        expected_result: `It finishes as succeeded within its timeout; if it dies, follow the steps for a failed task.`,
      }];
  }
}

/** Lines of the requester's free text that read as steps ("1. …", "- …", "* …"). */
function contextSteps(context: string | undefined): SopStep[] {
  if (!context) return [];
  return context
    .split(/\r?\n/)
    .map((l) => /^\s*(?:\d+[.)]|[-*•])\s+(.+)$/.exec(l)?.[1]?.trim())
    .filter((l): l is string => !!l)
    .slice(0, 20)
    .map((action) => ({ action: clip(action, 2000), expected_result: "This step is done as described and its result is recorded in the ticket or change log." }));
}

const GENERIC_STEPS: SopStep[] = [
  { action: "Confirm the request or trigger that starts this procedure and note who asked for it.", expected_result: "The reason for running the procedure is written down." },
  { action: "Gather what you need: access rights, the affected app and the current state (logs, recent tasks).", expected_result: "Everything in the prerequisites is at hand." },
  { action: "Carry out the change or operation, one part at a time, noting each action and its time.", expected_result: "Each part completes without new errors in the logs (GET /logs?level=error)." },
];

/** A complete, valid SOP from the gathered context; deterministic. */
export function templateSop(ctx: SopContext): SopContent {
  const groups = groupEvents(ctx.events);
  const sources = uniq([...(ctx.ticket?.source ? [ctx.ticket.source] : []), ...groups.map((g) => g.source)]).slice(0, 5);
  const tasks = [...ctx.tasks].sort((a, b) => a.id - b.id);
  const taskTypes = uniq(tasks.map((t) => t.type));
  const audience = ctx.audience ?? "On-call engineer";
  const t = ctx.ticket;

  const purpose = t
    ? `Resolve and prevent a recurrence of ${quote(t.title)} (ticket #${t.id}${t.occurrences ? `, ${plural(t.occurrences, "occurrence")}` : ""}${t.source ? ` from ${t.source}` : ""}): ${ctx.topic}.`
    : `A repeatable procedure for: ${ctx.topic}.${ctx.context ? ` Requester's notes: ${clip(ctx.context.replace(/\s+/g, " "), 600)}` : ""}`;

  const written = [
    t ? `ticket #${t.id}` : undefined,
    ctx.events.length ? plural(ctx.events.length, "event") : undefined,
    tasks.length ? plural(tasks.length, "task") : undefined,
  ].filter(Boolean).join(", ");
  const scope = `Audience: ${audience}.${sources.length ? ` Systems: ${sources.join(", ")}.` : ""}${taskTypes.length ? ` Task types: ${taskTypes.join(", ")}.` : ""} ` +
    (written ? `Written from ${written} recorded by the Orchestrator.` : "Written from the request alone: adapt the steps to the system at hand.");

  const roles = [
    { role: capitalise(audience), responsibilities: "Runs this procedure from start to end and records what was done." },
    ...(t ? [{ role: "Ticket owner", responsibilities: `Keeps ticket #${t.id} up to date and resolves it once verification passes.` }] : []),
    ...sources.slice(0, 3).map((s) => ({ role: `${capitalise(s)} owner`, responsibilities: `Confirms ${s} behaves normally afterwards and approves risky changes.` })),
  ];

  const prerequisites = [
    "The Orchestrator service key, to call /tasks, /logs and /sops.",
    ...(groups.length ? [`Read access to the ${sources.join(" and ")} events (GET /events) and logs.`] : []),
    ...(tasks.length ? ["Permission to retry and cancel tasks (POST /tasks/:id/retry, POST /tasks/:id/cancel)."] : []),
    ...(t ? [`Ticket #${t.id} assigned to you.`] : []),
  ];

  const steps: SopStep[] = [];
  if (t) {
    steps.push({
      action: `Take ticket #${t.id} ${quote(t.title, 160)}${t.status ? ` (now ${t.status})` : ""} and set it to in_progress.`,
      expected_result: `The ticket shows in_progress with you as owner, so nobody else starts the same work.`,
    });
  }
  for (const g of groups.slice(0, MAX_EVENT_GROUPS)) steps.push(eventStep(g));
  if (groups.length > MAX_EVENT_GROUPS) {
    steps.push({
      action: `Review the other ${plural(groups.length - MAX_EVENT_GROUPS, "kind")} of event (GET /events) for anything not covered above.`,
      expected_result: "No further distinct problem is found, or it is added to the ticket.",
    });
  }
  for (const task of tasks.slice(0, MAX_TASK_STEPS)) steps.push(...taskSteps(task));
  steps.push(...contextSteps(ctx.context));
  if (steps.length === (t ? 1 : 0)) steps.push(...GENERIC_STEPS);
  steps.push(t
    ? { action: `Write down the cause and the fix in ticket #${t.id}, then set it to resolved.`, expected_result: `Ticket #${t.id} is resolved; a recurrence of the same fingerprint would reopen it.` }
    : { action: `Record what was done, when, and by whom, where the team keeps its change log.`, expected_result: `Anyone can tell from the record that ${ctx.topic} was handled and how.` });

  const verification = [
    ...groups.slice(0, 3).map((g) => `No new ${g.type} events from ${g.source} with the message ${quote(g.message, 120)} for 30 minutes.`),
    ...taskTypes.slice(0, 3).map((type) => `GET /tasks?type=${type}&status=dead shows no new dead ${type} tasks.`),
    ...(t ? [`Ticket #${t.id} stays resolved.`] : []),
  ];
  if (verification.length === 0) verification.push(`The outcome asked for (${ctx.topic}) is confirmed by the requester.`, "GET /logs?level=error shows no new errors related to the change.");

  const rollback = [
    "Undo the last change made during this procedure (deploy, configuration or data fix) and confirm the previous behaviour is back.",
    ...(tasks.length ? ["Cancel any task queued by mistake with POST /tasks/:id/cancel."] : []),
    ...(t ? [`Set ticket #${t.id} back to open, note what was tried, and escalate to the ${sources[0] ?? "app"} owner.`] : ["Tell the requester the procedure was rolled back and why."]),
  ];

  const references = [
    ...(t ? [`Ticket #${t.id}: ${t.title}`] : []),
    ...(ctx.events.length ? [`Events ${[...ctx.events].sort((a, b) => a.id - b.id).slice(0, 20).map((e) => `#${e.id}`).join(", ")}${ctx.events.length > 20 ? ` and ${ctx.events.length - 20} more` : ""}`] : []),
    ...tasks.slice(0, 20).map((x) => `Task #${x.id} (${x.type}, ${x.status}): GET /tasks/${x.id}, logs GET /logs?task_id=${x.id}`),
    "Written by the Orchestrator's template generator from recorded data; review it before relying on it.",
  ];

  return sopContentSchema.parse({
    title: clip(capitalise(ctx.topic.trim()), 200),
    purpose: clip(purpose, 4000),
    scope: clip(scope, 4000),
    roles: roles.slice(0, 20),
    prerequisites: prerequisites.slice(0, 30),
    steps: steps.slice(0, 60).map((s) => ({ ...s, action: clip(s.action, 2000), ...(s.warning ? { warning: clip(s.warning, 1000) } : {}) })),
    verification: verification.slice(0, 30),
    rollback,
    references: references.map((r) => clip(r, 1000)).slice(0, 50),
  });
}
