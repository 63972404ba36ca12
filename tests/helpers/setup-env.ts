// Points in-process function code (api tests) at the test stack's database and keys.
import { inject } from "vitest";

const stack = inject("stack");
process.env.SUPABASE_URL = stack.API_URL;
process.env.SUPABASE_DB_URL = stack.DB_URL;
process.env.SUPABASE_ANON_KEY = stack.ANON_KEY;
process.env.SUPABASE_SERVICE_ROLE_KEY = stack.SERVICE_ROLE_KEY;
process.env.SUPABASE_SECRET_KEYS = JSON.stringify({ default: stack.SECRET_KEY });
process.env.SUPABASE_PUBLISHABLE_KEYS = JSON.stringify({ default: stack.PUBLISHABLE_KEY });
process.env.LOG_LEVEL ??= "warn";
