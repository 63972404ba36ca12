// SOPs: the latest version of each, and one version's Markdown (every version can be picked).
import { call } from "../api.ts";
import type { Sop, SopPage, SopSummary } from "../api-types.ts";
import { DetailPane, Loaded, NotionLink, ResourcePage, TaskLink } from "../components/resource.tsx";
import { cell } from "../components/ui.tsx";
import { useApp } from "../context.ts";
import { useLoad } from "../hooks.ts";
import { renderMarkdown } from "../markdown.ts";
import { href, navigate, type Route } from "../router.ts";

export function Sops({ route }: { route: Route }) {
  const selected = route.parts[1];
  return (
    <ResourcePage<SopPage, SopSummary> title="SOPs" path="/sops" route={route} wide
      detail={<SopDetail key={selected} slug={selected} version={route.query.get("version")} />}
      rows={(b) => b.sops}
      next={(b) => b.next_cursor}
      rowKey={(s) => s.slug}
      baseQuery={{ latest: "true" }}
      empty="No SOPs yet. POST /functions/v1/tasks/generate-sop writes one."
      columns={[
        { key: "slug", label: "slug", render: (s) => <a href={href(`/sops/${s.slug}`)}>{s.slug}</a> },
        { key: "title", label: "title" },
        { key: "version", label: "version" },
        { key: "generator", label: "generator", optional: true },
        { key: "created_at", label: "written", optional: true },
      ]}
    />
  );
}

function SopDetail({ slug, version }: { slug: string; version: string | null }) {
  const { session } = useApp();
  const read = (v: string | undefined) => (signal: AbortSignal) =>
    call<Sop>(session, `/sops/${encodeURIComponent(slug)}`, { query: { version: v, format: "json" }, signal });
  const sop = useLoad(read(version ?? undefined), `sop:${slug}:${version ?? ""}`);
  const latest = useLoad(read(undefined), `sop:${slug}:latest`);
  const versions = latest.data?.version ?? 0;
  const close = () => navigate("/sops");
  return (
    <DetailPane title={sop.data?.title ?? slug} label={`SOP ${slug}`} onClose={close} closeLabel="Close the SOP">
      <Loaded state={sop} what="Loading the SOP" errorTitle="Could not load the SOP">
        {(s) => (
          <>
            <div class="sop-meta">
              {versions > 0 && (
                <label>
                  Version{" "}
                  <select value={String(s.version)} onChange={(e) => navigate(`/sops/${slug}`, { version: e.currentTarget.value })}>
                    {Array.from({ length: versions }, (_, i) => versions - i).map((v) => (
                      <option value={String(v)}>v{v}{v === versions ? " (latest)" : ""}</option>
                    ))}
                  </select>
                </label>
              )}
              <span class="muted small">{s.generator} · {cell(s.created_at)}</span>
              {s.source_task_id != null && <span class="small">from task <TaskLink id={s.source_task_id} /></span>}
              {s.notion_url && <span class="small"><NotionLink url={s.notion_url} /></span>}
            </div>
            <article class="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(s.body_md) }} />
          </>
        )}
      </Loaded>
    </DetailPane>
  );
}
