//! Background tasks besides the HTTP server: the webhook delivery worker,
//! automatic completion of bookings whose end has passed, reminders, background
//! calendar sync, and the writer of bookings into providers' calendars.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use booking_domain::ports::Ports;
use booking_domain::usecases::complete_ended as complete_batch;
use booking_http::metrics::Metrics;
use booking_webhooks::{Observer, Transport, Worker, WorkerConfig};

use booking_domain::ports::IdGenerator;

use crate::config::Config;
use crate::ids::RandomIds;
use crate::wiring::Backend;

/// Reports the worker's attempts and queue depth as Prometheus metrics.
struct MetricsObserver(Metrics);

impl Observer for MetricsObserver {
    fn attempt(&self, outcome: &'static str, duration: Duration) {
        self.0
            .webhook_deliveries
            .with_label_values(&[outcome])
            .inc();
        self.0
            .webhook_attempt_latency
            .observe(duration.as_secs_f64());
    }

    fn queue_depth(&self, pending: u64) {
        self.0
            .webhook_queue_depth
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }
}

/// The webhook delivery worker for this process.
pub fn webhook_worker(
    config: &Config,
    backend: &Backend,
    metrics: Metrics,
) -> anyhow::Result<Worker> {
    let transport = Transport::new(config.webhook_timeout, config.webhook_allow_private)
        .context("cannot build the webhook HTTP client")?;
    Ok(Worker::new(
        backend.queue.clone(),
        transport,
        config.webhook_retry.clone(),
        std::sync::Arc::new(booking_http::wire::webhook_body),
        backend.ports.clock.clone(),
        std::sync::Arc::new(MetricsObserver(metrics)),
        WorkerConfig::default(),
        format!("worker_{}", RandomIds.secret(22)),
    ))
}

/// Resolves once `stop` turns true (or its sender is gone).
pub async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Every `interval`, completes confirmed bookings whose end has passed (in
/// batches until none is left), each with its `booking.completed` event.
/// Safe with several instances: each change is conditional on the booking
/// being unchanged.
pub async fn complete_ended(
    ports: Ports,
    interval: Duration,
    metrics: Metrics,
    stop: impl Future<Output = ()>,
) {
    const BATCH: u32 = 200;
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut stop => return,
        }
        loop {
            match complete_batch((&ports).into(), BATCH).await {
                Ok(n) => {
                    metrics.auto_completed.inc_by(n as u64);
                    if n > 0 {
                        tracing::info!(completed = n, "completed bookings whose end has passed");
                    }
                    if n < BATCH as usize {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "automatic completion failed; will retry");
                    break;
                }
            }
        }
    }
}

/// Every `interval`, sends the reminders that are due (see
/// [`booking_domain::usecases::send_due_reminders`]). Safe with several
/// instances: each reminder is recorded under a unique key in the
/// transaction that writes its event, so only one instance sends it. A
/// reminder due while no instance ran is sent by the first round after a
/// start, unless the booking has started by then.
pub async fn send_reminders(ports: Ports, interval: Duration, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut stop => return,
        }
        match booking_domain::usecases::send_due_reminders((&ports).into()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sent = n, "sent due reminders"),
            Err(e) => tracing::warn!(error = %e, "sending reminders failed; will retry"),
        }
    }
}

/// Calendar syncs in flight at most in the background, per process.
const SYNC_CONCURRENCY: usize = 8;
/// Connections of one account claimed at most per round: with many
/// accounts due, each gets its share of the next round.
const SYNC_PER_ACCOUNT: u32 = 4;
/// Connections claimed at most per round.
const SYNC_BATCH: u32 = 32;

/// Every `interval` (checked every tenth of it, at most every minute),
/// syncs the external calendars whose last attempt is older than `interval`.
/// Safe with several instances: connections are claimed with a lease.
///
/// Fair between accounts: each round claims at most [`SYNC_PER_ACCOUNT`]
/// connections of any one account, interleaved across accounts, and syncs
/// them side by side ([`SYNC_CONCURRENCY`] at once); rounds repeat until
/// nothing is due. So one tenant's many slow calendars delay another's by
/// one round at most (each sync bounded by the adapters' fetch timeout).
pub async fn sync_calendars(ports: Ports, interval: Duration, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let every = (interval / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let interval =
        jiff::SignedDuration::try_from(interval).unwrap_or(jiff::SignedDuration::from_mins(15));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut stop => return,
        }
        loop {
            match booking_domain::usecases::claim_due_fairly(
                (&ports).into(),
                interval,
                SYNC_BATCH,
                SYNC_PER_ACCOUNT,
            )
            .await
            {
                Ok(claimed) if claimed.is_empty() => break,
                Ok(claimed) => sync_side_by_side(&ports, claimed, SYNC_CONCURRENCY).await,
                Err(e) => {
                    tracing::warn!(error = %e, "background calendar sync failed; will retry");
                    break;
                }
            }
        }
    }
}

