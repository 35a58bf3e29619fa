//! The contract suite on `PostgresStore`: a fresh database per test, cloned
//! from a migrated template, on the server named by `TEST_DATABASE_URL`
//! (`scripts/test-postgres.sh` provides one). Without it a plain `cargo test`
//! lists every test here as ignored (`cfg(no_postgres)`, set by
//! `tests/build.rs`); under `make test` or `CI=true` they fail instead.
//!
//! The template is `booking_tpl_<hash of migrations/postgres>`: built once
//! (under a temporary name, then renamed, so concurrent test processes never
//! see a half-migrated one) and reused by later runs while the migrations
//! stay the same. Each test clones it into `booking_t_<unix secs>_<pid>_<n>`
//! and drops its database at the end when it passed; a failed test leaves
//! its database for inspection, and databases of that shape older than a
//! day are dropped when the template is first needed.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use booking_domain::ports::{IdempotencyBegin, IdempotencyStore, StorageError};
use booking_store::PostgresStore;
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jiff::SignedDuration;
use tokio::sync::OnceCell;

use super::fixtures::{now, tenant};
use super::{calendars, contract, feeds, holds, reminders, secrets, time_off, webhooks};

/// Connections per store in tests: small, the server is shared.
const POOL_SIZE: usize = 4;

/// Leftover test databases older than this are dropped.
const STALE_SECS: u64 = 24 * 60 * 60;

/// The server to test against; panics without one. The tests that need it
/// are ignored instead when it was missing at build time and nothing
/// required it (see `tests/build.rs`), so a plain `cargo test` says in its
/// summary that they did not run, and `make test` or CI fail without it.
pub fn database_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "TEST_DATABASE_URL is not set, and this Postgres test must run (CI or \
             BOOKING_REQUIRE_POSTGRES is set, or the tests were built with a database): \
             run `make test`, or `scripts/test-postgres.sh cargo test ...`"
        ),
    }
}

/// `url` with its database name replaced by `name` (query kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    datname: String,
}

async fn admin(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to TEST_DATABASE_URL: {e}"))
}

async fn execute(conn: &mut AsyncPgConnection, sql: &str) -> diesel::QueryResult<usize> {
    diesel::sql_query(sql).execute(conn).await
}

async fn databases(conn: &mut AsyncPgConnection, like: &str) -> Vec<String> {
    diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE $1")
        .bind::<Text, _>(like)
        .load::<Name>(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.datname)
        .collect()
}

async fn exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    let found = diesel::sql_query("SELECT datname FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(name)
        .load::<Name>(conn)
        .await
        .unwrap();
    !found.is_empty()
}

/// Runs `sql` until it stops failing because someone is still connected to
/// a database it needs alone (a closed connection's backend can take a
/// moment to go away).
async fn execute_when_alone(conn: &mut AsyncPgConnection, sql: &str) -> diesel::QueryResult<usize> {
    let mut attempts = 0;
    loop {
        match execute(conn, sql).await {
            Err(e) if attempts < 100 && e.to_string().contains("being accessed by other users") => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// A hash of the migration files: the template's identity.
fn migrations_hash() -> u64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/postgres");
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.strip_prefix(&dir).unwrap().hash(&mut hasher);
        std::fs::read(&file).unwrap().hash(&mut hasher);
    }
    hasher.finish()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Drops `booking_t_<secs>_…` and half-built `booking_tpl_<hash>_<secs>_…`
/// databases older than [`STALE_SECS`].
async fn drop_stale(conn: &mut AsyncPgConnection) {
    let now = unix_secs();
    for like in ["booking\\_t\\_%", "booking\\_tpl\\_%\\_%\\_%"] {
        for name in databases(conn, like).await {
            let secs = name
                .split('_')
                .filter_map(|part| part.parse::<u64>().ok())
                .find(|&n| n > 1_000_000_000);
            if secs.is_some_and(|secs| now.saturating_sub(secs) > STALE_SECS) {
                let _ = execute(
                    conn,
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                )
                .await;
            }
        }
    }
}

/// The migrated template's name, built on first use in this process.
async fn template(url: &str) -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let mut conn = admin(url).await;
            drop_stale(&mut conn).await;
            let name = format!("booking_tpl_{:016x}", migrations_hash());
            if exists(&mut conn, &name).await {
                return name;
            }
            let building = format!("{name}_{}_{}", unix_secs(), std::process::id());
            execute(&mut conn, &format!("CREATE DATABASE \"{building}\""))
                .await
                .unwrap();
            let applied = PostgresStore::migrate(&with_database(url, &building))
                .await
                .unwrap();
            assert!(!applied.is_empty());
            // No one may be connected to a template while it is cloned.
            execute(
                &mut conn,
                &format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{building}' AND pid <> pg_backend_pid()"
                ),
            )
            .await
            .unwrap();
            let renamed = execute_when_alone(
                &mut conn,
                &format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""),
            )
            .await;
            if let Err(e) = renamed {
                // Another process built it first: use theirs.
                assert!(e.to_string().contains("already exists"), "{e}");
                execute(
                    &mut conn,
                    &format!("DROP DATABASE \"{building}\" WITH (FORCE)"),
                )
                .await
                .unwrap();
            }
            name
        })
        .await
}

