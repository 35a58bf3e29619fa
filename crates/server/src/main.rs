//! `booking-api`: the server binary. Configuration, CLI, wiring of adapters
//! to ports, and start-up/shutdown. The only crate that knows every other.

mod background;
mod calendars;
mod config;
mod ids;
mod secret_key;
mod wiring;

use std::io::IsTerminal;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use booking_domain::usecases::ApiKeys;
use booking_http::metrics::Metrics;
use booking_http::{AppState, Bounds, FeedSettings, Limits};
use clap::{Parser, Subcommand};
use config::Config;
use ids::RandomIds;
use wiring::Startup;

/// Booking and scheduling API server.
#[derive(Debug, Parser)]
#[command(name = "booking-api", version, about)]
struct Cli {
    /// TOML file with the same keys as the environment variables (the environment wins).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Copy the SQLite database to a new file while servers keep running
    /// (a consistent snapshot; see docs/operations.md for restoring it).
    Backup {
        /// The file to write; it must not exist yet.
        file: std::path::PathBuf,
    },
    /// Manage the key that encrypts secrets at rest (`BOOKING_SECRET_KEY`).
    Secrets {
        #[command(subcommand)]
        action: SecretsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Re-encrypt every stored secret under a new key, in one transaction.
    ///
    /// The current key is the configured one (`BOOKING_SECRET_KEY`, else the
    /// SQLite key file). The new key comes from `--new-key-file`, else from
    /// `BOOKING_SECRET_KEY_NEW` (never from the command line, where `ps`
    /// shows it); with the SQLite key file and neither given, a new key is
    /// generated, and the key file is replaced atomically either way.
    /// Stop the servers first, or see docs/operations.md for a rotation
    /// without downtime.
    Rotate {
        /// A file holding the new key (32 random bytes, base64).
        #[arg(long, value_name = "PATH")]
        new_key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key (and the account with its default provider when new); prints the key once.
    Create {
        /// Account name.
        #[arg(long)]
        account: String,
    },
    /// Revoke a key by its id (`key_…`).
    Revoke {
        /// The key id printed by `keys create`.
        key_id: String,
    },
}

/// Whether logs carry terminal colour codes: only when stderr is a terminal
/// and `NO_COLOR` is unset or empty (<https://no-color.org>), so logs piped to
/// a file or a collector are plain text.
fn log_colours(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(log_colours(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr);
    if config.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    RandomIds::check()?;
    // Listening from here on: SIGTERM at any later moment stops the server.
    let shutdown = futures_util::FutureExt::shared(shutdown_signal());
    let listener =
        TcpListener::bind(config.bind).with_context(|| format!("cannot bind {}", config.bind))?;
    let addr = listener.local_addr()?;
    let backend = tokio::select! {
        backend = wiring::backend(&config, Startup::Retry) => backend?,
        _ = shutdown.clone() => {
            tracing::info!("stopped before the database became reachable");
            return Ok(());
        }
    };
    let purger = tokio::spawn(purge_old_rows(
        backend.ports.idempotency.clone(),
        backend.queue.clone(),
        backend.ports.clock.clone(),
    ));
    let metrics = Metrics::new().context("cannot register metrics")?;
    let feed_key = wiring::feed_key(&config, &backend.ports).await?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = background::webhook_worker(&config, &backend, metrics.clone())?;
    let worker = tokio::spawn(worker.run(background::stopped(stop_rx.clone())));
    let syncer = tokio::spawn(background::sync_calendars(
        backend.ports.clone(),
        config.calendar_sync_interval,
        background::stopped(stop_rx.clone()),
    ));
    // Calendar writes are sent from a thread of their own at a low
    // priority, with calendar clients of their own (see LowPriority).
    let low_priority = background::LowPriority::start(config.calendar_write_nice)?;
    let writer = tokio::spawn(background::write_calendars(
        backend.ports.clone(),
        config.webhook_retry.delays.clone(),
        background::WritePriority {
            low: low_priority.handle(),
            writer: crate::calendars::external_calendars(&config)?,
            deadline: config.calendar_write_deadline,
        },
        background::stopped(stop_rx.clone()),
    ));
    let completer = tokio::spawn(background::complete_ended(
        backend.ports.clone(),
        config.completion_interval,
        metrics.clone(),
        background::stopped(stop_rx.clone()),
    ));
    let reminder = tokio::spawn(background::send_reminders(
        backend.ports.clone(),
        config.reminder_interval,
        background::stopped(stop_rx),
    ));
    let state = actix_web_data(AppState {
        ports: backend.ports,
        limiter: backend.limiter,
        limits: Limits {
            bookings: config.rate_bookings.clone(),
            calendar_sync: config.rate_calendar_sync.clone(),
        },
        metrics,
        feeds: FeedSettings::new(feed_key, public_url).trusting(config.trusted_proxies.clone()),
        bounds: Bounds {
            request_timeout: config.request_timeout,
            max_webhooks: config.max_webhooks,
            max_calendars: config.max_calendars,
            // The manual sync answers well within the request timeout.
            sync_deadline: config.request_timeout * 2 / 3,
        },
    });
    let server = booking_http::serve(listener, state, config.workers, shutdown)?;
    tracing::info!(
        public_url = config.public_url.as_deref().unwrap_or("(bind address)"),
        "listening on http://{addr}"
    );
    // Forget rate-limit state of idle keys now and then, so memory stays flat.
    let sweeper = backend.limits_sweeper;
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            sweeper.sweep().await;
        }
    });
    server.await?;
    sweeper.abort();
    purger.abort();
    // Stop claiming webhook deliveries and record the attempts in flight.
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = completer.await;
    let _ = reminder.await;
    let _ = writer.await;
    let _ = tokio::task::spawn_blocking(move || low_priority.stop()).await;
    syncer.abort();
    tracing::info!("shut down cleanly");
    Ok(())
}

