//! SQLite's background-sync claims (the one writer reads and updates the
//! due connections, and `BEGIN IMMEDIATE` keeps other processes out) and
//! calendar write claims (read on the read pool, leased in memory).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use booking_domain::ports::StorageError;
use diesel::prelude::*;

use super::conn::Conn;
use super::store::SqliteStore;
use crate::TxError;
use crate::calendar_writes::{
    ClaimedRow, WriteKey, claimed_columns, due_write, writes_with_connections,
};
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
    /// ([`WriteClaims`]), so a claim costs the one writer nothing: SQLite is
    /// served by one process, whose worker is the only claimer. A restart
    /// forgets the leases, so every unsent write is due again at once (as
    /// when a lease ends; the writes' stable identities make a repeat
    /// harmless).
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
    pub(crate) fn release_write_claims(&self, recorded: &[WriteKey]) {
        self.inner.write_claims.release(recorded);
    }
}

/// The calendar write outbox's leases on SQLite, in memory: each claimed
/// row's key and the end of its lease (Unix seconds), and the rows whose
/// results were recorded since the oldest claim still reading began.
#[derive(Default)]
pub(crate) struct WriteClaims {
    state: Mutex<Leases>,
    /// Held by a claim from before its read until its leases are taken.
    claiming: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Leases {
    until: HashMap<WriteKey, i64>,
    /// Rows whose leases ended by a recorded result, with the `epoch` of
    /// that release.
    released: HashMap<WriteKey, u64>,
    /// Releases so far.
    epoch: u64,
}

impl WriteClaims {
    fn lock(&self) -> std::sync::MutexGuard<'_, Leases> {
        // A panic while holding it leaves maps that are still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Before a claim's read: the releases so far, and how many leases have
    /// not ended at `now`.
    fn begin(&self, now: i64) -> (u64, usize) {
        let leases = self.lock();
        let live = leases.until.values().filter(|end| **end > now).count();
        (leases.epoch, live)
    }

    /// Of `rows` (due at `now` as read after [`Self::begin`] gave `epoch`;
    /// `key` names each one's outbox row),
    /// the first `limit` neither leased nor released since that read began,
    /// each now leased until `until`. A row released after `epoch` may have
    /// been read before its result committed, so it is left to the next
    /// claim, whose read sees that result (results commit before their
    /// release). Leases ended by `now` and releases no later claim needs
    /// are dropped (claims run one at a time, so every later one begins
    /// after this).
    fn lease<R>(
        &self,
        rows: Vec<R>,
        key: impl Fn(&R) -> WriteKey,
        epoch: u64,
        now: i64,
        until: i64,
        limit: u32,
    ) -> Vec<R> {
        let mut leases = self.lock();
        leases.until.retain(|_, end| *end > now);
        let mut claimed = Vec::new();
        for row in rows {
            if claimed.len() >= limit as usize {
                break;
            }
            let key = key(&row);
            let released_since = leases.released.get(&key).is_some_and(|at| *at > epoch);
            if released_since || leases.until.contains_key(&key) {
                continue;
            }
            leases.until.insert(key, until);
            claimed.push(row);
        }
        leases.released.clear();
        claimed
    }

    fn release(&self, recorded: &[WriteKey]) {
        let mut leases = self.lock();
        leases.epoch += 1;
        let epoch = leases.epoch;
        for key in recorded {
            leases.until.remove(key);
            leases.released.insert(key.clone(), epoch);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(booking: &str) -> WriteKey {
        ("acc_1".into(), "cal_1".into(), booking.into())
    }

    fn rows(bookings: &[&'static str]) -> Vec<&'static str> {
        bookings.to_vec()
    }

    #[test]
    fn a_leased_row_is_skipped_until_its_lease_ends() {
        let claims = WriteClaims::default();
        let (epoch, live) = claims.begin(100);
        assert_eq!(live, 0);
        let first = claims.lease(rows(&["b1", "b2", "b3"]), |b| key(b), epoch, 100, 160, 2);
        assert_eq!(first, ["b1", "b2"], "at most the limit, in order");
        let (epoch, live) = claims.begin(120);
        assert_eq!(live, 2);
        let second = claims.lease(rows(&["b1", "b2", "b3"]), |b| key(b), epoch, 120, 180, 10);
        assert_eq!(second, ["b3"], "leased rows skipped");
        let (epoch, live) = claims.begin(160);
        assert_eq!(live, 1, "b1 and b2's leases ended at 160");
        let third = claims.lease(rows(&["b1", "b2", "b3"]), |b| key(b), epoch, 160, 220, 10);
        assert_eq!(third, ["b1", "b2"], "ended leases claimable again");
    }

    #[test]
    fn a_row_recorded_while_a_claim_reads_waits_for_the_next_claim() {
        let claims = WriteClaims::default();
        let (epoch, _) = claims.begin(100);
        assert_eq!(
            claims.lease(rows(&["b1"]), |b| key(b), epoch, 100, 400, 10),
            ["b1"]
        );
        // A claim begins; b1's result commits and its lease is released
        // before that claim's read ends, which may predate the result.
        let (epoch, _) = claims.begin(101);
        claims.release(&[key("b1")]);
        let racing = claims.lease(rows(&["b1"]), |b| key(b), epoch, 101, 401, 10);
        assert!(
            racing.is_empty(),
            "read before the result: not claimed again"
        );
        // The next claim's read sees the result: if the row is still due
        // (its booking changed meanwhile), it is claimed.
        let (epoch, live) = claims.begin(102);
        assert_eq!(live, 0);
        assert_eq!(
            claims.lease(rows(&["b1"]), |b| key(b), epoch, 102, 402, 10),
            ["b1"]
        );
    }

    #[test]
    fn a_release_before_a_claim_begins_frees_the_row_for_it() {
        let claims = WriteClaims::default();
        let (epoch, _) = claims.begin(100);
        claims.lease(rows(&["b1"]), |b| key(b), epoch, 100, 400, 10);
        claims.release(&[key("b1")]);
        let (epoch, live) = claims.begin(101);
        assert_eq!(live, 0);
        assert_eq!(
            claims.lease(rows(&["b1"]), |b| key(b), epoch, 101, 401, 10),
            ["b1"]
        );
    }
}
