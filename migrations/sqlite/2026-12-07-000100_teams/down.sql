DROP INDEX bookings_service_provider;
DELETE FROM bookings WHERE instr(id, '~') > 0;
ALTER TABLE bookings DROP COLUMN provider_ids;
ALTER TABLE services DROP COLUMN assignment;
ALTER TABLE services DROP COLUMN provider_ids;
