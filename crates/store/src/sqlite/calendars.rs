//! SQLite's background-sync claims: the one writer reads and updates the
//! due connections (and `BEGIN IMMEDIATE` keeps other processes out).

use diesel::prelude::*;

use super::conn::Conn;
use super::store::SqliteStore;
use crate::TxError;
use crate::calendar_writes::due_write;
use crate::calendars::due_for_sync;
use crate::schema::{calendar_connections, calendar_writes};

impl SqliteStore {
    /// The connections due for a background sync (the oldest attempts
    /// first, at most `limit`): no other writer runs meanwhile, in this
    /// process or (`BEGIN IMMEDIATE`) another.
    pub(crate) async fn due_calendars(
        conn: &mut Conn,
        before: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<i64>, TxError> {
        let due = calendar_connections::table
            .filter(due_for_sync(before, now))
            .order(calendar_connections::sync_attempted_at.asc())
            .limit(i64::from(limit))
            .select(calendar_connections::seq);
        Ok(diesel_async::RunQueryDsl::load(due, conn).await?)
    }
}

impl SqliteStore {
    /// The due rows of the calendar write outbox (the longest waiting
    /// first, at most `limit`): no other writer runs meanwhile.
    pub(crate) async fn due_writes(
        conn: &mut Conn,
        now: i64,
        limit: u32,
    ) -> Result<Vec<i64>, TxError> {
        let due = calendar_writes::table
            .filter(due_write(now))
            .order(calendar_writes::next_attempt_at.asc())
            .limit(i64::from(limit))
            .select(calendar_writes::seq);
        Ok(diesel_async::RunQueryDsl::load(due, conn).await?)
    }
}

impl SqliteStore {
    /// The writing connections of `provider` (inside a write: no other
    /// writer runs meanwhile, so a new connection's backfill and a booking
    /// write never overlap).
    pub(crate) async fn writers(
        conn: &mut Conn,
        account: &str,
        provider: &str,
    ) -> Result<Vec<String>, TxError> {
        let writers = calendar_connections::table
            .filter(calendar_connections::account_id.eq(account))
            .filter(calendar_connections::provider_id.eq(provider))
            .filter(calendar_connections::write.eq(true))
            .select(calendar_connections::id);
        Ok(diesel_async::RunQueryDsl::load(writers, conn).await?)
    }
}
