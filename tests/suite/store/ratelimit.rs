//! The rate-limiter contract (GCRA: a burst of `quota`, then one request per
//! `period / quota`), run against the in-process governor limiter and the
//! Postgres store, plus the Postgres promise that every instance sharing
//! the database shares the limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use booking_domain::ports::{RateLimit, RateLimiter};
use booking_http::ratelimit::GovernorLimiter;

use super::postgres::TestDb;

/// A limit with a name no other test uses (the governor limiter is keyed by
/// name, so tests stay independent even on a shared limiter).
fn limit(quota: u32, period_secs: u32) -> RateLimit {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    RateLimit {
        name: format!("limit{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        quota,
        period_secs,
    }
}

// ---------------------------------------------------------------- contract

/// `quota` requests pass with `remaining` counting down, then refusals with
/// a `Retry-After` of at least a second that don't use up anything.
async fn quota_bursts_then_refuses<L: RateLimiter>(l: &L) {
    let bookings = limit(3, 60);
    for expected in [2, 1, 0] {
        let d = l.check("key", &bookings).await.unwrap();
        assert!(d.allowed, "{d:?}");
        assert_eq!(d.remaining, expected, "{d:?}");
        assert_eq!(d.retry_after_secs, 0, "{d:?}");
        assert!((1..=60).contains(&d.reset_secs), "{d:?}");
    }
    for _ in 0..3 {
        let refused = l.check("key", &bookings).await.unwrap();
        assert!(!refused.allowed, "{refused:?}");
        assert_eq!(refused.remaining, 0);
        // One slot frees every 20 s.
        assert!((1..=20).contains(&refused.retry_after_secs), "{refused:?}");
        assert!((40..=60).contains(&refused.reset_secs), "{refused:?}");
    }
}

/// After one request of `q` per `p`, the quota is whole again in `p / q`.
async fn first_request_reports_its_reset<L: RateLimiter>(l: &L) {
    let bookings = limit(10, 60);
    let d = l.check("key", &bookings).await.unwrap();
    assert!(d.allowed);
    assert_eq!(d.remaining, 9);
    assert_eq!(d.reset_secs, 6, "{d:?}");
}

/// Keys have their own budgets, and so do limits with other names.
async fn keys_and_limits_are_independent<L: RateLimiter>(l: &L) {
    let bookings = limit(1, 60);
    let sync = limit(1, 60);
    assert!(l.check("a", &bookings).await.unwrap().allowed);
    assert!(!l.check("a", &bookings).await.unwrap().allowed);
    assert!(l.check("b", &bookings).await.unwrap().allowed);
    assert!(l.check("a", &sync).await.unwrap().allowed);
    assert!(!l.check("a", &sync).await.unwrap().allowed);
    assert!(!l.check("b", &bookings).await.unwrap().allowed);
}

/// Spent quota comes back with time: 2 per second refills in a second.
async fn quota_refills_over_time<L: RateLimiter>(l: &L) {
    let fast = limit(2, 1);
    assert!(l.check("key", &fast).await.unwrap().allowed);
    assert!(l.check("key", &fast).await.unwrap().allowed);
    let refused = l.check("key", &fast).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.retry_after_secs, 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = l.check("key", &fast).await.unwrap();
    assert!(again.allowed, "{again:?}");
    assert_eq!(again.remaining, 1, "{again:?}");
    assert!(l.check("key", &fast).await.unwrap().allowed);
    assert!(!l.check("key", &fast).await.unwrap().allowed);
}

/// A peek answers what a request would meet, and counts nothing.
async fn peeks_read_the_state_and_count_nothing<L: RateLimiter>(l: &L) {
    let bookings = limit(3, 60);
    let fresh = l.peek("key", &bookings).await.unwrap();
    assert_eq!(
        (
            fresh.allowed,
            fresh.remaining,
            fresh.reset_secs,
            fresh.retry_after_secs
        ),
        (true, 3, 0, 0)
    );
    let counted = l.check("key", &bookings).await.unwrap();
    for _ in 0..5 {
        let peeked = l.peek("key", &bookings).await.unwrap();
        assert!(peeked.allowed, "{peeked:?}");
        assert_eq!(peeked.remaining, counted.remaining, "{peeked:?}");
        assert!((19..=20).contains(&peeked.reset_secs), "{peeked:?}");
    }
    assert!(l.check("key", &bookings).await.unwrap().allowed);
    assert!(l.check("key", &bookings).await.unwrap().allowed);
    let spent = l.peek("key", &bookings).await.unwrap();
    assert_eq!((spent.allowed, spent.remaining), (false, 0), "{spent:?}");
    assert!((40..=60).contains(&spent.reset_secs), "{spent:?}");
    assert!(!l.check("key", &bookings).await.unwrap().allowed);
    assert_eq!(l.peek("other", &bookings).await.unwrap().remaining, 3);
}

/// The contract's tests in module `$module` on the limiter `$setup` makes;
/// the attributes (an `ignore` when the limiter needs Postgres) go on each.
macro_rules! limiter_contract {
    ($module:ident, $setup:expr $(, #[$attr:meta])*) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn quota_bursts_then_refuses() {
                let (limiter, done) = $setup.await;
                super::quota_bursts_then_refuses(&limiter).await;
                done.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn first_request_reports_its_reset() {
                let (limiter, done) = $setup.await;
                super::first_request_reports_its_reset(&limiter).await;
                done.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn keys_and_limits_are_independent() {
                let (limiter, done) = $setup.await;
                super::keys_and_limits_are_independent(&limiter).await;
                done.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn peeks_read_the_state_and_count_nothing() {
                let (limiter, done) = $setup.await;
                super::peeks_read_the_state_and_count_nothing(&limiter).await;
                done.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn quota_refills_over_time() {
                let (limiter, done) = $setup.await;
                super::quota_refills_over_time(&limiter).await;
                done.finish().await;
            }
        }
    };
}

/// What to clean up after a passing test.
enum Done {
    Nothing,
    Database(TestDb),
}

impl Done {
    async fn finish(self) {
        if let Done::Database(db) = self {
            db.drop().await;
        }
    }
}

async fn governor() -> (GovernorLimiter, Done) {
    (GovernorLimiter::new(), Done::Nothing)
}

async fn postgres() -> (booking_store::PostgresStore, Done) {
    let db = TestDb::create().await;
    let store = db.store().await;
    (store, Done::Database(db))
}

limiter_contract!(governor_limiter, governor());
limiter_contract!(
    postgres_limiter,
    postgres(),
    #[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
);

// ---------------------------------------------------------------- shared

/// Three pools on one database behave like three server instances: 30
/// concurrent checks of a 10-per-minute limit let exactly 10 through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn postgres_instances_share_one_limit() {
    let db = TestDb::create().await;
    let stores = [db.store().await, db.store().await, db.store().await];
    let bookings = limit(10, 60);
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let bookings = bookings.clone();
            tokio::spawn(async move { store.check("shared-key", &bookings).await.unwrap() })
        })
        .collect();
    let mut allowed = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let d = task.await.unwrap();
        if d.allowed {
            allowed.push(d.remaining);
        } else {
            assert!(d.retry_after_secs >= 1, "{d:?}");
            refused += 1;
        }
    }
    assert_eq!(allowed.len(), 10, "exactly the quota passes");
    assert_eq!(refused, 20);
    // Each allowed request saw a different remaining count: none was lost.
    allowed.sort_unstable();
    assert_eq!(allowed, (0..10).collect::<Vec<u32>>());
    // Another key of the same limit is untouched.
    assert!(
        stores[1]
            .check("other-key", &bookings)
            .await
            .unwrap()
            .allowed
    );
    drop(stores);
    db.drop().await;
}

/// Rows of keys whose quota is whole again can be forgotten without
/// changing any answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn postgres_forgets_idle_keys() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let fast = limit(1, 1);
    let slow = limit(1, 3600);
    assert!(store.check("idle", &fast).await.unwrap().allowed);
    assert!(store.check("busy", &slow).await.unwrap().allowed);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(store.forget_idle_rate_limits().await.unwrap(), 1);
    assert!(store.check("idle", &fast).await.unwrap().allowed);
    assert!(!store.check("busy", &slow).await.unwrap().allowed);
    drop(store);
    db.drop().await;
}
