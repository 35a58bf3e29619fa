-- pgbench transaction: the insert POST /v1/bookings makes (booking row and
-- event row in one transaction, through the same exclusion constraint).
-- ACCOUNT and PROVIDER are substituted by scripts/bench-http.sh.
BEGIN;
SELECT nextval('pgbench_slot') AS slot \gset
INSERT INTO bookings (id, account_id, service_id, provider_id, duration_min, scheduled_at, end_at,
    occupied_start, occupied_end, buffer_before, buffer_after, status, customer_email, customer_name,
    price_minor, currency, notes, metadata, cancel_reason, sequence, created_at, updated_at)
VALUES ('bk_pgbench_' || :slot, 'ACCOUNT', 'srv_quarter', 'PROVIDER', 15,
    5000000000 + :slot * 900, 5000000000 + :slot * 900 + 900,
    5000000000 + :slot * 900, 5000000000 + :slot * 900 + 900, 0, 0, 'pending',
    'load@example.com', 'Load Test', 1000, 'USD', NULL, '{}'::jsonb, NULL, 0,
    extract(epoch from now())::bigint, extract(epoch from now())::bigint);
INSERT INTO events (id, account_id, booking_id, kind, previous_scheduled_at, created_at, booking)
VALUES ('evt_pgbench_' || :slot, 'ACCOUNT', 'bk_pgbench_' || :slot, 'booking.created', NULL,
    extract(epoch from now())::bigint,
    jsonb_build_object('id', 'bk_pgbench_' || :slot, 'account_id', 'ACCOUNT', 'service_id', 'srv_quarter',
        'provider_id', 'PROVIDER', 'duration_min', 15, 'scheduled_at', 5000000000 + :slot * 900,
        'buffer_before', 0, 'buffer_after', 0, 'status', 'pending', 'customer_email', 'load@example.com',
        'customer_name', 'Load Test', 'price_minor', 1000, 'currency', 'USD', 'notes', NULL,
        'metadata', '{}'::jsonb, 'cancel_reason', NULL, 'sequence', 0,
        'created_at', extract(epoch from now())::bigint, 'updated_at', extract(epoch from now())::bigint));
COMMIT;
