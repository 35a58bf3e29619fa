//! The [`SqliteStore`] type: opening the file, the read pool, the writer's
//! queue, and the hooks the shared port impls call.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use booking_domain::ports::{ApiKeyRecord, HealthCheck, StorageError};
use booking_domain::{AccountId, Service, ServiceId};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::conn::{Conn, block_on, connect};
use super::writer::Writer;
use crate::secrets::Keyring;
use crate::{TxError, TxFuture, db_error, log_outcome};

/// The schema migrations, embedded at build time.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Read connections in the pool.
const READERS: u32 = 8;

/// How long a read waits for a free connection before `Unavailable`.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the read connections.
#[derive(Debug)]
struct Readers {
    url: String,
}

impl r2d2::ManageConnection for Readers {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        connect(&self.url).map(Conn::new)
    }

    fn is_valid(&self, _: &mut Conn) -> Result<(), Self::Error> {
        Ok(())
    }

    fn has_broken(&self, _: &mut Conn) -> bool {
        false
    }
}

/// The SQLite store: cheap to clone (an `Arc` around its connections).
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    readers: r2d2::Pool<Readers>,
    writer: Writer,
    path: PathBuf,
    applied: Vec<String>,
    /// Seals and opens the secret columns (see `secrets.rs`).
    secrets: Arc<Keyring>,
    /// Signalled after a commit that queued webhook deliveries.
    pub(crate) wake: tokio::sync::Notify,
    /// The holds this process made (see `hold_cache.rs`).
    pub(crate) holds: crate::hold_cache::HoldCache,
    /// Signalled after a commit (in this process) that queued calendar
    /// writes: wakes the calendar writer (see `wait_for_calendar_writes`).
    pub(crate) calendar_wake: tokio::sync::Notify,
    /// The calendar write outbox's leases (see `write_claims.rs`).
    pub(crate) write_claims: super::write_claims::WriteClaims,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it and its parent directories if needed) the database
    /// file at `path`, applies pending migrations, opens the read pool and
    /// starts the writer's thread (it stops when the store is dropped).
    /// Then brings the stored secrets under `secrets` (see `sealing.rs`): a
    /// key that does not open them is an `Internal` error saying so.
    /// Blocks the calling thread: call it at startup.
    pub fn open(path: &Path, secrets: Keyring) -> Result<SqliteStore, StorageError> {
        let url = prepare_file(path)?;
        let unavailable = |e: &dyn fmt::Display| {
            StorageError::Unavailable(format!("cannot open {}: {e}", path.display()))
        };
        let mut conn = connect(&url).map_err(|e| unavailable(&e))?;
        let applied = run_migrations(&mut conn)?;
        if !applied.is_empty() {
            tracing::info!(path = %path.display(), migrations = ?applied, "applied sqlite migrations");
        }
        let readers = r2d2::Pool::builder()
            .max_size(READERS)
            .min_idle(Some(1))
            .connection_timeout(POOL_TIMEOUT)
            .build(Readers { url: url.clone() })
            .map_err(|e| unavailable(&e))?;
        let checkpoints = connect(&url).map_err(|e| unavailable(&e))?;
        let writer = Writer::start(Conn::new(conn), checkpoints)?;
        let store = SqliteStore {
            inner: Arc::new(Inner {
                readers,
                writer,
                path: path.to_owned(),
                applied,
                secrets: Arc::new(secrets),
                wake: tokio::sync::Notify::new(),
                holds: Default::default(),
                calendar_wake: tokio::sync::Notify::new(),
                write_claims: Default::default(),
            }),
        };
        // The writer answers from its own thread: waiting here is safe.
        let sealed = block_on(store.reseal_secrets(&store.inner.secrets))?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                key_id = store.inner.secrets.current().id(),
                "encrypted stored secrets under the current key"
            );
        }
        Ok(store)
    }

    /// Opens the database named by a `sqlite://` URL (see [`path_from_url`]).
    pub fn from_url(url: &str, keys: Keyring) -> Result<SqliteStore, StorageError> {
        SqliteStore::open(&path_from_url(url)?, keys)
    }

    /// The keys the secret columns are sealed and opened with.
    pub(crate) fn secret_keys(&self) -> Arc<Keyring> {
        Arc::clone(&self.inner.secrets)
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
    pub(crate) fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Wakes the calendar writer waiting in `wait_for_calendar_writes` (or
    /// the next one to wait): writes were queued.
    pub(crate) fn calendar_wake(&self) {
        self.inner.calendar_wake.notify_one();
    }

    /// Runs the read `f` with a pooled connection (on tokio's blocking pool
    /// when none is free at once). Failures are logged here.
    pub(crate) async fn read<T, F>(&self, op: &'static str, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> TxFuture<'c, T> + Send + 'static,
    {
        // A free connection at hand: run the read here. Reads are index
        // range scans of at most a page of rows, shorter than the two thread
        // switches a trip to the blocking pool costs.
        if let Some(mut conn) = self.inner.readers.try_get() {
            let result = block_on(f(&mut conn)).map_err(TxError::normalize);
            log_outcome("sqlite", op, &result);
            return result.map_err(TxError::storage);
        }
        let pool = self.inner.readers.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| {
                StorageError::Unavailable(format!("no sqlite connection available: {e}"))
            })?;
            block_on(f(&mut conn))
        })
        .await;
        let result = match joined {
            Ok(result) => result.map_err(TxError::normalize),
            // The runtime is shutting down.
            Err(e) if e.is_cancelled() => Err(TxError::Storage(StorageError::Unavailable(
                format!("sqlite task cancelled: {e}"),
            ))),
            Err(e) => Err(TxError::Storage(StorageError::Internal(format!(
                "sqlite task panicked: {e}"
            )))),
        };
        log_outcome("sqlite", op, &result);
        result.map_err(TxError::storage)
    }

    /// Runs the write `f` on the writer (see `writer.rs`), in a savepoint of
    /// its batch's transaction; answers once the batch committed.
    pub(crate) async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T, TxError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> TxFuture<'c, T> + Send + 'static,
    {
        let result = self.inner.writer.run(f).await.map_err(TxError::normalize);
        log_outcome("sqlite", op, &result);
        result
    }

    /// No key cache: another process may revoke a key in the file.
    pub(crate) async fn keys_cached(
        &self,
        _lookup: &str,
        read: impl Future<Output = Result<Vec<ApiKeyRecord>, StorageError>>,
    ) -> Result<Vec<ApiKeyRecord>, StorageError> {
        read.await
    }

    /// Nothing to announce.
    pub(crate) async fn key_revoked_tx(_: &mut Conn, _lookup: String) -> Result<(), TxError> {
        Ok(())
    }

    /// No service cache: another process may change a service in the file.
    pub(crate) async fn service_cached(
        &self,
        _account: &AccountId,
        _id: &ServiceId,
        read: impl Future<Output = Result<Option<Service>, StorageError>>,
    ) -> Result<Option<Service>, StorageError> {
        read.await
    }

    /// Nothing to announce.
    pub(crate) async fn service_changed_tx(_: &mut Conn, _: &str, _: &str) -> Result<(), TxError> {
        Ok(())
    }

    /// Nothing cached.
    pub(crate) fn service_changed(&self, _account: &str, _id: &str) {}

    /// Nothing cached.
    pub(crate) fn busy_changed(&self, _account: &str, _provider: &str) {}

    /// Inserts event rows, one statement each (a cached statement: a
    /// multi-row insert would be parsed again every time).
    pub(crate) async fn insert_event_rows(
        conn: &mut Conn,
        rows: &[crate::rows::EventRow],
    ) -> Result<(), TxError> {
        for row in rows {
            diesel_async::RunQueryDsl::execute(
                diesel::insert_into(crate::schema::events::table).values(row),
                conn,
            )
            .await?;
        }
        Ok(())
    }

    /// Runs a multi-row statement (SQLite's batch insert is only written
    /// for diesel's blocking connection; the writer runs it inline).
    pub(crate) async fn execute_batch<Q>(conn: &mut Conn, query: Q) -> Result<usize, TxError>
    where
        Q: diesel::RunQueryDsl<SqliteConnection>
            + diesel::query_dsl::methods::ExecuteDsl<SqliteConnection>
            + Send
            + 'static,
    {
        Ok(conn.spawn_blocking(move |c| query.execute(c)).await?)
    }

    /// The workers of this process are woken after the commit (see
    /// `redeliver`); other processes find the deliveries when they poll.
    pub(crate) async fn deliveries_queued_tx(_: &mut Conn) -> Result<(), TxError> {
        Ok(())
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
    let mut conn = connect(&url)
        .map_err(|e| StorageError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    run_migrations(&mut conn)
}

/// Creates the parent directories and returns the path as diesel wants it.
pub(crate) fn prepare_file(path: &Path) -> Result<String, StorageError> {
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

#[async_trait]
impl HealthCheck for SqliteStore {
    async fn ping(&self) -> Result<(), StorageError> {
        // `SELECT 1` never touches the file. Take the write lock and let it
        // go: while another process holds it (a long VACUUM, a stuck
        // `sqlite3` session), every write would answer 503 after the busy
        // timeout, and readiness must say so too.
        self.write("ping", |_| Box::pin(async { Ok(()) }))
            .await
            .map_err(TxError::storage)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use diesel::connection::SimpleConnection;

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
        let store = SqliteStore::open(&path, crate::secrets::test_keys()).unwrap();
        assert!(store.applied_migrations().is_empty());
    }

    #[tokio::test]
    async fn corrupt_rows_are_internal_errors() {
        use booking_domain::ports::{BookingStore, ProviderStore, ServiceStore};
        use booking_domain::{AccountId, BookingId, ProviderId, ServiceId};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let store = SqliteStore::open(&path, crate::secrets::test_keys()).unwrap();
        let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
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
        let store =
            SqliteStore::open(&dir.path().join("b.db"), crate::secrets::test_keys()).unwrap();
        assert_eq!(store.applied_migrations().len(), migration_count());
    }
}
