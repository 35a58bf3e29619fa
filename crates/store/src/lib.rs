//! The SQL stores of booking-api: [`SqliteStore`] (embedded, the default)
//! and [`PostgresStore`] (production, any number of server instances).
//!
//! Both implement every storage port of `booking-domain`. They share one
//! schema (`schema.rs`; `migrations/{sqlite,postgres}` have the same tables),
//! one set of row structs (`rows`), and every query whose SQL is the same on
//! both: the port impls in `accounts.rs`, `catalog.rs`, `bookings.rs`,
//! `calendars.rs`, `feeds.rs`, `idempotency.rs`, `time_off.rs` and `webhooks.rs` are written
//! once, with `#[duplicate_item]`, for both store types, on diesel-async's
//! API (SQLite through `SyncConnectionWrapper`). What really differs lives
//! in [`sqlite`] and [`postgres`]: SQLite's single writer and its explicit
//! conflict checks; Postgres's single-statement booking insert, its caches
//! and `LISTEN`, the GCRA rate limiter and `SKIP LOCKED` claims.
//!
//! A shared impl calls the store's backend hooks by name (`read`, `write`,
//! `key_revoked`, `busy_changed`, …): inherent methods each store defines,
//! no-ops where a backend has nothing to do.
//!
//! - Instants are stored as unix seconds (UTC), money as integer minor units.
//! - Secrets (webhook secrets, calendar URLs and credentials, server
//!   secrets) are stored encrypted under `BOOKING_SECRET_KEY` ([`secrets`]):
//!   each store is opened with a [`secrets::Keyring`] and seals them on
//!   write, opens them on read.
//! - Storage failures are [`StorageError`]s, never "not found":
//!   `Unavailable` when the database cannot be reached or is busy,
//!   `Internal` otherwise (a corrupt row names its table and id).

mod accounts;
mod bookings;
mod calendar_writes;
mod calendars;
mod catalog;
mod feeds;
mod hold_cache;
mod idempotency;
pub mod postgres;
mod reminders;
mod rows;
mod schema;
mod sealing;
pub mod secrets;
mod sql;
pub mod sqlite;
mod time_off;
mod webhooks;

use std::future::Future;
use std::pin::Pin;

use booking_domain::ports::{Page, PageRequest, StorageError};
use diesel::backend::Backend;
use diesel::expression::{Expression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::Bool;
use diesel::{AppearsOnTable, QueryResult, SelectableExpression};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// The future of one unit of work on a connection (see the stores' `read`
/// and `write`).
pub(crate) type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, TxError>> + Send + 'c>>;

/// What a unit of work run by a store can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TxError {
    /// A raw database error (mapped by [`TxError::normalize`]).
    #[error("database: {0}")]
    Db(#[from] DieselError),
    /// A storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The booking overlaps an active one.
    #[error("booking conflict")]
    Conflict,
    /// The stored booking is not the expected one.
    #[error("stale booking")]
    Stale,
    /// A unique id is taken.
    #[error("already exists")]
    AlreadyExists,
    /// An optimistic Postgres booking insert stopped waiting for a
    /// concurrent transaction (it runs again behind the provider's lock).
    #[error("gave up waiting")]
    GaveUpWaiting,
    /// The hold to turn into a booking is gone (unknown, expired, used).
    #[error("hold gone")]
    HoldGone,
    /// The key has too many unexpired holds; when its earliest one expires
    /// (unix seconds).
    #[error("too many holds")]
    TooManyHolds(Option<i64>),
}

impl TxError {
    /// Raw database errors become [`StorageError`]s; the rest stay.
    pub(crate) fn normalize(self) -> TxError {
        match self {
            TxError::Db(e) => TxError::Storage(db_error(e)),
            other => other,
        }
    }

    /// For operations whose only failure is storage.
    pub(crate) fn storage(self) -> StorageError {
        match self {
            TxError::Db(e) => db_error(e),
            TxError::Storage(e) => e,
            other => StorageError::Internal(format!("unexpected store outcome {other:?}")),
        }
    }
}

/// Maps a diesel error: SQLite's lock timeouts, a lost or refused
/// connection, a Postgres server shutting down or out of connection slots
/// are `Unavailable`; the rest `Internal`.
pub(crate) fn db_error(e: DieselError) -> StorageError {
    let unavailable = match &e {
        // tokio-postgres errors without a SQLSTATE: I/O, closed connection.
        DieselError::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
            _,
        ) => true,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => match info.sqlstate() {
            // Postgres: the code, never the message (which follows the
            // server's `lc_messages`).
            Some(code) => is_unavailable_sqlstate(code.as_str()),
            None => is_unavailable_message(info.message()),
        },
        // A transaction whose rollback failed: the connection is gone.
        DieselError::BrokenTransactionManager => true,
        _ => false,
    };
    if unavailable {
        StorageError::Unavailable(format!("database unavailable: {e}"))
    } else {
        StorageError::Internal(format!("database: {e}"))
    }
}

