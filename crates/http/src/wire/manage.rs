//! Customer links: `/v1/manage/{token}` (JSON) and the page's form fields.

use booking_domain::usecases::Opened;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[allow(unused_imports)]
use super::bookings::BookingStatusName;
use super::bookings::{BookingOut, BookingPrice, CustomerDto, Links};
use super::common::fmt_ts;

/// The service of a booking, as its customer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ManagedService {
    /// Service id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its IANA zone: the zone of its hours and of the page.
    pub timezone: String,
}

/// A booking as its customer's link shows it: the booking without the
/// business's own fields (`metadata`, `provider_id`), with its service and
/// the last instants at which the link may still cancel or move it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ManagedBookingOut {
    /// `bk_…`
    pub id: String,
    /// The service.
    pub service: ManagedService,
    /// Minutes.
    pub duration: u32,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub scheduled_at: String,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub end_at: String,
    /// `pending` or `confirmed` (`cancelled` in the answer to a cancel).
    #[schema(value_type = BookingStatusName)]
    pub status: String,
    /// Who booked.
    pub customer: CustomerDto,
    /// Price at booking time.
    pub price: BookingPrice,
    /// Notes.
    pub notes: Option<String>,
    /// The last instant the link may cancel: the start less the service's
    /// `cancel_cutoff` (RFC 3339 UTC). Later: 409 CUTOFF_PASSED.
    #[schema(format = DateTime)]
    pub cancel_deadline: String,
    /// The same for rescheduling (`reschedule_cutoff`).
    #[schema(format = DateTime)]
    pub reschedule_deadline: String,
    /// This link.
    pub manage_url: Option<String>,
}

impl ManagedBookingOut {
    /// The customer's view of an opened booking (`booking` may be the
    /// opened one after a change).
    pub fn new(opened: &Opened, booking: &booking_domain::Booking, links: Links<'_>) -> Self {
        let out = BookingOut::new(booking, links);
        let service = &opened.service;
        let after = Opened {
            booking: booking.clone(),
            service: service.clone(),
        };
        ManagedBookingOut {
            id: out.id,
            service: ManagedService {
                id: service.id.to_string(),
                name: service.name.clone(),
                timezone: service.availability.timezone().name().to_owned(),
            },
            duration: out.duration,
            scheduled_at: out.scheduled_at,
            end_at: out.end_at,
            status: out.status,
            customer: out.customer,
            price: out.price,
            notes: out.notes,
            cancel_deadline: fmt_ts(after.cancel_deadline()),
            reschedule_deadline: fmt_ts(after.reschedule_deadline()),
            manage_url: out.manage_url,
        }
    }
}

/// `POST /v1/manage/{token}/cancel` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManageCancel {
    /// Why (up to 1,000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// `POST /v1/manage/{token}/reschedule` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManageReschedule {
    /// New start, RFC 3339, whole minute.
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00(\\.0+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    )]
    pub scheduled_at: String,
}

/// `GET /v1/manage/{token}/availability` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ManagedSlots {
    /// The booking.
    pub booking_id: String,
    /// The service's IANA zone.
    pub timezone: String,
    /// Free starts the booking can move to (its own duration, its own time
    /// counted as free), ascending, UTC.
    pub slots: Vec<SlotTimes>,
}

/// One free slot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotTimes {
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub start: String,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub end: String,
}

/// The cancel form of the page (`application/x-www-form-urlencoded`).
#[derive(Debug, Deserialize)]
pub struct CancelForm {
    /// The page's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// Optional reason.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The reschedule form of the page.
#[derive(Debug, Deserialize)]
pub struct RescheduleForm {
    /// The page's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// The chosen start (RFC 3339 UTC, one of the listed times).
    #[serde(default)]
    pub scheduled_at: Option<String>,
}
