//! Bookings, their lifecycle, and the events each transition yields.
//!
//! ```text
//!            confirm            complete (end_at passed)
//! pending ───────────▶ confirmed ───────────────────────▶ completed
//!    │                    │
//!    └──── cancel ────────┴──────▶ cancelled
//! ```
//! Reschedule keeps the status (pending or confirmed) and moves the time.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;

use crate::{
    AccountId, BookingId, EventId, Minutes, Money, ProviderId, ServiceId, TimeRange,
    ValidationError,
};

/// A validated email address (pragmatic check: `local@domain.tld`, no spaces, at most 254 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Validates an address; `field` names it in the error.
    pub fn parse(text: &str, field: &str) -> Result<Email, ValidationError> {
        let invalid = || ValidationError::new(field, "must be a valid email address");
        if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = text.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Email(text.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The person who booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Their email.
    pub email: Email,
    /// Their name, 1-200 characters.
    pub name: String,
}

/// Free-form string metadata: at most 50 keys of 1-40 characters, values up to 500.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Validates the limits.
    pub fn new(map: BTreeMap<String, String>) -> Result<Metadata, ValidationError> {
        if map.len() > 50 {
            return Err(ValidationError::new("metadata", "at most 50 keys"));
        }
        for (k, v) in &map {
            if k.is_empty() || k.chars().count() > 40 {
                return Err(ValidationError::new(
                    "metadata",
                    "keys must be 1-40 characters",
                ));
            }
            if v.chars().count() > 500 {
                return Err(ValidationError::new(
                    format!("metadata.{k}"),
                    "values must be at most 500 characters",
                ));
            }
        }
        Ok(Metadata(map))
    }

    /// The entries, sorted by key.
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// Validates booking notes (at most 5,000 characters).
pub fn validate_notes(text: &str) -> Result<String, ValidationError> {
    if text.chars().count() > 5000 {
        return Err(ValidationError::new(
            "notes",
            "must be at most 5000 characters",
        ));
    }
    Ok(text.to_owned())
}

/// Where a booking is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookingStatus {
    /// Awaiting the provider's confirmation. Holds its time.
    Pending,
    /// Confirmed. Holds its time.
    Confirmed,
    /// Cancelled; its time is free again.
    Cancelled,
    /// Took place.
    Completed,
}

impl BookingStatus {
    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            BookingStatus::Pending => "pending",
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Completed => "completed",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<BookingStatus> {
        [
            BookingStatus::Pending,
            BookingStatus::Confirmed,
            BookingStatus::Cancelled,
            BookingStatus::Completed,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// Whether a booking in this status holds its time (pending or confirmed).
    pub fn is_active(self) -> bool {
        matches!(self, BookingStatus::Pending | BookingStatus::Confirmed)
    }
}

impl fmt::Display for BookingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a booking's customer link is made of: a random salt the token is
/// derived from (with the server key, see `usecases::manage`) and the
/// token's SHA-256, by which the link finds the booking. The token itself is
/// never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManageLink {
    /// At least 128 random bits, base62.
    pub salt: String,
    /// SHA-256 of the token, lowercase hex.
    pub hash: String,
}

/// A booking. `duration`, buffers and `price` are copied from the service at
/// booking time, so later edits to the service never change existing bookings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// Id (`bk_…`).
    pub id: BookingId,
    /// Owning account.
    pub account_id: AccountId,
    /// Booked service.
    pub service_id: ServiceId,
    /// Booked provider (of a collective booking: the first of
    /// `provider_ids`).
    pub provider_id: ProviderId,
    /// Every provider a collective booking blocks, `provider_id` first;
    /// empty for a booking of one provider.
    pub provider_ids: Vec<ProviderId>,
    /// Length.
    pub duration: Minutes,
    /// Start.
    pub scheduled_at: Timestamp,
    /// Buffer before, copied from the service.
    pub buffer_before: Minutes,
    /// Buffer after, copied from the service.
    pub buffer_after: Minutes,
    /// Lifecycle state.
    pub status: BookingStatus,
    /// Who booked.
    pub customer: Customer,
    /// What it costs.
    pub price: Money,
    /// Customer's notes.
    pub notes: Option<String>,
    /// Caller metadata.
    pub metadata: Metadata,
    /// Why it was cancelled, when it was.
    pub cancel_reason: Option<String>,
    /// Raised by one on each reschedule (the iCal `SEQUENCE`).
    pub sequence: u32,
    /// Creation instant.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// The customer link (`None` only for bookings made before links
    /// existed).
    pub link: Option<ManageLink>,
}

