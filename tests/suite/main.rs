//! The integration suite of booking-api.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod architecture;
mod store;
