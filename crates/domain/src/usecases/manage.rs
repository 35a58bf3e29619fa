//! Customer links: what a booking's customer can do with the link alone.
//!
//! Every booking gets a link when it is made. Its token is derived, not
//! stored: `HMAC-SHA256(server key, "manage/v1/{booking id}/{salt}")`, 192
//! bits, base64url, where `salt` is 128+ random bits kept with the booking.
//! The database keeps the salt and the SHA-256 of the token (to find the
//! booking), so showing the link again later derives the same token, while a
//! copy of the database alone (without the server key, which is sealed
//! under `BOOKING_SECRET_KEY` or given by `BOOKING_FEED_KEY`) reveals no
//! link. The key is the feed key, used with its own label.
//!
//! A link opens its booking only while the booking is active (pending or
//! confirmed) and has not ended; after that (cancelled, completed, ended) it
//! is as unknown as a wrong token. The customer's cancel and reschedule are
//! the API's, with the service's cutoffs on top, and their events carry
//! [`Actor::Customer`].

use jiff::Timestamp;

use super::availability::{AvailabilityError, AvailabilityQuery, resolve_range, service_counts};
use super::bookings::{BookingError, Bookings, Gate};
use super::links::{hash_manage_token, plausible_manage_token};
use super::port_sets::ManagePorts;
use crate::ports::StorageError;
use crate::scheduling::{Blockers, BusyTimes, Slot, SlotRules, available_slots, busy_lookup_range};
use crate::{Actor, Booking, Minutes, Service};

/// Why a customer call failed.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Wrong, malformed or dead token (404 NOT_FOUND; counts as a guess).
    #[error("unknown link")]
    NotFound,
    /// The lifecycle call itself failed (conflict, cutoff, state, storage).
    #[error(transparent)]
    Booking(#[from] BookingError),
    /// Slots could not be listed (bad range, storage).
    #[error(transparent)]
    Availability(#[from] AvailabilityError),
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A booking opened by its link, with its service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The booking.
    pub booking: Booking,
    /// Its service (for the time zone and the cutoffs).
    pub service: Service,
}

impl Opened {
    /// The last instant at which the customer may still cancel: the start
    /// less the cancel cutoff.
    pub fn cancel_deadline(&self) -> Timestamp {
        deadline(&self.booking, self.service.cancel_cutoff)
    }

    /// The same for rescheduling.
    pub fn reschedule_deadline(&self) -> Timestamp {
        deadline(&self.booking, self.service.reschedule_cutoff)
    }
}

fn deadline(booking: &Booking, cutoff: Minutes) -> Timestamp {
    booking
        .scheduled_at
        .checked_sub(cutoff.duration())
        .unwrap_or(Timestamp::MIN)
}

/// The customer's gate: the call is refused once `now` is past the start
/// less `cutoff` (a booking that has started is past any cutoff).
pub(super) fn cutoff_gate(cutoff: Minutes) -> Gate {
    Box::new(move |b: &Booking, now: Timestamp| {
        let deadline = deadline(b, cutoff);
        if now > deadline {
            Err(BookingError::CutoffPassed { deadline })
        } else {
            Ok(())
        }
    })
}

/// The customer-link use cases (no account: the token names the booking).
pub struct Manage<'a> {
    /// The ports.
    pub ports: ManagePorts<'a>,
    /// The key tokens are derived from.
    pub key: &'a [u8],
}

impl Manage<'_> {
    /// The booking a token opens, with its service: `NotFound` when the
    /// token is malformed or unknown, or its booking is no longer active or
    /// has ended.
    pub async fn open(&self, token: &str) -> Result<Opened, ManageError> {
        if !plausible_manage_token(token) {
            return Err(ManageError::NotFound);
        }
        let Some(booking) = self
            .ports
            .bookings
            .booking_by_link(&hash_manage_token(token))
            .await?
        else {
            return Err(ManageError::NotFound);
        };
        if !booking.status.is_active() || booking.end_at() <= self.ports.clock.now() {
            return Err(ManageError::NotFound);
        }
        let service = self
            .ports
            .services
            .get_service(&booking.account_id, &booking.service_id)
            .await?
            .ok_or_else(|| {
                StorageError::Internal(format!("booking {} has no service", booking.id))
            })?;
        Ok(Opened { booking, service })
    }

    fn bookings<'b>(&'b self, opened: &'b Opened) -> Bookings<'b> {
        Bookings {
            ports: self.ports.into(),
            account: &opened.booking.account_id,
            link_key: self.key,
        }
    }

    /// Free start times the booking could move to, in the requested range:
    /// the service's slots for the booking's own duration and buffers, with
    /// the booking itself not in the way.
    pub async fn slots(
        &self,
        opened: &Opened,
        query: AvailabilityQuery,
    ) -> Result<Vec<Slot>, ManageError> {
        let (service, booking) = (&opened.service, &opened.booking);
        let range = resolve_range(query, service.availability.timezone())
            .map_err(AvailabilityError::from)?;
        let rules = SlotRules {
            duration: booking.duration,
            buffer_before: booking.buffer_before,
            buffer_after: booking.buffer_after,
            ..service.slot_rules()
        };
        let busy = self
            .ports
            .bookings
            .busy_times(
                &booking.account_id,
                &service.provider_id,
                busy_lookup_range(&rules, range),
                Some(booking.id.clone()),
                self.ports.clock.now(),
            )
            .await?;
        let counts = service_counts(
            self.ports,
            &booking.account_id,
            service,
            range,
            Some(&booking.id),
        )
        .await?;
        let blockers = Blockers::from_busy(BusyTimes::from_ascending(busy));
        Ok(available_slots(
            &rules,
            range,
            self.ports.clock.now(),
            &blockers,
            &counts,
        ))
    }

    /// Cancels the booking, unless the service's cancel cutoff has passed
    /// (`CutoffPassed`).
    pub async fn cancel(
        &self,
        opened: &Opened,
        reason: Option<String>,
    ) -> Result<Booking, ManageError> {
        Ok(self
            .bookings(opened)
            .cancel_as(
                opened.booking.id.as_str(),
                reason,
                Actor::Customer,
                cutoff_gate(opened.service.cancel_cutoff),
            )
            .await?)
    }

    /// Moves the booking to `start` (checked as the API's reschedule
    /// checks it), unless the service's reschedule cutoff has passed for
    /// its current start (`CutoffPassed`).
    pub async fn reschedule(
        &self,
        opened: &Opened,
        start: Timestamp,
    ) -> Result<Booking, ManageError> {
        Ok(self
            .bookings(opened)
            .reschedule_as(
                opened.booking.id.as_str(),
                start,
                Actor::Customer,
                cutoff_gate(opened.service.reschedule_cutoff),
            )
            .await?)
    }
}
