//! Ports: the traits adapters implement, each with the contract it MUST keep.
//!
//! Stores are coarse, one per aggregate, and own their transactions: a
//! booking change and its events are one call, so an adapter can make them
//! atomic. Every store method returns `Err(StorageError)` when the storage
//! cannot answer — never "not found", never an empty list.
//!
//! Every method that takes an [`AccountId`] MUST only see that account's rows:
//! another account's resource behaves exactly as if it did not exist.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::{
    AccountId, ApiKeyId, Attempt, Booking, BookingEvent, BookingId, BookingStatus, Delivery,
    DeliveryId, Hold, HoldId, IdKind, Minutes, Provider, ProviderId, Service, ServiceId, TimeOff,
    TimeOffId, TimeRange, WebhookEndpoint, WebhookId,
};

/// The storage could not do what was asked. The message is for logs only
/// (it may name tables or SQL); it never reaches a client.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage is unreachable or overloaded; retrying later may work (HTTP 503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug, corrupt data, a failed migration (HTTP 500).
    #[error("storage failure: {0}")]
    Internal(String),
}

/// A page request for list endpoints: at most `limit` items after the
/// position `after` (a store-defined, stable, increasing position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-200.
    pub limit: u32,
    /// Position of the last item of the previous page.
    pub after: Option<i64>,
}

/// One page of a list, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Position to pass as `after` for the next page; `None` on the last page.
    pub next: Option<i64>,
}

// ---------------------------------------------------------------- accounts

/// A stored API key (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id (`key_…`), used to revoke it.
    pub id: ApiKeyId,
    /// Owning account.
    pub account_id: AccountId,
    /// The account's name.
    pub account_name: String,
    /// First 16 hex digits of the hash: an index, not a secret.
    pub lookup: String,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// Creation instant.
    pub created_at: Timestamp,
}

/// What [`AccountStore::create_key`] needs to create a key, and the account
/// with its default provider when the account is new.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Account name (`acme`).
    pub account_name: String,
    /// Id for the account if it does not exist yet.
    pub new_account_id: AccountId,
    /// Default provider for the account if it does not exist yet.
    pub new_default_provider: Provider,
    /// The key's id.
    pub key_id: ApiKeyId,
    /// Hash lookup prefix.
    pub lookup: String,
    /// Full hash.
    pub hash: String,
    /// Now.
    pub created_at: Timestamp,
}

/// Accounts and their API keys.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Stores a key for the named account, creating the account and its
    /// default provider (with the account id substituted) in the same
    /// transaction when the name is new. MUST return the stored record.
    async fn create_key(&self, key: NewApiKey) -> Result<ApiKeyRecord, StorageError>;

    /// Every key (revoked ones included) whose `lookup` matches. The caller
    /// compares the full hash in constant time.
    async fn keys_by_lookup(&self, lookup: &str) -> Result<Vec<ApiKeyRecord>, StorageError>;

    /// Marks the key revoked. MUST return `Ok(false)` when no such key exists,
    /// `Ok(true)` when it exists (revoking twice keeps the first instant).
    async fn revoke_key(&self, id: &ApiKeyId, at: Timestamp) -> Result<bool, StorageError>;
}

// ---------------------------------------------------------------- providers

/// Providers.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ProviderStore: Send + Sync {
    /// Inserts a new provider.
    async fn create_provider(&self, provider: &Provider) -> Result<(), StorageError>;

    /// The provider, or `Ok(None)` when the account has none with that id.
    async fn get_provider(
        &self,
        account: &AccountId,
        id: &ProviderId,
    ) -> Result<Option<Provider>, StorageError>;

    /// The account's default provider, or `Ok(None)` when it has none.
    async fn default_provider(&self, account: &AccountId)
    -> Result<Option<Provider>, StorageError>;

    /// The account's providers in creation order.
    async fn list_providers(
        &self,
        account: &AccountId,
        page: PageRequest,
    ) -> Result<Page<Provider>, StorageError>;

    /// Replaces the stored provider with the same account and id. MUST return
    /// `Ok(false)` when it does not exist.
    async fn update_provider(&self, provider: &Provider) -> Result<bool, StorageError>;
}

// ---------------------------------------------------------------- services

