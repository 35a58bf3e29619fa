//! Providers' time off: `/v1/providers/{id}/time-off`.

use booking_domain::usecases::CreatedTimeOff;
use booking_domain::{NewTimeOff, TimeOff, ValidationError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{fmt_ts, list_type, parse_ts};

list_type!(TimeOffList, TimeOffOut);

/// `POST /v1/providers/{id}/time-off` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTimeOff {
    /// First instant of the time off, RFC 3339 (whole seconds).
    #[schema(
        format = DateTime,
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.0+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    )]
    pub start: String,
    /// End of the time off (exclusive), RFC 3339 (whole seconds): after
    /// `start`, at most 366 days later.
    #[schema(
        format = DateTime,
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.0+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    )]
    pub end: String,
    /// Why (up to 1,000 characters; tab and newline allowed).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

impl CreateTimeOff {
    /// Validates every field.
    pub fn try_into_domain(self) -> Result<NewTimeOff, ValidationError> {
        let start = parse_ts(&self.start, "start")?;
        let end = parse_ts(&self.end, "end")?;
        NewTimeOff::new(start, end, self.reason.as_deref())
    }
}

/// Time off as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeOffOut {
    /// `off_…`
    pub id: String,
    /// The provider who is away (`prv_…`).
    pub provider_id: String,
    /// First instant, RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub start: String,
    /// End (exclusive), RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub end: String,
    /// Why, if given.
    pub reason: Option<String>,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&TimeOff> for TimeOffOut {
    fn from(t: &TimeOff) -> Self {
        TimeOffOut {
            id: t.id.to_string(),
            provider_id: t.provider_id.to_string(),
            start: fmt_ts(t.range.start()),
            end: fmt_ts(t.range.end()),
            reason: t.reason.clone(),
            created_at: fmt_ts(t.created_at),
        }
    }
}

/// New time off as created: the listed shape and the provider's active
/// bookings it overlaps.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeOffCreated {
    /// `off_…`
    pub id: String,
    /// The provider who is away (`prv_…`).
    pub provider_id: String,
    /// First instant, RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub start: String,
    /// End (exclusive), RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub end: String,
    /// Why, if given.
    pub reason: Option<String>,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Ids (`bk_…`) of the provider's pending and confirmed bookings whose
    /// appointment overlaps the time off, in start order, as of its
    /// creation. They are not changed: move or cancel them as needed.
    pub overlapping_bookings: Vec<String>,
}

impl From<&CreatedTimeOff> for TimeOffCreated {
    fn from(c: &CreatedTimeOff) -> Self {
        let TimeOffOut {
            id,
            provider_id,
            start,
            end,
            reason,
            created_at,
        } = TimeOffOut::from(&c.time_off);
        TimeOffCreated {
            id,
            provider_id,
            start,
            end,
            reason,
            created_at,
            overlapping_bookings: c
                .overlapping_bookings
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}
