// The running handlers' timeouts, all on one timer. A timer per handler (setTimeout, then clearTimeout
// when it finishes) was the worker's largest own cost per task in Deno: its Node-compatible Timeout
// objects took a fifth of the JavaScript CPU a noop task cost (V8 --prof of a 20,000-task run). Here a
// handler's deadline is a Map entry; the one timer is armed for the earliest deadline and, when it fires,
// ends what is due and arms itself for the next. It is cleared when no handler runs, so it never keeps
// an idle isolate (or a test) alive.

type Entry = { at: number; expire: () => void };

const entries = new Map<number, Entry>();
let nextKey = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let armedFor = Infinity;

function arm(at: number): void {
  if (timer !== undefined) clearTimeout(timer);
  armedFor = at;
  timer = setTimeout(fire, Math.max(0, at - performance.now()));
}

function fire(): void {
  timer = undefined;
  armedFor = Infinity;
  const now = performance.now();
  let next = Infinity;
  for (const [key, entry] of entries) {
    if (entry.at <= now) {
      entries.delete(key);
      entry.expire();
    } else if (entry.at < next) next = entry.at;
  }
  if (next < Infinity) arm(next);
}

/**
 * Calls `expire` once `ms` have passed (performance.now() clock), unless the returned function is called
 * first: the handler finished.
 */
export function startDeadline(ms: number, expire: () => void): () => void {
  const key = nextKey++;
  const at = performance.now() + ms;
  entries.set(key, { at, expire });
  if (at < armedFor) arm(at);
  return () => {
    if (!entries.delete(key) || entries.size > 0) return;
    // No handler runs: no timer either. (With some running, the armed timer may fire for a deadline that
    // is gone; it then finds nothing due and arms itself for the earliest one left.)
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    armedFor = Infinity;
  };
}

/** How many deadlines are pending (tests). */
export function pendingDeadlines(): number {
  return entries.size;
}