/// The Postgres SQLSTATEs that mean "try again later": class 08
/// (connection exception), 57P01 admin_shutdown, 57P02 crash_shutdown,
/// 57P03 cannot_connect_now, 53300 too_many_connections and 57014
/// query_canceled (a statement timeout).
pub(crate) fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "57014")
}

/// Errors without a SQLSTATE: SQLite's SQLITE_BUSY ("database is locked")
/// and SQLITE_LOCKED, whose texts SQLite never translates, and the
/// client-side texts of a lost connection.
fn is_unavailable_message(message: &str) -> bool {
    const MARKERS: [&str; 6] = [
        "is locked",
        "database is busy",
        "server closed the connection",
        "connection closed",
        "connection reset",
        "broken pipe",
    ];
    let message = message.to_ascii_lowercase();
    MARKERS.iter().any(|m| message.contains(m))
}

/// The SQLSTATE of a Postgres error, when the server sent one.
pub(crate) fn sqlstate(e: &DieselError) -> Option<diesel::result::SqlState> {
    match e {
        DieselError::DatabaseError(_, info) => info.sqlstate(),
        _ => None,
    }
}

/// Logs a failed unit of work (`Unavailable` as a warning, `Internal` as an
/// error); the others are answers, not failures.
pub(crate) fn log_outcome<T>(store: &'static str, op: &'static str, result: &Result<T, TxError>) {
    match result {
        Err(TxError::Storage(e @ StorageError::Unavailable(_))) => {
            tracing::warn!(store, operation = op, error = %e, "store unavailable");
        }
        Err(TxError::Storage(e @ StorageError::Internal(_))) => {
            tracing::error!(store, operation = op, error = %e, "store failure");
        }
        _ => {}
    }
}

/// A page of `(seq, row)` pairs fetched with `limit + 1`: keeps `limit`
/// items and sets `next` when there were more.
pub(crate) fn page<R, T>(
    mut rows: Vec<(i64, R)>,
    limit: i64,
    convert: impl Fn(R) -> Result<T, StorageError>,
) -> Result<Page<T>, StorageError> {
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
    Ok(Page { items, next })
}

/// The page size to use: 1-200.
pub(crate) fn page_limit(page: &PageRequest) -> i64 {
    i64::from(page.limit.clamp(1, 200))
}

/// The `seq`s of due rows (`(seq, account)`, in claim order) that a fair
/// claim takes: round-robin by account, at most `per_account` each and
/// `limit` in all (see `booking_domain::fairness::round_robin`).
pub(crate) fn pick_fairly(
    due: impl IntoIterator<Item = (i64, String)>,
    per_account: u32,
    limit: u32,
) -> Vec<i64> {
    booking_domain::fairness::round_robin(
        due,
        |(_, account)| account.clone(),
        usize::try_from(per_account).unwrap_or(usize::MAX),
        usize::try_from(limit).unwrap_or(usize::MAX),
    )
    .into_iter()
    .map(|(seq, _)| seq)
    .collect()
}

