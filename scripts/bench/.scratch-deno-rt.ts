import postgres from "postgres";
const sql = postgres(Deno.env.get("SUPABASE_DB_URL")!, { max: 2 });
for (const n of [1, 100, 1000]) {
  const t = performance.now();
  for (let i = 0; i < 200; i++) await sql`select ${i}::int as i, repeat('x', ${n}) as s`;
  console.error(`select with ${n}B: ${((performance.now() - t) / 200).toFixed(3)} ms/RT`);
}
const ids = Array.from({ length: 250 }, (_, i) => i);
let t = performance.now();
for (let i = 0; i < 50; i++) await sql`select count(*) from unnest(${ids}::bigint[])`;
console.error(`250-id array param: ${((performance.now() - t) / 50).toFixed(3)} ms/RT`);
t = performance.now();
for (let i = 0; i < 50; i++) await sql`select g, '{}'::jsonb as payload, now() as at, gen_random_uuid() as u from generate_series(1, 250) g`;
console.error(`250 rows back: ${((performance.now() - t) / 50).toFixed(3)} ms/RT`);
await sql.end();
Deno.exit(0);
