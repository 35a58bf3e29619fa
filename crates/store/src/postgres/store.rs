//! The [`PostgresStore`] type: its pool, migrations, how work runs on a
//! connection, and the hooks the shared port impls call.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use booking_domain::ports::{ApiKeyRecord, HealthCheck, StorageError};
use booking_domain::{AccountId, Service, ServiceId};
use diesel::result::Error as DieselError;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::Notify;

use super::cache::{self, BusyAnnouncer, BusyCache, KeyCache, ServiceCache};
use super::listen::{self, Listener};
use super::notify;
use super::tls::{CONNECT_TIMEOUT, establish};
use crate::secrets::Keyring;
use crate::{TxError, TxFuture, db_error, log_outcome};

/// The connection the shared queries run on.
pub(crate) type Conn = AsyncPgConnection;

/// The schema migrations, embedded at build time.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// How long a caller waits for a free pooled connection, and how long
/// checking an idle one (`SELECT 1`) may take, before `Unavailable`.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Session advisory lock held while migrating, so instances starting
/// together apply each migration exactly once. (An arbitrary constant:
/// "booking" in ASCII.)
const MIGRATION_LOCK: i64 = 0x0062_6f6f_6b69_6e67;

/// How many times a transaction that lost a deadlock or a serialization
/// conflict is run again. Concurrent inserts of overlapping bookings can
/// deadlock inside the exclusion-constraint check; the retry then sees the
/// winner and fails with the constraint violation.
const RETRIES: usize = 5;

pub(crate) type PgPool = Pool<AsyncPgConnection>;

