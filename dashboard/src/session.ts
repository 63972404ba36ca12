// The API key lives in sessionStorage only: asked once per browser session,
// gone when the tab closes, never written into the built files.
const KEY = "orchestrator.dashboard.key";
const URL_KEY = "orchestrator.dashboard.projectUrl";

export interface Session {
  key: string;
  /** Project URL without trailing slash; the API is under /functions/v1. */
  projectUrl: string;
}

export function defaultProjectUrl(): string {
  return __PROJECT_URL__ || location.origin;
}

export function normaliseProjectUrl(raw: string): string {
  const value = raw.trim().replace(/\/+$/, "").replace(/\/functions\/v1$/, "");
  const url = new URL(value);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("The project URL must start with http:// or https://");
  return url.origin + url.pathname.replace(/\/+$/, "");
}

export function loadSession(): Session | undefined {
  try {
    const key = sessionStorage.getItem(KEY);
    if (!key) return undefined;
    return { key, projectUrl: sessionStorage.getItem(URL_KEY) || defaultProjectUrl() };
  } catch {
    return undefined;
  }
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(KEY, s.key);
  sessionStorage.setItem(URL_KEY, s.projectUrl);
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
