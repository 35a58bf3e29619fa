//! Creating bookings and moving them through their lifecycle.

use jiff::Timestamp;

use crate::ports::{
    BookingFilter, ConvertHoldError, CreateBookingError, DailyCap, Page, PageRequest, StorageError,
    UpdateBookingError,
};
use crate::scheduling::{
    Blockers, DailyCounts, ProviderLoad, Reason, SlotRules, assignment_order, busy_lookup_range,
    check, counted_day, explain, free_providers, team_explain,
};

use super::availability::{explain_inputs, team_busy, team_explain_inputs};
use super::links::new_manage_link;
use super::port_sets::{BookingPorts, CompletionPorts};
use crate::{
    AccountId, Actor, Assignment, Booking, BookingEvent, BookingId, BookingStatus, Customer,
    EventId, EventKind, Hold, HoldId, IdKind, InvalidTransition, Metadata, Minutes, ProviderId,
    Service, ServiceId, TimeRange, ValidationError,
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
    /// A customer's call after the service's cutoff (409 CUTOFF_PASSED).
    #[error("the service's cutoff for this change has passed")]
    CutoffPassed {
        /// The last instant the change was allowed.
        deadline: Timestamp,
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
    pub ports: BookingPorts<'a>,
    /// The account acting.
    pub account: &'a AccountId,
    /// The key customer-link tokens are derived from (see
    /// the `manage` use cases): a new booking stores its token's hash.
    pub link_key: &'a [u8],
}

/// A check a lifecycle call makes on the booking as it stands (read inside
/// the call's retry loop, so it judges the version that is written over),
/// with the time: the customer's cutoffs.
pub(crate) type Gate = Box<dyn Fn(&Booking, Timestamp) -> Result<(), BookingError> + Send + Sync>;

fn open_gate() -> Gate {
    Box::new(|_: &Booking, _: Timestamp| Ok(()))
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
        actor: Actor,
        booking: &Booking,
        previous: Option<Timestamp>,
    ) -> BookingEvent {
        BookingEvent {
            id: EventId::from_trusted(self.ports.ids.new_id(IdKind::Event)),
            account_id: self.account.clone(),
            kind,
            actor,
            booking: booking.clone(),
            previous_scheduled_at: previous,
            reminder_offset: None,
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
        if let Some(assignment) = service.assignment() {
            return self
                .team_conflict(
                    service,
                    service.providers(),
                    assignment,
                    rules,
                    requested,
                    excluding,
                )
                .await;
        }
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

    /// [`Bookings::conflict`] for `providers` of a team service booked by
    /// `assignment`: the reasons and next slot of the team.
    async fn team_conflict(
        &self,
        service: &Service,
        providers: &[ProviderId],
        assignment: Assignment,
        rules: &SlotRules<'_>,
        requested: Timestamp,
        excluding: Option<&BookingId>,
    ) -> BookingError {
        match team_explain_inputs(
            self.ports,
            self.account,
            service,
            providers,
            rules,
            requested,
            excluding,
        )
        .await
        {
            Ok((blockers, counts)) => {
                let now = self.ports.clock.now();
                let e = team_explain(rules, requested, now, &blockers, &counts, assignment).overall;
                BookingError::Conflict {
                    requested,
                    next_available: e.next_available,
                    reasons: e.reasons,
                }
            }
            Err(e) => BookingError::Storage(e),
        }
    }

    /// The order in which a round-robin booking of `service` at `start`
    /// tries `candidates` (see [`assignment_order`]), and who of them is
    /// free by the read: who is free by the
    /// busy time read now first, each group by the service's load on that
    /// local day, then least recently booked, then team order. The store's
    /// own checks decide; the read only spares attempts that would fail.
    pub(super) async fn round_robin_order(
        &self,
        service: &Service,
        rules: &SlotRules<'_>,
        candidates: &[ProviderId],
        start: Timestamp,
        excluding: Option<&BookingId>,
    ) -> Result<(Vec<usize>, Vec<bool>), StorageError> {
        let lookup = busy_lookup_range(rules, TimeRange::starting_at(start, Minutes::new(1)));
        let blockers = team_busy(self.ports, self.account, candidates, lookup, excluding).await?;
        let free = free_providers(rules, start, &blockers);
        let (_, day) = counted_day(service.availability.timezone(), start);
        let stored = match day {
            Some(day) => {
                self.ports
                    .bookings
                    .team_loads(self.account, &service.id, day)
                    .await?
            }
            None => Vec::new(),
        };
        let loads: Vec<ProviderLoad> = candidates
            .iter()
            .map(|p| {
                stored
                    .iter()
                    .find(|(q, _)| q == p)
                    .map(|(_, load)| *load)
                    .unwrap_or_default()
            })
            .collect();
        Ok((assignment_order(&free, &loads), free))
    }

    /// Inserts `booking` (with its events), under the daily cap when the
    /// service has one.
    async fn insert(
        &self,
        service: &Service,
        booking: &Booking,
        events: &[BookingEvent],
    ) -> Result<(), CreateBookingError> {
        match Self::daily_cap(service, booking.scheduled_at) {
            Some(cap) => {
                self.ports
                    .bookings
                    .insert_booking_capped(booking, events, &cap)
                    .await
            }
            None => self.ports.bookings.insert_booking(booking, events).await,
        }
    }

    /// The new booking's events: created, and confirmed when the service
    /// confirms automatically (`booking` is then left confirmed).
    fn creation_events(&self, booking: &mut Booking, auto_confirm: bool) -> Vec<BookingEvent> {
        booking.status = BookingStatus::Pending;
        let mut events = vec![self.event(EventKind::Created, Actor::Api, booking, None)];
        if auto_confirm {
            booking.status = BookingStatus::Confirmed;
            events.push(self.event(EventKind::Confirmed, Actor::Api, booking, None));
            // Ids start with their millisecond and then are random, so two
            // made in one millisecond sort either way: the earlier event
            // takes the smaller, and ids sort in the order things happened.
            if events[1].id < events[0].id {
                let (first, second) = events.split_at_mut(1);
                std::mem::swap(&mut first[0].id, &mut second[0].id);
            }
        }
        events
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
        let mut booking = self.new_booking(&service, new, now);
        if service.assignment() == Some(Assignment::RoundRobin) {
            // Each free provider in turn: one that a concurrent booking took
            // meanwhile answers Conflict, and the next one is tried, so with
            // k providers free, k concurrent requests succeed.
            let (order, _) = self
                .round_robin_order(
                    &service,
                    &rules,
                    service.providers(),
                    booking.scheduled_at,
                    None,
                )
                .await?;
            for i in order {
                let Some(provider) = service.providers().get(i) else {
                    continue;
                };
                booking.provider_id = provider.clone();
                let events = self.creation_events(&mut booking, service.auto_confirm);
                match self.insert(&service, &booking, &events).await {
                    Ok(()) => return Ok(booking),
                    Err(CreateBookingError::Conflict) => continue,
                    Err(CreateBookingError::Storage(e)) => return Err(e.into()),
                }
            }
            return Err(self
                .conflict(&service, &rules, booking.scheduled_at, None)
                .await);
        }
        let events = self.creation_events(&mut booking, service.auto_confirm);
        match self.insert(&service, &booking, &events).await {
            Ok(()) => Ok(booking),
            Err(CreateBookingError::Conflict) => Err(self
                .conflict(&service, &rules, booking.scheduled_at, None)
                .await),
            Err(CreateBookingError::Storage(e)) => Err(e.into()),
        }
    }

    /// The booking `new` asks for at `now`, pending (see
    /// [`Bookings::creation_events`]), with its customer link; a collective
    /// booking names every provider of the team.
    fn new_booking(&self, service: &Service, new: NewBooking, now: Timestamp) -> Booking {
        let id = self.ports.ids.new_id(IdKind::Booking);
        let link = new_manage_link(self.ports.ids, self.link_key, &id);
        Booking {
            id: BookingId::from_trusted(id),
            account_id: self.account.clone(),
            service_id: service.id.clone(),
            provider_id: service.provider_id.clone(),
            provider_ids: match service.assignment() {
                Some(Assignment::Collective) => service.providers().to_vec(),
                _ => Vec::new(),
            },
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
            link: Some(link),
        }
    }

    /// Books the time of the hold `hold_id` and ends the hold, atomically.
    ///
    /// The hold must be the account's, unexpired, and for the same service
    /// and start (else VALIDATION_ERROR on `hold_id`). The service's rules
    /// (hours, notice, horizon) are not judged again: the hold was made
    /// only when they allowed the time, and it promised the time then, so
    /// a later change of the service does not take it back. The booking
    /// occupies what the hold occupies (the hold's duration and buffers,
    /// copied when it was made). What the store checks atomically (time
    /// off, external busy time, the daily cap, other bookings and holds) is
    /// checked again now, and a refusal never names the hold itself.
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
        let now = self.ports.clock.now();
        let mut booking = self.new_booking(&service, new, now);
        // The provider the hold took (one of a round-robin team's), and
        // exactly the time it holds.
        booking.provider_id = hold.provider_id.clone();
        booking.duration = hold.duration;
        booking.buffer_before = hold.buffer_before;
        booking.buffer_after = hold.buffer_after;
        booking.price = service.price.for_booking(hold.duration);
        let events = self.creation_events(&mut booking, service.auto_confirm);
        let cap = Self::daily_cap(&service, booking.scheduled_at);
        match self
            .ports
            .bookings
            .insert_booking_from_hold(&booking, &events, &hold.id, cap)
            .await
        {
            Ok(()) => Ok(booking),
            Err(ConvertHoldError::HoldGone) => Err(BookingError::HoldExpired),
            Err(ConvertHoldError::Conflict) => {
                let rules = service.slot_rules();
                let mut e = self
                    .conflict(&service, &rules, booking.scheduled_at, None)
                    .await;
                if let BookingError::Conflict { reasons, .. } = &mut e {
                    reasons.retain(
                        |r| !matches!(r, Reason::Held { hold_id, .. } if *hold_id == hold.id),
                    );
                }
                Err(e)
            }
            Err(ConvertHoldError::Storage(e)) => Err(e.into()),
        }
    }

    /// The account's hold `id`, unexpired now; else `HoldExpired`. (It may
    /// have ended since without this knowing: the conversion's write then
    /// answers `HoldGone`, also `HoldExpired`.)
    async fn live_hold(&self, id: &str) -> Result<Hold, BookingError> {
        let id = HoldId::parse(id).ok_or(BookingError::HoldExpired)?;
        match self
            .ports
            .bookings
            .hold_for_booking(self.account, &id)
            .await?
        {
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
        actor: Actor,
        gate: Gate,
        step: impl Fn(&Booking, Timestamp) -> Result<Booking, InvalidTransition>,
    ) -> Result<Booking, BookingError> {
        for _ in 0..MAX_STALE_RETRIES {
            let current = self.get(id).await?;
            let now = self.ports.clock.now();
            let updated = step(&current, now)?;
            gate(&current, now)?;
            let events = [self.event(kind, actor, &updated, None)];
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
        self.transition(
            id,
            EventKind::Confirmed,
            Actor::Api,
            open_gate(),
            |b, now| b.confirm(now),
        )
        .await
    }

    /// pending or confirmed → cancelled; frees the time at once.
    pub async fn cancel(&self, id: &str, reason: Option<String>) -> Result<Booking, BookingError> {
        self.cancel_as(id, reason, Actor::Api, open_gate()).await
    }

    /// [`Bookings::cancel`] by `actor`, refused when `gate` refuses.
    pub(crate) async fn cancel_as(
        &self,
        id: &str,
        reason: Option<String>,
        actor: Actor,
        gate: Gate,
    ) -> Result<Booking, BookingError> {
        self.transition(id, EventKind::Cancelled, actor, gate, |b, now| {
            b.cancel(reason.clone(), now)
        })
        .await
    }

    /// confirmed → completed, once it has ended.
    pub async fn complete(&self, id: &str) -> Result<Booking, BookingError> {
        self.transition(
            id,
            EventKind::Completed,
            Actor::Api,
            open_gate(),
            |b, now| b.complete(now),
        )
        .await
    }

    /// Writes a move of `current` to `updated` (under the daily cap of the
    /// new day when the service has one).
    async fn write_move(
        &self,
        service: &Service,
        current: &Booking,
        updated: &Booking,
        actor: Actor,
    ) -> Result<(), UpdateBookingError> {
        let events = [self.event(
            EventKind::Rescheduled,
            actor,
            updated,
            Some(current.scheduled_at),
        )];
        match Self::daily_cap(service, updated.scheduled_at) {
            Some(cap) => {
                self.ports
                    .bookings
                    .update_booking_capped(current, updated, &events, &cap)
                    .await
            }
            None => {
                self.ports
                    .bookings
                    .update_booking(current, updated, &events)
                    .await
            }
        }
    }

    /// Moves a booking of one provider: that provider must be free.
    async fn move_single(
        &self,
        service: &Service,
        rules: &SlotRules<'_>,
        current: &Booking,
        updated: Booking,
        actor: Actor,
    ) -> Result<Moved, BookingError> {
        let start = updated.scheduled_at;
        let (blockers, counts) = explain_inputs(
            self.ports,
            self.account,
            service,
            rules,
            start,
            Some(&current.id),
        )
        .await?;
        let now = self.ports.clock.now();
        if let Err(reasons) = check(rules, start, now, &blockers, &counts) {
            let e = explain(rules, start, now, &blockers, &counts);
            return Err(BookingError::Conflict {
                requested: start,
                next_available: e.next_available,
                reasons,
            });
        }
        match self.write_move(service, current, &updated, actor).await {
            Ok(()) => Ok(Moved::Done(Box::new(updated))),
            Err(UpdateBookingError::Stale) => Ok(Moved::Stale),
            Err(UpdateBookingError::Conflict) => Err(self
                .conflict(service, rules, start, Some(&current.id))
                .await),
            Err(UpdateBookingError::Storage(e)) => Err(e.into()),
        }
    }

    /// Moves a collective booking: every one of its providers must be free
    /// at the new time, and all move at once.
    async fn move_collective(
        &self,
        service: &Service,
        rules: &SlotRules<'_>,
        current: &Booking,
        updated: Booking,
        actor: Actor,
    ) -> Result<Moved, BookingError> {
        let start = updated.scheduled_at;
        let providers = current.providers();
        let (blockers, counts) = team_explain_inputs(
            self.ports,
            self.account,
            service,
            providers,
            rules,
            start,
            Some(&current.id),
        )
        .await?;
        let now = self.ports.clock.now();
        let team = team_explain(
            rules,
            start,
            now,
            &blockers,
            &counts,
            Assignment::Collective,
        );
        if !team.overall.available {
            return Err(BookingError::Conflict {
                requested: start,
                next_available: team.overall.next_available,
                reasons: team.overall.reasons,
            });
        }
        match self.write_move(service, current, &updated, actor).await {
            Ok(()) => Ok(Moved::Done(Box::new(updated))),
            Err(UpdateBookingError::Stale) => Ok(Moved::Stale),
            Err(UpdateBookingError::Conflict) => Err(self
                .team_conflict(
                    service,
                    providers,
                    Assignment::Collective,
                    rules,
                    start,
                    Some(&current.id),
                )
                .await),
            Err(UpdateBookingError::Storage(e)) => Err(e.into()),
        }
    }

    /// Moves a round-robin booking: to its own provider when free at the
    /// new time, else to another free provider of the team, chosen as for a
    /// new booking (the next one on a concurrent conflict).
    async fn move_round_robin(
        &self,
        service: &Service,
        rules: &SlotRules<'_>,
        current: &Booking,
        mut updated: Booking,
        actor: Actor,
    ) -> Result<Moved, BookingError> {
        let start = updated.scheduled_at;
        let now = self.ports.clock.now();
        // The service's own rules (hours, notice, horizon, the daily cap
        // without this booking) before anyone's busy time.
        let lookup = crate::scheduling::explain_lookup_range(rules, start);
        let counts = super::availability::service_counts(
            self.ports,
            self.account,
            service,
            lookup,
            Some(&current.id),
        )
        .await?;
        if check(rules, start, now, &Blockers::default(), &counts).is_err() {
            return Err(self
                .conflict(service, rules, start, Some(&current.id))
                .await);
        }
        let mut candidates = vec![current.provider_id.clone()];
        candidates.extend(
            service
                .providers()
                .iter()
                .filter(|p| **p != current.provider_id)
                .cloned(),
        );
        let (mut order, free) = self
            .round_robin_order(service, rules, &candidates, start, Some(&current.id))
            .await?;
        if free.first().copied().unwrap_or(false) {
            order.retain(|&i| i != 0);
            order.insert(0, 0);
        }
        for i in order {
            let Some(provider) = candidates.get(i) else {
                continue;
            };
            updated.provider_id = provider.clone();
            match self.write_move(service, current, &updated, actor).await {
                Ok(()) => return Ok(Moved::Done(Box::new(updated))),
                Err(UpdateBookingError::Conflict) => continue,
                Err(UpdateBookingError::Stale) => return Ok(Moved::Stale),
                Err(UpdateBookingError::Storage(e)) => return Err(e.into()),
            }
        }
        Err(self
            .conflict(service, rules, start, Some(&current.id))
            .await)
    }

    /// Moves a pending or confirmed booking, checking the new time as creation
    /// does (ignoring the booking itself).
    pub async fn reschedule(&self, id: &str, start: Timestamp) -> Result<Booking, BookingError> {
        self.reschedule_as(id, start, Actor::Api, open_gate()).await
    }

    /// [`Bookings::reschedule`] by `actor`, refused when `gate` refuses.
    pub(crate) async fn reschedule_as(
        &self,
        id: &str,
        start: Timestamp,
        actor: Actor,
        gate: Gate,
    ) -> Result<Booking, BookingError> {
        check_whole_minute(start)?;
        for _ in 0..MAX_STALE_RETRIES {
            let current = self.get(id).await?;
            let updated = current.reschedule(start, self.ports.clock.now())?;
            gate(&current, self.ports.clock.now())?;
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
            let outcome = if !current.provider_ids.is_empty() {
                self.move_collective(&service, &rules, &current, updated, actor)
                    .await?
            } else if service.assignment() == Some(Assignment::RoundRobin) {
                self.move_round_robin(&service, &rules, &current, updated, actor)
                    .await?
            } else {
                self.move_single(&service, &rules, &current, updated, actor)
                    .await?
            };
            match outcome {
                Moved::Done(booking) => return Ok(*booking),
                Moved::Stale => continue,
            }
        }
        Err(StorageError::Unavailable("booking kept changing concurrently".into()).into())
    }
}

/// How a move attempt ended (errors aside).
enum Moved {
    /// Moved.
    Done(Box<Booking>),
    /// The booking changed meanwhile: read it again.
    Stale,
}

/// Automatic completion: moves up to `limit` confirmed bookings whose end has
/// passed to `completed`, each with its `booking.completed` event, and
/// returns how many it moved. Safe to run from several processes at once:
/// each change is conditional on the booking being unchanged, so of two
/// processes completing the same booking one finds it stale and skips it.
pub async fn complete_ended(ports: CompletionPorts<'_>, limit: u32) -> Result<usize, StorageError> {
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
            actor: Actor::System,
            booking: completed.clone(),
            previous_scheduled_at: None,
            reminder_offset: None,
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
