//! SQLite connections: how they are opened and how their blocking work runs.

use std::error::Error;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_async::sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper};
use futures_util::future::BoxFuture;

/// The connection the shared queries run on.
pub(crate) type Conn = SyncConnectionWrapper<SqliteConnection, Inline>;

/// Set on every new connection. `busy_timeout` comes first so the others wait
/// for locks instead of failing; it only matters when other processes share
/// the file (this one has a single writer). A 16 MiB page cache and reads
/// through `mmap` keep the writer's index pages in memory without a
/// `read()` per page. `temp_store = MEMORY` keeps the statement journal of
/// the writer's savepoints (one per write of a group commit) in memory: on
/// a temporary file, every page a write touched first cost a `pwrite`, a
/// tenth of the writer's time in the booking benchmark. It holds only the
/// pages of one write, and nothing in it is needed after a crash (the WAL
/// has not seen those pages before the commit).
///
/// `synchronous = FULL`: every commit waits for the WAL to reach the disk
/// (an `fsync`), so a booking answered 201 survives a power loss or an
/// operating-system crash, not only the process dying (`NORMAL` in WAL
/// mode can lose the last commits then). The writer's group commit pays
/// one `fsync` per batch, not per write (see `writer.rs`).
pub(crate) const PRAGMAS: &str = "PRAGMA busy_timeout = 5000;
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
PRAGMA synchronous = FULL;
PRAGMA cache_size = -16384;
PRAGMA mmap_size = 268435456;
PRAGMA temp_store = MEMORY;";

/// Runs `SyncConnectionWrapper`'s blocking work at once, on the calling
/// thread: the store only drives its connections from threads that may
/// block (the writer's, tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Inline;

impl SpawnBlocking for Inline {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        Box::pin(std::future::ready(Ok(task())))
    }

    fn get_runtime() -> Self {
        Inline
    }
}

/// Drives `future` to its end on this thread (with [`Inline`] connections
/// it is ready at its first poll).
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// How long [`connect`] retries [`PRAGMAS`] that meet a lock: as long as
/// `busy_timeout` would have waited.
const PRAGMA_RETRY: Duration = Duration::from_secs(5);

/// A new connection to `url` with [`PRAGMAS`] set.
///
/// Switching a new file to WAL needs an exclusive lock, and SQLite answers
/// SQLITE_BUSY at once, without calling the busy handler, when another
/// connection holds a lock it must not wait on (the concurrent first opens of
/// a new file, by several processes or threads). So a "database is locked"
/// here is retried until the busy timeout would have run out.
pub(crate) fn connect(url: &str) -> Result<SqliteConnection, diesel::r2d2::Error> {
    let mut conn =
        SqliteConnection::establish(url).map_err(diesel::r2d2::Error::ConnectionError)?;
    let deadline = Instant::now() + PRAGMA_RETRY;
    loop {
        match conn.batch_execute(PRAGMAS) {
            Ok(()) => return Ok(conn),
            Err(e) if e.to_string().contains("is locked") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(diesel::r2d2::Error::QueryError(e)),
        }
    }
}