/// Why a service could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateServiceError {
    /// The account already has a service with that id.
    #[error("a service with this id already exists")]
    AlreadyExists,
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Services.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ServiceStore: Send + Sync {
    /// Inserts a service. MUST return `AlreadyExists` when the account has a
    /// service (archived or not) with the same id.
    async fn create_service(&self, service: &Service) -> Result<(), CreateServiceError>;

    /// The service, archived or not, or `Ok(None)`.
    async fn get_service(
        &self,
        account: &AccountId,
        id: &ServiceId,
    ) -> Result<Option<Service>, StorageError>;

    /// [`ServiceStore::get_service`] for the paths that read a service on
    /// every request (availability and booking creation). A store MAY answer
    /// from a cache, provided its own writes show at once and other
    /// processes' writes within milliseconds (the Postgres store does; see
    /// docs/architecture.md). Not for a read whose result is written back.
    async fn get_service_cached(
        &self,
        account: &AccountId,
        id: &ServiceId,
    ) -> Result<Option<Service>, StorageError> {
        self.get_service(account, id).await
    }

    /// The account's services that are not archived, in creation order.
    async fn list_services(
        &self,
        account: &AccountId,
        page: PageRequest,
    ) -> Result<Page<Service>, StorageError>;

    /// Replaces the stored service (its `archived` flag included). MUST return
    /// `Ok(false)` when it does not exist.
    async fn update_service(&self, service: &Service) -> Result<bool, StorageError>;
}

// ---------------------------------------------------------------- bookings

