//! The delivery worker: drains the outbox the stores fill.
//!
//! Why it is shaped this way:
//!
//! - **Claims, not locks held across I/O.** The worker claims due deliveries
//!   with a lease ([`DeliveryQueue::claim_deliveries`]; `SKIP LOCKED` on
//!   Postgres), sends them without holding any transaction, then records the
//!   outcomes. A worker that dies mid-send loses its claims when the lease
//!   ends and another (or the restarted) process sends them again: at least
//!   once, never lost, duplicates carrying the same `webhook-id`.
//! - **Pipelined.** Up to `concurrency` sends are in flight; capacity freed by
//!   one finished send is refilled by the next claim, so a slow receiver never
//!   holds up a whole batch. Outcomes go to one recorder task that writes them
//!   in batches (one transaction for many attempts).
//! - **Fair between accounts.** Each account may have at most
//!   [`WorkerConfig::per_account`] sends in flight (a quarter of the slots by
//!   default); claims skip accounts at their share and take due deliveries
//!   round-robin across accounts
//!   ([`DeliveryQueue::claim_deliveries_fairly`]). One account's backlog or
//!   slow receivers hold at most their share, so another account's delivery
//!   finds a free slot at once.
//! - **Woken on commit.** The store wakes the worker after a commit that
//!   queued deliveries (in process, and through LISTEN/NOTIFY on Postgres),
//!   so a healthy receiver gets an event milliseconds after the booking
//!   call; polling every `poll` is the fallback (retries come due that way).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use booking_domain::ports::{
    AttemptResult, ClaimedDelivery, Clock, DeliveryOutcome, DeliveryQueue, StorageError,
};
use booking_domain::{AccountId, Attempt, BookingEvent, BookingId, WebhookId};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::{Notify, mpsc};

use crate::schedule::RetryPolicy;
use crate::signing::{WebhookSecret, sign};
use crate::transport::{AttemptOutcome, Transport};

/// Renders the body posted for an event (the HTTP layer owns the JSON shape).
pub type RenderBody = Arc<dyn Fn(&BookingEvent) -> Vec<u8> + Send + Sync>;

/// What the worker reports, for metrics.
pub trait Observer: Send + Sync {
    /// One attempt finished: `outcome` is `succeeded`, `retrying` or
    /// `failed`, after `duration`.
    fn attempt(&self, outcome: &'static str, duration: Duration);

    /// Deliveries waiting (due or not) for enabled endpoints.
    fn queue_depth(&self, pending: u64);
}

/// An observer that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn attempt(&self, _: &'static str, _: Duration) {}
    fn queue_depth(&self, _: u64) {}
}

/// Tuning; the defaults suit one process on a small machine.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Sends in flight at most.
    pub concurrency: usize,
    /// Deliveries claimed at most per claim.
    pub batch: u32,
    /// How often to look for due deliveries without a wake-up.
    pub poll: Duration,
    /// How often to report the queue depth.
    pub depth_every: Duration,
    /// Sends in flight at most for one account (its fair share); `0` means
    /// a quarter of `concurrency`.
    pub per_account: usize,
}

impl WorkerConfig {
    /// One account's share of the send slots.
    pub fn account_share(&self) -> usize {
        match self.per_account {
            0 => (self.concurrency / 4).max(1),
            n => n.min(self.concurrency).max(1),
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 256,
            batch: 100,
            poll: Duration::from_secs(1),
            depth_every: Duration::from_secs(5),
            per_account: 0,
        }
    }
}

