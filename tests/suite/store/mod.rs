//! The store contract suite (`contract`, and `webhooks` for the webhook
//! ports), run against every store we ship.

mod calendars;
mod contract;
mod feeds;
mod fixtures;
mod postgres;
mod ratelimit;
mod sqlite;
mod tls;
mod webhooks;
