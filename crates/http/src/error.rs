//! The one place where domain and use-case errors become HTTP answers.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use booking_domain::ValidationError;
use booking_domain::ports::StorageError;
use booking_domain::usecases::{
    AuthError, AvailabilityError, BookingError, CalendarError, CatalogError, HoldError,
    ManageError, TimeOffError, WebhookError,
};
use serde_json::{Value, json};

use crate::wire::{ErrorBody, ErrorObject, ReasonOut, fmt_ts};

/// An error answer in the contract's shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Contract code.
    pub code: &'static str,
    /// Message for humans.
    pub message: String,
    /// Details object.
    pub details: Value,
    /// Extra headers (`Allow`, `Retry-After`).
    pub headers: Vec<(header::HeaderName, String)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ApiError {
    /// A new error with empty details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: json!({}),
            headers: Vec::new(),
        }
    }

    /// With details.
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// With an extra header.
    pub fn header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// 400 VALIDATION_ERROR naming the field.
    pub fn validation(e: &ValidationError) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", e.to_string())
            .details(json!({"field": e.field}))
    }

    /// 401 UNAUTHORIZED.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "A valid API key is required",
        )
        .header(header::WWW_AUTHENTICATE, "Bearer")
    }

    /// 404 NOT_FOUND.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} not found"),
        )
    }

    /// 404 INVALID_SERVICE (service in a path).
    pub fn service_not_found() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "INVALID_SERVICE",
            "Service not found",
        )
    }

    /// 405 METHOD_NOT_ALLOWED with `Allow`.
    pub fn method_not_allowed(allow: &str) -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "This method is not allowed on this resource",
        )
        .details(json!({"allow": allow.split(", ").collect::<Vec<_>>()}))
        .header(header::ALLOW, allow)
    }

    /// 413 PAYLOAD_TOO_LARGE.
    pub fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("Request bodies are limited to {limit} bytes"),
        )
        .details(json!({"limit": limit}))
    }

    /// 408 REQUEST_TIMEOUT: the body did not arrive within `timeout` of the
    /// request's start.
    pub fn request_timeout(timeout: std::time::Duration) -> Self {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            format!(
                "The request did not arrive within {} s",
                timeout.as_secs_f64()
            ),
        )
        .details(json!({"timeout_secs": timeout.as_secs_f64()}))
    }

    /// 409 LIMIT_REACHED: the account (or provider) already has `limit`
    /// `what`s.
    pub fn limit_reached(what: &str, limit: u32) -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "LIMIT_REACHED",
            format!("The limit of {limit} {what} is reached; delete one first"),
        )
        .details(json!({"limit": limit}))
    }

    /// 409 IDEMPOTENCY_KEY_REUSED: the key was used with another body.
    pub fn idempotency_key_reused() -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was used with a different request body",
        )
        .details(json!({"field": "Idempotency-Key"}))
    }

    /// 409 IDEMPOTENCY_KEY_REUSED: the key's first request is still running.
    pub fn idempotency_in_progress() -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "IDEMPOTENCY_KEY_REUSED",
            "A request with this Idempotency-Key is still being processed; retry shortly",
        )
        .details(json!({"field": "Idempotency-Key", "in_progress": true}))
        .header(header::RETRY_AFTER, "1")
    }

    /// 429 RATE_LIMITED: `limit` as `<quota>/<seconds>s`, with `Retry-After`.
    pub fn rate_limited(limit: &str, retry_after_secs: u64) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Too many requests; retry later",
        )
        .details(json!({"limit": limit, "retry_after": retry_after_secs}))
        .header(header::RETRY_AFTER, retry_after_secs.to_string())
    }

    /// 429 RATE_LIMITED with `Retry-After`: the client sent more unknown
    /// feed tokens than `limit` (`<quota>/<seconds>s`) allows.
    pub fn feed_tokens_limited(limit: &str, retry_after_secs: u64) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Too many unknown feed or booking-link tokens; retry later",
        )
        .details(json!({"limit": limit, "retry_after": retry_after_secs}))
        .header(header::RETRY_AFTER, retry_after_secs.to_string())
    }

    /// 429 RATE_LIMITED with `Retry-After`: the API key has `limit`
    /// unexpired holds; the earliest ends in `retry_after_secs`.
    pub fn too_many_holds(limit: u32, retry_after_secs: u64) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("This API key has {limit} active holds; book or delete one, or wait for one to expire"),
        )
        .details(json!({"limit": limit, "retry_after": retry_after_secs, "scope": "active_holds"}))
        .header(header::RETRY_AFTER, retry_after_secs.to_string())
    }

    /// 409 HOLD_EXPIRED: a booking's `hold_id` is unknown or expired.
    pub fn hold_expired() -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "HOLD_EXPIRED",
            "The hold does not exist, has expired, or was already used",
        )
        .details(json!({"field": "hold_id"}))
    }

    /// 500 INTERNAL: never carries internals (the cause is logged by the caller).
    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "Something went wrong on our side; the request id identifies it in our logs",
        )
    }

    /// The error answer for a bare error status: actix's own errors (no
    /// route, a body it refused) and error answers that were not JSON.
    /// `body_limit` is the request body limit a 413 names.
    pub fn for_status(status: StatusCode, body_limit: usize) -> Self {
        match status.as_u16() {
            400 => ApiError::new(status, "VALIDATION_ERROR", "The request is malformed")
                .details(json!({"field": "body"})),
            401 => ApiError::unauthorized(),
            404 => ApiError::not_found("Resource"),
            408 => ApiError::new(
                status,
                "REQUEST_TIMEOUT",
                "The request did not arrive within the request timeout",
            ),
            405 => ApiError::new(
                status,
                "METHOD_NOT_ALLOWED",
                "This method is not allowed on this resource",
            ),
            413 => ApiError::payload_too_large(body_limit),
            429 => ApiError::new(status, "RATE_LIMITED", "Too many requests"),
            503 => ApiError::unavailable(),
            s if s < 500 => ApiError::new(
                status,
                "VALIDATION_ERROR",
                "The request could not be processed",
            )
            .details(json!({"field": "body"})),
            _ => ApiError::internal(),
        }
    }

    /// The answer for a request head actix-http refused before any route
    /// ran (`status` is what it answered: 400 or 431; see `conn`): 414
    /// URI_TOO_LONG when the request line is what overflowed, 431
    /// REQUEST_HEADER_FIELDS_TOO_LARGE, else 400 VALIDATION_ERROR on
    /// `request`.
    pub fn codec_answer(status: StatusCode, line_too_long: bool) -> Self {
        if line_too_long {
            return ApiError::new(
                StatusCode::URI_TOO_LONG,
                "URI_TOO_LONG",
                "The request target is longer than 65,534 bytes",
            )
            .details(json!({"limit": 65_534}));
        }
        match status {
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiError::new(
                status,
                "REQUEST_HEADER_FIELDS_TOO_LARGE",
                "The request has more than 96 header fields or a head over 128 KiB",
            )
            .details(json!({"limit": 96})),
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                "The request line or headers are not valid HTTP/1.1",
            )
            .details(json!({"field": "request"})),
        }
    }

    /// The whole HTTP/1.1 answer as bytes, for the connection layer that
    /// writes below actix (`conn`): the error shape, `X-Request-Id`, and
    /// `Connection: close` (the codec closes the connection after it).
    pub fn http1_bytes(&self, request_id: &str, date: Option<&[u8]>) -> Vec<u8> {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\nx-request-id: {request_id}\r\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or("Error"),
            body.len()
        )
        .into_bytes();
        if let Some(date) = date {
            out.extend_from_slice(b"date: ");
            out.extend_from_slice(date);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
        out
    }

    /// 503 UNAVAILABLE.
    pub fn unavailable() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "The store is unreachable; retry shortly",
        )
        .header(header::RETRY_AFTER, "1")
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorObject {
                code: self.code.to_owned(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

impl ApiError {
    /// The error's status and headers (`Retry-After`...) for an answer in
    /// another form than JSON: the customer page shows errors as HTML.
    pub fn response_builder(&self) -> actix_web::HttpResponseBuilder {
        let mut res = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                res.insert_header((name.clone(), v));
            }
        }
        res
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.response_builder().json(self.body())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match &e {
            StorageError::Unavailable(_) => {
                tracing::warn!(error = %e, "storage unavailable");
                ApiError::unavailable()
            }
            StorageError::Internal(_) => {
                tracing::error!(error = %e, "storage failure");
                ApiError::internal()
            }
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::validation(&e)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Storage(e) => e.into(),
            AuthError::Malformed | AuthError::Unknown | AuthError::Revoked => {
                ApiError::unauthorized()
            }
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::ProviderNotFound => ApiError::not_found("Provider"),
            CatalogError::ServiceNotFound => ApiError::service_not_found(),
            CatalogError::AlreadyExists => ApiError::new(
                StatusCode::CONFLICT,
                "ALREADY_EXISTS",
                "A service with this id already exists",
            )
            .details(json!({"field": "id"})),
            CatalogError::Validation(e) => e.into(),
            CatalogError::Storage(e) => e.into(),
        }
    }
}

