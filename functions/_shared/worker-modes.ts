// A worker run's modes and the moves between them (worker.ts). A leaf: no I/O, so the table is
// tested on its own (tests/unit/worker-modes.test.ts) and a wrong move fails where it is made.
//
//            ┌──── notified / a task due ────┐
//            ▼                               │
//        claiming ── queue drained ──▶ waiting
//            │                               │
//            └── a stop ──▶ draining ◀── a stop / nothing came
//                              │
//                  (a limit) ──┼──▶ handing_off ──▶ done
//                              └──────────────────▶ done
//
// claiming     claims batches while the budget lasts; its tasks run and their outcomes are recorded
//              as they finish, all at once: a stream, not steps (the next claim is in flight while a
//              batch runs, a completion while the next batch starts).
// waiting      nothing claimable: waits for a notification, a retry or scheduled task due soon, or
//              (as the isolate's lingerer) new tasks, then claims again.
// draining     claims no more (budget, max_tasks, CPU or wall clock, beforeunload, a database error, or
//              the queue drained with nothing to wait for): running tasks finish, their outcomes are
//              recorded, unstarted ones go back to the queue.
// handing_off  a limit or beforeunload stopped it: the rest goes to another worker (a NOTIFY to one
//              that listens, else a wake-up).
// done         stats are final.
//
// Running and recording are activities of claiming and draining, not modes: making them exclusive
// would serialize the stream that gives the worker its throughput.

export type WorkerMode = "claiming" | "waiting" | "draining" | "handing_off" | "done";

const MOVES: Readonly<Record<WorkerMode, readonly WorkerMode[]>> = {
  claiming: ["waiting", "draining"],
  waiting: ["claiming", "draining"],
  draining: ["handing_off", "done"],
  handing_off: ["done"],
  done: [],
};

export function canMove(from: WorkerMode, to: WorkerMode): boolean {
  return MOVES[from].includes(to);
}

/** One move, as a run reports it (WorkerOptions.onMode). */
export interface ModeChange {
  from: WorkerMode;
  to: WorkerMode;
  /** Why: the stop reason for draining, "drained", "notified", "due", … */
  why: string;
}

/** A run's current mode; `move` throws on a move the table does not allow (a bug in the worker). */
export class WorkerModes {
  #mode: WorkerMode = "claiming";
  /** How many times the run entered each mode (waiting/claiming cycle while a worker lingers). */
  readonly entered: Record<WorkerMode, number> = { claiming: 1, waiting: 0, draining: 0, handing_off: 0, done: 0 };

  constructor(private readonly onChange?: (change: ModeChange) => void) {}

  get mode(): WorkerMode {
    return this.#mode;
  }

  is(...modes: WorkerMode[]): boolean {
    return modes.includes(this.#mode);
  }

  move(to: WorkerMode, why: string): void {
    const from = this.#mode;
    if (!canMove(from, to)) throw new Error(`worker mode ${from} -> ${to} (${why}) is not a move the worker makes`);
    this.#mode = to;
    this.entered[to]++;
    this.onChange?.({ from, to, why });
  }
}
