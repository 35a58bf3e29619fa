-- pgbench transaction: the lean reference insert of issue 12. One booking
-- row through an exclusion constraint (provider, time range) plus one event
-- row, in one transaction, bookings spread over 100 providers. It is what a
-- booking insert costs at least on this cluster: compare the API with it.
-- The tables are made by scripts/bench-http.sh.
BEGIN;
SELECT nextval('lean_slot') AS slot \gset
INSERT INTO lean_bookings (id, provider_id, during, status, customer_email, created_at)
VALUES (:slot, 'prv_' || (:slot % 100),
    int8range(5000000000 + (:slot / 100) * 900, 5000000000 + (:slot / 100) * 900 + 900, '[)'),
    'pending', 'load@example.com', extract(epoch from now())::bigint);
INSERT INTO lean_events (booking_id, kind, payload)
VALUES (:slot, 'booking.created', jsonb_build_object('id', :slot, 'status', 'pending'));
COMMIT;
