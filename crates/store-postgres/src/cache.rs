//! Read caches that other processes invalidate through the database.
//!
//! Two reads happen on nearly every request and change rarely: an API key's
//! records (by lookup prefix) and a provider's busy time over a window. The
//! store keeps what it read, in a [`NotifiedCache`] per kind, and answers
//! later reads from memory. Every write that changes what such a read
//! returns sends a `NOTIFY` naming the group it changed, in the writing
//! transaction (so it is delivered at commit, to every process): a key
//! revocation on [`KEYS`] with the key's lookup, a booking write or an
//! external-calendar sync on [`BUSY`] with `account/provider`. The store's
//! listener (see `listen.rs`) drops that group when the notification
//! arrives, milliseconds after the commit; the writing process also drops it
//! itself as soon as its write returns.
//!
//! A cache is only trusted while notifications can arrive: it is emptied and
//! bypassed whenever the listening connection is lost, until it listens
//! again. An entry also expires after its TTL, which bounds how long a change
//! made without a notification (by hand, in SQL) can go unseen. A read that
//! started before an invalidation never fills the cache with what it read
//! (an epoch counter). Memory is bounded by a total cost; past it the cache
//! starts over.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use booking_domain::TimeRange;
use booking_domain::ports::ApiKeyRecord;

/// The channel that says "this key changed" (payload: its lookup).
pub(crate) const KEYS: &str = "booking_keys";

/// The channel that says "this provider's busy time changed" (payload:
/// `account/provider`, see [`busy_group`]).
pub(crate) const BUSY: &str = "booking_busy";

/// Key records by lookup (one entry per group, key `""`).
pub(crate) type KeyCache = NotifiedCache<Vec<ApiKeyRecord>>;

/// A provider's busy time by window (group [`busy_group`], key
/// [`busy_window`]).
pub(crate) type BusyCache = NotifiedCache<Vec<TimeRange>>;

/// The keys' cache: a minute at most, ten thousand keys.
pub(crate) fn key_cache() -> KeyCache {
    NotifiedCache::new(Duration::from_secs(60), 10_000)
}

/// The busy-time cache: a minute at most, a million ranges (about 16 MB).
pub(crate) fn busy_cache() -> BusyCache {
    NotifiedCache::new(Duration::from_secs(60), 1_000_000)
}

/// The group (and [`BUSY`] payload) of a provider's busy time.
pub(crate) fn busy_group(account: &str, provider: &str) -> String {
    format!("{account}/{provider}")
}

/// The key of a busy-time window `[start, end)` (unix seconds).
pub(crate) fn busy_window(start: i64, end: i64) -> String {
    format!("{start}:{end}")
}

/// Values in groups; see the module documentation.
#[derive(Debug)]
pub(crate) struct NotifiedCache<V> {
    state: Mutex<State<V>>,
    ttl: Duration,
    max_cost: usize,
}

#[derive(Debug)]
struct State<V> {
    /// Whether invalidations can arrive (the listener is connected).
    live: bool,
    /// Raised by every invalidation, so a fill that read before it is dropped.
    epoch: u64,
    /// Sum of the entries' costs.
    cost: usize,
    groups: HashMap<String, HashMap<String, Entry<V>>>,
}

#[derive(Debug)]
struct Entry<V> {
    at: Instant,
    cost: usize,
    value: V,
}

impl<V: Clone> NotifiedCache<V> {
    /// A cache whose entries live at most `ttl`, holding at most `max_cost`.
    pub(crate) fn new(ttl: Duration, max_cost: usize) -> Self {
        NotifiedCache {
            state: Mutex::new(State {
                live: false,
                epoch: 0,
                cost: 0,
                groups: HashMap::new(),
            }),
            ttl,
            max_cost,
        }
    }

    fn state(&self) -> MutexGuard<'_, State<V>> {
        // Every update leaves the state consistent, whatever panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value cached under `group` and `key`, if trusted; otherwise the
    /// epoch to hand to [`NotifiedCache::fill`] after reading the database.
    pub(crate) fn get(&self, group: &str, key: &str) -> Result<V, u64> {
        let state = self.state();
        match state.groups.get(group).and_then(|g| g.get(key)) {
            Some(entry) if state.live && entry.at.elapsed() < self.ttl => Ok(entry.value.clone()),
            _ => Err(state.epoch),
        }
    }