/// Why a booking could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum CreateBookingError {
    /// Its occupied range overlaps an active booking of the same provider.
    #[error("the time overlaps another booking of the provider")]
    Conflict,
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a hold could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum CreateHoldError {
    /// Its occupied range overlaps an active booking, an unexpired hold,
    /// time off or external busy time of the provider.
    #[error("the time is not available")]
    Conflict,
    /// The API key already has the most unexpired holds it may have.
    #[error("too many active holds")]
    TooMany {
        /// When the key's earliest unexpired hold expires (`None`: unknown).
        earliest_expiry: Option<Timestamp>,
    },
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a hold could not be turned into a booking.
#[derive(Debug, thiserror::Error)]
pub enum ConvertHoldError {
    /// The hold does not exist (in this account), expired, or was used or
    /// deleted already.
    #[error("the hold is unknown or expired")]
    HoldGone,
    /// The booking conflicts with something other than its own hold.
    #[error("the time is not available")]
    Conflict,
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a booking change could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum UpdateBookingError {
    /// The changed booking is active and its occupied range overlaps another
    /// active booking of the provider.
    #[error("the time overlaps another booking of the provider")]
    Conflict,
    /// The stored booking no longer matches `previous` (a concurrent change
    /// won, or it does not exist); reload and decide again.
    #[error("the booking changed concurrently")]
    Stale,
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Filters for listing bookings; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookingFilter {
    /// Only this status.
    pub status: Option<BookingStatus>,
    /// Only this service.
    pub service_id: Option<ServiceId>,
    /// Only this provider.
    pub provider_id: Option<ProviderId>,
    /// Only bookings starting at or after this instant.
    pub from: Option<Timestamp>,
    /// Only bookings starting before this instant.
    pub to: Option<Timestamp>,
}

/// A service's daily cap, as the booking writes check it: at most `limit`
/// active bookings of the service start within `day` (the local day of the
/// booking's start, as instants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyCap {
    /// The service's `max_bookings_per_day`.
    pub limit: u32,
    /// The local day.
    pub day: TimeRange,
}

/// Bookings and their events.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait BookingStore: Send + Sync {
    /// Inserts the booking and its events atomically. When the booking is
    /// active, MUST return `Conflict` if its occupied range overlaps the
    /// occupied range of an active booking of the same provider — checked and
    /// inserted atomically, so of two concurrent overlapping calls, across
    /// any number of processes sharing the store, at most one succeeds.
    /// MUST also return `Conflict` (writing nothing) when the occupied range
    /// of an active booking overlaps a busy block of one of the provider's
    /// external calendars (see [`BookingStore::busy_times`]), checked in the
    /// same transaction (blocks replaced by a sync committing meanwhile may
    /// or may not be seen), and when it overlaps the provider's time off,
    /// checked atomically with the insert. A collective booking (non-empty
    /// `provider_ids`) occupies the time of every one of its providers
    /// under these rules, all or none: any provider's conflict writes
    /// nothing.
    /// A hold of the provider that is
    /// unexpired at the booking's `created_at` blocks it exactly like an
    /// active booking (atomically, across processes); an expired one never
    /// does, whether or not anything has removed it.
    async fn insert_booking(
        &self,
        booking: &Booking,
        events: &[BookingEvent],
    ) -> Result<(), CreateBookingError>;

    /// [`BookingStore::insert_booking`] for a service with a daily cap: MUST
    /// also return `Conflict` (writing nothing) when `cap.day` already holds
    /// `cap.limit` active bookings of the booking's service (by start),
    /// counted atomically with the insert, so of any number of concurrent
    /// calls across processes sharing the store, at most `limit` succeed for
    /// one day. The provider's time off is checked as by `insert_booking`.
    async fn insert_booking_capped(
        &self,
        booking: &Booking,
        events: &[BookingEvent],
        cap: &DailyCap,
    ) -> Result<(), CreateBookingError>;

    /// Replaces `previous` with `updated` (same id) and appends the events,
    /// atomically. When the start changes and `updated` is active, MUST
    /// return `Conflict` if its occupied range overlaps the provider's time
    /// off (a status change alone never conflicts with time off: time off
    /// does not touch the bookings inside it). MUST return `Stale` unless the stored row still has
    /// `previous`'s status, start and `updated_at`; MUST return `Conflict` under
    /// the same rule as insertion (ignoring the booking itself) when `updated`
    /// is active. `updated` may name another provider (a round-robin
    /// booking moved to a free colleague); a collective booking moves, and
    /// changes status, for all its providers at once.
    /// is active (holds unexpired at `updated.updated_at` included).
    async fn update_booking(
        &self,
        previous: &Booking,
        updated: &Booking,
        events: &[BookingEvent],
    ) -> Result<(), UpdateBookingError>;

    /// [`BookingStore::update_booking`] for a service with a daily cap: when
    /// the start changes and `updated` is active, MUST also return
    /// `Conflict` when `cap.day` already holds `cap.limit` active bookings of
    /// the service other than this one, counted atomically with the update.
    async fn update_booking_capped(
        &self,
        previous: &Booking,
        updated: &Booking,
        events: &[BookingEvent],
        cap: &DailyCap,
    ) -> Result<(), UpdateBookingError>;

    /// The booking whose customer link's token hashes to `hash` (SHA-256,
    /// hex), in any account, whatever its status, or `Ok(None)` when no
    /// booking has that link.
    async fn booking_by_link(&self, hash: &str) -> Result<Option<Booking>, StorageError>;

    /// The booking, or `Ok(None)`.
    async fn get_booking(
        &self,
        account: &AccountId,
        id: &BookingId,
    ) -> Result<Option<Booking>, StorageError>;

    /// The account's bookings among `ids` (those that exist, in no
    /// particular order): one read for many, as the calendar writer reads a
    /// claimed batch's bookings.
    async fn get_bookings(
        &self,
        account: &AccountId,
        ids: &[BookingId],
    ) -> Result<Vec<Booking>, StorageError>;

    /// The account's bookings matching the filter, in creation order.
    async fn list_bookings(
        &self,
        account: &AccountId,
        filter: &BookingFilter,
        page: PageRequest,
    ) -> Result<Page<Booking>, StorageError>;

    /// Everything that blocks the provider over `range`, in start order: the
    /// occupied ranges (buffers included) of its active bookings that overlap
    /// `range`, except `excluding`, its time off overlapping `range` (both
    /// stores derive this from [`BookingStore::busy_sources`]), and the busy blocks of its external
    /// calendars that overlap `range` (as stored by
    /// [`CalendarStore::record_calendar_sync`], possibly in pieces; callers
    /// merge), and the occupied ranges of its holds unexpired at `now`
    /// (a hold that expired by `now` MUST NOT appear, even from a cache).
    /// Cost MUST depend on the bookings and blocks near `range`, not
    /// on the provider's whole history.
    async fn busy_times(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        range: TimeRange,
        excluding: Option<BookingId>,
        now: Timestamp,
    ) -> Result<Vec<TimeRange>, StorageError>;

    /// Everything that blocks the provider over `range`, with identities:
    /// the active bookings whose occupied range overlaps `range` (each with
    /// its appointment and buffers), except `excluding`; the time off
    /// overlapping `range`; the external calendars' busy blocks overlapping
    /// `range` (with their connection's id and kind; pieces of one block may
    /// come merged or not); the provider's holds whose occupied range
    /// overlaps `range`, each with its `expires_at` (expired ones may be
    /// included: the caller drops them by its clock). Same cost rule as
    /// [`BookingStore::busy_times`].
    async fn busy_sources(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        range: TimeRange,
        excluding: Option<BookingId>,
    ) -> Result<crate::scheduling::BusySources, StorageError>;

    /// The starts of the service's active bookings starting in `range`,
    /// except `excluding`, for the daily cap. Cost MUST depend on the
    /// bookings in `range`.
    async fn service_starts(
        &self,
        account: &AccountId,
        service: &ServiceId,
        range: TimeRange,
        excluding: Option<BookingId>,
    ) -> Result<Vec<Timestamp>, StorageError>;

    /// For round-robin assignment, per provider of the service that has
    /// any booking of it: how many active bookings of the service start in
    /// `day` (the requested start's local day), and the creation instant of
    /// its latest booking of the service (any status). Providers with
    /// neither are left out. A collective booking counts once, for its
    /// first provider.
    async fn team_loads(
        &self,
        account: &AccountId,
        service: &ServiceId,
        day: TimeRange,
    ) -> Result<Vec<(ProviderId, crate::scheduling::ProviderLoad)>, StorageError>;

    /// The events recorded for a booking, oldest first.
    async fn booking_events(
        &self,
        account: &AccountId,
        id: &BookingId,
    ) -> Result<Vec<BookingEvent>, StorageError>;

    /// Up to `limit` confirmed bookings (of every account) whose `end_at` is
    /// at or before `now`, earliest end first: what automatic completion
    /// moves to `completed`. Cost MUST depend on the bookings returned, not
    /// on the whole history.
    async fn due_for_completion(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Booking>, StorageError>;

    /// Up to `limit` active bookings (of every account; not a collective
    /// booking's seats) of services with reminders, starting in
    /// `(now, now + 30 days]`, ordered by start then id, after the
    /// `(start, id)` of `after`; each with its service's reminder offsets.
    /// What the reminder round checks. Cost MUST depend on the bookings
    /// starting in that window, not on the whole history.
    async fn reminder_candidates(
        &self,
        now: Timestamp,
        after: Option<(Timestamp, BookingId)>,
        limit: u32,
    ) -> Result<Vec<(Booking, Vec<Minutes>)>, StorageError>;

    /// Records that the reminder at `offset` before `event.booking`'s
    /// start was sent, and inserts `event` and queues its deliveries, in
    /// one transaction. MUST record each `(account, booking, offset,
    /// start)` at most once, across processes: when it was recorded
    /// already, writes nothing and returns `false`.
    async fn record_reminder(
        &self,
        event: &BookingEvent,
        offset: Minutes,
    ) -> Result<bool, StorageError>;

    /// Inserts a hold. MUST return `Conflict` (writing nothing) under the
    /// rules of [`BookingStore::insert_booking`] for an active booking with
    /// the hold's occupied range, made at the hold's `created_at` (active
    /// bookings, unexpired holds, time off, external busy time), atomically
    /// and across processes: of concurrent overlapping holds and bookings at
    /// most one succeeds. MUST return `TooMany` when the hold's key already
    /// has `max_per_key` holds unexpired at `created_at`, exactly: of
    /// concurrent inserts of one key, on any process, no more succeed than
    /// the places left. Readers of busy time MUST see the hold once this
    /// returns.
    async fn insert_hold(&self, hold: &Hold, max_per_key: u32) -> Result<(), CreateHoldError>;

    /// The hold, expired or not, or `Ok(None)` (unknown in this account,
    /// deleted, or turned into a booking).
    async fn get_hold(
        &self,
        account: &AccountId,
        id: &HoldId,
    ) -> Result<Option<Hold>, StorageError>;

    /// The hold to turn into a booking: [`BookingStore::get_hold`], except
    /// that it MAY answer a hold that ended since (deleted or converted):
    /// a store may answer from what its process wrote, since a hold's
    /// content never changes, sparing a read before the conversion's write.
    /// [`BookingStore::insert_booking_from_hold`] checks that the hold still
    /// stands, atomically, whatever this answered.
    async fn hold_for_booking(
        &self,
        account: &AccountId,
        id: &HoldId,
    ) -> Result<Option<Hold>, StorageError> {
        self.get_hold(account, id).await
    }

    /// Deletes the hold; `Ok(false)` when the account has no such hold.
    /// Readers of busy time MUST no longer see it once this returns.
    async fn delete_hold(&self, account: &AccountId, id: &HoldId) -> Result<bool, StorageError>;

    /// [`BookingStore::insert_booking`] (with `cap` as
    /// [`BookingStore::insert_booking_capped`]) that also ends the hold
    /// `hold`, atomically: the booking is inserted and the hold removed in
    /// one transaction, or neither. MUST return `HoldGone` (writing
    /// nothing) unless the account has the hold, unexpired at the booking's
    /// `created_at`; the hold itself never conflicts with its booking. Of
    /// two concurrent calls with one hold at most one succeeds.
    async fn insert_booking_from_hold(
        &self,
        booking: &Booking,
        events: &[BookingEvent],
        hold: &HoldId,
        cap: Option<DailyCap>,
    ) -> Result<(), ConvertHoldError>;
}

// ---------------------------------------------------------------- webhooks

/// Webhook endpoints and their delivery log, per account.
///
/// The outbox side lives in the booking store: [`BookingStore::insert_booking`]
/// and [`BookingStore::update_booking`] MUST, in the same transaction as the
/// events, queue one pending delivery (due at the event's `created_at`) per
/// event and enabled endpoint of the account subscribed to the event's kind,
/// and wake [`DeliveryQueue::wait_for_deliveries`] after the commit.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts an endpoint.
    async fn create_webhook(&self, endpoint: &WebhookEndpoint) -> Result<(), StorageError>;

    /// Inserts an endpoint unless its account already has `limit` endpoints:
    /// then MUST return `Ok(false)` and write nothing. The count and the
    /// insert MUST be atomic: concurrent calls (from any number of
    /// processes) never leave the account with more than `limit`.
    async fn create_webhook_within(
        &self,
        endpoint: &WebhookEndpoint,
        limit: u32,
    ) -> Result<bool, StorageError>;

    /// The endpoint, or `Ok(None)`.
    async fn get_webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
    ) -> Result<Option<WebhookEndpoint>, StorageError>;

    /// The account's endpoints in creation order.
    async fn list_webhooks(
        &self,
        account: &AccountId,
        page: PageRequest,
    ) -> Result<Page<WebhookEndpoint>, StorageError>;

    /// Replaces the stored endpoint with the same account and id. MUST return
    /// `Ok(false)` when it does not exist.
    async fn update_webhook(&self, endpoint: &WebhookEndpoint) -> Result<bool, StorageError>;

    /// Deletes the endpoint with its deliveries and their attempts. MUST
    /// return `Ok(false)` when it does not exist.
    async fn delete_webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
    ) -> Result<bool, StorageError>;

    /// The endpoint's deliveries with their attempts, newest first: `after`
    /// is the position of the last item of the previous page, and the next
    /// page holds older items.
    async fn list_deliveries(
        &self,
        account: &AccountId,
        endpoint: &WebhookId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, StorageError>;

    /// Queues the delivery again: pending, due at `now`, with a fresh round
    /// of attempts (its past attempts stay in the log). MUST return
    /// `Ok(None)` when the account's endpoint has no such delivery.
    async fn redeliver(
        &self,
        account: &AccountId,
        endpoint: &WebhookId,
        delivery: &DeliveryId,
        now: Timestamp,
    ) -> Result<Option<Delivery>, StorageError>;
}

