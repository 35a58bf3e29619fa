//! The `NOTIFY` channels the Postgres stores of one database signal each
//! other on, and sending on them. Below `cache.rs`, `listen.rs` and
//! `webhooks.rs`, which all name them.

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::sql::Statement;

/// "Deliveries were queued": wakes the delivery workers.
pub(crate) const WEBHOOKS: &str = "booking_webhooks";

/// "This key changed" (payload: its lookup).
pub(crate) const KEYS: &str = "booking_keys";

/// "This service changed" (payload: its cache group, `account/id`).
pub(crate) const SERVICES: &str = "booking_services";

/// "These providers' busy time changed" (payload: `account/provider`
/// groups separated by commas).
pub(crate) const BUSY: &str = "booking_busy";

/// Sends `payload` on `channel`: inside a transaction it leaves at commit
/// (and not at all on rollback).
pub(crate) async fn send(
    conn: &mut AsyncPgConnection,
    channel: &'static str,
    payload: String,
) -> diesel::QueryResult<()> {
    Statement::<()>::new("SELECT pg_notify($1, $2)::text")
        .bind::<Text, _>(channel)
        .bind::<Text, _>(payload)
        .execute(conn)
        .await?;
    Ok(())
}
