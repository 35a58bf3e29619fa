//! Creating bookings and moving them through their lifecycle.

use jiff::Timestamp;

use crate::ports::{
    BookingFilter, ConvertHoldError, CreateBookingError, DailyCap, Page, PageRequest, Ports,
    StorageError, UpdateBookingError,
};
use crate::scheduling::{Blockers, DailyCounts, Reason, SlotRules, check, counted_day, explain};

use super::availability::explain_inputs;
use crate::{
    AccountId, Booking, BookingEvent, BookingId, BookingStatus, Customer, EventId, EventKind, Hold,
    HoldId, IdKind, InvalidTransition, Metadata, Service, ServiceId, ValidationError,
};

/// How far ahead `next_available` looks.
pub const NEXT_AVAILABLE_HORIZON_DAYS: i64 = 62;

/// How often a lifecycle call retries after losing a race.
const MAX_STALE_RETRIES: usize = 3;

/// A booking request, validated field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBooking {
    /// The service id as given.
    pub service: String,
    /// Requested start.
    pub scheduled_at: Timestamp,
    /// Who books.
    pub customer: Customer,
    /// Notes.
    pub notes: Option<String>,
    /// Metadata.
    pub metadata: Metadata,
    /// The hold to turn into this booking (`None`: no hold).
    pub hold_id: Option<String>,
}

/// Why a booking call failed.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// Unknown or archived service (422 INVALID_SERVICE).
    #[error("unknown or archived service")]
    InvalidService,
    /// No such booking (404 NOT_FOUND).
    #[error("booking not found")]
    NotFound,
    /// The time is not available (409 BOOKING_CONFLICT).
    #[error("the requested time slot is not available")]
    Conflict {
        /// The requested start.
        requested: Timestamp,
        /// The first free slot at or after it within 62 days.
        next_available: Option<Timestamp>,
        /// Every rule the time breaks, as explain lists them (empty only
        /// when what blocked it was gone by the time it was explained).
        reasons: Vec<Reason>,
    },
    /// Not allowed from the current status (409 INVALID_STATE).
    #[error(transparent)]
    InvalidState(#[from] InvalidTransition),
    /// The `hold_id` is unknown in the account, expired, or already used
    /// (409 HOLD_EXPIRED).
    #[error("the hold is unknown or expired")]
    HoldExpired,
    /// Bad input.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Booking use cases for one account.
pub struct Bookings<'a> {
    /// The ports.
    pub ports: &'a Ports,
    /// The account acting.
    pub account: &'a AccountId,
}

pub(crate) fn check_whole_minute(t: Timestamp) -> Result<(), ValidationError> {
    if t.as_second().rem_euclid(60) != 0 || t.subsec_nanosecond() != 0 {
        return Err(ValidationError::new(
            "scheduled_at",
            "must be a whole minute",
        ));
    }
    Ok(())
}