/// A delivery handed to a worker, with what it needs to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The delivery.
    pub id: DeliveryId,
    /// The endpoint as it stands now (URL and secrets).
    pub endpoint: WebhookEndpoint,
    /// The event, with the booking as it stood right after the change.
    pub event: BookingEvent,
    /// Attempts already made in this round.
    pub round_attempts: u32,
}

/// What a worker decided after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Delivered.
    Succeeded,
    /// Failed; try again at this instant.
    RetryAt(Timestamp),
    /// Failed for good (this round).
    Failed,
}

/// One attempt's record, for [`DeliveryQueue::record_attempts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The delivery.
    pub delivery: DeliveryId,
    /// What happened.
    pub attempt: Attempt,
    /// What comes next.
    pub outcome: DeliveryOutcome,
    /// The receiver answered 410 Gone: disable its endpoint.
    pub disable_endpoint: bool,
}

/// The outbox as the delivery workers see it, across every account.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Claims up to `limit` pending deliveries due at `now` whose endpoint
    /// is enabled and that no unexpired claim holds, earliest due first,
    /// until `now + lease`. Concurrent calls, from any number of processes
    /// sharing the store, MUST NOT return the same delivery while its claim
    /// lasts; once the lease has passed (its worker died) it MUST become
    /// claimable again.
    async fn claim_deliveries(
        &self,
        claimant: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StorageError>;

    /// [`DeliveryQueue::claim_deliveries`], fair between accounts: none of
    /// the accounts in `skip` (at their share of sends in flight), at most
    /// `per_account` deliveries of any other account, earliest due first
    /// within each, and when more are due than `limit`, every account's
    /// first before any account's next. The same exclusivity MUST hold.
    async fn claim_deliveries_fairly(
        &self,
        claimant: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
        per_account: u32,
        skip: &[AccountId],
    ) -> Result<Vec<ClaimedDelivery>, StorageError>;

    /// Records attempts of deliveries claimed by `claimant`, atomically:
    /// each attempt joins the log, and, while the claim is still
    /// `claimant`'s, the delivery takes its outcome (counting one more
    /// attempt in the round) and is released; `disable_endpoint` disables
    /// the delivery's endpoint.
    async fn record_attempts(
        &self,
        claimant: &str,
        results: &[AttemptResult],
    ) -> Result<(), StorageError>;

    /// How many deliveries are pending (due or not) for enabled endpoints.
    async fn pending_deliveries(&self) -> Result<u64, StorageError>;

    /// Deletes succeeded and failed deliveries (with their attempts) last
    /// changed before `before`, of every account; returns how many. Pending
    /// deliveries are never deleted. Safe from several processes at once.
    async fn purge_deliveries(&self, before: Timestamp) -> Result<u64, StorageError>;

    /// Resolves when deliveries may have been queued since the last call:
    /// by this process, or by another one sharing the store when the store
    /// can tell. May also resolve spuriously; workers poll as well.
    async fn wait_for_deliveries(&self);
}

