//! The production Postgres store.
//!
//! [`PostgresStore`] implements every storage port of `booking-domain`
//! ([`AccountStore`](booking_domain::ports::AccountStore),
//! [`ProviderStore`](booking_domain::ports::ProviderStore),
//! [`ServiceStore`](booking_domain::ports::ServiceStore),
//! [`BookingStore`](booking_domain::ports::BookingStore),
//! [`WebhookStore`](booking_domain::ports::WebhookStore),
//! [`DeliveryQueue`](booking_domain::ports::DeliveryQueue),
//! [`IdempotencyStore`](booking_domain::ports::IdempotencyStore),
//! [`HealthCheck`](booking_domain::ports::HealthCheck) and
//! [`RateLimiter`](booking_domain::ports::RateLimiter)) on one Postgres
//! database, through a deadpool pool of diesel-async connections (pure
//! Rust: tokio-postgres, no libpq), plus one dedicated connection that
//! listens for webhook notifications. Every connection is opened by
//! `tls.rs`, which honours the URL's `sslmode` and `sslrootcert` as libpq
//! does, with rustls.
//!
//! Why it is shaped this way:
//!
//! - Everything that must hold across server instances is enforced by the
//!   database, never by process memory: booking conflicts by the exclusion
//!   constraint `bookings_no_overlap` (the store inserts without checking
//!   first and maps its violation to `Conflict`), stale updates by a guarded
//!   `UPDATE … WHERE status = … AND scheduled_at = … AND updated_at = …`,
//!   idempotency claims by the primary key with `ON CONFLICT`, rate
//!   limits by one GCRA upsert per check on the database clock, and webhook
//!   claims by `FOR UPDATE … SKIP LOCKED` with a lease.
//! - Webhooks use a transactional outbox: the transaction that writes a
//!   booking's events also queues their deliveries and sends a `NOTIFY`
//!   (delivered only if it commits). Every store `LISTEN`s on a connection
//!   of its own, started by [`PostgresStore::connect`] and stopped when the
//!   store is dropped, and wakes its delivery workers on each notification;
//!   it reconnects with a backoff when the database goes away.
//! - A database that cannot be reached fails fast: a refused connection is
//!   reported to the caller at once, and connecting, checking a pooled
//!   connection and waiting for one are bounded; those failures (and a
//!   server shutting down) are [`StorageError::Unavailable`](booking_domain::ports::StorageError::Unavailable); everything
//!   else is [`StorageError::Internal`](booking_domain::ports::StorageError::Internal). Nothing is mapped to "not found".
//! - Hand-written SQL goes through a statement type that diesel caches like
//!   its own queries (one round trip per use, not two), with literal status
//!   values where a partial index must apply.
//! - The schema lives in `migrations/postgres` and is embedded in the binary.

mod bookings;
mod cache;
mod calendars;
mod listen;
mod notify;
mod ratelimit;
mod statistics;
mod store;
mod tls;
mod webhooks;

pub(crate) use self::store::Conn;
pub use self::store::PostgresStore;
