import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Capabilities } from "./api-types.ts";
import type { Session } from "./session.ts";

export interface AppContext {
  session: Session;
  /** GET /health/capabilities, read once at sign-in: which APIs the deployment serves, which integrations are configured. */
  capabilities: Capabilities;
}

export const Ctx = createContext<AppContext | undefined>(undefined);

export function useApp(): AppContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error("useApp outside the signed-in app");
  return ctx;
}
