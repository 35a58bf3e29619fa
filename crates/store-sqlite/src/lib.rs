//! Embedded SQLite store for booking-api.
//!
//! [`SqliteStore`] implements every storage port of `booking-domain`
//! ([`AccountStore`](booking_domain::ports::AccountStore),
//! [`ProviderStore`](booking_domain::ports::ProviderStore),
//! [`ServiceStore`](booking_domain::ports::ServiceStore),
//! [`BookingStore`](booking_domain::ports::BookingStore),
//! [`IdempotencyStore`](booking_domain::ports::IdempotencyStore) and
//! [`HealthCheck`](booking_domain::ports::HealthCheck)) on one database file
//! in WAL mode, through a small r2d2 pool of diesel connections.
//!
//! - Blocking database work runs on tokio's blocking pool.
//! - Writes that must be atomic run in `BEGIN IMMEDIATE` transactions, so the
//!   booking conflict check holds across any number of processes sharing the
//!   file.
//! - Instants are stored as unix seconds (UTC), money as integer minor units.
//! - The schema lives in `migrations/sqlite` and is embedded in the binary;
//!   [`SqliteStore::open`] applies pending migrations.

mod accounts;
mod bookings;
mod calendars;
mod catalog;
mod feeds;
mod idempotency;
mod rows;
mod schema;
mod webhooks;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use booking_domain::ports::{HealthCheck, StorageError};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The schema migrations, embedded at build time.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Connections in the pool.
const POOL_SIZE: u32 = 8;

/// How long a caller waits for a free connection before `Unavailable`.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);

/// Set on every new connection. `busy_timeout` comes first so the others wait
/// for locks instead of failing.
const PRAGMAS: &str = "PRAGMA busy_timeout = 5000;
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
PRAGMA synchronous = NORMAL;";

type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;

/// The SQLite store: cheap to clone (an `Arc` around a connection pool).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    path: PathBuf,
    applied: Vec<String>,
    /// Signalled after a commit that queued webhook deliveries.
    wake: tokio::sync::Notify,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Pragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(PRAGMAS)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl SqliteStore {
    /// Opens (creating it and its parent directories if needed) the database
    /// file at `path`, sets up the connection pool and applies pending
    /// migrations. Blocks the calling thread: call it at startup.
    pub fn open(path: &Path) -> Result<SqliteStore, StorageError> {
        let url = prepare_file(path)?;
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(POOL_TIMEOUT)
            .connection_customizer(Box::new(Pragmas))
            .build(ConnectionManager::<SqliteConnection>::new(url))
            .map_err(|e| {
                StorageError::Unavailable(format!("cannot open {}: {e}", path.display()))
            })?;
        let applied = {
            let mut conn = pool.get().map_err(|e| {
                StorageError::Unavailable(format!("cannot open {}: {e}", path.display()))
            })?;
            run_migrations(&mut conn)?
        };
        if !applied.is_empty() {
            tracing::info!(path = %path.display(), migrations = ?applied, "applied sqlite migrations");
        }
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                pool,
                path: path.to_owned(),
                applied,
                wake: tokio::sync::Notify::new(),
            }),
        })
    }

    /// Opens the database named by a `sqlite://` URL (see [`path_from_url`]).
    pub fn from_url(url: &str) -> Result<SqliteStore, StorageError> {
        SqliteStore::open(&path_from_url(url)?)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The versions of the migrations that [`SqliteStore::open`] applied
    /// (empty when the schema was already up to date).
    pub fn applied_migrations(&self) -> &[String] {
        &self.inner.applied
    }

    /// Wakes the delivery worker waiting in `wait_for_deliveries` (or the
    /// next one to wait).
    fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Runs `f` with a pooled connection on tokio's blocking pool. Database
    /// errors become [`StorageError`]s (logged here); the other [`TxError`]s
    /// pass through.
    async fn run<T, F>(&self, op: &'static str, f: F) -> Result<T, TxError>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConnection) -> Result<T, TxError> + Send + 'static,
    {
        let pool = self.inner.pool.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| {
                StorageError::Unavailable(format!("no sqlite connection available: {e}"))
            })?;
            f(&mut conn)
        })
        .await;
        let result = match joined {
            Ok(result) => result.map_err(TxError::normalize),
            Err(e) if e.is_cancelled() => Err(TxError::Storage(StorageError::Unavailable(
                format!("sqlite task cancelled: {e}"),
            ))),
            Err(e) => Err(TxError::Storage(StorageError::Internal(format!(
                "sqlite task panicked: {e}"
            )))),
        };
        match &result {
            Err(TxError::Storage(e @ StorageError::Unavailable(_))) => {
                tracing::warn!(operation = op, error = %e, "sqlite store unavailable");
            }
            Err(TxError::Storage(e @ StorageError::Internal(_))) => {
                tracing::error!(operation = op, error = %e, "sqlite store failure");
            }
            _ => {}
        }
        result
    }
}

