//! The embedded SQLite store.
//!
//! [`SqliteStore`] implements every storage port of `booking-domain` except
//! the rate limiter on one database file in WAL mode:
//!
//! - **Writes go through one writer** (`writer.rs`): one connection on a
//!   thread of its own, fed by an in-process FIFO queue, commits what is
//!   queued in batches (group commit), each write in a `SAVEPOINT` of its
//!   own, so a failed write (a conflict) leaves the others of its batch
//!   alone. Callers are answered only after their batch committed. No
//!   connection of this process waits in SQLite's busy handler for another
//!   one of it.
//! - **Reads run on a small pool** of connections (WAL readers never wait
//!   for the writer), each read on tokio's blocking pool.
//! - Every batch runs in a `BEGIN IMMEDIATE` transaction, so the booking
//!   conflict check holds across any number of processes sharing the file
//!   (those still meet in the busy handler, up to `busy_timeout`).
//! - The schema lives in `migrations/sqlite` and is embedded in the binary;
//!   [`SqliteStore::open`] applies pending migrations.
//!
//! Queries run on diesel-async's `SyncConnectionWrapper`, like Postgres's
//! on `AsyncPgConnection`, so both stores share them; its blocking work runs
//! `Inline`, on the thread that asks (the writer's, or a blocking-pool
//! thread for a read): one thread hop per read or batch, not per statement.

mod backup;
mod bookings;
mod calendars;
mod conn;
mod store;
mod webhooks;
mod write_claims;
mod writer;

pub use self::backup::{Backup, BackupError, backup};
pub(crate) use self::conn::Conn;
pub use self::store::{SqliteStore, migrate, path_from_url};
