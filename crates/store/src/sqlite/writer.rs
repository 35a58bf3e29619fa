//! SQLite's single writer: one connection on a thread of its own, fed by an
//! in-process FIFO queue.
//!
//! SQLite lets one connection write at a time. With writes spread over a
//! pool, every other writer waited for the lock in SQLite's busy handler,
//! which sleeps (up to 100 ms at a time) instead of queueing: booking
//! creation ran at 870-1,430 requests/s with a p99 of 400-970 ms. Here
//! writes queue in process, in arrival order, and the writer never waits
//! for another connection of this process.
//!
//! **Group commit.** The writer takes every write queued when it gets to
//! them (at most [`MAX_BATCH`]) and runs them in one `BEGIN IMMEDIATE`
//! transaction, each in a `SAVEPOINT` of its own, in order: a write sees
//! every write before it, so each booking's conflict check sees the
//! bookings queued before it. A write that fails (a conflict, a stale
//! update) rolls back to its savepoint and leaves the others alone. One
//! commit then writes the WAL frames of the whole batch: under load the
//! batches grow and the cost of a commit is shared; alone, a write is a
//! batch of one.
//!
//! **Answers after the commit.** Each caller is answered only once its
//! batch committed (or failed: then every write of the batch fails with the
//! commit's error, and none of it is stored), so a crash mid-batch loses
//! nothing that was answered as written.
//!
//! **Checkpoints mostly off the writer's thread.** SQLite checkpoints the
//! WAL (copies its pages into the database file) in the committing
//! connection once the WAL passes 1,000 pages: a seventh of the writer's
//! time in the booking benchmark, during which no write runs. Here the
//! writer's connection has automatic checkpoints off. After each commit it
//! nudges a thread with a connection of its own, which runs `PASSIVE`
//! checkpoints (they never block the writer or readers) at most every
//! [`CHECKPOINT_EVERY`]; that thread does the copying. But SQLite starts
//! the WAL file over only when a write transaction begins with every frame
//! already copied, which under steady writes the other thread never sees
//! (the writer has committed more by then), so the WAL would grow without
//! end. So once the WAL passes [`RESTART_FRAMES`], the writer runs one
//! `PASSIVE` checkpoint itself right after a commit: it only copies what
//! was committed since the other thread's last one, and its next `BEGIN`
//! starts the WAL over. A checkpoint only moves committed pages from the
//! WAL into the database file; what is in the WAL is durable either way.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use booking_domain::ports::StorageError;
use diesel::RunQueryDsl as _;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::sqlite::SqliteConnection;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use tokio::sync::{mpsc, oneshot};

use super::conn::{Conn, block_on};
use crate::{TxError, TxFuture, db_error};

/// The most writes one transaction commits.
const MAX_BATCH: usize = 64;

/// The least time between two checkpoints of the checkpointing thread.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// The WAL's length (in frames, pages) past which the writer checkpoints
/// itself so that the WAL starts over (about 16 MiB with 4 KiB pages).
const RESTART_FRAMES: i64 = 4_000;

/// What `PRAGMA wal_checkpoint` answers.
#[derive(diesel::QueryableByName)]
struct Checkpointed {
    /// Frames in the WAL (-1 when the database is not in WAL mode).
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    log: i64,
}

/// Runs a `PASSIVE` checkpoint; the frames in the WAL, or 0 on an error
/// (logged: the next checkpoint tries again).
fn checkpoint(conn: &mut SqliteConnection) -> i64 {
    match diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<Checkpointed>(conn) {
        Ok(done) => done.log,
        Err(e) => {
            tracing::warn!(error = %e, "sqlite checkpoint failed; the next one retries");
            0
        }
    }
}

/// The writer's side of checkpointing.
struct Checkpoints {
    /// Nudges the checkpointing thread.
    nudge: std::sync::mpsc::SyncSender<()>,
    /// The WAL's length at that thread's last checkpoint.
    wal_frames: Arc<AtomicI64>,
}

impl Checkpoints {
    /// After a commit: nudges the checkpointing thread, or checkpoints on
    /// `conn` itself when the WAL must start over.
    fn after_commit(&self, conn: &mut Conn) {
        if self.wal_frames.load(Ordering::Relaxed) >= RESTART_FRAMES {
            self.wal_frames.store(0, Ordering::Relaxed);
            let _ = block_on(conn.spawn_blocking(|c| Ok(checkpoint(c))));
        } else {
            // Full: a checkpoint is already due, which will see this commit.
            let _ = self.nudge.try_send(());
        }
    }
}

/// A queued write, its result type erased.
trait Job: Send {
    /// Runs the write in a savepoint (inside the batch's transaction).
    fn run<'c>(&'c mut self, conn: &'c mut Conn) -> Pin<Box<dyn Future<Output = ()> + Send + 'c>>;

    /// Answers the caller; `failed` is set when the batch did not commit.
    fn answer(self: Box<Self>, failed: Option<&StorageError>);
}

/// A write and where its answer goes.
struct Pending<T, F> {
    write: Option<F>,
    result: Option<Result<T, TxError>>,
    reply: oneshot::Sender<Result<T, TxError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn) -> TxFuture<'c, T> + Send + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut Conn) -> Pin<Box<dyn Future<Output = ()> + Send + 'c>> {
        Box::pin(async move {
            if let Some(write) = self.write.take() {
                let result = conn.transaction(async move |conn| write(conn).await).await;
                self.result = Some(result);
            }
        })
    }

    fn answer(self: Box<Self>, failed: Option<&StorageError>) {
        let result = match (self.result, failed) {
            // What failed was rolled back to its savepoint either way.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(_)), Some(e)) | (None, Some(e)) => Err(TxError::Storage(same(e))),
            (Some(Ok(value)), None) => Ok(value),
            (None, None) => Err(TxError::Storage(StorageError::Internal(
                "sqlite writer skipped a write".to_owned(),
            ))),
        };
        // The caller may have stopped waiting (its request was dropped):
        // the write stands all the same.
        let _ = self.reply.send(result);
    }
}