/// The path named by a database URL: `sqlite://data/booking.db` is relative
/// to the working directory, `sqlite:///var/lib/booking.db` is absolute.
/// A bare path (no scheme) is accepted as is.
pub fn path_from_url(url: &str) -> Result<PathBuf, StorageError> {
    let path = match url.strip_prefix("sqlite://") {
        Some(rest) => rest,
        None if url.contains("://") || url.starts_with("sqlite:") => {
            return Err(StorageError::Internal(format!(
                "unsupported database URL `{url}`: expected sqlite://<path>"
            )));
        }
        None => url,
    };
    if path.is_empty() {
        return Err(StorageError::Internal(format!(
            "database URL `{url}` names no file"
        )));
    }
    Ok(PathBuf::from(path))
}

/// Applies the pending migrations to the database file at `path` (creating
/// it if needed) and returns the versions applied, oldest first. Blocks the
/// calling thread; for the `migrate` command.
pub fn migrate(path: &Path) -> Result<Vec<String>, StorageError> {
    let url = prepare_file(path)?;
    let mut conn = SqliteConnection::establish(&url)
        .map_err(|e| StorageError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    conn.batch_execute(PRAGMAS).map_err(db_error)?;
    run_migrations(&mut conn)
}

/// Creates the parent directories and returns the path as diesel wants it.
fn prepare_file(path: &Path) -> Result<String, StorageError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            StorageError::Internal(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let text = path.to_str().ok_or_else(|| {
        StorageError::Internal(format!(
            "database path {} is not valid UTF-8",
            path.display()
        ))
    })?;
    if text.starts_with("file:") || text == ":memory:" || text.is_empty() {
        return Err(StorageError::Internal(format!(
            "database path `{text}` must name a file"
        )));
    }
    Ok(text.to_owned())
}

/// Applies pending migrations in one `BEGIN IMMEDIATE` transaction, so
/// processes opening the same file at once apply them exactly once.
fn run_migrations(conn: &mut SqliteConnection) -> Result<Vec<String>, StorageError> {
    enum MigrationError {
        Db(DieselError),
        Migration(String),
    }
    impl From<DieselError> for MigrationError {
        fn from(e: DieselError) -> Self {
            MigrationError::Db(e)
        }
    }
    conn.immediate_transaction(|conn| {
        conn.run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| MigrationError::Migration(e.to_string()))
    })
    .map_err(|e| match e {
        MigrationError::Db(e) => db_error(e),
        MigrationError::Migration(e) => {
            StorageError::Internal(format!("sqlite migration failed: {e}"))
        }
    })
}

/// Maps a diesel error: lock timeouts are `Unavailable`, the rest `Internal`.
fn db_error(e: DieselError) -> StorageError {
    match &e {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) if is_busy(info.message()) => {
            StorageError::Unavailable(format!("sqlite busy: {e}"))
        }
        _ => StorageError::Internal(format!("sqlite: {e}")),
    }
}

fn is_busy(message: &str) -> bool {
    // SQLITE_BUSY is "database is locked", SQLITE_LOCKED "database table is locked".
    message.contains("is locked") || message.contains("database is busy")
}

/// What a closure run by [`SqliteStore::run`] can fail with.
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
            TxError::Conflict | TxError::Stale | TxError::AlreadyExists => {
                StorageError::Internal(format!("unexpected store outcome {self:?}"))
            }
        }
    }
}

