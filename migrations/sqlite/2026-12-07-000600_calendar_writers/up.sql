-- Nothing on SQLite: its writes run one at a time (the writer thread, and
-- BEGIN IMMEDIATE across processes), so a new writing connection's backfill
-- and a booking write never overlap. Kept so both stores have the same
-- migrations (Postgres adds the function calendar_writers).
SELECT 1;
