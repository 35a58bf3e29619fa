//! End-to-end tests of the HTTP contract (`/work/shared/api.md`) on the real
//! `booking-api` binary: each test starts its own server on 127.0.0.1 with a
//! temporary SQLite database and talks to it over HTTP.

mod availability;
mod backup;
mod bookings;
mod caldav;
mod calendar;
mod calendars;
mod cli;
mod concurrency;
mod config;
mod errors;
mod events;
mod fuzz;
mod holds;
mod hostile;
mod hours;
mod idempotency;
mod isolation;
mod lifecycle;
mod manage;
mod manage_page;
mod ops;
mod postgres;
mod pricing;
mod providers;
mod rate_headers;
mod ratelimit;
mod reminders;
mod safety;
mod secrets;
mod services;
mod shutdown;
mod teams;
mod time_off;
mod unavailable;
mod webhooks;
mod writeback;

use booking_tests::{Api, TestServer};

/// A fresh server and a key of account `acme`.
pub fn setup() -> (TestServer, Api) {
    let server = TestServer::start();
    let api = server.api("acme");
    (server, api)
}

/// A fresh server, a key of `acme`, and the seed service created.
pub async fn setup_seed() -> (TestServer, Api) {
    let (server, api) = setup();
    api.create_seed_service().await;
    (server, api)
}
