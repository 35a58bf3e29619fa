//! Request extractors: the authenticated tenant, JSON bodies with the
//! contract's errors and size limit, query strings and list cursors.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use booking_domain::ValidationError;
use booking_domain::ports::PageRequest;
use booking_domain::usecases::{ApiKeys, Authenticated};
use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::text;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The account (and key) a request acts for, from `Authorization: Bearer sk_…`.
#[derive(Debug, Clone)]
pub struct Tenant(pub Authenticated);

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("application state missing");
            ApiError::internal()
        })
}

impl FromRequest for Tenant {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            let key = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    let (scheme, rest) = v.split_once(' ')?;
                    scheme
                        .eq_ignore_ascii_case("bearer")
                        .then(|| rest.trim().to_owned())
                })
                .ok_or_else(ApiError::unauthorized)?;
            let keys = ApiKeys {
                store: state.ports.accounts.as_ref(),
                clock: state.ports.clock.as_ref(),
                ids: state.ports.ids.as_ref(),
            };
            let who = keys.authenticate(&key).await?;
            req.extensions_mut().insert(who.clone());
            Ok(Tenant(who))
        })
    }
}

/// Reads the whole body up to [`MAX_BODY_BYTES`], answering 413 beyond it.
pub async fn read_body(req: &HttpRequest, payload: &mut Payload) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    // The whole request must arrive within the request timeout.
    let deadline = tokio::time::Instant::from_std(crate::deadline::deadline(req));
    match tokio::time::timeout_at(deadline, read_chunks(payload)).await {
        Ok(read) => read,
        Err(_) => Err(ApiError::request_timeout(crate::deadline::timeout(req))),
    }
}

/// The body's chunks up to [`MAX_BODY_BYTES`].
async fn read_chunks(payload: &mut Payload) -> Result<Bytes, ApiError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::validation(&ValidationError::new(
                "body",
                format!("could not read the body: {e}"),
            ))
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses JSON into `T`, naming the offending field on failure.
/// Control characters are refused first, in every string of the body.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    text::check_json(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = parsed.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // Text that is not JSON at all names no field, whatever the path
        // got to (`?` inside an object whose key never parsed).
        let field = if inner.is_syntax() || inner.is_eof() {
            "body".to_owned()
        } else {
            field_from_serde(&path, &message)
        };
        ApiError::validation(&ValidationError::new(field, message))
    })?;
    de.end()
        .map_err(|e| ApiError::validation(&ValidationError::new("body", e.to_string())))?;
    Ok(value)
}

/// [`parse_json`] of a body, where an empty (or blank) body counts as `{}`.
pub fn json_or_empty<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_json(if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    })
}

/// The field a serde error is about: the path, plus the named field for
/// "missing field `x`", "unknown field `x`" and "duplicate field `x`" (a
/// query parameter given twice).
fn field_from_serde(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|p| {
            message
                .split_once(p)
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(f, _)| f)
                // An empty key names nothing: the object holding it is the field.
                .filter(|f| !f.is_empty())
        });
    // An empty key ends the path with its separator (`price.`).
    let base = if path == "." {
        ""
    } else {
        path.strip_suffix('.').unwrap_or(path)
    };
    match named {
        Some(name) if base.is_empty() => name.to_owned(),
        Some(name) if !base.ends_with(name) => format!("{base}.{name}"),
        _ if base.is_empty() => "body".to_owned(),
        _ => base.to_owned(),
    }
}

/// A JSON body of type `T`: 64 KiB at most, unknown fields rejected, every
/// failure a VALIDATION_ERROR naming the field. An empty body counts as `{}`
/// when `T` allows it. The body is read when the request is extracted
/// (413 and 408 come first) and parsed when the handler asks
/// ([`JsonBody::parse`]), after it has looked up the resource the path
/// names: an unknown resource is 404 before the body's 400.
#[derive(Debug)]
pub struct JsonBody<T> {
    bytes: Bytes,
    of: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonBody<T> {
    /// The body as a `T`, or the VALIDATION_ERROR naming what is wrong.
    pub fn parse(&self) -> Result<T, ApiError> {
        json_or_empty(&self.bytes)
    }
}

impl<T: 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let bytes = read_body(&req, &mut payload).await?;
            Ok(JsonBody {
                bytes,
                of: std::marker::PhantomData,
            })
        })
    }
}

