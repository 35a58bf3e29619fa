//! The customer page: `GET /manage/{token}`, a server-rendered HTML page
//! that works without JavaScript, and its two forms
//! (`POST /manage/{token}/cancel`, `POST /manage/{token}/reschedule`,
//! `application/x-www-form-urlencoded`).
//!
//! - **Same rules as the JSON routes**: the page opens the booking with the
//!   same use case (a wrong or dead token is a 404 page that counts toward
//!   the wrong-token limit), lists free times with it, and its forms cancel
//!   and move with it (cutoffs included; events carry `actor: customer`).
//! - **Time zone**: every time is shown in the service's zone, named on the
//!   page, with the UTC instant beside it. The customer's own zone cannot
//!   be known without JavaScript, so the page says which zone it uses.
//! - **CSRF**: the credential is the token in the path, not a cookie, so a
//!   site that does not know the link cannot aim a form at it. On top, each
//!   form carries a hidden per-page token (`HMAC(server key, link token)`),
//!   and a post whose `Sec-Fetch-Site` is neither `same-origin` nor `none`,
//!   or whose `Origin` is neither `BOOKING_PUBLIC_URL`'s origin nor the
//!   request's own host, is refused.
//! - **Answers**: success is a `303 See Other` (after a move, back to the
//!   page with a message; after a cancellation, to a static confirmation,
//!   since the link is dead by then); a refused change shows the page again
//!   with the reason in words and the status the JSON route would have.
//! - **Headers**: `Content-Security-Policy: default-src 'none'; style-src
//!   'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`
//!   (no script at all; the style sheet is `/manage/assets/page.css`),
//!   `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`,
//!   `Cache-Control: no-store`. Every value written into the page is HTML
//!   escaped.

use std::fmt::Write as _;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use booking_domain::scheduling::Slot;
use booking_domain::usecases::{AvailabilityQuery, Bound, Opened, check_form_token, form_token};
use booking_domain::{Booking, ValidationError};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::manage::{cancel_reason, manage, open, private};
use crate::error::ApiError;
use crate::extract::read_body;
use crate::openapi::examples;
use crate::state::AppState;
use crate::wire::{CancelForm, RescheduleForm, fmt_ts, parse_ts};

/// The page's policy: no script, no inline style, forms only to itself.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// How many local days of free times the reschedule form lists.
const DAYS_LISTED: i64 = 14;

