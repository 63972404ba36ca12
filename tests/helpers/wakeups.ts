// The wake-ups a transaction sends, seen in its own pg_net queue: for tests that run in a rolled-back
// transaction, so other test files never see their endpoint, presence rows or wake-ups.
import type postgres from "postgres";

/**
 * Points this transaction's wake-ups at a URL of its own (the Vault change is rolled back with it, and
 * other sessions never see it), so the wake-ups other test files send meanwhile are not counted.
 */
export async function ownEndpoint(tx: postgres.TransactionSql, label: string): Promise<string> {
  const url = `http://${label}-${Math.random().toString(36).slice(2)}.invalid`;
  await tx`select orchestrator.set_worker_endpoint(${url}, 'test-key')`;
  return url;
}

/** The reasons of the wake-ups sent to `url` after request id `before`, in order. */
export async function wakeupsAfter(tx: postgres.TransactionSql, url: string, before: number): Promise<string[]> {
  const rows = await tx<{ reason: string }[]>`
    select convert_from(body, 'UTF8')::jsonb ->> 'reason' as reason from net.http_request_queue
    where id > ${before} and url like ${url + "%"} order by id`;
  return rows.map((r) => r.reason);
}

/** The newest pg_net request id, to count the wake-ups after it. */
export const lastRequest = async (tx: postgres.TransactionSql): Promise<number> =>
  Number((await tx`select coalesce(max(id), 0) as m from net.http_request_queue`)[0].m);