fn actix_web_data(state: AppState) -> booking_http::state::Data {
    booking_http::state::Data::new(state)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    init_logging(&config);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let (target, applied) = wiring::migrate(&config).await?;
            println!("applied {} migration(s) to {target}", applied.len());
            for version in applied {
                println!("  {version}");
            }
            Ok(())
        }
        Command::Backup { file } => {
            let made = wiring::backup(&config, file).await?;
            println!(
                "backed up {} bytes to {}{}",
                made.bytes,
                made.path.display(),
                made.schema_version
                    .map(|v| format!(" (schema {v})"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        Command::Secrets {
            action: SecretsCommand::Rotate { new_key_file },
        } => rotate_secrets(&config, new_key_file.as_deref()).await,
        Command::Keys { action } => {
            let ports = wiring::backend(&config, Startup::FailFast).await?.ports;
            let keys = ApiKeys {
                store: ports.accounts.as_ref(),
                clock: ports.clock.as_ref(),
                ids: ports.ids.as_ref(),
            };
            match action {
                KeysCommand::Create { account } => {
                    let created = keys.create(&account).await?;
                    println!(
                        "Created API key {} for account {}.",
                        created.record.id, created.record.account_name
                    );
                    println!("It is shown only once; store it now:");
                    println!();
                    println!("{}", created.plaintext);
                }
                KeysCommand::Revoke { key_id } => {
                    keys.revoke(&key_id).await?;
                    println!("Revoked {key_id}.");
                }
            }
            Ok(())
        }
    }
}

/// `secrets rotate`: finds the new key, re-encrypts, says what to do next.
async fn rotate_secrets(
    config: &Config,
    new_key_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use booking_store::secrets::SecretKey;
    let from_env = std::env::var("BOOKING_SECRET_KEY_NEW")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let new = match (new_key_file, from_env) {
        (Some(path), _) => secret_key::read_key_file(path)?,
        (None, Some(text)) => SecretKey::from_base64(&text)
            .map_err(|e| anyhow::anyhow!("BOOKING_SECRET_KEY_NEW: {e}"))?,
        (None, None)
            if config.secret_key.is_none()
                && matches!(config.database, config::Database::Sqlite(_)) =>
        {
            SecretKey::generate().context("cannot generate a secret key")?
        }
        (None, None) => anyhow::bail!(
            "give the new key in a file (--new-key-file PATH) or in BOOKING_SECRET_KEY_NEW; \
             BOOKING_SECRET_KEY stays the current key for this command"
        ),
    };
    let new_id = new.id().to_owned();
    let rotated = wiring::rotate(config, new).await?;
    println!(
        "Re-encrypted {} stored secret(s) under key id {new_id} (was {}).",
        rotated.resealed, rotated.old_id
    );
    match rotated.key_file {
        Some(path) => println!(
            "The new key is in {}; start the server as usual (back the key file up with the database).",
            path.display()
        ),
        None => println!(
            "Set BOOKING_SECRET_KEY to the new key (key id {new_id}) on every instance and restart them; \
             while instances with the old key still run, give the restarted ones the old key in \
             BOOKING_SECRET_KEY_PREVIOUS (see Security in docs/operations.md)."
        ),
    }
    Ok(())
}

/// Every ten minutes, deletes idempotency keys past their 24 hours (they
/// already count as absent) and finished webhook deliveries older than
/// [`DELIVERY_LOG_DAYS`](booking_domain::ports::DELIVERY_LOG_DAYS), so the
/// tables do not grow forever.
async fn purge_old_rows(
    store: std::sync::Arc<dyn booking_domain::ports::IdempotencyStore>,
    deliveries: std::sync::Arc<dyn booking_domain::ports::DeliveryQueue>,
    clock: std::sync::Arc<dyn booking_domain::ports::Clock>,
) {
    let log = jiff::SignedDuration::from_hours(24 * booking_domain::ports::DELIVERY_LOG_DAYS);
    let ttl = jiff::SignedDuration::from_hours(booking_domain::ports::IDEMPOTENCY_TTL_HOURS);
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        let Ok(before) = clock.now().checked_sub(ttl) else {
            continue;
        };
        match store.purge_idempotency_keys(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "deleted expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "could not purge idempotency keys"),
        }
        let Ok(old) = clock.now().checked_sub(log) else {
            continue;
        };
        match deliveries.purge_deliveries(old).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                purged = n,
                "deleted finished webhook deliveries from the log"
            ),
            Err(e) => tracing::warn!(error = %e, "could not purge webhook deliveries"),
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). The listeners are registered
/// when this is called, not when it is first polled, so a signal sent in
/// between is kept rather than lost (once tokio handles a signal, the
/// default action of ending the process no longer happens).
fn shutdown_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => Box::pin(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM/SIGINT");
                Box::pin(std::future::pending())
            }
        }
    }
    #[cfg(not(unix))]
    {
        Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("booking-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::log_colours;
    use std::ffi::OsStr;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(log_colours(true, None));
        assert!(log_colours(true, Some(OsStr::new(""))));
        assert!(!log_colours(true, Some(OsStr::new("1"))));
        assert!(!log_colours(false, None));
        assert!(!log_colours(false, Some(OsStr::new(""))));
    }
}
