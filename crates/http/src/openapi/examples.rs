//! Request and response body examples of the OpenAPI document: the
//! README's walkthrough (the 1-Hour Consultation booked at 10:00 New York
//! time on Monday 18 January 2027) and the shapes docs/api.md describes.
//! The request examples are checked to be accepted by the server (unit
//! test in the parent module); `scripts/test-clients.sh` checks every
//! example against its schema.

use serde_json::{Value, json};

const PROVIDER: &str = "prv_4Xb9TqL2mZ8cR1vN6kP3sW";
const BOOKING: &str = "bk_7Hc2pQm9Lx4Vt8Rz1Nw6Kd";
const WEBHOOK: &str = "wh_2Lq8Vn5Rt1Xc7Mz4Pk9Hs3";
const CALENDAR: &str = "cal_9Tk3Wm6Qz2Lp8Xr5Nc1Vb";
const TIME_OFF: &str = "off_5Rw8Kp2Xm7Qc4Vz1Ln9Ht";

/// `POST /v1/services` body (the README's service).
pub fn create_service() -> Value {
    json!({
        "id": "srv_consultation",
        "name": "1-Hour Consultation",
        "description": "Expert guidance on your project",
        "duration": 60,
        "price": {"amount": 150, "currency": "USD", "type": "hourly"},
        "availability": {
            "days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "hours": {"start": "09:00", "end": "17:00"},
            "timezone": "America/New_York"
        }
    })
}

/// A service as returned.
pub fn service() -> Value {
    json!({
        "id": "srv_consultation",
        "name": "1-Hour Consultation",
        "description": "Expert guidance on your project",
        "duration": 60,
        "price": {"amount": 150, "currency": "USD", "type": "hourly"},
        "availability": {
            "days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "hours": {"start": "09:00", "end": "17:00"},
            "timezone": "America/New_York"
        },
        "provider_id": PROVIDER,
        "buffer_before": 0,
        "buffer_after": 0,
        "minimum_notice": 0,
        "auto_confirm": false,
        "cancel_cutoff": 0,
        "reschedule_cutoff": 0,
        "reminders": [60, 1440],
        "created_at": "2027-01-11T14:02:11Z",
        "updated_at": "2027-01-11T14:02:11Z"
    })
}

/// `GET /v1/services`.
pub fn service_list() -> Value {
    json!({"data": [service()], "next_cursor": null})
}

/// `PATCH /v1/services/{id}` body.
pub fn update_service() -> Value {
    json!({"buffer_after": 15, "description": null})
}

/// `GET /v1/services/{id}/availability?from=2027-01-18&to=2027-01-18`.
pub fn availability() -> Value {
    let slots: Vec<Value> = (14..22)
        .map(|h| {
            json!({
                "start": format!("2027-01-18T{h:02}:00:00Z"),
                "end": format!("2027-01-18T{:02}:00:00Z", h + 1),
            })
        })
        .collect();
    json!({"service_id": "srv_consultation", "timezone": "America/New_York", "slots": slots})
}

/// `GET /v1/services/{id}/availability/explain` answer: 18:00 New York
/// time is after the day's hours, and only buffers (15 minutes each side)
/// meet a 45-minute booking at 17:00.
pub fn explain() -> Value {
    json!({
        "service_id": "srv_consultation",
        "at": "2027-01-18T23:00:00Z",
        "end": "2027-01-19T00:00:00Z",
        "available": false,
        "on_grid": false,
        "reasons": [
            {"code": "OUTSIDE_HOURS", "window": {"start": "2027-01-18T14:00:00Z", "end": "2027-01-18T22:00:00Z"}},
            {"code": "BOOKED", "booking_id": "bk_4f9a2c7d1e8b3a6f5c0d9e2a", "start": "2027-01-18T22:00:00Z", "end": "2027-01-18T22:45:00Z", "buffer": true}
        ],
        "next_available": "2027-01-19T14:00:00Z"
    })
}

/// `POST /v1/providers` body.
pub fn create_provider() -> Value {
    json!({"name": "Dr. Ada Park", "email": "ada@example.com"})
}

