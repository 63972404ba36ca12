// One user worker as the gateway sees it: the Deno process of scripts/edge/user-worker.ts, its
// life (booting → serving → retired → gone) and what it has used. The limits themselves are
// checked by worker-host.ts, which calls retire() and terminate().
import { CONTROL_PREFIX, lines, type WorkerMessage } from "./worker-protocol.ts";
import { mainThreadCpuMs, residentMb } from "./proc-stats.ts";
import type { ShutdownReason } from "./shutdown-log.ts";

const workerScript = new URL("./user-worker.ts", import.meta.url);
const denoConfig = new URL("../../deno.json", import.meta.url);

export type WorkerState = "booting" | "serving" | "retired" | "gone";

export interface WorkerEnd {
  reason: ShutdownReason;
  /** Set when the process exited by itself (a crash, Deno.exit), not by the gateway. */
  exit?: string;
}

let sequence = 0;

export class UserWorker {
  readonly id: string;
  readonly functionName: string;
  /** SB_EXECUTION_ID of this worker, as edge-runtime gives each one; task leases carry it. */
  readonly executionId = crypto.randomUUID();
  state: WorkerState = "booting";
  port = 0;
  /** Requests proxied to it whose response has not ended. */
  inFlight = 0;
  /** Its unsettled EdgeRuntime.waitUntil promises, as it reports them. */
  pending = 0;
  readonly spawnedAt = performance.now();
  readyAt: number | undefined;
  retiredFor: ShutdownReason | undefined;
  beforeUnloadSent = false;
  /** Resolves when serving; rejects when it exits first (a function that cannot be imported). */
  readonly ready: Promise<void>;
  /** Resolves once it is gone, with why. */
  readonly ended: Promise<WorkerEnd>;
  private readonly child: Deno.ChildProcess;
  private readonly stdin: WritableStreamDefaultWriter<Uint8Array>;
  private cpuAtReady = 0;
  private endWith!: (end: WorkerEnd) => void;

  constructor(functionName: string, entrypoint: string, onMessage: (worker: UserWorker) => void) {
    this.functionName = functionName;
    this.id = `${functionName}#${++sequence}`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", "--no-prompt", "--unstable-no-legacy-abort",
        "--config", denoConfig.pathname, workerScript.pathname, functionName, entrypoint,
      ],
      // As edge-runtime does, each worker gets an execution id of its own (the functions' code reads it as "inside an edge worker").
      env: { SB_EXECUTION_ID: this.executionId },
      stdin: "piped", stdout: "piped", stderr: "inherit",
    }).spawn();
    this.child = child;
    this.stdin = child.stdin.getWriter();
    this.ended = new Promise((resolve) => (this.endWith = resolve));
    let readyResolve!: () => void, readyReject!: (err: Error) => void;
    this.ready = new Promise((res, rej) => ((readyResolve = res), (readyReject = rej)));
    this.ready.catch(() => {});
    (async () => {
      for await (const line of lines(child.stdout)) {
        if (!line.startsWith(CONTROL_PREFIX)) {
          console.log(line);
          continue;
        }
        const message = JSON.parse(line.slice(CONTROL_PREFIX.length)) as WorkerMessage;
        if (message.ready && this.state === "booting") {
          this.port = message.port!;
          this.readyAt = performance.now();
          this.cpuAtReady = mainThreadCpuMs(this.pid) ?? 0;
          this.state = "serving";
          readyResolve();
        }
        if (message.pending !== undefined) this.pending = message.pending;
        onMessage(this);
      }
    })().catch(() => {});
    child.status.then((status) => {
      const exit = status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
      readyReject(new Error(`the worker of ${functionName} exited (${exit}) before it served`));
      if (this.state !== "gone") {
        this.state = "gone";
        this.endWith({ reason: "EventLoopCompleted", exit });
      }
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  /**
   * CPU ms since it became ready to serve. Booting is left out: a Deno process loads and compiles
   * the function's module graph from source, where edge-runtime boots a prebuilt eszip bundle in a
   * fraction of that, so counting it would spend the budget on an artefact of running locally.
   */
  cpuMs(): number | undefined {
    const total = mainThreadCpuMs(this.pid);
    return total === undefined ? undefined : total - this.cpuAtReady;
  }

  memoryMb(): number | undefined {
    return residentMb(this.pid);
  }

  ageMs(): number {
    return performance.now() - this.spawnedAt;
  }

  /** Takes no new requests from now on; what it has, it finishes. */
  retire(reason: ShutdownReason): void {
    if (this.state !== "serving" && this.state !== "booting") return;
    this.state = "retired";
    this.retiredFor = reason;
  }

  sendBeforeUnload(reason: ShutdownReason): void {
    this.beforeUnloadSent = true;
    this.stdin.write(new TextEncoder().encode(`beforeunload ${reason}\n`)).catch(() => {});
  }

  /** Gone at once: SIGKILL, no event first. */
  terminate(reason: ShutdownReason): void {
    if (this.state === "gone") return;
    this.state = "gone";
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    this.endWith({ reason });
  }
}
