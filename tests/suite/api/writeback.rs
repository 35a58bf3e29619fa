//! Bookings written into the provider's own calendar, end to end, against
//! local fakes of Google Calendar v3 (events insert/patch/delete at
//! client-chosen ids, `events.list`) and Microsoft Graph (events created
//! with a `transactionId`, patched and deleted by id, `calendarView`) that
//! keep their events and check what the documented APIs check: the fakes
//! refuse a stale token with 401 (the server refreshes it), answer one 429
//! with `Retry-After` (the server waits), lose one answer after storing the
//! event (the retry must not duplicate it: Google's duplicate insert is a
//! 409, Graph's repeated `transactionId` returns the same event).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use booking_tests::fake::{FakeServer, Request, Response};
use booking_tests::{Api, TestServer, every_day_service, future_monday, ny};
use serde_json::{Value, json};

/// What the tests script: answers the next matching request gets.
#[derive(Default)]
struct Script {
    /// Answer the next event insert with 429 and this `Retry-After`.
    throttle_next_insert: Option<u32>,
    /// Store the next inserted event, then answer 503 (a lost answer).
    lose_next_insert: bool,
    /// Graph: answer this many event creations with 503 after storing the
    /// event (a repeated `transactionId` too): every attempt's answer lost.
    lose_inserts: u32,
    /// Refuse every write with 403 (the calendar is read-only).
    read_only: bool,
}

/// One fake's state.
#[derive(Default)]
struct Fake {
    events: BTreeMap<String, Value>,
    log: Vec<Request>,
    script: Script,
    /// Event ids by transactionId (Graph).
    transactions: HashMap<String, String>,
    next_id: u32,
}

type Shared = Arc<Mutex<Fake>>;

fn bearer_ok(req: &Request) -> bool {
    req.header("authorization") == "Bearer fresh"
}

fn token_answer() -> Response {
    Response::json(
        200,
        &json!({"access_token": "fresh", "expires_in": 3599, "token_type": "Bearer"}),
    )
}

/// Google Calendar v3 over `primary`: `events.insert` with the client's
/// id (a-v and 0-9, 5-1024 long; 409 when taken, deleted events included),
/// `events.patch`, `events.delete` (the event stays, `cancelled`),
/// `events.list` (not cancelled ones), and the token endpoint.
fn google(state: &Shared, req: &Request) -> Response {
    let mut s = state.lock().unwrap();
    s.log.push(req.clone());
    if req.path == "/token" {
        return token_answer();
    }
    if !bearer_ok(req) {
        return Response::json(
            401,
            &json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}}),
        );
    }
    let base = "/calendar/v3/calendars/primary/events";
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", p) if p == base => {
            let items: Vec<Value> = s
                .events
                .values()
                .filter(|e| e["status"] != "cancelled")
                .cloned()
                .collect();
            Response::json(200, &json!({"timeZone": "UTC", "items": items}))
        }
        ("POST", p) if p == base => {
            if s.script.read_only {
                return Response::json(
                    403,
                    &json!({"error": {"code": 403, "errors": [{"reason": "forbidden"}]}}),
                );
            }
            if let Some(after) = s.script.throttle_next_insert.take() {
                return Response::json(
                    429,
                    &json!({"error": {"code": 429, "errors": [{"reason": "rateLimitExceeded"}]}}),
                )
                .with_header("retry-after", &after.to_string());
            }
            let body = req.json();
            let id = body["id"].as_str().unwrap_or_default().to_owned();
            let valid = (5..=1024).contains(&id.len())
                && id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9'));
            if !valid {
                return Response::json(
                    400,
                    &json!({"error": {"code": 400, "errors": [{"reason": "invalid"}]}}),
                );
            }
            if s.events.contains_key(&id) {
                return Response::json(
                    409,
                    &json!({"error": {"code": 409, "errors": [{"reason": "duplicate"}]}}),
                );
            }
            s.events.insert(id, body.clone());
            if std::mem::take(&mut s.script.lose_next_insert) {
                return Response::status(503);
            }
            Response::json(200, &body)
        }
        ("PATCH", p) if p.starts_with(base) => {
            let id = p[base.len() + 1..].to_owned();
            let Some(event) = s.events.get_mut(&id) else {
                return Response::json(404, &json!({"error": {"code": 404}}));
            };
            for (k, v) in req.json().as_object().cloned().unwrap_or_default() {
                event[k] = v;
            }
            Response::json(200, &event.clone())
        }
        ("DELETE", p) if p.starts_with(base) => {
            let id = p[base.len() + 1..].to_owned();
            match s.events.get_mut(&id) {
                Some(event) if event["status"] != "cancelled" => {
                    event["status"] = json!("cancelled");
                    Response::status(204)
                }
                Some(_) => Response::json(410, &json!({"error": {"code": 410}})),
                None => Response::json(404, &json!({"error": {"code": 404}})),
            }
        }
        _ => Response::status(404),
    }
}