/// A database of its own for one test.
pub struct TestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    /// A fresh migrated database (panics without a server).
    pub async fn create() -> TestDb {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let admin_url = database_url();
        let template = template(&admin_url).await;
        let name = format!(
            "booking_t_{}_{}_{}",
            unix_secs(),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = admin(&admin_url).await;
        execute_when_alone(
            &mut conn,
            &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        )
        .await
        .unwrap();
        let url = with_database(&admin_url, &name);
        TestDb {
            admin_url,
            name,
            url,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new store (its own pool) on the database.
    pub async fn store(&self) -> PostgresStore {
        let store = PostgresStore::connect(&self.url, POOL_SIZE, booking_tests::test_keyring())
            .await
            .unwrap();
        assert!(store.applied_migrations().is_empty(), "cloned migrated");
        store
    }

    /// Drops the database (call at the end of a test that passed).
    pub async fn drop(self) {
        let mut conn = admin(&self.admin_url).await;
        execute(
            &mut conn,
            &format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name),
        )
        .await
        .unwrap();
    }
}

/// One test per contract test, each on a database of its own.
macro_rules! postgres_tests {
    ($($module:ident::$name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
            async fn $name() {
                let db = TestDb::create().await;
                let store = db.store().await;
                $module::$name(&store).await;
                drop(store);
                db.drop().await;
            }
        )*
    };
}

for_each_contract_test!(postgres_tests);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn concurrent_claims_across_two_pools_never_overlap() {
    // Two pools on one database behave like two server instances.
    let db = TestDb::create().await;
    let stores = [db.store().await, db.store().await];
    webhooks::concurrent_claims_never_overlap(&stores, 200, 4).await;
    drop(stores);
    db.drop().await;
}

/// Whether `wait_for_deliveries` resolves within `within`.
async fn woken(store: &PostgresStore, within: Duration) -> bool {
    use booking_domain::ports::DeliveryQueue;
    tokio::time::timeout(within, store.wait_for_deliveries())
        .await
        .is_ok()
}

/// Whether a wake-up is pending right now (consuming it): `timeout` polls
/// the wait once before looking at its zero deadline.
async fn pending_wake(store: &PostgresStore) -> bool {
    woken(store, Duration::ZERO).await
}

/// A marker sent to a store's listener through the database: once the store
/// has acted on it, it has acted on every notification committed before it
/// (a listening session receives them in commit order). It rides on the key
/// channel: the marker key's revocation is changed behind the store's back
/// and announced, and the store's cached read showing the change proves the
/// announcement arrived. "No wake-up came" is then a fact, not a wait.
struct Barrier {
    lookup: String,
    round: i64,
}

impl Barrier {
    /// A marker key, created through `store`.
    async fn new(store: &PostgresStore) -> Barrier {
        use booking_domain::ports::AccountStore;
        let key = super::fixtures::new_key("barrier");
        let lookup = key.lookup.clone();
        store.create_key(key).await.unwrap();
        Barrier { lookup, round: 0 }
    }

    /// Returns once `store` has acted on every notification committed
    /// before this call (`conn`: an admin connection to its database).
    async fn pass(&mut self, store: &PostgresStore, conn: &mut AsyncPgConnection) {
        use booking_domain::ports::AccountStore;
        self.round += 1;
        let revoked = Some(jiff::Timestamp::from_second(self.round).unwrap());
        // Cached from here on (found keys are).
        let cached = store.keys_by_lookup(&self.lookup).await.unwrap();
        assert_ne!(cached[0].revoked_at, revoked);
        execute(
            conn,
            &format!(
                "UPDATE api_keys SET revoked_at = {} WHERE lookup = '{}'",
                self.round, self.lookup
            ),
        )
        .await
        .unwrap();
        execute(conn, &format!("NOTIFY booking_keys, '{}'", self.lookup))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while store.keys_by_lookup(&self.lookup).await.unwrap()[0].revoked_at != revoked {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the store's listener never acted on the marker"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A tenant with a service and an endpoint subscribed to everything.
async fn subscribed(store: &PostgresStore) -> booking_domain::Service {
    use booking_domain::EventSet;
    use booking_domain::ports::ServiceStore;

    let a = tenant(store, "acme").await;
    let svc = super::fixtures::service(&a.account, &a.default_provider, 0, 0);
    store.create_service(&svc).await.unwrap();
    webhooks::stored_endpoint(store, &a.account, EventSet::all(), true).await;
    svc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn deliveries_queued_by_one_process_wake_the_workers_of_another() {
    let db = TestDb::create().await;
    let (a, b) = (db.store().await, db.store().await);
    let svc = subscribed(&a).await;
    let mut conn = admin(db.url()).await;
    let mut barrier = Barrier::new(&a).await;
    // Nothing was queued yet: B has no reason to wake.
    barrier.pass(&b, &mut conn).await;
    assert!(!pending_wake(&b).await);
    webhooks::queue(&a, &svc, 0, now()).await;
    assert!(
        woken(&b, Duration::from_secs(30)).await,
        "B hears A's NOTIFY after the commit"
    );
    // A conflicting (rolled back) insert notifies no one.
    barrier.pass(&b, &mut conn).await;
    pending_wake(&b).await;
    let clash = super::fixtures::booking(
        &svc,
        super::fixtures::t("2030-01-07T00:30:00Z"),
        booking_domain::BookingStatus::Pending,
    );
    {
        use booking_domain::ports::BookingStore;
        let events = [super::fixtures::event(
            booking_domain::EventKind::Created,
            &clash,
            None,
        )];
        assert!(a.insert_booking(&clash, &events).await.is_err());
    }
    barrier.pass(&b, &mut conn).await;
    assert!(!pending_wake(&b).await);
    drop(conn);
    drop((a, b));
    db.drop().await;
}

/// The pids of the webhook listeners connected to the test database.
async fn listeners(conn: &mut AsyncPgConnection, db: &str) -> Vec<i32> {
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    diesel::sql_query(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 \
         AND application_name = 'booking-api webhook listener' ORDER BY pid",
    )
    .bind::<Text, _>(db)
    .load::<Pid>(conn)
    .await
    .unwrap()
    .into_iter()
    .map(|p| p.pid)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn the_listener_reconnects_after_losing_its_connection() {
    let db = TestDb::create().await;
    let (a, b) = (db.store().await, db.store().await);
    let svc = subscribed(&a).await;
    let mut conn = admin(&database_url()).await;
    let before = listeners(&mut conn, &db.name).await;
    assert_eq!(before.len(), 2, "one dedicated connection per store");

    // The listeners' connections die (as in a database restart).
    execute(
        &mut conn,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' \
             AND application_name = 'booking-api webhook listener'",
            db.name
        ),
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let after = loop {
        let now = listeners(&mut conn, &db.name).await;
        if now.len() == 2 && now.iter().all(|pid| !before.contains(pid)) {
            break now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "listeners did not come back: {before:?} -> {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(before, after);
    // The reconnection itself wakes the workers (notifications sent while
    // nobody listened are lost); then B hears A again.
    assert!(woken(&b, Duration::from_secs(30)).await);
    let mut on_db = admin(db.url()).await;
    Barrier::new(&a).await.pass(&b, &mut on_db).await;
    pending_wake(&b).await;
    drop(on_db);
    webhooks::queue(&a, &svc, 0, now()).await;
    assert!(woken(&b, Duration::from_secs(30)).await);
    drop((a, b));
    // Dropping the stores stops their listeners.
    let started = std::time::Instant::now();
    while !listeners(&mut conn, &db.name).await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "listeners outlived their stores"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn concurrent_inserts_on_one_store_have_one_winner() {
    let db = TestDb::create().await;
    let store = db.store().await;
    contract::concurrent_overlapping_inserts_have_one_winner(&[store], 50).await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn racing_holds_across_three_pools_have_one_winner() {
    let db = TestDb::create().await;
    let stores = [db.store().await, db.store().await, db.store().await];
    holds::racing_holds_have_one_winner(&stores, 50).await;
    drop(stores);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn racing_holds_of_one_key_across_three_pools_stay_within_its_limit() {
    let db = TestDb::create().await;
    let stores = [db.store().await, db.store().await, db.store().await];
    holds::racing_holds_of_one_key_stay_within_its_limit(&stores, 24, 7).await;
    drop(stores);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn racing_reminders_across_three_pools_have_one_sender() {
    let db = TestDb::create().await;
    let stores = [db.store().await, db.store().await, db.store().await];
    reminders::racing_reminders_have_one_sender(&stores, 30).await;
    drop(stores);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn a_conversion_beats_racing_bookings_across_three_pools() {
    let db = TestDb::create().await;
    let stores = [db.store().await, db.store().await, db.store().await];
    holds::a_conversion_beats_racing_bookings(&stores, 60).await;
    drop(stores);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn concurrent_inserts_across_three_pools_have_one_winner() {
    // Three pools on one database behave like three server instances.
    let db = TestDb::create().await;
    let stores = [db.store().await, db.store().await, db.store().await];
    contract::concurrent_overlapping_inserts_have_one_winner(&stores, 200).await;
    drop(stores);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn concurrent_idempotency_begins_across_two_pools_have_one_winner() {
    let db = TestDb::create().await;
    let stores = [db.store().await, db.store().await];
    let a = tenant(&stores[0], "acme").await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = stores[i % stores.len()].clone();
            let account = a.account.clone();
            tokio::spawn(async move {
                s.begin(&account, "same", "h", now(), SignedDuration::from_hours(24))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut started = 0;
    for task in tasks {
        match task.await.unwrap() {
            IdempotencyBegin::Started => started += 1,
            IdempotencyBegin::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, 1);
    drop(stores);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn connect_migrates_once_and_migrate_reports_nothing_pending() {
    let db = TestDb::create().await;
    // The clone is already migrated.
    assert!(PostgresStore::migrate(db.url()).await.unwrap().is_empty());
    let store = db.store().await;
    assert!(store.applied_migrations().is_empty());
    drop(store);

    // An empty database: concurrent connects apply the migrations once.
    let url = database_url();
    let name = format!("{}_empty", db.name);
    let mut conn = admin(&url).await;
    execute(&mut conn, &format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let empty = with_database(&url, &name);
    let connects = (0..3).map(|_| {
        let empty = empty.clone();
        tokio::spawn(async move {
            PostgresStore::connect(&empty, 1, booking_tests::test_keyring())
                .await
                .unwrap()
        })
    });
    let mut applied = 0;
    for handle in connects.collect::<Vec<_>>() {
        applied += handle.await.unwrap().applied_migrations().len();
    }
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/postgres");
    assert_eq!(applied, std::fs::read_dir(migrations).unwrap().count());
    execute(&mut conn, &format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable() {
    // Needs no server: nothing listens on port 1.
    let result = PostgresStore::connect(
        "postgres://booking:booking@127.0.0.1:1/booking",
        2,
        booking_tests::test_keyring(),
    )
    .await;
    assert!(
        matches!(result, Err(StorageError::Unavailable(_))),
        "{:?}",
        result.err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn a_dropped_database_makes_calls_unavailable_not_empty() {
    use booking_domain::ports::{HealthCheck, ProviderStore};
    use booking_domain::{AccountId, ProviderId};

    let db = TestDb::create().await;
    let store = db.store().await;
    store.ping().await.unwrap();
    // The server goes away under the store (its connections are killed).
    let url = database_url();
    let mut conn = admin(&url).await;
    execute(
        &mut conn,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            db.name
        ),
    )
    .await
    .unwrap();
    execute(
        &mut conn,
        &format!("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS false", db.name),
    )
    .await
    .unwrap();
    let result = store
        .get_provider(
            &AccountId::from_trusted("acc_x"),
            &ProviderId::from_trusted("prv_x"),
        )
        .await;
    // Refused connections fail at once with what the server said (the
    // refusal, or the end of a connection whose termination was still under
    // way), not after the pool's wait timeout: the error says which. (How
    // fast is a benchmark's question, not this test's.) A pooled connection
    // whose end its driver saw before the query was sent says only
    // "connection closed": likelier over TLS (the default `prefer` on a
    // server with ssl=on), where reading the server's last words takes longer.
    let refused = |result: Result<(), StorageError>| match result {
        Err(StorageError::Unavailable(message)) => {
            assert!(
                message.contains("not currently accepting connections")
                    || message.contains("terminating connection")
                    || message.contains("connection closed"),
                "the server's answer itself: {message}"
            );
            assert!(
                !message.contains("Timeout") && !message.contains("took more than"),
                "not a timeout: {message}"
            );
        }
        other => panic!("expected Unavailable: {other:?}"),
    };
    refused(result.map(drop));
    refused(store.ping().await);
    drop(store);
    execute(
        &mut conn,
        &format!("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true", db.name),
    )
    .await
    .unwrap();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn events_keep_the_booking_snapshot_as_json() {
    use booking_domain::ports::{BookingStore, ServiceStore};
    use booking_domain::{BookingStatus, EventKind};

    use super::fixtures::{booking, event, service, t};

    let db = TestDb::create().await;
    let store = db.store().await;
    let a = tenant(&store, "acme").await;
    let svc = service(&a.account, &a.default_provider, 15, 15);
    store.create_service(&svc).await.unwrap();
    let b = booking(&svc, t("2030-01-07T10:00:00Z"), BookingStatus::Pending);
    store
        .insert_booking(&b, &[event(EventKind::Created, &b, None)])
        .await
        .unwrap();

    #[derive(QueryableByName)]
    struct Snapshot {
        #[diesel(sql_type = Text)]
        snapshot: String,
    }
    let mut conn = admin(db.url()).await;
    let rows: Vec<Snapshot> = diesel::sql_query("SELECT booking::text AS snapshot FROM events")
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let json: serde_json::Value = serde_json::from_str(&rows[0].snapshot).unwrap();
    // The SQLite store's snapshot shape: unix seconds, minor units, names.
    assert_eq!(json["id"], b.id.as_str());
    assert_eq!(json["status"], "pending");
    assert_eq!(json["scheduled_at"], 1_894_010_400);
    assert_eq!(json["occupied_start"], 1_894_010_400 - 15 * 60);
    assert_eq!(json["occupied_end"], 1_894_010_400 + 75 * 60);
    assert!(json["metadata"].is_object());
    assert!(json["price_minor"].is_i64());
    drop(conn);
    drop(store);
    db.drop().await;
}

/// A young table's statistics are refreshed as it grows (the store's
/// statistics task, `postgres/statistics.rs`): a generic plan made while
/// `bookings` was nearly empty would scan every booking of the account on
/// each foreign key check; once the table has grown, the store's task
/// analyzes it (`last_analyze`, which autovacuum never sets), and the same lookup planned
/// generically then goes through the unique `(account_id, id)` index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn a_growing_table_is_analyzed_so_lookups_by_id_use_the_unique_index() {
    use booking_domain::ports::{BookingStore, ServiceStore};
    use booking_domain::{BookingStatus, EventKind};

    use super::fixtures::{booking, event, service, t};

    #[derive(QueryableByName)]
    struct Analyzed {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        analyzed: bool,
        #[diesel(sql_type = Text)]
        counts: String,
    }
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }

    let db = TestDb::create().await;
    let mut conn = admin(db.url()).await;
    // Autovacuum stays out of this table (it could analyze it first and
    // leave too few changes for the task): only the store's task may.
    execute(
        &mut conn,
        "ALTER TABLE bookings SET (autovacuum_enabled = false)",
    )
    .await
    .unwrap();
    let store = db.store().await;
    let a = tenant(&store, "acme").await;
    let svc = service(&a.account, &a.default_provider, 0, 0);
    store.create_service(&svc).await.unwrap();
    let first = t("2030-01-07T00:00:00Z");
    for i in 0..1_100i64 {
        let at = first
            .checked_add(jiff::SignedDuration::from_hours(2 * i))
            .unwrap();
        let b = booking(&svc, at, BookingStatus::Confirmed);
        store
            .insert_booking(&b, &[event(EventKind::Created, &b, None)])
            .await
            .unwrap();
    }
    // The statistics task looks every 5 s, and a backend reports its
    // inserts up to 10 s after going idle (PostgreSQL's idle flush), so
    // this takes 5-15 s alone; on a loaded server a backend that finds the
    // shared statistics locked reports later, up to a minute. Autovacuum's
    // own analysis sets `last_autoanalyze`, never `last_analyze`, and is
    // off for this table anyway: only the store's task passes this.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let rows: Vec<Analyzed> = diesel::sql_query(
            "SELECT last_analyze IS NOT NULL AS analyzed, \
             format('%s changed since analysis, %s live, autoanalyzed %s', \
               n_mod_since_analyze, n_live_tup, last_autoanalyze) AS counts \
             FROM pg_stat_user_tables WHERE relname = 'bookings'",
        )
        .load(&mut conn)
        .await
        .unwrap();
        if rows.first().is_some_and(|r| r.analyzed) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bookings not analyzed 120 s after growing by 1,100 rows: {}",
            rows.first().map_or("no statistics", |r| r.counts.as_str())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    execute(&mut conn, "SET plan_cache_mode = force_generic_plan")
        .await
        .unwrap();
    execute(
        &mut conn,
        "PREPARE check_booking(text, text) AS SELECT 1 FROM ONLY bookings x \
         WHERE account_id = $1 AND id = $2 FOR KEY SHARE OF x",
    )
    .await
    .unwrap();
    let plan: Vec<Line> = diesel::sql_query("EXPLAIN EXECUTE check_booking('a', 'b')")
        .load(&mut conn)
        .await
        .unwrap();
    let plan: Vec<String> = plan.into_iter().map(|l| l.line).collect();
    assert!(
        plan.iter().any(|l| l.contains("bookings_account_id_key")),
        "{plan:#?}"
    );
    assert!(!plan.iter().any(|l| l.contains("Filter")), "{plan:#?}");
    drop(conn);
    drop(store);
    db.drop().await;
}

/// Copies booking `id` as an uncommitted `bk_holder` shifted by `shift`
/// seconds, inside the open transaction of `conn`.
async fn hold_copy(conn: &mut AsyncPgConnection, id: &str, shift: i64) {
    execute(conn, "BEGIN").await.unwrap();
    execute(
        conn,
        &format!(
            "INSERT INTO bookings (id, account_id, service_id, provider_id, duration_min, \
             scheduled_at, end_at, occupied_start, occupied_end, buffer_before, buffer_after, \
             status, customer_email, customer_name, price_minor, currency, notes, metadata, \
             cancel_reason, sequence, created_at, updated_at) \
             SELECT 'bk_holder', account_id, service_id, provider_id, duration_min, \
             scheduled_at + {shift}, end_at + {shift}, occupied_start + {shift}, \
             occupied_end + {shift}, buffer_before, buffer_after, status, customer_email, \
             customer_name, price_minor, currency, notes, metadata, cancel_reason, sequence, \
             created_at, updated_at FROM bookings WHERE id = '{id}'"
        ),
    )
    .await
    .unwrap();
}

/// An insert that meets an overlapping booking another transaction has not
/// committed gives up its optimistic wait, queues behind the provider's lock
/// and then waits as long as it takes: it wins when that transaction rolls
/// back and conflicts when it commits, and never fails otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn an_insert_waits_out_an_uncommitted_overlap_and_takes_its_outcome() {
    use booking_domain::ports::{BookingStore, CreateBookingError, ServiceStore};
    use booking_domain::{BookingStatus, EventKind};

    use super::fixtures::{booking, event, service, t};

    let db = TestDb::create().await;
    let store = db.store().await;
    let a = tenant(&store, "acme").await;
    let svc = service(&a.account, &a.default_provider, 0, 0);
    store.create_service(&svc).await.unwrap();
    let anchor = booking(&svc, t("2030-01-07T08:00:00Z"), BookingStatus::Confirmed);
    store
        .insert_booking(&anchor, &[event(EventKind::Created, &anchor, None)])
        .await
        .unwrap();
    let mut holder = admin(db.url()).await;

    for commit in [false, true] {
        // The holder occupies 10:00-11:00 without committing; the insert
        // wants 10:30, waits longer than the optimistic timeout, and learns
        // the outcome when the holder ends.
        hold_copy(&mut holder, anchor.id.as_str(), 2 * 3600).await;
        let b = booking(&svc, t("2030-01-07T10:30:00Z"), BookingStatus::Confirmed);
        let insert = {
            let store = store.clone();
            let b = b.clone();
            tokio::spawn(async move {
                store
                    .insert_booking(&b, &[event(EventKind::Created, &b, None)])
                    .await
            })
        };
        // The insert gives up its capped optimistic wait and queues behind
        // the provider's lock: wait for exactly that statement to be the
        // one waiting, the insert unfinished all along.
        #[derive(QueryableByName)]
        struct Waiting {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut observer = admin(db.url()).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            assert!(!insert.is_finished(), "the insert waits for the holder");
            let waiting: Waiting = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' \
                 AND query LIKE '%pg_advisory_xact_lock(hashtextextended%'",
            )
            .get_result(&mut observer)
            .await
            .unwrap();
            assert!(waiting.n <= 1, "one insert, one waiter: {}", waiting.n);
            if waiting.n == 1 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the insert never queued behind the provider's lock"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(observer);
        execute(&mut holder, if commit { "COMMIT" } else { "ROLLBACK" })
            .await
            .unwrap();
        let result = tokio::time::timeout(Duration::from_secs(30), insert)
            .await
            .unwrap()
            .unwrap();
        if commit {
            assert!(
                matches!(result, Err(CreateBookingError::Conflict)),
                "{result:?}"
            );
        } else {
            result.unwrap();
            // Out of the way for the committed round.
            execute(
                &mut holder,
                &format!("DELETE FROM events WHERE booking_id = '{}'", b.id),
            )
            .await
            .unwrap();
            execute(
                &mut holder,
                &format!("DELETE FROM bookings WHERE id = '{}'", b.id),
            )
            .await
            .unwrap();
        }
    }
    drop(holder);
    drop(store);
    db.drop().await;
}

/// Whether `done` holds within five seconds (asked every 20 ms): how long
/// a store may take to hear another's change.
async fn eventually(mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Looks `lookup` up on `store` until `done` holds for the answer, for at
/// most five seconds; whether it did.
async fn lookup_until(
    store: &PostgresStore,
    lookup: &str,
    done: impl Fn(&[booking_domain::ports::ApiKeyRecord]) -> bool,
) -> bool {
    use booking_domain::ports::AccountStore;
    eventually(async || done(&store.keys_by_lookup(lookup).await.unwrap())).await
}

/// Found keys are cached per store, and a revocation by any store reaches
/// the caches of all of them through the database's notifications.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn key_lookups_are_cached_until_a_revocation_is_announced() {
    use booking_domain::ports::AccountStore;

    use super::fixtures::new_key;

    let db = TestDb::create().await;
    let (first, second) = (db.store().await, db.store().await);
    let key = new_key("acme");
    let lookup = key.lookup.clone();
    let record = first.create_key(key).await.unwrap();
    let mut conn = admin(db.url()).await;

    // Cached: a change made behind the stores' back (no notification)
    // stays unseen while the entry lives.
    assert!(lookup_until(&second, &lookup, |r| r.len() == 1).await);
    execute(&mut conn, "UPDATE api_keys SET revoked_at = 1")
        .await
        .unwrap();
    for _ in 0..5 {
        let records = second.keys_by_lookup(&lookup).await.unwrap();
        assert_eq!(records[0].revoked_at, None, "answered from the cache");
    }
    // The announcement drops it.
    execute(&mut conn, &format!("NOTIFY booking_keys, '{lookup}'"))
        .await
        .unwrap();
    assert!(lookup_until(&second, &lookup, |r| r[0].revoked_at.is_some()).await);

    // A revocation through the store announces itself.
    execute(&mut conn, "UPDATE api_keys SET revoked_at = NULL")
        .await
        .unwrap();
    execute(&mut conn, &format!("NOTIFY booking_keys, '{lookup}'"))
        .await
        .unwrap();
    assert!(lookup_until(&second, &lookup, |r| r[0].revoked_at.is_none()).await);
    assert!(first.revoke_key(&record.id, now()).await.unwrap());
    assert!(
        lookup_until(&second, &lookup, |r| r[0].revoked_at == Some(now())).await,
        "the other store saw the revocation"
    );
    assert_eq!(
        first.keys_by_lookup(&lookup).await.unwrap()[0].revoked_at,
        Some(now())
    );
    drop(conn);
    drop((first, second));
    db.drop().await;
}

/// Reads the service through `store`'s cache until `done` holds for it, for
/// at most five seconds; whether it did.
async fn service_until(
    store: &PostgresStore,
    svc: &booking_domain::Service,
    done: impl Fn(&booking_domain::Service) -> bool,
) -> bool {
    use booking_domain::ports::ServiceStore;
    eventually(async || {
        let read = store.get_service_cached(&svc.account_id, &svc.id).await;
        read.unwrap().is_some_and(|s| done(&s))
    })
    .await
}

/// Services read for bookings and availability are cached per store; an
/// update (archiving included) is seen at once by the writing store and,
/// through the database's notifications, by the others; a change made
/// behind the stores' back stays unseen by the cached read until announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn services_are_cached_until_an_update_is_announced() {
    use booking_domain::ports::ServiceStore;

    use super::fixtures::service;

    let db = TestDb::create().await;
    let (first, second) = (db.store().await, db.store().await);
    let a = tenant(&first, "acme").await;
    let mut svc = service(&a.account, &a.default_provider, 0, 0);
    first.create_service(&svc).await.unwrap();
    // Created through one store, found at once through the other (only
    // services that exist are cached).
    assert_eq!(
        second
            .get_service_cached(&a.account, &svc.id)
            .await
            .unwrap()
            .as_ref(),
        Some(&svc)
    );

    // Behind the stores' back: the cached read keeps the old row until the
    // announcement; the plain read sees the change at once.
    let mut conn = admin(db.url()).await;
    execute(&mut conn, "UPDATE services SET name = 'Behind'")
        .await
        .unwrap();
    for _ in 0..5 {
        let cached = second.get_service_cached(&a.account, &svc.id).await;
        assert_eq!(cached.unwrap().unwrap().name, svc.name, "from the cache");
    }
    let fresh = second.get_service(&a.account, &svc.id).await.unwrap();
    assert_eq!(fresh.unwrap().name, "Behind");
    execute(
        &mut conn,
        &format!("NOTIFY booking_services, '{}/{}'", a.account, svc.id),
    )
    .await
    .unwrap();
    assert!(service_until(&second, &svc, |s| s.name == "Behind").await);

    // An update through a store: the writer at once, the other soon after.
    assert!(service_until(&first, &svc, |s| s.name == "Behind").await);
    svc.archived = true;
    assert!(first.update_service(&svc).await.unwrap());
    let cached = first.get_service_cached(&a.account, &svc.id).await;
    assert_eq!(cached.unwrap().as_ref(), Some(&svc), "the writer at once");
    assert!(
        service_until(&second, &svc, |s| s.archived).await,
        "the other store saw the update"
    );
    drop(conn);
    drop((first, second));
    db.drop().await;
}

/// Reads `store`'s busy time over the whole of 2030-01-07 until `done`
/// holds for it, for at most five seconds; whether it did.
async fn busy_until(
    store: &PostgresStore,
    a: &super::fixtures::Tenant,
    done: impl Fn(&[booking_domain::TimeRange]) -> bool,
) -> bool {
    use booking_domain::ports::BookingStore;
    let day = super::fixtures::range("2030-01-07T00:00:00Z", "2030-01-08T00:00:00Z");
    eventually(async || {
        let busy = store
            .busy_times(
                &a.account,
                &a.default_provider,
                day,
                None,
                jiff::Timestamp::now(),
            )
            .await
            .unwrap();
        done(&busy)
    })
    .await
}

/// Busy time is cached per store; every write that changes it (booking
/// inserts and updates, calendar syncs and deletions) is seen at once by the
/// writing store and, through the database's notifications, by the others;
/// a change made behind the stores' back stays unseen until announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn busy_time_is_cached_until_a_change_is_announced() {
    use booking_domain::ports::{BookingStore, CalendarStore, ServiceStore, SyncResult};
    use booking_domain::{BookingStatus, EventKind, TimeRange, Validators};

    use super::calendars::{connection, google};
    use super::fixtures::{booking, event, service, t};

    let db = TestDb::create().await;
    let (first, second) = (db.store().await, db.store().await);
    let a = tenant(&first, "acme").await;
    let svc = service(&a.account, &a.default_provider, 0, 0);
    first.create_service(&svc).await.unwrap();
    let empty = |busy: &[TimeRange]| busy.is_empty();
    assert!(busy_until(&first, &a, empty).await);
    assert!(busy_until(&second, &a, empty).await);

    // A booking: the writer sees it at once, the other store soon after.
    let b = booking(&svc, t("2030-01-07T10:00:00Z"), BookingStatus::Pending);
    first
        .insert_booking(&b, &[event(EventKind::Created, &b, None)])
        .await
        .unwrap();
    let one = |busy: &[TimeRange]| busy.len() == 1;
    let day = super::fixtures::range("2030-01-07T00:00:00Z", "2030-01-08T00:00:00Z");
    assert_eq!(
        first
            .busy_times(
                &a.account,
                &a.default_provider,
                day,
                None,
                jiff::Timestamp::now()
            )
            .await
            .unwrap()
            .len(),
        1,
        "the writing store sees its own write at once"
    );
    assert!(busy_until(&second, &a, one).await);

    // Behind the stores' back: unseen while cached, seen once announced.
    let mut conn = admin(db.url()).await;
    hold_copy(&mut conn, b.id.as_str(), 2 * 3600).await;
    execute(&mut conn, "COMMIT").await.unwrap();
    for _ in 0..5 {
        let busy = second
            .busy_times(
                &a.account,
                &a.default_provider,
                day,
                None,
                jiff::Timestamp::now(),
            )
            .await
            .unwrap();
        assert_eq!(busy.len(), 1, "answered from the cache");
    }
    execute(
        &mut conn,
        &format!(
            "NOTIFY booking_busy, '{}/{}'",
            a.account, a.default_provider
        ),
    )
    .await
    .unwrap();
    let two = |busy: &[TimeRange]| busy.len() == 2;
    assert!(busy_until(&second, &a, two).await);

    // An update (cancelling) frees the time everywhere.
    let mut cancelled = b.clone();
    cancelled.status = BookingStatus::Cancelled;
    cancelled.updated_at = plus_secs(b.updated_at, 1);
    first
        .update_booking(
            &b,
            &cancelled,
            &[event(EventKind::Cancelled, &cancelled, None)],
        )
        .await
        .unwrap();
    assert!(busy_until(&second, &a, one).await);

    // A calendar sync adds blocks everywhere; deleting the calendar frees them.
    let c = connection(&a.account, &a.default_provider, google());
    first.create_calendar(&c).await.unwrap();
    assert!(busy_until(&second, &a, one).await, "cached again");
    let blocks = SyncResult::Busy {
        blocks: vec![TimeRange::new(t("2030-01-07T15:00:00Z"), t("2030-01-07T16:00:00Z")).unwrap()],
        validators: Validators::default(),
    };
    first
        .record_calendar_sync(&a.account, &c.id, &blocks, None, now())
        .await
        .unwrap();
    assert!(busy_until(&second, &a, two).await);
    first
        .delete_calendar(&a.account, &a.default_provider, &c.id)
        .await
        .unwrap();
    assert!(busy_until(&second, &a, one).await);
    drop(conn);
    drop((first, second));
    db.drop().await;
}

fn plus_secs(t: jiff::Timestamp, secs: i64) -> jiff::Timestamp {
    t.checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn a_secret_copied_to_another_row_is_a_storage_error_and_a_wrong_key_refused() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let (account, a, b) = secrets::two_endpoints(&store).await;
    let mut raw = admin(db.url()).await;
    execute(&mut raw, &secrets::copy_secret_sql(&a, &b))
        .await
        .unwrap();
    drop(raw);
    secrets::a_copied_secret_is_a_storage_error(&store, &account, &a, &b).await;
    drop(store);
    let refused = PostgresStore::connect(db.url(), 1, secrets::another_keyring()).await;
    secrets::assert_wrong_key(refused.map(|_| ()));
    db.drop().await;
}

/// Errors are classed by their SQLSTATE, whatever language the server
/// writes its messages in: a trigger raises 57P01 (admin_shutdown) with a
/// German message, then 42P01 with the English text of a shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn errors_are_classed_by_sqlstate_not_by_message_language() {
    use booking_domain::ports::ProviderStore;

    let db = TestDb::create().await;
    let store = db.store().await;
    let acme = tenant(&store, "acme").await;
    let mut conn = admin(db.url()).await;
    let raise = |code: &str, message: &str| {
        format!(
            "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $f$ \
             BEGIN RAISE EXCEPTION '{message}' USING ERRCODE = '{code}'; END $f$"
        )
    };
    execute(&mut conn, &raise("57P01", "Verbindung wird abgebrochen"))
        .await
        .unwrap();
    execute(
        &mut conn,
        "CREATE TRIGGER refuse BEFORE INSERT ON providers FOR EACH ROW EXECUTE FUNCTION refuse()",
    )
    .await
    .unwrap();
    let shut_down = store
        .create_provider(&super::fixtures::provider(&acme.account, "Ann"))
        .await;
    assert!(
        matches!(shut_down, Err(StorageError::Unavailable(_))),
        "{shut_down:?}"
    );

    execute(
        &mut conn,
        &raise(
            "42P01",
            "terminating connection due to administrator command",
        ),
    )
    .await
    .unwrap();
    let broken = store
        .create_provider(&super::fixtures::provider(&acme.account, "Bob"))
        .await;
    assert!(
        matches!(broken, Err(StorageError::Internal(_))),
        "{broken:?}"
    );
}
