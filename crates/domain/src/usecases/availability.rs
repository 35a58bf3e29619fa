//! Listing a service's free slots.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::ports::{Ports, StorageError};
use crate::scheduling::{Slot, busy_lookup_range, local_day_range, slots};

use super::calendars::provider_busy;
use crate::usecases::catalog::{Catalog, CatalogError};
use crate::{AccountId, Service, TimeRange, Timezone, ValidationError};

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
    pub ports: &'a Ports,
    /// The account acting.
    pub account: &'a AccountId,
}

impl Availability<'_> {
    /// Free slots of a service whose start lies in the requested range.
    pub async fn slots(
        &self,
        service_id: &str,
        query: AvailabilityQuery,
    ) -> Result<AvailabilityAnswer, AvailabilityError> {
        let catalog = Catalog {
            ports: self.ports,
            account: self.account,
        };
        let service = catalog.bookable_service(service_id).await?;
        self.slots_for(service, query).await
    }

    /// Free slots of a service already loaded (for callers that look the
    /// service up first, to answer 404 before validating the range).
    pub async fn slots_for(
        &self,
        service: Service,
        query: AvailabilityQuery,
    ) -> Result<AvailabilityAnswer, AvailabilityError> {
        let range = resolve_range(query, service.availability.timezone())?;
        let rules = service.slot_rules();
        let busy = provider_busy(
            self.ports,
            self.account,
            &service.provider_id,
            busy_lookup_range(&rules, range),
            None,
        )
        .await?;
        let found = slots(&rules, range, self.ports.clock.now(), &busy);
        Ok(AvailabilityAnswer {
            service,
            slots: found,
        })
    }
}
