-- Rate-limit rows are rewritten on every request of their key (one GCRA
-- step per request), often hundreds of times a second for one row.
--
-- The index on `tat` made every such update non-HOT (an indexed column
-- changed), so each step added entries to both indexes and a busy key's
-- lookups waded through dead versions. Without it, and with room left on
-- each page, the updates are heap-only and pruned in place. Forgetting idle
-- rows (a periodic DELETE on `tat`) scans the table instead, which holds one
-- row per recently active key and limit.
--
-- The table is UNLOGGED: each step is its own transaction, and a logged one
-- would write WAL and wait for its flush on every request. The price is
-- that a crash (or a failover: unlogged tables are not replicated) empties
-- the table, so every key starts again with its whole quota, as after an
-- idle period. Rate-limit state is a guard against floods, not a record.
DROP INDEX rate_limits_tat;
ALTER TABLE rate_limits SET (fillfactor = 50);
ALTER TABLE rate_limits SET UNLOGGED;
