// The pieces the resource pages share (tickets, SOPs, schedules, workflows, rules; the task detail uses
// DetailPane and Loaded too): a list beside the selected row's detail, a list read from one endpoint,
// a detail pane, and how a load shows its error, its spinner and its data.
import type { ComponentChildren, Ref } from "preact";
import { useState } from "preact/hooks";
import { call } from "../api.ts";
import { useApp } from "../context.ts";
import { useLoad, type Loadable } from "../hooks.ts";
import { href, navigate, type Route } from "../router.ts";
import { Empty, ErrorBox, Loading, Pager, Table, type Column } from "./ui.tsx";

/** A page's frame: its list, and the selected row's detail beside it. */
function SplitView({ title, open, wide, detail, children }: {
  title: string;
  open: boolean;
  wide?: boolean;
  detail: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <div class={`view split${wide ? " wide-detail" : ""}${open ? " has-detail" : ""}`}>
      <div class="list-pane">
        <header class="view-head"><h1>{title}</h1></header>
        {children}
      </div>
      {detail}
    </div>
  );
}

/** The pane beside a list: a heading, a close button (Escape closes it too), its content. */
export function DetailPane({ title, label, onClose, closeLabel = "Close details", headingRef, testId, children }: {
  title: ComponentChildren;
  /** The pane's accessible name. */
  label: string;
  onClose: () => void;
  closeLabel?: string;
  /** Focused when the pane opens (the task detail). */
  headingRef?: Ref<HTMLHeadingElement>;
  testId?: string;
  children: ComponentChildren;
}) {
  return (
    <aside class="detail-pane card" aria-label={label} data-testid={testId} onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div class="card-head">
        <h2 tabIndex={headingRef ? -1 : undefined} ref={headingRef}>{title}</h2>
        <button type="button" class="btn small" onClick={onClose} aria-label={closeLabel}>✕ Close</button>
      </div>
      {children}
    </aside>
  );
}

/** A load as the page shows it: its error (with Try again), a spinner until the first answer, then its data. */
export function Loaded<T>({ state, what = "Loading", errorTitle, children }: {
  state: Loadable<T>;
  what?: string;
  errorTitle?: string;
  children: (data: T) => ComponentChildren;
}) {
  return (
    <>
      {state.error !== undefined && <ErrorBox error={state.error} onRetry={state.reload} title={errorTitle} />}
      {state.data === undefined && state.loading && <Loading what={what} />}
      {state.data !== undefined && children(state.data)}
    </>
  );
}

/** The detail of one row, read from its endpoint (again every 15 s, or at once by `reload`) into a DetailPane. */
export function DetailResource<T>({ path, label, title, onClose, children }: {
  path: string;
  label: string;
  title?: ComponentChildren;
  onClose: () => void;
  children: (row: T, reload: () => void) => ComponentChildren;
}) {
  const { session } = useApp();
  const item = useLoad((signal) => call<T>(session, path, { signal }), path, 15_000);
  return (
    <DetailPane title={title ?? label} label={label} onClose={onClose}>
      <Loaded state={item}>{(row: T) => children(row, item.reload)}</Loaded>
    </DetailPane>
  );
}

export interface ListFilter {
  key: string;
  label: string;
  options: string[];
}

interface ListProps<B, R> {
  title: string;
  path: string;
  route: Route;
  /** The rows of an answer. */
  rows: (body: B) => R[];
  columns: Column<R>[];
  rowKey: (row: R) => string | number;
  filters?: ListFilter[];
  empty: string;
  /** The cursor of the next page, for an API that pages (it is sent limit and cursor). */
  next?: (body: B) => string | null;
  /** Fixed query parameters (e.g. latest=true). */
  baseQuery?: Record<string, string>;
  /** More from the same answer (e.g. the system cron jobs below the schedules). */
  after?: (body: B) => ComponentChildren;
}

/**
 * A resource's page (tickets, SOPs, schedules, workflows, rules): the list read from its endpoint, and
 * beside it the pane of the row the address selects (#/<page>/<row>), when there is one.
 */
export function ResourcePage<B, R extends Record<string, unknown>>({ detail, wide, ...list }: ListProps<B, R> & {
  /** The selected row's pane (route.parts[1] names the row). */
  detail?: ComponentChildren;
  wide?: boolean;
}) {
  const open = !!list.route.parts[1];
  return (
    <SplitView title={list.title} open={open} wide={wide} detail={open ? detail : null}>
      <ResourceList<B, R> {...list} />
    </SplitView>
  );
}

/**
 * A list read from one endpoint: its filters kept in the address, cursor pages when the API has them
 * (`next`; the others list everything at once and refuse limit and cursor), read again every 10 s
 * while on the first page.
 */
function ResourceList<B, R extends Record<string, unknown>>({
  title, path, route, rows, next: nextOf, columns, rowKey, filters, empty, baseQuery, after,
}: ListProps<B, R>) {
  const { session } = useApp();
  const query: Record<string, string | undefined> = {};
  for (const f of filters ?? []) query[f.key] = route.query.get(f.key) ?? undefined;
  const [cursors, setCursors] = useState<(string | null)[]>([]);
  const cursor = cursors.length ? cursors[cursors.length - 1] : null;
  const q = { ...baseQuery, ...query };
  const list = useLoad(
    (signal) => call<B>(session, path, { query: nextOf ? { ...q, cursor, limit: 50 } : q, signal }),
    `${path}?${JSON.stringify(q)}&cursor=${cursor ?? ""}`,
    cursor ? undefined : 10_000,
  );
  const next = nextOf && list.data !== undefined ? nextOf(list.data) : null;
  const shown = list.data ? rows(list.data) : [];
  return (
    <>
      {filters && (
        <form class="filters" aria-label={`Filter ${title.toLowerCase()}`} onSubmit={(e) => e.preventDefault()}>
          {filters.map((f) => (
            <label>
              {f.label}
              <select
                value={query[f.key] ?? ""}
                onChange={(e) => {
                  setCursors([]);
                  navigate(`/${route.parts[0]}`, { ...query, [f.key]: e.currentTarget.value || undefined });
                }}
              >
                <option value="">any</option>
                {f.options.map((o) => <option value={o}>{o.replace(/_/g, " ")}</option>)}
              </select>
            </label>
          ))}
        </form>
      )}
      <Loaded state={list} what={`Loading ${title.toLowerCase()}`} errorTitle={`Could not list ${title.toLowerCase()}`}>
        {(body) => (
          <>
            {shown.length === 0 ? <Empty>{empty}</Empty> : <Table<R> rows={shown} columns={columns} rowKey={rowKey} caption={title} selected={route.parts[1]} />}
            {after?.(body)}
            {(cursor || next) && (
              <Pager
                label={`${title} pages`}
                hasPrev={!!cursor}
                hasNext={!!next}
                onFirst={() => setCursors([])}
                onNext={() => setCursors((c) => [...c, next])}
                onPrev={() => setCursors((c) => c.slice(0, -1))}
              />
            )}
          </>
        )}
      </Loaded>
    </>
  );
}

export const TaskLink = ({ id }: { id: number | null }) => (id == null ? <span class="muted">—</span> : <a href={href(`/tasks/${id}`)}>#{id}</a>);

/** The row's Notion page: the API's notion_url, the one field that carries it. */
export function NotionLink({ url }: { url: string | null }) {
  return url ? <a href={url} target="_blank" rel="noopener noreferrer">Notion ↗</a> : <span class="muted">—</span>;
}
