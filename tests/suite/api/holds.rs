//! Holds (`/v1/holds`, `hold_id` on `POST /v1/bookings`, issue 16): a hold
//! blocks its time like a booking (availability, conflicts with reason
//! `HELD`, explain) until it is used, deleted or expires by itself; 50
//! racing holds make one; a booking racing the hold's owner loses while the
//! hold lasts and wins once it has expired (a real 30-second hold); the same
//! over three processes on one Postgres database.

use std::time::Duration;

use booking_tests::pg::Database;
use booking_tests::{Api, TestServer, booking_body, future_monday, ny, ts};
use futures_util::future::join_all;
use serde_json::{Value, json};

use super::{setup, setup_seed};

async fn hold(api: &Api, service: &str, at: &str, ttl: Option<u64>) -> booking_tests::Resp {
    let mut body = json!({"service": service, "scheduled_at": at});
    if let Some(ttl) = ttl {
        body["ttl"] = json!(ttl);
    }
    api.post("/v1/holds", &body).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn book_with_hold(service: &str, at: &str, hold: &str) -> Value {
    let mut body = booking_body(service, at);
    body["hold_id"] = json!(hold);
    body
}

/// The day's slot starts of the seed service.
async fn starts(api: &Api, day: jiff::civil::Date) -> Vec<String> {
    api.slot_starts("srv_consultation", &day.to_string(), &day.to_string())
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hold_blocks_its_time_everywhere_until_it_is_used() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let at = ny(monday, 10, 0);
    let before = starts(&api, monday).await;
    assert!(before.contains(&at));

    let created = hold(&api, "srv_consultation", &at, Some(600))
        .await
        .expect_status(201);
    assert!(created.header("ratelimit-policy").is_some());
    let h = created.json;
    let hold_id = id(&h);
    assert!(hold_id.starts_with("hld_"), "{h}");
    assert_eq!(h["service"], "srv_consultation");
    assert_eq!(h["scheduled_at"], at.as_str());
    assert_eq!(h["end_at"], ny(monday, 11, 0).as_str());
    assert!(h["provider_id"].as_str().unwrap().starts_with("prv_"));
    let expires = ts(h["expires_at"].as_str().unwrap());
    let left = expires.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((590..=601).contains(&left), "expires in {left} s");
    assert_eq!(
        api.get(&format!("/v1/holds/{hold_id}"))
            .await
            .expect_status(200)
            .json,
        h
    );

    // Availability omits it; a booking and another hold get HELD.
    let during = starts(&api, monday).await;
    assert!(!during.contains(&at), "{during:?}");
    assert_eq!(during.len(), before.len() - 1);
    for res in [
        api.book("srv_consultation", &at).await,
        hold(&api, "srv_consultation", &ny(monday, 10, 30), None).await,
    ] {
        let details = res.expect_error(409, "BOOKING_CONFLICT");
        let reasons = details["reasons"].as_array().unwrap();
        assert!(
            reasons
                .iter()
                .any(|r| r["code"] == "HELD" && r["hold_id"] == hold_id.as_str()),
            "{details}"
        );
        assert_eq!(details["next_available"], ny(monday, 11, 0).as_str());
    }
    let explain = api
        .get(&format!(
            "/v1/services/srv_consultation/availability/explain?at={at}"
        ))
        .await
        .expect_status(200)
        .json;
    assert_eq!(explain["available"], false);
    assert_eq!(explain["reasons"][0]["code"], "HELD", "{explain}");
    assert_eq!(explain["reasons"][0]["expires_at"], h["expires_at"]);

    // The hold must match the booking.
    api.post(
        "/v1/bookings",
        &book_with_hold("srv_consultation", &ny(monday, 11, 0), &hold_id),
    )
    .await
    .expect_validation_of("hold_id");
    // The owner books it; the hold is gone and cannot be used twice.
    let booking = api
        .post(
            "/v1/bookings",
            &book_with_hold("srv_consultation", &at, &hold_id),
        )
        .await
        .expect_status(201)
        .json;
    assert_eq!(booking["scheduled_at"], at.as_str());
    api.get(&format!("/v1/holds/{hold_id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    api.post(
        "/v1/bookings",
        &book_with_hold("srv_consultation", &at, &hold_id),
    )
    .await
    .expect_error(409, "HOLD_EXPIRED");
    api.post(
        "/v1/bookings",
        &book_with_hold("srv_consultation", &at, "hld_doesnotexist"),
    )
    .await
    .expect_error(409, "HOLD_EXPIRED");
    // Holds are not bookings.
    let list = api.list_all("/v1/bookings", 50).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], booking["id"]);
}

