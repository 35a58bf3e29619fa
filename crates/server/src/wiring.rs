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
use booking_store::secrets::Keyring;
use booking_webhooks::TargetGuard;

use crate::config::{Config, Database};
use crate::ids::RandomIds;
use crate::secret_key;

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
    let external = crate::calendars::external_calendars(config)?;
    Ok(Ports {
        calendars: store.clone(),
        busy_source: external.clone(),
        calendar_writer: external,
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
    keys: &Keyring,
    startup: Startup,
) -> anyhow::Result<PostgresStore> {
    let mut delay = Duration::from_millis(500);
    loop {
        match PostgresStore::connect(url, pool_size, keys.clone()).await {
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
            Err(e) => return Err(e).context("cannot open the Postgres database"),
        }
    }
}

/// Opens the SQLite store with `keys`.
async fn open_sqlite(url: &str, keys: &Keyring) -> anyhow::Result<SqliteStore> {
    let (url, keys) = (url.to_owned(), keys.clone());
    tokio::task::spawn_blocking(move || SqliteStore::from_url(&url, keys))
        .await
        .context("SQLite start-up task failed")?
        .context("cannot open the SQLite database")
}

/// Opens the configured store (applying migrations, bringing the stored
/// secrets under the current key) and builds the ports.
pub async fn backend(config: &Config, startup: Startup) -> anyhow::Result<Backend> {
    let keys = secret_key::keys(config)?.ring;
    match &config.database {
        Database::Sqlite(url) => {
            let store = open_sqlite(url, &keys).await?;
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
            let store = Arc::new(connect_postgres(url, config.db_pool_size, &keys, startup).await?);
            Ok(Backend {
                ports: ports_from(store.clone(), config)?,
                limiter: store.clone(),
                limits_sweeper: LimitsSweeper::Postgres(store.clone()),
                queue: store,
            })
        }
    }
}

/// What `secrets rotate` did.
#[derive(Debug)]
pub struct Rotated {
    /// How many stored values were re-encrypted.
    pub resealed: usize,
    /// The key id before.
    pub old_id: String,
    /// Where the new key went: the key file, or nowhere (the operator
    /// configures it).
    pub key_file: Option<std::path::PathBuf>,
}

/// Re-encrypts every stored secret under `new` (one transaction). With the
/// SQLite key file, the new key is first kept beside it (`secret.key.new`),
/// then renamed over it once the database is re-encrypted: a crash leaves
/// a key that opens the database either way (see `secret_key.rs`).
pub async fn rotate(
    config: &Config,
    new: booking_store::secrets::SecretKey,
) -> anyhow::Result<Rotated> {
    let keys = secret_key::keys(config)?;
    let old_id = keys.ring.current().id().to_owned();
    if keys.ring.current().id() == new.id() {
        anyhow::bail!("the new key is the current key (key id {old_id})");
    }
    let key_file = match &keys.source {
        secret_key::Source::File(path) => Some(path.clone()),
        secret_key::Source::Configured => None,
    };
    if let Some(path) = &key_file {
        secret_key::replace_key_file(&secret_key::pending_path(path), &new)?;
    }
    let rotated = keys.ring.rotated_to(new);
    let resealed = match &config.database {
        Database::Sqlite(url) => match open_sqlite(url, &keys.ring).await {
            Ok(store) => store.reseal_secrets(&rotated).await.map_err(Into::into),
            Err(e) => Err(e),
        },
        Database::Postgres(url) => {
            match connect_postgres(url, 1, &keys.ring, Startup::FailFast).await {
                Ok(store) => store.reseal_secrets(&rotated).await.map_err(Into::into),
                Err(e) => Err(e),
            }
        }
    };
    let resealed = match resealed {
        Ok(n) => n,
        Err(e) => {
            if let Some(path) = &key_file {
                let _ = std::fs::remove_file(secret_key::pending_path(path));
            }
            return Err(e.context("cannot re-encrypt the stored secrets (nothing was changed)"));
        }
    };
    if let Some(path) = &key_file {
        secret_key::finish_rotation(path)?;
    }
    Ok(Rotated {
        resealed,
        old_id,
        key_file,
    })
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
