//! Row structs and their conversions to and from the domain.
//!
//! The rows, their mapping and the event snapshot are
//! [`booking_store_common`]'s, shared with the other SQL store; this store
//! picks its backend and how it holds JSON columns.

pub(crate) use booking_store_common::{ACTIVE, MAX_OCCUPIED_SECS, corrupt, secs, secs_ceil};

use crate::schema::{
    bookings, calendar_connections, events, providers, services, webhook_attempts,
    webhook_deliveries, webhook_endpoints,
};

booking_store_common::sql_rows!(backend = diesel::sqlite::Sqlite, json = String);
