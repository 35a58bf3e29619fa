//! Postgres's background-sync and calendar write claims: `SKIP LOCKED`, so
//! processes claiming at once take disjoint rows.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::store::{Conn, PostgresStore};
use booking_domain::ports::StorageError;
use diesel_async::AsyncConnection;

use crate::TxError;
use crate::calendar_writes::{ClaimedRow, claimed_columns, due_write, writes_with_connections};
use crate::calendars::due_for_sync;
use crate::rows::{CalendarRow, WriteKey};
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
    /// Leases up to `limit` due rows of the calendar write outbox (the
    /// longest waiting first) until `until`, in the database: locked with
    /// `SKIP LOCKED` in one transaction, so processes claiming at once take
    /// disjoint rows, and `lease_until` set. Their connections with them.
    pub(crate) async fn lease_due_writes(
        &self,
        now: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedRow>, StorageError> {
        // A read first: an idle outbox (the usual case, polled every
        // second) costs no write transaction.
        let any_due: bool = self
            .read("calendar_writes_due", move |conn| {
                Box::pin(async move {
                    Ok(diesel::select(diesel::dsl::exists(
                        calendar_writes::table.filter(due_write(now)),
                    ))
                    .get_result(conn)
                    .await?)
                })
            })
            .await?;
        if !any_due {
            return Ok(Vec::new());
        }
        self.write("claim_calendar_writes", move |conn| {
            Box::pin(async move {
                conn.transaction(async |conn| {
                    let due: Vec<i64> = calendar_writes::table
                        .filter(due_write(now))
                        .order(calendar_writes::next_attempt_at.asc())
                        .limit(i64::from(limit))
                        .select(calendar_writes::seq)
                        .for_update()
                        .skip_locked()
                        .load(conn)
                        .await?;
                    if due.is_empty() {
                        return Ok(Vec::new());
                    }
                    diesel::update(
                        calendar_writes::table.filter(calendar_writes::seq.eq_any(&due)),
                    )
                    .set(calendar_writes::lease_until.eq(Some(until)))
                    .execute(conn)
                    .await?;
                    Ok(writes_with_connections()
                        .filter(calendar_writes::seq.eq_any(&due))
                        .order(calendar_writes::seq.asc())
                        .select((claimed_columns(), CalendarRow::as_select()))
                        .load(conn)
                        .await?)
                })
                .await
            })
        })
        .await
        .map_err(TxError::storage)
    }

    /// Nothing to do: a Postgres lease is its row's `lease_until`, which
    /// the results' transaction clears.
    pub(crate) fn release_write_claims(&self, _: impl Iterator<Item = WriteKey>) {}
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
