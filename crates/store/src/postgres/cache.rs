//! Read caches that other processes invalidate through the database.
//!
//! Three reads happen on nearly every request and change rarely: an API
//! key's records (by lookup prefix), the service a booking or an
//! availability request names, and a provider's busy time over a window.
//! The store keeps what it read, in a [`NotifiedCache`] per kind, and
//! answers later reads from memory. Every write that changes what such a
//! read returns leads to a `NOTIFY` naming the group it changed, which every
//! store's listener (see `listen.rs`) turns into dropping that group,
//! milliseconds after the write:
//!
//! - a key revocation sends it on [`KEYS`](notify::KEYS) (payload: the key's lookup)
//!   inside the revoking transaction, so it leaves exactly at commit;
//! - a service update (archiving included) sends it on [`SERVICES`](notify::SERVICES)
//!   (payload: the service's [`group`]) inside its transaction, and drops
//!   the writer's own entry once committed, so the writing process reads
//!   its write at once;
//! - a write of busy time (a booking inserted or changed, a calendar synced
//!   or deleted) drops the provider's group in the writing process at once,
//!   and hands it to the [`BusyAnnouncer`], which sends it on [`BUSY`](notify::BUSY)
//!   (payload: `account/provider` groups separated by commas) within a few
//!   milliseconds, with whatever else changed meanwhile. Not inside the booking's
//!   transaction: a `NOTIFY` there takes a database-wide lock at commit and
//!   would serialize every booking's commit. The price is that a process
//!   dying between a commit and its announcement leaves the others' entries
//!   for that provider stale until their TTL (10 s).
//!
//! A cache is only trusted while notifications can arrive: it is emptied and
//! bypassed whenever the listening connection is lost, until it listens
//! again. An entry also expires after its TTL, which bounds how long a change
//! made without a notification (by hand, in SQL) can go unseen. A read that
//! started before an invalidation never fills the cache with what it read
//! (an epoch counter). Memory is bounded by a total cost; past it the cache
//! starts over.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::rows::BusyRead;
use booking_domain::Service;
use booking_domain::ports::ApiKeyRecord;
use tokio::sync::mpsc;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::Pool;

use super::notify::{self, BUSY};

/// The store's pool (the announcer borrows its connections).
type PgPool = Pool<AsyncPgConnection>;

/// Key records by lookup (one entry per group, key `""`).
pub(crate) type KeyCache = NotifiedCache<Vec<ApiKeyRecord>>;

/// Services by [`group`] (one entry per group, key `""`).
pub(crate) type ServiceCache = NotifiedCache<Service>;

/// A provider's busy time by window (group: the provider's [`group`], key
/// [`busy_window`]).
pub(crate) type BusyCache = NotifiedCache<std::sync::Arc<BusyRead>>;

/// The keys' cache: a minute at most, ten thousand keys.
pub(crate) fn key_cache() -> KeyCache {
    NotifiedCache::new(Duration::from_secs(60), 10_000)
}

/// The services' cache: a minute at most, ten thousand services.
pub(crate) fn service_cache() -> ServiceCache {
    NotifiedCache::new(Duration::from_secs(60), 10_000)
}

/// The busy-time cache: ten seconds at most, a million ranges (about 16 MB).
pub(crate) fn busy_cache() -> BusyCache {
    NotifiedCache::new(Duration::from_secs(10), 1_000_000)
}

/// The largest `NOTIFY` payload sent (the server's limit is 8000 bytes).
const MAX_PAYLOAD: usize = 7_900;

/// Sends [`BUSY`](notify::BUSY) notifications for the providers this process changed,
/// after their writes committed, from a task of its own (see the module
/// documentation). The task stops when the announcer is dropped.
pub(crate) struct BusyAnnouncer {
    groups: mpsc::UnboundedSender<String>,
}

impl BusyAnnouncer {
    /// Starts the task, which borrows connections from `pool`.
    pub(crate) fn start(pool: PgPool) -> BusyAnnouncer {
        let (groups, queued) = mpsc::unbounded_channel();
        tokio::spawn(announce(pool, queued));
        BusyAnnouncer { groups }
    }

    /// Queues `group` (a provider whose busy time changed) for announcing.
    pub(crate) fn announce(&self, group: String) {
        // Fails only when the task is gone, with the runtime shutting down:
        // nothing is left to announce to then.
        let _ = self.groups.send(group);
    }
}

/// How long the announcer gathers changes after the first before sending:
/// under a stream of bookings it sends at most this often (a `NOTIFY` is a
/// transaction that takes a database-wide lock at commit), at the cost of
/// this much more staleness in the other processes.
const GATHER: Duration = Duration::from_millis(5);

/// The announcer's task: sends what is queued, in batches.
async fn announce(pool: PgPool, mut queued: mpsc::UnboundedReceiver<String>) {
    while let Some(first) = queued.recv().await {
        tokio::time::sleep(GATHER).await;
        let mut groups = BTreeSet::from([first]);
        while let Ok(more) = queued.try_recv() {
            groups.insert(more);
        }
        for payload in payloads(&groups) {
            if let Err(e) = notify_busy(&pool, payload).await {
                // The others' entries expire on their own (the TTL).
                tracing::warn!(error = %e, "cannot announce a busy-time change");
            }
        }
    }
}

/// `groups` joined by commas into payloads of at most [`MAX_PAYLOAD`] bytes.
fn payloads(groups: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for group in groups {
        match out.last_mut() {
            Some(last) if last.len() + 1 + group.len() <= MAX_PAYLOAD => {
                last.push(',');
                last.push_str(group);
            }
            _ => out.push(group.clone()),
        }
    }
    out
}

/// One `NOTIFY` on [`BUSY`](notify::BUSY).
async fn notify_busy(pool: &PgPool, payload: String) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    notify::send(&mut conn, BUSY, payload)
        .await
        .map_err(|e| e.to_string())
}

/// The group (and notification payload) of an account's service or
/// provider: `account/id` (ids never contain `/` or `,`).
pub(crate) fn group(account: &str, id: &str) -> String {
    format!("{account}/{id}")
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
    fn announcements_are_batched_under_the_payload_limit() {
        let groups: BTreeSet<String> = (0..1000).map(|i| format!("acc_{i:04}/prv_x")).collect();
        let payloads = payloads(&groups);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let back: BTreeSet<String> = payloads
            .iter()
            .flat_map(|p| p.split(',').map(str::to_owned))
            .collect();
        assert_eq!(back, groups);
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