/// Syncs `connections` with at most `bound` at once, starting them in the
/// order given; returns when all are done.
async fn sync_side_by_side(
    ports: &Ports,
    connections: Vec<booking_domain::CalendarConnection>,
    bound: usize,
) {
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(bound.max(1)));
    let mut running = tokio::task::JoinSet::new();
    for connection in connections {
        let Ok(permit) = std::sync::Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let ports = ports.clone();
        running.spawn(async move {
            let _permit = permit;
            if let Err(e) = booking_domain::usecases::sync_connection((&ports).into(), &connection).await {
                tracing::warn!(error = %e, calendar = connection.id.as_str(), "could not record a calendar sync");
            }
        });
    }
    while running.join_next().await.is_some() {}
}

/// Calendar writes in flight at most, per process.
const WRITE_CONCURRENCY: usize = 16;
/// Calendar writes claimed at most per claim.
const WRITE_BATCH: u32 = 64;
/// How often the writer looks for due writes when not woken (writes queued
/// by another process, retries coming due).
const WRITE_POLL: Duration = Duration::from_secs(1);
/// How long the writer lets writes gather after a wake-up before claiming
/// them: under a stream of bookings, one claim per this interval rather
/// than one per booking.
const WRITE_GATHER: Duration = Duration::from_millis(20);
/// Results recorded at most per transaction.
const RECORD_BATCH: usize = 256;
/// How long the recorder lets results gather before recording them.
const RECORD_GATHER: Duration = Duration::from_millis(20);

/// The thread that sends bookings into calendars, at a low scheduling
/// priority (a high nice value): its HTTP requests (rendering, TLS, the
/// adapters' parsing) get the CPU only when booking requests leave some,
/// so on a saturated machine the write outbox drains after a burst instead
/// of slowing creation during it. Only the sending runs there: the
/// database work (claims, booking reads, records) stays on the main
/// runtime at normal priority, so a starved thread never holds a pool
/// connection, a SQLite read snapshot or a lock that requests wait for.
///
/// A current-thread tokio runtime on a thread of its own, with the nice
/// value applied to it and to every blocking thread it starts (DNS look-ups).
/// Linux only: elsewhere the thread runs at normal priority (nice is a
/// process attribute there).
pub struct LowPriority {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LowPriority {
    /// Starts the thread at nice `nice` (0: normal priority).
    pub fn start(nice: i32) -> anyhow::Result<LowPriority> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("calendar-writer".to_owned())
            .spawn(move || {
                lower_priority(nice);
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .thread_name("calendar-writer-blocking")
                    .on_thread_start(move || lower_priority(nice))
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                        return;
                    }
                };
                if handle_tx.send(Ok(runtime.handle().clone())).is_err() {
                    return;
                }
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Dropping the runtime here, outside any async context, ends
                // what it still runs (nothing: the worker waits for its
                // writes before the thread is stopped).
            })
            .context("cannot start the calendar writer's thread")?;
        let handle = handle_rx
            .recv()
            .context("the calendar writer's thread ended at start")?
            .context("cannot build the calendar writer's runtime")?;
        Ok(LowPriority {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where to spawn the sends.
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.handle.clone()
    }

    /// Ends the thread once what it runs is done (blocks: call it from a
    /// blocking context, after [`write_calendars`] returned).
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the calendar writer's thread panicked");
        }
    }
}

/// Lowers the calling thread's scheduling priority to nice `nice` (Linux:
/// the nice value is per thread). Raising it is always allowed; a failure
/// (which would leave the thread at normal priority) is logged.
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(thread), nice) {
            tracing::warn!(error = %e, nice, "cannot lower the calendar writer's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    tracing::info!(
        nice,
        "the calendar writer runs at normal priority here (per-thread nice is Linux only)"
    );
}