/// `PATCH /v1/providers/{id}` body.
pub fn update_provider() -> Value {
    json!({"email": null})
}

/// A provider as returned.
pub fn provider() -> Value {
    json!({
        "id": PROVIDER,
        "name": "Dr. Ada Park",
        "email": "ada@example.com",
        "is_default": false,
        "created_at": "2027-01-11T14:00:00Z",
        "updated_at": "2027-01-11T14:00:00Z"
    })
}

/// `GET /v1/providers`.
pub fn provider_list() -> Value {
    json!({"data": [provider()], "next_cursor": null})
}

/// `POST /v1/bookings` body (the README's step 4).
pub fn create_booking() -> Value {
    json!({
        "service": "srv_consultation",
        "scheduled_at": "2027-01-18T15:00:00Z",
        "customer": {"email": "customer@example.com", "name": "John Doe"}
    })
}

fn booking_with(status: &str, scheduled_at: &str, end_at: &str, reason: Value) -> Value {
    json!({
        "id": BOOKING,
        "service": "srv_consultation",
        "provider_id": PROVIDER,
        "duration": 60,
        "scheduled_at": scheduled_at,
        "end_at": end_at,
        "status": status,
        "customer": {"email": "customer@example.com", "name": "John Doe"},
        "price": {"amount": 150, "currency": "USD"},
        "notes": null,
        "metadata": {},
        "cancel_reason": reason,
        "created_at": "2027-01-11T14:05:37Z",
        "updated_at": "2027-01-11T14:05:37Z",
        "manage_url": MANAGE_URL
    })
}

/// A booking's customer link.
const MANAGE_URL: &str = "https://bookings.example.com/manage/Xq7mV2nK9pL4tR8wZ1cB6dF3gH5jM0sA";

fn managed_with(status: &str) -> Value {
    json!({
        "id": BOOKING,
        "service": {"id": "srv_consultation", "name": "1-Hour Consultation", "timezone": "America/New_York"},
        "duration": 60,
        "scheduled_at": "2027-01-18T15:00:00Z",
        "end_at": "2027-01-18T16:00:00Z",
        "status": status,
        "customer": {"email": "customer@example.com", "name": "John Doe"},
        "price": {"amount": 150, "currency": "USD"},
        "notes": null,
        "cancel_deadline": "2027-01-17T15:00:00Z",
        "reschedule_deadline": "2027-01-17T15:00:00Z",
        "manage_url": MANAGE_URL
    })
}

/// A booking as its customer link shows it.
pub fn managed_booking() -> Value {
    managed_with("confirmed")
}

/// The same after the customer cancelled it.
pub fn managed_cancelled() -> Value {
    managed_with("cancelled")
}

/// `GET /v1/manage/{token}/availability`.
pub fn managed_slots() -> Value {
    json!({
        "booking_id": BOOKING,
        "timezone": "America/New_York",
        "slots": [
            {"start": "2027-01-18T15:00:00Z", "end": "2027-01-18T16:00:00Z"},
            {"start": "2027-01-18T16:00:00Z", "end": "2027-01-18T17:00:00Z"}
        ]
    })
}

/// The customer page, shortened.
pub fn manage_page() -> Value {
    json!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>…<title>Your booking: 1-Hour Consultation</title>…</head>\n<body>\n<main>\n<h1>Your booking</h1>\n<dl>…</dl>\n<section aria-labelledby=\"move\">…<form method=\"post\" action=\"/manage/Xq7mV2nK9pL4tR8wZ1cB6dF3gH5jM0sA/reschedule\">…</form></section>\n<section aria-labelledby=\"cancel\">…</section>\n</main>\n</body>\n</html>\n"
    )
}

/// The page of a wrong or dead link, shortened.
pub fn manage_page_not_found() -> Value {
    json!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>…<title>Link not found</title>…</head>\n<body>\n<main>\n<h1>Link not found</h1>\n<p role=\"alert\">This booking link is not valid any more. …</p>\n</main>\n</body>\n</html>\n"
    )
}

