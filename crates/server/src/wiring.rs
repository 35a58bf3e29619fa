//! Building the adapters the configuration asks for and plugging them into
//! the domain's ports.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use booking_domain::ports::{
    AccountStore, BookingStore, CalendarStore, DeliveryQueue, FeedStore, HealthCheck,
    IdempotencyStore, Ports, ProviderStore, RateLimiter, ServiceStore, StorageError, SystemClock,
    TimeOffStore, WebhookStore,
};
use booking_http::ratelimit::GovernorLimiter;
use booking_store::PostgresStore;
use booking_store::SqliteStore;
use booking_webhooks::TargetGuard;

use crate::config::{Config, Database};
use crate::ids::RandomIds;

/// The adapters behind the ports, ready to serve.
pub struct Backend {
    /// Stores, clock and ids.
    pub ports: Ports,
    /// The rate limiter: in process for SQLite, shared through the database for Postgres.
    pub limiter: Arc<dyn RateLimiter>,
    /// Where idle rate-limit state is forgotten now and then.
    pub limits_sweeper: LimitsSweeper,
    /// The webhook outbox.
    pub queue: Arc<dyn DeliveryQueue>,
}

/// Forgets the rate-limit state of keys whose quota is whole again, so memory
/// (or the `rate_limits` table) stays proportional to active keys.
pub enum LimitsSweeper {
    /// The in-process limiter.
    Local(Arc<GovernorLimiter>),
    /// The shared limiter in Postgres.
    Postgres(Arc<PostgresStore>),
}

impl LimitsSweeper {
    /// One sweep; failures are logged and retried at the next one.
    pub async fn sweep(&self) {
        match self {
            LimitsSweeper::Local(limiter) => limiter.forget_idle(),
            LimitsSweeper::Postgres(store) => {
                if let Err(e) = store.forget_idle_rate_limits().await {
                    tracing::warn!(error = %e, "could not forget idle rate limits");
                }
            }
        }
    }
}

fn ports_from<S>(store: Arc<S>, config: &Config) -> anyhow::Result<Ports>
where
    S: AccountStore
        + ProviderStore
        + ServiceStore
        + BookingStore
        + IdempotencyStore
        + WebhookStore
        + FeedStore
        + CalendarStore
        + TimeOffStore
        + HealthCheck
        + 'static,
{
    Ok(Ports {
        calendars: store.clone(),
        busy_source: crate::calendars::busy_source(config)?,
        accounts: store.clone(),
        providers: store.clone(),
        services: store.clone(),
        bookings: store.clone(),
        idempotency: store.clone(),
        webhooks: store.clone(),
        feeds: store.clone(),
        time_off: store.clone(),
        targets: Arc::new(TargetGuard {
            allow_private: config.webhook_allow_private,
        }),
        health: store,
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    })
}

/// How start-up waits for an unreachable database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Startup {
    /// Keep retrying with backoff (the server: the database may come up later).
    Retry,
    /// Fail at once (CLI commands).
    FailFast,
}

async fn connect_postgres(
    url: &str,
    pool_size: usize,
    startup: Startup,
) -> anyhow::Result<PostgresStore> {
    let mut delay = Duration::from_millis(500);
    loop {
        match PostgresStore::connect(url, pool_size).await {
            Ok(store) => return Ok(store),
            Err(StorageError::Unavailable(e)) if startup == Startup::Retry => {
                tracing::warn!(
                    error = %e,
                    retry_in_ms = delay.as_millis() as u64,
                    "database unreachable at start-up; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e).context("cannot connect to Postgres"),
        }
    }
}

/// Opens the configured store (applying migrations) and builds the ports.
pub async fn backend(config: &Config, startup: Startup) -> anyhow::Result<Backend> {
    match &config.database {
        Database::Sqlite(url) => {
            let url = url.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::from_url(&url))
                .await
                .context("SQLite start-up task failed")?
                .context("cannot open the SQLite database")?;
            let limiter = Arc::new(GovernorLimiter::new());
            let store = Arc::new(store);
            Ok(Backend {
                ports: ports_from(store.clone(), config)?,
                limiter: limiter.clone(),
                limits_sweeper: LimitsSweeper::Local(limiter),
                queue: store,
            })
        }
        Database::Postgres(url) => {
            let store = Arc::new(connect_postgres(url, config.db_pool_size, startup).await?);
            Ok(Backend {
                ports: ports_from(store.clone(), config)?,
                limiter: store.clone(),
                limits_sweeper: LimitsSweeper::Postgres(store.clone()),
                queue: store,
            })
        }
    }
}

/// Applies pending migrations; returns a description of the target and the versions applied.
pub async fn migrate(config: &Config) -> anyhow::Result<(String, Vec<String>)> {
    match &config.database {
        Database::Sqlite(url) => {
            let path = booking_store::sqlite::path_from_url(url)?;
            let shown = path.display().to_string();
            let applied =
                tokio::task::spawn_blocking(move || booking_store::sqlite::migrate(&path))
                    .await
                    .context("SQLite migration task failed")??;
            Ok((shown, applied))
        }
        Database::Postgres(url) => {
            let applied = PostgresStore::migrate(url)
                .await
                .context("cannot migrate Postgres")?;
            Ok(("the Postgres database".to_owned(), applied))
        }
    }
}

/// `booking-api backup`: a consistent copy of the SQLite database into the
/// new file `dest`, taken while servers may run on it. Postgres has its own
/// tools (`pg_dump`, base backups), and the command says so.
pub async fn backup(
    config: &Config,
    dest: std::path::PathBuf,
) -> anyhow::Result<booking_store::sqlite::Backup> {
    match &config.database {
        Database::Sqlite(url) => {
            let source = booking_store::sqlite::path_from_url(url)?;
            let made =
                tokio::task::spawn_blocking(move || booking_store::sqlite::backup(&source, &dest))
                    .await
                    .context("backup task failed")??;
            Ok(made)
        }
        Database::Postgres(_) => anyhow::bail!(
            "`booking-api backup` copies the embedded SQLite database; on Postgres use \
             pg_dump or your provider's backups (see docs/operations.md)"
        ),
    }
}

/// The key feed tokens are derived from: `BOOKING_FEED_KEY` when set, else
/// a random key generated once and kept in the database (shared by every
/// instance).
pub async fn feed_key(config: &Config, ports: &Ports) -> anyhow::Result<Vec<u8>> {
    if let Some(key) = &config.feed_key {
        return Ok(key.as_bytes().to_vec());
    }
    let candidate = booking_domain::ports::IdGenerator::secret(&RandomIds, 43);
    let key = ports
        .feeds
        .server_secret("feed_key", &candidate)
        .await
        .context("cannot read or create the feed key")?;
    Ok(key.into_bytes())
}
