import type { ComponentChildren } from "preact";
import { ApiError } from "../api.ts";
import { absolute, ago } from "../format.ts";

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="state loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    const id = error.requestId ? ` (request ${error.requestId})` : "";
    return `${error.message}${id}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function ErrorBox({ error, onRetry, title = "Something went wrong" }: { error: unknown; onRetry?: () => void; title?: string }) {
  const details = error instanceof ApiError ? error.details : undefined;
  const status = error instanceof ApiError && error.status ? ` · HTTP ${error.status}` : "";
  return (
    <div class="error-box" role="alert">
      <strong>
        {title}
        {status}
      </strong>
      <p>{errorText(error)}</p>
      {details !== undefined && <pre class="json small">{JSON.stringify(details, null, 2)}</pre>}
      {onRetry && (
        <button type="button" class="btn" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function When({ iso, future }: { iso: string | null | undefined; future?: boolean }) {
  if (!iso) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={absolute(iso)}>
      {future && new Date(iso).getTime() <= Date.now() ? "now" : ago(iso)}
    </time>
  );
}

export function Badge({ value, kind }: { value: string | null | undefined; kind?: string }) {
  if (!value) return <span class="muted">—</span>;
  return <span class={`badge badge-${(kind ?? value).toLowerCase().replace(/[^a-z0-9]+/g, "_")}`}>{value}</span>;
}

export function Json({ value, label }: { value: unknown; label?: string }) {
  if (value === undefined || value === null) return <p class="muted">{label ? `No ${label}.` : "—"}</p>;
  return <pre class="json" tabIndex={0} aria-label={label}>{JSON.stringify(value, null, 2)}</pre>;
}

/** A JSON value under its own heading (a task's payload and result, a schedule's payload, a run's input). */
export function JsonSection({ title, value, label = title.toLowerCase() }: { title: string; value: unknown; label?: string }) {
  return (
    <section class="sub">
      <h3>{title}</h3>
      <Json value={value} label={label} />
    </section>
  );
}

/** Apply and Clear under a filter form (Apply submits it). */
export function FilterActions({ onClear }: { onClear: () => void }) {
  return (
    <div class="filter-actions">
      <button type="submit" class="btn primary">Apply</button>
      <button type="button" class="btn" onClick={onClear}>Clear</button>
    </div>
  );
}

export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

export interface Column<T> {
  key: string;
  label: string;
  render?: (row: T) => ComponentChildren;
  /** Hidden on narrow screens. */
  optional?: boolean;
  className?: string;
}

export function Table<T extends Record<string, unknown>>({ rows, columns, rowKey, caption, selected, testId }: {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string | number;
  caption?: string;
  selected?: string | number;
  testId?: string;
}) {
  return (
    <div class="table-wrap">
      <table data-testid={testId}>
        {caption && <caption class="sr-only">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" class={[c.optional ? "opt" : "", c.className ?? ""].join(" ").trim() || undefined}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} class={selected !== undefined && String(rowKey(row)) === String(selected) ? "selected" : undefined}>
              {columns.map((c) => (
                <td class={[c.optional ? "opt" : "", c.className ?? ""].join(" ").trim() || undefined} data-label={c.label}>
                  {c.render ? c.render(row) : cell(row[c.key])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A plain rendering of one value: a timestamp as its age, a URL as a link, JSON shortened. */
export function cell(value: unknown): ComponentChildren {
  if (value === null || value === undefined || value === "") return <span class="muted">—</span>;
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") return value.toLocaleString("en-US");
  if (typeof value === "string") {
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return <When iso={value} />;
    if (/^https?:\/\//.test(value)) {
      return (
        <a href={value} target="_blank" rel="noopener noreferrer">
          {value.replace(/^https?:\/\//, "").slice(0, 40)}
        </a>
      );
    }
    return value.length > 120 ? value.slice(0, 119) + "…" : value;
  }
  const s = JSON.stringify(value);
  return <code>{s.length > 80 ? s.slice(0, 79) + "…" : s}</code>;
}

export function Pager({ onFirst, onPrev, onNext, hasPrev, hasNext, label }: {
  onFirst?: () => void;
  onPrev?: () => void;
  onNext?: () => void;
  hasPrev: boolean;
  hasNext: boolean;
  label: string;
}) {
  return (
    <nav class="pager" aria-label={label}>
      {onFirst && (
        <button type="button" class="btn" onClick={onFirst} disabled={!hasPrev}>
          ⇤ Newest
        </button>
      )}
      {onPrev && (
        <button type="button" class="btn" onClick={onPrev} disabled={!hasPrev}>
          ← Newer
        </button>
      )}
      <button type="button" class="btn" onClick={onNext} disabled={!hasNext} data-testid="next-page">
        Older →
      </button>
    </nav>
  );
}

/** Key/value list for an object whose fields we do not know in advance. */
export function Fields({ value, skip = [] }: { value: Record<string, unknown>; skip?: string[] }) {
  const entries = Object.entries(value).filter(([k, v]) => !skip.includes(k) && (typeof v !== "object" || v === null));
  const nested = Object.entries(value).filter(([k, v]) => !skip.includes(k) && typeof v === "object" && v !== null);
  return (
    <>
      <dl class="fields">
        {entries.map(([k, v]) => (
          <Field label={k.replace(/_/g, " ")}>{cell(v)}</Field>
        ))}
      </dl>
      {nested.map(([k, v]) => (
        <section class="sub">
          <h3>{k.replace(/_/g, " ")}</h3>
          <Json value={v} label={k} />
        </section>
      ))}
    </>
  );
}
