// The user workers of every function, under the per-worker policy of Supabase's edge-runtime:
// a request goes to its function's live worker, or starts one (a cold start); a worker serves
// many requests at once until it retires (CPU soft limit, half its wall clock), then finishes
// what it has and is dropped early; over the CPU hard limit, the wall clock or the memory limit
// it is killed at once, and its requests in flight get 546 WORKER_LIMIT.
import { beforeUnloadAtMs, type WorkerLimits } from "./limits.ts";
import type { FunctionEntry } from "./function-config.ts";
import { type ShutdownLog, type ShutdownReason } from "./shutdown-log.ts";
import { TerminationReport } from "./termination-report.ts";
import { UserWorker, type WorkerEnd } from "./user-worker-process.ts";
import { ORIGINAL_LENGTH_HEADER, ORIGINAL_URL_HEADER } from "./worker-protocol.ts";

/** How often CPU, memory and wall clock are read: a kill lands at most this late (plus one clock tick). */
const CHECK_EVERY_MS = 25;

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const LIMIT_TEXT: Partial<Record<ShutdownReason, string>> = {
  CPUTime: "it used its CPU time",
  WallClockTime: "it reached its wall-clock limit",
  Memory: "it used more memory than allowed",
};

export class WorkerHost {
  private readonly live = new Map<string, UserWorker>();
  private readonly all = new Set<UserWorker>();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly limits: WorkerLimits;
  private readonly log: ShutdownLog;
  private readonly report: TerminationReport;

  constructor(limits: WorkerLimits, log: ShutdownLog) {
    this.limits = limits;
    this.log = log;
    this.report = new TerminationReport(log);
    this.timer = setInterval(() => {
      for (const w of this.all) this.check(w);
    }, CHECK_EVERY_MS);
  }

