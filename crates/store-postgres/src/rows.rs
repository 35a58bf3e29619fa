//! Row structs and their conversions to and from the domain.
//!
//! Stored values are rebuilt through the domain's constructors; a value that
//! does not rebuild is corrupt data: [`StorageError::Internal`], never a panic.

use std::collections::BTreeMap;
use std::fmt::Display;

use booking_domain::ports::StorageError;
use booking_domain::{
    AccountId, Booking, BookingEvent, BookingId, BookingStatus, Currency, Customer, Email, EventId,
    EventKind, LocalTime, Metadata, Minutes, Money, Price, PriceType, Provider, ProviderId,
    Service, ServiceId, Timezone, Weekday, WeekdaySet, WeeklyAvailability, occupied_range,
};
use diesel::prelude::*;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::schema::{bookings, events, providers, services};

/// The longest occupied range a booking can have, in seconds:
/// a 1440-minute service with two 10080-minute buffers. Conflict scans rely
/// on it (and the schema checks it).
pub(crate) const MAX_OCCUPIED_SECS: i64 = (1440 + 2 * 10080) * 60;

/// Statuses that hold their time.
pub(crate) const ACTIVE: [&str; 2] = ["pending", "confirmed"];

/// A corrupt stored value.
pub(crate) fn corrupt(table: &str, id: &str, what: impl Display) -> StorageError {
    StorageError::Internal(format!("corrupt {table} row `{id}`: {what}"))
}

/// Unix seconds, rounded down (stored instants have second precision).
pub(crate) fn secs(t: Timestamp) -> i64 {
    let s = t.as_second();
    if t.subsec_nanosecond() < 0 { s - 1 } else { s }
}

/// Unix seconds, rounded up (for exclusive range ends).
pub(crate) fn secs_ceil(t: Timestamp) -> i64 {
    let s = t.as_second();
    if t.subsec_nanosecond() > 0 { s + 1 } else { s }
}

fn instant(table: &str, id: &str, field: &str, value: i64) -> Result<Timestamp, StorageError> {
    Timestamp::from_second(value).map_err(|e| corrupt(table, id, format!("{field}: {e}")))
}

fn minutes(table: &str, id: &str, field: &str, value: i64) -> Result<Minutes, StorageError> {
    u32::try_from(value).map(Minutes::new).map_err(|_| {
        corrupt(
            table,
            id,
            format!("{field}: {value} is not a number of minutes"),
        )
    })
}

fn money(table: &str, id: &str, minor: i64, currency: &str) -> Result<Money, StorageError> {
    let currency = Currency::parse(currency).map_err(|e| corrupt(table, id, e))?;
    Money::from_minor(minor, currency).map_err(|e| corrupt(table, id, e))
}

fn minutes_i64(m: Minutes) -> i64 {
    i64::from(m.get())
}

// ---------------------------------------------------------------- providers

/// A `providers` row (without `seq`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = providers, check_for_backend(diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub(crate) struct ProviderRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub email: Option<String>,
    pub is_default: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Provider> for ProviderRow {
    fn from(p: &Provider) -> Self {
        ProviderRow {
            id: p.id.as_str().to_owned(),
            account_id: p.account_id.as_str().to_owned(),
            name: p.name.clone(),
            email: p.email.as_ref().map(|e| e.as_str().to_owned()),
            is_default: p.is_default,
            created_at: secs(p.created_at),
            updated_at: secs(p.updated_at),
        }
    }
}

impl ProviderRow {
    /// Rebuilds the provider.
    pub fn into_domain(self) -> Result<Provider, StorageError> {
        const T: &str = "providers";
        let id = self.id.as_str();
        let email = self
            .email
            .as_deref()
            .map(|e| Email::parse(e, "email"))
            .transpose()
            .map_err(|e| corrupt(T, id, e))?;
        Ok(Provider {
            created_at: instant(T, id, "created_at", self.created_at)?,
            updated_at: instant(T, id, "updated_at", self.updated_at)?,
            email,
            name: self.name,
            is_default: self.is_default,
            account_id: AccountId::from_trusted(self.account_id),
            id: ProviderId::from_trusted(self.id),
        })
    }
}

// ---------------------------------------------------------------- services