/// The page after a cancellation, shortened.
pub fn manage_page_cancelled() -> Value {
    json!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>…<title>Booking cancelled</title>…</head>\n<body>\n<main>\n<h1>Booking cancelled</h1>\n…</main>\n</body>\n</html>\n"
    )
}

/// The page's style sheet, shortened.
pub fn manage_css() -> Value {
    json!(
        ":root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }\n…"
    )
}

/// A new booking as returned.
pub fn booking() -> Value {
    booking_with(
        "pending",
        "2027-01-18T15:00:00Z",
        "2027-01-18T16:00:00Z",
        Value::Null,
    )
}

/// `GET /v1/bookings`.
pub fn booking_list() -> Value {
    json!({"data": [booking()], "next_cursor": null})
}

/// The booking after `POST /v1/bookings/{id}/confirm`.
pub fn confirmed_booking() -> Value {
    booking_with(
        "confirmed",
        "2027-01-18T15:00:00Z",
        "2027-01-18T16:00:00Z",
        Value::Null,
    )
}

/// `POST /v1/bookings/{id}/reschedule` body.
pub fn reschedule_booking() -> Value {
    json!({"scheduled_at": "2027-01-18T18:00:00Z"})
}

/// The booking after the reschedule.
pub fn rescheduled_booking() -> Value {
    booking_with(
        "confirmed",
        "2027-01-18T18:00:00Z",
        "2027-01-18T19:00:00Z",
        Value::Null,
    )
}

/// The body of an action that takes no fields (`confirm`, `complete`, …).
pub fn no_fields() -> Value {
    json!({})
}

/// `POST /v1/bookings/{id}/cancel` body.
pub fn cancel_booking() -> Value {
    json!({"reason": "Customer asked to cancel"})
}

/// The booking after the cancellation.
pub fn cancelled_booking() -> Value {
    booking_with(
        "cancelled",
        "2027-01-18T18:00:00Z",
        "2027-01-18T19:00:00Z",
        json!("Customer asked to cancel"),
    )
}

/// The booking after `complete`.
pub fn completed_booking() -> Value {
    booking_with(
        "completed",
        "2027-01-18T15:00:00Z",
        "2027-01-18T16:00:00Z",
        Value::Null,
    )
}

/// `POST /v1/webhooks` body.
pub fn create_webhook() -> Value {
    json!({
        "url": "https://example.com/hooks/booking",
        "events": ["booking.created", "booking.cancelled"],
        "description": "CRM sync"
    })
}

/// A webhook endpoint as returned.
pub fn webhook() -> Value {
    json!({
        "id": WEBHOOK,
        "url": "https://example.com/hooks/booking",
        "events": ["booking.created", "booking.cancelled"],
        "description": "CRM sync",
        "enabled": true,
        "created_at": "2027-01-11T14:10:00Z"
    })
}

/// A webhook endpoint with its secret (creation, rotation).
pub fn webhook_with_secret() -> Value {
    let mut v = webhook();
    v["secret"] = json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    v
}

/// `GET /v1/webhooks`.
pub fn webhook_list() -> Value {
    json!({"data": [webhook()], "next_cursor": null})
}

/// `PATCH /v1/webhooks/{id}` body.
pub fn update_webhook() -> Value {
    json!({"enabled": false})
}

/// A delivery with one failed attempt, waiting for the next.
pub fn delivery() -> Value {
    json!({
        "id": "whd_5c0f3a9e2b7d4e61a8f0c2d9",
        "event_id": "evt_8Nq3Vz6Lk1Xp4Rt9Mc2Hw7",
        "event": "booking.created",
        "state": "pending",
        "next_attempt_at": "2027-01-11T14:36:00Z",
        "attempts": [
            {"at": "2027-01-11T14:05:38Z", "status_code": 503, "error": null, "duration_ms": 87}
        ],
        "created_at": "2027-01-11T14:05:37Z"
    })
}

/// `GET /v1/webhooks/{id}/deliveries`.
pub fn delivery_list() -> Value {
    json!({"data": [delivery()], "next_cursor": null})
}

