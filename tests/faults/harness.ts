// The fault suite's harness: a private stack per fault (nothing else sees the
// damage), a steady producer of test.chaos tasks, an audit trail of every lease
// that ends, and the invariants every fault must keep:
//   - every task is terminal, or queued, or running with a valid lease;
//   - once drained: enqueued = succeeded + dead + cancelled, and every
//     acknowledged enqueue is there (nothing lost);
//   - no attempt finished twice: each (task, attempt) left `running` at most once
//     by a completion, failure, reap or cancel (audit trigger, installed here only);
//   - every attempt that started also ended, and attempts <= max_attempts.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import postgres from "postgres";
import { PG_BIN } from "../../scripts/stack/postgres.ts";
import type { ManagedProcess } from "../../scripts/stack/supervised-process.ts";
import { startPrivateStack, type PrivateStack } from "../helpers/private-stack.ts";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface FaultStack {
  ps: PrivateStack;
  sql: postgres.Sql;
  stop: () => Promise<void>;
}

export async function startFaultStack(functionEnv: Record<string, string> = {}, durable = false): Promise<FaultStack> {
  const ps = await startPrivateStack({ durable, functionEnv: { ORCHESTRATOR_TEST_TASKS: "1", WORKER_IDLE_WAIT_MS: "3000", ...functionEnv } });
  const sql = postgres(ps.stack.info.DB_URL, {
    max: 6,
    onnotice: () => {},
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  });
  await installAudit(sql);
  return {
    ps,
    sql,
    stop: async () => {
      await sql.end({ timeout: 5 }).catch(() => {});
      await ps.stop();
    },
  };
}

/** Records every end of a lease: complete, fail, reap, cancel, release (test stacks only, never a migration). */
async function installAudit(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(`
    create schema if not exists fault_audit;
    create table if not exists fault_audit.lease_ends (
      id bigserial primary key,
      task_id bigint not null,
      attempt integer not null,
      lease_token uuid,
      kind text not null,
      at timestamptz not null default clock_timestamp()
    );
    create table if not exists fault_audit.lease_starts (
      id bigserial primary key,
      task_id bigint not null,
      attempt integer not null,
      lease_token uuid not null,
      at timestamptz not null default clock_timestamp()
    );
    create or replace function fault_audit.on_lease_end() returns trigger language plpgsql as $$
    begin
      insert into fault_audit.lease_ends (task_id, attempt, lease_token, kind)
      values (old.id, old.attempts, old.lease_token,
              -- isolate_terminated(): spared (beside others, attempt not counted) or blamed (it ran alone).
              case when new.last_error like 'isolate terminated:%' and new.last_error is distinct from old.last_error
                   then case when new.attempts < old.attempts then 'spared' else 'blamed' end
                   when new.status = 'queued' and new.attempts < old.attempts then 'released'
                   when new.last_error like 'lease expired:%' and new.last_error is distinct from old.last_error then 'reaped'
                   when new.status = 'queued' then 'failed_retry'
                   else new.status::text end);
      return null;
    end $$;
    create or replace function fault_audit.on_lease_start() returns trigger language plpgsql as $$
    begin
      insert into fault_audit.lease_starts (task_id, attempt, lease_token) values (new.id, new.attempts, new.lease_token);
      return null;
    end $$;
    drop trigger if exists fault_audit_lease_end on orchestrator.tasks;
    create trigger fault_audit_lease_end after update on orchestrator.tasks for each row
      when (old.status = 'running' and (new.status <> 'running' or new.lease_token is distinct from old.lease_token))
      execute function fault_audit.on_lease_end();
    drop trigger if exists fault_audit_lease_start on orchestrator.tasks;
    create trigger fault_audit_lease_start after update on orchestrator.tasks for each row
      when (new.status = 'running' and new.lease_token is distinct from old.lease_token)
      execute function fault_audit.on_lease_start();
  `);
}