/// Checks where webhooks may be sent (the SSRF guard).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait WebhookTargets: Send + Sync {
    /// `Err(reason)` when `url` may not receive webhooks: its scheme, its
    /// host, or an address it resolves to. The reason is safe to show to
    /// the client.
    async fn check(&self, url: &str) -> Result<(), String>;
}

// ---------------------------------------------------------------- calendar feeds

/// A booking with the name of its service, as a calendar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedBooking {
    /// The booking.
    pub booking: Booking,
    /// Its service's current name (archived services included).
    pub service_name: String,
}

/// Private calendar feeds: which provider a feed token belongs to.
///
/// Tokens are never stored: a provider row holds the SHA-256 of its current
/// token and the token's generation (raised by each rotation); the token is
/// derived again from a server key whenever it must be shown.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait FeedStore: Send + Sync {
    /// The provider's feed `(generation, token hash)`, or `Ok(None)` when
    /// the account has no such provider. The hash is `None` until a token
    /// has been handed out.
    async fn feed_state(
        &self,
        account: &AccountId,
        provider: &ProviderId,
    ) -> Result<Option<(i64, Option<String>)>, StorageError>;

    /// Sets the provider's generation and token hash if its generation is
    /// still `expected` (compare and set). MUST return `Ok(false)` when the
    /// generation changed meanwhile or the provider does not exist. A hash
    /// replaced here MUST no longer be found by
    /// [`FeedStore::provider_by_feed_token`] once this returns.
    async fn set_feed_token(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        expected: i64,
        generation: i64,
        token_hash: &str,
    ) -> Result<bool, StorageError>;

    /// The provider whose current token hashes to `token_hash`, of any
    /// account, or `Ok(None)`.
    async fn provider_by_feed_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Provider>, StorageError>;

    /// The provider's bookings whose start is at or after `from` (any
    /// status), with their service names, in start order. Cost MUST depend
    /// on the bookings returned, not on the provider's whole history.
    async fn feed_bookings(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        from: Timestamp,
    ) -> Result<Vec<FeedBooking>, StorageError>;

    /// The server-wide secret named `name`: the stored one, or `candidate`
    /// stored now when there is none. Atomic: concurrent callers (of any
    /// process) all get the same value.
    async fn server_secret(&self, name: &str, candidate: &str) -> Result<String, StorageError>;
}