/// The style sheet: readable on a phone (one column, large touch targets),
/// no external fonts.
const STYLE: &str = r#":root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; padding: 1rem; }
main { max-width: 40rem; margin: 0 auto; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dt { font-weight: 600; }
dd { margin: 0; }
.note { font-size: .9rem; opacity: .8; }
.notice { border: 2px solid #2e7d32; padding: .75rem; border-radius: .5rem; }
.error { border: 2px solid #c62828; padding: .75rem; border-radius: .5rem; }
fieldset { border: 0; padding: 0; margin: 0; }
legend { font-weight: 600; padding: 0; }
.times { display: flex; flex-wrap: wrap; gap: .5rem; }
.times label { display: inline-flex; align-items: center; gap: .35rem; min-height: 2.75rem;
  padding: 0 .75rem; border: 1px solid currentColor; border-radius: .5rem; cursor: pointer; }
textarea { width: 100%; box-sizing: border-box; min-height: 5rem; font: inherit; }
button { font: inherit; min-height: 2.75rem; padding: 0 1.25rem; margin-top: .75rem;
  border-radius: .5rem; border: 1px solid currentColor; cursor: pointer; }
@media (max-width: 30rem) { dl { grid-template-columns: 1fr; } dt { margin-top: .5rem; } button { width: 100%; } }
"#;

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The headers of every page answer.
fn page_headers(res: HttpResponseBuilder) -> HttpResponseBuilder {
    let mut res = private(res);
    res.insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
    res
}

/// A whole document around `body`; `base` is the path of
/// `BOOKING_PUBLIC_URL` (empty at a host's root), before `/manage/...`.
fn document(base: &str, title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex, nofollow\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"{}\">\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        esc(title),
        esc(&format!("{base}/manage/assets/page.css")),
    )
}

/// A page answering an error (404 for a wrong link, 429 over the limit,
/// 5xx), with its status.
fn error_page(state: &AppState, e: &ApiError) -> HttpResponse {
    let base = path_of(&state.feeds.public_url);
    let (title, words) = match e.code {
        "NOT_FOUND" => (
            "Link not found",
            "This booking link is not valid any more. It stops working once the booking is cancelled or over. If you copied it, check that it is complete.",
        ),
        "RATE_LIMITED" => (
            "Too many attempts",
            "Too many unknown links were tried from your network. Please wait a minute and try again.",
        ),
        "UNAVAILABLE" => (
            "Temporarily unavailable",
            "The booking system cannot be reached right now. Please try again in a moment.",
        ),
        _ => (
            "Something went wrong",
            "The booking could not be shown. Please try again later.",
        ),
    };
    let body = format!(
        "<h1>{}</h1>\n<p role=\"alert\">{}</p>\n",
        esc(title),
        esc(words)
    );
    page_headers(e.response_builder()).body(document(base, title, &body))
}

/// How the page names an instant: "Monday 18 January 2027, 10:00" in `tz`.
fn local(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%A %-d %B %Y, %H:%M")
        .to_string()
}

fn local_time(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%H:%M").to_string()
}

fn local_day(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%A %-d %B").to_string()
}

/// What the page says above its sections.
enum Banner {
    /// Nothing.
    None,
    /// A change went through.
    Done(&'static str),
    /// A change was refused: why, in words, and which form it came from.
    Error(String),
}

/// The refusal of a change, in words for the customer.
fn in_words(e: &ApiError, action: &str, service: &str) -> String {
    match e.code {
        "BOOKING_CONFLICT" => "That time is no longer free. Please choose another time.".to_owned(),
        "CUTOFF_PASSED" => format!(
            "It is too late to {action} this booking online. Please contact {service} directly."
        ),
        "INVALID_STATE" => "This booking can no longer be changed.".to_owned(),
        "VALIDATION_ERROR" => {
            let field = e.details["field"].as_str().unwrap_or_default();
            match field {
                "scheduled_at" => "Please choose one of the listed times.".to_owned(),
                "csrf" => {
                    "This form has expired or came from another site. Please reload the page and try again."
                        .to_owned()
                }
                "reason" => format!(
                    "The reason {}.",
                    e.details["message"]
                        .as_str()
                        .or_else(|| e.message.strip_prefix("reason: "))
                        .unwrap_or("is not valid")
                ),
                _ => e.message.clone(),
            }
        }
        _ => "The change could not be made. Please try again later.".to_owned(),
    }
}

/// The free times of the next [`DAYS_LISTED`] local days.
async fn free_times(state: &AppState, opened: &Opened) -> Result<Vec<Slot>, ApiError> {
    let tz = opened.service.availability.timezone().tz().clone();
    let today = state.ports.clock.now().to_zoned(tz).date();
    let last = today
        .checked_add(jiff::Span::new().days(DAYS_LISTED - 1))
        .unwrap_or(today);
    let query = AvailabilityQuery {
        from: Bound::Date(today),
        to: Bound::Date(last),
    };
    Ok(manage(state).slots(opened, query).await?)
}

/// The page of an opened booking.
fn render(
    state: &AppState,
    token: &str,
    opened: &Opened,
    slots: &[Slot],
    banner: &Banner,
) -> String {
    let Opened { booking, service } = opened;
    let zone = service.availability.timezone();
    let tz = zone.tz();
    let now = state.ports.clock.now();
    let csrf = esc(&form_token(&state.feeds.key, token));
    let base = path_of(&state.feeds.public_url);
    let action = |what: &str| esc(&format!("{base}/manage/{token}/{what}"));
    let mut body = String::new();
    let _ = writeln!(body, "<h1>Your booking</h1>");
    match banner {
        Banner::None => {}
        Banner::Done(words) => {
            let _ = writeln!(
                body,
                "<p class=\"notice\" role=\"status\">{}</p>",
                esc(words)
            );
        }
        Banner::Error(words) => {
            let _ = writeln!(
                body,
                "<div class=\"error\" role=\"alert\"><h2>Not changed</h2><p>{}</p></div>",
                esc(words)
            );
        }
    }
    let _ = write!(
        body,
        "<dl>\n<dt>Service</dt><dd>{}</dd>\n<dt>When</dt><dd>{} to {}</dd>\n\
         <dt>Name</dt><dd>{}</dd>\n<dt>Status</dt><dd>{}</dd>\n</dl>\n",
        esc(&service.name),
        esc(&local(booking.scheduled_at, tz)),
        esc(&local_time(booking.end_at(), tz)),
        esc(&booking.customer.name),
        esc(status_words(booking)),
    );
    let _ = writeln!(
        body,
        "<p class=\"note\">Times on this page are in the time zone {} (the business's). In UTC this booking starts at <time datetime=\"{}\">{}</time>.</p>",
        esc(zone.name()),
        esc(&fmt_ts(booking.scheduled_at)),
        esc(&fmt_ts(booking.scheduled_at)),
    );

    // Move.
    let _ = writeln!(
        body,
        "<section aria-labelledby=\"move\">\n<h2 id=\"move\">Move your booking</h2>"
    );
    if now > opened.reschedule_deadline() {
        let _ = writeln!(
            body,
            "<p>It is too late to move this booking online. Please contact {} directly.</p>",
            esc(&service.name)
        );
    } else if slots.is_empty() {
        let _ = writeln!(
            body,
            "<p>There are no free times in the next {DAYS_LISTED} days.</p>"
        );
    } else {
        let _ = writeln!(
            body,
            "<form method=\"post\" action=\"{}\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <fieldset>\n<legend>Choose a new time ({})</legend>",
            action("reschedule"),
            esc(zone.name())
        );
        let mut day = String::new();
        // The booking's own time is free for it, but moving there is no move.
        let others = slots.iter().filter(|s| s.start != booking.scheduled_at);
        for (i, slot) in others.enumerate() {
            let this_day = local_day(slot.start, tz);
            if this_day != day {
                if !day.is_empty() {
                    let _ = writeln!(body, "</div>");
                }
                let _ = writeln!(body, "<h3>{}</h3>\n<div class=\"times\">", esc(&this_day));
                day = this_day;
            }
            let _ = writeln!(
                body,
                "<label for=\"t{i}\"><input type=\"radio\" id=\"t{i}\" name=\"scheduled_at\" value=\"{}\" required> {}</label>",
                esc(&fmt_ts(slot.start)),
                esc(&local_time(slot.start, tz)),
            );
        }
        let _ = writeln!(
            body,
            "</div>\n</fieldset>\n<button type=\"submit\">Move my booking</button>\n</form>"
        );
    }
    let _ = writeln!(body, "</section>");

    // Cancel.
    let _ = writeln!(
        body,
        "<section aria-labelledby=\"cancel\">\n<h2 id=\"cancel\">Cancel your booking</h2>"
    );
    if now > opened.cancel_deadline() {
        let _ = writeln!(
            body,
            "<p>It is too late to cancel this booking online. Please contact {} directly.</p>",
            esc(&service.name)
        );
    } else {
        let _ = writeln!(
            body,
            "<form method=\"post\" action=\"{}\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label for=\"reason\">Reason (optional)</label>\n\
             <textarea id=\"reason\" name=\"reason\" maxlength=\"1000\"></textarea>\n\
             <button type=\"submit\">Cancel my booking</button>\n</form>",
            action("cancel")
        );
    }
    let _ = writeln!(body, "</section>");
    document(base, &format!("Your booking: {}", service.name), &body)
}

fn status_words(b: &Booking) -> &'static str {
    match b.status {
        booking_domain::BookingStatus::Pending => "Requested, awaiting confirmation",
        booking_domain::BookingStatus::Confirmed => "Confirmed",
        booking_domain::BookingStatus::Cancelled => "Cancelled",
        booking_domain::BookingStatus::Completed => "Completed",
    }
}

/// The customer page of a booking.
#[utoipa::path(get, path = "/manage/{token}", tag = "customer-links", operation_id = "getManagePage", params(("token" = String, Path, description = "The token of the booking's `manage_url`"), ("done" = Option<String>, Query, description = "`rescheduled`: shows that the move went through")),
    responses((status = 200, description = "The booking in the service's time zone, with a form to move it (free times of the next 14 days) and one to cancel it. No JavaScript; `Content-Security-Policy` forbids scripts", content_type = "text/html", body = String, example = examples::manage_page),
        (status = 404, description = "An HTML page: the link is wrong, or its booking is cancelled or over (counts toward the wrong-token limit)", content_type = "text/html", body = String, example = examples::manage_page_not_found),
        (status = 429, description = "An HTML page: too many wrong tokens from this client", content_type = "text/html", body = String, example = examples::manage_page_not_found)))]
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    let opened = match open(&state, &req, &token).await {
        Ok(o) => o,
        Err(e) => return error_page(&state, &e),
    };
    let slots = match free_times(&state, &opened).await {
        Ok(s) => s,
        Err(e) => return error_page(&state, &e),
    };
    // `?done=rescheduled` after a move; any other query is ignored.
    let banner = if req
        .query_string()
        .split('&')
        .any(|p| p == "done=rescheduled")
    {
        Banner::Done("Your booking has been moved to the new time.")
    } else {
        Banner::None
    };
    page_headers(HttpResponse::Ok()).body(render(&state, &token, &opened, &slots, &banner))
}

