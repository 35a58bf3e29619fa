-- Rate-limit rows are rewritten on every request of their key (one GCRA
-- step per request), often hundreds of times a second for one row. The index
-- on `tat` made every such update non-HOT (an indexed column changed), so
-- each step added entries to both indexes and a busy key's lookups waded
-- through dead versions. Without it, and with room left on each page, the
-- updates are heap-only and pruned in place. Forgetting idle rows (a
-- periodic DELETE on `tat`) scans the table instead, which holds one row per
-- recently active key and limit.
DROP INDEX rate_limits_tat;
ALTER TABLE rate_limits SET (fillfactor = 50);