// ---------------------------------------------------------------- external calendars

/// What a sync stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResult {
    /// New busy blocks: they replace the connection's previous ones,
    /// atomically, with the validators of the download.
    Busy {
        /// The blocks.
        blocks: Vec<TimeRange>,
        /// For the next conditional GET.
        validators: crate::Validators,
    },
    /// Nothing changed upstream: keep the blocks, count a success.
    Unchanged,
    /// The sync failed: keep the last good blocks, record why.
    Failed(String),
}

/// A booking's event in a writing connection, claimed from the write outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedWrite {
    /// The connection (with its credentials).
    pub connection: crate::CalendarConnection,
    /// The booking.
    pub booking_id: BookingId,
    /// The queue row's version when claimed: a booking change after the
    /// claim raises it, and the row stays due.
    pub version: i64,
    /// Failed attempts since the booking last changed.
    pub attempts: u32,
    /// What the last successful write left.
    pub remote: crate::RemoteEvent,
    /// Since when the write has been due (the booking's change, or the
    /// retry's time): how long it has waited when claimed.
    pub due_since: Timestamp,
}

/// What a write attempt stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteResult {
    /// The calendar matches the booking.
    Done {
        /// The event as it now is.
        remote: crate::RemoteEvent,
        /// Refreshed credentials to store.
        refreshed: Option<crate::OAuthCredentials>,
    },
    /// It failed; try again at `retry_at`, or never (`None`: retries used
    /// up, until the booking changes again).
    Failed {
        /// Why (shown as the connection's `last_write_error`).
        error: String,
        /// When to try again.
        retry_at: Option<Timestamp>,
    },
}

