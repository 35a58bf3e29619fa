//! The contract suite on `SqliteStore`: a fresh database file per test.

use booking_store_sqlite::SqliteStore;
use tempfile::TempDir;

use super::{calendars, contract, feeds, webhooks};

/// How many migrations a new database file gets.
fn migration_count() -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
    std::fs::read_dir(dir).unwrap().count()
}

/// A store on a new file in a new temporary directory (kept alive by the
/// returned guard).
fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("booking.db")).unwrap();
    (dir, store)
}

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_dir, store) = fresh();
                contract::$name(&store).await;
            }
        )*
    };
}

contract_tests!(
    key_creates_account_and_default_provider,
    keys_by_lookup_returns_every_match,
    revoke_key_reports_existence_and_keeps_first_instant,
    providers_are_isolated_per_account,
    services_round_trip_and_are_isolated,
    paging_is_stable_and_complete,
    bookings_round_trip_and_are_isolated,
    insert_refuses_overlaps_of_active_bookings,
    conflicts_see_the_longest_bookings,
    update_checks_staleness_and_conflicts,
    list_bookings_applies_filters,
    busy_times_are_bounded_sorted_and_exclusive,
    idempotency_keys_follow_their_lifecycle,
    idempotency_begin_is_exclusive,
    idempotency_keys_are_purged_after_their_ttl,
    ping_answers,
);

macro_rules! webhook_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_dir, store) = fresh();
                webhooks::$name(&store).await;
            }
        )*
    };
}

macro_rules! feed_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_dir, store) = fresh();
                feeds::$name(&store).await;
            }
        )*
    };
}

macro_rules! calendar_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_dir, store) = fresh();
                calendars::$name(&store).await;
            }
        )*
    };
}

calendar_tests!(
    connections_round_trip_and_are_isolated,
    syncs_replace_blocks_and_failures_keep_them,
    busy_times_find_long_external_blocks_from_anywhere_in_them,
    inserts_refuse_times_blocked_by_external_calendars,
    background_claims_are_exclusive_and_lease_bound,
    calendar_creates_stay_within_the_limit_under_concurrency,
    fair_claims_share_between_accounts,
);

feed_tests!(
    feed_tokens_are_compare_and_set_and_die_when_replaced,
    feed_bookings_are_the_providers_from_an_instant_with_service_names,
    server_secrets_are_created_once,
);

webhook_tests!(
    webhooks_round_trip_and_are_isolated,
    finished_deliveries_are_purged_and_pending_ones_kept,
    deleting_an_endpoint_deletes_its_deliveries,
    bookings_queue_one_delivery_per_subscribed_enabled_endpoint,
    claims_carry_the_endpoint_and_the_event,
    claims_take_due_deliveries_earliest_first_once_per_lease,
    disabled_endpoints_get_nothing_claimed,
    attempts_set_outcomes_and_join_the_log,
    a_lost_claim_only_adds_its_attempt,
    gone_receivers_disable_their_endpoint,
    delivery_logs_page_newest_first,
    redeliver_starts_a_new_round,
    queueing_wakes_the_waiting_workers,
    due_for_completion_lists_ended_confirmed_bookings,
    webhook_creates_stay_within_the_limit_under_concurrency,
    fair_delivery_claims_share_between_accounts,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_on_two_pools_never_overlap() {
    // Two pools on one file behave like two processes sharing it.
    let (dir, first) = fresh();
    let second = SqliteStore::open(&dir.path().join("booking.db")).unwrap();
    webhooks::concurrent_claims_never_overlap(&[first, second], 200, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_on_one_store_have_one_winner() {
    let (_dir, store) = fresh();
    contract::concurrent_overlapping_inserts_have_one_winner(&[store], 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_across_two_pools_have_one_winner() {
    // Two pools on one file behave like two processes sharing it.
    let (dir, first) = fresh();
    let second = SqliteStore::open(&dir.path().join("booking.db")).unwrap();
    assert!(second.applied_migrations().is_empty());
    contract::concurrent_overlapping_inserts_have_one_winner(&[first, second], 50).await;
}

#[test]
fn open_creates_parent_directories_and_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/booking.db");
    let store = SqliteStore::open(&path).unwrap();
    assert!(path.exists());
    assert_eq!(store.applied_migrations().len(), migration_count());
    assert_eq!(store.path(), path);
    drop(store);
    let again = SqliteStore::open(&path).unwrap();
    assert!(again.applied_migrations().is_empty());
    assert!(booking_store_sqlite::migrate(&path).unwrap().is_empty());
}

#[test]
fn concurrent_opens_of_a_new_file_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("booking.db");
    let applied: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| SqliteStore::open(&path).unwrap().applied_migrations().len()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        applied.iter().sum::<usize>(),
        migration_count(),
        "{applied:?}"
    );
}