impl Bookings<'_> {
    fn event(
        &self,
        kind: EventKind,
        booking: &Booking,
        previous: Option<Timestamp>,
    ) -> BookingEvent {
        BookingEvent {
            id: EventId::from_trusted(self.ports.ids.new_id(IdKind::Event)),
            account_id: self.account.clone(),
            kind,
            booking: booking.clone(),
            previous_scheduled_at: previous,
            created_at: booking.updated_at,
        }
    }

    /// The conflict error for `requested`: every reason, as explain gives
    /// them, and the next free slot.
    pub(crate) async fn conflict(
        &self,
        service: &Service,
        rules: &SlotRules<'_>,
        requested: Timestamp,
        excluding: Option<&BookingId>,
    ) -> BookingError {
        match explain_inputs(
            self.ports,
            self.account,
            service,
            rules,
            requested,
            excluding,
        )
        .await
        {
            Ok((blockers, counts)) => {
                let e = explain(rules, requested, self.ports.clock.now(), &blockers, &counts);
                BookingError::Conflict {
                    requested,
                    next_available: e.next_available,
                    reasons: e.reasons,
                }
            }
            Err(e) => BookingError::Storage(e),
        }
    }

    /// The daily cap the store checks for a booking of `service` starting at
    /// `start` (`None`: no cap, or a day that cannot be represented, where
    /// no slot exists anyway).
    pub(crate) fn daily_cap(service: &Service, start: Timestamp) -> Option<DailyCap> {
        let limit = service.max_bookings_per_day?;
        let (_, day) = counted_day(service.availability.timezone(), start);
        day.map(|day| DailyCap { limit, day })
    }

    /// The service a booking request names (`None`: no such service), as
    /// [`Bookings::create_for`] wants it. Callers may load it while doing
    /// something else (the HTTP handler does so beside the rate-limit
    /// check, sparing a sequential round trip).
    pub async fn service_for(&self, id: &str) -> Result<Option<Service>, StorageError> {
        match ServiceId::parse(id) {
            Some(id) => {
                self.ports
                    .services
                    .get_service_cached(self.account, &id)
                    .await
            }
            None => Ok(None),
        }
    }

    /// Books a service. See the contract: the start must be a whole minute and
    /// a valid slot start (not necessarily on the grid).
    pub async fn create(&self, new: NewBooking) -> Result<Booking, BookingError> {
        let service = self.service_for(&new.service).await?;
        self.create_for(new, service).await
    }

    /// [`Bookings::create`] with the service already loaded by
    /// [`Bookings::service_for`] for `new.service`.
    pub async fn create_for(
        &self,
        new: NewBooking,
        service: Option<Service>,
    ) -> Result<Booking, BookingError> {
        let service = match service {
            Some(s) if !s.archived && s.id.as_str() == new.service => s,
            _ => return Err(BookingError::InvalidService),
        };
        if let Some(hold) = new.hold_id.clone() {
            return self.create_from_hold(new, &hold, service).await;
        }
        check_whole_minute(new.scheduled_at)?;
        let rules = service.slot_rules();
        let now = self.ports.clock.now();
        // Hours, notice and horizon need no I/O. Busy time (other bookings,
        // time off, external calendars) and the daily cap are the store's
        // job: its checks are atomic with the insert.
        if check(
            &rules,
            new.scheduled_at,
            now,
            &Blockers::default(),
            &DailyCounts::default(),
        )
        .is_err()
        {
            return Err(self
                .conflict(&service, &rules, new.scheduled_at, None)
                .await);
        }
        let (booking, events) = self.new_booking(&service, new, now);
        let inserted = match Self::daily_cap(&service, booking.scheduled_at) {
            Some(cap) => {
                self.ports
                    .bookings
                    .insert_booking_capped(&booking, &events, &cap)
                    .await
            }
            None => self.ports.bookings.insert_booking(&booking, &events).await,
        };
        match inserted {
            Ok(()) => Ok(booking),
            Err(CreateBookingError::Conflict) => Err(self
                .conflict(&service, &rules, booking.scheduled_at, None)
                .await),
            Err(CreateBookingError::Storage(e)) => Err(e.into()),
        }
    }

    /// The booking `new` asks for at `now`, with its events (created, and
    /// confirmed when the service auto-confirms).
    fn new_booking(
        &self,
        service: &Service,
        new: NewBooking,
        now: Timestamp,
    ) -> (Booking, Vec<BookingEvent>) {
        let mut booking = Booking {
            id: BookingId::from_trusted(self.ports.ids.new_id(IdKind::Booking)),
            account_id: self.account.clone(),
            service_id: service.id.clone(),
            provider_id: service.provider_id.clone(),
            duration: service.duration,
            scheduled_at: new.scheduled_at,
            buffer_before: service.buffer_before,
            buffer_after: service.buffer_after,
            status: BookingStatus::Pending,
            customer: new.customer,
            price: service.price.for_booking(service.duration),
            notes: new.notes,
            metadata: new.metadata,
            cancel_reason: None,
            sequence: 0,
            created_at: now,
            updated_at: now,
        };
        let mut events = vec![self.event(EventKind::Created, &booking, None)];
        if service.auto_confirm {
            booking.status = BookingStatus::Confirmed;
            events.push(self.event(EventKind::Confirmed, &booking, None));
        }
        (booking, events)
    }

    /// Books the time of the hold `hold_id` and ends the hold, atomically.
    ///
    /// The hold must be the account's, unexpired, and for the same service
    /// and start (else VALIDATION_ERROR on `hold_id`). The service's rules
    /// (hours, notice, horizon) are judged as they were when the hold was
    /// made: the hold promised the time then. What the store checks
    /// atomically (time off, external busy time, the daily cap, other
    /// bookings and holds) is checked again now.
    async fn create_from_hold(
        &self,
        new: NewBooking,
        hold_id: &str,
        service: Service,
    ) -> Result<Booking, BookingError> {
        let hold = self.live_hold(hold_id).await?;
        if hold.service_id != service.id || hold.scheduled_at != new.scheduled_at {
            return Err(ValidationError::new(
                "hold_id",
                "the hold is for another service or time: service and scheduled_at must match it",
            )
            .into());
        }
        let rules = service.slot_rules();
        if check(
            &rules,
            hold.scheduled_at,
            hold.created_at,
            &Blockers::default(),
            &DailyCounts::default(),
        )
        .is_err()
        {
            return Err(self
                .conflict(&service, &rules, new.scheduled_at, None)
                .await);
        }
        let now = self.ports.clock.now();
        let (booking, events) = self.new_booking(&service, new, now);
        let cap = Self::daily_cap(&service, booking.scheduled_at);
        match self
            .ports
            .bookings
            .insert_booking_from_hold(&booking, &events, &hold.id, cap)
            .await
        {
            Ok(()) => Ok(booking),
            Err(ConvertHoldError::HoldGone) => Err(BookingError::HoldExpired),
            Err(ConvertHoldError::Conflict) => Err(self
                .conflict(&service, &rules, booking.scheduled_at, None)
                .await),
            Err(ConvertHoldError::Storage(e)) => Err(e.into()),
        }
    }

    /// The account's hold `id`, unexpired now; else `HoldExpired`.
    async fn live_hold(&self, id: &str) -> Result<Hold, BookingError> {
        let id = HoldId::parse(id).ok_or(BookingError::HoldExpired)?;
        match self.ports.bookings.get_hold(self.account, &id).await? {
            Some(hold) if hold.is_live(self.ports.clock.now()) => Ok(hold),
            _ => Err(BookingError::HoldExpired),
        }
    }

    /// A booking.
    pub async fn get(&self, id: &str) -> Result<Booking, BookingError> {
        let id = BookingId::parse(id).ok_or(BookingError::NotFound)?;
        self.ports
            .bookings
            .get_booking(self.account, &id)
            .await?
            .ok_or(BookingError::NotFound)
    }

    /// Bookings matching a filter.
    pub async fn list(
        &self,
        filter: &BookingFilter,
        page: PageRequest,
    ) -> Result<Page<Booking>, BookingError> {
        Ok(self
            .ports
            .bookings
            .list_bookings(self.account, filter, page)
            .await?)
    }

    /// The events recorded for a booking.
    pub async fn events(&self, id: &str) -> Result<Vec<BookingEvent>, BookingError> {
        let booking = self.get(id).await?;
        Ok(self
            .ports
            .bookings
            .booking_events(self.account, &booking.id)
            .await?)
    }

    /// Applies a simple transition (no time change), retrying when a
    /// concurrent change wins the race.
    async fn transition(
        &self,
        id: &str,
        kind: EventKind,
        step: impl Fn(&Booking, Timestamp) -> Result<Booking, InvalidTransition>,
    ) -> Result<Booking, BookingError> {
        for _ in 0..MAX_STALE_RETRIES {
            let current = self.get(id).await?;
            let updated = step(&current, self.ports.clock.now())?;
            let events = [self.event(kind, &updated, None)];
            match self
                .ports
                .bookings
                .update_booking(&current, &updated, &events)
                .await
            {
                Ok(()) => return Ok(updated),
                Err(UpdateBookingError::Stale) => continue,
                // The time does not change, so it cannot newly conflict; a
                // store that says so anyway is treated as a race.
                Err(UpdateBookingError::Conflict) => continue,
                Err(UpdateBookingError::Storage(e)) => return Err(e.into()),
            }
        }
        Err(StorageError::Unavailable("booking kept changing concurrently".into()).into())
    }

    /// pending → confirmed.
    pub async fn confirm(&self, id: &str) -> Result<Booking, BookingError> {
        self.transition(id, EventKind::Confirmed, |b, now| b.confirm(now))
            .await
    }

    /// pending or confirmed → cancelled; frees the time at once.
    pub async fn cancel(&self, id: &str, reason: Option<String>) -> Result<Booking, BookingError> {
        self.transition(id, EventKind::Cancelled, |b, now| {
            b.cancel(reason.clone(), now)
        })
        .await
    }

    /// confirmed → completed, once it has ended.
    pub async fn complete(&self, id: &str) -> Result<Booking, BookingError> {
        self.transition(id, EventKind::Completed, |b, now| b.complete(now))
            .await
    }

    /// Moves a pending or confirmed booking, checking the new time as creation
    /// does (ignoring the booking itself).
    pub async fn reschedule(&self, id: &str, start: Timestamp) -> Result<Booking, BookingError> {
        check_whole_minute(start)?;
        for _ in 0..MAX_STALE_RETRIES {
            let current = self.get(id).await?;
            let updated = current.reschedule(start, self.ports.clock.now())?;
            // The service's current hours and notice, with the booking's own
            // duration and buffers (copied at booking time).
            let service = self
                .ports
                .services
                .get_service(self.account, &current.service_id)
                .await?
                .ok_or_else(|| {
                    StorageError::Internal(format!("booking {} has no service", current.id))
                })?;
            let rules = SlotRules {
                availability: &service.availability,
                duration: current.duration,
                buffer_before: current.buffer_before,
                buffer_after: current.buffer_after,
                minimum_notice: service.minimum_notice,
                slot_interval: service.slot_interval,
                booking_horizon: service.booking_horizon,
                max_bookings_per_day: service.max_bookings_per_day,
            };
            let (blockers, counts) = explain_inputs(
                self.ports,
                self.account,
                &service,
                &rules,
                start,
                Some(&current.id),
            )
            .await?;
            let now = self.ports.clock.now();
            if let Err(reasons) = check(&rules, start, now, &blockers, &counts) {
                let e = explain(&rules, start, now, &blockers, &counts);
                return Err(BookingError::Conflict {
                    requested: start,
                    next_available: e.next_available,
                    reasons,
                });
            }
            let events = [self.event(EventKind::Rescheduled, &updated, Some(current.scheduled_at))];
            let written = match Self::daily_cap(&service, start) {
                Some(cap) => {
                    self.ports
                        .bookings
                        .update_booking_capped(&current, &updated, &events, &cap)
                        .await
                }
                None => {
                    self.ports
                        .bookings
                        .update_booking(&current, &updated, &events)
                        .await
                }
            };
            match written {
                Ok(()) => return Ok(updated),
                Err(UpdateBookingError::Stale) => continue,
                Err(UpdateBookingError::Conflict) => {
                    return Err(self
                        .conflict(&service, &rules, start, Some(&current.id))
                        .await);
                }
                Err(UpdateBookingError::Storage(e)) => return Err(e.into()),
            }
        }
        Err(StorageError::Unavailable("booking kept changing concurrently".into()).into())
    }
}

/// Automatic completion: moves up to `limit` confirmed bookings whose end has
/// passed to `completed`, each with its `booking.completed` event, and
/// returns how many it moved. Safe to run from several processes at once:
/// each change is conditional on the booking being unchanged, so of two
/// processes completing the same booking one finds it stale and skips it.
pub async fn complete_ended(ports: &Ports, limit: u32) -> Result<usize, StorageError> {
    let now = ports.clock.now();
    let due = ports.bookings.due_for_completion(now, limit).await?;
    let mut done = 0;
    for booking in due {
        let Ok(completed) = booking.complete(now) else {
            continue;
        };
        let event = BookingEvent {
            id: EventId::from_trusted(ports.ids.new_id(IdKind::Event)),
            account_id: booking.account_id.clone(),
            kind: EventKind::Completed,
            booking: completed.clone(),
            previous_scheduled_at: None,
            created_at: now,
        };
        match ports
            .bookings
            .update_booking(&booking, &completed, &[event])
            .await
        {
            Ok(()) => done += 1,
            // Another process (or a provider's call) changed it first.
            Err(UpdateBookingError::Stale | UpdateBookingError::Conflict) => {}
            Err(UpdateBookingError::Storage(e)) => return Err(e),
        }
    }
    Ok(done)
}