/// Microsoft Graph: `POST /v1.0/me/calendar/events` (a repeated
/// `transactionId` answers the event already made), `PATCH` and `DELETE
/// /v1.0/me/events/{id}`, `calendarView` (the events overlapping
/// `startDateTime`-`endDateTime`), and the token endpoint.
fn graph(state: &Shared, req: &Request) -> Response {
    let mut s = state.lock().unwrap();
    s.log.push(req.clone());
    if req.path == "/token" {
        return token_answer();
    }
    if !bearer_ok(req) {
        return Response::json(
            401,
            &json!({"error": {"code": "InvalidAuthenticationToken"}}),
        );
    }
    let one = "/v1.0/me/events/";
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/v1.0/me/calendarView") => {
            // The events overlapping the window (UTC wall-clock times
            // compare as strings), as `calendarView` documents.
            let param = |name: &str| {
                req.query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .map(|v| v.trim_end_matches('Z').to_owned())
            };
            let (Some(from), Some(to)) = (param("startDateTime"), param("endDateTime")) else {
                return Response::json(400, &json!({"error": {"code": "ErrorInvalidParameter"}}));
            };
            let value: Vec<Value> = s
                .events
                .values()
                .filter(|e| {
                    let (start, end) = (
                        e["start"]["dateTime"].as_str().unwrap_or_default(),
                        e["end"]["dateTime"].as_str().unwrap_or_default(),
                    );
                    start < to.as_str() && end > from.as_str()
                })
                .cloned()
                .collect();
            Response::json(200, &json!({"value": value}))
        }
        ("POST", "/v1.0/me/calendar/events") => {
            if let Some(after) = s.script.throttle_next_insert.take() {
                return Response::json(429, &json!({"error": {"code": "TooManyRequests"}}))
                    .with_header("retry-after", &after.to_string());
            }
            let mut body = req.json();
            let Some(transaction) = body["transactionId"].as_str().map(str::to_owned) else {
                return Response::json(400, &json!({"error": {"code": "NoTransactionId"}}));
            };
            if let Some(id) = s.transactions.get(&transaction).cloned() {
                if s.script.lose_inserts > 0 {
                    s.script.lose_inserts -= 1;
                    return Response::status(503);
                }
                return Response::json(201, &s.events[&id].clone());
            }
            s.next_id += 1;
            let id = format!("AAMkAG{}", s.next_id);
            body["id"] = json!(id);
            body["isCancelled"] = json!(false);
            s.transactions.insert(transaction, id.clone());
            s.events.insert(id, body.clone());
            if std::mem::take(&mut s.script.lose_next_insert) {
                return Response::status(503);
            }
            if s.script.lose_inserts > 0 {
                s.script.lose_inserts -= 1;
                return Response::status(503);
            }
            Response::json(201, &body)
        }
        ("PATCH", p) if p.starts_with(one) => {
            let id = p[one.len()..].to_owned();
            let Some(event) = s.events.get_mut(&id) else {
                return Response::json(404, &json!({"error": {"code": "ErrorItemNotFound"}}));
            };
            for (k, v) in req.json().as_object().cloned().unwrap_or_default() {
                event[k] = v;
            }
            Response::json(200, &event.clone())
        }
        ("DELETE", p) if p.starts_with(one) => {
            let id = p[one.len()..].to_owned();
            match s.events.remove(&id) {
                Some(_) => Response::status(204),
                None => Response::json(404, &json!({"error": {"code": "ErrorItemNotFound"}})),
            }
        }
        _ => Response::status(404),
    }
}

async fn fake(handler: fn(&Shared, &Request) -> Response) -> (FakeServer, Shared) {
    let state: Shared = Arc::default();
    let shared = Arc::clone(&state);
    let server = FakeServer::start(move |req| handler(&shared, req)).await;
    (server, state)
}

/// The server's environment for calendars on `fake`.
fn env_for(fake: &FakeServer) -> Vec<(&'static str, String)> {
    let token = fake.url("/token");
    vec![
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
        ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s,1s".to_owned()),
        ("BOOKING_GOOGLE_API_URL", fake.base_url.clone()),
        ("BOOKING_GOOGLE_TOKEN_URL", token.clone()),
        ("BOOKING_GRAPH_API_URL", fake.base_url.clone()),
        ("BOOKING_MICROSOFT_TOKEN_URL", token),
    ]
}

