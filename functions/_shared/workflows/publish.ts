// Sends an event to the outbound webhook subscribers, where this database has
// them (orchestrator.webhook_emit, from the outbound-webhooks migration): one
// signed webhook.deliver task per matching subscription. Null = not available here.
import type { AnySql } from "../db.ts";

export async function emitWebhookEvent(sql: AnySql, event: string, data: Record<string, unknown>): Promise<number | null> {
  const [{ available }] = await sql<{ available: boolean }[]>`
    select to_regprocedure('orchestrator.webhook_emit(jsonb)') is not null as available`;
  if (!available) return null;
  const [{ n }] = await sql<{ n: number }[]>`
    select orchestrator.webhook_emit(${sql.json([{ event, data }] as never)}) as n`;
  return n;
}
