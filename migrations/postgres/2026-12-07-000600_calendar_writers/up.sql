-- The writing calendar connections of a provider, read so that a new
-- writing connection's backfill and a concurrent booking write never both
-- miss the booking (issue 17): the function first takes the shared
-- transaction-scoped advisory lock `calendars/{account}/{provider}` (the
-- creation of a connection holds it exclusively, from before its insert
-- until its commit), and then reads with a snapshot of its own (a VOLATILE
-- function's queries each take one under READ COMMITTED), not the calling
-- statement's, which may predate the connection's commit. So a booking
-- write either runs before the connection's transaction takes its lock
-- (and the backfill, after it, sees the committed booking) or reads after
-- that transaction committed (and queues the write itself).
CREATE FUNCTION calendar_writers(account TEXT, provider TEXT) RETURNS SETOF TEXT
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(
        hashtextextended('calendars/' || account || '/' || provider, 0));
    RETURN QUERY SELECT k.id FROM calendar_connections k
        WHERE k.account_id = account AND k.provider_id = provider AND k.write;
END
$$;