fn server_for(fake: &FakeServer) -> TestServer {
    let env = env_for(fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start_with(&env)
}

/// Polls until `done` holds for the fake's state, or panics.
async fn until(state: &Shared, what: &str, done: impl Fn(&Fake) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if done(&state.lock().unwrap()) {
            return;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Google's id of a booking's event: the booking id in base32hex (lower
/// case, unpadded) after `bk`, computed independently of the server.
fn google_id(booking: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let bits: Vec<u8> = booking
        .bytes()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    let mut out = String::from("bk");
    for chunk in bits.chunks(5) {
        let mut v = 0usize;
        for (i, bit) in chunk.iter().enumerate() {
            v |= usize::from(*bit) << (4 - i);
        }
        out.push(char::from(ALPHABET[v]));
    }
    out
}

fn stale_credentials() -> Value {
    json!({"access_token": "stale", "refresh_token": "rt", "client_id": "cid", "client_secret": "cs"})
}

async fn connection(api: &Api, prv: &str) -> Value {
    api.get(&format!("/v1/providers/{prv}/calendars"))
        .await
        .json["data"][0]
        .clone()
}

/// A server writing to the fake `handler`, with the seed service: what
/// most tests here start from.
struct Seeded {
    /// Kept alive for the test.
    _fake: FakeServer,
    state: Shared,
    /// Kept alive for the test.
    _server: TestServer,
    api: Api,
    prv: String,
}

async fn seeded(handler: fn(&Shared, &Request) -> Response) -> Seeded {
    let (fake, state) = fake(handler).await;
    let server = server_for(&fake);
    let api = server.api("acme");
    api.create_seed_service().await;
    let prv = api.provider_id().await;
    Seeded {
        _fake: fake,
        state,
        _server: server,
        api,
        prv,
    }
}

/// Confirms the booking `id`, then moves it to `to`.
async fn confirm_and_move(api: &Api, id: &str, to: &str) {
    api.post_empty(&format!("/v1/bookings/{id}/confirm"))
        .await
        .expect_status(200);
    api.post(
        &format!("/v1/bookings/{id}/reschedule"),
        &json!({"scheduled_at": to}),
    )
    .await
    .expect_status(200);
}

/// Connects `connection` (a calendar body without `write`) to the
/// provider `prv` with write-back on.
async fn connect_writer(api: &Api, prv: &str, mut connection: Value) {
    connection["write"] = json!(true);
    api.post(&format!("/v1/providers/{prv}/calendars"), &connection)
        .await
        .expect_status(201);
}

/// A Google calendar connection (`primary`) with a fresh access token.
fn google_fresh() -> Value {
    json!({"type": "google", "calendar_id": "primary", "credentials": {"access_token": "fresh"}})
}

#[tokio::test(flavor = "multi_thread")]
async fn google_events_follow_bookings_with_stable_ids_refresh_and_retries() {
    let seeded = seeded(google).await;
    let Seeded {
        state, api, prv, ..
    } = &seeded;
    let monday = future_monday();

    // Made before the connection: written when it is made (the backfill).
    let early = api.book_ok("srv_consultation", &ny(monday, 9, 0)).await;
    let early_id = early["id"].as_str().unwrap().to_owned();
    state.lock().unwrap().script.throttle_next_insert = Some(1);
    let created = api
        .post(
            &format!("/v1/providers/{prv}/calendars"),
            &json!({"type": "google", "calendar_id": "primary", "write": true,
                    "credentials": stale_credentials()}),
        )
        .await
        .expect_status(201)
        .json;
    assert_eq!(created["write"], true);
    assert_eq!(created["last_write_error"], Value::Null);
    let early_event = google_id(&early_id);
    until(state, "the early booking's event", |f| {
        f.events.contains_key(&early_event)
    })
    .await;
    {
        let s = state.lock().unwrap();
        let event = &s.events[&early_event];
        assert_eq!(event["start"]["dateTime"], ny(monday, 9, 0));
        assert_eq!(event["end"]["dateTime"], ny(monday, 10, 0));
        assert_eq!(event["iCalUID"], format!("{early_id}@booking-api"));
        // The stale token was refused once, refreshed, and used.
        let refused = s
            .log
            .iter()
            .position(|r| r.header("authorization") == "Bearer stale");
        let refreshed = s.log.iter().position(|r| r.path == "/token");
        assert!(
            refused.is_some() && refreshed > refused,
            "no refresh after the 401"
        );
        let form = String::from_utf8(s.log[refreshed.unwrap()].body.clone()).unwrap();
        assert!(form.contains("grant_type=refresh_token") && form.contains("refresh_token=rt"));
        // The 429 was honoured: the next insert came at least a second later.
        let inserts: Vec<&Request> = s
            .log
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/events") && bearer_ok(r))
            .collect();
        assert!(inserts.len() >= 2, "no retry after the 429");
        assert!(
            inserts[1].at.duration_since(inserts[0].at) >= Duration::from_millis(950),
            "Retry-After not honoured"
        );
    }

    // A new booking; the insert's answer is lost after Google stored it:
    // the retry gets 409 (the id is taken), which is success.
    state.lock().unwrap().script.lose_next_insert = true;
    let booking = api.book_ok("srv_consultation", &ny(monday, 11, 0)).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let event_id = google_id(&id);
    until(state, "the duplicate insert answered 409", |f| {
        f.log
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/events") && bearer_ok(r))
            .count()
            >= 4
    })
    .await;
    let c = connection(api, prv).await;
    assert_eq!(c["last_write_error"], Value::Null, "{c}");
    // Availability still offers neither booked slot nor blocks the others:
    // the server's own events are not read back as busy time.
    api.post_empty("/v1/calendar/sync").await.expect_status(200);
    let c = connection(api, prv).await;
    assert_eq!(c["status"], "synced", "{c}");
    assert_eq!(c["busy_blocks"], 0, "our own events read back: {c}");

    // Rescheduled: the same event moves (a patch at the same id).
    api.post(
        &format!("/v1/bookings/{id}/reschedule"),
        &json!({"scheduled_at": ny(monday, 14, 0)}),
    )
    .await
    .expect_status(200);
    until(state, "the event moved", |f| {
        f.events[&event_id]["start"]["dateTime"] == ny(monday, 14, 0)
    })
    .await;
    assert!(
        state
            .lock()
            .unwrap()
            .log
            .iter()
            .any(|r| r.method == "PATCH" && r.path.ends_with(&format!("/events/{event_id}")))
    );

    // Cancelled: removed.
    api.post(&format!("/v1/bookings/{id}/cancel"), &json!({}))
        .await
        .expect_status(200);
    until(state, "the event removed", |f| {
        f.events[&event_id]["status"] == "cancelled"
    })
    .await;
    {
        let s = state.lock().unwrap();
        // One event per booking, ever.
        assert_eq!(s.events.len(), 2, "{:?}", s.events.keys());
        let deletes = s.log.iter().filter(|r| r.method == "DELETE").count();
        assert_eq!(deletes, 1);
    }

    // A calendar that refuses writes shows why; once it accepts them, the
    // retry clears the error.
    state.lock().unwrap().script.read_only = true;
    let third = api.book_ok("srv_consultation", &ny(monday, 16, 0)).await;
    let third_event = google_id(third["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = connection(api, prv).await;
        if let Some(error) = c["last_write_error"].as_str() {
            assert!(error.contains("403"), "{error}");
            break;
        }
        assert!(Instant::now() < deadline, "no last_write_error: {c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    state.lock().unwrap().script.read_only = false;
    until(state, "the refused event written on retry", |f| {
        f.events.contains_key(&third_event)
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while connection(api, prv).await["last_write_error"] != Value::Null {
        assert!(Instant::now() < deadline, "last_write_error not cleared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = api
        .get(&format!("/v1/providers/{prv}/calendars"))
        .await
        .text();
    for secret in ["stale", "fresh", "\"rt\"", "\"cs\""] {
        assert!(!text.contains(secret), "credentials echoed: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn outlook_events_are_created_once_by_transaction_id_moved_and_removed() {
    let seeded = seeded(graph).await;
    let Seeded {
        state, api, prv, ..
    } = &seeded;
    let monday = future_monday();
    connect_writer(
        api,
        prv,
        json!({"type": "outlook", "credentials": stale_credentials()}),
    )
    .await;
    // Someone else's meeting at 13:00 in the same calendar.
    state.lock().unwrap().events.insert(
        "other".into(),
        json!({"id": "other", "showAs": "busy", "isCancelled": false,
               "start": {"dateTime": ny(monday, 13, 0).trim_end_matches('Z'), "timeZone": "UTC"},
               "end": {"dateTime": ny(monday, 14, 0).trim_end_matches('Z'), "timeZone": "UTC"}}),
    );

    // The first creation's answer is lost after Graph made the event: the
    // retry (same transactionId) gets the same event back.
    state.lock().unwrap().script.lose_next_insert = true;
    let booking = api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let transaction = format!("booking-api-{id}");
    until(state, "the event created", |f| {
        f.transactions.contains_key(&transaction)
    })
    .await;
    until(state, "the write recorded", |f| {
        f.log
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v1.0/me/calendar/events")
            .count()
            >= 2
    })
    .await;
    let event_id = state.lock().unwrap().transactions[&transaction].clone();
    {
        let s = state.lock().unwrap();
        assert_eq!(s.events.len(), 2, "a duplicate event: {:?}", s.events);
        let event = &s.events[&event_id];
        assert_eq!(
            event["start"]["dateTime"],
            ny(monday, 10, 0).trim_end_matches('Z')
        );
        assert_eq!(event["start"]["timeZone"], "UTC");
        assert_eq!(
            event["showAs"], "tentative",
            "pending bookings are tentative"
        );
        assert!(
            s.log.iter().any(|r| r.path == "/token"),
            "no refresh after the 401"
        );
        let token = s.log.iter().find(|r| r.path == "/token").unwrap();
        let form = String::from_utf8(token.body.clone()).unwrap();
        assert!(form.contains("Calendars.ReadWrite"), "{form}");
    }

    // Busy time: the other meeting counts, our event does not.
    api.post_empty("/v1/calendar/sync").await.expect_status(200);
    let c = connection(api, prv).await;
    assert_eq!(c["busy_blocks"], 1, "{c}");
    let free = api
        .slot_starts("srv_consultation", &monday.to_string(), &monday.to_string())
        .await;
    assert!(!free.contains(&ny(monday, 13, 0)), "{free:?}");
    assert!(free.contains(&ny(monday, 11, 0)), "{free:?}");

    // Confirm, then move: the stored id is patched.
    confirm_and_move(api, &id, &ny(monday, 15, 0)).await;
    until(state, "the event moved", |f| {
        f.events.get(&event_id).is_some_and(|e| {
            e["start"]["dateTime"] == ny(monday, 15, 0).trim_end_matches('Z')
                && e["showAs"] == "busy"
        })
    })
    .await;
    api.post(&format!("/v1/bookings/{id}/cancel"), &json!({}))
        .await
        .expect_status(200);
    until(state, "the event removed", |f| {
        !f.events.contains_key(&event_id)
    })
    .await;
    assert_eq!(connection(api, prv).await["last_write_error"], Value::Null);
}

/// A creation whose answers are all lost (Graph made the event at the
/// first attempt), then the booking is confirmed and moved: the retry's
/// repeated `transactionId` gets the event back as it was first made, and
/// the writer brings it to the booking's new time and state.
#[tokio::test(flavor = "multi_thread")]
async fn an_outlook_event_made_by_a_lost_creation_follows_a_later_move() {
    let seeded = seeded(graph).await;
    let Seeded {
        state, api, prv, ..
    } = &seeded;
    let monday = future_monday();
    connect_writer(
        api,
        prv,
        json!({"type": "outlook", "credentials": {"access_token": "fresh"}}),
    )
    .await;
    state.lock().unwrap().script.lose_inserts = u32::MAX;
    let booking = api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let transaction = format!("booking-api-{id}");
    until(state, "the event made, its answer lost", |f| {
        f.transactions.contains_key(&transaction)
    })
    .await;
    confirm_and_move(api, &id, &ny(monday, 15, 0)).await;
    // An attempt for the moved booking has been answered (lost) too, so
    // the next one is for the booking's last state.
    let new_start = ny(monday, 15, 0);
    until(state, "a creation attempt at the new time", |f| {
        f.log.iter().any(|r| {
            r.method == "POST"
                && r.path == "/v1.0/me/calendar/events"
                && r.json()["start"]["dateTime"] == new_start.trim_end_matches('Z')
        })
    })
    .await;
    state.lock().unwrap().script.lose_inserts = 0;
    let event_id = state.lock().unwrap().transactions[&transaction].clone();
    until(state, "the event at the new time, confirmed", |f| {
        f.events.get(&event_id).is_some_and(|e| {
            e["start"]["dateTime"] == ny(monday, 15, 0).trim_end_matches('Z')
                && e["end"]["dateTime"] == ny(monday, 16, 0).trim_end_matches('Z')
                && e["showAs"] == "busy"
        })
    })
    .await;
    assert_eq!(state.lock().unwrap().events.len(), 1, "a duplicate event");
    let deadline = Instant::now() + Duration::from_secs(10);
    while connection(api, prv).await["last_write_error"] != Value::Null {
        assert!(Instant::now() < deadline, "last_write_error not cleared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// On Postgres the new booking's write is queued by the insert's single
/// statement, and updates queue theirs in their transaction: the same
/// event lifecycle, with two processes sharing the outbox (each write done
/// once).
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn on_postgres_the_booking_insert_queues_the_write() {
    use booking_tests::pg::{self, Database};
    let (fake, state) = fake(google).await;
    let db = Database::create(&pg::admin_url());
    let env = env_for(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &env);
    let second = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &env);
    let api = first.api("acme");
    let other = second.api_with_key(&api.key, &api.key_id);
    api.create_seed_service().await;
    let prv = api.provider_id().await;
    connect_writer(&api, &prv, google_fresh()).await;
    let monday = future_monday();
    let mut ids = Vec::new();
    for (i, hour) in [9, 10, 11, 13].into_iter().enumerate() {
        let on = if i % 2 == 0 { &api } else { &other };
        let b = on.book_ok("srv_consultation", &ny(monday, hour, 0)).await;
        ids.push(b["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let event = google_id(id);
        until(&state, "every booking's event", |f| {
            f.events.contains_key(&event)
        })
        .await;
    }
    other
        .post(&format!("/v1/bookings/{}/cancel", ids[0]), &json!({}))
        .await
        .expect_status(200);
    let gone = google_id(&ids[0]);
    until(&state, "the cancelled booking's event removed", |f| {
        f.events[&gone]["status"] == "cancelled"
    })
    .await;
    let s = state.lock().unwrap();
    let inserts = s
        .log
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
        .count();
    assert_eq!(inserts, ids.len(), "each event inserted once");
    assert_eq!(s.log.iter().filter(|r| r.method == "DELETE").count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn write_and_caldav_fields_are_validated() {
    let server = TestServer::start();
    let api = server.api("acme");
    let prv = api.provider_id().await;
    let path = format!("/v1/providers/{prv}/calendars");
    let caldav = |extra: Value| {
        let mut body = json!({"type": "caldav", "url": "https://dav.example.com/cal/ada/work/",
                              "username": "ada", "password": "pw"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    for (body, field) in [
        (
            json!({"type": "ics", "url": "https://example.com/c.ics", "write": true}),
            "write",
        ),
        (
            json!({"type": "calendly", "credentials": {"access_token": "a"}, "write": true}),
            "write",
        ),
        (caldav(json!({"password": null})), "password"),
        (caldav(json!({"username": null})), "username"),
        (caldav(json!({"url": null})), "url"),
        (caldav(json!({"password": ""})), "password"),
        (caldav(json!({"url": "https://127.0.0.1/cal/"})), "url"),
        (
            caldav(json!({"credentials": {"access_token": "a"}})),
            "credentials",
        ),
        (
            json!({"type": "outlook", "credentials": {"access_token": "a"}, "password": "x"}),
            "password",
        ),
        (caldav(json!({"write": "yes"})), "write"),
    ] {
        api.post(&path, &body).await.expect_validation_of(field);
    }
    let made = api
        .post(&path, &caldav(json!({"write": true})))
        .await
        .expect_status(201)
        .json;
    assert_eq!(made["type"], "caldav");
    assert_eq!(made["write"], true);
    assert_eq!(made["last_write_error"], Value::Null);
    let listed = api.get(&path).await.text();
    assert!(!listed.contains("\"pw\""), "password echoed: {listed}");
    // Without the write flag: false.
    let read_only = api
        .post(&path, &caldav(json!({})))
        .await
        .expect_status(201)
        .json;
    assert_eq!(read_only["write"], false);
}

/// A CalDAV server holding resources by path: `PUT` honours `If-None-Match:
/// *` and `If-Match` (412 otherwise) and answers the new `ETag`, `GET` and
/// `DELETE` (404 when absent), `REPORT` an empty multistatus (no busy time).
fn caldav(state: &Shared, req: &Request) -> Response {
    let mut s = state.lock().unwrap();
    s.log.push(req.clone());
    let path = req.path.clone();
    match req.method.as_str() {
        "PUT" => {
            let current = s.events.get(&path).map(|e| e["etag"].clone());
            let absent_wanted = req.header("if-none-match") == "*";
            let matches = req.header("if-match");
            let refused = (absent_wanted && current.is_some())
                || (!matches.is_empty()
                    && match &current {
                        None => true,
                        Some(etag) => matches != "*" && etag != matches,
                    });
            if refused {
                return Response::status(412);
            }
            s.next_id += 1;
            let etag = format!("\"{}\"", s.next_id);
            let body = String::from_utf8(req.body.clone()).unwrap();
            s.events
                .insert(path, json!({"etag": etag.clone(), "ics": body}));
            Response::status(if current.is_some() { 204 } else { 201 }).with_header("etag", &etag)
        }
        "GET" => match s.events.get(&path) {
            Some(e) => Response::status(200).with_header("etag", e["etag"].as_str().unwrap()),
            None => Response::status(404),
        },
        "DELETE" => match s.events.remove(&path) {
            Some(_) => Response::status(204),
            None => Response::status(404),
        },
        "REPORT" => Response {
            status: 207,
            headers: vec![("content-type".into(), "application/xml".into())],
            body: br#"<?xml version="1.0"?><multistatus xmlns="DAV:"/>"#.to_vec(),
        },
        _ => Response::status(405),
    }
}

/// A collective booking (its row and a seat row per other provider) is
/// written into each provider's own calendar once, under the booking's id
/// (the resource `{booking id}.ics` and the booking's UID, never a seat's
/// id); a reschedule moves both events and a cancellation removes both.
#[tokio::test(flavor = "multi_thread")]
async fn collective_bookings_are_written_under_the_booking_id_in_every_calendar() {
    let (fake, state) = fake(caldav).await;
    let server = server_for(&fake);
    let api = server.api("acme");
    let team = api.create_providers(2).await;
    api.create_service(&json!({
        "id": "srv_pair", "name": "Pair", "duration": 60,
        "price": {"amount": 40, "currency": "EUR", "type": "flat"},
        "availability": {
            "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
            "hours": {"start": "09:00", "end": "17:00"}, "timezone": "UTC"
        },
        "provider_ids": team, "assignment": "collective"
    }))
    .await;
    for p in &team {
        connect_writer(
            &api,
            p,
            json!({"type": "caldav", "url": fake.url(&format!("/dav/{p}/")), "username": "u", "password": "pw"}),
        )
        .await;
    }
    let day = future_monday();
    let booking = api.book_ok("srv_pair", &format!("{day}T10:00:00Z")).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let resources: Vec<String> = team.iter().map(|p| format!("/dav/{p}/{id}.ics")).collect();
    let compact = day.to_string().replace('-', "");
    let at = |hour: &str| format!("DTSTART:{compact}T{hour}0000Z");
    until(&state, "the event in both calendars", |f| {
        resources.iter().all(|r| f.events.contains_key(r))
    })
    .await;
    {
        let s = state.lock().unwrap();
        assert_eq!(s.events.len(), 2, "{:?}", s.events.keys());
        for r in &resources {
            let ics = s.events[r]["ics"].as_str().unwrap();
            assert!(ics.contains(&format!("UID:{id}@")), "{ics}");
            assert!(ics.contains(&at("10")), "{ics}");
            assert!(!ics.contains('~'), "a seat id in the event: {ics}");
        }
    }
    api.post(
        &format!("/v1/bookings/{id}/reschedule"),
        &json!({"scheduled_at": format!("{day}T14:00:00Z")}),
    )
    .await
    .expect_status(200);
    until(&state, "both events moved", |f| {
        resources.iter().all(|r| {
            f.events
                .get(r)
                .is_some_and(|e| e["ics"].as_str().unwrap().contains(&at("14")))
        })
    })
    .await;
    api.post(&format!("/v1/bookings/{id}/cancel"), &json!({}))
        .await
        .expect_status(200);
    until(&state, "both events removed", |f| f.events.is_empty()).await;
    let s = state.lock().unwrap();
    let puts = s.log.iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 4, "one create and one move per calendar");
    assert!(
        s.log.iter().all(|r| !r.path.contains('~')),
        "a request under a seat id"
    );
}

/// Outlook: the creation's answer is lost after Graph made the event (no
/// id stored), then the booking is cancelled before any retry: the removal
/// finds the event by its `transactionId` in `calendarView` and deletes it,
/// instead of leaving it orphaned.
#[tokio::test(flavor = "multi_thread")]
async fn outlook_event_whose_creation_answer_was_lost_is_removed_on_cancel() {
    let (fake, state) = fake(graph).await;
    let mut env = env_for(&fake);
    // No retry before the cancellation.
    env.retain(|(k, _)| *k != "BOOKING_WEBHOOK_RETRY_DELAYS");
    env.push(("BOOKING_WEBHOOK_RETRY_DELAYS", "1h".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = TestServer::start_with(&env);
    let api = server.api("acme");
    api.create_seed_service().await;
    let prv = api.provider_id().await;
    let monday = future_monday();
    connect_writer(
        &api,
        &prv,
        json!({"type": "outlook", "credentials": {"access_token": "fresh"}}),
    )
    .await;
    // Someone else's meeting at the same time (not ours: kept).
    state.lock().unwrap().events.insert(
        "other".into(),
        json!({"id": "other", "showAs": "busy", "isCancelled": false,
               "transactionId": "someone-else",
               "start": {"dateTime": ny(monday, 10, 0).trim_end_matches('Z'), "timeZone": "UTC"},
               "end": {"dateTime": ny(monday, 11, 0).trim_end_matches('Z'), "timeZone": "UTC"}}),
    );
    // Every attempt of the client (it retries a 503 itself) loses its
    // answer: the write fails with the event made.
    state.lock().unwrap().script.lose_inserts = 10;
    let booking = api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let transaction = format!("booking-api-{id}");
    until(&state, "the event created", |f| {
        f.transactions.contains_key(&transaction)
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while connection(&api, &prv).await["last_write_error"] == Value::Null {
        assert!(Instant::now() < deadline, "the lost answer never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let creates = |f: &Fake| {
        f.log
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v1.0/me/calendar/events")
            .count()
    };
    let (event_id, tried) = {
        let mut s = state.lock().unwrap();
        s.script.lose_inserts = 0;
        (s.transactions[&transaction].clone(), creates(&s))
    };
    api.post(&format!("/v1/bookings/{id}/cancel"), &json!({}))
        .await
        .expect_status(200);
    until(&state, "the orphan removed", |f| {
        !f.events.contains_key(&event_id)
    })
    .await;
    let s = state.lock().unwrap();
    assert!(
        s.events.contains_key("other"),
        "someone else's event removed"
    );
    assert_eq!(
        creates(&s),
        tried,
        "the removal must not create the event again"
    );
    assert!(
        s.log
            .iter()
            .any(|r| r.method == "DELETE" && r.path == format!("/v1.0/me/events/{event_id}")),
        "no DELETE of the orphan"
    );
}

/// Bookings made by many clients while a writing connection is created for
/// their provider: every booking the backfill or the booking write queued
/// gets its event once (none missed between the two, none twice).
async fn backfill_races_bookings(server: &TestServer, state: &Shared) {
    let api = server.api("acme");
    let prv = api.provider_id().await;
    api.create_service(&json!({
        "id": "srv_quarter", "name": "Quarter", "duration": 15, "provider_id": prv,
        "price": {"amount": 10, "currency": "USD", "type": "flat"},
        "availability": {
            "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
            "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
        }
    }))
    .await;
    let start = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * 30))
        .unwrap()
        .as_second()
        / 900
        * 900;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..12i64 {
        let (api, stop) = (api.clone(), Arc::clone(&stop));
        clients.push(tokio::spawn(async move {
            let mut made = Vec::new();
            let mut n = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let at = jiff::Timestamp::from_second(start + (n * 12 + c) * 900).unwrap();
                n += 1;
                let r = api.book("srv_quarter", &at.to_string()).await;
                if r.status == 201 {
                    made.push(r.json["id"].as_str().unwrap().to_owned());
                }
            }
            made
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    connect_writer(&api, &prv, google_fresh()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut ids = Vec::new();
    for c in clients {
        ids.extend(c.await.unwrap());
    }
    assert!(ids.len() > 50, "too few bookings to race: {}", ids.len());
    let events: Vec<String> = ids.iter().map(|id| google_id(id)).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let missing = {
            let s = state.lock().unwrap();
            events.iter().filter(|e| !s.events.contains_key(*e)).count()
        };
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} bookings never written",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = state.lock().unwrap();
    let inserts = s
        .log
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
        .count();
    assert_eq!(inserts, ids.len(), "an event inserted twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_writing_connection_made_during_bookings_writes_each_once() {
    let (fake, state) = fake(google).await;
    let server = server_for(&fake);
    backfill_races_bookings(&server, &state).await;
}

/// On Postgres the booking insert and the connection's backfill run side
/// by side (READ COMMITTED): the case the `calendar_writers` function's
/// lock and fresh snapshot exist for.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn on_postgres_a_writing_connection_made_during_bookings_writes_each_once() {
    use booking_tests::pg::{self, Database};
    let (fake, state) = fake(google).await;
    let db = Database::create(&pg::admin_url());
    let env = env_for(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &env);
    backfill_races_bookings(&server, &state).await;
}

/// A round-robin booking rescheduled onto another provider (its own is
/// busy then): its event moves from the first provider's calendar to the
/// second's.
#[tokio::test(flavor = "multi_thread")]
async fn a_round_robin_booking_moved_to_another_provider_moves_its_event() {
    let (fake, state) = fake(caldav).await;
    let server = server_for(&fake);
    let api = server.api("acme");
    let team = api.create_providers(2).await;
    let service = every_day_service;
    api.create_service(&service(
        "srv_rr",
        json!({"provider_ids": team, "assignment": "round_robin"}),
    ))
    .await;
    for (i, p) in team.iter().enumerate() {
        api.create_service(&service(
            &format!("srv_solo_{i}"),
            json!({"provider_id": p}),
        ))
        .await;
        connect_writer(
            &api,
            p,
            json!({"type": "caldav", "url": fake.url(&format!("/dav/{p}/")), "username": "u", "password": "pw"}),
        )
        .await;
    }
    let day = future_monday();
    // The first provider is busy at 10:00: the booking goes to the second.
    api.book_ok("srv_solo_0", &format!("{day}T10:00:00Z")).await;
    let b = api.book_ok("srv_rr", &format!("{day}T10:00:00Z")).await;
    assert_eq!(b["provider_id"], team[1].as_str());
    let id = b["id"].as_str().unwrap().to_owned();
    let (first, second) = (
        format!("/dav/{}/{id}.ics", team[0]),
        format!("/dav/{}/{id}.ics", team[1]),
    );
    until(&state, "the event in the second calendar", |f| {
        f.events.contains_key(&second)
    })
    .await;
    // The second is busy at 14:00: the reschedule moves it to the first.
    api.book_ok("srv_solo_1", &format!("{day}T14:00:00Z")).await;
    let moved = api
        .post(
            &format!("/v1/bookings/{id}/reschedule"),
            &json!({"scheduled_at": format!("{day}T14:00:00Z")}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(moved["provider_id"], team[0].as_str());
    until(&state, "the event moved to the first calendar", |f| {
        f.events.contains_key(&first) && !f.events.contains_key(&second)
    })
    .await;
}