    /// Caches what a read returned, unless something was invalidated since
    /// it started (`epoch` from [`NotifiedCache::get`]) or invalidations
    /// cannot arrive. `cost` counts against the cache's bound.
    pub(crate) fn fill(&self, group: &str, key: &str, value: V, cost: usize, epoch: u64) {
        let mut state = self.state();
        if !state.live || state.epoch != epoch || cost > self.max_cost {
            return;
        }
        if state.cost + cost > self.max_cost {
            state.groups.clear();
            state.cost = 0;
        }
        let entry = Entry {
            at: Instant::now(),
            cost,
            value,
        };
        let replaced = state
            .groups
            .entry(group.to_owned())
            .or_default()
            .insert(key.to_owned(), entry);
        state.cost = state.cost + cost - replaced.map_or(0, |e| e.cost);
    }

    /// Forgets every entry of `group` (something in it changed).
    pub(crate) fn invalidate(&self, group: &str) {
        let mut state = self.state();
        state.epoch += 1;
        if let Some(entries) = state.groups.remove(group) {
            let freed: usize = entries.values().map(|e| e.cost).sum();
            state.cost -= freed;
        }
    }

    /// Whether invalidations can arrive; every change starts over.
    pub(crate) fn set_live(&self, live: bool) {
        let mut state = self.state();
        if state.live != live {
            state.live = live;
            state.epoch += 1;
            state.groups.clear();
            state.cost = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn cache() -> NotifiedCache<u32> {
        NotifiedCache::new(Duration::from_secs(60), 10)
    }

    #[test]
    fn nothing_is_cached_until_invalidations_can_arrive() {
        let c = cache();
        let epoch = c.get("g", "k").unwrap_err();
        c.fill("g", "k", 1, 1, epoch);
        assert!(c.get("g", "k").is_err());
        c.set_live(true);
        let epoch = c.get("g", "k").unwrap_err();
        c.fill("g", "k", 1, 1, epoch);
        assert_eq!(c.get("g", "k").unwrap(), 1);
    }

    #[test]
    fn an_invalidation_drops_the_group_and_stale_fills() {
        let c = cache();
        c.set_live(true);
        for key in ["a", "b"] {
            let epoch = c.get("g", key).unwrap_err();
            c.fill("g", key, 1, 1, epoch);
        }
        let epoch = c.get("other", "k").unwrap_err();
        c.fill("other", "k", 2, 1, epoch);
        // A read starts, the group changes, the read's result lands.
        let before = c.get("late", "k").unwrap_err();
        c.invalidate("g");
        assert!(c.get("g", "a").is_err() && c.get("g", "b").is_err());
        assert_eq!(c.get("other", "k").unwrap(), 2, "other groups stay");
        c.fill("late", "k", 3, 1, before);
        assert!(
            c.get("late", "k").is_err(),
            "a fill older than an invalidation"
        );
    }

    #[test]
    fn losing_the_listener_empties_and_bypasses_the_cache() {
        let c = cache();
        c.set_live(true);
        let epoch = c.get("g", "k").unwrap_err();
        c.fill("g", "k", 1, 1, epoch);
        c.set_live(false);
        assert!(c.get("g", "k").is_err());
        c.set_live(true);
        assert!(c.get("g", "k").is_err(), "emptied, not just hidden");
    }

    #[test]
    fn entries_expire_and_memory_is_bounded() {
        let c = NotifiedCache::new(Duration::ZERO, 10);
        c.set_live(true);
        let epoch = c.get("g", "k").unwrap_err();
        c.fill("g", "k", 1, 1, epoch);
        assert!(c.get("g", "k").is_err(), "expired");

        let c = cache();
        c.set_live(true);
        let epoch = c.get("g", "a").unwrap_err();
        c.fill("g", "a", 1, 6, epoch);
        c.fill("g", "a", 1, 6, epoch);
        assert_eq!(
            c.get("g", "a").unwrap(),
            1,
            "a replaced entry frees its cost"
        );
        c.fill("g", "b", 2, 6, epoch);
        assert!(c.get("g", "a").is_err(), "over the bound: started over");
        assert_eq!(c.get("g", "b").unwrap(), 2);
        c.fill("g", "c", 3, 11, epoch);
        assert!(c.get("g", "c").is_err(), "larger than the whole bound");
    }
}
