//! Cross-cutting request handling: request ids, logs, metrics, panics, and
//! turning every non-JSON error answer into the contract's error shape.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use futures_util::FutureExt;
use rand::Rng;
use tracing::Instrument;

use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
use crate::state::AppState;

/// The request-id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request (also in the response's `X-Request-Id`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn incoming_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let ok = !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| v.to_owned())
}

/// A new request id (`req_` and 20 random characters).
pub fn new_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let tail: String = (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("req_{tail}")
}

/// A path safe to log: secrets in paths (feed tokens) are replaced.
pub fn redact_path(path: &str) -> String {
    // Feed and customer-link URLs carry their credential in the path.
    for prefix in ["/calendar/feed/", "/manage/", "/v1/manage/"] {
        if path.starts_with(prefix) {
            return format!("{prefix}[redacted]");
        }
    }
    path.chars().take(200).collect()
}

/// Whether the answer is the customer page's own error page (HTML, in
/// words, for people), which keeps its form.
fn is_customer_page(res: &ServiceResponse<BoxBody>) -> bool {
    res.request().path().starts_with("/manage/")
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
}

fn is_json(res: &ServiceResponse<BoxBody>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Wraps every request: assigns the request id, catches panics, logs one
/// line, records metrics, and makes sure error answers have the error shape.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = incoming_id(&req).unwrap_or_else(new_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = redact_path(req.path());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %path);

    let outcome = AssertUnwindSafe(next.call(req))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    // The request itself is gone once handed on (actix needs it unshared for
    // routing), so failures that never became a response leave as errors in
    // the contract's shape, carrying the request id; actix renders them.
    let mut res: ServiceResponse<BoxBody> = match outcome {
        Ok(Ok(res)) => res.map_into_boxed_body(),
        Ok(Err(err)) => {
            let status = err.as_response_error().status_code();
            if status.is_server_error() {
                span.in_scope(|| tracing::error!(error = %err, "request failed"));
            }
            let api = match err.as_error::<ApiError>() {
                Some(api) => api.clone(),
                None => ApiError::for_status(status, MAX_BODY_BYTES),
            };
            finish(&metrics, &method, "unmatched", status, started, &span);
            return Err(api.header(REQUEST_ID, id).into());
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".to_owned());
            span.in_scope(|| tracing::error!(panic = %what, "handler panicked"));
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            finish(&metrics, &method, "unmatched", status, started, &span);
            return Err(ApiError::internal().header(REQUEST_ID, id).into());
        }
    };

    let status = res.status();
    if (status.is_client_error() || status.is_server_error())
        && !is_json(&res)
        && !is_customer_page(&res)
    {
        let (req, old) = res.into_parts();
        let mut replacement = ApiError::for_status(status, MAX_BODY_BYTES).error_response();
        // Keep headers such as Allow or Retry-After from the original answer.
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                replacement
                    .headers_mut()
                    .insert(name.clone(), value.clone());
            }
        }
        res = ServiceResponse::new(req, replacement);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }

    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    finish(&metrics, &method, &route, status, started, &span);
    Ok(res)
}

/// Records metrics and the one log line of a request.
fn finish(
    metrics: &Option<crate::metrics::Metrics>,
    method: &str,
    route: &str,
    status: StatusCode,
    started: Instant,
    span: &tracing::Span,
) {
    let elapsed = started.elapsed();
    if let Some(m) = metrics {
        m.requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        m.latency
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            route = %route,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        )
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use actix_web::middleware::from_fn;
    use actix_web::test as atest;
    use actix_web::{App, HttpResponse, web};

    use super::*;

    async fn boom() -> HttpResponse {
        panic!("handler bug")
    }

    async fn plain_error() -> HttpResponse {
        HttpResponse::BadGateway().body("upstream said no")
    }

    #[actix_web::test]
    async fn a_panic_is_a_500_in_the_error_shape_with_the_request_id() {
        let app = atest::init_service(
            App::new()
                .wrap(from_fn(observe))
                .route("/boom", web::get().to(boom))
                .route("/ok", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let req = atest::TestRequest::get()
            .uri("/boom")
            .insert_header(("x-request-id", "abc-123"))
            .to_request();
        let res = atest::try_call_service(&app, req).await;
        // The middleware hands the failure on as an error; actix renders it.
        let res = match res {
            Ok(res) => res.into_parts().1,
            Err(e) => e.error_response(),
        };
        assert_eq!(res.status(), 500);
        assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");
        let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "INTERNAL");
        assert!(
            !json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("handler bug")
        );
        // The worker survives: the next request is served.
        let res =
            atest::call_service(&app, atest::TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()
                .get("x-request-id")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("req_")
        );
    }

    #[actix_web::test]
    async fn non_json_errors_get_the_error_shape() {
        let app = atest::init_service(
            App::new()
                .wrap(from_fn(observe))
                .route("/bad", web::get().to(plain_error)),
        )
        .await;
        let res =
            atest::call_service(&app, atest::TestRequest::get().uri("/bad").to_request()).await;
        // Anything 5xx that is not ours becomes the contract's 500 INTERNAL.
        assert_eq!(res.status(), 500);
        let json: serde_json::Value = atest::read_body_json(res).await;
        assert_eq!(json["error"]["code"], "INTERNAL");
    }

    #[test]
    fn feed_tokens_are_redacted_from_logged_paths() {
        assert_eq!(
            redact_path("/calendar/feed/secret.ics"),
            "/calendar/feed/[redacted]"
        );
        assert_eq!(redact_path("/v1/bookings"), "/v1/bookings");
        assert_eq!(redact_path("/manage/tok/cancel"), "/manage/[redacted]");
        assert_eq!(redact_path("/v1/manage/tok"), "/v1/manage/[redacted]");
    }
}