/// Another error with the same kind and message (one per waiting caller).
fn same(e: &StorageError) -> StorageError {
    match e {
        StorageError::Unavailable(m) => StorageError::Unavailable(m.clone()),
        StorageError::Internal(m) => StorageError::Internal(m.clone()),
    }
}

/// The queue to the writer's thread, which stops when this is dropped.
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer's thread on `conn` (whose automatic checkpoints
    /// it turns off) and the checkpointing thread on `checkpoints`.
    pub(crate) fn start(
        mut conn: Conn,
        checkpoints: SqliteConnection,
    ) -> Result<Writer, StorageError> {
        block_on(conn.batch_execute("PRAGMA wal_autocheckpoint = 0")).map_err(db_error)?;
        let checkpoints = start_checkpointer(checkpoints)?;
        let (queue, jobs) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || serve(conn, jobs, checkpoints))
            .map_err(|e| {
                StorageError::Unavailable(format!("cannot start the sqlite writer: {e}"))
            })?;
        Ok(Writer { queue })
    }

    /// Queues `write` and waits for its batch to be settled.
    pub(crate) async fn run<T, F>(&self, write: F) -> Result<T, TxError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> TxFuture<'c, T> + Send + 'static,
    {
        let stopped =
            || TxError::Storage(StorageError::Unavailable("sqlite writer stopped".into()));
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            write: Some(write),
            result: None,
            reply,
        });
        self.queue.send(job).map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// Starts the thread that checkpoints the WAL when nudged (at most every
/// [`CHECKPOINT_EVERY`]); it makes a last checkpoint and stops when the
/// writer's thread drops its [`Checkpoints`].
fn start_checkpointer(mut conn: SqliteConnection) -> Result<Checkpoints, StorageError> {
    let (nudge, nudged) = std::sync::mpsc::sync_channel::<()>(1);
    let wal_frames = Arc::new(AtomicI64::new(0));
    let frames = Arc::clone(&wal_frames);
    std::thread::Builder::new()
        .name("sqlite-checkpoint".to_owned())
        .spawn(move || {
            let mut open = true;
            while open {
                open = nudged.recv().is_ok();
                frames.store(checkpoint(&mut conn), Ordering::Relaxed);
                if open {
                    std::thread::sleep(CHECKPOINT_EVERY);
                }
            }
        })
        .map_err(|e| {
            StorageError::Unavailable(format!("cannot start the sqlite checkpointer: {e}"))
        })?;
    Ok(Checkpoints { nudge, wal_frames })
}

/// The writer's thread: batches until every [`Writer`] is gone.
fn serve(
    mut conn: Conn,
    mut jobs: mpsc::UnboundedReceiver<Box<dyn Job>>,
    checkpoints: Checkpoints,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A write that panics (a bug) must not take the writer down with it:
        // its batch is rolled back and fails, and the writer goes on.
        let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            block_on(commit(&mut conn, &mut batch))
        }));
        let failed = match committed {
            Ok(result) => result.err(),
            Err(_) => {
                block_on(rollback(&mut conn));
                Some(StorageError::Internal(
                    "a sqlite write panicked; its batch was rolled back".to_owned(),
                ))
            }
        };
        if let Some(e) = &failed {
            tracing::warn!(error = %e, writes = batch.len(), "sqlite batch failed");
        }
        for job in batch.drain(..) {
            job.answer(failed.as_ref());
        }
        checkpoints.after_commit(&mut conn);
    }
}

/// Runs `batch` in one `BEGIN IMMEDIATE` transaction, each write in its own
/// savepoint, and commits it.
async fn commit(conn: &mut Conn, batch: &mut [Box<dyn Job>]) -> Result<(), StorageError> {
    conn.spawn_blocking(|c| AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"))
        .await
        .map_err(db_error)?;
    for job in batch.iter_mut() {
        job.run(conn).await;
        // A savepoint that could not be rolled back leaves the transaction
        // broken: give it all up.
        if !in_batch(conn).await {
            rollback(conn).await;
            return Err(StorageError::Internal(
                "sqlite batch transaction broken by a failed write".to_owned(),
            ));
        }
    }
    match conn
        .spawn_blocking(AnsiTransactionManager::commit_transaction)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) => {
            rollback(conn).await;
            Err(db_error(e))
        }
    }
}

/// Whether the connection is still in the batch's transaction, with no
/// savepoint left open.
async fn in_batch(conn: &mut Conn) -> bool {
    let depth = conn
        .spawn_blocking(|c| {
            let status = AnsiTransactionManager::transaction_manager_status_mut(c);
            Ok(status.transaction_depth().ok().flatten().map(|d| d.get()))
        })
        .await;
    matches!(depth, Ok(Some(1)))
}

/// Rolls the batch back, savepoints and all, if anything is left open.
async fn rollback(conn: &mut Conn) {
    let result = conn
        .spawn_blocking(|c| {
            while AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()?
                .is_some()
            {
                AnsiTransactionManager::rollback_transaction(c)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot roll back a failed sqlite batch");
    }
}