/// The Postgres store: cheap to clone (an `Arc` around a connection pool).
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pool: PgPool,
    applied: Vec<String>,
    /// Seals and opens the secret columns (see `secrets.rs`).
    secrets: Arc<Keyring>,
    /// Signalled after a commit that queued webhook deliveries, here or (by
    /// the listener) in another process.
    pub(crate) wake: Arc<Notify>,
    /// The holds this process made (see `hold_cache.rs`).
    pub(crate) holds: crate::hold_cache::HoldCache,
    /// Signalled after a commit (in this process) that queued calendar
    /// writes: wakes the calendar writer (see `wait_for_calendar_writes`).
    pub(crate) calendar_wake: tokio::sync::Notify,
    /// API keys found lately, dropped on revocation (see `cache.rs`).
    keys: Arc<KeyCache>,
    /// Services read lately, dropped on update (see `cache.rs`).
    services: Arc<ServiceCache>,
    /// Providers' busy time read lately, dropped on change (see `cache.rs`).
    pub(crate) busy: Arc<BusyCache>,
    /// Tells the other processes which providers' busy time changed.
    announcer: BusyAnnouncer,
    /// Analyzes young tables as they grow (see `statistics.rs`).
    _statistics: super::statistics::StatisticsKeeper,
    /// Stops the listener when the store is dropped.
    _listener: Listener,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.inner.pool.status();
        f.debug_struct("PostgresStore")
            .field("max_size", &status.max_size)
            .field("connections", &status.size)
            .field("idle", &status.available)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Builds the pool (at most `pool_size` connections, at least 1),
    /// applies pending migrations and starts listening for webhook
    /// notifications (one more connection, outside the pool, kept until the
    /// store is dropped; must be called inside a tokio runtime).
    /// Then brings the stored secrets under `secrets` (see `sealing.rs`; one
    /// instance at a time).
    /// `Err(StorageError::Unavailable)` when the server can't be reached;
    /// `Internal` when a migration fails or `secrets` do not open the stored
    /// secrets (the message says so).
    pub async fn connect(
        url: &str,
        pool_size: usize,
        secrets: Keyring,
    ) -> Result<PostgresStore, StorageError> {
        let applied = PostgresStore::migrate(url).await?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied postgres migrations");
        }
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        config.custom_setup = Box::new(|url| Box::pin(establish_pooled(url)));
        // No `SELECT 1` before every use (that doubled the round trips of
        // every call): a connection that broke is reported broken by its
        // first failing query and then discarded instead of recycled.
        config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| StorageError::Internal(format!("cannot build postgres pool: {e}")))?;
        let wake = Arc::new(Notify::new());
        let announcer = BusyAnnouncer::start(pool.clone());
        let statistics = super::statistics::StatisticsKeeper::start(pool.clone());
        let keys = Arc::new(cache::key_cache());
        let services = Arc::new(cache::service_cache());
        let busy = Arc::new(cache::busy_cache());
        let listener = Listener::start(
            url,
            listen::Signals {
                wake: Arc::clone(&wake),
                keys: Arc::clone(&keys),
                services: Arc::clone(&services),
                busy: Arc::clone(&busy),
            },
        )
        .await;
        let store = PostgresStore {
            inner: Arc::new(Inner {
                pool,
                applied,
                secrets: Arc::new(secrets),
                wake,
                holds: Default::default(),
                calendar_wake: Notify::new(),
                keys,
                services,
                busy,
                announcer,
                _statistics: statistics,
                _listener: listener,
            }),
        };
        let sealed = store.reseal_secrets(&store.inner.secrets).await?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                key_id = store.inner.secrets.current().id(),
                "encrypted stored secrets under the current key"
            );
        }
        Ok(store)
    }

    /// The keys the secret columns are sealed and opened with.
    pub(crate) fn secret_keys(&self) -> Arc<Keyring> {
        Arc::clone(&self.inner.secrets)
    }

    /// Wakes a delivery worker waiting in `wait_for_deliveries` (or the
    /// next one to wait).
    pub(crate) fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Wakes the calendar writer waiting in `wait_for_calendar_writes` (or
    /// the next one to wait): writes were queued.
    pub(crate) fn calendar_wake(&self) {
        self.inner.calendar_wake.notify_one();
    }

    /// After a write of a provider's busy time committed: drops what this
    /// process cached of it, and has the others drop theirs.
    pub(crate) fn busy_changed(&self, account: &str, provider: &str) {
        let group = cache::group(account, provider);
        self.inner.busy.invalidate(&group);
        self.inner.announcer.announce(group);
    }

    /// Applies pending migrations; returns the versions applied, oldest
    /// first (empty when the schema is up to date). Holds a session advisory
    /// lock meanwhile, so concurrent callers apply each migration once.
    pub async fn migrate(url: &str) -> Result<Vec<String>, StorageError> {
        let conn = establish(url).await.map_err(|e| match e {
            // A mistake in the URL (sslmode, sslrootcert): retrying won't help.
            diesel::ConnectionError::InvalidConnectionUrl(_) => {
                StorageError::Internal(format!("invalid postgres URL: {e}"))
            }
            _ => StorageError::Unavailable(format!("cannot connect to postgres: {e}")),
        })?;
        let joined = tokio::task::spawn_blocking(move || {
            let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
            run_migrations(&mut conn)
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(e) => Err(StorageError::Internal(format!(
                "postgres migration task failed: {e}"
            ))),
        }
    }

    /// The versions of the migrations that [`PostgresStore::connect`]
    /// applied (empty when the schema was already up to date).
    pub fn applied_migrations(&self) -> &[String] {
        &self.inner.applied
    }

    /// A pooled connection, or `Unavailable` when none can be had in time
    /// (a refused connection fails at once).
    async fn conn(&self) -> Result<Object<AsyncPgConnection>, StorageError> {
        self.inner.pool.get().await.map_err(pool_error)
    }

    /// Runs `f` on a pooled connection; database errors become
    /// [`StorageError`]s (logged here), the other [`TxError`]s pass through.
    /// `f` runs again (at most [`RETRIES`] times) when it lost a deadlock or
    /// a serialization conflict, so it must be a whole transaction.
    pub(crate) async fn run<T, F>(&self, op: &'static str, mut f: F) -> Result<T, TxError>
    where
        F: for<'c> FnMut(&'c mut AsyncPgConnection) -> TxFuture<'c, T> + Send,
        T: Send,
    {
        let result = async {
            let mut conn = self.conn().await?;
            let mut attempt = 1;
            loop {
                match f(&mut conn).await {
                    Err(TxError::Db(e)) if attempt < RETRIES && is_retryable(&e) => {
                        tracing::debug!(operation = op, attempt, error = %e, "retrying transaction");
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        }
        .await
        .map_err(TxError::normalize);
        log_outcome("postgres", op, &result);
        result
    }

    /// Runs the read `f` on a pooled connection (once: a read has no
    /// deadlock to lose). Failures are logged here.
    pub(crate) async fn read<T, F>(&self, op: &'static str, f: F) -> Result<T, StorageError>
    where
        F: for<'c> FnOnce(&'c mut Conn) -> TxFuture<'c, T> + Send,
        T: Send,
    {
        let result = match self.conn().await {
            Ok(mut conn) => f(&mut conn).await.map_err(TxError::normalize),
            Err(e) => Err(TxError::Storage(e)),
        };
        log_outcome("postgres", op, &result);
        result.map_err(TxError::storage)
    }

    /// A write: [`PostgresStore::run`] (the database orders concurrent
    /// writers; a multi-statement write is a transaction of its own).
    pub(crate) async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T, TxError>
    where
        F: for<'c> FnMut(&'c mut Conn) -> TxFuture<'c, T> + Send,
        T: Send,
    {
        self.run(op, f).await
    }

    /// The keys of `lookup`, from the keys' cache (see `cache.rs`) or from
    /// `read`. Unknown keys are not cached: a new key works at once.
    pub(crate) async fn keys_cached(
        &self,
        lookup: &str,
        read: impl Future<Output = Result<Vec<ApiKeyRecord>, StorageError>>,
    ) -> Result<Vec<ApiKeyRecord>, StorageError> {
        let epoch = match self.inner.keys.get(lookup, "") {
            Ok(cached) => return Ok(cached),
            Err(epoch) => epoch,
        };
        let records = read.await?;
        if !records.is_empty() {
            let cost = records.len();
            self.inner
                .keys
                .fill(lookup, "", records.clone(), cost, epoch);
        }
        Ok(records)
    }

    /// Inside a revocation's transaction: every store drops the key from its
    /// cache when it commits.
    pub(crate) async fn key_revoked_tx(conn: &mut Conn, lookup: String) -> Result<(), TxError> {
        notify::send(conn, notify::KEYS, lookup).await?;
        Ok(())
    }

    /// The service, from the services' cache (see `cache.rs`) or from
    /// `read`: only services that exist are cached, so one created anywhere
    /// is found at once.
    pub(crate) async fn service_cached(
        &self,
        account: &AccountId,
        id: &ServiceId,
        read: impl Future<Output = Result<Option<Service>, StorageError>>,
    ) -> Result<Option<Service>, StorageError> {
        let group = cache::group(account.as_str(), id.as_str());
        let epoch = match self.inner.services.get(&group, "") {
            Ok(cached) => return Ok(Some(cached)),
            Err(epoch) => epoch,
        };
        let service = read.await?;
        if let Some(service) = &service {
            self.inner
                .services
                .fill(&group, "", service.clone(), 1, epoch);
        }
        Ok(service)
    }

    /// Inside a service update's transaction: every store drops the service
    /// from its cache when it commits.
    pub(crate) async fn service_changed_tx(
        conn: &mut Conn,
        account: &str,
        id: &str,
    ) -> Result<(), TxError> {
        notify::send(conn, notify::SERVICES, cache::group(account, id)).await?;
        Ok(())
    }

    /// After a service update: this process reads the row again at once.
    pub(crate) fn service_changed(&self, account: &str, id: &str) {
        self.inner.services.invalidate(&cache::group(account, id));
    }

    /// Inserts event rows, in one statement.
    pub(crate) async fn insert_event_rows(
        conn: &mut Conn,
        rows: &[crate::rows::EventRow],
    ) -> Result<(), TxError> {
        diesel_async::RunQueryDsl::execute(
            diesel::insert_into(crate::schema::events::table).values(rows),
            conn,
        )
        .await?;
        Ok(())
    }

    /// Runs a multi-row statement.
    pub(crate) async fn execute_batch<Q>(conn: &mut Conn, query: Q) -> Result<usize, TxError>
    where
        Q: diesel_async::methods::ExecuteDsl<Conn> + diesel_async::RunQueryDsl<Conn> + Send,
    {
        Ok(diesel_async::RunQueryDsl::execute(query, conn).await?)
    }

    /// Inside a transaction that made deliveries due: wakes the workers of
    /// every process when it commits.
    pub(crate) async fn deliveries_queued_tx(conn: &mut Conn) -> Result<(), TxError> {
        notify::send(conn, notify::WEBHOOKS, String::new()).await?;
        Ok(())
    }
}

/// Maps a pool failure: no connection could be had (timeouts, refused or
/// failed connections, a closed pool) is `Unavailable`; a misconfigured
/// pool is `Internal`.
fn pool_error(e: PoolError) -> StorageError {
    match e {
        PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => {
            StorageError::Internal(format!("postgres pool: {e}"))
        }
        PoolError::Timeout(_) | PoolError::Backend(_) | PoolError::Closed => {
            StorageError::Unavailable(format!("no postgres connection available: {e}"))
        }
    }
}

/// Applies pending migrations under [`MIGRATION_LOCK`]. Blocking: runs on
/// tokio's blocking pool.
fn run_migrations(
    conn: &mut AsyncConnectionWrapper<AsyncPgConnection>,
) -> Result<Vec<String>, StorageError> {
    use diesel::connection::SimpleConnection;

    SimpleConnection::batch_execute(conn, &format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .map_err(db_error)?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| StorageError::Internal(format!("postgres migration failed: {e}")));
    // Closing the connection releases the lock too; unlock for good measure.
    let unlock = format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})");
    if let Err(e) = SimpleConnection::batch_execute(conn, &unlock) {
        tracing::warn!(error = %e, "cannot release the postgres migration lock");
    }
    result
}

/// Whether running the transaction again may succeed: it lost a deadlock
/// (40P01) or a serialization conflict (40001).
fn is_retryable(e: &DieselError) -> bool {
    crate::sqlstate(e).is_some_and(|code| matches!(code.as_str(), "40P01" | "40001"))
}

#[async_trait]
impl HealthCheck for PostgresStore {
    async fn ping(&self) -> Result<(), StorageError> {
        self.run("ping", |conn| {
            Box::pin(async move {
                conn.batch_execute("SELECT 1").await?;
                Ok(())
            })
        })
        .await
        .map_err(TxError::storage)
    }
}

/// A connection of the pool: [`establish`], then generic plans only.
///
/// Every statement of the store is prepared once per connection with fixed
/// text (see `sql.rs`) and written for a generic plan (partial-index
/// conditions are literals, not parameters). Left to `plan_cache_mode =
/// auto`, Postgres kept re-planning the booking insert for each execution
/// (its custom plans looked cheaper once the statement gained the time-off
/// and daily-cap subqueries), which cost booking creation a quarter of its
/// throughput at 64 clients (`scripts/bench-http.sh`: 1,727-1,827/s against
/// 2,418/s with generic plans; docs/performance.md).
async fn establish_pooled(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    let mut conn = establish(url).await?;
    conn.batch_execute("SET plan_cache_mode = force_generic_plan")
        .await
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use diesel::result::DatabaseErrorKind;

    fn error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn deadlocks_and_serialization_failures_are_retried() {
        // Read by code: "Verklemmung entdeckt" is German for "deadlock detected".
        assert!(is_retryable(&crate::testing::coded(
            "40P01",
            "Verklemmung entdeckt"
        )));
        assert!(!is_retryable(&error(
            DatabaseErrorKind::Unknown,
            "deadlock detected"
        )));
        assert!(is_retryable(&crate::testing::coded(
            "40001",
            "could not serialize access"
        )));
        assert!(!is_retryable(&crate::testing::coded(
            "23P01",
            "conflicting key value violates exclusion constraint"
        )));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable() {
        // Port 1 on loopback refuses connections at once.
        let result = PostgresStore::connect(
            "postgres://u:p@127.0.0.1:1/db",
            1,
            crate::secrets::test_keys(),
        )
        .await;
        assert!(
            matches!(result, Err(StorageError::Unavailable(_))),
            "{result:?}"
        );
        let result = PostgresStore::migrate("postgres://u:p@127.0.0.1:1/db").await;
        assert!(matches!(result, Err(StorageError::Unavailable(_))));
    }
}