/// A lifecycle call that the booking's current status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {status} booking cannot be {action}")]
pub struct InvalidTransition {
    /// The current status.
    pub status: BookingStatus,
    /// What was attempted (`confirmed`, `cancelled`, …).
    pub action: &'static str,
}

impl Booking {
    /// When it ends: `scheduled_at + duration`.
    pub fn end_at(&self) -> Timestamp {
        self.scheduled_at
            .checked_add(self.duration.duration())
            .unwrap_or(Timestamp::MAX)
    }

    /// Every provider whose time it occupies: `provider_ids` of a
    /// collective booking, else `provider_id`.
    pub fn providers(&self) -> &[ProviderId] {
        if self.provider_ids.is_empty() {
            std::slice::from_ref(&self.provider_id)
        } else {
            &self.provider_ids
        }
    }

    /// The time it occupies for conflicts: `[start - buffer_before, end + buffer_after)`.
    pub fn occupied(&self) -> TimeRange {
        occupied_range(
            self.scheduled_at,
            self.duration,
            self.buffer_before,
            self.buffer_after,
        )
    }

    fn require(
        &self,
        allowed: &[BookingStatus],
        action: &'static str,
    ) -> Result<(), InvalidTransition> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(InvalidTransition {
                status: self.status,
                action,
            })
        }
    }

    /// pending → confirmed.
    pub fn confirm(&self, now: Timestamp) -> Result<Booking, InvalidTransition> {
        self.require(&[BookingStatus::Pending], "confirmed")?;
        Ok(Booking {
            status: BookingStatus::Confirmed,
            updated_at: now,
            ..self.clone()
        })
    }

    /// pending or confirmed → cancelled.
    pub fn cancel(
        &self,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Booking, InvalidTransition> {
        self.require(
            &[BookingStatus::Pending, BookingStatus::Confirmed],
            "cancelled",
        )?;
        Ok(Booking {
            status: BookingStatus::Cancelled,
            cancel_reason: reason,
            updated_at: now,
            ..self.clone()
        })
    }

    /// pending or confirmed: same status, new start, `sequence + 1`.
    pub fn reschedule(
        &self,
        start: Timestamp,
        now: Timestamp,
    ) -> Result<Booking, InvalidTransition> {
        self.require(
            &[BookingStatus::Pending, BookingStatus::Confirmed],
            "rescheduled",
        )?;
        Ok(Booking {
            scheduled_at: start,
            sequence: self.sequence.saturating_add(1),
            updated_at: now,
            ..self.clone()
        })
    }

    /// confirmed → completed, once `end_at` has passed.
    pub fn complete(&self, now: Timestamp) -> Result<Booking, InvalidTransition> {
        self.require(&[BookingStatus::Confirmed], "completed")?;
        if self.end_at() > now {
            return Err(InvalidTransition {
                status: self.status,
                action: "completed before it has ended",
            });
        }
        Ok(Booking {
            status: BookingStatus::Completed,
            updated_at: now,
            ..self.clone()
        })
    }
}

/// The range a booking at `start` occupies, buffers included.
pub fn occupied_range(
    start: Timestamp,
    duration: Minutes,
    before: Minutes,
    after: Minutes,
) -> TimeRange {
    TimeRange::starting_at(start, duration).widened(before, after)
}

/// The kinds of booking events (webhook `event` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `booking.created`
    Created,
    /// `booking.confirmed`
    Confirmed,
    /// `booking.cancelled`
    Cancelled,
    /// `booking.rescheduled`
    Rescheduled,
    /// `booking.completed`
    Completed,
    /// `booking.reminder`: a service's reminder offset before the start was
    /// reached (not among an endpoint's default events).
    Reminder,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 6] = [
        EventKind::Created,
        EventKind::Confirmed,
        EventKind::Cancelled,
        EventKind::Rescheduled,
        EventKind::Completed,
        EventKind::Reminder,
    ];

    /// Wire name (`booking.created`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Created => "booking.created",
            EventKind::Confirmed => "booking.confirmed",
            EventKind::Cancelled => "booking.cancelled",
            EventKind::Rescheduled => "booking.rescheduled",
            EventKind::Completed => "booking.completed",
            EventKind::Reminder => "booking.reminder",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Who caused an event (`actor` in webhook bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// An API key holder.
    Api,
    /// The customer, through their link.
    Customer,
    /// The server itself (automatic completion).
    System,
}

