// Issue 14, items 4 and 7, over real TCP to the function server of a private
// stack (its own log table and process output): stalled bodies are cut off and
// their connections closed, disconnects are quiet, malformed paths are a 4xx —
// and none of it writes a log row or prints a stack.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { startPrivateStack, type PrivateStack } from "../helpers/private-stack.ts";
import { keyHeaders } from "../helpers/stack.ts";

const IDLE_MS = 1500;
let ps: PrivateStack;
let sql: postgres.Sql;

beforeAll(async () => {
  ps = await startPrivateStack({ functionEnv: { BODY_IDLE_TIMEOUT_MS: String(IDLE_MS) } });
  sql = postgres(ps.stack.info.DB_URL, { max: 2, onnotice: () => {} });
}, 120_000);

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await ps?.stop();
});

/** The id of the newest log row, and the rows written after a given id (what a test's requests left behind). */
const lastLogId = async () => (await sql`select coalesce(max(id), 0)::int as id from orchestrator.logs`)[0].id as number;
const logRowsAfter = async (id: number) => (await sql`select component, level, message from orchestrator.logs where id > ${id} order by id`).map((r) => `${r.level} ${r.component}: ${r.message}`);
/** Lines the functions server printed that look like a crash (an unhandled error, a stack frame). */
const stackLines = () => ps.recentLines().filter((l) => l.startsWith("functions:") && /BadResource|unhandled|^\S+:\s+at |Uncaught/.test(l));

interface Outcome {
  status: string;
  closedByServer: boolean;
  ms: number;
}

/** Sends a request's headers announcing `Content-Length: 100` and then `sent` (default: nothing); waits for the server to act. */
function stalled(path: string, opts: { key?: boolean; sent?: string; capMs?: number; hangUpAfterMs?: number } = {}): Promise<Outcome> {
  const { port, hostname } = new URL(ps.stack.info.API_URL);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(Number(port), hostname);
    let data = "";
    const done = (closedByServer: boolean) => {
      clearTimeout(cap);
      resolve({ status: /^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? "none", closedByServer, ms: Date.now() - started });
    };
    const cap = setTimeout(() => {
      socket.destroy();
      done(false);
    }, opts.capMs ?? 20_000);
    socket.on("connect", () => {
      // The service key as its system sends it (TEST_KEYS=new: the secret key as apikey).
      const auth = opts.key ? Object.entries(keyHeaders(ps.stack.info, "service")).map(([k, v]) => `${k}: ${v}\r\n`).join("") : "";
      socket.write(`POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n${auth}\r\n${opts.sent ?? ""}`);
      if (opts.hangUpAfterMs !== undefined) {
        setTimeout(() => {
          socket.destroy();
          done(false);
        }, opts.hangUpAfterMs);
      }
    });
    socket.on("data", (d) => (data += d));
    socket.on("close", () => done(true));
    socket.on("error", () => {});
  });
}

