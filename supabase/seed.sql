-- Local demo data, loaded by `npm start` (and by `supabase db reset` where Docker runs).
-- The KniSoci/Candyland demo tables and their watchers arrive with the events issue.
select 1;
