//! SQLite's background-sync claims (the one writer reads and updates the
//! due connections, and `BEGIN IMMEDIATE` keeps other processes out) and
//! calendar write claims (read on the read pool, leased in memory).

use booking_domain::ports::StorageError;
use diesel::prelude::*;

use super::conn::Conn;
use super::store::SqliteStore;
use crate::TxError;
use crate::calendar_writes::{ClaimedRow, claimed_columns, due_write, writes_with_connections};
use crate::calendars::due_for_sync;
use crate::rows::CalendarRow;
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
    /// Leases up to `limit` due rows of the calendar write outbox (the
    /// longest waiting first) until `until`, with their connections. The
    /// rows are read on the read pool and the leases kept in memory
    /// (`WriteClaims`, `write_claims.rs`), so a claim costs the one writer
    /// nothing: SQLite is served by one process, whose worker is the only
    /// claimer. A restart forgets the leases, so every unsent write is due
    /// again at once (as when a lease ends; the writes' stable identities
    /// make a repeat harmless).
    pub(crate) async fn lease_due_writes(
        &self,
        now: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedRow>, StorageError> {
        let claims = &self.inner.write_claims;
        // One claim at a time (see `WriteClaims::lease`).
        let _one = claims.claiming.lock().await;
        let (epoch, live) = claims.begin(now);
        // Rows leased and still due are read too, then skipped: read past
        // them.
        let read = i64::from(limit).saturating_add(i64::try_from(live).unwrap_or(i64::MAX));
        let rows: Vec<ClaimedRow> = self
            .read("claim_calendar_writes", move |conn| {
                Box::pin(async move {
                    let due = writes_with_connections()
                        .filter(due_write(now))
                        .order(calendar_writes::next_attempt_at.asc())
                        .limit(read)
                        .select((claimed_columns(), CalendarRow::as_select()));
                    Ok(diesel_async::RunQueryDsl::load(due, conn).await?)
                })
            })
            .await?;
        Ok(claims.lease(
            rows,
            |(write, connection)| {
                (
                    connection.account_id.clone(),
                    connection.id.clone(),
                    write.0.clone(),
                )
            },
            epoch,
            now,
            until,
            limit,
        ))
    }

    /// Ends the in-memory leases of `recorded` (after their results
    /// committed).
    pub(crate) fn release_write_claims(
        &self,
        recorded: impl Iterator<Item = crate::rows::WriteKey>,
    ) {
        self.inner.write_claims.release(recorded);
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
