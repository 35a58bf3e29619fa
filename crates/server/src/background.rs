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

/// The calendar write outbox's worker: claims due writes in one statement
/// (with a lease, so several instances share them and a dead one's claims
/// come back), writes each booking's current state into its connection's
/// calendar side by side ([`WRITE_CONCURRENCY`] at once), and records the
/// results in batches, one transaction each (a recorder task takes every
/// result finished meanwhile, [`RECORD_BATCH`] at most); a failure is
/// retried after `retry_delays` (the webhook schedule), one per retry.
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
    stop: impl Future<Output = ()>,
) {
    use booking_domain::ports::{ClaimedWrite, WriteResult};
    use std::sync::Arc;

    let delays: Vec<jiff::SignedDuration> = retry_delays
        .into_iter()
        .filter_map(|d| jiff::SignedDuration::try_from(d).ok())
        .collect();
    let delays = Arc::new(delays);
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
        for write in claimed {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                break;
            };
            let (ports, delays, done) = (ports.clone(), Arc::clone(&delays), done.clone());
            running.spawn(async move {
                let _permit = permit;
                match booking_domain::usecases::attempt_write((&ports).into(), &write, &delays)
                    .await
                {
                    Ok(result) => {
                        // The recorder outlives every attempt.
                        let _ = done.send((write, result));
                    }
                    Err(e) => tracing::warn!(
                        error = %e,
                        calendar = write.connection.id.as_str(),
                        "could not read a booking to write into a calendar; its claim runs out"
                    ),
                }
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
