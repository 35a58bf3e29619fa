//! The error shape: `{"error": {"code", "message", "details"}}` (the
//! answers themselves are built in `error.rs` only).

use serde::Serialize;
use utoipa::ToSchema;

use super::availability::ReasonOut;
use super::bookings::BookingStatusName;

/// The error body: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// One error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Machine-readable code: `BOOKING_CONFLICT`, `INVALID_SERVICE`,
    /// `RATE_LIMITED`, `UNAUTHORIZED`, `VALIDATION_ERROR`, `NOT_FOUND`,
    /// `INVALID_STATE`, `ALREADY_EXISTS`, `IDEMPOTENCY_KEY_REUSED`,
    /// `PAYLOAD_TOO_LARGE`, `METHOD_NOT_ALLOWED`, `INTERNAL`, `UNAVAILABLE`,
    /// `LIMIT_REACHED`, `HOLD_EXPIRED`, `CUTOFF_PASSED`, `REQUEST_TIMEOUT`
    /// (408), `URI_TOO_LONG` (414), `REQUEST_HEADER_FIELDS_TOO_LARGE` (431)
    /// (new codes may be added).
    #[schema(example = "BOOKING_CONFLICT")]
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Code-specific details (`{}` when there are none).
    #[schema(value_type = ErrorDetails)]
    pub details: serde_json::Value,
}

/// The `details` of an error: which keys appear depends on the code, and
/// codes may add keys.
#[derive(Debug, ToSchema)]
pub struct ErrorDetails {
    /// VALIDATION_ERROR (and ALREADY_EXISTS, INVALID_SERVICE in a body,
    /// IDEMPOTENCY_KEY_REUSED): the field at fault: a dotted path in the body
    /// (`customer.email`), a query parameter (`from`), a header
    /// (`Idempotency-Key`), or `body` for malformed JSON.
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// BOOKING_CONFLICT: the requested start, RFC 3339 UTC.
    #[schema(nullable = false, format = DateTime)]
    pub requested_time: Option<String>,
    /// BOOKING_CONFLICT: the first free slot at or after the requested time
    /// (searching 62 days ahead), or null when there is none.
    #[schema(format = DateTime)]
    pub next_available: Option<String>,
    /// BOOKING_CONFLICT: every rule the requested time breaks, as
    /// `GET /v1/services/{id}/availability/explain` lists them.
    #[schema(nullable = false)]
    pub reasons: Option<Vec<ReasonOut>>,
    /// INVALID_STATE: the booking's current status.
    #[schema(value_type = Option<BookingStatusName>, nullable = false)]
    pub status: Option<String>,
    /// RATE_LIMITED: the limit as `<quota>/<seconds>s` (`10/60s`);
    /// PAYLOAD_TOO_LARGE: the largest body in bytes (`65536`).
    #[schema(schema_with = string_or_integer)]
    pub limit: Option<serde_json::Value>,
    /// RATE_LIMITED: seconds to wait (also in `Retry-After`).
    #[schema(nullable = false)]
    pub retry_after: Option<u64>,
    /// IDEMPOTENCY_KEY_REUSED: `true` when the key's first request is still
    /// running (retry after `Retry-After`).
    #[schema(nullable = false)]
    pub in_progress: Option<bool>,
    /// METHOD_NOT_ALLOWED: the methods the route answers (also in `Allow`).
    #[schema(nullable = false)]
    pub allow: Option<Vec<String>>,
}

fn string_or_integer() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(utoipa::openapi::Object::with_type(Type::String))
            .item(utoipa::openapi::Object::with_type(Type::Integer))
            .build(),
    )
}
