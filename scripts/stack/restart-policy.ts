// When a supervised process of the local stack should come back after it died
// on its own: soon at first, then backing off, and never in a tight crash loop.
// A process that stayed up for a while starts its backoff afresh; one that died
// too often within the window is given up on, so its error stays readable
// instead of scrolling past in an endless restart loop.

export interface RestartPolicy {
  /** Wait before the first restart after a stable run. */
  initialDelayMs: number;
  /** The backoff (doubling per consecutive crash) never waits longer than this. */
  maxDelayMs: number;
  /** Give up once it died this many times within windowMs. */
  maxCrashes: number;
  windowMs: number;
  /** A run at least this long counts as stable: the next crash starts the backoff from initialDelayMs. */
  stableMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 250,
  maxDelayMs: 8_000,
  maxCrashes: 6,
  windowMs: 60_000,
  stableMs: 30_000,
};

export type RestartDecision = { restartInMs: number } | { giveUp: string };

export class CrashHistory {
  private readonly policy: RestartPolicy;
  private crashes: number[] = [];
  private consecutive = 0;
  constructor(policy: RestartPolicy) {
    this.policy = policy;
  }

  /** Records a crash after a run of `uptimeMs` and says what to do about it. */
  crashed(uptimeMs: number, now = Date.now()): RestartDecision {
    const p = this.policy;
    this.crashes = [...this.crashes.filter((t) => now - t < p.windowMs), now];
    this.consecutive = uptimeMs >= p.stableMs ? 1 : this.consecutive + 1;
    if (this.crashes.length >= p.maxCrashes) {
      return { giveUp: `it died ${this.crashes.length} times within ${Math.round(p.windowMs / 1000)} s` };
    }
    return { restartInMs: Math.min(p.maxDelayMs, p.initialDelayMs * 2 ** (this.consecutive - 1)) };
  }
}