/// Sends due deliveries until shut down.
pub struct Worker {
    queue: Arc<dyn DeliveryQueue>,
    transport: Transport,
    policy: RetryPolicy,
    render: RenderBody,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn Observer>,
    config: WorkerConfig,
    /// This process's claim token: claims and records carry it.
    claimant: String,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("claimant", &self.claimant)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker; `claimant` must be unique per process (a random id).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        queue: Arc<dyn DeliveryQueue>,
        transport: Transport,
        policy: RetryPolicy,
        render: RenderBody,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn Observer>,
        config: WorkerConfig,
        claimant: String,
    ) -> Worker {
        Worker {
            queue,
            transport,
            policy,
            render,
            clock,
            observer,
            config,
            claimant,
        }
    }

    /// How long a claim lasts: long enough for one attempt (the transport's
    /// timeout) and the recording after it, with a wide margin.
    pub fn lease(&self) -> SignedDuration {
        let timeout = SignedDuration::try_from(self.transport.timeout())
            .unwrap_or(SignedDuration::from_secs(10));
        timeout
            .checked_mul(2)
            .and_then(|t| t.checked_add(SignedDuration::from_secs(5)))
            .unwrap_or(SignedDuration::from_secs(60))
    }

    /// Runs until `shutdown` resolves, then stops claiming, lets the sends in
    /// flight finish (each is bounded by the transport's timeout) and records
    /// them. Whatever is left unrecorded is sent again after its lease.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let worker = Arc::new(self);
        let (tx, rx) = mpsc::unbounded_channel::<AttemptResult>();
        let recorder = tokio::spawn(record(Arc::clone(&worker), rx));
        let depth = tokio::spawn(report_depth(Arc::clone(&worker)));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let per_account = Arc::new(PerAccount::default());
        let share = worker.config.account_share();
        let freed = Arc::new(Notify::new());
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(200);
        loop {
            let free = worker
                .config
                .concurrency
                .saturating_sub(in_flight.load(Ordering::Acquire));
            let mut full = false;
            // Accounts at their share wait for one of their own sends to end.
            let skip = per_account.at_least(share);
            if free > 0 {
                let want = u32::try_from(free)
                    .unwrap_or(u32::MAX)
                    .min(worker.config.batch);
                match worker
                    .queue
                    .claim_deliveries_fairly(
                        &worker.claimant,
                        worker.clock.now(),
                        worker.lease(),
                        want,
                        u32::try_from(share).unwrap_or(u32::MAX),
                        &skip,
                    )
                    .await
                {
                    Ok(claimed) => {
                        backoff = Duration::from_millis(200);
                        full = claimed.len() == usize::try_from(want).unwrap_or(usize::MAX);
                        for group in in_order_per_receiver(claimed) {
                            for delivery in &group {
                                in_flight.fetch_add(1, Ordering::AcqRel);
                                per_account.add(&delivery.endpoint.account_id);
                            }
                            let (worker, tx) = (Arc::clone(&worker), tx.clone());
                            let (in_flight, freed) = (Arc::clone(&in_flight), Arc::clone(&freed));
                            let per_account = Arc::clone(&per_account);
                            tokio::spawn(async move {
                                for delivery in group {
                                    let account = delivery.endpoint.account_id.clone();
                                    let result = worker.deliver(delivery).await;
                                    // The recorder only stops after every sender.
                                    let _ = tx.send(result);
                                    per_account.remove(&account);
                                    in_flight.fetch_sub(1, Ordering::AcqRel);
                                    freed.notify_one();
                                }
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not claim webhook deliveries");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            () = &mut shutdown => break,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                        continue;
                    }
                }
            }
            if full {
                // More may be due right now.
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                () = worker.queue.wait_for_deliveries() => {}
                () = tokio::time::sleep(worker.config.poll) => {}
                () = freed.notified(), if free == 0 || !skip.is_empty() => {}
                () = &mut shutdown => break,
            }
        }
        depth.abort();
        // Senders hold clones of `tx`; the recorder ends when the last one
        // has reported (each send is bounded by the transport's timeout).
        drop(tx);
        let grace = worker.transport.timeout() + Duration::from_secs(5);
        if tokio::time::timeout(grace, recorder).await.is_err() {
            tracing::warn!("webhook attempts still unrecorded at shutdown; they will be retried");
        }
    }

    /// Sends one delivery and decides what comes next.
    async fn deliver(&self, delivery: ClaimedDelivery) -> AttemptResult {
        let at = self.clock.now();
        let timestamp = Timestamp::now().as_second();
        let body = (self.render)(&delivery.event);
        let secrets: Vec<WebhookSecret> = delivery
            .endpoint
            .signing_secrets(at)
            .iter()
            .filter_map(|s| WebhookSecret::parse(s).ok())
            .collect();
        let outcome = if secrets.is_empty() {
            AttemptOutcome {
                status_code: None,
                error: Some("the endpoint has no valid signing secret".into()),
                duration: Duration::ZERO,
                retry_after: None,
                succeeded: false,
                gone: false,
            }
        } else {
            let signature = sign(&secrets, delivery.event.id.as_str(), timestamp, &body);
            self.transport
                .send(
                    &delivery.endpoint.url,
                    delivery.event.id.as_str(),
                    timestamp,
                    &signature,
                    body,
                )
                .await
        };
        let attempts_made = delivery.round_attempts.saturating_add(1);
        let (next, label) = if outcome.succeeded {
            (DeliveryOutcome::Succeeded, "succeeded")
        } else if outcome.gone {
            (DeliveryOutcome::Failed, "failed")
        } else {
            match self
                .policy
                .next_delay_jittered(attempts_made, outcome.retry_after)
            {
                Some(delay) => (DeliveryOutcome::RetryAt(retry_at(delay)), "retrying"),
                None => (DeliveryOutcome::Failed, "failed"),
            }
        };
        self.observer.attempt(label, outcome.duration);
        if !outcome.succeeded {
            tracing::info!(
                delivery = %delivery.id,
                endpoint = %delivery.endpoint.id,
                event = %delivery.event.id,
                status = outcome.status_code,
                error = outcome.error.as_deref(),
                outcome = label,
                "webhook attempt failed"
            );
        }
        AttemptResult {
            delivery: delivery.id,
            attempt: Attempt {
                at,
                status_code: outcome.status_code,
                error: outcome.error,
                duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
            },
            outcome: next,
            disable_endpoint: outcome.gone,
        }
    }

    /// Sends every delivery due now once and records the outcomes; returns
    /// how many it sent. For tests and tools; `run` is the server's loop.
    pub async fn drain_once(&self) -> Result<usize, StorageError> {
        let claimed = self
            .queue
            .claim_deliveries(
                &self.claimant,
                self.clock.now(),
                self.lease(),
                self.config.batch,
            )
            .await?;
        let n = claimed.len();
        let mut results = Vec::with_capacity(n);
        for delivery in claimed {
            results.push(self.deliver(delivery).await);
        }
        self.queue.record_attempts(&self.claimant, &results).await?;
        Ok(n)
    }
}

/// Claimed deliveries grouped by endpoint and booking, each group in claim
/// order (the order the events happened: due time, then queuing order),
/// the groups in the order of their first delivery. A group is sent one
/// delivery after another, so one receiver gets one booking's events in
/// the order they happened (`booking.created` before the
/// `booking.confirmed` of an auto-confirmed booking), while other
/// receivers and bookings go side by side. (A failed attempt is retried
/// later and can still arrive after a later event: receivers order one
/// booking's events by their ids, which sort as the events happened, and
/// Standard Webhooks promises no order.)
fn in_order_per_receiver(claimed: Vec<ClaimedDelivery>) -> Vec<Vec<ClaimedDelivery>> {
    let mut groups: Vec<Vec<ClaimedDelivery>> = Vec::new();
    let mut index: HashMap<(WebhookId, BookingId), usize> = HashMap::new();
    for delivery in claimed {
        let key = (
            delivery.endpoint.id.clone(),
            delivery.event.booking.id.clone(),
        );
        match index.get(&key) {
            Some(&i) => groups[i].push(delivery),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![delivery]);
            }
        }
    }
    groups
}

