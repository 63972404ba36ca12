// The pure SQL helpers behind events: message normalisation and fingerprints
// (one definition, in orchestrator.normalize_message), level words, secret names.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sql } from "../helpers/stack.ts";

async function normalize(messages: (string | null)[]): Promise<string[]> {
  const rows = await sql()<{ n: string }[]>`
    select orchestrator.normalize_message(m) as n from unnest(${messages}::text[]) with ordinality as u(m, i) order by i`;
  return rows.map((r) => r.n);
}

async function fingerprints(rows: [string, string, string | null][]): Promise<string[]> {
  const out = await sql()<{ f: string }[]>`
    select orchestrator.event_fingerprint(s, t, m) as f
    from unnest(${rows.map((r) => r[0])}::text[], ${rows.map((r) => r[1])}::text[], ${rows.map((r) => r[2])}::text[])
         with ordinality as u(s, t, m, i) order by i`;
  return out.map((r) => r.f);
}

describe("normalize_message", () => {
  it("replaces timestamps, uuids, hex and numbers, lower-cases and collapses whitespace", async () => {
    const cases: [string | null, string][] = [
      ["Payment FAILED for order 48213", "payment failed for order <n>"],
      ["user 9f1c2d3e-1111-4a2b-8c3d-0123456789AB not found", "user <uuid> not found"],
      ["at 2026-11-24T01:02:03.456Z and 2026-11-24 10:00:00+02 and 2026-11-24", "at <ts> and <ts> and <ts>"],
      ["took 12.5ms at 01:02:03", "took <n>.<n>ms at <ts>"],
      ["trace 0xDEADBEEF sha 5f3a9c1e7b key_ab12cd34", "trace <hex> sha <hex> key_<hex>"],
      ["word facade and deadbeef stay", "word facade and deadbeef stay"],
      ["  spaced\tout \n message  ", "spaced out message"],
      ["user42 in shard 7", "user<n> in shard <n>"],
      [null, ""],
    ];
    expect(await normalize(cases.map((c) => c[0]))).toEqual(cases.map((c) => c[1]));
  });

  it("property: messages that differ only in numbers, ids, timestamps and hex share a fingerprint", async () => {
    const hex = fc.stringMatching(/^[0-9a-f]{6,16}$/).filter((s) => /[a-f]/.test(s) && /[0-9]/.test(s));
    const sample = fc.record({
      n: fc.nat({ max: 10_000_000 }),
      uuid: fc.uuid(),
      at: fc.date({ min: new Date("2000-01-01"), max: new Date("2099-12-31"), noInvalidDate: true }),
      hex,
      f: fc.double({ min: 0, max: 1e6, noNaN: true }).map((x) => x.toFixed(2)),
    });
    const render = (s: { n: number; uuid: string; at: Date; hex: string; f: string }) =>
      `Order ${s.n} for user ${s.uuid} failed at ${s.at.toISOString()} (trace 0x${s.hex}, ref ${s.hex}) after ${s.f}s`;
    const pairs = fc.sample(fc.tuple(sample, sample), 200);
    const fps = await fingerprints(pairs.flatMap(([a, b]) => [["knisoci", "log", render(a)], ["knisoci", "log", render(b)]] as [string, string, string][]));
    expect(new Set(fps).size).toBe(1);
  });

  it("property: a different word, source or type gives a different fingerprint", async () => {
    const words = fc.sample(fc.stringMatching(/^[g-z]{3,12}$/), 100);
    const unique = [...new Set(words)];
    const fps = await fingerprints(unique.map((w) => ["knisoci", "log", `checkout ${w} failed for order 12`] as [string, string, string]));
    expect(new Set(fps).size).toBe(unique.length);
    const [a, b, c] = await fingerprints([["knisoci", "log", "x 1"], ["candyland", "log", "x 1"], ["knisoci", "other", "x 1"]]);
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it("is what the events table stores (a generated column), for every way in", async () => {
    const [row] = await sql()<{ fingerprint: string; expected: string }[]>`
      with e as (
        insert into orchestrator.events (source, type, level, message)
        values ('fp-check', 'probe', 'debug', 'Job 123 took 45 ms') returning *)
      select e.fingerprint, orchestrator.event_fingerprint('fp-check', 'probe', 'Job 9 took 1 ms') as expected from e`;
    expect(row.fingerprint).toBe(row.expected);
    expect(row.fingerprint).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("to_level, is_secret_name, strip_secrets", () => {
  it("maps the level words apps use, and returns null for others", async () => {
    const words = ["DEBUG", "trace", "Info", "notice", "WARNING", "warn", "err", "Error", "CRITICAL", "panic", "fatal", "loud", null];
    const rows = await sql()<{ l: string | null }[]>`
      select orchestrator.to_level(w)::text as l from unnest(${words}::text[]) with ordinality as u(w, i) order by i`;
    expect(rows.map((r) => r.l)).toEqual(["debug", "debug", "info", "info", "warn", "warn", "error", "error", "fatal", "fatal", "fatal", null, null]);
  });

  it("knows secret-looking names and leaves ordinary ones", async () => {
    const secret = ["password", "password_hash", "api_key", "apikey", "stripe_secret", "session_token", "access_token", "refresh_token", "private_key", "pin", "otp_code", "salt", "card_cvv", "Authorization", "cookie"];
    const plain = ["id", "user_id", "message", "level", "meta", "spinner", "basalt", "display_name", "email", "total_cents", "pinned_at_x"];
    const rows = await sql()<{ n: string; s: boolean }[]>`
      select n, orchestrator.is_secret_name(n) as s from unnest(${[...secret, ...plain]}::text[]) n`;
    const flagged = rows.filter((r) => r.s).map((r) => r.n).sort();
    expect(flagged).toEqual([...secret].sort());
  });

  it("strips secret-named keys at any depth, arrays included", async () => {
    const [{ v }] = await sql()`select orchestrator.strip_secrets(${sql().json({
      id: 1, password: "x", nested: { api_key: "k", ok: [{ token: 1, v: 2 }, "s"] }, list: [1, 2],
    } as never)}) as v`;
    expect(v).toEqual({ id: 1, nested: { ok: [{ v: 2 }, "s"] }, list: [1, 2] });
  });
});
