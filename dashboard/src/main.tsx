import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, orchestrator, UNAUTHORIZED_EVENT, unwrap } from "./api.ts";
import type { ApiFamily, Capabilities } from "./api-types.ts";
import { ErrorBox, Loading } from "./components/ui.tsx";
import { Ctx } from "./context.ts";
import { href, useRoute } from "./router.ts";
import { clearSession, defaultProjectUrl, loadSession, normaliseProjectUrl, saveSession, type Session } from "./session.ts";
import { Logs } from "./views/Logs.tsx";
import { Overview } from "./views/Overview.tsx";
import { Rules } from "./views/Rules.tsx";
import { Schedules } from "./views/Schedules.tsx";
import { Sops } from "./views/Sops.tsx";
import { Tasks } from "./views/Tasks.tsx";
import { Tickets } from "./views/Tickets.tsx";
import { Workflows } from "./views/Workflows.tsx";
import type { Route } from "./router.ts";
import type { ComponentType } from "preact";
import "./styles.css";

/** The views over endpoint families a deployment may not serve: shown when GET /health/capabilities lists the family. */
const OPTIONAL: { api: ApiFamily; label: string; View: ComponentType<{ route: Route }> }[] = [
  { api: "tickets", label: "Tickets", View: Tickets },
  { api: "sops", label: "SOPs", View: Sops },
  { api: "schedules", label: "Schedules", View: Schedules },
  { api: "workflows", label: "Workflows", View: Workflows },
  { api: "rules", label: "Rules", View: Rules },
];

/**
 * One answer says what the deployment serves and what is configured (no endpoint is tried to find out),
 * and it takes the service key only, so it checks the key too.
 */
const readCapabilities = (session: Session, quiet401 = false) =>
  unwrap<Capabilities>(session, orchestrator(session).GET("/functions/v1/health/capabilities", { cache: "no-store" }), { quiet401 });

function keyMessage(err: unknown): string {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    return `The Orchestrator rejected this key: ${err.message} Paste the project's secret key (sb_secret_…) or its legacy service role (secret) key.`;
  }
  if (err instanceof ApiError) return err.message;
  return (err as Error).message ?? String(err);
}

function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [key, setKey] = useState("");
  const [url, setUrl] = useState(() => loadSession()?.projectUrl ?? defaultProjectUrl());
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    let session: Session;
    try {
      session = { key: key.trim(), projectUrl: normaliseProjectUrl(url) };
    } catch (err) {
      setError(`The project URL is not valid: ${(err as Error).message}`);
      return;
    }
    if (!session.key) {
      setError("Paste the API key first.");
      return;
    }
    setBusy(true);
    try {
      await readCapabilities(session, true);
      saveSession(session);
      onSignedIn(session);
    } catch (err) {
      setError(keyMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form class="card signin-card" onSubmit={submit} aria-labelledby="signin-h">
        <h1 id="signin-h">Orchestrator dashboard</h1>
        <p class="muted">
          Paste the project's <strong>secret key</strong> (<code>sb_secret_…</code>) or its legacy <strong>service role key</strong>. It is kept in this browser tab's session storage only and
          forgotten when the tab closes.
        </p>
        {notice && <p class="notice bad" role="alert">{notice}</p>}
        <label>
          API key
          <input type="password" name="key" autoComplete="off" spellcheck={false} value={key} onInput={(e) => setKey(e.currentTarget.value)}
            required autoFocus aria-describedby={error ? "signin-error" : undefined} />
        </label>
        <label>
          Project URL
          <input type="url" name="project" value={url} onInput={(e) => setUrl(e.currentTarget.value)} spellcheck={false} />
          <span class="hint">The API is at this URL + <code>/functions/v1</code>.</span>
        </label>
        {error && <p id="signin-error" class="error-box" role="alert" data-testid="signin-error">{error}</p>}
        <button type="submit" class="btn primary" disabled={busy}>{busy ? "Checking the key…" : "Sign in"}</button>
      </form>
    </main>
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const route = useRoute();
  const [capabilities, setCapabilities] = useState<Capabilities | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let live = true;
    readCapabilities(session).then((c) => live && setCapabilities(c), (err) => live && setError(err));
    return () => {
      live = false;
    };
  }, [session]);
  const view = route.parts[0] ?? "overview";
  const served = OPTIONAL.filter((o) => capabilities?.apis.includes(o.api));
  const nav = [
    { path: "overview", label: "Overview" },
    { path: "tasks", label: "Tasks" },
    { path: "logs", label: "Logs" },
    ...served.map((o) => ({ path: o.api, label: o.label })),
  ];
  useEffect(() => {
    document.title = `${nav.find((n) => n.path === view)?.label ?? "Dashboard"} · Orchestrator`;
  }, [view, capabilities]);

  const optional = served.find((o) => o.api === view);
  let body;
  if (!capabilities) body = error !== undefined ? <ErrorBox error={error} title="Could not read /health/capabilities" /> : <Loading what="Connecting" />;
  else if (view === "overview") body = <Overview />;
  else if (view === "tasks") body = <Tasks route={route} />;
  else if (view === "logs") body = <Logs route={route} />;
  else if (optional) body = <optional.View route={route} />;
  else {
    body = (
      <div class="view">
        <h1>Not here</h1>
        <p>There is no “{view}” view on this deployment{OPTIONAL.some((o) => o.api === view) ? " (it does not serve that API)" : ""}.</p>
        <p><a href={href("/overview")}>Go to the overview</a></p>
      </div>
    );
  }

  return (
    <Ctx.Provider value={capabilities ? { session, capabilities } : undefined}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>Skip to content</a>
      <header class="topbar">
        <a class="brand" href={href("/overview")}>Orchestrator</a>
        <nav aria-label="Views">
          <ul>
            {nav.map((n) => (
              <li><a href={href(`/${n.path}`)} aria-current={view === n.path ? "page" : undefined}>{n.label}</a></li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class="muted small" title={session.projectUrl}>{new URL(session.projectUrl).host}</span>
          <button type="button" class="btn small" onClick={onSignOut}>Sign out</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>{body}</main>
    </Ctx.Provider>
  );
}

function App() {
  const [session, setSession] = useState<Session | undefined>(() => loadSession());
  const [notice, setNotice] = useState<string | undefined>();
  useEffect(() => {
    const on = (e: Event) => {
      clearSession();
      setSession(undefined);
      setNotice(`The API no longer accepts the saved key (${(e as CustomEvent<string>).detail}). Sign in again.`);
    };
    window.addEventListener(UNAUTHORIZED_EVENT, on);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, on);
  }, []);
  if (!session) {
    return <SignIn notice={notice} onSignedIn={(s) => { setNotice(undefined); setSession(s); }} />;
  }
  return (
    <Shell
      key={session.key}
      session={session}
      onSignOut={() => {
        clearSession();
        setSession(undefined);
      }}
    />
  );
}

render(<App />, document.getElementById("app")!);
