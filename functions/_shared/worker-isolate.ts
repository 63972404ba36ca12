// What the worker runs of one isolate share (worker.ts): the LISTEN for new tasks and for other
// isolates' workers, which run lingers, which run holds the isolate's one suspect, and what the
// isolate has done once already (handed off, said it is spent, woken its successor).
//
// Module state on purpose: an isolate is one instance of this module, and these are facts about
// the isolate, not about a run. Many runs share them (200 concurrent wake-ups land in one isolate).
import { db } from "./db.ts";
import { isolateId, type IsolateLife } from "./isolate-life.ts";

/** Inserts NOTIFY this (tasks_wake_on_insert). */
const READY_CHANNEL = "orchestrator_task_ready";
/** A new worker presence (payload: its isolate), 20261202000500_successor_handoff.sql. */
const PRESENT_CHANNEL = "orchestrator_worker_present";
/** Running tasks an event cancelled (payload: their ids, comma-separated), 20261203001000_flow_control.sql. */
const CANCELLED_CHANNEL = "orchestrator_task_cancelled";

/** The task was cancelled while it ran (cancel_on): its handler's AbortSignal is aborted with this. */
export class TaskCancelledError extends Error {
  constructor(id: number) {
    super(`task ${id} was cancelled while it ran (an event matched its cancel_on)`);
    this.name = "TaskCancelledError";
  }
}

/** A running handler, as a cancellation reaches it: `stop` aborts its signal and ends its run (once; later calls do nothing). */
export interface RunningHandler {
  stop(reason: Error): void;
}

/** The handlers running in this isolate, by task id. */
export const runningHandlers = new Map<number, RunningHandler>();

function abortCancelled(ids: string): void {
  for (const id of ids.split(",")) runningHandlers.get(Number(id))?.stop(new TaskCancelledError(Number(id)));
}

/** Reaping expired leases runs at most this often per isolate (and beside each run's first claim). */
export const REAP_EVERY_MS = 10_000;
/** How often a waiting run asks when the next queued task is due. */
export const DUE_CHECK_EVERY_MS = 1_000;

export const isolateWork = {
  /** Notifications (and wake-ups handed to the lingerer) this isolate has seen. */
  readyCount: 0,
  /** When a worker of another isolate last announced itself (performance.now()). */
  otherPresenceAt: -Infinity,
  /** The run lingering in this isolate, if any: it takes the wake-ups other runs are started for. */
  lingerer: undefined as string | undefined,
  /** The lingerer claims every type (no `types` filter): only such a one is handed wake-ups. */
  lingererGeneral: false,
  /** When this isolate last reaped expired leases (Date.now()). */
  lastReapAt: 0,
  /** The run claiming or running this isolate's suspect (tasks.suspect): one at a time. */
  suspectHolder: undefined as string | undefined,
};

let readyWaiters = new Set<() => void>();
/** Every run of this isolate: a busy one claims again on a notification. */
export const readyPokes = new Set<() => void>();
let listening: Promise<unknown> | undefined;

export function letGoSuspect(workerId: string): void {
  if (isolateWork.suspectHolder === workerId) isolateWork.suspectHolder = undefined;
}

/**
 * New work for this isolate: an orchestrator_task_ready NOTIFY, or a wake-up (webhook, cron) handed to
 * the lingerer. Busy runs claim again, a waiting lingerer claims at once.
 */
export function notifyReady(): void {
  isolateWork.readyCount++;
  for (const p of readyPokes) p();
  const waiters = readyWaiters;
  readyWaiters = new Set();
  for (const w of waiters) w();
}

/** Another isolate's worker listens now: a run waiting for its successor may stop. */
function otherPresent(isolate: string): void {
  if (isolate === isolateId()) return;
  isolateWork.otherPresenceAt = performance.now();
  for (const p of readyPokes) p();
}

/** LISTENs once per isolate (postgres.js keeps a dedicated connection and re-listens after a reconnect). */
export function listenForReady(): Promise<unknown> {
  listening ??= Promise.all([
    db().listen(READY_CHANNEL, notifyReady),
    db().listen(PRESENT_CHANNEL, otherPresent),
    db().listen(CANCELLED_CHANNEL, abortCancelled),
  ]).catch((err) => {
    listening = undefined;
    throw err;
  });
  return listening;
}

/** Resolves true on a notification newer than `seen` or a handed-off wake-up, false after `ms`. */
export async function waitForReady(seen: number, ms: number): Promise<boolean> {
  const first = listening === undefined;
  await listenForReady();
  // Notifications sent before the LISTEN took effect were never seen: look at the queue once more.
  if (first || isolateWork.readyCount !== seen) return true;
  return await new Promise<boolean>((resolve) => {
    const done = (v: boolean) => {
      clearTimeout(timer);
      readyWaiters.delete(wake);
      resolve(v);
    };
    const wake = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    readyWaiters.add(wake);
  });
}

/**
 * Lives that have handed off already: one hand-off per isolate. Many runs in one isolate (200 concurrent
 * wake-ups) all reach its budget together; one fresh invocation is enough to carry on, and 200 would
 * flood the next isolate the same way.
 */
export const handedOffFrom = new WeakSet<IsolateLife>();

/** Lives that have said they are spent: once per isolate, not once per wake-up (hosted logs drop past 100 events per 10 s). */
export const saidSpent = new WeakSet<IsolateLife>();

/**
 * Per isolate, once it has woken a successor: when it first did (performance.now()), and whether a wake-up is
 * out (`againAt` undefined) or came back to this isolate and is due again at that CPU time.
 */
export const successors = new WeakMap<IsolateLife, { wokeAt: number; againAt?: number }>();
