import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Session } from "./session.ts";

/** Optional APIs, probed at sign-in: a view shows only when its API answers. */
export interface Features {
  tickets: boolean;
  sops: boolean;
  schedules: boolean;
  workflows: boolean;
  rules: boolean;
  /** The sync-status endpoint that answered (/notion/status, or /sync/status), or false. */
  sync: string | false;
}

export interface AppContext {
  session: Session;
  features: Features;
}

export const Ctx = createContext<AppContext | undefined>(undefined);

export function useApp(): AppContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error("useApp outside the signed-in app");
  return ctx;
}
