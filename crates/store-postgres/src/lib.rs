//! Production Postgres store for booking-api.
//!
//! [`PostgresStore`] implements every storage port of `booking-domain`
//! ([`AccountStore`](booking_domain::ports::AccountStore),
//! [`ProviderStore`](booking_domain::ports::ProviderStore),
//! [`ServiceStore`](booking_domain::ports::ServiceStore),
//! [`BookingStore`](booking_domain::ports::BookingStore),
//! [`WebhookStore`](booking_domain::ports::WebhookStore),
//! [`DeliveryQueue`](booking_domain::ports::DeliveryQueue),
//! [`IdempotencyStore`](booking_domain::ports::IdempotencyStore),
//! [`HealthCheck`] and
//! [`RateLimiter`](booking_domain::ports::RateLimiter)) on one Postgres
//! database, through a deadpool pool of diesel-async connections (pure
//! Rust: tokio-postgres, no libpq), plus one dedicated connection that
//! listens for webhook notifications. Every connection is opened by
//! `tls.rs`, which honours the URL's `sslmode` and `sslrootcert` as libpq
//! does, with rustls.
//!
//! Why it is shaped this way:
//!
//! - Everything that must hold across server instances is enforced by the
//!   database, never by process memory: booking conflicts by the exclusion
//!   constraint `bookings_no_overlap` (the store inserts without checking
//!   first and maps its violation to `Conflict`), stale updates by a guarded
//!   `UPDATE … WHERE status = … AND scheduled_at = … AND updated_at = …`,
//!   idempotency claims by the primary key with `ON CONFLICT`, rate
//!   limits by one GCRA upsert per check on the database clock, and webhook
//!   claims by `FOR UPDATE … SKIP LOCKED` with a lease.
//! - Webhooks use a transactional outbox: the transaction that writes a
//!   booking's events also queues their deliveries and sends a `NOTIFY`
//!   (delivered only if it commits). Every store `LISTEN`s on a connection
//!   of its own, started by [`PostgresStore::connect`] and stopped when the
//!   store is dropped, and wakes its delivery workers on each notification;
//!   it reconnects with a backoff when the database goes away.
//! - A database that cannot be reached fails fast: a refused connection is
//!   reported to the caller at once, and connecting, checking a pooled
//!   connection and waiting for one are bounded; those failures (and a
//!   server shutting down) are [`StorageError::Unavailable`]; everything
//!   else is [`StorageError::Internal`]. Nothing is mapped to "not found".
//! - Hand-written SQL goes through a statement type that diesel caches like
//!   its own queries (one round trip per use, not two), with literal status
//!   values where a partial index must apply.
//! - Instants are stored as unix seconds (UTC), money as integer minor units,
//!   like the SQLite store; the schema lives in `migrations/postgres` and is
//!   embedded in the binary.

mod accounts;
mod bookings;
mod cache;
mod calendars;
mod catalog;
mod feeds;
mod idempotency;
mod listen;
mod ratelimit;
mod rows;
mod schema;
mod sql;
mod tls;
mod webhooks;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use booking_domain::ports::{HealthCheck, StorageError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::Notify;

use crate::cache::{BusyAnnouncer, BusyCache, KeyCache, ServiceCache};
use crate::listen::Listener;

/// The schema migrations, embedded at build time.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// How long establishing one connection may take before `Unavailable`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The future of one unit of work on a connection (see [`PostgresStore::run`]).
type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, TxError>> + Send + 'c>>;

/// The Postgres store: cheap to clone (an `Arc` around a connection pool).
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    applied: Vec<String>,
    /// Signalled after a commit that queued webhook deliveries, here or (by
    /// the listener) in another process.
    wake: Arc<Notify>,
    /// API keys found lately, dropped on revocation (see `cache.rs`).
    keys: Arc<KeyCache>,
    /// Services read lately, dropped on update (see `cache.rs`).
    services: Arc<ServiceCache>,
    /// Providers' busy time read lately, dropped on change (see `cache.rs`).
    busy: Arc<BusyCache>,
    /// Tells the other processes which providers' busy time changed.
    announcer: BusyAnnouncer,
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
    /// `Err(StorageError::Unavailable)` when the server can't be reached;
    /// `Internal` when a migration fails.
    pub async fn connect(url: &str, pool_size: usize) -> Result<PostgresStore, StorageError> {
        let applied = PostgresStore::migrate(url).await?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied postgres migrations");
        }
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        config.custom_setup = Box::new(|url| Box::pin(establish(url)));
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
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                applied,
                wake,
                keys,
                services,
                busy,
                announcer,
                _listener: listener,
            }),
        })
    }

    /// Wakes a delivery worker waiting in `wait_for_deliveries` (or the
    /// next one to wait).
    fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// After a write of a provider's busy time committed: drops what this
    /// process cached of it, and has the others drop theirs.
    fn busy_changed(&self, account: &str, provider: &str) {
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
    async fn run<T, F>(&self, op: &'static str, mut f: F) -> Result<T, TxError>
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
        match &result {
            Err(TxError::Storage(e @ StorageError::Unavailable(_))) => {
                tracing::warn!(operation = op, error = %e, "postgres store unavailable");
            }
            Err(TxError::Storage(e @ StorageError::Internal(_))) => {
                tracing::error!(operation = op, error = %e, "postgres store failure");
            }
            _ => {}
        }
        result
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

/// Opens one connection, giving up after [`CONNECT_TIMEOUT`].
async fn establish(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, tls::connect(url)).await {
        Ok(result) => result,
        Err(_) => Err(diesel::ConnectionError::BadConnection(format!(
            "connecting took more than {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
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
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        // diesel exposes no SQLSTATE for 40P01; the server's message names it.
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            info.message().contains("deadlock detected")
        }
        _ => false,
    }
}

/// Maps a diesel error: a lost or refused connection, or a server shutting
/// down or out of connection slots, is `Unavailable`; the rest `Internal`.
fn db_error(e: DieselError) -> StorageError {
    let unavailable = match &e {
        // tokio-postgres errors without a SQLSTATE: I/O, closed connection.
        DieselError::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
            _,
        ) => true,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            is_unavailable_message(info.message())
        }
        // A transaction whose rollback failed: the connection is gone.
        DieselError::BrokenTransactionManager => true,
        _ => false,
    };
    if unavailable {
        StorageError::Unavailable(format!("postgres: {e}"))
    } else {
        StorageError::Internal(format!("postgres: {e}"))
    }
}

/// The messages of the SQLSTATEs that mean "try again later" (diesel keeps
/// the message but not the code): 57P01 admin_shutdown, 57P02
/// crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections,
/// 57014 query_canceled by a statement timeout, and connection failures.
fn is_unavailable_message(message: &str) -> bool {
    const MARKERS: [&str; 9] = [
        "terminating connection",
        "the database system is",
        "too many clients",
        "connection slots are reserved",
        "canceling statement due to statement timeout",
        "server closed the connection",
        "connection closed",
        "connection reset",
        "broken pipe",
    ];
    let message = message.to_ascii_lowercase();
    MARKERS.iter().any(|m| message.contains(m))
}

/// What a closure run by [`PostgresStore::run`] can fail with.
#[derive(Debug)]
enum TxError {
    /// A raw database error (mapped by [`TxError::normalize`]).
    Db(DieselError),
    /// A storage failure.
    Storage(StorageError),
    /// The booking overlaps an active one.
    Conflict,
    /// The stored booking is not the expected one.
    Stale,
    /// A unique id is taken.
    AlreadyExists,
    /// An optimistic booking insert stopped waiting for a concurrent
    /// transaction (it runs again behind the provider's lock).
    GaveUpWaiting,
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        TxError::Db(e)
    }
}

