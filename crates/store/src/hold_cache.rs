//! The holds this process made, for turning them into bookings without
//! reading them back.
//!
//! A hold's row never changes: it is written once and then only deleted
//! (ended, converted, or purged once expired). So what this process wrote
//! is what a read would find, for as long as the hold exists; what a read
//! could add is only whether it still exists, and the conversion's own
//! write checks that atomically (`HoldGone` when it is gone), whatever
//! this cache says. The conversion (`POST /v1/bookings` with `hold_id`)
//! then needs no read before its write: one writer job on SQLite, one
//! statement on Postgres, as a plain booking. A hold made by another
//! process, or one this cache had no room for, is read as before.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use booking_domain::{AccountId, Hold, HoldId};

use crate::rows::HoldColumns;

/// The most holds kept (a hold lasts at most 30 minutes; past this many
/// live ones, new holds are read back as before).
const MAX_HOLDS: usize = 10_000;

/// Holds by id, as stored (see the module's comment).
#[derive(Debug, Default)]
pub(crate) struct HoldCache {
    holds: Mutex<HashMap<String, Hold>>,
}

impl HoldCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Hold>> {
        // A panic while holding the lock cannot leave the map half-changed
        // (each change is one map call): carry on with it.
        self.holds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `hold`, which this process just stored, as a read would find
    /// it (its instants in whole seconds, as stored); expired holds make
    /// room when the cache is full.
    pub(crate) fn made(&self, hold: &Hold) {
        let Ok(stored) = HoldColumns::from_domain(hold).into_domain() else {
            return;
        };
        let mut holds = self.lock();
        if holds.len() >= MAX_HOLDS {
            let now = hold.created_at;
            holds.retain(|_, h| h.is_live(now));
            if holds.len() >= MAX_HOLDS {
                return;
            }
        }
        holds.insert(stored.id.as_str().to_owned(), stored);
    }

    /// The account's hold `id` as this process stored it, if it did and
    /// has not forgotten it (it may have ended since).
    pub(crate) fn get(&self, account: &AccountId, id: &HoldId) -> Option<Hold> {
        self.lock()
            .get(id.as_str())
            .filter(|h| h.account_id == *account)
            .cloned()
    }

    /// Forgets hold `id` (ended or converted here).
    pub(crate) fn forget(&self, id: &HoldId) {
        self.lock().remove(id.as_str());
    }
}
