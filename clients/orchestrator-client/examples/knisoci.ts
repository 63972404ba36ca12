// The README's typed KniSoci example, as it is there (tests/e2e/typed-client.test.ts checks the README holds
// this code and runs it against the local stack).
import { createOrchestratorClient } from "@sugarstudio/orchestrator-client";

export async function knisociExample(env: { SUPABASE_URL: string; SUPABASE_SECRET_KEY: string }) {
  // README:start
  // Server-side only, like supabase-js with a secret key. The secret key (sb_secret_…) or the legacy service_role key.
  const orchestrator = createOrchestratorClient({ url: env.SUPABASE_URL, key: env.SUPABASE_SECRET_KEY });

  // The payload is typed by the task type: { delay_ms?: number; echo?: unknown } for "noop".
  const { data: task, error } = await orchestrator.enqueue({ type: "noop", payload: { echo: "from-knisoci" } });
  if (error) throw new Error(`${error.error.code}: ${error.error.message}`);
  const { data: same } = await orchestrator.GET("/functions/v1/tasks/{id}", { params: { path: { id: task.id } } });
  const { data: logs } = await orchestrator.GET("/functions/v1/logs", { params: { query: { task_id: task.id } } });
  // README:end
  return { task, same, logs };
}
