//! The cross-process signals: a dedicated connection (outside the pool)
//! that `LISTEN`s on four channels. On [`WEBHOOKS`] it wakes this store's
//! delivery workers, so a booking written by another process is sent
//! without waiting for the workers' next poll; on [`KEYS`], [`SERVICES`]
//! and [`BUSY`] it drops what changed from the read caches (see `cache.rs`), which it marks
//! live only while the connection listens.
//!
//! The connection is checked with a `SELECT 1` when it has been quiet for
//! [`PING_EVERY`] (a peer that vanished without closing the socket would
//! otherwise go unnoticed). When it is lost, the task reconnects with a
//! backoff from [`MIN_BACKOFF`] to [`MAX_BACKOFF`], warns once per outage,
//! and wakes the workers when it is back (notifications sent meanwhile are
//! lost). It stops when the store is dropped.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use futures_util::StreamExt;
use tokio::sync::{Notify, oneshot};

use super::cache::{BusyCache, KeyCache, ServiceCache};
use super::notify::{BUSY, KEYS, SERVICES, WEBHOOKS};
use super::tls::establish;

/// The first wait before reconnecting.
const MIN_BACKOFF: Duration = Duration::from_secs(1);

/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long the connection may stay quiet before it is checked.
const PING_EVERY: Duration = Duration::from_secs(30);

/// How long `LISTEN` or a check may take before the connection counts as lost.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the listening connection shows in `pg_stat_activity`.
pub(crate) const APPLICATION_NAME: &str = "booking-api webhook listener";

/// Stops the listener task when dropped (with the store).
pub(crate) struct Listener {
    _stop: oneshot::Sender<()>,
}

impl Listener {
    /// Connects and listens once (so a store returned by `connect` already
    /// hears other processes and caches keys), then keeps listening in a
    /// background task that acts on every notification.
    pub(crate) async fn start(url: &str, signals: Signals) -> Listener {
        let first = match listen(url).await {
            Ok(conn) => {
                // Live from the start: a store returned by `connect` caches.
                signals.set_live(true);
                Some(conn)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for webhook notifications; retrying");
                None
            }
        };
        let (stop_tx, stop) = oneshot::channel();
        tokio::spawn(run(url.to_owned(), signals, first, stop));
        Listener { _stop: stop_tx }
    }
}

/// What the notifications act on.
pub(crate) struct Signals {
    /// The delivery workers.
    pub(crate) wake: Arc<Notify>,
    /// The API keys cached by this store.
    pub(crate) keys: Arc<KeyCache>,
    /// The services cached by this store.
    pub(crate) services: Arc<ServiceCache>,
    /// The busy time cached by this store.
    pub(crate) busy: Arc<BusyCache>,
}

impl Signals {
    /// Whether the caches can be trusted (the connection listens).
    fn set_live(&self, live: bool) {
        self.keys.set_live(live);
        self.services.set_live(live);
        self.busy.set_live(live);
    }

    /// Acts on one notification.
    fn on(&self, channel: &str, payload: &str) {
        match channel {
            KEYS => self.keys.invalidate(payload),
            SERVICES => self.services.invalidate(payload),
            BUSY => payload
                .split(',')
                .for_each(|group| self.busy.invalidate(group)),
            _ => self.wake.notify_one(),
        }
    }
}

/// A new connection listening on [`WEBHOOKS`], [`KEYS`], [`SERVICES`] and [`BUSY`].
async fn listen(url: &str) -> Result<AsyncPgConnection, String> {
    let mut conn = establish(url).await.map_err(|e| e.to_string())?;
    let setup = format!(
        "SET application_name = '{APPLICATION_NAME}'; LISTEN {WEBHOOKS}; LISTEN {KEYS}; LISTEN {SERVICES}; LISTEN {BUSY}"
    );
    match tokio::time::timeout(STATEMENT_TIMEOUT, conn.batch_execute(&setup)).await {
        Ok(Ok(())) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("LISTEN timed out".to_owned()),
    }
}

/// The listener task: listens until `stop` resolves (the store was dropped).
async fn run(
    url: String,
    signals: Signals,
    mut first: Option<AsyncPgConnection>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut backoff = MIN_BACKOFF;
    // Whether the current outage was reported (once per outage).
    let mut outage = first.is_none();
    loop {
        let mut conn = match first.take() {
            Some(conn) => conn,
            None => {
                tokio::select! {
                    biased;
                    _ = &mut stop => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                let attempt = tokio::select! {
                    biased;
                    _ = &mut stop => return,
                    attempt = listen(&url) => attempt,
                };
                match attempt {
                    Ok(conn) => {
                        if outage {
                            tracing::info!("listening for webhook notifications again");
                            outage = false;
                        }
                        // Whatever was queued while no one listened.
                        signals.wake.notify_one();
                        conn
                    }
                    Err(e) => {
                        if !outage {
                            tracing::warn!(error = %e, "cannot listen for webhook notifications; retrying");
                            outage = true;
                        }
                        continue;
                    }
                }
            }
        };
        signals.set_live(true);
        let lost = tokio::select! {
            biased;
            _ = &mut stop => return,
            lost = receive(&mut conn, &signals, &mut backoff) => lost,
        };
        signals.set_live(false);
        drop(conn);
        if !outage {
            tracing::warn!(error = %lost, "lost the webhook notification connection; reconnecting");
            outage = true;
        }
    }
}

/// Acts on each notification until the connection fails; returns why.
/// Resets `backoff` once the connection proved healthy.
async fn receive(
    conn: &mut AsyncPgConnection,
    signals: &Signals,
    backoff: &mut Duration,
) -> String {
    loop {
        // The stream only borrows the connection's queue of notifications:
        // dropping it to run a check loses none.
        let next = {
            let mut notifications = std::pin::pin!(conn.notifications_stream());
            tokio::time::timeout(PING_EVERY, notifications.next()).await
        };
        match next {
            Ok(Some(Ok(notification))) => {
                *backoff = MIN_BACKOFF;
                signals.on(&notification.channel, &notification.payload);
            }
            Ok(Some(Err(e))) => return e.to_string(),
            Ok(None) => return "connection closed".to_owned(),
            Err(_quiet) => {
                match tokio::time::timeout(STATEMENT_TIMEOUT, conn.batch_execute("SELECT 1")).await
                {
                    Ok(Ok(())) => *backoff = MIN_BACKOFF,
                    Ok(Err(e)) => return e.to_string(),
                    Err(_) => return "check timed out".to_owned(),
                }
            }
        }
    }
}