/// How the calendar writer sends: on the low-priority thread, with the
/// deadline after which a write waiting for it is sent at normal priority.
pub struct WritePriority {
    /// The low-priority thread's runtime.
    pub low: tokio::runtime::Handle,
    /// The calendar clients the low-priority thread uses: their own, so
    /// their pooled connections (whose I/O runs on the runtime that opened
    /// them) belong to that thread, and the ports' clients (calendar sync,
    /// the normal-priority sends) to the main runtime.
    pub writer: std::sync::Arc<dyn booking_domain::CalendarWriter>,
    /// How long a due write may wait for the low-priority thread.
    pub deadline: Duration,
}

/// The calendar write outbox's worker: claims due writes in one statement
/// (with a lease, so several instances share them and a dead one's claims
/// come back), reads their bookings' current state (one read per account
/// in the batch) and sends each into its connection's calendar side by side ([`WRITE_CONCURRENCY`] at once), and
/// records the results in batches, one transaction each (a recorder task
/// takes every result finished meanwhile, [`RECORD_BATCH`] at most); a
/// failure is retried after `retry_delays` (the webhook schedule), one per
/// retry.
///
/// The sends run on the [`LowPriority`] thread, so they take no CPU that
/// booking requests want; a write that has been due for `priority.deadline`
/// (counted from its booking's change) without that thread starting it is
/// sent here, at normal priority: under a saturated CPU writes lag by about
/// that much at most, and creation pays for them again past it. The claims,
/// reads and records (database work) run here, paced by the sends: the
/// next batch is claimed and read once each write of this one has started
/// sending.
///
/// Woken by the store when a commit in this process queued writes (after
/// [`WRITE_GATHER`], so a stream of bookings is claimed in batches), and
/// looks every [`WRITE_POLL`] otherwise (other processes' writes, retries).
/// So the worker costs a booking write nothing but its outbox row: no
/// transaction of its own per booking on the claim or the record side.
///
/// On `stop` it claims nothing more; the writes claimed finish and are
/// recorded (each is bounded by the adapters' time limit), so none waits
/// for its lease.
pub async fn write_calendars(
    ports: Ports,
    retry_delays: Vec<Duration>,
    priority: WritePriority,
    stop: impl Future<Output = ()>,
) {
    use booking_domain::ports::{ClaimedWrite, WriteResult};
    use std::sync::Arc;

    let delays: Vec<jiff::SignedDuration> = retry_delays
        .into_iter()
        .filter_map(|d| jiff::SignedDuration::try_from(d).ok())
        .collect();
    let delays = Arc::new(delays);
    let priority = Arc::new(priority);
    let (done, results) = tokio::sync::mpsc::unbounded_channel::<(ClaimedWrite, WriteResult)>();
    let recorder = tokio::spawn(record_results(ports.clone(), results));
    let permits = Arc::new(tokio::sync::Semaphore::new(WRITE_CONCURRENCY));
    let mut running = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    loop {
        let claimed =
            match booking_domain::usecases::claim_calendar_writes((&ports).into(), WRITE_BATCH)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming calendar writes failed; will retry");
                    Vec::new()
                }
            };
        let more = claimed.len() >= WRITE_BATCH as usize;
        let targets = if claimed.is_empty() {
            Vec::new()
        } else {
            match booking_domain::usecases::read_write_targets((&ports).into(), &claimed).await {
                Ok(targets) => targets,
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        writes = claimed.len(),
                        "could not read the bookings to write into calendars; their claims run out"
                    );
                    Vec::new()
                }
            }
        };
        for (write, target) in claimed.into_iter().zip(targets) {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                break;
            };
            let (ports, delays, done, priority) = (
                ports.clone(),
                Arc::clone(&delays),
                done.clone(),
                Arc::clone(&priority),
            );
            running.spawn(async move {
                let _permit = permit;
                let job = Arc::new(SendJob {
                    write,
                    target,
                    delays,
                });
                let result =
                    send_at_low_priority(&priority, &*ports.calendar_writer, &ports.clock, &job)
                        .await;
                // The recorder outlives every attempt.
                let _ = done.send((job.write.clone(), result));
            });
        }
        while running.try_join_next().is_some() {}
        if more {
            // A full batch: more may be due. Stop still ends the loop.
            tokio::select! {
                biased;
                () = &mut stop => break,
                () = std::future::ready(()) => continue,
            }
        }
        tokio::select! {
            () = ports.calendars.wait_for_calendar_writes() => {
                tokio::select! {
                    () = tokio::time::sleep(WRITE_GATHER) => {}
                    () = &mut stop => break,
                }
            }
            () = tokio::time::sleep(WRITE_POLL) => {}
            () = &mut stop => break,
        }
    }
    while running.join_next().await.is_some() {}
    drop(done);
    if let Err(e) = recorder.await {
        tracing::warn!(error = %e, "the calendar write recorder failed");
    }
}

