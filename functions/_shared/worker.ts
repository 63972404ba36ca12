// The task worker: claims batches and runs their handlers until the queue is
// drained or the time budget is spent. Many invocations at once are safe: each
// claim takes distinct rows (SKIP LOCKED) and only a lease holder can finish a task.
//
// A run is in one of five modes (worker-modes.ts, which holds the table of moves and a diagram):
//   claiming     claims, runs and records as a stream (below);
//   waiting      nothing claimable: waits for a notification, a task due soon, or lingers;
//   draining     claims no more (a stop: budget, max_tasks, a limit, beforeunload, an error, or the
//                queue drained): what runs finishes and is recorded, unstarted tasks go back;
//   handing_off  a limit or beforeunload stopped it: the rest goes to another worker;
//   done.
// What the runs of one isolate share (the LISTEN, the lingerer, the one suspect, what the isolate has
// done once already) is in worker-isolate.ts.
//
// It streams, so the database round trips are per batch and overlap the work:
//   claim    a batch lands in a local queue; the next claim is sent while the
//            current batch still runs (only when little work is left locally);
//   run      up to `concurrency` handlers at once, each with its timeout;
//   record   finished outcomes are written in one complete_many (and one fail_many)
//            per group, while handlers keep running and the next claim is in flight.
// The claim size adapts to how long handlers take: fast tasks are claimed by the
// hundred, slow ones only as slots free up, so a worker never hoards slow tasks that
// another invocation could run. A task that waited locally long enough for its lease
// to run short gets its lease renewed before it starts; claimed tasks never started
// when the budget ends go back to the queue uncounted.
//
// A background run whose queue drains lingers (WORKER_LINGER_MS, one worker per
// isolate) on the orchestrator_task_ready NOTIFY that inserts send, and claims new
// work the moment it commits; a webhook that arrives meanwhile hands its wake-up to
// the lingering worker instead of claiming on its own. The webhook stays the
// guarantee: lingering only shortens the path while an isolate is warm.
//
// It lives inside the platform's limits (isolate-life.ts): it stops claiming once the
// isolate's CPU time reaches WORKER_CPU_BUDGET_MS, never starts a handler whose timeout
// would outlive the isolate's wall clock (WORKER_WALL_CLOCK_MS), and on `beforeunload`
// gives back at once what it has not started. Unstarted tasks go back to `queued`
// (release_tasks, attempt not counted); running ones keep their lease and finish. Then
// it hands the rest on (orchestrator.hand_off: a NOTIFY when another isolate's worker
// listens, else a wake-up).
//
// A successor is warm before that (20261202000500_successor_handoff.sql): once the isolate's
// CPU passes the platform's soft limit (WORKER_CPU_RETIRE_MS), the platform has retired it and
// sends new requests to a fresh isolate, so a lingering worker wakes one then
// (orchestrator.wake_successor) and works on. Past its CPU budget it works on still (at most
// successorOvertimeMs more) until the successor announces itself (orchestrator_worker_present),
// and only then stops: no insert waits for a cold start, and none sends a wake-up in between.
//
// A task that was running when an isolate was terminated (tasks.suspect, see
// 20261202000300_isolate_terminations.sql) is a suspect: an isolate runs at most one
// suspect at a time (one claim at a time may take one), beside ordinary tasks. If the
// isolate is terminated again, the runtime's report blames that one suspect, and the
// tasks beside it are spared. The queue keeps moving meanwhile.
import { canListen } from "./db.ts";
import { PermanentTaskError } from "./errors.ts";
import { settings } from "./env.ts";
import { isolateId, isolateLife, type IsolateLife, onBeforeUnload, wallLeftMs } from "./isolate-life.ts";
import { startDeadline } from "./handler-deadlines.ts";
import { flushLogs, type Logger, logEnabled } from "./logger.ts";
import {
  claimTasks, completeTasks, extendLeases, failTasks, handOff, reapExpiredLeases, releaseTasks, secondsUntilNextTask, wakeSuccessor,
} from "./queue.ts";
import type { ClaimedTask, TaskList } from "./task-types.ts";
import {
  DUE_CHECK_EVERY_MS, handedOffFrom, isolateWork, letGoSuspect, listenForReady, notifyReady, readyPokes, REAP_EVERY_MS, runningHandlers, saidSpent,
  successors, TaskCancelledError, waitForReady,
} from "./worker-isolate.ts";
import { type ModeChange, WorkerModes } from "./worker-modes.ts";
import { beginPresence, finishPresence } from "./worker-presence.ts";
import { runInTrace, traceOf } from "./trace.ts";

/** A task's log fields: its id and the trace it runs under (kept on the task row). */
const taskFields = (task: ClaimedTask) => ({ taskId: task.id, traceId: task.trace_id ?? undefined });

