//! The column values of each table and their conversions to and from the
//! domain. Instants are unix seconds, durations minutes, weekdays a bit mask.

use std::collections::BTreeMap;

use booking_domain::ports::StorageError;
use booking_domain::{
    AccountId, Booking, BookingEvent, BookingId, BookingStatus, Customer, Email, EventId,
    EventKind, LocalTime, Metadata, Price, PriceType, Provider, ProviderId, Service, ServiceId,
    Timezone, WeeklyAvailability, occupied_range,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    JsonColumn, corrupt, day_bits, days_from_bits, instant, minutes, minutes_i64, money, secs,
};

// ---------------------------------------------------------------- providers

/// The columns of a `providers` row (without `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderColumns {
    /// `id`.
    pub id: String,
    /// `account_id`.
    pub account_id: String,
    /// `name`.
    pub name: String,
    /// `email`.
    pub email: Option<String>,
    /// `is_default`.
    pub is_default: bool,
    /// `created_at`, unix seconds.
    pub created_at: i64,
    /// `updated_at`, unix seconds.
    pub updated_at: i64,
}

impl ProviderColumns {
    /// The columns for a provider.
    pub fn from_domain(p: &Provider) -> ProviderColumns {
        ProviderColumns {
            id: p.id.as_str().to_owned(),
            account_id: p.account_id.as_str().to_owned(),
            name: p.name.clone(),
            email: p.email.as_ref().map(|e| e.as_str().to_owned()),
            is_default: p.is_default,
            created_at: secs(p.created_at),
            updated_at: secs(p.updated_at),
        }
    }

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

/// The columns of a `services` row (without `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceColumns {
    /// `id`.
    pub id: String,
    /// `account_id`.
    pub account_id: String,
    /// `provider_id`.
    pub provider_id: String,
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: Option<String>,
    /// `duration_min`, minutes.
    pub duration_min: i64,
    /// `price_minor`, minor units of `currency`.
    pub price_minor: i64,
    /// `currency`, an ISO 4217 code.
    pub currency: String,
    /// `price_type`.
    pub price_type: String,
    /// `days`, bit `Weekday::index()` set for each available day.
    pub days: i64,
    /// `start_min`, minutes after local midnight.
    pub start_min: i64,
    /// `end_min`, minutes after local midnight.
    pub end_min: i64,
    /// `timezone`, an IANA name.
    pub timezone: String,
    /// `buffer_before`, minutes.
    pub buffer_before: i64,
    /// `buffer_after`, minutes.
    pub buffer_after: i64,
    /// `minimum_notice`, minutes.
    pub minimum_notice: i64,
    /// `auto_confirm`.
    pub auto_confirm: bool,
    /// `archived`.
    pub archived: bool,
    /// `created_at`, unix seconds.
    pub created_at: i64,
    /// `updated_at`, unix seconds.
    pub updated_at: i64,
}