impl Actor {
    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            Actor::Api => "api",
            Actor::Customer => "customer",
            Actor::System => "system",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Actor> {
        [Actor::Api, Actor::Customer, Actor::System]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

/// Something that happened to a booking, recorded in the same transaction as
/// the change itself (the outbox webhooks deliver from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingEvent {
    /// Id (`evt_…`): the webhook id.
    pub id: EventId,
    /// Owning account.
    pub account_id: AccountId,
    /// What happened.
    pub kind: EventKind,
    /// Who caused it.
    pub actor: Actor,
    /// The booking as it stood right after the change.
    pub booking: Booking,
    /// For `booking.rescheduled`: the start before the change.
    pub previous_scheduled_at: Option<Timestamp>,
    /// For `booking.reminder`: the offset (minutes before the start).
    pub reminder_offset: Option<Minutes>,
    /// When it happened.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking(status: BookingStatus) -> Booking {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let usd = crate::Currency::parse("USD").unwrap();
        Booking {
            id: BookingId::from_trusted("bk_1"),
            account_id: AccountId::from_trusted("acc_1"),
            service_id: ServiceId::from_trusted("srv_1"),
            provider_id: ProviderId::from_trusted("prv_1"),
            provider_ids: Vec::new(),
            duration: Minutes::new(60),
            scheduled_at: t("2027-01-18T15:00:00Z"),
            buffer_before: Minutes::new(10),
            buffer_after: Minutes::new(5),
            status,
            customer: Customer {
                email: Email::parse("c@example.com", "e").unwrap(),
                name: "C".into(),
            },
            price: Money::from_minor(15000, usd).unwrap(),
            notes: None,
            metadata: Metadata::default(),
            cancel_reason: None,
            sequence: 0,
            created_at: t("2027-01-01T00:00:00Z"),
            updated_at: t("2027-01-01T00:00:00Z"),
            link: None,
        }
    }

    #[test]
    fn complete_needs_confirmed_and_the_end_passed() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let b = booking(BookingStatus::Confirmed);
        assert_eq!(b.end_at(), t("2027-01-18T16:00:00Z"));
        assert!(b.complete(t("2027-01-18T15:59:59Z")).is_err());
        let done = b.complete(t("2027-01-18T16:00:00Z")).unwrap();
        assert_eq!(done.status, BookingStatus::Completed);
        assert_eq!(done.updated_at, t("2027-01-18T16:00:00Z"));
        let err = booking(BookingStatus::Pending)
            .complete(t("2027-02-01T00:00:00Z"))
            .unwrap_err();
        assert_eq!(err.status, BookingStatus::Pending);
        assert!(done.complete(t("2027-02-01T00:00:00Z")).is_err());
    }

    #[test]
    fn lifecycle_table() {
        let now: Timestamp = "2027-01-10T00:00:00Z".parse().unwrap();
        use BookingStatus::*;
        for (from, confirm, cancel, reschedule) in [
            (Pending, true, true, true),
            (Confirmed, false, true, true),
            (Cancelled, false, false, false),
            (Completed, false, false, false),
        ] {
            let b = booking(from);
            assert_eq!(b.confirm(now).is_ok(), confirm, "{from} confirm");
            assert_eq!(b.cancel(None, now).is_ok(), cancel, "{from} cancel");
            let moved = b.reschedule(b.scheduled_at, now);
            assert_eq!(moved.is_ok(), reschedule, "{from} reschedule");
            if let Ok(m) = moved {
                assert_eq!((m.status, m.sequence), (from, 1));
            }
        }
        assert!(
            booking(Confirmed)
                .cancel(Some("sick".into()), now)
                .unwrap()
                .cancel_reason
                .is_some()
        );
    }

    #[test]
    fn occupied_includes_both_buffers() {
        let b = booking(BookingStatus::Pending);
        let r = b.occupied();
        assert_eq!(
            r.start(),
            "2027-01-18T14:50:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            r.end(),
            "2027-01-18T16:05:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(!BookingStatus::Cancelled.is_active() && BookingStatus::Confirmed.is_active());
    }

    #[test]
    fn emails() {
        assert!(Email::parse("customer@example.com", "e").is_ok());
        for bad in [
            "", "a", "a@b", "@b.c", "a@.c", "a b@c.d", "a@b.c.", "a@@b.c",
        ] {
            assert!(Email::parse(bad, "e").is_err(), "{bad}");
        }
    }
}
