//! Builders for the entities the store contract suite stores.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use booking_domain::ports::{AccountStore, NewApiKey};
use booking_domain::{
    AccountId, Actor, ApiKeyId, Booking, BookingEvent, BookingId, BookingStatus, Currency,
    Customer, Email, EventId, EventKind, IdKind, LocalTime, ManageLink, Metadata, Minutes, Money,
    Price, PriceType, Provider, ProviderId, Service, ServiceId, TimeRange, Timezone, Weekday,
    WeeklyAvailability,
};
use jiff::Timestamp;

/// A fresh id of `kind`, unique in this process.
pub fn id(kind: IdKind) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}t{}", kind.prefix(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// An instant from RFC 3339 text.
pub fn t(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

/// `base` plus `minutes`.
pub fn plus(base: Timestamp, minutes: i64) -> Timestamp {
    base.checked_add(jiff::SignedDuration::from_mins(minutes))
        .expect("in range")
}

/// A range between two RFC 3339 instants.
pub fn range(start: &str, end: &str) -> TimeRange {
    TimeRange::new(t(start), t(end)).expect("non-empty range")
}

/// A monday morning, far from any real data.
pub const DAY: &str = "2030-01-07T00:00:00Z";

/// Creation instant used for fixtures.
pub fn now() -> Timestamp {
    t("2029-12-01T12:00:00Z")
}

/// The request to create a key for `account_name` (with fresh ids).
pub fn new_key(account_name: &str) -> NewApiKey {
    let account_id = AccountId::from_trusted(id(IdKind::Account));
    // Unique per key; a real hash is SHA-256 hex, its lookup the first 16 digits.
    let hash = format!("{:016x}{}", id_number(), "ab".repeat(24));
    NewApiKey {
        account_name: account_name.to_owned(),
        new_account_id: account_id.clone(),
        new_default_provider: Provider {
            id: ProviderId::from_trusted(id(IdKind::Provider)),
            account_id,
            name: account_name.to_owned(),
            email: None,
            is_default: true,
            created_at: now(),
            updated_at: now(),
        },
        key_id: ApiKeyId::from_trusted(id(IdKind::ApiKey)),
        lookup: hash[..16].to_owned(),
        hash,
        created_at: now(),
    }
}

fn id_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An account (created through a first key) and its default provider.
pub struct Tenant {
    /// The account.
    pub account: AccountId,
    /// Its default provider's id.
    pub default_provider: ProviderId,
}

/// Creates an account named `name` with a first key.
pub async fn tenant<S: AccountStore + ?Sized>(store: &S, name: &str) -> Tenant {
    let key = new_key(name);
    let default_provider = key.new_default_provider.id.clone();
    let record = store.create_key(key).await.expect("create_key");
    Tenant {
        account: record.account_id,
        default_provider,
    }
}

/// A (not yet stored) provider of `account`.
pub fn provider(account: &AccountId, name: &str) -> Provider {
    Provider {
        id: ProviderId::from_trusted(id(IdKind::Provider)),
        account_id: account.clone(),
        name: name.to_owned(),
        email: Some(Email::parse("provider@example.com", "email").expect("email")),
        is_default: false,
        created_at: now(),
        updated_at: now(),
    }
}

/// A (not yet stored) 60-minute service of `provider` with the given buffers
/// (minutes), open Monday to Friday 09:00-17:00 in Paris.
pub fn service(account: &AccountId, provider: &ProviderId, before: u32, after: u32) -> Service {
    let days = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ]
    .into_iter()
    .collect();
    let availability = WeeklyAvailability::new(
        days,
        LocalTime::from_minutes(9 * 60).expect("09:00"),
        LocalTime::from_minutes(17 * 60).expect("17:00"),
        Timezone::parse("Europe/Paris").expect("tz"),
    )
    .expect("availability");
    Service {
        id: ServiceId::from_trusted(id(IdKind::Service)),
        account_id: account.clone(),
        provider_id: provider.clone(),
        team: None,
        name: "Consultation".to_owned(),
        description: Some("An hour of advice".to_owned()),
        duration: Minutes::new(60),
        price: Price {
            amount: Money::from_minor(15000, Currency::parse("EUR").expect("EUR")).expect("money"),
            kind: PriceType::Hourly,
        },
        availability,
        buffer_before: Minutes::new(before),
        buffer_after: Minutes::new(after),
        minimum_notice: Minutes::new(120),
        auto_confirm: false,
        slot_interval: None,
        booking_horizon: None,
        max_bookings_per_day: None,
        cancel_cutoff: Minutes::new(60),
        reschedule_cutoff: Minutes::new(30),
        reminders: Vec::new(),
        archived: false,
        created_at: now(),
        updated_at: now(),
    }
}

/// A (not yet stored) booking of `service` at `start` with `status`.
pub fn booking(service: &Service, start: Timestamp, status: BookingStatus) -> Booking {
    let metadata = Metadata::new(BTreeMap::from([
        ("source".to_owned(), "test".to_owned()),
        ("ref".to_owned(), "42".to_owned()),
    ]))
    .expect("metadata");
    Booking {
        id: BookingId::from_trusted(id(IdKind::Booking)),
        account_id: service.account_id.clone(),
        service_id: service.id.clone(),
        provider_id: service.provider_id.clone(),
        provider_ids: Vec::new(),
        duration: service.duration,
        scheduled_at: start,
        buffer_before: service.buffer_before,
        buffer_after: service.buffer_after,
        status,
        customer: Customer {
            email: Email::parse("customer@example.com", "customer.email").expect("email"),
            name: "Ada Lovelace".to_owned(),
        },
        price: service.price.for_booking(service.duration),
        notes: Some("Second floor".to_owned()),
        metadata,
        cancel_reason: None,
        sequence: 0,
        created_at: now(),
        updated_at: now(),
        link: Some(ManageLink {
            salt: id(IdKind::Booking),
            hash: id(IdKind::Event),
        }),
    }
}

/// An event of `kind` for `booking` as it stands.
pub fn event(kind: EventKind, booking: &Booking, previous: Option<Timestamp>) -> BookingEvent {
    BookingEvent {
        id: EventId::from_trusted(id(IdKind::Event)),
        account_id: booking.account_id.clone(),
        kind,
        actor: Actor::Api,
        booking: booking.clone(),
        previous_scheduled_at: previous,
        reminder_offset: None,
        created_at: booking.updated_at,
    }
}