/// Whether a form post comes from this server's own page: `Sec-Fetch-Site`
/// (when sent) is `same-origin` or `none`, and `Origin` (when sent and not
/// `null`) is `BOOKING_PUBLIC_URL`'s origin or the request's own.
fn same_origin(state: &AppState, req: &HttpRequest) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    // Under `Referrer-Policy: no-referrer` browsers send `Origin: null`
    // with the page's own posts: then `Sec-Fetch-Site` and the form's token
    // decide.
    if origin == "null" {
        return true;
    }
    let public = origin_of(&state.feeds.public_url);
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    origin == public || origin == own
}

/// The path of a URL after its origin, without a trailing slash (`""` for
/// a host's root): the page's links and forms start with it, so they stay
/// right behind a proxy that serves the API under a prefix.
fn path_of(url: &str) -> &str {
    url[origin_of(url).len()..].trim_end_matches('/')
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').map_or(url.len(), |i| scheme.len() + 3 + i);
            &url[..end]
        }
        None => url,
    }
}

/// A form body, after the origin and CSRF checks.
async fn form<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: &mut Payload,
    token: &str,
    csrf: impl Fn(&T) -> &str,
) -> Result<T, ApiError> {
    let bytes = read_body(req, payload).await?;
    let expired = || {
        ValidationError::new(
            "csrf",
            "the form is missing its token or came from another site",
        )
    };
    if !same_origin(state, req) {
        return Err(expired().into());
    }
    let parsed: T = serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| ValidationError::new("body", format!("not a valid form: {e}")))?;
    if !check_form_token(&state.feeds.key, token, csrf(&parsed)) {
        return Err(expired().into());
    }
    Ok(parsed)
}

