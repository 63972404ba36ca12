// The connection settings: a plan's max_connections for the local PostgreSQL, and how the functions'
// db module chooses between the pooler and the direct URL (and where LISTEN can go).
import { afterEach, describe, expect, it } from "vitest";
import { maxConnectionsSetting, StackError } from "../../scripts/stack/postgres.ts";
import { canListen, poolMode } from "../../functions/_shared/db.ts";

describe("ORCH_PG_MAX_CONNECTIONS", () => {
  it("defaults to a Micro's 60 and takes compute sizes or a number", () => {
    expect(maxConnectionsSetting(undefined)).toBe(60);
    expect(maxConnectionsSetting("")).toBe(60);
    expect(maxConnectionsSetting("micro")).toBe(60);
    expect(maxConnectionsSetting("Small")).toBe(90);
    expect(maxConnectionsSetting("medium")).toBe(120);
    expect(maxConnectionsSetting("250")).toBe(250);
  });

  it("refuses anything else, saying what it takes", () => {
    for (const bad of ["huge", "5", "60.5", "-1", "1e9"]) {
      expect(() => maxConnectionsSetting(bad)).toThrow(StackError);
    }
    expect(() => maxConnectionsSetting("huge")).toThrow(/compute size \(nano, micro, small/);
  });
});

describe("poolMode and canListen", () => {
  const saved = { db: process.env.SUPABASE_DB_URL, pooler: process.env.DB_POOLER_URL };
  afterEach(() => {
    process.env.SUPABASE_DB_URL = saved.db;
    if (saved.pooler === undefined) delete process.env.DB_POOLER_URL;
    else process.env.DB_POOLER_URL = saved.pooler;
  });
  const direct = "postgresql://postgres:pw@db.abc.supabase.co:5432/postgres";
  const supavisor = "postgresql://postgres.abc:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres";

  it("is direct with SUPABASE_DB_URL alone, and LISTEN works there", () => {
    process.env.SUPABASE_DB_URL = direct;
    delete process.env.DB_POOLER_URL;
    expect(poolMode()).toBe("direct");
    expect(canListen()).toBe(true);
  });

  it("goes through the pooler when DB_POOLER_URL is set; LISTEN still has the direct URL", () => {
    process.env.SUPABASE_DB_URL = direct;
    process.env.DB_POOLER_URL = supavisor;
    expect(poolMode()).toBe("pooler");
    expect(canListen()).toBe(true);
  });

  it("treats a SUPABASE_DB_URL on Supavisor's port 6543 as a pooler, where LISTEN cannot work", () => {
    process.env.SUPABASE_DB_URL = supavisor;
    delete process.env.DB_POOLER_URL;
    expect(poolMode()).toBe("pooler");
    expect(canListen()).toBe(false);
  });
});
