//! The error responses of the OpenAPI document: one shared component per
//! kind of failure (`#/components/responses/NotFound`, ...), each with the
//! one error schema (`ErrorBody`) and an example of each code it can carry.
//! Operations reference them: `(status = 404, response = errors::NotFound)`.
//!
//! The examples are the bodies the server's own constructors in
//! [`crate::error`] produce, so they cannot drift from the answers.

use booking_domain::scheduling::Reason;
use booking_domain::usecases::{BookingError, CatalogError};
use booking_domain::{BookingId, BookingStatus, InvalidTransition, ValidationError};
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Object, Ref, RefOr, Type};

use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;

/// An instant for the examples: 10:00 New York time on Monday 18 January
/// 2027, the README's walkthrough booking.
fn example_instant(text: &str) -> jiff::Timestamp {
    text.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// One error answer of each code (two for INVALID_SERVICE: 404 for a
/// service in the path, 422 in a body), with a short summary, built by the
/// same constructors the handlers use.
pub fn error_examples() -> Vec<(&'static str, ApiError)> {
    vec![
        (
            "A field out of range, or malformed JSON (`details.field` names it)",
            ValidationError::new("customer.email", "must be a valid email address").into(),
        ),
        (
            "Missing, malformed, unknown or revoked API key",
            ApiError::unauthorized(),
        ),
        (
            "No such resource in this account (or no such route)",
            ApiError::not_found("Booking"),
        ),
        (
            "No such service (in the path)",
            CatalogError::ServiceNotFound.into(),
        ),
        (
            "The service does not exist or is archived (in the body)",
            BookingError::InvalidService.into(),
        ),
        (
            "The time is not available; `reasons` lists every rule it breaks (as explain does) and `next_available` is the first free slot at or after it (null when none within 62 days)",
            BookingError::Conflict {
                requested: example_instant("2027-01-18T15:00:00Z"),
                next_available: Some(example_instant("2027-01-18T16:00:00Z")),
                reasons: vec![Reason::Booked {
                    booking_id: BookingId::from_trusted("bk_4f9a2c7d1e8b3a6f5c0d9e2a"),
                    start: example_instant("2027-01-18T15:00:00Z"),
                    end: example_instant("2027-01-18T16:00:00Z"),
                    buffer: false,
                }],
            }
            .into(),
        ),
        (
            "The booking's status does not allow this call",
            BookingError::InvalidState(InvalidTransition {
                status: BookingStatus::Cancelled,
                action: "confirmed",
            })
            .into(),
        ),
        (
            "A customer's link tried to cancel or move the booking after the service's cutoff (`details.deadline` was the last instant allowed)",
            BookingError::CutoffPassed {
                deadline: example_instant("2027-01-17T15:00:00Z"),
            }
            .into(),
        ),
        (
            "A service with the chosen id exists",
            CatalogError::AlreadyExists.into(),
        ),
        (
            "The Idempotency-Key was used with another body",
            ApiError::idempotency_key_reused(),
        ),
        (
            "Too many requests for this API key",
            ApiError::rate_limited("10/60s", 6),
        ),
        (
            "The API key has 100 unexpired holds (`details.scope` is `active_holds`; `Retry-After` is when the earliest expires)",
            ApiError::too_many_holds(100, 120),
        ),
        (
            "The booking's `hold_id` is unknown, expired or already used",
            ApiError::hold_expired(),
        ),
        (
            "The request body is over 64 KiB",
            ApiError::payload_too_large(MAX_BODY_BYTES),
        ),
        (
            "The request body did not arrive within the request timeout (`BOOKING_REQUEST_TIMEOUT`)",
            ApiError::request_timeout(std::time::Duration::from_secs(30)),
        ),
        (
            "The account (or provider) has as many of these as the server allows (`details.limit`)",
            ApiError::limit_reached("webhook endpoints per account", 20),
        ),
        (
            "The route does not answer this method (`Allow` lists those it does)",
            ApiError::method_not_allowed("GET, POST"),
        ),
        (
            "An unexpected failure; the request id finds it in the logs",
            ApiError::internal(),
        ),
        (
            "The database cannot be reached; retry after `Retry-After` seconds",
            ApiError::unavailable(),
        ),
    ]
}

/// A response referencing the error schema, with the example of each of
/// `codes` at `status`.
fn error_response(status: u16, description: &str, codes: &[&str]) -> Response {
    let all = error_examples();
    let examples = codes.iter().filter_map(|code| {
        all.iter()
            .find(|(_, e)| e.code == *code && e.status.as_u16() == status)
            .map(|(summary, e)| {
                let value = serde_json::to_value(e.body()).ok();
                (*code, ExampleBuilder::new().summary(*summary).value(value))
            })
    });
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .examples_from_iter(examples)
            .build(),
    );
    let header = |description: &str, ty: Type| {
        HeaderBuilder::new()
            .schema(Some(Object::with_type(ty)))
            .description(Some(description))
            .build()
    };
    match status {
        401 => {
            response = response.header("WWW-Authenticate", header("Always `Bearer`", Type::String));
        }
        429 | 503 => {
            response = response.header(
                "Retry-After",
                header("Seconds to wait before retrying", Type::Integer),
            );
        }
        _ => {}
    }
    response.build()
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident = $status:literal, $description:literal, [$($code:literal),+];)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'r> utoipa::ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), error_response($status, $description, &[$($code),+]).into())
                }
            }
        )+

        /// Every error response component: (name, status, codes, response).
        pub fn all() -> Vec<(&'static str, u16, &'static [&'static str], RefOr<Response>)> {
            vec![$(
                (stringify!($name), $status, &[$($code),+], <$name as utoipa::ToResponse>::response().1),
            )+]
        }
    };
}