/// Provider connections to outside calendars and their busy blocks.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait CalendarStore: Send + Sync {
    /// Inserts a connection.
    async fn create_calendar(
        &self,
        connection: &crate::CalendarConnection,
    ) -> Result<(), StorageError>;

    /// Inserts a connection unless its provider already has `limit`
    /// connections: then MUST return `Ok(false)` and write nothing. The
    /// count and the insert MUST be atomic: concurrent calls (from any
    /// number of processes) never leave the provider with more than `limit`.
    async fn create_calendar_within(
        &self,
        connection: &crate::CalendarConnection,
        limit: u32,
    ) -> Result<bool, StorageError>;

    /// The provider's connections in creation order.
    async fn list_calendars(
        &self,
        account: &AccountId,
        provider: &ProviderId,
    ) -> Result<Vec<crate::CalendarConnection>, StorageError>;

    /// The account's connections (every provider), in creation order.
    async fn account_calendars(
        &self,
        account: &AccountId,
    ) -> Result<Vec<crate::CalendarConnection>, StorageError>;

    /// Deletes a connection of the provider with its busy blocks. MUST return
    /// `Ok(false)` when the provider has no such connection.
    async fn delete_calendar(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        id: &crate::CalendarId,
    ) -> Result<bool, StorageError>;

    /// Claims up to `limit` connections (of every account) whose last sync
    /// attempt started before `attempted_before` (or never), and that no
    /// unexpired claim holds, until `now + lease`; marks them attempted at
    /// `now`. Concurrent calls from any number of processes MUST NOT return
    /// the same connection while its claim lasts.
    async fn claim_calendar_syncs(
        &self,
        attempted_before: Timestamp,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<crate::CalendarConnection>, StorageError>;

    /// [`CalendarStore::claim_calendar_syncs`], fair between accounts: at
    /// most `per_account` connections of any one account, longest waiting
    /// first within each, and when more are due than `limit`, every
    /// account's first before any account's next. The same exclusivity
    /// MUST hold.
    async fn claim_calendar_syncs_fairly(
        &self,
        attempted_before: Timestamp,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
        per_account: u32,
    ) -> Result<Vec<crate::CalendarConnection>, StorageError>;

    /// Stores a sync's result (and refreshed credentials, if any) and
    /// releases any claim. `Busy` MUST replace the previous blocks
    /// atomically (a reader sees the old set or the new one); `Failed` MUST
    /// keep them. MUST return `Ok(false)` when the connection is gone.
    async fn record_calendar_sync(
        &self,
        account: &AccountId,
        id: &crate::CalendarId,
        result: &SyncResult,
        credentials: Option<crate::OAuthCredentials>,
        now: Timestamp,
    ) -> Result<bool, StorageError>;

    /// Claims up to `limit` due rows of the write outbox (queued by booking
    /// writes in their own transaction, and by the creation of a writing
    /// connection for the provider's active bookings that have not ended),
    /// oldest first, until `now + lease`. Concurrent calls from any number
    /// of processes MUST NOT return the same row while its claim lasts.
    async fn claim_calendar_writes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<ClaimedWrite>, StorageError>;

    /// Stores an attempt's result and releases the claim. `Done` MUST leave
    /// the row due again when its version moved on since the claim (a
    /// booking change meanwhile); it sets the connection's
    /// `last_write_error` to `None`, `Failed` to its error.
    async fn record_calendar_write(
        &self,
        claimed: &ClaimedWrite,
        result: &WriteResult,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        self.record_calendar_writes(&[(claimed.clone(), result.clone())], now)
            .await
    }

    /// Stores several attempts' results as [`Self::record_calendar_write`]
    /// does for one, all or none (one transaction: the writer records a
    /// batch of results with one commit).
    async fn record_calendar_writes(
        &self,
        results: &[(ClaimedWrite, WriteResult)],
        now: Timestamp,
    ) -> Result<(), StorageError>;

    /// Resolves when writes were queued by a commit in this process since
    /// the last call returned (or soon after the call, when some were
    /// queued before it): the writer's wake-up. Writes queued by other
    /// processes are not signalled; the writer also looks every second.
    async fn wait_for_calendar_writes(&self) {
        std::future::pending::<()>().await;
    }
}

// ---------------------------------------------------------------- idempotency

/// A response kept for idempotent replays: status and body bytes as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// The outcome of [`IdempotencyStore::begin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is new (or expired): the caller now holds it and MUST call
    /// `complete` or `abandon`.
    Started,
    /// Same key, same request, already answered: replay this.
    Replay(StoredResponse),
    /// Same key, different request.
    Mismatch,
    /// Same key, same request, still being processed by another call.
    InProgress,
}

/// How long the delivery log keeps finished deliveries (succeeded or
/// failed), in days.
pub const DELIVERY_LOG_DAYS: i64 = 30;

/// How long an idempotency key keeps its answer.
pub const IDEMPOTENCY_TTL_HOURS: i64 = 24;

/// How long a claimed idempotency key without an answer blocks retries: after
/// this many seconds the claim counts as abandoned (its process died) and
/// [`IdempotencyStore::begin`] may hand the key out again.
pub const IDEMPOTENCY_CLAIM_TIMEOUT_SECS: i64 = 60;

/// Idempotency keys, per account, kept 24 hours with the first answer.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for `request_hash` atomically: of concurrent calls with the
    /// same account and key, exactly one gets `Started`. Entries older than
    /// `ttl`, and unanswered claims older than
    /// [`IDEMPOTENCY_CLAIM_TIMEOUT_SECS`], count as absent.
    async fn begin(
        &self,
        account: &AccountId,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        ttl: SignedDuration,
    ) -> Result<IdempotencyBegin, StorageError>;

    /// Stores the answer for a key this caller started.
    async fn complete(
        &self,
        account: &AccountId,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StorageError>;

    /// Releases a key this caller started without an answer worth keeping
    /// (a 5xx or a 429), so a retry can run again.
    async fn abandon(&self, account: &AccountId, key: &str) -> Result<(), StorageError>;

    /// Deletes every entry (of every account) created before `before`,
    /// answered or not; returns how many. Entries that old already count as
    /// absent, so this only reclaims space; safe to run from several
    /// processes at once.
    async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64, StorageError>;
}

// ---------------------------------------------------------------- readiness