impl From<AvailabilityError> for ApiError {
    fn from(e: AvailabilityError) -> Self {
        match e {
            AvailabilityError::ServiceNotFound => ApiError::service_not_found(),
            AvailabilityError::Validation(e) => e.into(),
            AvailabilityError::Storage(e) => e.into(),
        }
    }
}

impl From<BookingError> for ApiError {
    fn from(e: BookingError) -> Self {
        match e {
            BookingError::InvalidService => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_SERVICE",
                "The service does not exist or no longer takes bookings",
            )
            .details(json!({"field": "service"})),
            BookingError::NotFound => ApiError::not_found("Booking"),
            BookingError::Conflict {
                requested,
                next_available,
                reasons,
            } => ApiError::new(
                StatusCode::CONFLICT,
                "BOOKING_CONFLICT",
                "The requested time slot is not available",
            )
            .details(json!({
                "requested_time": fmt_ts(requested),
                "next_available": next_available.map(fmt_ts),
                "reasons": reasons.iter().map(ReasonOut::from).collect::<Vec<_>>(),
            })),
            BookingError::InvalidState(t) => ApiError::new(
                StatusCode::CONFLICT,
                "INVALID_STATE",
                format!("A {} booking cannot be {}", t.status, t.action),
            )
            .details(json!({"status": t.status.name()})),
            BookingError::CutoffPassed { deadline } => ApiError::new(
                StatusCode::CONFLICT,
                "CUTOFF_PASSED",
                "It is too late to change this booking through its link; please contact the business",
            )
            .details(json!({"deadline": fmt_ts(deadline)})),
            BookingError::HoldExpired => ApiError::hold_expired(),
            BookingError::Validation(e) => e.into(),
            BookingError::Storage(e) => e.into(),
        }
    }
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::NotFound => ApiError::not_found("Booking link"),
            ManageError::Booking(e) => e.into(),
            ManageError::Availability(e) => e.into(),
            ManageError::Storage(e) => e.into(),
        }
    }
}