/// A `services` row (without `seq`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = services, check_for_backend(diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub(crate) struct ServiceRow {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub name: String,
    pub description: Option<String>,
    pub duration_min: i64,
    pub price_minor: i64,
    pub currency: String,
    pub price_type: String,
    pub days: i64,
    pub start_min: i64,
    pub end_min: i64,
    pub timezone: String,
    pub buffer_before: i64,
    pub buffer_after: i64,
    pub minimum_notice: i64,
    pub auto_confirm: bool,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

fn day_bits(days: WeekdaySet) -> i64 {
    days.iter().fold(0, |acc, d| acc | (1 << d.index()))
}

fn days_from_bits(bits: i64) -> Option<WeekdaySet> {
    if !(0..1 << 7).contains(&bits) {
        return None;
    }
    Some(
        Weekday::ALL
            .into_iter()
            .filter(|d| bits & (1 << d.index()) != 0)
            .collect(),
    )
}

impl From<&Service> for ServiceRow {
    fn from(s: &Service) -> Self {
        let a = &s.availability;
        ServiceRow {
            id: s.id.as_str().to_owned(),
            account_id: s.account_id.as_str().to_owned(),
            provider_id: s.provider_id.as_str().to_owned(),
            name: s.name.clone(),
            description: s.description.clone(),
            duration_min: minutes_i64(s.duration),
            price_minor: s.price.amount.minor(),
            currency: s.price.amount.currency().code().to_owned(),
            price_type: s.price.kind.name().to_owned(),
            days: day_bits(a.days()),
            start_min: i64::from(a.start().minutes()),
            end_min: i64::from(a.end().minutes()),
            timezone: a.timezone().name().to_owned(),
            buffer_before: minutes_i64(s.buffer_before),
            buffer_after: minutes_i64(s.buffer_after),
            minimum_notice: minutes_i64(s.minimum_notice),
            auto_confirm: s.auto_confirm,
            archived: s.archived,
            created_at: secs(s.created_at),
            updated_at: secs(s.updated_at),
        }
    }
}

impl ServiceRow {
    /// Rebuilds the service.
    pub fn into_domain(self) -> Result<Service, StorageError> {
        const T: &str = "services";
        let id = self.id.as_str();
        let local = |field: &str, v: i64| {
            u16::try_from(v)
                .ok()
                .and_then(LocalTime::from_minutes)
                .ok_or_else(|| corrupt(T, id, format!("{field}: {v} is not a time of day")))
        };
        let days = days_from_bits(self.days)
            .ok_or_else(|| corrupt(T, id, format!("days: bad bitmask {}", self.days)))?;
        let timezone = Timezone::parse(&self.timezone).map_err(|e| corrupt(T, id, e))?;
        let availability = WeeklyAvailability::new(
            days,
            local("start_min", self.start_min)?,
            local("end_min", self.end_min)?,
            timezone,
        )
        .map_err(|e| corrupt(T, id, e))?;
        let price = Price {
            amount: money(T, id, self.price_minor, &self.currency)?,
            kind: PriceType::parse(&self.price_type).map_err(|e| corrupt(T, id, e))?,
        };
        Ok(Service {
            duration: minutes(T, id, "duration_min", self.duration_min)?,
            buffer_before: minutes(T, id, "buffer_before", self.buffer_before)?,
            buffer_after: minutes(T, id, "buffer_after", self.buffer_after)?,
            minimum_notice: minutes(T, id, "minimum_notice", self.minimum_notice)?,
            created_at: instant(T, id, "created_at", self.created_at)?,
            updated_at: instant(T, id, "updated_at", self.updated_at)?,
            price,
            availability,
            name: self.name,
            description: self.description,
            auto_confirm: self.auto_confirm,
            archived: self.archived,
            account_id: AccountId::from_trusted(self.account_id),
            provider_id: ProviderId::from_trusted(self.provider_id),
            id: ServiceId::from_trusted(self.id),
        })
    }
}

// ---------------------------------------------------------------- bookings

