import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStack } from "../stack/stack.ts";
import { connect, freePort } from "./common.ts";
const dataDir = mkdtempSync(join(tmpdir(), "orch-scratch-")); chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: false });
await stack.start();
await stack.functions.stop();
const sql = connect(stack.info.DB_URL, 1);
try {
  await sql.unsafe(`
    create table t (id bigint primary key, v int);
    insert into t select g, 0 from generate_series(1, 20000) g;
    create function f_plain(p_ids bigint[]) returns setof bigint language sql as $$ update t set v = v + 1 where id = any(p_ids) returning id $$;
    create function f_set(p_ids bigint[]) returns setof bigint language sql set enable_seqscan = off as $$ update t set v = v + 1 where id = any(p_ids) returning id $$;
  `);
  await sql.unsafe(`create table t2 (id serial primary key, v int)`);
  let t0 = performance.now();
  for (let i = 0; i < 100; i++) await sql`insert into t2 (v) values (1)`;
  console.log("single-row insert commit", ((performance.now() - t0) / 100).toFixed(2), "ms");
  t0 = performance.now();
  for (let i = 0; i < 100; i++) await sql`select 1`;
  console.log("select 1", ((performance.now() - t0) / 100).toFixed(2), "ms");
  await sql.begin(async (tx) => { const t1 = performance.now(); for (let i = 0; i < 80; i++) await tx.unsafe(`select count(*) from f_plain($1::bigint[])`, [Array.from({ length: 250 }, (_, k) => i * 250 + k + 1)]); console.log("f_plain in one tx", ((performance.now() - t1) / 80).toFixed(2), "ms/call"); });
  for (const f of ["f_plain", "f_set", "f_plain", "f_set"]) {
    const t = performance.now();
    for (let i = 0; i < 80; i++) await sql.unsafe(`select count(*) from ${f}($1::bigint[])`, [Array.from({ length: 250 }, (_, k) => i * 250 + k + 1)]);
    console.log(f, ((performance.now() - t) / 80).toFixed(2), "ms/call");
  }
} finally {
  await sql.end(); await stack.stop(); rmSync(dataDir, { recursive: true, force: true });
}