/// Whether the storage answers at all (for `/readyz`).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// `Ok(())` when a trivial query succeeds.
    async fn ping(&self) -> Result<(), StorageError>;
}

// ---------------------------------------------------------------- rate limits

/// A limit: `quota` requests per `period`, named for the `RateLimit` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Policy name (`bookings`).
    pub name: String,
    /// Requests allowed per period.
    pub quota: u32,
    /// The period, in seconds.
    pub period_secs: u32,
}

/// A rate-limit answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether this request may go ahead (and was counted).
    pub allowed: bool,
    /// Requests left right now.
    pub remaining: u32,
    /// Seconds until the quota is whole again.
    pub reset_secs: u64,
    /// When refused: seconds until one request will be allowed (at least 1).
    pub retry_after_secs: u64,
}

/// Counts requests per key and limit (GCRA semantics: `quota` per `period`,
/// bursts up to `quota`).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request for `key` under `limit` if allowed.
    async fn check(&self, key: &str, limit: &RateLimit) -> Result<RateDecision, StorageError>;

    /// The state of `key` under `limit` as it stands, counting nothing
    /// (for the headers of an answer that did not count, such as an
    /// idempotent replay): `allowed` says whether a request would pass
    /// now, `retry_after_secs` is 0.
    async fn peek(&self, key: &str, limit: &RateLimit) -> Result<RateDecision, StorageError>;
}

// ---------------------------------------------------------------- clock & ids

/// The current time. Tests use a fixed or manual clock.
#[cfg_attr(test, mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}

/// The system clock, truncated to whole seconds (the API's precision).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        Timestamp::from_second(now.as_second()).unwrap_or(now)
    }
}

/// New ids and secrets.
#[cfg_attr(test, mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new id of `kind`: its prefix then at least 96 random bits in base62
    /// (the server's ids put their creation time before them, so ids sort by
    /// it and land at the end of the indexes on them).
    fn new_id(&self, kind: IdKind) -> String;

    /// `len` random base62 characters from a cryptographically secure source.
    fn secret(&self, len: usize) -> String;

    /// A new webhook signing secret: `whsec_` + base64 of 32 random bytes.
    fn webhook_secret(&self) -> String;
}

/// Every port a use case may need, behind `Arc`s so the server can share one
/// adapter for several ports. The HTTP layer and the background workers
/// hold one; each use case takes only the ports it uses, as a small struct
/// built from this one with `(&ports).into()` (such as
/// [`crate::usecases::BookingPorts`]).
#[derive(Clone)]
pub struct Ports {
    /// Accounts and keys.
    pub accounts: Arc<dyn AccountStore>,
    /// Providers.
    pub providers: Arc<dyn ProviderStore>,
    /// Services.
    pub services: Arc<dyn ServiceStore>,
    /// Bookings and events.
    pub bookings: Arc<dyn BookingStore>,
    /// Idempotency keys.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Webhook endpoints and delivery logs.
    pub webhooks: Arc<dyn WebhookStore>,
    /// Calendar feeds.
    pub feeds: Arc<dyn FeedStore>,
    /// External calendar connections and their busy time.
    pub calendars: Arc<dyn CalendarStore>,
    /// Providers' time off.
    pub time_off: Arc<dyn TimeOffStore>,
    /// Fetches busy time from outside calendars.
    pub busy_source: Arc<dyn crate::BusySource>,
    /// Writes bookings into outside calendars.
    pub calendar_writer: Arc<dyn crate::CalendarWriter>,
    /// Where webhooks may go.
    pub targets: Arc<dyn WebhookTargets>,
    /// Readiness.
    pub health: Arc<dyn HealthCheck>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

// ---------------------------------------------------------------- time off

/// Providers' time off.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TimeOffStore: Send + Sync {
    /// Inserts the time off (whose provider the caller has found in its
    /// account) and answers the ids of the provider's active bookings whose
    /// appointment (`scheduled_at` to its end, without buffers) overlaps its
    /// range, in start order: the bookings are not touched. The read MUST
    /// be in the insert's transaction, ordered with the provider's booking
    /// writes, so a booking committed before the time off is listed. Its
    /// cost MUST depend on the bookings near the range, not on the
    /// provider's whole history. Readers of busy time MUST see the new time
    /// off once this returns.
    async fn create_time_off(&self, time_off: &TimeOff) -> Result<Vec<BookingId>, StorageError>;

    /// The provider's time off that overlaps `[from, to)` (either end open
    /// when `None`), in creation order.
    async fn list_time_off(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        page: PageRequest,
    ) -> Result<Page<TimeOff>, StorageError>;

    /// Deletes the provider's time off. MUST return `Ok(false)` when the
    /// provider (in that account) has no such time off. Readers of busy
    /// time MUST no longer see it once this returns.
    async fn delete_time_off(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        id: &TimeOffId,
    ) -> Result<bool, StorageError>;
}