impl From<StorageError> for TxError {
    fn from(e: StorageError) -> Self {
        TxError::Storage(e)
    }
}

impl TxError {
    fn normalize(self) -> TxError {
        match self {
            TxError::Db(e) => TxError::Storage(db_error(e)),
            other => other,
        }
    }

    /// For operations whose only failure is storage.
    fn storage(self) -> StorageError {
        match self {
            TxError::Db(e) => db_error(e),
            TxError::Storage(e) => e,
            TxError::Conflict
            | TxError::Stale
            | TxError::AlreadyExists
            | TxError::GaveUpWaiting => {
                StorageError::Internal(format!("unexpected store outcome {self:?}"))
            }
        }
    }
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

/// A page of `(seq, row)` pairs fetched with `limit + 1`: keeps `limit`
/// items and sets `next` when there were more.
fn page<R, T>(
    mut rows: Vec<(i64, R)>,
    limit: i64,
    convert: impl Fn(R) -> Result<T, StorageError>,
) -> Result<booking_domain::ports::Page<T>, StorageError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last().map(|(seq, _)| *seq)
    } else {
        None
    };
    let items = rows
        .into_iter()
        .map(|(_, row)| convert(row))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(booking_domain::ports::Page { items, next })
}

/// The page size to use: 1-200.
fn page_limit(page: &booking_domain::ports::PageRequest) -> i64 {
    i64::from(page.limit.clamp(1, 200))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn lost_connections_and_shutdowns_are_unavailable() {
        for e in [
            error(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            error(DatabaseErrorKind::ClosedConnection, "gone"),
            error(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            error(
                DatabaseErrorKind::Unknown,
                "sorry, too many clients already",
            ),
            error(
                DatabaseErrorKind::Unknown,
                "the database system is starting up",
            ),
        ] {
            assert!(matches!(db_error(e), StorageError::Unavailable(_)));
        }
        for e in [
            error(DatabaseErrorKind::Unknown, "relation \"x\" does not exist"),
            error(DatabaseErrorKind::UniqueViolation, "duplicate key"),
            DieselError::NotFound,
        ] {
            assert!(matches!(db_error(e), StorageError::Internal(_)));
        }
    }

    #[test]
    fn deadlocks_and_serialization_failures_are_retried() {
        assert!(is_retryable(&error(
            DatabaseErrorKind::Unknown,
            "deadlock detected"
        )));
        assert!(is_retryable(&error(
            DatabaseErrorKind::SerializationFailure,
            "could not serialize access"
        )));
        assert!(!is_retryable(&error(
            DatabaseErrorKind::ExclusionViolation,
            "conflicting key value violates exclusion constraint"
        )));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable() {
        // Port 1 on loopback refuses connections at once.
        let result = PostgresStore::connect("postgres://u:p@127.0.0.1:1/db", 1).await;
        assert!(
            matches!(result, Err(StorageError::Unavailable(_))),
            "{result:?}"
        );
        let result = PostgresStore::migrate("postgres://u:p@127.0.0.1:1/db").await;
        assert!(matches!(result, Err(StorageError::Unavailable(_))));
    }
}