/// The page again, with a refused change explained.
async fn refused(
    state: &AppState,
    token: &str,
    opened: &Opened,
    e: &ApiError,
    action: &str,
) -> HttpResponse {
    if e.status.is_server_error() {
        return error_page(state, e);
    }
    // The booking as it stands now (the refusal may be a concurrent change).
    let current = match manage(state).open(token).await {
        Ok(o) => o,
        Err(_) => opened.clone(),
    };
    let slots = free_times(state, &current).await.unwrap_or_default();
    let banner = Banner::Error(in_words(e, action, &current.service.name));
    page_headers(e.response_builder()).body(render(state, token, &current, &slots, &banner))
}

/// Cancel from the page.
#[utoipa::path(post, path = "/manage/{token}/cancel", tag = "customer-links", operation_id = "cancelFromManagePage", params(("token" = String, Path, description = "The token of the booking's `manage_url`")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf` (the page's hidden field) and an optional `reason`", example = json!("csrf=Zm9ybS10b2tlbg&reason=Ill")),
    responses((status = 303, description = "Cancelled: see `/manage/{token}/cancelled`"),
        (status = 400, description = "The page again, saying in words why nothing changed (expired form, reason too long)", content_type = "text/html", body = String, example = examples::manage_page),
        (status = 404, description = "An HTML page: the link is wrong or dead", content_type = "text/html", body = String, example = examples::manage_page_not_found),
        (status = 408, description = "The page again: the form did not arrive within the request timeout", content_type = "text/html", body = String, example = examples::manage_page),
        (status = 409, description = "The page again, saying in words why nothing changed (past the cancel cutoff)", content_type = "text/html", body = String, example = examples::manage_page),
        (status = 413, description = "The page again: the form is over 64 KiB", content_type = "text/html", body = String, example = examples::manage_page),
        (status = 429, description = "An HTML page: too many wrong tokens from this client", content_type = "text/html", body = String, example = examples::manage_page_not_found)))]
pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let opened = match open(&state, &req, &token).await {
        Ok(o) => o,
        Err(e) => return error_page(&state, &e),
    };
    let result = async {
        let form: CancelForm = form(
            &state,
            &req,
            &mut payload.into_inner(),
            &token,
            |f: &CancelForm| &f.csrf,
        )
        .await?;
        let reason = cancel_reason(form.reason.filter(|r| !r.trim().is_empty()))?;
        Ok::<_, ApiError>(manage(&state).cancel(&opened, reason).await?)
    }
    .await;
    match result {
        Ok(_) => see_other(&state, &format!("/manage/{}/cancelled", token.as_str())),
        Err(e) => refused(&state, &token, &opened, &e, "cancel").await,
    }
}