export interface WorkerOptions {
  workerId: string;
  /** The task types this worker runs, with their handlers (functions/task-worker/task-list.ts; tests pass their own). */
  taskList: TaskList;
  log: Logger;
  budgetMs?: number;
  batchSize?: number;
  concurrency?: number;
  maxTasks?: number;
  types?: string[];
  /** How long a lease outlives the handler's timeout (default 15 s); tests shrink it. */
  leaseMarginSeconds?: number;
  /**
   * Once the queue is drained, stay this long for new tasks (orchestrator_task_ready NOTIFY) before
   * returning. Background runs (webhook, cron) use WORKER_LINGER_MS; a caller waiting for the answer gets 0.
   */
  lingerMs?: number;
  /** The isolate's clocks and limits; default: this isolate's own. Tests pass lifeFromNow({...}). */
  life?: IsolateLife;
  /**
   * Hands what this run leaves behind to another worker; resolves whether it did. Default:
   * orchestrator.hand_off (when a task of these types is runnable: a NOTIFY to another isolate's
   * listening worker, else a wake-up).
   */
  handOff?: (types: string[]) => Promise<HandedTo | boolean>;
  /** Why this run was started (the wake-up's reason): a successor's wake-up that came back here is sent again later. */
  reason?: string;
  /** Told of each move between the run's modes (worker-modes.ts); tests follow a run with it. */
  onMode?: (change: ModeChange) => void;
}

/**
 * Why a run ended: the queue drained, its time budget or max_tasks ran out, the isolate's CPU budget
 * or wall clock ran short, the runtime sent `beforeunload`, or the database failed.
 */
export type StopReason = "drained" | "budget" | "max_tasks" | "cpu" | "wall_clock" | "unload" | "error";

/** Where a stopping run's leftovers went: a fresh worker woken, the listening worker of another isolate notified, or nowhere (nothing left). */
export type HandedTo = "woken" | "notified" | "none";

export interface WorkerStats {
  claimed: number;
  succeeded: number;
  failed: number;
  retried: number;
  dead: number;
  /** Finished by this worker after its lease was lost: the outcome was discarded. */
  stale: number;
  /** Leases renewed for tasks that waited in the worker before they started. */
  renewed: number;
  /** Claimed but never started (the budget ran out): handed back to the queue, attempt not counted. */
  released: number;
  reaped: number;
  duration_ms: number;
  stopped: StopReason;
  /** The work left was handed to another worker, woken or notified (a CPU, wall-clock or unload stop). */
  handed_off: boolean;
  /** CPU time this run used (measured, or estimated where the runtime does not measure it). */
  cpu_ms: number;
  /** The isolate's CPU time when the run ended. */
  isolate_cpu_ms: number;
  /** Suspects this run ran (suspect: they had been in a terminated isolate), one at a time per isolate. */
  suspects_run: number;
}

type Outcome =
  /** `resultJson`: what the handler returned, as the JSON text complete_many stores (storableResult). */
  | { task: ClaimedTask; ok: true; resultJson: string; ms: number }
  | { task: ClaimedTask; ok: false; error: string; retryable: boolean; ms: number };

export class TaskTimeoutError extends Error {
  constructor(ms: number) {
    super(`handler timed out after ${ms} ms`);
    this.name = "TaskTimeoutError";
  }
}

/** A lease outlives the handler's timeout by this much, so a live worker always finishes before it expires. */
const LEASE_MARGIN_S = 15;

/** A task may start only with at least its timeout plus this much lease left; otherwise the lease is renewed first. */
const START_LEASE_SAFETY_MS = 5_000;
/** The safety margin, at most a third of the lease margin (tests shrink the lease margin). */
const startSafetyMs = (marginS: number) => Math.min(START_LEASE_SAFETY_MS, (marginS * 1000) / 3);
/** How much work (per slot) a worker claims ahead: fast tasks come in big batches, slow ones one per free slot. */
const PREFETCH_WINDOW_MS = 50;
/**
 * A run that starts in an isolate already past its CPU budget (the platform has not retired it: its
 * count is below ours, which includes more) may still spend this much, then hands off again: each such
 * run brings the isolate nearer its retirement, so a hand-off soon reaches a fresh one.
 */
const CPU_RESERVE_MS = 200;
/** No run starts past this multiple of the CPU budget: at 1,200 ms that is 1,800, under the 2,000 ms hard limit. */
const CPU_CEILING = 1.5;
/** How many a claim on a notification asks for while the local line is full: the heads of a few groups. */
const NEWS_CLAIM_SIZE = 4;

/**
 * Orders the local line of claimed tasks round-robin across their groups (tasks.group_key), as the
 * claim does: each group's tasks keep their order. One group (the usual case) leaves it as it is.
 */
export function fairLine(line: ClaimedTask[]): void {
  if (line.length < 2 || line.every((t) => t.group_key === line[0].group_key)) return;
  const groups = new Map<string, ClaimedTask[]>();
  for (const t of line) {
    const g = groups.get(t.group_key);
    if (g) g.push(t);
    else groups.set(t.group_key, [t]);
  }
  const queues = [...groups.values()];
  const total = line.length;
  line.length = 0;
  for (let i = 0; line.length < total; i++) {
    for (const q of queues) if (i < q.length) line.push(q[i]);
  }
}

/** A finished outcome waits at most this long for others to share its completion round trip. */
const RECORD_HOLD_MS = 20;

/**
 * A handler's result as the JSON text to store, or an error when it cannot be stored. The text itself goes
 * to complete_many (no parse here and no second stringify there).
 */
