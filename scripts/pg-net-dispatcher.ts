// pg_net emulation for the local stack: sends the requests that committed
// transactions queued with net.http_post/http_get, and records each response in
// net._http_response, as pg_net's background worker does on hosted Supabase.
// Woken by NOTIFY (sent on commit) and, as a safety net, by a 1 s poll.
import postgres from "postgres";

const DB_URL = process.env.DB_URL;
if (!DB_URL) {
  console.error("pg-net-dispatcher: set DB_URL to the database to serve");
  process.exit(2);
}
const MAX_IN_FLIGHT = Number(process.env.PG_NET_MAX_IN_FLIGHT ?? 200);
const BATCH = 100;

const sql = postgres(DB_URL, { max: 4, onnotice: () => {}, connection: { application_name: "pg_net_dispatcher" } });

interface QueuedRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | null;
  timeout_milliseconds: number;
}

let inFlight = 0;
let draining = false;
let again = false;
let stopping = false;

async function send(req: QueuedRequest): Promise<void> {
  const started = Date.now();
  let row: Record<string, unknown>;
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body ? new Uint8Array(req.body) : undefined,
      signal: AbortSignal.timeout(req.timeout_milliseconds),
    });
    const content = await res.text();
    row = {
      id: req.id, status_code: res.status, content_type: res.headers.get("content-type"),
      headers: Object.fromEntries(res.headers), content, timed_out: false, error_msg: null,
    };
  } catch (err) {
    const timedOut = (err as Error).name === "TimeoutError";
    row = {
      id: req.id, status_code: null, content_type: null, headers: null, content: null, timed_out: timedOut,
      error_msg: timedOut ? `Timeout of ${req.timeout_milliseconds} ms reached` : String((err as Error).message),
    };
  }
  try {
    await sql`insert into net._http_response ${sql(row)}`;
  } catch (err) {
    console.error(`pg-net-dispatcher: could not record response ${req.id}: ${(err as Error).message}`);
  }
  if (process.env.PG_NET_VERBOSE) console.log(`${req.method} ${req.url} -> ${row.status_code ?? row.error_msg} ${Date.now() - started}ms`);
}

async function drain(): Promise<void> {
  if (draining) {
    again = true;
    return;
  }
  draining = true;
  try {
    do {
      again = false;
      while (!stopping && inFlight < MAX_IN_FLIGHT) {
        const take = Math.min(BATCH, MAX_IN_FLIGHT - inFlight);
        const rows = await sql<QueuedRequest[]>`
          delete from net.http_request_queue
          where id in (select id from net.http_request_queue order by id limit ${take} for update skip locked)
          returning id, method, url, headers, body, timeout_milliseconds`;
        if (rows.length === 0) break;
        for (const req of rows) {
          inFlight++;
          send(req).finally(() => {
            inFlight--;
            if (again) void drain();
          });
        }
      }
    } while (again && !stopping);
  } catch (err) {
    console.error(`pg-net-dispatcher: ${(err as Error).message} (retrying)`);
  } finally {
    draining = false;
  }
}

await sql.listen("pg_net_request", () => void drain(), () => void drain());
const poll = setInterval(() => void drain(), 1000);
console.log("pg_net dispatcher ready");

async function shutdown(): Promise<void> {
  stopping = true;
  clearInterval(poll);
  await sql.end({ timeout: 2 });
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
