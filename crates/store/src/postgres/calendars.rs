//! Postgres's background-sync claims: `SKIP LOCKED`, so processes claiming
//! at once take disjoint connections.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::store::{Conn, PostgresStore};
use crate::TxError;
use crate::calendar_writes::due_write;
use crate::calendars::due_for_sync;
use crate::schema::{calendar_connections, calendar_writes};

impl PostgresStore {
    /// The connections due for a background sync (the oldest attempts
    /// first, at most `limit`), locked for this transaction; rows another
    /// claim holds are skipped.
    pub(crate) async fn due_calendars(
        conn: &mut Conn,
        before: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<i64>, TxError> {
        Ok(calendar_connections::table
            .filter(due_for_sync(before, now))
            .order(calendar_connections::sync_attempted_at.asc())
            .limit(i64::from(limit))
            .select(calendar_connections::seq)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?)
    }
}

impl PostgresStore {
    /// The due rows of the calendar write outbox (the longest waiting
    /// first, at most `limit`), locked for this transaction; rows another
    /// claim holds are skipped.
    pub(crate) async fn due_writes(
        conn: &mut Conn,
        now: i64,
        limit: u32,
    ) -> Result<Vec<i64>, TxError> {
        Ok(calendar_writes::table
            .filter(due_write(now))
            .order(calendar_writes::next_attempt_at.asc())
            .limit(i64::from(limit))
            .select(calendar_writes::seq)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?)
    }
}

impl PostgresStore {
    /// The writing connections of `provider`, through the function
    /// `calendar_writers` (the shared `calendars/…` lock, then a fresh
    /// snapshot: see its migration), so a booking write and a new writing
    /// connection's backfill never both miss the booking.
    pub(crate) async fn writers(
        conn: &mut Conn,
        account: &str,
        provider: &str,
    ) -> Result<Vec<String>, TxError> {
        Ok(
            crate::sql::Statement::<diesel::sql_types::Text>::new(
                "SELECT calendar_writers($1, $2)",
            )
            .bind::<diesel::sql_types::Text, _>(account.to_owned())
            .bind::<diesel::sql_types::Text, _>(provider.to_owned())
            .load(conn)
            .await?,
        )
    }
}