function storableResult(value: unknown): string {
  if (value === undefined) return "null";
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    // Cycles, BigInt, throwing toJSON: the same value will fail again, so retrying cannot help.
    throw new PermanentTaskError(`handler returned a value that cannot be stored as JSON: ${(err as Error).message}`);
  }
  if (text === undefined) throw new PermanentTaskError("handler returned a value that is not JSON");
  if (text.length > 1_000_000) throw new PermanentTaskError(`handler result is ${text.length} bytes; the limit is 1 MB`);
  // jsonb cannot hold U+0000 ("unsupported Unicode escape sequence"): stored, one such result failed the
  // completion of every task in its group. (An escaped backslash before "u0000" is ordinary text.)
  if (text.includes("\\u0000") && /(?:^|[^\\])(?:\\\\)*\\u0000/.test(text)) {
    throw new PermanentTaskError("handler returned a value with a NUL character (U+0000), which cannot be stored as JSON in PostgreSQL");
  }
  return text;
}

const elapsedMs = (since: number) => Math.round((performance.now() - since) * 100) / 100;

async function runHandler(task: ClaimedTask, taskList: TaskList, log: Logger): Promise<Outcome> {
  const started = performance.now();
  const def = Object.hasOwn(taskList, task.type) ? taskList[task.type] : undefined;
  if (!def) {
    return { task, ok: false, retryable: false, error: `no handler registered for task type "${task.type}"`, ms: 0 };
  }
  const parsed = def.payload.safeParse(task.payload);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; ");
    return { task, ok: false, retryable: false, error: `payload does not match the "${task.type}" schema: ${issues}`, ms: 0 };
  }
  // The handler runs under the task's trace: its logs, its transactions (db.ts) and its outbound calls
  // (Notion, AI, webhooks) carry it, and the tasks it enqueues join it.
  const trace = traceOf(task.trace_id);
  // Its timeout (handler-deadlines.ts) or an event's cancel_on (worker-isolate.ts hears
  // orchestrator_task_cancelled) stops it: the run ends with that error and the signal is aborted.
  // The signal and the task's logger are made when the handler first asks for them: most noop-like
  // handlers use neither, and an AbortController per task was a measurable share of its CPU.
  let stoppedBy: Error | undefined;
  let controller: AbortController | undefined;
  let endRun!: (reason: Error) => void;
  const stop = (reason: Error) => {
    if (stoppedBy) return;
    stoppedBy = reason;
    controller?.abort(reason);
    endRun(reason);
  };
  let taskLog: Logger | undefined;
  const ctx = {
    task,
    get log() {
      return taskLog ??= log.child({ taskId: task.id, traceId: trace.traceId });
    },
    get signal() {
      if (!controller) {
        controller = new AbortController();
        if (stoppedBy) controller.abort(stoppedBy);
      }
      return controller.signal;
    },
  };
  runningHandlers.set(task.id, { stop });
  const endDeadline = startDeadline(def.timeoutMs, () => stop(new TaskTimeoutError(def.timeoutMs)));
  try {
    const value = await new Promise<unknown>((resolve, reject) => {
      endRun = reject;
      Promise.resolve(runInTrace(trace, () => def.handle(parsed.data, ctx))).then(resolve, reject);
    });
    return { task, ok: true, resultJson: storableResult(value), ms: elapsedMs(started) };
  } catch (err) {
    if (err instanceof TaskCancelledError) ctx.log.info(`handler aborted: ${err.message}`);
    // A NUL cannot be stored in text: in one task's error it failed the recording of every failure in its group.
    const error = (err instanceof Error ? `${err.name}: ${err.message}` : `non-error thrown: ${String(err)}`).replaceAll("\0", "\uFFFD");
    return { task, ok: false, error, retryable: !(err instanceof PermanentTaskError), ms: elapsedMs(started) };
  } finally {
    endDeadline();
    runningHandlers.delete(task.id);
  }
}

/** Connection-level failures (Postgres restarting, network) are worth retrying; data errors are not. */
function transient(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? "";
  if (/^(08|53|57)/.test(code)) return true; // connection exception, insufficient resources, operator intervention
  return /^(ECONN|EPIPE|ETIMEDOUT|CONNECTION_|CONNECT_TIMEOUT)/.test(code) || /connection|terminat|ECONNRESET/i.test(String((err as Error)?.message));
}

/** Retries a write of outcomes through a short database outage (~15 s), so finished work is not run again. */
async function persist<T>(what: string, fn: () => Promise<T>, log: Logger): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 8 || !transient(err)) throw err;
      const wait = Math.min(200 * 2 ** (attempt - 1), 4_000);
      log.warn(`${what} failed (${(err as Error).message}); retrying in ${wait} ms`, { attempt });
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** Hands the rest to another worker through the queue contract, only when a task of these types is runnable now. */
function handOffToAnother(types: string[]): Promise<HandedTo> {
  return handOff(isolateId(), types, "handoff");
}

// --- the successor: woken once the platform has retired this isolate -------------------
/**
 * How far past the soft limit, by our count, a successor is woken: the local gateway reads CPU every
 * 25 ms, so by then it has usually retired the isolate and the wake-up boots a fresh one. (A local user
 * worker counts its whole process, so its count runs ahead of the gateway's; a wake-up that comes back
 * to this isolate is sent again this much later.)
 */
