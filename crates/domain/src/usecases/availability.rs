//! Listing a service's free slots.

use jiff::Timestamp;
use jiff::civil::Date;

use super::port_sets::{AvailabilityPorts, BusyPorts};
use crate::ports::StorageError;
use crate::scheduling::{
    Blockers, BusyTimes, DailyCounts, Explanation, Slot, SlotRules, available_slots,
    busy_lookup_range, counted_day, explain, explain_lookup_range, local_day_range, team_explain,
    team_slots,
};

use super::calendars::provider_busy;
use crate::usecases::catalog::CatalogError;
use crate::{AccountId, BookingId, ProviderId, Service, TimeRange, Timezone, ValidationError};

/// Longest range one request may ask for.
pub const MAX_RANGE_DAYS: i64 = 62;

/// One end of a requested range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A local day in the service's zone (`to` includes the whole day).
    Date(Date),
    /// An instant (`to` is exclusive).
    Instant(Timestamp),
}

/// A request for slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvailabilityQuery {
    /// Start of the range.
    pub from: Bound,
    /// End of the range.
    pub to: Bound,
}

/// Free slots of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityAnswer {
    /// The service.
    pub service: Service,
    /// Slots in ascending order.
    pub slots: Vec<Slot>,
    /// Of a team service: per slot (same order), the indices into
    /// [`Service::providers`] of the providers free for it. `None` for a
    /// service of one provider (who is free for every slot listed).
    pub free: Option<Vec<Vec<usize>>>,
}

/// Why a time of a service is (not) available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainAnswer {
    /// The service.
    pub service: Service,
    /// Every rule the time breaks, and the next available slot (of a team
    /// service: combined by its assignment, see
    /// [`crate::scheduling::team_explain`]).
    pub explanation: Explanation,
    /// Of a team service: each provider's own explanation, in team order
    /// (empty for a service of one provider).
    pub providers: Vec<(ProviderId, Explanation)>,
}

/// Active bookings per local day of a service with a daily cap, over the
/// local days that `range` touches (empty, without a read, when the
/// service has no cap), leaving out `excluding`.
pub(crate) async fn service_counts<'p>(
    ports: impl Into<BusyPorts<'p>>,
    account: &AccountId,
    service: &Service,
    range: TimeRange,
    excluding: Option<&BookingId>,
) -> Result<DailyCounts, StorageError> {
    let ports = ports.into();
    if service.max_bookings_per_day.is_none() {
        return Ok(DailyCounts::default());
    }
    let tz = service.availability.timezone();
    let (first, _) = counted_day(tz, range.start());
    let (last, _) = counted_day(tz, range.end());
    // Whole local days, so every count is complete.
    let days = local_day_range(tz, first, last).unwrap_or(range);
    let starts = ports
        .bookings
        .service_starts(account, &service.id, days, excluding.cloned())
        .await?;
    Ok(DailyCounts::from_starts(tz, starts))
}

/// The blockers and day counts that [`explain`] at `at` needs for `service`
/// (with `rules` for the booking's duration and buffers), leaving out
/// `excluding`.
pub(crate) async fn explain_inputs<'p>(
    ports: impl Into<BusyPorts<'p>>,
    account: &AccountId,
    service: &Service,
    rules: &crate::scheduling::SlotRules<'_>,
    at: jiff::Timestamp,
    excluding: Option<&BookingId>,
) -> Result<(Blockers, DailyCounts), StorageError> {
    let ports = ports.into();
    let lookup = explain_lookup_range(rules, at);
    let sources = provider_busy(ports, account, &service.provider_id, lookup, excluding).await?;
    let counts = service_counts(ports, account, service, lookup, excluding).await?;
    Ok((Blockers::new(sources, ports.clock.now()), counts))
}

/// [`explain_inputs`] for several providers of a team service: one
/// [`Blockers`] per provider in the order given, and the service's day
/// counts.
pub(crate) async fn team_explain_inputs<'p>(
    ports: impl Into<BusyPorts<'p>>,
    account: &AccountId,
    service: &Service,
    providers: &[ProviderId],
    rules: &SlotRules<'_>,
    at: jiff::Timestamp,
    excluding: Option<&BookingId>,
) -> Result<(Vec<Blockers>, DailyCounts), StorageError> {
    let ports = ports.into();
    let lookup = explain_lookup_range(rules, at);
    let now = ports.clock.now();
    let mut blockers = Vec::with_capacity(providers.len());
    for provider in providers {
        let sources = provider_busy(ports, account, provider, lookup, excluding).await?;
        blockers.push(Blockers::new(sources, now));
    }
    let counts = service_counts(ports, account, service, lookup, excluding).await?;
    Ok((blockers, counts))
}

/// Each provider's busy time over `range` (ranges only), in team order.
pub(crate) async fn team_busy<'p>(
    ports: impl Into<BusyPorts<'p>>,
    account: &AccountId,
    providers: &[ProviderId],
    range: TimeRange,
    excluding: Option<&BookingId>,
) -> Result<Vec<Blockers>, StorageError> {
    let ports = ports.into();
    let mut out = Vec::with_capacity(providers.len());
    let now = ports.clock.now();
    for provider in providers {
        let busy = ports
            .bookings
            .busy_times(account, provider, range, excluding.cloned(), now)
            .await?;
        out.push(Blockers::from_busy(BusyTimes::from_ascending(busy)));
    }
    Ok(out)
}

