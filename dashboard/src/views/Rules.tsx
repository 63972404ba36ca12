// Rules: which events become which tasks.
import type { Rule, RuleList } from "../api-types.ts";
import { DetailResource, ResourcePage } from "../components/resource.tsx";
import { Badge, Fields } from "../components/ui.tsx";
import { href, navigate, type Route } from "../router.ts";

export function Rules({ route }: { route: Route }) {
  const selected = route.parts[1];
  return (
    <ResourcePage<RuleList, Rule> title="Rules" path="/rules" route={route}
      detail={(
        <DetailResource<Rule> key={selected} path={`/rules/${encodeURIComponent(selected)}`} label={`Rule ${selected}`} onClose={() => navigate("/rules")}>
          {(r) => <Fields value={r} />}
        </DetailResource>
      )}
      rows={(b) => b.rules}
      rowKey={(r) => r.id}
      filters={[{ key: "enabled", label: "Enabled", options: ["true", "false"] }]}
      empty="No event rules."
      columns={[
        { key: "name", label: "name", render: (r) => <a href={href(`/rules/${r.id}`)}>{r.name}</a> },
        { key: "enabled", label: "enabled", render: (r) => <Badge value={r.enabled ? "enabled" : "disabled"} /> },
        { key: "source", label: "source", optional: true },
        { key: "type", label: "event type", render: (r) => <code>{r.type}</code> },
        { key: "min_level", label: "min level", optional: true },
        { key: "task_type", label: "task type", render: (r) => <code>{r.task_type}</code> },
      ]}
    />
  );
}