/// Sends in flight per account.
#[derive(Debug, Default)]
struct PerAccount(std::sync::Mutex<std::collections::HashMap<AccountId, usize>>);

impl PerAccount {
    fn add(&self, account: &AccountId) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(account.clone()).or_default() += 1;
    }

    fn remove(&self, account: &AccountId) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(account);
            }
        }
    }

    /// The accounts with at least `share` sends in flight.
    fn at_least(&self, share: usize) -> Vec<AccountId> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|(_, n)| **n >= share)
            .map(|(a, _)| a.clone())
            .collect()
    }
}

/// The instant `delay` from now, rounded up to a whole second (the store's
/// precision), so a retry never comes earlier than asked.
fn retry_at(delay: Duration) -> Timestamp {
    let now = Timestamp::now();
    let at = SignedDuration::try_from(delay)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX);
    let secs = if at.subsec_nanosecond() > 0 {
        at.as_second().saturating_add(1)
    } else {
        at.as_second()
    };
    Timestamp::from_second(secs).unwrap_or(at)
}

/// Writes finished attempts in batches until every sender is gone.
async fn record(worker: Arc<Worker>, mut rx: mpsc::UnboundedReceiver<AttemptResult>) {
    const MAX_BATCH: usize = 500;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(result) => batch.push(result),
                Err(_) => break,
            }
        }
        let mut delay = Duration::from_millis(100);
        let started = Instant::now();
        loop {
            match worker.queue.record_attempts(&worker.claimant, &batch).await {
                Ok(()) => break,
                // Unrecorded deliveries are sent again after their lease:
                // give up once that has passed anyway.
                Err(e) if started.elapsed() > Duration::from_secs(60) => {
                    tracing::error!(error = %e, attempts = batch.len(),
                        "could not record webhook attempts; they will be sent again");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not record webhook attempts; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Reports the queue depth now and then.
async fn report_depth(worker: Arc<Worker>) {
    let mut tick = tokio::time::interval(worker.config.depth_every);
    loop {
        tick.tick().await;
        match worker.queue.pending_deliveries().await {
            Ok(n) => worker.observer.queue_depth(n),
            Err(e) => tracing::debug!(error = %e, "could not count pending deliveries"),
        }
    }
}