const SUCCESSOR_MARGIN_MS = 50;
/**
 * How much CPU past its budget a run may spend waiting for its successor to listen: 300 ms, or 1.5x the
 * gap between soft limit and budget when that is smaller (short test limits). Far from the hard limit
 * still (1,200 + 300 of 2,000 ms; the gateway puts the budget a fifth of the way from soft to hard);
 * with it, the successor's boot (a few hundred ms of wall clock) overlaps the old worker's last claims.
 */
const successorOvertimeMs = (life: IsolateLife) => Math.min(300, Math.max(0, life.cpuBudgetMs - life.cpuRetireMs) * 1.5);
export async function runWorker(opts: WorkerOptions): Promise<WorkerStats> {
  const started = Date.now();
  const life = opts.life ?? isolateLife();
  const cpuAtStart = life.cpuUsedMs();
  // The isolate's end, less the headroom: a handler may start only if its timeout ends before it.
  const lifeEnd = started + wallLeftMs(life);
  const budgetMs = opts.budgetMs ?? settings.workerBudgetMs;
  const deadline = Math.min(started + budgetMs, lifeEnd);
  const batchSize = Math.min(1000, Math.max(1, opts.batchSize ?? settings.workerBatchSize));
  const concurrency = Math.max(1, opts.concurrency ?? settings.workerConcurrency);
  const maxTasks = opts.maxTasks ?? Infinity;
  const lingerMs = canListen() ? Math.max(0, opts.lingerMs ?? 0) : 0;
  const taskList = opts.taskList;
  const known = Object.keys(taskList);
  const taskType = (name: string) => taskList[name];
  const types = opts.types ? opts.types.filter((t) => known.includes(t)) : known;
  const marginS = opts.leaseMarginSeconds ?? LEASE_MARGIN_S;
  const safetyMs = startSafetyMs(marginS);
  const typeLeases = Object.fromEntries(types.map((t) => [t, Math.ceil(taskType(t)!.timeoutMs / 1000) + marginS]));
  const leaseSeconds = Math.max(...Object.values(typeLeases), 1);
  const log = opts.log.child({ component: "task-worker" });
  const stats: WorkerStats = {
    claimed: 0, succeeded: 0, failed: 0, retried: 0, dead: 0, stale: 0, renewed: 0, released: 0, reaped: 0, duration_ms: 0,
    stopped: "drained", handed_off: false, cpu_ms: 0, isolate_cpu_ms: Math.round(cpuAtStart * 100) / 100, suspects_run: 0,
  };
  if (types.length === 0) return stats;
  const fits = (type: string) => Date.now() + taskType(type)!.timeoutMs <= lifeEnd;
  // Claims stop at the CPU budget; past it, a run still has a small reserve (see CPU_RESERVE_MS).
  const cpuStopAt = cpuAtStart < life.cpuBudgetMs ? life.cpuBudgetMs : cpuAtStart + CPU_RESERVE_MS;
  // Started in an isolate far past a limit (the platform should have retired it): nothing to do here,
  // and a hand-off would come straight back. The sweep wakes a fresh isolate.
  const spentAtStart: StopReason | undefined = cpuStopAt > life.cpuBudgetMs * CPU_CEILING
    ? "cpu"
    : !types.some(fits) ? "wall_clock" : undefined;
  // Our own successor's wake-up, come back: the platform had not retired this isolate yet. Wake it again later.
  const successor = successors.get(life);
  if (opts.reason === "successor" && successor && successor.againAt === undefined) {
    successor.againAt = life.cpuUsedMs() + SUCCESSOR_MARGIN_MS;
  }
  if (spentAtStart) {
    stats.stopped = spentAtStart;
    if (saidSpent.has(life)) return stats;
    saidSpent.add(life);
    log.warn(`worker ${opts.workerId} did not claim: this isolate is past its ${spentAtStart === "cpu" ? "CPU budget" : "wall clock"}`, {
      isolate_cpu_ms: Math.round(cpuAtStart), cpu_budget_ms: life.cpuBudgetMs, isolate_age_ms: Math.round(life.ageMs()), wall_clock_ms: life.wallClockMs,
    });
    await flushLogs();
    return stats;
  }
  // A background wake-up while this isolate has a lingerer that still claims (waiting or busy): it
  // takes the work, as it would a notification, and this run ends here without a query. A burst of
  // wake-ups (inserts while a fresh isolate boots) then costs requests, not competing claims.
  if (lingerMs > 0 && !opts.types && isolateWork.lingerer !== undefined && isolateWork.lingererGeneral && isolateWork.lingerer !== opts.workerId) {
    notifyReady();
    log.debug(`worker ${opts.workerId} handed its wake-up to the lingering worker ${isolateWork.lingerer}`);
    return stats;
  }

  const modes = new WorkerModes(opts.onMode);
  const pending: ClaimedTask[] = []; // claimed, not started
  const finished: { outcome: Outcome; at: number }[] = []; // ran, outcome not written yet
  let running = 0;
  let claiming: Promise<void> | undefined;
  let extending: Promise<void> | undefined;
  let recording: Promise<void> = Promise.resolve();
  let lastClaimEmpty = false;
  let lingerUntil: number | undefined; // when this run's current linger ends (set as it starts lingering)
  let stopClaiming = false;
  /** Set when a limit or beforeunload ends the run: claimed tasks not yet started are given back, none start. */
  let halted: StopReason | undefined;
  let failure: unknown;
  let avgMs: number | undefined; // moving average of handler duration
  let wake: () => void = () => {};
  const poke = () => wake();
  /** This run holds its isolate's suspect (claimed or running). */
  let holdingSuspect = false;

  // Unstarted tasks back to the queue, attempt not counted (budget spent, a limit, beforeunload, a claim error).
  const releasings: Promise<void>[] = [];
  const releasePending = () => {
    if (pending.length === 0) return;
    const back = pending.splice(0, pending.length);
    releasings.push(
      persist("releasing unstarted tasks", () => releaseTasks(back.map((t) => ({ id: t.id, token: t.lease_token! }))), log)
        .then((released) => {
          stats.claimed -= released.length;
          stats.released += released.length;
        }, () => {}), // their leases expire and reap() requeues them
    );
  };
  // Once the unstarted tasks are back: a fresh invocation (a fresh isolate, once this one has retired) takes the rest.
  let handing: Promise<void> | undefined;
  const handOffRest = () => handing ??= (async () => {
    await Promise.all(releasings);
    const first = !handedOffFrom.has(life);
    handedOffFrom.add(life);
    const to: HandedTo = !first ? "none" : await (opts.handOff ?? handOffToAnother)(types).then(
      (how) => (how === true ? "woken" : how === false ? "none" : how),
      (err) => {
        log.error(`could not hand the rest to a fresh worker (the sweep will): ${(err as Error).message}`);
        return "none" as const;
      },
    );
    if (first && to === "none") handedOffFrom.delete(life); // nothing was left (or it failed): a later stop may need to hand off
    stats.handed_off = to !== "none";
    const why = { cpu: "its CPU budget is spent", wall_clock: "the isolate's wall clock runs short", unload: "the runtime sent beforeunload" }[halted as "cpu"];
    const next = to === "woken" ? ", a fresh worker woken" : to === "notified" ? ", the rest handed to the listening worker of another isolate"
      : first ? "" : ", a fresh worker already woken from this isolate";
    log.info(`worker ${opts.workerId} stopped: ${why}; ${stats.released} unstarted tasks back to the queue${next}`, {
      isolate_cpu_ms: Math.round(life.cpuUsedMs()), cpu_budget_ms: life.cpuBudgetMs, isolate_age_ms: Math.round(life.ageMs()), wall_clock_ms: life.wallClockMs,
      released: stats.released, running,
    });
    await flushLogs();
  })();
  const halt = (reason: StopReason) => {
    if (halted) return;
    halted = reason;
    stopClaiming = true;
    // At once on beforeunload: the isolate is about to go, and its running handlers may never finish.
    if (reason === "unload") {
      releasePending();
      void handOffRest();
    }
    poke();
  };

  // Reaping runs beside the first claim (and again when a lingering worker wakes, at most every
  // 10 s). Its rejection is handled here and now: an unhandled rejection (say, the database
  // restarting) would end the whole isolate.
  const reapings: Promise<void>[] = [];
  const reap = () => {
    isolateWork.lastReapAt = Date.now();
    reapings.push(reapExpiredLeases().then(
      (n) => {
        stats.reaped += n;
        if (n > 0) log.warn(`reaped ${n} tasks whose lease expired`, { reaped: n });
      },
      (err) => log.warn(`could not reap expired leases: ${(err as Error).message}`),
    ));
  };
  reap();

  // A general background run in an isolate with no lingerer takes the role now, not once drained: its
  // presence stops the wake-ups of inserts from the start (a fresh isolate after a hand-off included).
  const general = lingerMs > 0 && !opts.types;
  /** Becomes the isolate's lingerer; a general one (every type) announces itself, so inserts need not wake anyone. */
  const takeLingererRole = async () => {
    isolateWork.lingerer = opts.workerId;
    isolateWork.lingererGeneral = general;
    if (!general) return;
    // Listening from the start, not once drained: notifications reach it while it works.
    listenForReady().catch(() => {}); // waitForReady retries and reports

    await beginPresence(isolateId(), opts.workerId, log).catch((err) =>
      log.warn(`could not announce this worker (inserts keep sending wake-ups): ${(err as Error).message}`));
  };
  if (general && isolateWork.lingerer === undefined) await takeLingererRole();

  /** Past the soft limit, the isolate has retired: a general run wakes its successor, once per isolate. */
  const wakeSuccessorIfRetired = () => {
    const woken = successors.get(life);
    const due = !woken ? life.cpuRetireMs + SUCCESSOR_MARGIN_MS : woken.againAt ?? Infinity;
    if (life.cpuUsedMs() < due) return;
    if (woken) woken.againAt = undefined;
    else successors.set(life, { wokeAt: performance.now() });
    void wakeSuccessor(isolateId()).then(
      (woken) => log.debug(woken ? "isolate retired: woke its successor" : "isolate retired: another isolate's worker listens already"),
      (err) => log.warn(`could not wake this retired isolate's successor (the hand-off at the CPU budget will): ${(err as Error).message}`),
    );
  };

  const claimSize = () => {
    const room = Math.min(batchSize, maxTasks - stats.claimed);
    if (avgMs === undefined) return Math.max(1, Math.min(room, concurrency));
    const ahead = Math.floor((concurrency * PREFETCH_WINDOW_MS) / Math.max(avgMs, 0.01));
    const free = Math.max(0, concurrency - running - pending.length);
    return Math.max(1, Math.min(room, free + ahead));
  };

  let readySeen = isolateWork.readyCount; // notifications this worker has already acted on
  let dueCheckedAt = 0; // when secondsUntilNextTask last answered
  let dueAt = Infinity; // when the next queued task of our types becomes runnable (as of dueCheckedAt)
  /** `size`: a claim on a notification while the local line is full asks for a few only (see below). */
  // A news claim is one small extra claim per refill of the line (see below): a steady stream of inserts
  // must not grow the line past its prefetch window, where tasks would wait, and be released at a halt.
  let newsClaimed = false;
  const claim = (size = claimSize(), news = false) => {
    newsClaimed = news;
    lastClaimEmpty = false;
    readySeen = isolateWork.readyCount;
    // Only types whose timeout still fits in the isolate's life: the others stay queued for a fresh isolate.
    const fitting = types.filter(fits);
    if (fitting.length === 0) return halt("wall_clock");
    // No suspect in the isolate: this claim may take one (the others' claims meanwhile may not).
    // Not in a news claim: its tasks go to the front of the line, a suspect belongs at the end of a batch.
    const takeSuspect = !news && isolateWork.suspectHolder === undefined;
    if (takeSuspect) isolateWork.suspectHolder = opts.workerId;
    claiming = claimTasks(opts.workerId, size, leaseSeconds, fitting, typeLeases, takeSuspect)
      .then((batch) => {
        // Only a claim that could take one changes whether this run holds a suspect (later claims, which
        // could not, must not forget the one it holds).
        if (takeSuspect) {
          holdingSuspect = batch.some((t) => t.suspect);
          if (!holdingSuspect) letGoSuspect(opts.workerId);
        }
        stats.claimed += batch.length;
        pending.push(...batch);
        fairLine(pending);
        if (halted === "unload") releasePending(); // a claim that was in flight when beforeunload came
        // Fewer than asked: the queue has run dry (rows other workers hold are not queued any more),
        // so the next claim waits for the next wake-up or notification instead of asking again.
        lastClaimEmpty = batch.length < size;
        if (batch.length > 0) lingerUntil = undefined; // work came: a later linger starts afresh
      })
      .catch((err) => {
        // Claims stop; what is running finishes and is recorded.
        if (takeSuspect) letGoSuspect(opts.workerId);
        stopClaiming = true;
        failure ??= err;
      })
      .finally(() => {
        claiming = undefined;
        poke();
      });
  };

  /** Renews the leases of every waiting task whose lease runs short; tasks whose lease is gone are dropped. */
  const renewLeases = () => {
    const now = Date.now();
    const short = pending.filter((t) => leaseLeftMs(t, now) < taskType(t.type)!.timeoutMs + safetyMs);
    extending = persist("renewing leases", () => extendLeases(short.map((t) => ({ id: t.id, token: t.lease_token! })), leaseSeconds, typeLeases), log)
      .then((renewed) => {
        for (const t of short) {
          const until = renewed.get(t.id);
          if (until) {
            t.locked_until = until;
            stats.renewed++;
            continue;
          }
          const at = pending.indexOf(t);
          if (at < 0) continue; // given back meanwhile (beforeunload)
          pending.splice(at, 1);
          stats.stale++;
          log.child(taskFields(t)).warn(`task ${t.type} lost its lease before it started; not run`, { attempt: t.attempts });
        }
      })
      .catch((err) => {
        stopClaiming = true;
        failure ??= err;
        pending.length = 0; // their leases expire and reap() requeues them
      })
      .finally(() => {
        extending = undefined;
        poke();
      });
  };

  const start = (task: ClaimedTask) => {
    running++;
    if (task.suspect) {
      stats.suspects_run++;
      log.child(taskFields(task)).info(`task ${task.type} runs as this isolate's one suspect: it was running in one that was terminated`, {
        attempt: task.attempts, last_error: task.last_error,
      });
    }
    void runHandler(task, taskList, log).then((outcome) => {
      running--;
      if (task.suspect && holdingSuspect) {
        holdingSuspect = false;
        letGoSuspect(opts.workerId);
        lastClaimEmpty = false; // the claim that took it left other suspects queued: ask again
      }
      avgMs = avgMs === undefined ? outcome.ms : avgMs * 0.8 + outcome.ms * 0.2;
      finished.push({ outcome, at: Date.now() });
      poke();
    });
  };

  let holdTimer: ReturnType<typeof setTimeout> | undefined; // wakes the loop when the oldest held outcome is due
  const record = () => {
    clearTimeout(holdTimer);
    holdTimer = undefined;
    const group = finished.splice(0, finished.length).map((f) => f.outcome);
    recording = recording.then(() => recordOutcomes(group)).catch((err) => {
      failure ??= err;
      stopClaiming = true;
    });
    recording.then(poke);
  };

  const recordOutcomes = async (group: Outcome[]) => {
    const ok = group.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
    const bad = group.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
    const [completed, failed] = await Promise.all([
      persist("recording successes", () => completeTasks(ok.map((o) => ({ id: o.task.id, token: o.task.lease_token!, resultJson: o.resultJson }))), log),
      persist("recording failures", () => failTasks(bad.map((o) => ({ id: o.task.id, token: o.task.lease_token!, error: o.error, retryable: o.retryable }))), log),
    ]);
    // Debug, not info: a success is its task row (status, result, started_at, finished_at). A stored row
    // per success cost 40% of the throughput under the Edge limits (npm run bench: 8,000 vs 12,700 tasks/s).
    // Asked once per group: a child logger and a level check per success were CPU for nothing.
    const logSuccesses = logEnabled("debug");
    for (const o of ok) {
      if (completed.has(o.task.id)) {
        stats.succeeded++;
        if (logSuccesses) log.child(taskFields(o.task)).debug(`task ${o.task.type} succeeded`, { attempt: o.task.attempts, duration_ms: o.ms });
      } else {
        stats.stale++;
        log.child(taskFields(o.task)).warn(`task ${o.task.type} finished after losing its lease; result discarded`, { attempt: o.task.attempts });
      }
    }
    for (const o of bad) {
      const status = failed.get(o.task.id) ?? "stale";
      const taskLog = log.child(taskFields(o.task));
      const ctx = { attempt: o.task.attempts, max_attempts: o.task.max_attempts, error: o.error, duration_ms: o.ms };
      if (status === "stale") {
        stats.stale++;
        taskLog.warn(`task ${o.task.type} failed after losing its lease; outcome discarded`, ctx);
        continue;
      }
      stats.failed++;
      if (status === "queued") {
        stats.retried++;
        dueCheckedAt = 0; // a retry is now scheduled: ask when it is due
        taskLog.warn(`task ${o.task.type} failed; retry scheduled`, ctx);
      } else {
        stats.dead++;
        taskLog.error(`task ${o.task.type} failed for good${o.retryable ? " (attempts exhausted)" : ""}`, ctx);
      }
    }
    // One INSERT for the group's log rows, off the critical path (the logger serializes its flushes).
    void flushLogs();
  };

  const stopListening = onBeforeUnload(() => halt("unload"));
  readyPokes.add(poke);
  life.sample(true);

  try {
    for (;;) {
      const changed = new Promise<void>((r) => (wake = r));
      // Past the budget, a general run whose isolate has retired works on until its successor listens.
      const retired = successors.get(life)?.wokeAt;
      const stopAt = general && retired !== undefined && retired > isolateWork.otherPresenceAt ? cpuStopAt + successorOvertimeMs(life) : cpuStopAt;
      if (!halted && life.cpuUsedMs() >= stopAt) halt("cpu");
      if (general && !halted) wakeSuccessorIfRetired();
      const inBudget = Date.now() < deadline && !halted;
      const mayClaim = !stopClaiming && inBudget && stats.claimed < maxTasks;
      if (!mayClaim && !modes.is("draining")) {
        const why = halted ?? (failure !== undefined ? "error" : stats.claimed >= maxTasks ? "max_tasks" : "budget");
        modes.move("draining", why);
        // A run that will claim no more gives up the lingerer's role at once: wake-ups must not be handed to it.
        if (isolateWork.lingerer === opts.workerId) isolateWork.lingerer = undefined;
      }

      // Start waiting tasks; renew short leases first (rare: only after a long wait in the local queue).
      // Past the budget nothing new starts: waiting tasks go back to the queue below.
      if (inBudget && !extending && pending.length > 0 && running < concurrency) {
        // Every task was claimed with the same headroom (lease - timeout), so the oldest claim, first in line, has the least.
        const head = pending[0];
        if (leaseLeftMs(head, Date.now()) < taskType(head.type)!.timeoutMs + safetyMs) renewLeases();
        else {
          // A synchronous handler spends its CPU inside start(): the budget is checked before each one.
          let cpuOk = true;
          while (running < concurrency && pending.length > 0 && fits(pending[0].type) && (cpuOk = life.cpuUsedMs() < stopAt)) {
            start(pending.shift()!);
          }
          if (!cpuOk) halt("cpu");
          else if (running < concurrency && pending.length > 0) halt("wall_clock"); // the next one could outlive the isolate
        }
      }

      // Claim when little work is left locally (so the next batch is here when a slot frees); one claim in flight.
      // After a claim came back short, only a notification (a new task) makes a busy run claim again.
      const news = !lastClaimEmpty || isolateWork.readyCount !== readySeen;
      if (mayClaim && !claiming && !extending && news && pending.length < concurrency) claim();
      // A new task (a notification) while the local line is full: a small claim now, or another group's
      // fresh task would wait behind the whole prefetched line (~PREFETCH_WINDOW_MS). The claim's round
      // robin puts each group's head in it, and fairLine() takes it to the front of the line.
      else if (mayClaim && !claiming && !extending && !newsClaimed && isolateWork.readyCount !== readySeen && pending.length >= concurrency) {
        claim(NEWS_CLAIM_SIZE, true);
      }

      // Write outcomes: a full group, the end of a burst, or the oldest waited long enough.
      const idle = running === 0 && (pending.length === 0 || !inBudget);
      if (finished.length > 0 && (finished.length >= batchSize || idle || Date.now() - finished[0].at >= RECORD_HOLD_MS)) record();

      if (idle && !claiming && !extending && finished.length === 0) {
        if (!mayClaim || pending.length > 0) break; // draining, and nothing is left to finish
        if (lastClaimEmpty) {
          // Nothing claimable now: wait for a retry or scheduled task due soon, else leave it to the next
          // wake-up. (Asked at most once a second while lingering; a retry this worker scheduled asks again.)
          if (Date.now() - dueCheckedAt > DUE_CHECK_EVERY_MS) {
            const wait = await secondsUntilNextTask(types).catch((err) => {
              failure ??= err;
              return undefined;
            });
            dueCheckedAt = Date.now();
            dueAt = wait === undefined ? Infinity : dueCheckedAt + wait * 1000;
          }
          const waitMs = Math.max(dueAt - Date.now(), 20);
          if (waitMs <= settings.workerIdleWaitMs && Date.now() + waitMs < deadline) {
            modes.move("waiting", "a task due soon");
            // A notification (a task inserted meanwhile) ends the wait at once. (A plain timer here turned every
            // idle moment of the next second into a 20 ms poll whenever the due check had seen a task that was
            // already runnable: at 100 tasks/s, one task in twenty started ~20 ms late.)
            const notified = lingerMs > 0
              ? await waitForReady(readySeen, waitMs).catch(() => new Promise<false>((r) => setTimeout(() => r(false), waitMs)))
              : await new Promise<false>((r) => setTimeout(() => r(false), waitMs));
            modes.move("claiming", notified ? "notified" : "due");
            lastClaimEmpty = false;
            continue;
          }
          // Nothing due soon: linger for new tasks, if no other worker of this isolate does.
          // The linger runs lingerMs from the last claim that found work, not from the last notification: a
          // run for some types is notified of every insert, and a steady stream of other types' tasks kept one
          // lingering until its whole budget was spent.
          lingerUntil ??= Date.now() + lingerMs;
          const lingerFor = Math.min(lingerUntil - Date.now(), deadline - Date.now() - 1);
          if (lingerFor > 0 && failure === undefined && (isolateWork.lingerer === undefined || isolateWork.lingerer === opts.workerId)) {
            await takeLingererRole();
            modes.move("waiting", "lingering");
            const notified = await waitForReady(readySeen, lingerFor).catch(() => false);
            if (notified) {
              modes.move("claiming", "notified");
              if (Date.now() - isolateWork.lastReapAt > REAP_EVERY_MS) reap();
              lastClaimEmpty = false;
              continue;
            }
          }
          modes.move("draining", "drained");
          break;
        }
      }
      // Sleep until something happens; wake in time to write held outcomes (one timer per held group, not
      // one per turn of this loop: a turn comes every few tasks).
      if (finished.length > 0 && holdTimer === undefined) {
        holdTimer = setTimeout(() => {
          holdTimer = undefined;
          poke();
        }, Math.max(1, RECORD_HOLD_MS - (Date.now() - finished[0].at)));
      }
      await changed;
    }
  } finally {
    clearTimeout(holdTimer);
    if (isolateWork.lingerer === opts.workerId) isolateWork.lingerer = undefined;
    holdingSuspect = false;
    letGoSuspect(opts.workerId);
    readyPokes.delete(poke);
    stopListening();
    life.sample(false);
  }
  releasePending();
  await Promise.all(releasings);
  await recording;
  await Promise.all(reapings);
  stats.stopped = failure ? "error" : halted ?? (stats.claimed >= maxTasks ? "max_tasks" : Date.now() >= deadline ? "budget" : "drained");
  if (halted) {
    modes.move("handing_off", halted);
    await handOffRest();
  }
  // No longer listening: inserts wake again, and what came in meanwhile (or was handed to this run as
  // the lingerer) gets a worker.
  await finishPresence(opts.workerId, "linger_end").catch((err) => log.warn(`could not end this worker's presence (it lapses within seconds): ${(err as Error).message}`));
  stats.isolate_cpu_ms = Math.round(life.cpuUsedMs() * 100) / 100;
  stats.cpu_ms = Math.round((stats.isolate_cpu_ms - cpuAtStart) * 100) / 100;
  stats.duration_ms = Date.now() - started;
  modes.move("done", stats.stopped);
  if (failure) log.error(`worker ${opts.workerId} stopped early: ${(failure as Error).message ?? failure}`, { ...stats });
  else if (stats.claimed > 0) log.info(`worker ${opts.workerId} done`, { ...stats });
  await flushLogs();
  if (failure) throw failure;
  return stats;
}

function leaseLeftMs(task: ClaimedTask, now: number): number {
  return task.locked_until ? new Date(task.locked_until).getTime() - now : Infinity;
}
