//! Configuration: the contract's environment variables, optionally preceded
//! by the same keys in a TOML file (`--config`). Environment wins over file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, bail};
use booking_domain::ports::RateLimit;
use booking_store::secrets::SecretKey;

/// Every key the server reads.
pub const KEYS: &[&str] = &[
    "DATABASE_URL",
    "BOOKING_BIND",
    "BOOKING_PUBLIC_URL",
    "BOOKING_RATE_BOOKINGS",
    "BOOKING_RATE_CALENDAR_SYNC",
    "BOOKING_LOG",
    "BOOKING_LOG_FORMAT",
    "BOOKING_WORKERS",
    "BOOKING_DB_POOL_SIZE",
    "BOOKING_WEBHOOK_RETRY_DELAYS",
    "BOOKING_WEBHOOK_TIMEOUT",
    "BOOKING_WEBHOOK_ALLOW_PRIVATE",
    "BOOKING_COMPLETION_INTERVAL",
    "BOOKING_REMINDER_INTERVAL",
    "BOOKING_FEED_KEY",
    "BOOKING_CALENDAR_SYNC_INTERVAL",
    "BOOKING_CALENDAR_WRITE_NICE",
    "BOOKING_CALENDAR_WRITE_DEADLINE",
    "BOOKING_GOOGLE_API_URL",
    "BOOKING_GOOGLE_TOKEN_URL",
    "BOOKING_GRAPH_API_URL",
    "BOOKING_MICROSOFT_TOKEN_URL",
    "BOOKING_CALENDLY_API_URL",
    "BOOKING_REQUEST_TIMEOUT",
    "BOOKING_TRUSTED_PROXIES",
    "BOOKING_MAX_WEBHOOKS",
    "BOOKING_MAX_CALENDARS",
    "BOOKING_SECRET_KEY",
    "BOOKING_SECRET_KEY_PREVIOUS",
];

/// Where data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `sqlite://<path>`.
    Sqlite(String),
    /// `postgres://…`.
    Postgres(String),
}

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Store.
    pub database: Database,
    /// Listen address (port 0 picks one).
    pub bind: SocketAddr,
    /// Base of URLs handed out; `None` means `http://<bound address>`.
    pub public_url: Option<String>,
    /// Booking creations per key.
    pub rate_bookings: RateLimit,
    /// Calendar syncs per key.
    pub rate_calendar_sync: RateLimit,
    /// Log filter.
    pub log: String,
    /// `json` or text.
    pub log_json: bool,
    /// HTTP worker threads.
    pub workers: usize,
    /// Postgres connections per process.
    pub db_pool_size: usize,
    /// One delay per webhook retry.
    pub webhook_retry: booking_webhooks::RetryPolicy,
    /// Per webhook attempt.
    pub webhook_timeout: std::time::Duration,
    /// Allow `http://` and private webhook targets.
    pub webhook_allow_private: bool,
    /// How often confirmed bookings past their end are completed.
    pub completion_interval: std::time::Duration,
    /// How often due reminders are looked for and sent.
    pub reminder_interval: std::time::Duration,
    /// The key feed tokens are derived from (`None`: generated and kept in
    /// the database).
    pub feed_key: Option<String>,
    /// How often external calendars are synced in the background.
    pub calendar_sync_interval: std::time::Duration,
    /// Where the calendar adapters call (`None`: the real services).
    pub calendar_urls: CalendarUrls,
    /// The nice value (0 to 19) of the thread that sends bookings into
    /// calendars: 19, the lowest priority, lets booking requests have the
    /// CPU first; 0 runs it as the rest of the server.
    pub calendar_write_nice: i32,
    /// How long a calendar write may wait for that thread once due before
    /// it is sent at normal priority (the floor under a saturated CPU).
    pub calendar_write_deadline: std::time::Duration,
    /// The whole request, body included.
    pub request_timeout: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: booking_http::guessing::TrustedProxies,
    /// Webhook endpoints per account.
    pub max_webhooks: u32,
    /// Calendar connections per provider.
    pub max_calendars: u32,
    /// `BOOKING_SECRET_KEY`: seals the secrets at rest (`None`: on SQLite the
    /// key file beside the database, see `secret_key.rs`; Postgres requires
    /// it). Its `Debug` shows the key id only.
    pub secret_key: Option<SecretKey>,
    /// `BOOKING_SECRET_KEY_PREVIOUS`: opens (never seals) secrets during a
    /// key rotation.
    pub secret_key_previous: Option<SecretKey>,
}