/// One claimed write, read and rendered, to send.
struct SendJob {
    write: booking_domain::ports::ClaimedWrite,
    target: booking_domain::usecases::WriteTarget,
    delays: std::sync::Arc<Vec<jiff::SignedDuration>>,
}

impl SendJob {
    async fn send(
        &self,
        writer: &dyn booking_domain::CalendarWriter,
        clock: &dyn booking_domain::ports::Clock,
    ) -> booking_domain::ports::WriteResult {
        booking_domain::usecases::send_write(writer, clock, &self.write, &self.target, &self.delays)
            .await
    }
}

/// Sends `job` on the low-priority thread, or here with `normal` (the
/// ports' own calendar clients) once it has been due for the deadline
/// without that thread starting it (or if that thread is gone). Exactly one
/// of the two sends it: whichever takes it first.
async fn send_at_low_priority(
    priority: &WritePriority,
    normal: &dyn booking_domain::CalendarWriter,
    clock: &std::sync::Arc<dyn booking_domain::ports::Clock>,
    job: &std::sync::Arc<SendJob>,
) -> booking_domain::ports::WriteResult {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let taken = Arc::new(AtomicBool::new(false));
    let mut low = priority.low.spawn({
        let (job, taken) = (Arc::clone(job), Arc::clone(&taken));
        let (writer, clock) = (Arc::clone(&priority.writer), Arc::clone(clock));
        async move {
            if taken.swap(true, Ordering::AcqRel) {
                return None;
            }
            Some(job.send(&*writer, &*clock).await)
        }
    });
    // Negative (a clock behind the one that queued it): not waited yet.
    let waited = Duration::try_from(clock.now().duration_since(job.write.due_since))
        .unwrap_or(Duration::ZERO);
    let left = priority.deadline.saturating_sub(waited);
    let here = match tokio::time::timeout(left, &mut low).await {
        Ok(Ok(Some(result))) => return result,
        // The thread is gone (or the send panicked there): send here.
        Ok(_) => true,
        // Past the deadline: send here unless the thread has started it.
        Err(_) => !taken.swap(true, Ordering::AcqRel),
    };
    if here {
        low.abort();
        tracing::debug!(
            calendar = job.write.connection.id.as_str(),
            "a calendar write waited past its deadline for the low-priority thread; sent at normal priority"
        );
        return job.send(normal, &**clock).await;
    }
    // The thread took it just in time: its result.
    match low.await {
        Ok(Some(result)) => result,
        _ => job.send(normal, &**clock).await,
    }
}

