// This isolate's presence as a listening worker (20261202000400_worker_presence.sql): while its
// lingering worker listens for orchestrator_task_ready, a row says so, and inserts send the NOTIFY
// alone, no wake-up (no Edge invocation, no HTTP hop). The row lives PRESENCE_S ahead and is renewed
// every RENEW_MS, so an isolate that dies without ending it (a kill) stops suppressing wake-ups
// within PRESENCE_S. Ending it looks for runnable tasks and wakes a worker for them: an insert that
// saw the row counted on this worker.
import { endPresence, renewPresence } from "./queue.ts";
import type { Logger } from "./logger.ts";

const PRESENCE_S = 3;
const RENEW_MS = 1_000;

/** The presence, and the run that holds it (the isolate's lingerer: the role passes from run to run). */
let held: { isolate: string; owner: string; timer: ReturnType<typeof setInterval> } | undefined;

/** Begins the presence of `isolate` for run `owner`, or takes over the one held; resolves once the row is written. */
export async function beginPresence(isolate: string, owner: string, log: Logger): Promise<void> {
  if (held) {
    held.owner = owner;
    return;
  }
  await renewPresence(isolate, PRESENCE_S);
  if (held) {
    (held as { owner: string }).owner = owner; // another run began it meanwhile
    return;
  }
  const timer = setInterval(() => {
    renewPresence(isolate, PRESENCE_S).catch((err) =>
      log.warn(`could not renew this worker's presence (inserts send wake-ups again within ${PRESENCE_S} s): ${(err as Error).message}`));
  }, RENEW_MS);
  // Deno.unrefTimer where available: a renewal alone must not keep an isolate's event loop alive.
  (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer as unknown as number);
  held = { isolate, owner, timer };
}

/** Ends it, if `owner` holds it: the row goes, and a worker is woken when a task is runnable. Whether one was woken. */
export async function finishPresence(owner: string, reason: string): Promise<boolean> {
  if (!held || held.owner !== owner) return false;
  const { isolate, timer } = held;
  held = undefined;
  clearInterval(timer);
  return await endPresence(isolate, reason);
}