/// Reschedule from the page.
#[utoipa::path(post, path = "/manage/{token}/reschedule", tag = "customer-links", operation_id = "rescheduleFromManagePage", params(("token" = String, Path, description = "The token of the booking's `manage_url`")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf` (the page's hidden field) and `scheduled_at`, one of the listed times", example = json!("csrf=Zm9ybS10b2tlbg&scheduled_at=2027-01-19T15%3A00%3A00Z")),
    responses((status = 303, description = "Moved: back to the page, which says so"),
        (status = 400, description = "The page again, saying in words why nothing changed (no time chosen, expired form)", content_type = "text/html", body = String, example = examples::manage_page),
        (status = 404, description = "An HTML page: the link is wrong or dead", content_type = "text/html", body = String, example = examples::manage_page_not_found),
        (status = 408, description = "The page again: the form did not arrive within the request timeout", content_type = "text/html", body = String, example = examples::manage_page),
        (status = 409, description = "The page again, saying in words why nothing changed (the time was taken meanwhile, or past the reschedule cutoff)", content_type = "text/html", body = String, example = examples::manage_page),
        (status = 413, description = "The page again: the form is over 64 KiB", content_type = "text/html", body = String, example = examples::manage_page),
        (status = 429, description = "An HTML page: too many wrong tokens from this client", content_type = "text/html", body = String, example = examples::manage_page_not_found)))]
pub async fn reschedule(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let opened = match open(&state, &req, &token).await {
        Ok(o) => o,
        Err(e) => return error_page(&state, &e),
    };
    let result = async {
        let form: RescheduleForm = form(
            &state,
            &req,
            &mut payload.into_inner(),
            &token,
            |f: &RescheduleForm| &f.csrf,
        )
        .await?;
        let Some(at) = form.scheduled_at.filter(|s| !s.is_empty()) else {
            return Err(
                ValidationError::new("scheduled_at", "choose one of the listed times").into(),
            );
        };
        let start = parse_ts(&at, "scheduled_at")?;
        Ok::<_, ApiError>(manage(&state).reschedule(&opened, start).await?)
    }
    .await;
    match result {
        Ok(_) => see_other(
            &state,
            &format!("/manage/{}?done=rescheduled", token.as_str()),
        ),
        Err(e) => refused(&state, &token, &opened, &e, "move").await,
    }
}

/// A `303 See Other` to `path` under `BOOKING_PUBLIC_URL`'s path (a path,
/// not a whole URL, so the answer stays on whatever host the customer
/// used).
fn see_other(state: &AppState, path: &str) -> HttpResponse {
    let base = path_of(&state.feeds.public_url);
    page_headers(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, format!("{base}{path}")))
        .finish()
}

/// The confirmation after a cancellation: static, it shows nothing about
/// the booking (whose link is dead by now) and reads nothing.
#[utoipa::path(get, path = "/manage/{token}/cancelled", tag = "customer-links", operation_id = "getManageCancelled", params(("token" = String, Path, description = "The token of the cancelled booking's link (not looked up)")),
    responses((status = 200, description = "A static page saying the booking is cancelled", content_type = "text/html", body = String, example = examples::manage_page_cancelled)))]
pub async fn cancelled(state: web::Data<AppState>, _token: web::Path<String>) -> HttpResponse {
    let base = path_of(&state.feeds.public_url);
    let body = "<h1>Booking cancelled</h1>\n<p class=\"notice\" role=\"status\">Your booking has been cancelled.</p>\n<p>This link no longer works. To book again, use the business's booking page.</p>\n";
    page_headers(HttpResponse::Ok()).body(document(base, "Booking cancelled", body))
}

/// The page's style sheet.
#[utoipa::path(get, path = "/manage/assets/page.css", tag = "customer-links", operation_id = "getManagePageStyle",
    responses((status = 200, description = "The customer page's style sheet", content_type = "text/css", body = String, example = examples::manage_css)))]
pub async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(STYLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_open_markup() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://example.com/booking"),
            "https://example.com"
        );
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(path_of("https://example.com/booking/"), "/booking");
        assert_eq!(path_of("http://127.0.0.1:8080"), "");
    }
}
