DROP TABLE rate_limits;
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE bookings;
DROP TABLE services;
DROP TABLE providers;
DROP TABLE api_keys;
DROP TABLE accounts;