/// The outside calendar APIs' base URLs as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarUrls {
    /// `BOOKING_GOOGLE_API_URL`.
    pub google_api: Option<String>,
    /// `BOOKING_GOOGLE_TOKEN_URL`.
    pub google_token: Option<String>,
    /// `BOOKING_GRAPH_API_URL`.
    pub graph_api: Option<String>,
    /// `BOOKING_MICROSOFT_TOKEN_URL`.
    pub microsoft_token: Option<String>,
    /// `BOOKING_CALENDLY_API_URL`.
    pub calendly_api: Option<String>,
}

/// Parses `true`/`false` (also `1`/`0`, `yes`/`no`).
fn parse_bool(key: &str, text: &str) -> anyhow::Result<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => bail!("{key} must be true or false"),
    }
}

/// Parses `N/second`, `N/minute` or `N/hour`.
pub fn parse_rate(name: &str, text: &str) -> anyhow::Result<RateLimit> {
    let (n, unit) = text
        .split_once('/')
        .with_context(|| format!("rate `{text}` must look like 10/minute"))?;
    let quota: u32 = n
        .trim()
        .parse()
        .with_context(|| format!("rate `{text}`: `{n}` is not a count"))?;
    if quota == 0 {
        bail!("rate `{text}` must allow at least one request");
    }
    let period_secs = match unit.trim() {
        "second" | "s" | "sec" => 1,
        "minute" | "m" | "min" => 60,
        "hour" | "h" => 3600,
        other => bail!("rate `{text}`: unit `{other}` must be second, minute or hour"),
    };
    Ok(RateLimit {
        name: name.to_owned(),
        quota,
        period_secs,
    })
}