/// The body of an action that takes no fields (`wire::NoFields`): empty
/// or `{}`, checked when the request is extracted.
#[derive(Debug)]
pub struct NoBody;

impl FromRequest for NoBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = JsonBody::<crate::wire::NoFields>::from_request(req, payload);
        Box::pin(async move {
            body.await?.parse()?;
            Ok(NoBody)
        })
    }
}

/// Query-string parameters of type `T` (unknown parameters are ignored).
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Control characters are refused in every parameter, known or not,
        // name included; a parameter without a usable name is `query`.
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string());
        if let Some(e) = pairs.iter().flatten().find_map(|(name, value)| {
            let field = query_field(name);
            text::check(name, field)
                .and_then(|()| text::check(value, field))
                .err()
        }) {
            return std::future::ready(Err(e.into()));
        }
        let parsed = serde_urlencoded::from_str::<T>(req.query_string()).map_err(|e| {
            let message = e.to_string();
            let field = field_from_serde(".", &message);
            ApiError::validation(&ValidationError::new(field, message))
        });
        std::future::ready(parsed.map(QueryParams))
    }
}

/// How a query parameter is named in errors: by its name, or `query` when
/// it has none that could be shown (empty, or with a control character).
fn query_field(name: &str) -> &str {
    if name.is_empty() || name.chars().any(text::is_control) {
        "query"
    } else {
        name
    }
}

/// `?limit=&cursor=` on list endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-200, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = "^c[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

impl PageParams {
    /// Validates into a page request.
    pub fn to_page(&self) -> Result<PageRequest, ApiError> {
        let limit = match &self.limit {
            None => 50,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=200).contains(&n) => n,
                _ => {
                    return Err(
                        ValidationError::new("limit", "must be an integer from 1 to 200").into(),
                    );
                }
            },
        };
        let after = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(PageRequest { limit, after })
    }
}

/// Encodes a store position as a cursor (`c` and the position: opaque to
/// clients, and every value the schema's pattern allows is one the server
/// accepts).
pub fn encode_cursor(position: i64) -> String {
    format!("c{position}")
}

fn decode_cursor(text: &str) -> Result<i64, ApiError> {
    let invalid = || {
        ApiError::from(ValidationError::new(
            "cursor",
            "is not a cursor from this API",
        ))
    };
    text.strip_prefix('c')
        .filter(|n| (1..=18).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_errors_name_the_field() {
        assert_eq!(field_from_serde(".", "missing field `name`"), "name");
        assert_eq!(
            field_from_serde("price", "missing field `currency`"),
            "price.currency"
        );
        assert_eq!(
            field_from_serde("price.bogus", "unknown field `bogus`, expected one of"),
            "price.bogus"
        );
        assert_eq!(
            field_from_serde("duration", "invalid type: string"),
            "duration"
        );
        assert_eq!(field_from_serde(".", "expected value at line 1"), "body");
        assert_eq!(
            field_from_serde(".", "duplicate field `include`"),
            "include"
        );
        assert_eq!(
            field_from_serde(".", "unknown field ``, expected `name`"),
            "body"
        );
        assert_eq!(
            field_from_serde("price.", "unknown field ``, expected one of"),
            "price"
        );
    }

    #[test]
    fn text_that_is_not_json_names_the_body() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Named {
            name: String,
        }
        for text in ["{bad json", "{\"name\": ", "{\"name\": \"a\",}", "nope"] {
            let e = parse_json::<Named>(text.as_bytes()).unwrap_err();
            assert_eq!(e.details["field"], "body", "{text}: {e:?}");
        }
    }

    #[test]
    fn query_parameters_without_a_showable_name_are_query() {
        assert_eq!(query_field("from"), "from");
        assert_eq!(query_field(""), "query");
        assert_eq!(query_field("a\u{7f}"), "query");
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(42)).ok(), Some(42));
        assert!(decode_cursor("garbage!").is_err());
    }
}