impl From<HoldError> for ApiError {
    fn from(e: HoldError) -> Self {
        match e {
            HoldError::InvalidService => BookingError::InvalidService.into(),
            HoldError::NotFound => ApiError::not_found("Hold"),
            HoldError::Conflict {
                requested,
                next_available,
                reasons,
            } => BookingError::Conflict {
                requested,
                next_available,
                reasons,
            }
            .into(),
            HoldError::TooMany {
                limit,
                retry_after_secs,
            } => ApiError::too_many_holds(limit, retry_after_secs),
            HoldError::Validation(e) => e.into(),
            HoldError::Storage(e) => e.into(),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::NotFound("delivery") => ApiError::not_found("Delivery"),
            WebhookError::NotFound(_) => ApiError::not_found("Webhook"),
            WebhookError::LimitReached(limit) => {
                ApiError::limit_reached("webhook endpoints per account", limit)
            }
            WebhookError::Validation(e) => e.into(),
            WebhookError::Storage(e) => e.into(),
        }
    }
}

impl From<TimeOffError> for ApiError {
    fn from(e: TimeOffError) -> Self {
        match e {
            TimeOffError::NotFound("provider") => ApiError::not_found("Provider"),
            TimeOffError::NotFound(_) => ApiError::not_found("Time off"),
            TimeOffError::Validation(e) => e.into(),
            TimeOffError::Storage(e) => e.into(),
        }
    }
}

impl From<CalendarError> for ApiError {
    fn from(e: CalendarError) -> Self {
        match e {
            CalendarError::NotFound("provider") => ApiError::not_found("Provider"),
            CalendarError::NotFound(_) => ApiError::not_found("Calendar"),
            CalendarError::LimitReached(limit) => {
                ApiError::limit_reached("calendar connections per provider", limit)
            }
            CalendarError::Validation(e) => e.into(),
            CalendarError::Storage(e) => e.into(),
        }
    }
}