/// A `bookings` row (without `seq`). `end_at` and the occupied range are
/// derived from the booking when it is written.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = bookings, check_for_backend(diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub(crate) struct BookingRow {
    pub id: String,
    pub account_id: String,
    pub service_id: String,
    pub provider_id: String,
    pub duration_min: i64,
    pub scheduled_at: i64,
    pub end_at: i64,
    pub occupied_start: i64,
    pub occupied_end: i64,
    pub buffer_before: i64,
    pub buffer_after: i64,
    pub status: String,
    pub customer_email: String,
    pub customer_name: String,
    pub price_minor: i64,
    pub currency: String,
    pub notes: Option<String>,
    pub metadata: serde_json::Value,
    pub cancel_reason: Option<String>,
    pub sequence: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl BookingRow {
    /// The row for a booking.
    pub fn from_domain(b: &Booking) -> Result<BookingRow, StorageError> {
        let snapshot = BookingSnapshot::from(b);
        let metadata = serde_json::to_value(&snapshot.metadata)
            .map_err(|e| StorageError::Internal(format!("booking metadata to JSON: {e}")))?;
        Ok(snapshot.into_row(metadata))
    }

    /// Rebuilds the booking.
    pub fn into_domain(mut self) -> Result<Booking, StorageError> {
        let metadata: BTreeMap<String, String> = serde_json::from_value(self.metadata.take())
            .map_err(|e| corrupt("bookings", &self.id, format!("metadata: {e}")))?;
        BookingSnapshot::from_row(self, metadata).into_domain("bookings")
    }
}

/// The JSON snapshot of a booking kept with each event (`events.booking`):
/// what the webhooks worker sends. Instants are unix seconds. The same shape
/// as the SQLite store's snapshot, field for field, so readers of either
/// store's events agree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BookingSnapshot {
    pub id: String,
    pub account_id: String,
    pub service_id: String,
    pub provider_id: String,
    pub duration_min: i64,
    pub scheduled_at: i64,
    pub end_at: i64,
    pub occupied_start: i64,
    pub occupied_end: i64,
    pub buffer_before: i64,
    pub buffer_after: i64,
    pub status: String,
    pub customer_email: String,
    pub customer_name: String,
    pub price_minor: i64,
    pub currency: String,
    pub notes: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub cancel_reason: Option<String>,
    pub sequence: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Booking> for BookingSnapshot {
    fn from(b: &Booking) -> Self {
        // Stored instants have second precision: derive the occupied range
        // from the stored start so both ends are whole seconds too.
        let start = Timestamp::from_second(secs(b.scheduled_at)).unwrap_or(b.scheduled_at);
        let occupied = occupied_range(start, b.duration, b.buffer_before, b.buffer_after);
        BookingSnapshot {
            id: b.id.as_str().to_owned(),
            account_id: b.account_id.as_str().to_owned(),
            service_id: b.service_id.as_str().to_owned(),
            provider_id: b.provider_id.as_str().to_owned(),
            duration_min: minutes_i64(b.duration),
            scheduled_at: secs(b.scheduled_at),
            end_at: secs(b.end_at()),
            occupied_start: secs(occupied.start()),
            occupied_end: secs(occupied.end()),
            buffer_before: minutes_i64(b.buffer_before),
            buffer_after: minutes_i64(b.buffer_after),
            status: b.status.name().to_owned(),
            customer_email: b.customer.email.as_str().to_owned(),
            customer_name: b.customer.name.clone(),
            price_minor: b.price.minor(),
            currency: b.price.currency().code().to_owned(),
            notes: b.notes.clone(),
            metadata: b.metadata.entries().clone(),
            cancel_reason: b.cancel_reason.clone(),
            sequence: i64::from(b.sequence),
            created_at: secs(b.created_at),
            updated_at: secs(b.updated_at),
        }
    }
}