/// Records the results `results` brings in batches (one transaction each)
/// until every sender is gone.
async fn record_results(
    ports: Ports,
    mut results: tokio::sync::mpsc::UnboundedReceiver<(
        booking_domain::ports::ClaimedWrite,
        booking_domain::ports::WriteResult,
    )>,
) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while results.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        if batch.len() < RECORD_BATCH {
            tokio::time::sleep(RECORD_GATHER).await;
            while batch.len() < RECORD_BATCH {
                match results.try_recv() {
                    Ok(result) => batch.push(result),
                    Err(_) => break,
                }
            }
        }
        for (write, result) in &batch {
            if let booking_domain::ports::WriteResult::Failed { error, retry_at } = result {
                tracing::info!(
                    calendar = write.connection.id.as_str(),
                    booking = write.booking_id.as_str(),
                    error = %error,
                    retry = retry_at.is_some(),
                    "writing a booking into a calendar failed"
                );
            }
        }
        if let Err(e) =
            booking_domain::usecases::record_calendar_writes((&ports).into(), &batch).await
        {
            tracing::warn!(
                error = %e,
                writes = batch.len(),
                "could not record calendar writes; their claims run out and they are written again"
            );
        }
        batch.clear();
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use booking_domain::ports::{ClaimedWrite, Clock, WriteResult};
    use booking_domain::{
        CalendarConnection, CalendarSource, CalendarWriter, FetchError, RemoteEvent, SyncStatus,
        WriteOutcome, WriteRequest,
    };
    use std::sync::{Arc, Mutex};

    /// Records the name and nice value of the thread each write ran on.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, i32)>>);

    #[async_trait::async_trait]
    impl CalendarWriter for Recorder {
        async fn write(&self, _: WriteRequest<'_>) -> Result<WriteOutcome, FetchError> {
            let thread = std::thread::current();
            let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                .unwrap_or(-100);
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((thread.name().unwrap_or("").to_owned(), nice));
            Ok(WriteOutcome {
                remote: RemoteEvent {
                    written: true,
                    ..RemoteEvent::default()
                },
                refreshed: None,
            })
        }
    }

    struct Fixed(jiff::Timestamp);

    impl Clock for Fixed {
        fn now(&self) -> jiff::Timestamp {
            self.0
        }
    }

    fn job(due_since: jiff::Timestamp) -> Arc<SendJob> {
        let connection = CalendarConnection {
            id: booking_domain::CalendarId::from_trusted("cal_1"),
            account_id: booking_domain::AccountId::from_trusted("acc_1"),
            provider_id: booking_domain::ProviderId::from_trusted("prv_1"),
            source: CalendarSource::Ics {
                url: "https://example.com/a.ics".to_owned(),
            },
            status: SyncStatus::Pending,
            last_synced_at: None,
            last_error: None,
            last_error_at: None,
            busy_blocks: 0,
            validators: Default::default(),
            write: true,
            last_write_error: None,
            created_at: due_since,
        };
        Arc::new(SendJob {
            write: ClaimedWrite {
                connection,
                booking_id: booking_domain::BookingId::from_trusted("bkg_1"),
                version: 1,
                attempts: 0,
                remote: RemoteEvent::default(),
                due_since,
            },
            target: booking_domain::usecases::WriteTarget {
                event: None,
                span: None,
            },
            delays: Arc::new(Vec::new()),
        })
    }

    #[tokio::test]
    async fn writes_are_sent_on_the_low_priority_thread() {
        let now = jiff::Timestamp::from_second(1_000_000).unwrap();
        let low = LowPriority::start(19).unwrap();
        let (on_low, on_main) = (Arc::new(Recorder::default()), Recorder::default());
        let priority = WritePriority {
            low: low.handle(),
            writer: on_low.clone(),
            deadline: Duration::from_secs(30),
        };
        let clock: Arc<dyn Clock> = Arc::new(Fixed(now));
        let result = send_at_low_priority(&priority, &on_main, &clock, &job(now)).await;
        assert!(matches!(result, WriteResult::Done { .. }));
        assert!(on_main.0.lock().unwrap().is_empty());
        assert_eq!(
            *on_low.0.lock().unwrap(),
            [("calendar-writer".to_owned(), 19)]
        );
        tokio::task::spawn_blocking(move || low.stop())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_write_past_its_deadline_is_sent_here_once() {
        let now = jiff::Timestamp::from_second(1_000_000).unwrap();
        // A runtime nobody drives: a thread that never gets the CPU.
        let starved = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (on_low, on_main) = (Arc::new(Recorder::default()), Recorder::default());
        let priority = WritePriority {
            low: starved.handle().clone(),
            writer: on_low.clone(),
            deadline: Duration::from_secs(30),
        };
        let clock: Arc<dyn Clock> = Arc::new(Fixed(now));
        // Due for 31 s already: sent here at once.
        let due = now - jiff::SignedDuration::from_secs(31);
        let result = send_at_low_priority(&priority, &on_main, &clock, &job(due)).await;
        assert!(matches!(result, WriteResult::Done { .. }));
        assert_eq!(on_main.0.lock().unwrap().len(), 1);
        // Due for 29.8 s: sent here after the remaining 0.2 s.
        let due = now - jiff::SignedDuration::from_millis(29_800);
        let started = std::time::Instant::now();
        send_at_low_priority(&priority, &on_main, &clock, &job(due)).await;
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(on_main.0.lock().unwrap().len(), 2);
        // The starved runtime, run now, sends neither again.
        tokio::task::spawn_blocking(move || {
            starved.block_on(tokio::task::yield_now());
        })
        .await
        .unwrap();
        assert!(on_low.0.lock().unwrap().is_empty());
    }
}