/// Why slots could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum AvailabilityError {
    /// No such service (404 INVALID_SERVICE).
    #[error("service not found")]
    ServiceNotFound,
    /// Bad range.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<CatalogError> for AvailabilityError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Storage(e) => AvailabilityError::Storage(e),
            CatalogError::Validation(e) => AvailabilityError::Validation(e),
            _ => AvailabilityError::ServiceNotFound,
        }
    }
}

/// A local day whose start or end cannot be represented.
const DATE_OUT_OF_RANGE: &str =
    "the day lies outside the supported instants (0001-01-01T00:00:00Z to 9999-12-30T22:00:00Z)";

/// Turns a query into an instant range in the service's zone, checking order
/// and the 62-day cap.
pub fn resolve_range(
    query: AvailabilityQuery,
    tz: &Timezone,
) -> Result<TimeRange, ValidationError> {
    let start = match query.from {
        Bound::Instant(t) => t,
        Bound::Date(d) => local_day_range(tz, d, d)
            .ok_or_else(|| ValidationError::new("from", DATE_OUT_OF_RANGE))?
            .start(),
    };
    let end = match query.to {
        Bound::Instant(t) => t,
        Bound::Date(d) => local_day_range(tz, d, d)
            .ok_or_else(|| ValidationError::new("to", DATE_OUT_OF_RANGE))?
            .end(),
    };
    let range = TimeRange::new(start, end)
        .ok_or_else(|| ValidationError::new("to", "must be after from"))?;
    if range.length() > jiff::SignedDuration::from_hours(24 * MAX_RANGE_DAYS) {
        return Err(ValidationError::new(
            "to",
            "the range may span at most 62 days",
        ));
    }
    Ok(range)
}

/// The availability use case.
pub struct Availability<'a> {
    /// The ports.
    pub ports: AvailabilityPorts<'a>,
    /// The account acting.
    pub account: &'a AccountId,
}

impl Availability<'_> {
    /// Free slots of a service already loaded (callers look the service up
    /// first with [`Catalog::bookable_service`](super::Catalog::bookable_service),
    /// to answer 404 before validating the range).
    pub async fn slots_for(
        &self,
        service: Service,
        query: AvailabilityQuery,
    ) -> Result<AvailabilityAnswer, AvailabilityError> {
        let range = resolve_range(query, service.availability.timezone())?;
        let rules = service.slot_rules();
        if let Some(assignment) = service.assignment() {
            let blockers = team_busy(
                self.ports,
                self.account,
                service.providers(),
                busy_lookup_range(&rules, range),
                None,
            )
            .await?;
            let counts = service_counts(self.ports, self.account, &service, range, None).await?;
            let now = self.ports.clock.now();
            let found = team_slots(&rules, range, now, &blockers, &counts, assignment);
            let (slots, free) = found.into_iter().map(|t| (t.slot, t.free)).unzip();
            return Ok(AvailabilityAnswer {
                service,
                slots,
                free: Some(free),
            });
        }
        // A list needs the blocked ranges, not who blocks them (explain and
        // booking read those): the same read, without copying every id.
        let now = self.ports.clock.now();
        let busy = self
            .ports
            .bookings
            .busy_times(
                self.account,
                &service.provider_id,
                busy_lookup_range(&rules, range),
                None,
                now,
            )
            .await?;
        let counts = service_counts(self.ports, self.account, &service, range, None).await?;
        let blockers = Blockers::from_busy(BusyTimes::from_ascending(busy));
        let found = available_slots(&rules, range, now, &blockers, &counts);
        Ok(AvailabilityAnswer {
            service,
            slots: found,
            free: None,
        })
    }

    /// Why a booking of the service at `at` would (not) succeed now: every
    /// rule it breaks, whether it is on the slot grid, and the next slot.
    /// The same rules and inputs as the availability list and booking.
    pub async fn explain_for(
        &self,
        service: Service,
        at: jiff::Timestamp,
    ) -> Result<ExplainAnswer, AvailabilityError> {
        let rules = service.slot_rules();
        if let Some(assignment) = service.assignment() {
            let (blockers, counts) = team_explain_inputs(
                self.ports,
                self.account,
                &service,
                service.providers(),
                &rules,
                at,
                None,
            )
            .await?;
            let team = team_explain(
                &rules,
                at,
                self.ports.clock.now(),
                &blockers,
                &counts,
                assignment,
            );
            let providers = service
                .providers()
                .iter()
                .cloned()
                .zip(team.providers)
                .collect();
            return Ok(ExplainAnswer {
                service,
                explanation: team.overall,
                providers,
            });
        }
        let (blockers, counts) =
            explain_inputs(self.ports, self.account, &service, &rules, at, None).await?;
        let explanation = explain(&rules, at, self.ports.clock.now(), &blockers, &counts);
        Ok(ExplainAnswer {
            service,
            explanation,
            providers: Vec::new(),
        })
    }
}
