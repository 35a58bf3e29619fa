//! Bookings: `/v1/bookings`.

use std::collections::BTreeMap;

use booking_domain::usecases::{NewBooking, manage_token};
use booking_domain::{
    Booking, Customer, Email, Metadata, ValidationError, validate_name, validate_notes,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{fmt_ts, list_type, money_json, parse_ts};

list_type!(BookingList, BookingOut);

/// Schema of a booking status.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatusName {
    /// Awaiting confirmation.
    Pending,
    /// Confirmed.
    Confirmed,
    /// Cancelled.
    Cancelled,
    /// Took place.
    Completed,
}

/// The customer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerDto {
    /// Email.
    #[schema(example = "customer@example.com")]
    #[schema(max_length = 254, pattern = "^[^@\\s]+@[^@\\s.]+(\\.[^@\\s.]+)+$")]
    pub email: String,
    /// Name.
    #[schema(example = "John Doe")]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
}

/// `POST /v1/bookings` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBooking {
    /// Service id.
    #[schema(example = "srv_consultation")]
    pub service: String,
    /// RFC 3339, whole minute.
    #[schema(example = "2024-01-22T14:00:00Z")]
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00(\\.0+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    )]
    pub scheduled_at: String,
    /// Who books.
    pub customer: CustomerDto,
    /// Optional notes.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub notes: Option<String>,
    /// Optional string map.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// A hold (`hld_…`) to turn into this booking: `service` and
    /// `scheduled_at` must be the hold's. Unknown or expired: 409
    /// HOLD_EXPIRED.
    #[serde(default)]
    #[schema(example = "hld_8c1d0e6b2a4f9e3d7c5b1a0f")]
    pub hold_id: Option<String>,
}

impl CreateBooking {
    /// Validates every field.
    pub fn try_into_domain(self) -> Result<NewBooking, ValidationError> {
        let scheduled_at = parse_ts(&self.scheduled_at, "scheduled_at")?;
        let customer = Customer {
            email: Email::parse(&self.customer.email, "customer.email")?,
            name: validate_name(&self.customer.name, "customer.name")?,
        };
        Ok(NewBooking {
            service: self.service,
            scheduled_at,
            customer,
            notes: self.notes.map(|n| validate_notes(&n)).transpose()?,
            metadata: Metadata::new(self.metadata.unwrap_or_default())?,
            hold_id: self.hold_id,
        })
    }
}

/// `POST /v1/bookings/{id}/cancel` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBooking {
    /// Why (up to 1,000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

impl CancelBooking {
    /// Validates the reason.
    pub fn try_into_domain(self) -> Result<Option<String>, ValidationError> {
        match self.reason {
            Some(r) if r.chars().count() > 1000 => Err(ValidationError::new(
                "reason",
                "must be at most 1000 characters",
            )),
            other => Ok(other),
        }
    }
}

/// `POST /v1/bookings/{id}/reschedule` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleBooking {
    /// New start, RFC 3339, whole minute.
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00(\\.0+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    )]
    pub scheduled_at: String,
}

/// A booking's price.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingPrice {
    /// Major units.
    #[schema(value_type = f64)]
    pub amount: serde_json::Number,
    /// ISO 4217.
    pub currency: String,
}

/// A booking as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingOut {
    /// `bk_…`
    pub id: String,
    /// Service id.
    pub service: String,
    /// Provider id: the one booked (of a round-robin service: the provider
    /// assigned; of a collective one: the first of `provider_ids`).
    pub provider_id: String,
    /// Every provider a collective booking blocks, `provider_id` first
    /// (absent for a booking of one provider).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_ids: Option<Vec<String>>,
    /// Minutes, copied from the service.
    pub duration: u32,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub scheduled_at: String,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub end_at: String,
    /// `pending`, `confirmed`, `cancelled` or `completed`.
    #[schema(value_type = BookingStatusName)]
    pub status: String,
    /// Who booked.
    pub customer: CustomerDto,
    /// Price at booking time.
    pub price: BookingPrice,
    /// Notes.
    pub notes: Option<String>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The customer's link: `{BOOKING_PUBLIC_URL}/manage/{token}`, a page
    /// where they can see, cancel or move the booking (the same actions as
    /// JSON under `/v1/manage/{token}`). The same URL every time; it works
    /// while the booking is pending or confirmed and has not ended, and
    /// answers 404 after. Absent for bookings made before links existed,
    /// and from webhook bodies (whose bytes must not depend on the
    /// configuration of the instance that sends them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manage_url: Option<String>,
}

/// What customer links are made of: where they point and the key their
/// tokens are derived from.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    /// `BOOKING_PUBLIC_URL`, no trailing slash.
    pub public_url: &'a str,
    /// The server key.
    pub key: &'a [u8],
}

impl Links<'_> {
    /// The page of a link token.
    pub fn page_url(&self, token: &str) -> String {
        format!("{}/manage/{token}", self.public_url)
    }

    /// The booking's link (`None`: it has none).
    pub fn manage_url(&self, b: &Booking) -> Option<String> {
        manage_token(self.key, b).map(|t| self.page_url(&t))
    }
}

impl BookingOut {
    /// The booking as answered, with its customer link.
    pub fn new(b: &Booking, links: Links<'_>) -> Self {
        BookingOut {
            manage_url: links.manage_url(b),
            ..BookingOut::unlinked(b)
        }
    }

    /// The booking without its customer link (webhook bodies).
    pub fn unlinked(b: &Booking) -> Self {
        BookingOut {
            id: b.id.to_string(),
            service: b.service_id.to_string(),
            provider_id: b.provider_id.to_string(),
            provider_ids: (!b.provider_ids.is_empty())
                .then(|| b.provider_ids.iter().map(ToString::to_string).collect()),
            duration: b.duration.get(),
            scheduled_at: fmt_ts(b.scheduled_at),
            end_at: fmt_ts(b.end_at()),
            status: b.status.name().to_owned(),
            customer: CustomerDto {
                email: b.customer.email.to_string(),
                name: b.customer.name.clone(),
            },
            price: BookingPrice {
                amount: money_json(b.price),
                currency: b.price.currency().code().to_owned(),
            },
            notes: b.notes.clone(),
            metadata: b.metadata.entries().clone(),
            cancel_reason: b.cancel_reason.clone(),
            created_at: fmt_ts(b.created_at),
            updated_at: fmt_ts(b.updated_at),
            manage_url: None,
        }
    }
}