describe("item 7: a stalled request body", () => {
  it(`300 stalled senders with the key: each gets a 408 after ${IDLE_MS} ms without a byte, and its connection is closed (was: held 150 s+)`, async () => {
    const before = await lastLogId();
    const outcomes = await Promise.all(Array.from({ length: 300 }, () => stalled("/functions/v1/tasks", { key: true })));
    const statuses = new Set(outcomes.map((o) => `${o.status} ${o.closedByServer ? "closed" : "held"}`));
    expect([...statuses]).toEqual(["408 closed"]);
    const ms = outcomes.map((o) => o.ms).sort((a, b) => a - b);
    expect(ms[0]).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(ms.at(-1)).toBeLessThan(IDLE_MS + 5_000);
    console.log(`[stall] 300 stalled bodies: all 408 and closed, ${ms[0]}-${ms.at(-1)} ms (BODY_IDLE_TIMEOUT_MS=${IDLE_MS})`);
    expect(await logRowsAfter(before)).toEqual([]);
  }, 60_000);

  it("a body that trickles half and stops is cut off too; one that arrives in full is served", async () => {
    const half = await stalled("/functions/v1/tasks", { key: true, sent: '{"type":"noop",' });
    expect(half).toMatchObject({ status: "408", closedByServer: true });
    const res = await fetch(`${ps.stack.info.FUNCTIONS_URL}/tasks`, {
      method: "POST",
      headers: keyHeaders(ps.stack.info, "service", { "content-type": "application/json" }),
      body: JSON.stringify({ type: "noop", run_at: "2099-01-01T00:00:00Z" }),
    });
    expect(res.status).toBe(201);
    // Its "enqueued" log row is written after the response: let it land before the next test counts rows.
    const { id } = await res.json();
    for (let i = 0; i < 100 && (await sql`select 1 from orchestrator.logs where task_id = ${id}`).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  });

  it("300 stalled senders without credentials: answered at once (401 or, for Notion's public webhook, 408) and closed, 0 log rows", async () => {
    const before = await lastLogId();
    const paths = ["/functions/v1/tasks", "/functions/v1/events", "/functions/v1/health", "/functions/v1/no-such-function"];
    // One bodiless request to each first, so every function has a live user worker: otherwise the first
    // request to `events` in this stack cold-starts its worker while 300 connections arrive, and its 75 wait
    // for that boot (measured: all 75 at 750-1,280 ms, the warm functions' at most 700 ms; over the bound
    // once on a loaded machine). The bound is about refusing without waiting for the body, not boot time.
    for (const p of paths) {
      const res = await fetch(`${ps.stack.info.API_URL}${p}`, { method: "POST" });
      await res.body?.cancel();
      expect([401, 404], p).toContain(res.status);
    }
    const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) => stalled(paths[i % paths.length])));
    // A server that waited for the bodies would answer each at the idle timeout, with 408: every one is a 401 (or
    // the 404 of no such function), closed by the server. (Their time is printed, not bound: 300 connections at
    // once on a loaded 2-core machine take up to ~1.7 s, past IDLE_MS, with no body read.)
    expect(new Set(outcomes.map((o) => `${o.status} ${o.closedByServer ? "closed" : "held"}`))).toEqual(new Set(["401 closed", "404 closed"]));
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    console.log(`[stall] 300 stalled senders without credentials: all refused and closed within ${slowest} ms`);
    // Public and reading its body: cut off by the idle timeout like any reader.
    expect(await stalled("/functions/v1/notion/webhook")).toMatchObject({ status: "408", closedByServer: true });
    expect(await logRowsAfter(before)).toEqual([]);
  }, 60_000);

  it("clients that hang up mid-body leave no log row and no stack trace (was: an unhandled BadResource per disconnect)", async () => {
    const before = await lastLogId();
    const outcomes = await Promise.all(Array.from({ length: 100 }, () => stalled("/functions/v1/tasks", { key: true, sent: '{"type":', hangUpAfterMs: 200 })));
    expect(outcomes.every((o) => o.status === "none")).toBe(true);
    await new Promise((r) => setTimeout(r, IDLE_MS + 1000)); // whatever the server does about them, it has done it now
    expect(await logRowsAfter(before)).toEqual([]);
    expect(stackLines()).toEqual([]);
  }, 30_000);
});

describe("item 4: malformed percent-encoding over real HTTP", () => {
  const PATHS = ["health/%E0", "tasks/%ZZ", "events/%C0", "notion/%FF/webhook", "rules/%"];

  it("401 without the key, 400 with it, never a 5xx, no log row, no stack trace", async () => {
    const before = await lastLogId();
    for (const p of PATHS) {
      const anon = await fetch(`${ps.stack.info.FUNCTIONS_URL}/${p}`);
      expect(anon.status, `${p}: ${await anon.clone().text()}`).toBe(401);
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${ps.stack.info.FUNCTIONS_URL}/${p}`, { headers: keyHeaders(ps.stack.info, "service") });
        const body = await res.json();
        expect(res.status, `${p}: ${JSON.stringify(body)}`).toBe(400);
        expect(body.error.message).toMatch(/not valid percent-encoding/);
      }
    }
    expect(await logRowsAfter(before)).toEqual([]);
    expect(stackLines()).toEqual([]);
  });
});