impl ServiceColumns {
    /// The columns for a service.
    pub fn from_domain(s: &Service) -> ServiceColumns {
        let a = &s.availability;
        ServiceColumns {
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

/// A booking as stored, with its metadata as `M`: the columns of a
/// `bookings` row (without `seq`) as [`BookingColumns`] (metadata as a JSON
/// column), and the snapshot kept with each event as [`BookingSnapshot`]
/// (metadata as a map). `end_at` and the occupied range are derived from the
/// booking when it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingFields<M> {
    /// `id`.
    pub id: String,
    /// `account_id`.
    pub account_id: String,
    /// `service_id`.
    pub service_id: String,
    /// `provider_id`.
    pub provider_id: String,
    /// `duration_min`, minutes.
    pub duration_min: i64,
    /// `scheduled_at`, unix seconds.
    pub scheduled_at: i64,
    /// `end_at`, unix seconds (derived).
    pub end_at: i64,
    /// `occupied_start`, unix seconds: the start less the buffer before (derived).
    pub occupied_start: i64,
    /// `occupied_end`, unix seconds: the end plus the buffer after (derived).
    pub occupied_end: i64,
    /// `buffer_before`, minutes.
    pub buffer_before: i64,
    /// `buffer_after`, minutes.
    pub buffer_after: i64,
    /// `status`.
    pub status: String,
    /// `customer_email`.
    pub customer_email: String,
    /// `customer_name`.
    pub customer_name: String,
    /// `price_minor`, minor units of `currency`.
    pub price_minor: i64,
    /// `currency`, an ISO 4217 code.
    pub currency: String,
    /// `notes`.
    pub notes: Option<String>,
    /// `metadata`.
    pub metadata: M,
    /// `cancel_reason`.
    pub cancel_reason: Option<String>,
    /// `sequence`.
    pub sequence: i64,
    /// `created_at`, unix seconds.
    pub created_at: i64,
    /// `updated_at`, unix seconds.
    pub updated_at: i64,
}

/// The columns of a `bookings` row, the metadata as a JSON column `J`.
pub type BookingColumns<J> = BookingFields<J>;

/// The JSON snapshot of a booking kept with each event (`events.booking`):
/// what the webhooks worker sends. Instants are unix seconds. Both SQL stores
/// write this one shape, so readers of either store's events agree.
pub type BookingSnapshot = BookingFields<BTreeMap<String, String>>;

impl<M> BookingFields<M> {
    /// The same booking with its metadata mapped by `f`.
    pub fn try_map_metadata<N, E>(
        self,
        f: impl FnOnce(M) -> Result<N, E>,
    ) -> Result<BookingFields<N>, E> {
        Ok(BookingFields {
            metadata: f(self.metadata)?,
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
            cancel_reason: self.cancel_reason,
            sequence: self.sequence,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
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
    /// Rebuilds the booking; `table` names where the data came from in errors.
    pub fn into_domain(self, table: &str) -> Result<Booking, StorageError> {
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

impl<J: JsonColumn> BookingColumns<J> {
    /// The columns for a booking.
    pub fn from_domain(b: &Booking) -> Result<BookingColumns<J>, StorageError> {
        BookingSnapshot::from(b).try_map_metadata(|m| {
            J::encode(&m)
                .map_err(|e| StorageError::Internal(format!("booking metadata to JSON: {e}")))
        })
    }

    /// Rebuilds the booking.
    pub fn into_domain(self) -> Result<Booking, StorageError> {
        let id = self.id.clone();
        self.try_map_metadata(|m| {
            m.decode::<BTreeMap<String, String>>()
                .map_err(|e| corrupt("bookings", &id, format!("metadata: {e}")))
        })?
        .into_domain("bookings")
    }
}

// ---------------------------------------------------------------- events

/// The columns of an `events` row (without `seq`), the booking snapshot as
/// a JSON column `J`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventColumns<J> {
    /// `id`.
    pub id: String,
    /// `account_id`.
    pub account_id: String,
    /// `booking_id`.
    pub booking_id: String,
    /// `kind`.
    pub kind: String,
    /// `previous_scheduled_at`, unix seconds.
    pub previous_scheduled_at: Option<i64>,
    /// `created_at`, unix seconds.
    pub created_at: i64,
    /// `booking`: the [`BookingSnapshot`] as JSON.
    pub booking: J,
}

impl<J: JsonColumn> EventColumns<J> {
    /// The columns for an event, with its booking snapshot as JSON.
    pub fn from_domain(e: &BookingEvent) -> Result<EventColumns<J>, StorageError> {
        let booking = J::encode(&BookingSnapshot::from(&e.booking)).map_err(|err| {
            StorageError::Internal(format!("event {} snapshot to JSON: {err}", e.id))
        })?;
        Ok(EventColumns {
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
        let snapshot: BookingSnapshot = self
            .booking
            .decode()
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