#[async_trait]
impl HealthCheck for SqliteStore {
    async fn ping(&self) -> Result<(), StorageError> {
        // `SELECT 1` never touches the file. Take the write lock and let it
        // go: while another process holds it (a long VACUUM, a stuck
        // `sqlite3` session), every write would answer 503 after the busy
        // timeout, and readiness must say so too.
        self.run("ping", |conn| {
            conn.immediate_transaction::<_, DieselError, _>(|_| Ok(()))?;
            Ok(())
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

    #[test]
    fn urls_name_paths() {
        assert_eq!(
            path_from_url("sqlite://data/booking.db").unwrap(),
            PathBuf::from("data/booking.db")
        );
        assert_eq!(
            path_from_url("sqlite:///var/lib/b.db").unwrap(),
            PathBuf::from("/var/lib/b.db")
        );
        assert_eq!(path_from_url("b.db").unwrap(), PathBuf::from("b.db"));
        assert!(path_from_url("postgres://x/y").is_err());
        assert!(path_from_url("sqlite::memory:").is_err());
        assert!(path_from_url("sqlite://").is_err());
    }

    /// How many migrations the schema has (one folder each).
    fn migration_count() -> usize {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn migrate_then_open_applies_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/b.db");
        let applied = migrate(&path).unwrap();
        assert_eq!(applied.len(), migration_count());
        assert!(migrate(&path).unwrap().is_empty());
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.applied_migrations().is_empty());
    }

    #[test]
    fn lock_timeouts_are_unavailable() {
        let busy = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("database is locked".to_owned()),
        );
        assert!(matches!(db_error(busy), StorageError::Unavailable(_)));
        let other = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("no such table: x".to_owned()),
        );
        assert!(matches!(db_error(other), StorageError::Internal(_)));
    }

    #[tokio::test]
    async fn corrupt_rows_are_internal_errors() {
        use booking_domain::ports::{BookingStore, ProviderStore, ServiceStore};
        use booking_domain::{AccountId, BookingId, ProviderId, ServiceId};

        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("b.db")).unwrap();
        let mut conn = store.inner.pool.get().unwrap();
        conn.batch_execute(
            "INSERT INTO accounts VALUES ('acc_1', 'acme', 0);
             INSERT INTO providers (id, account_id, name, email, is_default, created_at, updated_at)
                 VALUES ('prv_1', 'acc_1', 'P', 'not an email', 1, 0, 0);
             INSERT INTO services (id, account_id, provider_id, name, description, duration_min,
                 price_minor, currency, price_type, days, start_min, end_min, timezone,
                 buffer_before, buffer_after, minimum_notice, auto_confirm, archived,
                 created_at, updated_at)
                 VALUES ('srv_1', 'acc_1', 'prv_1', 'S', NULL, 60, 100, 'EUR', 'flat', 1,
                 540, 1020, 'Not/AZone', 0, 0, 0, 0, 0, 0, 0);
             INSERT INTO bookings (id, account_id, service_id, provider_id, duration_min,
                 scheduled_at, end_at, occupied_start, occupied_end, buffer_before, buffer_after,
                 status, customer_email, customer_name, price_minor, currency, notes, metadata,
                 cancel_reason, sequence, created_at, updated_at)
                 VALUES ('bk_1', 'acc_1', 'srv_1', 'prv_1', 60, 3600, 7200, 3600, 7200, 0, 0,
                 'pending', 'a@b.cd', 'C', 100, 'EUR', NULL, 'not json', NULL, 0, 0, 0);",
        )
        .unwrap();
        drop(conn);
        let account = AccountId::from_trusted("acc_1");
        let internal = |e: StorageError| match e {
            StorageError::Internal(message) => message,
            other => panic!("expected Internal, got {other:?}"),
        };
        let e = store
            .get_provider(&account, &ProviderId::from_trusted("prv_1"))
            .await
            .unwrap_err();
        assert!(internal(e).contains("prv_1"));
        let e = store
            .get_service(&account, &ServiceId::from_trusted("srv_1"))
            .await
            .unwrap_err();
        assert!(internal(e).contains("timezone"));
        let e = store
            .get_booking(&account, &BookingId::from_trusted("bk_1"))
            .await
            .unwrap_err();
        assert!(internal(e).contains("metadata"));
    }

    #[test]
    fn open_applies_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("b.db")).unwrap();
        assert_eq!(store.applied_migrations().len(), migration_count());
    }
}