impl BookingSnapshot {
    fn into_row(self, metadata: serde_json::Value) -> BookingRow {
        BookingRow {
            id: self.id,
            account_id: self.account_id,
            service_id: self.service_id,
            provider_id: self.provider_id,
            duration_min: self.duration_min,
            scheduled_at: self.scheduled_at,
            end_at: self.end_at,
            occupied_start: self.occupied_start,
            occupied_end: self.occupied_end,
            buffer_before: self.buffer_before,
            buffer_after: self.buffer_after,
            status: self.status,
            customer_email: self.customer_email,
            customer_name: self.customer_name,
            price_minor: self.price_minor,
            currency: self.currency,
            notes: self.notes,
            metadata,
            cancel_reason: self.cancel_reason,
            sequence: self.sequence,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn from_row(r: BookingRow, metadata: BTreeMap<String, String>) -> BookingSnapshot {
        BookingSnapshot {
            id: r.id,
            account_id: r.account_id,
            service_id: r.service_id,
            provider_id: r.provider_id,
            duration_min: r.duration_min,
            scheduled_at: r.scheduled_at,
            end_at: r.end_at,
            occupied_start: r.occupied_start,
            occupied_end: r.occupied_end,
            buffer_before: r.buffer_before,
            buffer_after: r.buffer_after,
            status: r.status,
            customer_email: r.customer_email,
            customer_name: r.customer_name,
            price_minor: r.price_minor,
            currency: r.currency,
            notes: r.notes,
            metadata,
            cancel_reason: r.cancel_reason,
            sequence: r.sequence,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    /// Rebuilds the booking; `table` names where the data came from in errors.
    fn into_domain(self, table: &str) -> Result<Booking, StorageError> {
        let id = self.id.as_str();
        let status = BookingStatus::parse(&self.status)
            .ok_or_else(|| corrupt(table, id, format!("unknown status `{}`", self.status)))?;
        let email = Email::parse(&self.customer_email, "customer.email")
            .map_err(|e| corrupt(table, id, e))?;
        let sequence = u32::try_from(self.sequence).map_err(|_| {
            corrupt(
                table,
                id,
                format!("sequence {} out of range", self.sequence),
            )
        })?;
        Ok(Booking {
            duration: minutes(table, id, "duration_min", self.duration_min)?,
            scheduled_at: instant(table, id, "scheduled_at", self.scheduled_at)?,
            buffer_before: minutes(table, id, "buffer_before", self.buffer_before)?,
            buffer_after: minutes(table, id, "buffer_after", self.buffer_after)?,
            price: money(table, id, self.price_minor, &self.currency)?,
            metadata: Metadata::new(self.metadata).map_err(|e| corrupt(table, id, e))?,
            created_at: instant(table, id, "created_at", self.created_at)?,
            updated_at: instant(table, id, "updated_at", self.updated_at)?,
            status,
            sequence,
            customer: Customer {
                email,
                name: self.customer_name,
            },
            notes: self.notes,
            cancel_reason: self.cancel_reason,
            account_id: AccountId::from_trusted(self.account_id),
            service_id: ServiceId::from_trusted(self.service_id),
            provider_id: ProviderId::from_trusted(self.provider_id),
            id: BookingId::from_trusted(self.id),
        })
    }
}

// ---------------------------------------------------------------- events

/// An `events` row (without `seq`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg))]
pub(crate) struct EventRow {
    pub id: String,
    pub account_id: String,
    pub booking_id: String,
    pub kind: String,
    pub previous_scheduled_at: Option<i64>,
    pub created_at: i64,
    pub booking: serde_json::Value,
}

impl EventRow {
    /// The row for an event, with its booking snapshot as JSON.
    pub fn from_domain(e: &BookingEvent) -> Result<EventRow, StorageError> {
        let booking = serde_json::to_value(BookingSnapshot::from(&e.booking)).map_err(|err| {
            StorageError::Internal(format!("event {} snapshot to JSON: {err}", e.id))
        })?;
        Ok(EventRow {
            id: e.id.as_str().to_owned(),
            account_id: e.account_id.as_str().to_owned(),
            booking_id: e.booking.id.as_str().to_owned(),
            kind: e.kind.name().to_owned(),
            previous_scheduled_at: e.previous_scheduled_at.map(secs),
            created_at: secs(e.created_at),
            booking,
        })
    }

    /// Rebuilds the event and its booking snapshot.
    pub fn into_domain(self) -> Result<BookingEvent, StorageError> {
        const T: &str = "events";
        let id = self.id.as_str();
        let kind = EventKind::parse(&self.kind)
            .ok_or_else(|| corrupt(T, id, format!("unknown kind `{}`", self.kind)))?;
        let snapshot: BookingSnapshot = serde_json::from_value(self.booking)
            .map_err(|e| corrupt(T, id, format!("booking snapshot: {e}")))?;
        let booking = snapshot.into_domain("events.booking")?;
        Ok(BookingEvent {
            kind,
            booking,
            previous_scheduled_at: self
                .previous_scheduled_at
                .map(|s| instant(T, id, "previous_scheduled_at", s))
                .transpose()?,
            created_at: instant(T, id, "created_at", self.created_at)?,
            account_id: AccountId::from_trusted(self.account_id),
            id: EventId::from_trusted(self.id),
        })
    }
}