error_responses! {
    /// 400 VALIDATION_ERROR.
    BadRequest = 400, "VALIDATION_ERROR: malformed JSON, an unknown field, or a field or query parameter out of range (`details.field` names it)", ["VALIDATION_ERROR"];
    /// 401 UNAUTHORIZED.
    Unauthorized = 401, "UNAUTHORIZED: the API key is missing, malformed, unknown or revoked", ["UNAUTHORIZED"];
    /// 404 NOT_FOUND.
    NotFound = 404, "NOT_FOUND: no such resource in this account", ["NOT_FOUND"];
    /// 404 INVALID_SERVICE.
    ServiceNotFound = 404, "INVALID_SERVICE: no such service in this account (archived ones included)", ["INVALID_SERVICE"];
    /// 409 ALREADY_EXISTS.
    ServiceIdTaken = 409, "ALREADY_EXISTS: the account has a service with this id", ["ALREADY_EXISTS"];
    /// 409 on booking creation.
    BookingConflict = 409, "BOOKING_CONFLICT: the time is not available (`details.next_available` is the first free slot at or after it, or null); IDEMPOTENCY_KEY_REUSED: the Idempotency-Key was used with another body, or its first request is still running (`details.in_progress`, `Retry-After`); HOLD_EXPIRED: the `hold_id` is unknown, expired or already used", ["BOOKING_CONFLICT", "IDEMPOTENCY_KEY_REUSED", "HOLD_EXPIRED"];
    /// 409 on a hold.
    HoldConflict = 409, "BOOKING_CONFLICT: the time is not available, exactly as a booking of it would be refused (`details.reasons`, `details.next_available`)", ["BOOKING_CONFLICT"];
    /// 429 on a hold.
    HoldRateLimited = 429, "RATE_LIMITED: over the bookings rate limit (shared with holds), or the API key has 100 unexpired holds (`details.scope` = `active_holds`); retry after `Retry-After` seconds", ["RATE_LIMITED"];
    /// 409 INVALID_STATE.
    InvalidState = 409, "INVALID_STATE: the booking's status does not allow this call (`details.status` is the current one)", ["INVALID_STATE"];
    /// 409 on reschedule.
    RescheduleConflict = 409, "BOOKING_CONFLICT: the new time is not available (`details.next_available`); INVALID_STATE: the booking is cancelled or completed", ["BOOKING_CONFLICT", "INVALID_STATE"];
    /// 409 CUTOFF_PASSED.
    CutoffPassed = 409, "CUTOFF_PASSED: past the service's `cancel_cutoff` (`details.deadline`); INVALID_STATE: the booking changed meanwhile", ["CUTOFF_PASSED", "INVALID_STATE"];
    /// 409 on a customer's reschedule.
    ManagedRescheduleConflict = 409, "BOOKING_CONFLICT: the new time is not available (`details.next_available`); CUTOFF_PASSED: past the service's `reschedule_cutoff` (`details.deadline`); INVALID_STATE: the booking changed meanwhile", ["BOOKING_CONFLICT", "CUTOFF_PASSED", "INVALID_STATE"];
    /// 408 REQUEST_TIMEOUT.
    RequestTimeout = 408, "REQUEST_TIMEOUT: the request (body included) did not arrive within the request timeout", ["REQUEST_TIMEOUT"];
    /// 409 LIMIT_REACHED.
    LimitReached = 409, "LIMIT_REACHED: the account (webhook endpoints) or provider (calendar connections) is at the configured limit (`details.limit`)", ["LIMIT_REACHED"];
    /// 413 PAYLOAD_TOO_LARGE.
    PayloadTooLarge = 413, "PAYLOAD_TOO_LARGE: the body is over 64 KiB", ["PAYLOAD_TOO_LARGE"];
    /// 422 INVALID_SERVICE.
    InvalidService = 422, "INVALID_SERVICE: the body names a service that does not exist or is archived", ["INVALID_SERVICE"];
    /// 429 RATE_LIMITED.
    RateLimited = 429, "RATE_LIMITED: over the limit; retry after `Retry-After` seconds", ["RATE_LIMITED"];
    /// 503 UNAVAILABLE.
    Unavailable = 503, "UNAVAILABLE: the database cannot be reached", ["UNAVAILABLE"];
}
