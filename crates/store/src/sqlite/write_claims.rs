//! SQLite's calendar write leases, in memory (see `calendars.rs`,
//! `lease_due_writes`): SQLite is served by one process, whose calendar
//! write worker is the only claimer.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::rows::WriteKey;

/// The calendar write outbox's leases on SQLite, in memory: each claimed
/// row's key and the end of its lease (Unix seconds), and the rows whose
/// results were recorded since the oldest claim still reading began.
#[derive(Default)]
pub(crate) struct WriteClaims {
    state: Mutex<Leases>,
    /// Held by a claim from before its read until its leases are taken.
    pub(super) claiming: tokio::sync::Mutex<()>,
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
    pub(super) fn begin(&self, now: i64) -> (u64, usize) {
        let leases = self.lock();
        let live = leases.until.values().filter(|end| **end > now).count();
        (leases.epoch, live)
    }

    /// Of `rows` (due at `now` as read after [`Self::begin`] gave `epoch`;
    /// `key` names each one's outbox row), the first `limit` neither leased
    /// nor released since that read began, each now leased until `until`. A row released after `epoch` may have
    /// been read before its result committed, so it is left to the next
    /// claim, whose read sees that result (results commit before their
    /// release). Leases ended by `now` and releases no later claim needs
    /// are dropped (claims run one at a time, so every later one begins
    /// after this).
    pub(super) fn lease<R>(
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

    /// Ends the leases of `recorded`, whose results committed.
    pub(super) fn release(&self, recorded: impl Iterator<Item = WriteKey>) {
        let mut leases = self.lock();
        leases.epoch += 1;
        let epoch = leases.epoch;
        for key in recorded {
            leases.until.remove(&key);
            leases.released.insert(key, epoch);
        }
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
        claims.release([key("b1")].into_iter());
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
        claims.release([key("b1")].into_iter());
        let (epoch, live) = claims.begin(101);
        assert_eq!(live, 0);
        assert_eq!(
            claims.lease(rows(&["b1"]), |b| key(b), epoch, 101, 401, 10),
            ["b1"]
        );
    }
}