/// A boolean SQL condition written as a literal, for the query builder.
///
/// A partial index applies to a cached (generic) plan only when the query
/// itself implies the index's predicate, so `status = 'confirmed'` must be
/// written out, not bound. Unlike `dsl::sql`, this keeps the statement
/// cacheable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Condition(pub(crate) &'static str);

impl Expression for Condition {
    type SqlType = Bool;
}

impl<DB: Backend> QueryFragment<DB> for Condition {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("(");
        out.push_sql(self.0);
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for Condition {
    type QueryId = ();
    // Two conditions share this type: the cache must key them by text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl ValidGrouping<()> for Condition {
    type IsAggregate = is_aggregate::Never;
}

impl<QS> AppearsOnTable<QS> for Condition {}

impl<QS> SelectableExpression<QS> for Condition {}

/// Errors shaped as the drivers report them, for unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};

    /// A Postgres error as diesel-async reports it: a code and a message in
    /// the server's language.
    pub(crate) struct Coded(&'static str, &'static str);

    impl diesel::result::DatabaseErrorInformation for Coded {
        fn message(&self) -> &str {
            self.1
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
        fn sqlstate(&self) -> Option<diesel::result::SqlState> {
            self.0.parse().ok()
        }
    }

    pub(crate) fn coded(code: &'static str, message: &'static str) -> DieselError {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(Coded(code, message)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn lost_connections_locks_and_shutdowns_are_unavailable() {
        for e in [
            error(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            error(DatabaseErrorKind::ClosedConnection, "gone"),
            error(DatabaseErrorKind::Unknown, "database is locked"),
            error(DatabaseErrorKind::Unknown, "database table is locked"),
        ] {
            assert!(matches!(db_error(e), StorageError::Unavailable(_)));
        }
        for e in [
            error(DatabaseErrorKind::Unknown, "no such table: x"),
            error(DatabaseErrorKind::UniqueViolation, "duplicate key"),
            DieselError::NotFound,
        ] {
            assert!(matches!(db_error(e), StorageError::Internal(_)));
        }
    }

    /// Postgres errors are read by SQLSTATE: a server with German
    /// `lc_messages` shutting down is unavailable, and an English message
    /// that merely reads like a shutdown is not.
    #[test]
    fn postgres_errors_are_classed_by_sqlstate_not_by_text() {
        for (code, message) in [
            (
                "57P01",
                "Verbindung wird abgebrochen aufgrund von Anweisung des Administrators",
            ),
            (
                "57P02",
                "Verbindung wird wegen Absturz eines anderen Serverprozesses abgebrochen",
            ),
            ("57P03", "das Datenbanksystem fährt gerade hoch"),
            ("53300", "tut mir leid, schon zu viele Verbindungen"),
            ("57014", "storniere Anfrage wegen Statement-Timeout"),
            ("08006", "Verbindungsfehler"),
        ] {
            assert!(
                matches!(
                    db_error(testing::coded(code, message)),
                    StorageError::Unavailable(_)
                ),
                "{code}"
            );
        }
        for (code, message) in [
            (
                "42P01",
                "terminating connection due to administrator command",
            ),
            ("22P05", "the database system is starting up"),
        ] {
            assert!(
                matches!(
                    db_error(testing::coded(code, message)),
                    StorageError::Internal(_)
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn conditions_are_written_out_and_cacheable() {
        let c = Condition("status = 'confirmed'");
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&c).to_string();
        assert_eq!(sql, "(status = 'confirmed') -- binds: []");
        assert!(
            QueryFragment::<diesel::pg::Pg>::is_safe_to_cache_prepared(&c, &diesel::pg::Pg)
                .unwrap()
        );
    }
}