/// A hold promised its time when it was made: narrower hours, a horizon,
/// a longer notice or a longer duration set afterwards do not take it back, and the
/// booking occupies exactly what the hold held. Time off added since still
/// refuses it, and the refusal never names the hold itself.
#[tokio::test(flavor = "multi_thread")]
async fn a_hold_keeps_its_promise_when_the_service_changes() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let at = ny(monday, 10, 0);
    let kept = id(&hold(&api, "srv_consultation", &at, Some(600))
        .await
        .expect_status(201)
        .json);
    let later = ny(monday, 14, 0);
    let refused = id(&hold(&api, "srv_consultation", &later, Some(600))
        .await
        .expect_status(201)
        .json);
    // The service now opens at noon, takes bookings at most a day ahead,
    // wants a week's notice and lasts 90 minutes.
    api.patch(
        "/v1/services/srv_consultation",
        &json!({
            "availability": {
                "days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                "hours": {"start": "12:00", "end": "17:00"},
                "timezone": "America/New_York"
            },
            "minimum_notice": 10080,
            "booking_horizon": 1,
            "duration": 90
        }),
    )
    .await
    .expect_status(200);
    let booked = api
        .post(
            "/v1/bookings",
            &book_with_hold("srv_consultation", &at, &kept),
        )
        .await
        .expect_status(201)
        .json;
    assert_eq!(booked["scheduled_at"], at.as_str());
    assert_eq!(booked["end_at"], ny(monday, 11, 0).as_str(), "{booked}");
    // Time off over the other hold's time is checked again, and the answer
    // names the time off, not the caller's own hold.
    let provider = booked["provider_id"].as_str().unwrap();
    api.post(
        &format!("/v1/providers/{provider}/time-off"),
        &json!({"start": ny(monday, 13, 0), "end": ny(monday, 16, 0)}),
    )
    .await
    .expect_status(201);
    let res = api
        .post(
            "/v1/bookings",
            &book_with_hold("srv_consultation", &later, &refused),
        )
        .await;
    let details = res.expect_error(409, "BOOKING_CONFLICT");
    let codes: Vec<&str> = details["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"TIME_OFF"), "{details}");
    assert!(!codes.contains(&"HELD"), "{details}");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_hold_frees_its_time_at_once() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let at = ny(monday, 14, 0);
    let hold_id = id(&hold(&api, "srv_consultation", &at, None)
        .await
        .expect_status(201)
        .json);
    assert!(!starts(&api, monday).await.contains(&at));
    api.delete(&format!("/v1/holds/{hold_id}"))
        .await
        .expect_status(204);
    assert!(starts(&api, monday).await.contains(&at));
    api.delete(&format!("/v1/holds/{hold_id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    api.book_ok("srv_consultation", &at).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hold_requests_are_validated_like_bookings() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let at = ny(monday, 10, 0);
    for ttl in [29, 1801] {
        hold(&api, "srv_consultation", &at, Some(ttl))
            .await
            .expect_validation_of("ttl");
    }
    api.post(
        "/v1/holds",
        &json!({"service": "srv_consultation", "scheduled_at": at, "ttl": 60, "customer": {}}),
    )
    .await
    .expect_validation();
    api.post(
        "/v1/holds",
        &json!({"service": "srv_consultation", "scheduled_at": at, "provider_id": "prv_other"}),
    )
    .await
    .expect_validation_of("provider_id");
    hold(
        &api,
        "srv_consultation",
        &ny(monday, 10, 0).replace(":00:00Z", ":00:30Z"),
        None,
    )
    .await
    .expect_validation_of("scheduled_at");
    hold(&api, "srv_nope", &at, None)
        .await
        .expect_error(422, "INVALID_SERVICE");
    // Outside the hours: refused exactly as a booking would be.
    let details = hold(&api, "srv_consultation", &ny(monday, 20, 0), None)
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["reasons"][0]["code"], "OUTSIDE_HOURS", "{details}");
    // The service's own provider may be named.
    let provider = api.get("/v1/providers").await.json["data"][0]["id"].clone();
    api.post(
        "/v1/holds",
        &json!({"service": "srv_consultation", "scheduled_at": at, "provider_id": provider}),
    )
    .await
    .expect_status(201);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_accounts_hold_is_invisible() {
    let server = TestServer::start();
    let acme = server.api("acme");
    let globex = server.api("globex");
    acme.create_seed_service().await;
    globex.create_seed_service().await;
    let at = ny(future_monday(), 10, 0);
    let hold_id = id(&hold(&acme, "srv_consultation", &at, None)
        .await
        .expect_status(201)
        .json);
    globex
        .get(&format!("/v1/holds/{hold_id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    globex
        .delete(&format!("/v1/holds/{hold_id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    globex
        .post(
            "/v1/bookings",
            &book_with_hold("srv_consultation", &at, &hold_id),
        )
        .await
        .expect_error(409, "HOLD_EXPIRED");
    // Globex's own provider is not blocked by acme's hold.
    globex.book_ok("srv_consultation", &at).await;
    acme.get(&format!("/v1/holds/{hold_id}"))
        .await
        .expect_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn holds_share_the_bookings_rate_limit() {
    let server = TestServer::start_with(&[("BOOKING_RATE_BOOKINGS", "3/minute")]);
    let api = server.api("acme");
    api.create_seed_service().await;
    let monday = future_monday();
    hold(&api, "srv_consultation", &ny(monday, 9, 0), None)
        .await
        .expect_status(201);
    api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    hold(&api, "srv_consultation", &ny(monday, 11, 0), None)
        .await
        .expect_status(201);
    let res = hold(&api, "srv_consultation", &ny(monday, 12, 0), None).await;
    res.expect_error(429, "RATE_LIMITED");
    assert!(res.header("retry-after").is_some());
    assert!(res.header("ratelimit-policy").is_some());
    api.book("srv_consultation", &ny(monday, 13, 0))
        .await
        .expect_error(429, "RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_has_at_most_one_hundred_active_holds() {
    let (_server, api) = setup();
    api.create_service(&json!({
        "id": "srv_short", "name": "Short", "duration": 5,
        "price": {"amount": 10, "currency": "EUR", "type": "flat"},
        "availability": {
            "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
            "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
        }
    }))
    .await;
    let day = future_monday();
    let at = |i: u32| format!("{day}T{:02}:{:02}:00Z", i / 12, (i % 12) * 5);
    let answers = join_all((0..100).map(|i| {
        let api = api.clone();
        let at = at(i);
        async move { hold(&api, "srv_short", &at, Some(120)).await }
    }))
    .await;
    let made = answers.iter().filter(|r| r.status.as_u16() == 201).count();
    assert_eq!(made, 100);
    let res = hold(&api, "srv_short", &at(100), None).await;
    let details = res.expect_error(429, "RATE_LIMITED");
    assert_eq!(details["limit"], 100);
    assert_eq!(details["scope"], "active_holds");
    let wait: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=120).contains(&wait), "{wait}");
    // Using one makes room for another.
    let first = answers[0].json.clone();
    api.post(
        "/v1/bookings",
        &book_with_hold(
            "srv_short",
            first["scheduled_at"].as_str().unwrap(),
            &id(&first),
        ),
    )
    .await
    .expect_status(201);
    hold(&api, "srv_short", &at(100), None)
        .await
        .expect_status(201);
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_racing_holds_for_one_slot_make_one() {
    let (_server, api) = setup_seed().await;
    let at = ny(future_monday(), 10, 0);
    let answers = join_all((0..50).map(|_| {
        let api = api.clone();
        let at = at.clone();
        async move { hold(&api, "srv_consultation", &at, None).await }
    }))
    .await;
    let won = answers.iter().filter(|r| r.status.as_u16() == 201).count();
    assert_eq!(won, 1, "exactly one hold");
    for res in answers.iter().filter(|r| r.status.as_u16() != 201) {
        res.expect_error(409, "BOOKING_CONFLICT");
    }
}

/// The owner holds `at` for 30 seconds (over `apis[0]`); others race for it
/// through every api while it lasts and lose; the owner's hold expires by
/// itself and the owner can no longer use it; just after expiry one racing
/// booking wins.
async fn a_booking_loses_to_a_hold_until_it_expires(apis: &[Api], service: &str, at: &str) {
    let owner = &apis[0];
    let h = hold(owner, service, at, Some(30))
        .await
        .expect_status(201)
        .json;
    let expires = ts(h["expires_at"].as_str().unwrap());
    // While it lasts (checked several times over its life).
    for _ in 0..3 {
        let answers = join_all((0..12).map(|i| {
            let api = apis[i % apis.len()].clone();
            let at = at.to_owned();
            let service = service.to_owned();
            async move { api.book(&service, &at).await }
        }))
        .await;
        for res in &answers {
            res.expect_error(409, "BOOKING_CONFLICT");
        }
        tokio::time::sleep(Duration::from_secs(8)).await;
    }
    assert!(jiff::Timestamp::now() < expires, "the test ran too slowly");
    // Until its expiry; then it is gone without any action.
    let wait = expires.duration_since(jiff::Timestamp::now());
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default() + Duration::from_millis(300))
        .await;
    owner
        .post("/v1/bookings", &book_with_hold(service, at, &id(&h)))
        .await
        .expect_error(409, "HOLD_EXPIRED");
    let answers = join_all((0..12).map(|i| {
        let api = apis[i % apis.len()].clone();
        let at = at.to_owned();
        let service = service.to_owned();
        async move { api.book(&service, &at).await }
    }))
    .await;
    let won = answers.iter().filter(|r| r.status.as_u16() == 201).count();
    assert_eq!(won, 1, "one booking wins once the hold has expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thirty_second_hold_expires_by_itself() {
    let (_server, api) = setup_seed().await;
    let at = ny(future_monday(), 15, 0);
    a_booking_loses_to_a_hold_until_it_expires(&[api], "srv_consultation", &at).await;
}

fn around_the_clock() -> Value {
    json!({
        "id": "srv_hour", "name": "Hour", "duration": 60,
        "buffer_after": 10,
        "price": {"amount": 100, "currency": "EUR", "type": "flat"},
        "availability": {
            "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
            "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
        }
    })
}

/// Three servers on one fresh database, and a key of `acme` for each.
fn cluster(db: &Database) -> (Vec<TestServer>, Vec<Api>) {
    let servers: Vec<TestServer> = (0..3)
        .map(|_| TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &[]))
        .collect();
    let (key, key_id) = servers[0].key_for("acme");
    let apis = servers
        .iter()
        .map(|s| s.api_with_key(&key, &key_id))
        .collect();
    (servers, apis)
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn holds_hold_across_three_processes_on_postgres() {
    let db = Database::create(&booking_tests::pg::admin_url());
    let (_servers, apis) = cluster(&db);
    apis[0].create_service(&around_the_clock()).await;
    let day = future_monday();
    // 50 racing holds, over three processes, for overlapping times.
    let answers = join_all((0..50).map(|i| {
        let api = apis[i % 3].clone();
        let at = format!("{day}T10:{:02}:00Z", i % 50);
        async move { hold(&api, "srv_hour", &at, None).await }
    }))
    .await;
    let won: Vec<_> = answers
        .iter()
        .filter(|r| r.status.as_u16() == 201)
        .collect();
    assert_eq!(won.len(), 1, "exactly one hold across three processes");
    for res in answers.iter().filter(|r| r.status.as_u16() != 201) {
        res.expect_error(409, "BOOKING_CONFLICT");
    }
    let winner = won[0].json.clone();
    // Every process's availability omits it at once (busy caches dropped).
    let slots = |api: Api| async move {
        api.slot_starts("srv_hour", &day.to_string(), &day.to_string())
            .await
    };
    for api in &apis {
        let s = slots(api.clone()).await;
        assert!(!s.contains(&format!("{day}T10:00:00Z")), "{s:?}");
    }
    // Converted through another process than the one that made it.
    apis[2]
        .post(
            "/v1/bookings",
            &book_with_hold(
                "srv_hour",
                winner["scheduled_at"].as_str().unwrap(),
                &id(&winner),
            ),
        )
        .await
        .expect_status(201);
    assert_eq!(apis[1].list_all("/v1/bookings", 50).await.len(), 1);
    // A 30-second hold: racing bookings over the three processes lose while
    // it lasts, one wins just after it expires.
    a_booking_loses_to_a_hold_until_it_expires(&apis, "srv_hour", &format!("{day}T14:00:00Z"))
        .await;
    // Availability follows the expiry too, in every process.
    let hold_then_expire = hold(&apis[0], "srv_hour", &format!("{day}T18:00:00Z"), Some(30))
        .await
        .expect_status(201);
    for api in &apis {
        assert!(
            !slots(api.clone())
                .await
                .contains(&format!("{day}T18:00:00Z"))
        );
    }
    let expires = ts(hold_then_expire.json["expires_at"].as_str().unwrap());
    let wait = expires.duration_since(jiff::Timestamp::now());
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default() + Duration::from_millis(300))
        .await;
    for api in &apis {
        assert!(
            slots(api.clone())
                .await
                .contains(&format!("{day}T18:00:00Z"))
        );
    }
    drop(db);
}

/// On Postgres a hold is a guard row in `bookings`: its id must still be
/// no booking's, for every booking route (and on SQLite alike).
async fn a_hold_id_is_no_booking(api: &Api) {
    let day = future_monday();
    let h = hold(api, "srv_consultation", &ny(day, 10, 0), Some(600))
        .await
        .expect_status(201)
        .json;
    let hold_id = id(&h);
    api.get(&format!("/v1/bookings/{hold_id}"))
        .await
        .expect_status(404);
    api.get(&format!("/v1/bookings/{hold_id}.ics"))
        .await
        .expect_status(404);
    for action in ["confirm", "cancel", "complete"] {
        api.post(&format!("/v1/bookings/{hold_id}/{action}"), &json!({}))
            .await
            .expect_status(404);
    }
    api.post(
        &format!("/v1/bookings/{hold_id}/reschedule"),
        &json!({"scheduled_at": ny(day, 13, 0)}),
    )
    .await
    .expect_status(404);
    let list = api
        .get("/v1/bookings?limit=100")
        .await
        .expect_status(200)
        .json;
    assert_eq!(list["data"], json!([]), "{list}");
    // The hold is untouched and still converts.
    api.get(&format!("/v1/holds/{hold_id}"))
        .await
        .expect_status(200);
    api.post(
        "/v1/bookings",
        &book_with_hold("srv_consultation", &ny(day, 10, 0), &hold_id),
    )
    .await
    .expect_status(201);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hold_id_is_no_booking_on_sqlite() {
    let (_server, api) = setup_seed().await;
    a_hold_id_is_no_booking(&api).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn a_hold_id_is_no_booking_on_postgres() {
    let db = Database::create(&booking_tests::pg::admin_url());
    let server = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &[]);
    let api = server.api("acme");
    api.create_seed_service().await;
    a_hold_id_is_no_booking(&api).await;
}