impl Config {
    /// Reads the file (if any), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            let table: toml::Table = toml::from_str(&text)
                .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
            for (k, v) in table {
                if !KEYS.contains(&k.as_str()) {
                    bail!(
                        "config file {}: unknown key `{k}` (known: {})",
                        path.display(),
                        KEYS.join(", ")
                    );
                }
                let v = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                values.insert(k, v);
            }
        }
        for key in KEYS {
            if let Ok(v) = std::env::var(key) {
                values.insert((*key).to_owned(), v);
            }
        }
        Config::from_map(&values)
    }

    /// Builds from key/value pairs, applying the defaults.
    pub fn from_map(values: &BTreeMap<String, String>) -> anyhow::Result<Config> {
        let get =
            |k: &str, default: &str| values.get(k).cloned().unwrap_or_else(|| default.to_owned());
        let url = get("DATABASE_URL", "sqlite://data/booking.db");
        let database = if url.starts_with("sqlite:") {
            Database::Sqlite(url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Database::Postgres(url)
        } else {
            bail!("DATABASE_URL must start with sqlite:// or postgres://");
        };
        let bind: SocketAddr = get("BOOKING_BIND", "127.0.0.1:8080")
            .parse()
            .context("BOOKING_BIND must be an address such as 127.0.0.1:8080")?;
        let public_url = values
            .get("BOOKING_PUBLIC_URL")
            .map(|u| u.trim_end_matches('/').to_owned());
        if let Some(u) = &public_url
            && !["http://", "https://"].iter().any(|scheme| {
                // A host must follow the scheme (`https:///x` names none).
                u.strip_prefix(scheme)
                    .is_some_and(|rest| !rest.is_empty() && !rest.starts_with(['/', '?', '#']))
            })
        {
            bail!("BOOKING_PUBLIC_URL must be http:// or https:// followed by a host");
        }
        let workers = match values.get("BOOKING_WORKERS") {
            Some(w) => w
                .parse()
                .context("BOOKING_WORKERS must be a positive integer")?,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        };
        let db_pool_size = match values.get("BOOKING_DB_POOL_SIZE") {
            Some(n) => match n.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => bail!("BOOKING_DB_POOL_SIZE must be an integer from 1 to 1000"),
            },
            None => 16,
        };
        let webhook_retry = booking_webhooks::RetryPolicy::parse(&get(
            "BOOKING_WEBHOOK_RETRY_DELAYS",
            booking_webhooks::schedule::DEFAULT_RETRY_DELAYS,
        ))
        .context("BOOKING_WEBHOOK_RETRY_DELAYS (e.g. 30s,5m,30m)")?;
        let webhook_timeout =
            booking_webhooks::parse_duration(&get("BOOKING_WEBHOOK_TIMEOUT", "10s"))
                .context("BOOKING_WEBHOOK_TIMEOUT (e.g. 10s)")?;
        let completion_interval =
            booking_webhooks::parse_duration(&get("BOOKING_COMPLETION_INTERVAL", "60s"))
                .context("BOOKING_COMPLETION_INTERVAL (e.g. 60s)")?;
        let reminder_interval =
            booking_webhooks::parse_duration(&get("BOOKING_REMINDER_INTERVAL", "15s"))
                .context("BOOKING_REMINDER_INTERVAL (e.g. 15s)")?;
        let feed_key = values.get("BOOKING_FEED_KEY").cloned();
        if let Some(key) = &feed_key
            && key.len() < 32
        {
            bail!("BOOKING_FEED_KEY must be at least 32 characters (random)");
        }
        let calendar_sync_interval =
            booking_webhooks::parse_duration(&get("BOOKING_CALENDAR_SYNC_INTERVAL", "15m"))
                .context("BOOKING_CALENDAR_SYNC_INTERVAL (e.g. 15m)")?;
        let calendar_write_nice = match values.get("BOOKING_CALENDAR_WRITE_NICE") {
            Some(n) => match n.trim().parse::<i32>() {
                Ok(n) if (0..=19).contains(&n) => n,
                _ => bail!("BOOKING_CALENDAR_WRITE_NICE must be an integer from 0 to 19"),
            },
            None => 19,
        };
        let calendar_write_deadline =
            booking_webhooks::parse_duration(&get("BOOKING_CALENDAR_WRITE_DEADLINE", "30s"))
                .context("BOOKING_CALENDAR_WRITE_DEADLINE (e.g. 30s)")?;
        let url = |key: &str| -> anyhow::Result<Option<String>> {
            match values.get(key) {
                None => Ok(None),
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                    Ok(Some(u.trim_end_matches('/').to_owned()))
                }
                Some(_) => bail!("{key} must start with http:// or https://"),
            }
        };
        let calendar_urls = CalendarUrls {
            google_api: url("BOOKING_GOOGLE_API_URL")?,
            google_token: url("BOOKING_GOOGLE_TOKEN_URL")?,
            graph_api: url("BOOKING_GRAPH_API_URL")?,
            microsoft_token: url("BOOKING_MICROSOFT_TOKEN_URL")?,
            calendly_api: url("BOOKING_CALENDLY_API_URL")?,
        };
        let request_timeout =
            booking_webhooks::parse_duration(&get("BOOKING_REQUEST_TIMEOUT", "30s"))
                .context("BOOKING_REQUEST_TIMEOUT (e.g. 30s)")?;
        if request_timeout < std::time::Duration::from_secs(1) {
            bail!("BOOKING_REQUEST_TIMEOUT must be at least 1s");
        }
        let trusted_proxies =
            booking_http::guessing::TrustedProxies::parse(&get("BOOKING_TRUSTED_PROXIES", ""))
                .map_err(|e| {
                    anyhow::anyhow!("BOOKING_TRUSTED_PROXIES (CIDRs such as 10.0.0.0/8): {e}")
                })?;
        let count = |key: &str, default: u32| -> anyhow::Result<u32> {
            match values.get(key) {
                None => Ok(default),
                Some(n) => match n.trim().parse::<u32>() {
                    Ok(n) if (1..=100_000).contains(&n) => Ok(n),
                    _ => bail!("{key} must be an integer from 1 to 100000"),
                },
            }
        };
        // The key's text is never part of an error or a log line. Empty is
        // unset (a variable left blank after a rotation).
        let key = |name: &str| -> anyhow::Result<Option<SecretKey>> {
            values
                .get(name)
                .filter(|text| !text.trim().is_empty())
                .map(|text| {
                    SecretKey::from_base64(text).map_err(|e| anyhow::anyhow!("{name}: {e}"))
                })
                .transpose()
        };
        Ok(Config {
            secret_key: key("BOOKING_SECRET_KEY")?,
            secret_key_previous: key("BOOKING_SECRET_KEY_PREVIOUS")?,
            request_timeout,
            trusted_proxies,
            max_webhooks: count("BOOKING_MAX_WEBHOOKS", 20)?,
            max_calendars: count("BOOKING_MAX_CALENDARS", 10)?,
            calendar_sync_interval,
            calendar_urls,
            calendar_write_nice,
            calendar_write_deadline,
            feed_key,
            db_pool_size,
            webhook_retry,
            webhook_timeout,
            webhook_allow_private: parse_bool(
                "BOOKING_WEBHOOK_ALLOW_PRIVATE",
                &get("BOOKING_WEBHOOK_ALLOW_PRIVATE", "false"),
            )?,
            completion_interval,
            reminder_interval,
            database,
            bind,
            public_url,
            rate_bookings: parse_rate("bookings", &get("BOOKING_RATE_BOOKINGS", "10/minute"))
                .context("BOOKING_RATE_BOOKINGS")?,
            rate_calendar_sync: parse_rate(
                "calendar_sync",
                &get("BOOKING_RATE_CALENDAR_SYNC", "60/hour"),
            )
            .context("BOOKING_RATE_CALENDAR_SYNC")?,
            log: get("BOOKING_LOG", "info"),
            log_json: get("BOOKING_LOG_FORMAT", "text") == "json",
            workers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let c = Config::from_map(&BTreeMap::new()).unwrap();
        assert_eq!(
            c.database,
            Database::Sqlite("sqlite://data/booking.db".into())
        );
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(
            (c.rate_bookings.quota, c.rate_bookings.period_secs),
            (10, 60)
        );
        assert_eq!(
            (c.rate_calendar_sync.quota, c.rate_calendar_sync.period_secs),
            (60, 3600)
        );
    }

    #[test]
    fn webhook_settings_parse() {
        let c = Config::from_map(&BTreeMap::new()).unwrap();
        assert_eq!(c.webhook_retry.max_attempts(), 4);
        assert_eq!(c.webhook_timeout.as_secs(), 10);
        assert!(!c.webhook_allow_private);
        let map = BTreeMap::from([
            (
                "BOOKING_WEBHOOK_RETRY_DELAYS".to_owned(),
                "1s,2s".to_owned(),
            ),
            ("BOOKING_WEBHOOK_TIMEOUT".to_owned(), "2s".to_owned()),
            (
                "BOOKING_WEBHOOK_ALLOW_PRIVATE".to_owned(),
                "true".to_owned(),
            ),
        ]);
        let c = Config::from_map(&map).unwrap();
        assert_eq!(c.webhook_retry.max_attempts(), 3);
        assert_eq!(c.webhook_timeout.as_secs(), 2);
        assert!(c.webhook_allow_private);
        let bad = BTreeMap::from([(
            "BOOKING_WEBHOOK_ALLOW_PRIVATE".to_owned(),
            "maybe".to_owned(),
        )]);
        assert!(Config::from_map(&bad).is_err());
        let bad = BTreeMap::from([("BOOKING_WEBHOOK_TIMEOUT".to_owned(), "ten".to_owned())]);
        assert!(Config::from_map(&bad).is_err());
    }

    #[test]
    fn calendar_write_priority_parses() {
        let c = Config::from_map(&BTreeMap::new()).unwrap();
        assert_eq!(c.calendar_write_nice, 19);
        assert_eq!(c.calendar_write_deadline.as_secs(), 30);
        let map = BTreeMap::from([
            ("BOOKING_CALENDAR_WRITE_NICE".to_owned(), "0".to_owned()),
            (
                "BOOKING_CALENDAR_WRITE_DEADLINE".to_owned(),
                "5s".to_owned(),
            ),
        ]);
        let c = Config::from_map(&map).unwrap();
        assert_eq!(c.calendar_write_nice, 0);
        assert_eq!(c.calendar_write_deadline.as_secs(), 5);
        for bad in ["20", "-1", "low"] {
            let map = BTreeMap::from([("BOOKING_CALENDAR_WRITE_NICE".to_owned(), bad.to_owned())]);
            assert!(Config::from_map(&map).is_err(), "{bad}");
        }
    }

    #[test]
    fn safety_settings_parse() {
        let c = Config::from_map(&BTreeMap::new()).unwrap();
        assert_eq!(c.request_timeout.as_secs(), 30);
        assert!(c.trusted_proxies.is_empty());
        assert_eq!((c.max_webhooks, c.max_calendars), (20, 10));
        let map = BTreeMap::from([
            ("BOOKING_REQUEST_TIMEOUT".to_owned(), "2s".to_owned()),
            (
                "BOOKING_TRUSTED_PROXIES".to_owned(),
                "127.0.0.1/32, 10.0.0.0/8".to_owned(),
            ),
            ("BOOKING_MAX_WEBHOOKS".to_owned(), "3".to_owned()),
            ("BOOKING_MAX_CALENDARS".to_owned(), "1".to_owned()),
        ]);
        let c = Config::from_map(&map).unwrap();
        assert_eq!(c.request_timeout.as_secs(), 2);
        assert!(c.trusted_proxies.trusts("10.2.3.4".parse().unwrap()));
        assert_eq!((c.max_webhooks, c.max_calendars), (3, 1));
        for (key, bad) in [
            ("BOOKING_TRUSTED_PROXIES", "10.0.0.0/40"),
            ("BOOKING_MAX_WEBHOOKS", "0"),
            ("BOOKING_MAX_CALENDARS", "many"),
            ("BOOKING_REQUEST_TIMEOUT", "0s"),
        ] {
            let map = BTreeMap::from([(key.to_owned(), bad.to_owned())]);
            assert!(Config::from_map(&map).is_err(), "{key}={bad}");
        }
    }

    #[test]
    fn secret_keys_are_base64_of_32_bytes_and_never_shown() {
        let c = Config::from_map(&BTreeMap::new()).unwrap();
        assert!(c.secret_key.is_none() && c.secret_key_previous.is_none());
        let blank = BTreeMap::from([("BOOKING_SECRET_KEY_PREVIOUS".to_owned(), " ".to_owned())]);
        assert!(
            Config::from_map(&blank)
                .unwrap()
                .secret_key_previous
                .is_none()
        );
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let map = BTreeMap::from([
            ("BOOKING_SECRET_KEY".to_owned(), key.to_owned()),
            (
                "BOOKING_SECRET_KEY_PREVIOUS".to_owned(),
                format!(" {key}\n"),
            ),
        ]);
        let c = Config::from_map(&map).unwrap();
        let id = c.secret_key.as_ref().unwrap().id().to_owned();
        assert_eq!(c.secret_key_previous.as_ref().unwrap().id(), id);
        assert!(!format!("{c:?}").contains(key));
        for (name, bad) in [
            ("BOOKING_SECRET_KEY", "not base64!"),
            ("BOOKING_SECRET_KEY", "AAECAwQFBgcICQoLDA0ODw=="),
            ("BOOKING_SECRET_KEY_PREVIOUS", "AAAA"),
        ] {
            let map = BTreeMap::from([(name.to_owned(), bad.to_owned())]);
            let e = Config::from_map(&map).unwrap_err().to_string();
            assert!(e.starts_with(name), "{e}");
            assert!(e.contains("32"), "{e}");
        }
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("x", "5/second").unwrap().period_secs, 1);
        assert_eq!(parse_rate("x", "100/hour").unwrap().quota, 100);
        assert!(parse_rate("x", "0/minute").is_err());
        assert!(parse_rate("x", "10/day").is_err());
        assert!(parse_rate("x", "ten/minute").is_err());
    }
}
