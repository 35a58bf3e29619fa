//! Holds: `/v1/holds`.

use booking_domain::usecases::NewHold;
use booking_domain::{Hold, ValidationError, validate_hold_ttl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{fmt_ts, parse_ts};

/// `POST /v1/holds` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHold {
    /// Service id.
    #[schema(example = "srv_consultation")]
    pub service: String,
    /// The start to hold: RFC 3339, whole minute; a valid booking start.
    #[schema(example = "2027-01-18T15:00:00Z")]
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00(\\.0+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    )]
    pub scheduled_at: String,
    /// Seconds the hold lasts (30-1800, default 300).
    #[serde(default)]
    #[schema(minimum = 30, maximum = 1800, default = 300)]
    pub ttl: Option<i64>,
    /// The provider to hold (`prv_…`): the service's own provider, or left
    /// out.
    #[serde(default)]
    pub provider_id: Option<String>,
}

impl CreateHold {
    /// Validates every field.
    pub fn try_into_domain(self) -> Result<NewHold, ValidationError> {
        Ok(NewHold {
            scheduled_at: parse_ts(&self.scheduled_at, "scheduled_at")?,
            ttl: validate_hold_ttl(self.ttl)?,
            service: self.service,
            provider_id: self.provider_id,
        })
    }
}

/// A hold.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldOut {
    /// `hld_…`
    pub id: String,
    /// The service it is for.
    pub service: String,
    /// The provider whose time it blocks.
    pub provider_id: String,
    /// The held start, RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub scheduled_at: String,
    /// The held appointment's end, RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub end_at: String,
    /// When it ends by itself, RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub expires_at: String,
}

impl From<&Hold> for HoldOut {
    fn from(h: &Hold) -> Self {
        HoldOut {
            id: h.id.to_string(),
            service: h.service_id.to_string(),
            provider_id: h.provider_id.to_string(),
            scheduled_at: fmt_ts(h.scheduled_at),
            end_at: fmt_ts(h.appointment().end()),
            expires_at: fmt_ts(h.expires_at),
        }
    }
}