  /** Proxies one request (already authorized, path as the function sees it) to a worker of fn. */
  async handle(fn: FunctionEntry, req: Request, innerUrl: URL): Promise<Response> {
    const worker = this.workerFor(fn);
    try {
      await worker.ready;
    } catch (err) {
      return json(503, { code: "BOOT_ERROR", message: `The function ${fn.name} failed to start (${(err as Error).message}); its error is in the functions' log.` });
    }
    worker.inFlight++;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      worker.inFlight--;
      this.check(worker);
    };
    const upstream = new AbortController();
    req.signal.addEventListener("abort", () => upstream.abort(), { once: true });
    const headers = new Headers(req.headers);
    headers.set(ORIGINAL_URL_HEADER, innerUrl.href);
    const length = req.headers.get("content-length");
    if (length !== null) headers.set(ORIGINAL_LENGTH_HEADER, length);
    let timeout: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<Response>((resolve) => {
      timeout = setTimeout(() => {
        upstream.abort();
        resolve(json(504, { code: "IDLE_TIMEOUT", message: `The function ${fn.name} sent no response within ${this.limits.requestTimeoutMs / 1000} s.` }));
      }, this.limits.requestTimeoutMs);
    });
    const killed = worker.ended.then((end) => this.endedResponse(fn, end));
    try {
      const answered = fetch(`http://127.0.0.1:${worker.port}${innerUrl.pathname}${innerUrl.search}`, {
        method: req.method, headers, body: req.body, signal: upstream.signal, redirect: "manual", duplex: "half",
      } as RequestInit).catch(async (err) => {
        // A worker that died mid-request: answer for its end (546 for a limit), not with a fetch error.
        if (worker.state === "gone") return await killed;
        throw err;
      });
      const res = await Promise.race([answered, killed, timedOut]);
      // Which worker answered (a fresh one after a retirement): for debugging and the tests.
      const out = new Headers(res.headers);
      out.set("x-edge-worker", worker.id);
      if (!res.body) finish();
      return new Response(res.body ? this.tracked(res.body, finish) : null, { status: res.status, statusText: res.statusText, headers: out });
    } catch (err) {
      finish();
      throw err;
    } finally {
      clearTimeout(timeout);
    }
  }

  /** Kills every worker (the gateway is stopping). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const w of this.all) this.end(w, "TerminationRequested", "the function server is stopping");
    await this.log.close();
  }

  private workerFor(fn: FunctionEntry): UserWorker {
    const current = this.live.get(fn.name);
    if (current && (current.state === "booting" || current.state === "serving")) return current;
    const worker = new UserWorker(fn.name, fn.entrypoint, (w) => this.check(w));
    this.live.set(fn.name, worker);
    this.all.add(worker);
    worker.ended.then((end) => {
      this.all.delete(worker);
      if (this.live.get(fn.name) === worker) this.live.delete(fn.name);
      // A worker that exits by itself (a crash, a failed import) is logged here; the gateway logs its own kills.
      if (end.exit) {
        this.log.write({
          event: "shutdown", reason: end.reason, function: fn.name, worker: worker.id, level: worker.readyAt ? "warn" : "error",
          message: `worker ${worker.id} shut down: ${end.reason} (${end.exit}${worker.readyAt ? "" : ", before it served"}; ${worker.inFlight} request(s) in flight)`,
          exit: end.exit, in_flight: worker.inFlight, pending: worker.pending,
        });
        this.report.report(worker, end.reason, `the worker exited: ${end.exit}`);
      }
    });
    return worker;
  }

  /** The body passed through, with finish() once it has been sent, failed or been cancelled. */
  private tracked(body: ReadableStream<Uint8Array>, finish: () => void): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    return new ReadableStream({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            finish();
            controller.close();
          } else controller.enqueue(value);
        } catch (err) {
          finish();
          controller.error(err);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    });
  }

  private endedResponse(fn: FunctionEntry, end: WorkerEnd): Response {
    const why = LIMIT_TEXT[end.reason];
    if (why) {
      return json(546, {
        code: "WORKER_LIMIT",
        message: `The worker of ${fn.name} was terminated because ${why} (${end.reason}); retry the request, it goes to a fresh worker.`,
      });
    }
    return json(502, { error: { code: "worker_exited", message: `The worker of ${fn.name} stopped (${end.exit ?? end.reason}) before it answered; retry the request.` } });
  }

  /** Applies the limits to one worker; called on a timer and whenever its load changes. */
  private check(w: UserWorker): void {
    if (w.state === "gone") return;
    const age = w.ageMs();
    const { cpuSoftMs, cpuHardMs, memoryMb, wallClockMs } = this.limits;
    if (age >= wallClockMs) return this.end(w, "WallClockTime", `wall clock ${Math.round(age)} ms ≥ limit ${wallClockMs} ms`);
    if (w.state === "booting") return;
    const cpu = w.cpuMs();
    const memory = w.memoryMb();
    if (cpu === undefined || memory === undefined) return; // Exited: its exit is handled by workerFor.
    if (cpu >= cpuHardMs) return this.end(w, "CPUTime", `CPU time ${cpu} ms ≥ hard limit ${cpuHardMs} ms`);
    if (memory > memoryMb) return this.end(w, "Memory", `resident memory ${Math.round(memory)} MB > limit ${memoryMb} MB`);
    if (!w.beforeUnloadSent && age >= beforeUnloadAtMs(this.limits)) w.sendBeforeUnload("WallClockTime");
    if (w.state === "serving") {
      if (cpu >= cpuSoftMs) this.retire(w, "CPUTime", `CPU time ${cpu} ms ≥ soft limit ${cpuSoftMs} ms`);
      else if (age >= wallClockMs / 2) this.retire(w, "WallClockTime", `wall clock ${Math.round(age)} ms ≥ half the limit of ${wallClockMs} ms`);
    }
    if (w.state === "retired" && w.inFlight === 0 && w.pending === 0) {
      this.end(w, "EarlyDrop", `retired for ${w.retiredFor}, nothing in flight, no pending waitUntil`);
    }
  }

  private retire(w: UserWorker, reason: ShutdownReason, detail: string): void {
    w.retire(reason);
    if (this.live.get(w.functionName) === w) this.live.delete(w.functionName);
    this.log.write({
      event: "retire", reason, function: w.functionName, worker: w.id, level: "info",
      message: `worker ${w.id} retired: ${reason} (${detail}); ${w.inFlight} request(s) in flight, ${w.pending} waitUntil pending`,
      ...this.usage(w),
    });
  }

  private end(w: UserWorker, reason: ShutdownReason, detail: string): void {
    if (w.state === "gone") return;
    const usage = this.usage(w);
    const inFlight = w.inFlight, pending = w.pending;
    w.terminate(reason);
    const limit = reason in LIMIT_TEXT;
    this.log.write({
      event: "shutdown", reason, function: w.functionName, worker: w.id, level: limit && (inFlight || pending) ? "error" : limit ? "warn" : "info",
      message: `worker ${w.id} shut down: ${reason} (${detail})` +
        (limit ? `; ${inFlight} request(s) in flight got 546, ${pending} waitUntil promise(s) dropped` : ""),
      in_flight: inFlight, pending, ...usage,
    });
    // Only kills can leave tasks behind (a worker dropped early had nothing in flight, a stopping
    // gateway leaves the leases to expire: the database may be stopping too).
    if (limit) this.report.report(w, reason, detail);
  }

  private usage(w: UserWorker): Record<string, number | null> {
    return {
      cpu_ms: w.cpuMs() ?? null,
      memory_mb: Math.round(w.memoryMb() ?? 0) || null,
      age_ms: Math.round(w.ageMs()),
      boot_ms: w.readyAt === undefined ? null : Math.round(w.readyAt - w.spawnedAt),
    };
  }
}
