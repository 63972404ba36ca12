// A stacked bar chart in plain HTML/CSS: scales to any width without shrinking its text.
export interface Bucket {
  start: number;
  end: number;
  succeeded: number;
  dead: number;
}

const hhmm = (t: number) => {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
};

export function ThroughputChart({ buckets, label }: { buckets: Bucket[]; label: string }) {
  const max = Math.max(1, ...buckets.map((b) => b.succeeded + b.dead));
  const total = buckets.reduce((a, b) => a + b.succeeded, 0);
  const failed = buckets.reduce((a, b) => a + b.dead, 0);
  const every = Math.ceil(buckets.length / 6);
  return (
    <figure class="chart" data-testid="throughput-chart">
      <div class="chart-bars" role="img" aria-label={`${label}: ${total} succeeded, ${failed} failed; the highest bar is ${max} tasks.`}>
        <div class="chart-scale" aria-hidden="true">
          <span>{max}</span>
          <span>0</span>
        </div>
        {buckets.map((b) => (
          <div class="bar" title={`${hhmm(b.start)}–${hhmm(b.end)}: ${b.succeeded} succeeded, ${b.dead} failed`}>
            <div class="bar-dead" style={{ height: `${(b.dead / max) * 100}%` }} />
            <div class="bar-ok" style={{ height: `${(b.succeeded / max) * 100}%` }} />
          </div>
        ))}
      </div>
      <div class="chart-axis" aria-hidden="true">
        {buckets.map((b, i) => <span>{i % every === 0 ? hhmm(b.start) : ""}</span>)}
      </div>
      <figcaption>
        <span class="key key-ok" /> succeeded <strong data-testid="throughput-succeeded">{total.toLocaleString("en-US")}</strong>
        <span class="key key-dead" /> failed (dead) <strong data-testid="throughput-failed">{failed.toLocaleString("en-US")}</strong>
      </figcaption>
    </figure>
  );
}

/** Buckets finished tasks by finished_at over the last `windowMs`. */
export function bucketize(tasks: { status: string; finished_at: string | null }[], windowMs: number, count: number, now = Date.now()): Bucket[] {
  const size = windowMs / count;
  const start = now - windowMs;
  const buckets: Bucket[] = Array.from({ length: count }, (_, i) => ({ start: start + i * size, end: start + (i + 1) * size, succeeded: 0, dead: 0 }));
  for (const t of tasks) {
    if (!t.finished_at) continue;
    const at = new Date(t.finished_at).getTime();
    if (at < start || at > now) continue;
    const b = buckets[Math.min(count - 1, Math.floor((at - start) / size))];
    if (t.status === "succeeded") b.succeeded++;
    else if (t.status === "dead") b.dead++;
  }
  return buckets;
}
