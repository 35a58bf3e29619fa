//! API keys cached in process, invalidated across processes.
//!
//! Every request starts by looking its key up, so the store keeps the
//! records it found (by the key's lookup prefix) and answers later lookups
//! from memory. A cached record can only go stale by revocation, and a
//! revocation (by any process: a server, or `booking-api keys revoke`) sends
//! a `NOTIFY` on [`CHANNEL`] with the key's lookup in the same transaction;
//! the store's listener (see `listen.rs`) drops that entry when the
//! notification arrives, milliseconds after the commit.
//!
//! The cache is only trusted while notifications can arrive: it is emptied
//! and bypassed whenever the listening connection is lost, until it listens
//! again. An entry also expires after [`TTL`], which bounds how long a
//! revocation can go unseen if a notification were lost some other way. A
//! lookup that started before an invalidation never fills the cache with
//! what it read (an epoch counter), and lookups that found nothing are not
//! cached, so a new key is usable at once.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use booking_domain::ports::ApiKeyRecord;

/// The channel that says "this key changed" (payload: its lookup).
pub(crate) const CHANNEL: &str = "booking_keys";

/// How long an entry is trusted at most.
pub(crate) const TTL: Duration = Duration::from_secs(60);

/// More entries than this and the cache starts over (bounded memory).
const MAX_ENTRIES: usize = 10_000;

/// Cached key records by lookup (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Whether invalidations can arrive (the listener is connected).
    live: bool,
    /// Raised by every invalidation, so a fill that read before it is dropped.
    epoch: u64,
    entries: HashMap<String, (Instant, Vec<ApiKeyRecord>)>,
}

impl KeyCache {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The records cached for `lookup`, if trusted; otherwise the epoch to
    /// hand to [`KeyCache::fill`] after reading the database.
    pub(crate) fn get(&self, lookup: &str) -> Result<Vec<ApiKeyRecord>, u64> {
        let state = self.state();
        match state.entries.get(lookup) {
            Some((at, records)) if state.live && at.elapsed() < TTL => Ok(records.clone()),
            _ => Err(state.epoch),
        }
    }

    /// Caches what a lookup read, unless something was invalidated since it
    /// started (`epoch` from [`KeyCache::get`]), nothing was found, or
    /// invalidations cannot arrive.
    pub(crate) fn fill(&self, lookup: &str, records: &[ApiKeyRecord], epoch: u64) {
        let mut state = self.state();
        if !state.live || state.epoch != epoch || records.is_empty() {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state
            .entries
            .insert(lookup.to_owned(), (Instant::now(), records.to_vec()));
    }

    /// Forgets `lookup` (a key with that lookup changed).
    pub(crate) fn invalidate(&self, lookup: &str) {
        let mut state = self.state();
        state.epoch += 1;
        state.entries.remove(lookup);
    }

    /// Whether invalidations can arrive; every change starts over.
    pub(crate) fn set_live(&self, live: bool) {
        let mut state = self.state();
        if state.live != live {
            state.live = live;
            state.epoch += 1;
            state.entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use booking_domain::{AccountId, ApiKeyId};
    use jiff::Timestamp;

    use super::*;

    fn record(lookup: &str) -> ApiKeyRecord {
        ApiKeyRecord {
            id: ApiKeyId::from_trusted("key_1".to_owned()),
            account_id: AccountId::from_trusted("acc_1".to_owned()),
            account_name: "acme".to_owned(),
            lookup: lookup.to_owned(),
            hash: "h".to_owned(),
            revoked_at: None,
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn nothing_is_cached_until_invalidations_can_arrive() {
        let cache = KeyCache::default();
        let epoch = cache.get("abc").unwrap_err();
        cache.fill("abc", &[record("abc")], epoch);
        assert!(cache.get("abc").is_err());
        cache.set_live(true);
        let epoch = cache.get("abc").unwrap_err();
        cache.fill("abc", &[record("abc")], epoch);
        assert_eq!(cache.get("abc").unwrap(), vec![record("abc")]);
    }

    #[test]
    fn an_invalidation_drops_the_entry_and_stale_fills() {
        let cache = KeyCache::default();
        cache.set_live(true);
        let epoch = cache.get("abc").unwrap_err();
        cache.fill("abc", &[record("abc")], epoch);
        // A lookup starts, the key is revoked, the lookup's read lands.
        let before = cache.get("xyz").unwrap_err();
        cache.invalidate("abc");
        assert!(cache.get("abc").is_err());
        cache.fill("xyz", &[record("xyz")], before);
        assert!(
            cache.get("xyz").is_err(),
            "a fill older than an invalidation"
        );
    }

    #[test]
    fn losing_the_listener_empties_and_bypasses_the_cache() {
        let cache = KeyCache::default();
        cache.set_live(true);
        let epoch = cache.get("abc").unwrap_err();
        cache.fill("abc", &[record("abc")], epoch);
        cache.set_live(false);
        assert!(cache.get("abc").is_err());
        cache.set_live(true);
        assert!(cache.get("abc").is_err(), "emptied, not just hidden");
    }

    #[test]
    fn unknown_keys_are_not_cached() {
        let cache = KeyCache::default();
        cache.set_live(true);
        let epoch = cache.get("abc").unwrap_err();
        cache.fill("abc", &[], epoch);
        assert!(cache.get("abc").is_err());
    }
}
