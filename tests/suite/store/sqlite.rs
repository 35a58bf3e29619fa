//! The contract suite on `SqliteStore`: a fresh database file per test.

use booking_store::SqliteStore;
use booking_tests::test_keyring;
use tempfile::TempDir;

use super::{calendars, contract, feeds, holds, reminders, secrets, time_off, webhooks};

/// How many migrations a new database file gets.
fn migration_count() -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
    std::fs::read_dir(dir).unwrap().count()
}

/// A store on a new file in a new temporary directory (kept alive by the
/// returned guard).
fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("booking.db"), test_keyring()).unwrap();
    (dir, store)
}

/// One test per contract test, each on a fresh file.
macro_rules! sqlite_tests {
    ($($module:ident::$name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_dir, store) = fresh();
                $module::$name(&store).await;
            }
        )*
    };
}

for_each_contract_test!(sqlite_tests);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_on_two_pools_never_overlap() {
    // Two pools on one file behave like two processes sharing it.
    let (dir, first) = fresh();
    let second = SqliteStore::open(&dir.path().join("booking.db"), test_keyring()).unwrap();
    webhooks::concurrent_claims_never_overlap(&[first, second], 200, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_on_one_store_have_one_winner() {
    let (_dir, store) = fresh();
    contract::concurrent_overlapping_inserts_have_one_winner(&[store], 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_holds_across_two_pools_have_one_winner() {
    let (dir, first) = fresh();
    let second = SqliteStore::open(&dir.path().join("booking.db"), test_keyring()).unwrap();
    holds::racing_holds_have_one_winner(&[first, second], 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_holds_of_one_key_across_two_pools_stay_within_its_limit() {
    let (dir, first) = fresh();
    let second = SqliteStore::open(&dir.path().join("booking.db"), test_keyring()).unwrap();
    holds::racing_holds_of_one_key_stay_within_its_limit(&[first, second], 24, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_reminders_across_two_pools_have_one_sender() {
    let (dir, first) = fresh();
    let second = SqliteStore::open(&dir.path().join("booking.db"), test_keyring()).unwrap();
    reminders::racing_reminders_have_one_sender(&[first, second], 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_conversion_beats_racing_bookings_across_two_pools() {
    let (dir, first) = fresh();
    let second = SqliteStore::open(&dir.path().join("booking.db"), test_keyring()).unwrap();
    holds::a_conversion_beats_racing_bookings(&[first, second], 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_across_two_pools_have_one_winner() {
    // Two pools on one file behave like two processes sharing it.
    let (dir, first) = fresh();
    let second = SqliteStore::open(&dir.path().join("booking.db"), test_keyring()).unwrap();
    assert!(second.applied_migrations().is_empty());
    contract::concurrent_overlapping_inserts_have_one_winner(&[first, second], 50).await;
}

#[test]
fn open_creates_parent_directories_and_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/booking.db");
    let store = SqliteStore::open(&path, test_keyring()).unwrap();
    assert!(path.exists());
    assert_eq!(store.applied_migrations().len(), migration_count());
    assert_eq!(store.path(), path);
    drop(store);
    let again = SqliteStore::open(&path, test_keyring()).unwrap();
    assert!(again.applied_migrations().is_empty());
    assert!(booking_store::sqlite::migrate(&path).unwrap().is_empty());
}

#[test]
fn concurrent_opens_of_a_new_file_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("booking.db");
    let applied: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    SqliteStore::open(&path, test_keyring())
                        .unwrap()
                        .applied_migrations()
                        .len()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        applied.iter().sum::<usize>(),
        migration_count(),
        "{applied:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_copied_to_another_row_is_a_storage_error_and_a_wrong_key_refused() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, SqliteConnection};

    let (dir, store) = fresh();
    let path = dir.path().join("booking.db");
    let (account, a, b) = secrets::two_endpoints(&store).await;
    let mut raw = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    raw.batch_execute(&secrets::copy_secret_sql(&a, &b))
        .unwrap();
    secrets::a_copied_secret_is_a_storage_error(&store, &account, &a, &b).await;
    drop(store);
    secrets::assert_wrong_key(SqliteStore::open(&path, secrets::another_keyring()).map(|_| ()));
}

/// Read-your-writes through the single writer and the reader pool: a write
/// answered as done is seen by the very next read, on whichever pooled
/// connection it lands, while the writer's group commits and the
/// checkpoints (the checkpoint thread's, and the writer's own once the WAL
/// passes its restart length) run under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_is_read_back_at_once_under_load() {
    use booking_domain::ports::{ProviderStore, ServiceStore};

    use super::fixtures;

    let (_dir, store) = fresh();
    let tenant = fixtures::tenant(&store, "rw").await;
    let provider = fixtures::provider(&tenant.account, "P");
    store.create_provider(&provider).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let (account, provider) = (tenant.account.clone(), provider.id.clone());
            tokio::spawn(async move {
                for _ in 0..400 {
                    let service = fixtures::service(&account, &provider, 0, 0);
                    store.create_service(&service).await.unwrap();
                    let read = store.get_service(&account, &service.id).await.unwrap();
                    assert!(read.is_some(), "{} not read back", service.id);
                    let cached = store.get_service_cached(&account, &service.id).await;
                    assert!(cached.unwrap().is_some(), "{} not read back", service.id);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}
