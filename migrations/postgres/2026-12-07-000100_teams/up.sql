-- Issue 15's team services.
-- `services.provider_ids`: a team's providers, comma-separated in team
-- order (NULL: one provider, `provider_id`; else `provider_id` is the
-- first); `assignment`: 'round_robin' or 'collective' (NULL with them).
ALTER TABLE services ADD COLUMN provider_ids TEXT;
ALTER TABLE services ADD COLUMN assignment TEXT
    CHECK (assignment IN ('round_robin', 'collective'));
-- `bookings.provider_ids`: every provider a collective booking blocks,
-- comma-separated, `provider_id` first (NULL otherwise). Such a booking
-- also has one more row per other provider (a "seat"): the same columns
-- but `provider_id` and `id`, which is `<booking id>~<provider id>` (never
-- a valid booking id). Seats are ordinary rows to `bookings_no_overlap`,
-- so the exclusion constraint keeps every provider of a collective booking
-- apart from their other bookings, across every server instance.
ALTER TABLE bookings ADD COLUMN provider_ids TEXT;
-- Round-robin assignment: each provider's bookings of a service, latest
-- creation last.
CREATE INDEX bookings_service_provider ON bookings (account_id, service_id, provider_id, created_at);