/// `GET /v1/providers/{id}/feed`.
pub fn feed_url() -> Value {
    json!({
        "url": "https://bookings.example.com/calendar/feed/f_Yq2x8WcLr5Tn1Vb7Kz3Mp9Hd4Gs6Jf.ics",
        "webcal_url": "webcal://bookings.example.com/calendar/feed/f_Yq2x8WcLr5Tn1Vb7Kz3Mp9Hd4Gs6Jf.ics"
    })
}

/// A calendar file (feed or single booking), shortened.
pub fn ics() -> Value {
    json!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//booking-api//booking-api 0.1//EN\r\nCALSCALE:GREGORIAN\r\nBEGIN:VEVENT\r\nUID:bk_7Hc2pQm9Lx4Vt8Rz1Nw6Kd@booking-api\r\nDTSTAMP:20270111T140537Z\r\nDTSTART:20270118T150000Z\r\nDTEND:20270118T160000Z\r\nSEQUENCE:0\r\nSTATUS:TENTATIVE\r\nSUMMARY:1-Hour Consultation with John Doe\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// `POST /v1/providers/{id}/calendars` body.
pub fn create_calendar() -> Value {
    json!({"type": "ics", "url": "https://calendar.google.com/calendar/ical/ada%40example.com/private-0123456789abcdef/basic.ics"})
}

/// A calendar connection as returned.
pub fn calendar() -> Value {
    json!({
        "id": CALENDAR,
        "type": "ics",
        "write": false,
        "last_write_error": null,
        "status": "pending",
        "last_synced_at": null,
        "last_error": null,
        "last_error_at": null,
        "busy_blocks": 0,
        "created_at": "2027-01-11T14:20:00Z"
    })
}

/// `GET /v1/providers/{id}/calendars`.
pub fn calendar_list() -> Value {
    json!({"data": [calendar()]})
}

/// `POST /v1/calendar/sync`.
pub fn sync_list() -> Value {
    json!({"data": [
        {"id": CALENDAR, "type": "ics", "status": "synced", "busy_blocks": 12, "error": null}
    ]})
}

/// `/healthz`, `/readyz`.
pub fn health() -> Value {
    json!({"status": "ok"})
}

/// `/metrics`, shortened.
pub fn metrics() -> Value {
    json!(
        "# HELP http_requests_total HTTP requests by method, route and status\n# TYPE http_requests_total counter\nhttp_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3\n"
    )
}

/// `POST /v1/providers/{id}/time-off` body.
pub fn create_time_off() -> Value {
    json!({
        "start": "2027-01-18T00:00:00-05:00",
        "end": "2027-01-23T00:00:00-05:00",
        "reason": "Conference in Berlin"
    })
}

/// Time off as listed.
pub fn time_off() -> Value {
    json!({
        "id": TIME_OFF,
        "provider_id": PROVIDER,
        "start": "2027-01-18T05:00:00Z",
        "end": "2027-01-23T05:00:00Z",
        "reason": "Conference in Berlin",
        "created_at": "2027-01-11T14:30:00Z"
    })
}

/// New time off as created, with the booking inside it.
pub fn time_off_created() -> Value {
    let mut created = time_off();
    created["overlapping_bookings"] = json!([BOOKING]);
    created
}

/// `GET /v1/providers/{id}/time-off`.
pub fn time_off_list() -> Value {
    json!({"data": [time_off()], "next_cursor": null})
}

/// `POST /v1/holds`.
pub fn create_hold() -> Value {
    json!({"service": "srv_consultation", "scheduled_at": "2027-01-18T15:00:00Z", "ttl": 600})
}

/// A hold.
pub fn hold() -> Value {
    json!({
        "id": "hld_8c1d0e6b2a4f9e3d7c5b1a0f",
        "service": "srv_consultation",
        "provider_id": PROVIDER,
        "scheduled_at": "2027-01-18T15:00:00Z",
        "end_at": "2027-01-18T16:00:00Z",
        "expires_at": "2027-01-11T14:40:00Z"
    })
}