export interface ChaosPayload {
  mode: string;
  ms?: number;
  succeed_on_attempt?: number;
}

/** Enqueues test.chaos tasks one at a time at a steady rate, open loop, over its own connections. */
export class Producer {
  readonly source: string;
  acked = 0;
  errors = 0;
  private seq = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly sql: postgres.Sql;
  private readonly inFlight = new Set<Promise<void>>();
  readonly ackedSeqs: number[] = [];

  constructor(dbUrl: string, source: string) {
    this.source = source;
    this.sql = postgres(dbUrl, { max: 4, onnotice: () => {}, connect_timeout: 2 });
  }

  start(perSecond: number, payload: ChaosPayload = { mode: "sleep", ms: 30 }, opts: Record<string, unknown> = {}): void {
    this.running = true;
    const interval = 1000 / perSecond;
    this.loop = (async () => {
      let next = performance.now();
      while (this.running) {
        const seq = ++this.seq;
        const p = this.sql`
          select orchestrator.enqueue('test.chaos', ${this.sql.json({ ...payload, seq } as never)},
                                      ${this.sql.json({ source: this.source, ...opts } as never)})`
          .then(() => {
            this.acked++;
            this.ackedSeqs.push(seq);
          })
          .catch(() => {
            this.errors++;
          });
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p));
        next += interval;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        else next = performance.now();
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all([...this.inFlight]);
  }

  async end(): Promise<void> {
    await this.stop();
    await this.sql.end({ timeout: 5 }).catch(() => {});
  }
}

export interface Counts {
  total: number;
  queued: number;
  running: number;
  running_expired: number;
  succeeded: number;
  dead: number;
  cancelled: number;
  retried: number;
  max_attempts_seen: number;
  over_max: number;
}

export async function counts(sql: postgres.Sql, source: string): Promise<Counts> {
  const [c] = await sql<Counts[]>`
    select count(*)::int as total,
           count(*) filter (where status = 'queued')::int as queued,
           count(*) filter (where status = 'running')::int as running,
           count(*) filter (where status = 'running' and locked_until < now())::int as running_expired,
           count(*) filter (where status = 'succeeded')::int as succeeded,
           count(*) filter (where status = 'dead')::int as dead,
           count(*) filter (where status = 'cancelled')::int as cancelled,
           count(*) filter (where attempts > 1)::int as retried,
           coalesce(max(attempts), 0)::int as max_attempts_seen,
           count(*) filter (where attempts > max_attempts)::int as over_max
    from orchestrator.tasks where source = ${source}`;
  return c;
}

/** Waits until none of the source's tasks is queued or running; on timeout, says what the stack printed last. */
export async function drain(fs: FaultStack, source: string, timeoutMs: number): Promise<{ counts: Counts; ms: number }> {
  const started = Date.now();
  for (;;) {
    const c = await counts(fs.sql, source).catch(() => undefined);
    if (c && c.queued === 0 && c.running === 0) return { counts: c, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) {
      const tail = fs.ps.recentLines().filter((l) => !l.includes('"level":"info"')).slice(-40).join("\n");
      throw new Error(`not drained after ${timeoutMs / 1000} s: ${JSON.stringify(c)}\nlast lines of the stack:\n${tail}`);
    }
    await sleep(250);
  }
}

export interface AuditFigures {
  /** Leases handed out (claims). */
  claims: number;
  /** (task, attempt) pairs that left `running` more than once through a finish (complete, fail, reap, cancel). */
  finished_twice: number;
  /** Leases that started and never ended, on tasks that are no longer running. */
  leases_never_ended: number;
  /** Terminal tasks whose attempts do not match the attempts that ended. */
  attempt_mismatch: number;
  ends: Record<string, number>;
}

export async function audit(sql: postgres.Sql, source: string): Promise<AuditFigures> {
  const [{ claims }] = await sql<{ claims: number }[]>`
    select count(*)::int as claims from fault_audit.lease_starts s join orchestrator.tasks t on t.id = s.task_id where t.source = ${source}`;
  const [{ finished_twice }] = await sql<{ finished_twice: number }[]>`
    select count(*)::int as finished_twice from (
      select e.task_id, e.attempt from fault_audit.lease_ends e join orchestrator.tasks t on t.id = e.task_id
      where t.source = ${source} and e.kind not in ('released', 'spared')
      group by e.task_id, e.attempt having count(*) > 1) x`;
  const [{ leases_never_ended }] = await sql<{ leases_never_ended: number }[]>`
    select count(*)::int as leases_never_ended
    from fault_audit.lease_starts s join orchestrator.tasks t on t.id = s.task_id
    where t.source = ${source} and t.status <> 'running'
      and not exists (select 1 from fault_audit.lease_ends e where e.task_id = s.task_id and e.lease_token = s.lease_token)`;
  const [{ attempt_mismatch }] = await sql<{ attempt_mismatch: number }[]>`
    select count(*)::int as attempt_mismatch from orchestrator.tasks t
    where t.source = ${source} and t.status in ('succeeded', 'dead')
      and t.attempts <> (select count(*) from fault_audit.lease_ends e where e.task_id = t.id and e.kind not in ('released', 'spared'))`;
  const ends = await sql<{ kind: string; n: number }[]>`
    select e.kind, count(*)::int as n from fault_audit.lease_ends e join orchestrator.tasks t on t.id = e.task_id
    where t.source = ${source} group by e.kind order by e.kind`;
  return { claims, finished_twice, leases_never_ended, attempt_mismatch, ends: Object.fromEntries(ends.map((e) => [e.kind, e.n])) };
}

/** The acknowledged enqueues that are not in the database (must be none). */
export async function lostAcked(sql: postgres.Sql, source: string, ackedSeqs: number[]): Promise<number> {
  if (ackedSeqs.length === 0) return 0;
  const [{ found }] = await sql<{ found: number }[]>`
    select count(distinct (payload ->> 'seq')::int)::int as found from orchestrator.tasks
    where source = ${source} and (payload ->> 'seq')::int = any(${ackedSeqs}::int[])`;
  return ackedSeqs.length - found;
}

/** pg_ctl restart without blocking this process (the producer keeps trying during the outage). */
export async function restartPostgres(ps: PrivateStack): Promise<number> {
  const c = ps.stack.cluster;
  const isRoot = process.getuid?.() === 0;
  const args = ["-D", c.pgdata, "-l", c.logFile, "-w", "-t", "60", "-m", "fast", "-o", `-p ${c.opts.port} -k ${c.socketDir}`, "restart"];
  const [cmd, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", join(PG_BIN, "pg_ctl"), ...args]] : [join(PG_BIN, "pg_ctl"), args];
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: "ignore" });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl restart exited ${code}`))));
  });
  return Date.now() - started;
}

/**
 * Deaths the test did not cause: a supervised process that died (restarted or given up on) more often than
 * `expected` says (the test's own kill -9s), or that is not running now.
 */
export function crashes(fs: FaultStack, expected: Record<string, number> = {}): string[] {
  const found = fs.ps.recentLines().filter((l) => /exited unexpectedly|Uncaught \(in promise\)/.test(l));
  for (const p of fs.ps.stack.processes()) {
    const deaths = p.restarts + (p.state === "running" ? 0 : 1);
    if (deaths > (expected[p.name] ?? 0)) found.push(`${p.name} died ${deaths} time(s) (last: ${p.last_exit}), ${expected[p.name] ?? 0} expected`);
    if (p.state !== "running") found.push(`${p.name} is ${p.state}`);
  }
  return found;
}

/** kill -9 from outside, as an operator or the OOM killer would: the supervisor is not told. */
export function killNine(proc: ManagedProcess): number {
  const pid = proc.child?.pid;
  if (!pid || !proc.running) throw new Error(`${proc.name} is not running`);
  process.kill(pid, "SIGKILL");
  return pid;
}

/** Waits until the supervisor has brought a killed process back (a new pid); ms since `since`. */
export async function backAfter(proc: ManagedProcess, oldPid: number, since: number, timeoutMs = 10_000): Promise<number> {
  while (!(proc.running && proc.child?.pid !== oldPid)) {
    if (Date.now() - since > timeoutMs) throw new Error(`${proc.name} not back ${timeoutMs} ms after kill -9: ${JSON.stringify(proc.snapshot)}`);
    await sleep(20);
  }
  return Date.now() - since;
}

/** Waits until /health answers 200 again; ms since `since`. */
export async function healthyAfter(fs: FaultStack, since: number, timeoutMs = 10_000): Promise<number> {
  for (;;) {
    const ok = await fetch(`${fs.ps.stack.info.FUNCTIONS_URL}/health`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ok) return Date.now() - since;
    if (Date.now() - since > timeoutMs) throw new Error(`/health not answering ${timeoutMs} ms after kill -9`);
    await sleep(20);
  }
}

/** Median and max of a list of figures, for reports. */
export function spread(values: number[]): { n: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, median: sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN, max: sorted.length ? sorted[sorted.length - 1] : NaN };
}

export function report(fault: string, lines: Record<string, unknown>): void {
  const body = Object.entries(lines).map(([k, v]) => `    ${k.padEnd(28)} ${typeof v === "object" ? JSON.stringify(v) : v}`).join("\n");
  console.log(`\n[fault] ${fault}\n${body}\n`);
}

/** One fault file's stack and load producer: started in beforeAll, stopped in afterAll. */
export interface Settled {
  counts: Counts;
  /** How long the queue took to drain after the load stopped. */
  ms: number;
  audit: AuditFigures;
  /** Acknowledged enqueues missing from the database. */
  lost: number;
}

export function useFaultStack(loadSource: string, opts: { durable?: boolean; functionEnv?: Record<string, string> } = {}): { readonly fs: FaultStack; readonly producer: Producer; settle(timeoutMs?: number): Promise<Settled> } {
  let fs: FaultStack | undefined;
  let producer: Producer | undefined;
  beforeAll(async () => {
    fs = await startFaultStack(opts.functionEnv ?? {}, opts.durable);
    producer = new Producer(fs.ps.stack.info.DB_URL, loadSource);
  });
  afterAll(async () => {
    await producer?.end();
    await fs?.stop();
  });
  return {
    get fs() {
      return fs!;
    },
    get producer() {
      return producer!;
    },
    /** Stops the load, waits for its tasks to finish, then audits them: what every fault checks afterwards. */
    async settle(timeoutMs = 120_000): Promise<Settled> {
      await producer!.stop();
      const drained = await drain(fs!, loadSource, timeoutMs);
      return {
        ...drained,
        audit: await audit(fs!.sql, loadSource),
        lost: await lostAcked(fs!.sql, loadSource, producer!.ackedSeqs),
      };
    },
  };
}

/**
 * What every fault must leave behind: no acknowledged enqueue lost, every task ended and none dead,
 * no attempt over its maximum, each task finished exactly once, every lease ended, attempts that add up.
 */
export function expectIntact({ counts: c, audit: a, lost }: Pick<Settled, "counts" | "audit" | "lost">): void {
  expect(lost, "acknowledged enqueues lost").toBe(0);
  expect(c.total, "every task ended").toBe(c.succeeded + c.dead + c.cancelled);
  expect(c.dead, "dead tasks").toBe(0);
  expect(c.over_max, "attempts over max_attempts").toBe(0);
  expect(a.finished_twice, "tasks finished twice").toBe(0);
  expect(a.leases_never_ended, "leases never ended").toBe(0);
  expect(a.attempt_mismatch, "attempts that do not add up").toBe(0);
}

// --- Edge limit faults: a task that makes its user worker hit a limit -----------------------------

/** Polls GET /health (service key) every 100 ms until stopped: every answer's status (0: no answer). */
export function watchHealth(fs: FaultStack): { statuses: number[]; stop: () => Promise<number[]> } {
  const statuses: number[] = [];
  let on = true;
  const { FUNCTIONS_URL, SERVICE_ROLE_KEY } = fs.ps.stack.info;
  const loop = (async () => {
    while (on) {
      const res = await fetch(`${FUNCTIONS_URL}/health`, { headers: { authorization: `Bearer ${SERVICE_ROLE_KEY}` }, signal: AbortSignal.timeout(5_000) })
        .catch(() => undefined);
      statuses.push(res?.status ?? 0);
      await res?.body?.cancel().catch(() => {});
      await sleep(100);
    }
  })();
  return { statuses, stop: async () => ((on = false), await loop, statuses) };
}

export async function lastLogId(sql: postgres.Sql): Promise<number> {
  const [{ id }] = await sql<{ id: number }[]>`select coalesce(max(id), 0)::bigint as id from orchestrator.logs`;
  return Number(id);
}

export interface ShutdownRow { id: number; at: Date; message: string; context: { worker: string; reason: string; in_flight?: number; cpu_ms?: number | null; memory_mb?: number | null } }

/** The user workers of `fn` that ended for `reason` since log row `sinceId` (the gateway's rows in orchestrator.logs). */
export async function shutdowns(sql: postgres.Sql, fn: string, reason: string, sinceId: number): Promise<ShutdownRow[]> {
  return await sql<ShutdownRow[]>`
    select id, at, message, context from orchestrator.logs
    where component = 'edge-runtime' and id > ${sinceId} and context->>'event' = 'shutdown'
      and context->>'function' = ${fn} and context->>'reason' = ${reason}
    order by id`;
}

/** Every shutdown of a user worker since `sinceId`, counted by function:reason. */
export async function shutdownCounts(sql: postgres.Sql, sinceId: number): Promise<Record<string, number>> {
  const rows = await sql<{ k: string; n: number }[]>`
    select (context->>'function') || ':' || (context->>'reason') as k, count(*)::int as n from orchestrator.logs
    where component = 'edge-runtime' and id > ${sinceId} and context->>'event' = 'shutdown' group by 1 order by 1`;
  return Object.fromEntries(rows.map((r) => [r.k, r.n]));
}

export interface HeldEnd { id: number; attempts: number; kind: string }

/** How the runtime's kill ended a held attempt: isolate_terminated() (spared, blamed) or, unreported, its lease's expiry. */
const KILL_ENDS = ["spared", "blamed", "reaped"];

/**
 * The attempts of `sources` a kill ended since `since` (the killed workers': a live worker finishes its
 * attempts itself), and for each re-run, the delay from that end (the gateway's report, or the lease's
 * expiry) to the task's next claim (s).
 */
export async function heldAndRerun(sql: postgres.Sql, sources: string[], since: Date): Promise<{ held: HeldEnd[]; delays: number[]; notRerun: number[] }> {
  const held = await sql<(HeldEnd & { at: Date })[]>`
    select e.task_id::int as id, e.attempt as attempts, e.kind, e.at from fault_audit.lease_ends e
    join orchestrator.tasks t on t.id = e.task_id
    where t.source = any(${sources}::text[]) and e.at >= ${since} and e.kind = any(${KILL_ENDS}::text[])`;
  const starts = await sql<{ id: number; at: Date }[]>`
    select task_id::int as id, at from fault_audit.lease_starts where task_id = any(${held.map((h) => h.id)}::bigint[])`;
  const delays: number[] = [];
  const notRerun: number[] = [];
  for (const h of held) {
    const next = starts.filter((r) => r.id === h.id && r.at > h.at).sort((a, b) => a.at.getTime() - b.at.getTime())[0];
    if (next) delays.push((next.at.getTime() - h.at.getTime()) / 1000);
    else notRerun.push(h.id);
  }
  return { held: held.map(({ at: _at, ...h }) => h), delays, notRerun };
}

/** The first task of `source` that finished after `since` (on a worker that was not the killed one): ms after `since`. */
export async function firstFinishAfter(sql: postgres.Sql, source: string, since: Date): Promise<number | undefined> {
  const [{ at }] = await sql<{ at: Date | null }[]>`
    select min(finished_at) as at from orchestrator.tasks where source = ${source} and status = 'succeeded' and finished_at > ${since}`;
  return at ? at.getTime() - since.getTime() : undefined;
}

export interface LimitFaultSpec {
  /** The load's source (the one useFaultStack was given) and the deadly task's. */
  load: string;
  deadly: string;
  /** The well-behaved load: tasks/s and payload. */
  perSecond: number;
  loadPayload: ChaosPayload;
  /** The task that makes its user worker hit the limit, and how many attempts it gets. */
  deadlyPayload: Record<string, unknown>;
  maxAttempts: number;
  /** The shutdown reason the limit's kill is logged with. */
  reason: "CPUTime" | "WallClockTime" | "Memory";
  /** Load before the deadly task goes in (ms). */
  warmupMs?: number;
}

export interface LimitFaultResult {
  settled: Settled;
  deadlyId: number;
  deadly: { status: string; attempts: number; last_error: string | null; audit: AuditFigures };
  /** Kills with the reason, of task-worker's user workers, while the deadly task ran. */
  kills: ShutdownRow[];
  /** The kill that ended each deadly attempt (the first with the reason after its claim), ms from claim to kill. */
  claimToKillMs: number[];
  /** From each such kill to the first load task finishing after it. */
  recoveryMs: (number | undefined)[];
  /** Tasks the killed workers held (ended by the kill: spared, blamed or reaped), and the delay from that end to their re-run (s). */
  held: HeldEnd[];
  heldLoad: number;
  delays: number[];
  notRerun: number[];
  health: number[];
  shutdownsByReason: Record<string, number>;
}

/** Steady load, then one task that makes its user worker hit an Edge limit mid-batch, until that task is dead; then settle. */
export async function runLimitFault(
  ctx: { readonly fs: FaultStack; readonly producer: Producer; settle(timeoutMs?: number): Promise<Settled> },
  spec: LimitFaultSpec,
  timeoutMs = 75_000,
): Promise<LimitFaultResult> {
  const { sql } = ctx.fs;
  const since = await lastLogId(sql);
  const [{ now: startedAt }] = await sql<{ now: Date }[]>`select clock_timestamp() as now`;
  const health = watchHealth(ctx.fs);
  ctx.producer.start(spec.perSecond, spec.loadPayload);
  await sleep(spec.warmupMs ?? 4_000);
  const [{ id: deadlyId }] = await sql<{ id: number }[]>`
    select (task).id as id from orchestrator.enqueue('test.chaos', ${sql.json(spec.deadlyPayload as never)},
      ${sql.json({ source: spec.deadly, max_attempts: spec.maxAttempts } as never)})`;
  const started = Date.now();
  for (;;) {
    const [t] = await sql<{ status: string }[]>`select status::text from orchestrator.tasks where id = ${deadlyId}`;
    if (t.status !== "queued" && t.status !== "running") break;
    if (Date.now() - started > timeoutMs) {
      const [row] = await sql`select attempts, suspect, run_at, now() as now, last_error from orchestrator.tasks where id = ${deadlyId}`;
      const [{ suspects }] = await sql`select count(*)::int as suspects from orchestrator.tasks where suspect and status = 'queued'`;
      throw new Error(`the deadly task is still ${t.status} after ${timeoutMs / 1000} s: ${JSON.stringify(row)}; ${suspects} suspect(s) queued`);
    }
    await sleep(100);
  }
  const settled = await ctx.settle();
  const healthStatuses = await health.stop();
  const kills = await shutdowns(sql, "task-worker", spec.reason, since);
  const [deadly] = await sql<{ status: string; attempts: number; last_error: string | null }[]>`
    select status::text, attempts, last_error from orchestrator.tasks where id = ${deadlyId}`;
  // Claims that ran it: a lease given back unstarted (release_tasks at beforeunload) met no kill.
  const claims = await sql<{ at: Date }[]>`
    select s.at from fault_audit.lease_starts s where s.task_id = ${deadlyId}
      and not exists (select 1 from fault_audit.lease_ends e where e.lease_token = s.lease_token and e.kind = 'released')
    order by s.at`;
  const claimToKillMs: number[] = [];
  const recoveryMs: (number | undefined)[] = [];
  for (const c of claims) {
    const kill = kills.find((k) => k.at > c.at);
    if (!kill) continue;
    claimToKillMs.push(kill.at.getTime() - c.at.getTime());
    recoveryMs.push(await firstFinishAfter(sql, spec.load, kill.at));
  }
  const { held, delays, notRerun } = await heldAndRerun(sql, [spec.load, spec.deadly], startedAt);
  const heldLoad = held.filter((h) => Number(h.id) !== Number(deadlyId)).length;
  // The deadly task's own last attempt ends it dead, not re-run.
  const notRerunLoad = notRerun.filter((id) => id !== Number(deadlyId));
  return {
    settled,
    deadlyId: Number(deadlyId),
    deadly: { ...deadly, audit: await audit(sql, spec.deadly) },
    kills,
    claimToKillMs,
    recoveryMs,
    held,
    heldLoad,
    delays,
    notRerun: notRerunLoad,
    health: healthStatuses,
    shutdownsByReason: await shutdownCounts(sql, since),
  };
}

/** What a limit fault must leave behind, besides expectIntact on the load. */
export function expectLimitFault(r: LimitFaultResult, spec: LimitFaultSpec): void {
  expectIntact(r.settled);
  expect(r.settled.counts.succeeded, "every load task succeeded").toBe(r.settled.counts.total);
  expect(r.deadly.status, "the deadly task").toBe("dead");
  expect(r.deadly.attempts, "the deadly task's attempts").toBe(spec.maxAttempts);
  // The error names the limit, from the gateway's report: each counted attempt was its isolate's one suspect.
  expect(r.deadly.last_error ?? "").toMatch(new RegExp(`^isolate terminated: ${spec.reason} \\(.*during attempt ${spec.maxAttempts} of ${spec.maxAttempts}, as the only suspect there`));
  expect(r.deadly.audit.finished_twice, "deadly: finished twice").toBe(0);
  expect(r.deadly.audit.leases_never_ended, "deadly: leases never ended").toBe(0);
  expect(r.deadly.audit.attempt_mismatch, "deadly: attempts that do not add up").toBe(0);
  // Every counted attempt was blamed; an attempt beside others (at most the first) was spared, not counted.
  // A claim in an isolate's last second may be given back unstarted at its beforeunload (released, attempt
  // not counted: by design, and not a run); the load's 40/s phase-locks with the 5 s isolates, so the same
  // moment can recur (it did at bc4bb54 as well as after it: 14 unstarted tasks given back at each beforeunload).
  const { blamed, spared = 0, released = 0, ...otherEnds } = r.deadly.audit.ends;
  expect({ blamed, otherEnds }, "deadly: every attempt ended by its kill, none succeeded").toEqual({ blamed: spec.maxAttempts, otherEnds: {} });
  expect(spared, "deadly: attempts spared (ran beside others)").toBeLessThanOrEqual(1);
  expect(released, "deadly: claims given back unstarted at a halt").toBeLessThanOrEqual(2);
  expect(r.claimToKillMs.length, `a ${spec.reason} kill after each deadly claim`).toBe(spec.maxAttempts + spared);
  // Load tasks the kill caught lose no attempt: spared, never blamed or left to their lease.
  expect(r.held.filter((h) => Number(h.id) !== r.deadlyId && h.kind !== "spared"), "held load tasks not spared").toEqual([]);
  for (const ms of r.recoveryMs) expect(ms, "a load task finished after the kill").toBeDefined();
  expect(r.notRerun, "held load tasks not re-run").toEqual([]);
  // Back in the queue the moment the gateway reports the kill, not a lease (timeout + 15 s) later; then
  // re-run as suspects, one per isolate at a time (60 of 300 ms each take up to 18 s to clear), or, for
  // the blamed task, after its retry backoff. Before, they waited for their lease (17 s) and then up to
  // 15 s more: the bound is that sum, and no attempt is spent now.
  if (r.delays.length) expect(Math.max(...r.delays), "kill -> re-run (s)").toBeLessThanOrEqual(32);
  expect(r.health.length, "/health samples").toBeGreaterThan(20);
  expect(r.health.filter((s) => s !== 200), "/health answers other than 200").toEqual([]);
}

/** The figures every limit fault prints. */
const countBy = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});

export function limitFaultFigures(r: LimitFaultResult, spec: LimitFaultSpec, acked: number, errors: number): Record<string, unknown> {
  const c = r.settled.counts;
  const a = r.settled.audit;
  const d = spread(r.delays);
  return {
    "steady load": `${spec.perSecond} test.chaos tasks/s, ${JSON.stringify(spec.loadPayload)}`,
    "deadly task": `${JSON.stringify(spec.deadlyPayload)}, max_attempts ${spec.maxAttempts}`,
    "deadly task ended": `${r.deadly.status} after ${r.deadly.attempts} attempt(s), lease ends ${JSON.stringify(r.deadly.audit.ends)}`,
    [`${spec.reason} kills (task-worker)`]: r.kills.length,
    "kill message": r.kills[0]?.message,
    "claim -> kill (ms)": r.claimToKillMs.join(", "),
    "kill -> first task done (ms)": r.recoveryMs.join(", "),
    "held by killed workers": `${r.held.length} (${r.heldLoad} load + ${r.held.length - r.heldLoad} deadly attempts); ends ${JSON.stringify(countBy(r.held.map((h) => h.kind)))}`,
    "kill -> re-run (s)": r.delays.length ? `median ${d.median.toFixed(2)}, max ${d.max.toFixed(2)} (n ${d.n}, limit 32)` : "none held",
    "enqueued (acked / in db)": `${acked} / ${c.total} (${errors} enqueue errors)`,
    "succeeded + dead + cancelled": `${c.succeeded} + ${c.dead} + ${c.cancelled} = ${c.succeeded + c.dead + c.cancelled}`,
    "lost / finished twice": `${r.settled.lost} / ${a.finished_twice + r.deadly.audit.finished_twice}`,
    "load lease ends by kind": a.ends,
    "/health": `${r.health.filter((s) => s === 200).length}/${r.health.length} answered 200`,
    "user-worker shutdowns": r.shutdownsByReason,
    "drained after the load stopped": `${(r.settled.ms / 1000).toFixed(1)} s`,
  };
}

/**
 * n quick test.chaos tasks of `source`, runnable now, that woke nobody: enqueued for later (no wake-up),
 * then made due by UPDATE (which wakes nobody), so the invocations a fault makes find a full queue.
 */
export async function queueWithoutWakeup(sql: postgres.Sql, source: string, n: number): Promise<void> {
  await sql`
    select count(*) from orchestrator.enqueue_many('test.chaos',
      array(select jsonb_build_object('mode', 'sleep', 'ms', 5, 'seq', -g) from generate_series(1, ${n}) g),
      jsonb_build_object('source', ${source}::text, 'run_at', now() + interval '1 hour'))`;
  await sql`update orchestrator.tasks set run_at = now() where source = ${source} and status = 'queued'`;
}
