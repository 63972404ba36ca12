// What `npm start` checks once the stack is healthy: the configuration as the functions themselves
// see it (their env is .env.local plus the stack's own), read from /health so there is one truth.
import type { StackInfo } from "./stack.ts";

/** Lines to print for configuration that is set but cannot work (empty when all is well). */
export async function configurationWarnings(info: Pick<StackInfo, "FUNCTIONS_URL" | "SERVICE_ROLE_KEY">): Promise<string[]> {
  let report: { ai?: { problems?: string[] } };
  try {
    const res = await fetch(`${info.FUNCTIONS_URL}/health`, { headers: { authorization: `Bearer ${info.SERVICE_ROLE_KEY}` }, signal: AbortSignal.timeout(5_000) });
    report = await res.json();
  } catch (err) {
    return [`could not read the configuration check from /health: ${(err as Error).message}`];
  }
  const problems = report.ai?.problems ?? [];
  if (problems.length === 0) return [];
  return [
    "The AI provider is configured but cannot be used; SOPs are written by the template until this is fixed (.env.local, then restart):",
    ...problems.map((p) => `  - ${p}`),
  ];
}
