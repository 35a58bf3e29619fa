//! Issue 14 end to end, on SQLite and on Postgres: weekly windows (a lunch
//! break, a Saturday with its own hours), date overrides (a Sunday opened, a
//! Christmas closed), a DST day with two windows, the daily cap under
//! concurrent requests (50 on SQLite, three processes on Postgres), explain
//! for each reason code reachable without holds, `reasons` in a
//! BOOKING_CONFLICT, and a seed-shaped service reading back unchanged.
//! (TIME_OFF is checked on Postgres with a row inserted by SQL; the time-off
//! routes and their tests are another change.)

use booking_tests::pg::{self, Database};
use booking_tests::receiver::{Answer, Receiver};
use booking_tests::{
    Api, TestServer, add_days, fmt_utc, future_monday, ny, seed_service, seed_with, ts,
};
use futures_util::future::join_all;
use jiff::civil::{Date, Weekday};
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};

/// The clinic: weekdays 09:00-12:00 and 13:00-17:00 (lunch break),
/// Saturday 10:00-14:00, Sunday closed; `sunday` opened 10:00-12:00 and
/// `christmas` closed by overrides.
fn clinic(sunday: Date, christmas: Date) -> Value {
    let weekday = json!([{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]);
    seed_with(&json!({
        "id": "srv_clinic",
        "availability": {
            "weekly": {
                "monday": weekday, "tuesday": weekday, "wednesday": weekday,
                "thursday": weekday, "friday": weekday,
                "saturday": [{"start": "10:00", "end": "14:00"}]
            },
            "overrides": [
                {"date": sunday.to_string(), "hours": [{"start": "10:00", "end": "12:00"}]},
                {"date": christmas.to_string(), "hours": []}
            ],
            "timezone": "America/New_York"
        }
    }))
}

/// The next 25 December (at least a week away) that is not a Sunday, so
/// only its override closes it.
fn next_christmas() -> Date {
    let today = booking_tests::today_ny();
    let mut year = today.year();
    loop {
        let day = jiff::civil::date(year, 12, 25);
        if day > add_days(today, 7) && day.weekday() != Weekday::Sunday {
            return day;
        }
        year += 1;
    }
}

async fn starts(api: &Api, service: &str, day: Date) -> Vec<String> {
    api.slot_starts(service, &day.to_string(), &day.to_string())
        .await
}

async fn explain(api: &Api, service: &str, at: &str) -> Value {
    api.get(&format!(
        "/v1/services/{service}/availability/explain?at={}",
        at.replace('+', "%2B")
    ))
    .await
    .expect_status(200)
    .json
}

fn codes(e: &Value) -> Vec<String> {
    e["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons: {e}"))
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Lunch break, Saturday, an opened Sunday, a closed Christmas; the form
/// reads back as given; booking, explain and the list agree.
async fn weekly_windows_and_overrides(api: &Api) {
    let monday = future_monday();
    let saturday = add_days(monday, 5);
    let sunday = add_days(monday, 6);
    let closed_sunday = add_days(monday, 13);
    let christmas = next_christmas();
    let created = api.create_service(&clinic(sunday, christmas)).await;
    let a = &created["availability"];
    assert!(a.get("days").is_none() && a.get("hours").is_none(), "{a}");
    assert_eq!(
        a["weekly"]["monday"][1],
        json!({"start": "13:00", "end": "17:00"})
    );
    assert_eq!(a["weekly"]["sunday"], json!([]));
    // Overrides read back sorted by date.
    let overrides = a["overrides"].as_array().unwrap();
    assert_eq!(overrides.len(), 2);
    assert!(
        overrides.contains(&json!({"date": christmas.to_string(), "hours": []})),
        "{a}"
    );
    assert!(
        overrides.contains(
            &json!({"date": sunday.to_string(), "hours": [{"start": "10:00", "end": "12:00"}]})
        ),
        "{a}"
    );
    assert!(
        overrides[0]["date"].as_str() < overrides[1]["date"].as_str(),
        "{a}"
    );
    let read = api
        .get("/v1/services/srv_clinic")
        .await
        .expect_status(200)
        .json;
    assert_eq!(read["availability"], *a);

    // The lunch break.
    let expected: Vec<String> = [9, 10, 11, 13, 14, 15, 16]
        .iter()
        .map(|&h| ny(monday, h, 0))
        .collect();
    assert_eq!(starts(api, "srv_clinic", monday).await, expected);
    let lunch = api.book("srv_clinic", &ny(monday, 12, 0)).await;
    let details = lunch.expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["reasons"][0]["code"], "OUTSIDE_HOURS", "{details}");
    assert_eq!(details["next_available"], ny(monday, 13, 0));
    // 11:30 does not fit before lunch either (it need not be on the grid).
    api.book("srv_clinic", &ny(monday, 11, 30))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    api.book_ok("srv_clinic", &ny(monday, 13, 0)).await;

    // Saturday's own hours.
    let expected: Vec<String> = (10..14).map(|h| ny(saturday, h, 0)).collect();
    assert_eq!(starts(api, "srv_clinic", saturday).await, expected);

    // A normally closed Sunday opened by its override, the next one closed.
    let expected = vec![ny(sunday, 10, 0), ny(sunday, 11, 0)];
    assert_eq!(starts(api, "srv_clinic", sunday).await, expected);
    assert!(starts(api, "srv_clinic", closed_sunday).await.is_empty());
    let e = explain(api, "srv_clinic", &ny(closed_sunday, 10, 0)).await;
    assert_eq!(
        e["reasons"],
        json!([{"code": "CLOSED_DAY", "override": false}])
    );

    // Christmas closed by its override.
    assert!(starts(api, "srv_clinic", christmas).await.is_empty());
    let e = explain(api, "srv_clinic", &ny(christmas, 10, 0)).await;
    assert_eq!(e["available"], false);
    assert_eq!(
        e["reasons"],
        json!([{"code": "CLOSED_DAY", "override": true}])
    );
    let refused = api.book("srv_clinic", &ny(christmas, 10, 0)).await;
    let details = refused.expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["reasons"], e["reasons"]);
    assert_eq!(details["next_available"], e["next_available"]);

    // Explain says available exactly for listed grid starts.
    for at in [ny(monday, 9, 0), ny(saturday, 13, 0), ny(sunday, 11, 0)] {
        let e = explain(api, "srv_clinic", &at).await;
        assert_eq!(
            (e["available"].clone(), e["on_grid"].clone()),
            (json!(true), json!(true)),
            "{e}"
        );
        assert_eq!(e["next_available"], at);
    }
}

/// The next Sunday (at least three weeks away) when New York springs
/// forward.
fn next_spring_forward() -> Date {
    let tz = TimeZone::get("America/New_York").expect("tz");
    let after = Timestamp::now()
        .checked_add((24 * 21).hours())
        .expect("instant");
    let change = tz
        .following(after)
        .take(8)
        .find(|t| {
            let before = tz.to_offset(t.timestamp() - 1.second());
            (before, t.offset()) == (Offset::constant(-5), Offset::constant(-4))
        })
        .expect("a spring change");
    tz.to_datetime(change.timestamp()).date()
}

/// Two windows on the day New York springs forward: the first spans the
/// missing hour, the second is after it.
async fn a_dst_day_with_two_windows(api: &Api) {
    let sunday = next_spring_forward();
    api.create_service(&seed_with(&json!({
        "id": "srv_dst",
        "availability": {
            "weekly": {"sunday": [{"start": "01:00", "end": "04:00"}, {"start": "13:00", "end": "15:00"}]},
            "timezone": "America/New_York"
        }
    })))
    .await;
    let at = |h: i8| {
        fmt_utc(
            sunday
                .at(h, 0, 0, 0)
                .to_zoned(TimeZone::UTC)
                .unwrap()
                .timestamp(),
        )
    };
    // 01:00 EST = 06:00Z; 02:00 does not exist; 03:00 EDT = 07:00Z; the
    // afternoon window is EDT: 13:00 = 17:00Z.
    assert_eq!(
        starts(api, "srv_dst", sunday).await,
        [at(6), at(7), at(17), at(18)]
    );
    api.book_ok("srv_dst", &at(7)).await;
    let e = explain(api, "srv_dst", &at(7)).await;
    assert_eq!(codes(&e), ["BOOKED"]);
    assert_eq!(e["next_available"], at(17));
}

/// `n` concurrent bookings of different one-hour slots on one UTC day of a
/// service capped at 3 a day: exactly 3 succeed, the rest are DAILY_LIMIT.
async fn daily_cap_race(apis: &[Api], n: usize) {
    apis[0]
        .create_service(&json!({
            "id": "srv_capped", "name": "Capped", "duration": 20,
            "price": {"amount": 10, "currency": "EUR", "type": "flat"},
            "availability": {
                "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
                "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
            },
            "max_bookings_per_day": 3
        }))
        .await;
    let day = future_monday();
    let answers = join_all((0..n).map(|i| {
        let api = apis[i % apis.len()].clone();
        let at = format!("{day}T{:02}:{:02}:00Z", i / 3, (i % 3) * 20);
        async move { api.book("srv_capped", &at).await }
    }))
    .await;
    let created = answers.iter().filter(|r| r.status.as_u16() == 201).count();
    assert_eq!(created, 3, "exactly the cap succeeds");
    for res in answers.iter().filter(|r| r.status.as_u16() != 201) {
        let details = res.expect_error(409, "BOOKING_CONFLICT");
        assert_eq!(
            details["reasons"],
            json!([{"code": "DAILY_LIMIT", "limit": 3}]),
            "{details}"
        );
    }
    // The day offers nothing more; the next day is untouched.
    assert!(starts(&apis[0], "srv_capped", day).await.is_empty());
    assert_eq!(
        starts(&apis[0], "srv_capped", add_days(day, 1)).await.len(),
        72
    );
    let e = explain(&apis[0], "srv_capped", &format!("{day}T23:00:00Z")).await;
    assert_eq!(e["reasons"], json!([{"code": "DAILY_LIMIT", "limit": 3}]));
    assert_eq!(
        e["next_available"],
        format!("{}T00:00:00Z", add_days(day, 1))
    );
}

/// Explain for PAST, NOTICE, HORIZON, CLOSED_DAY, OUTSIDE_HOURS, BOOKED
/// (with a buffer-only overlap), EXTERNAL_BUSY (an ICS feed) and
/// NOT_WHOLE_MINUTE; BOOKING_CONFLICT carries the same reasons.
async fn explain_each_reason(api: &Api, host: &Receiver) {
    api.create_service(&seed_with(&json!({
        "buffer_after": 30, "minimum_notice": 2880, "booking_horizon": 200
    })))
    .await;
    let s = "srv_consultation";
    let monday = future_monday();
    let today = booking_tests::today_ny();

    let past = explain(api, s, &ny(add_days(today, -7), 10, 0)).await;
    assert!(codes(&past).contains(&"PAST".to_owned()), "{past}");

    let soon = fmt_utc(Timestamp::now().checked_add(1.hours()).unwrap());
    let soon = format!("{}:00Z", &soon[..16]);
    let notice = explain(api, s, &soon).await;
    assert!(codes(&notice).contains(&"NOTICE".to_owned()), "{notice}");
    let earliest = notice["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "NOTICE")
        .unwrap()["earliest"]
        .clone();
    assert!(ts(earliest.as_str().unwrap()) > ts(&soon), "{notice}");

    let far = explain(api, s, &ny(add_days(monday, 7 * 40), 10, 0)).await;
    assert_eq!(codes(&far), ["HORIZON"], "{far}");
    assert!(far["reasons"][0]["latest"].is_string());

    let sunday = explain(api, s, &ny(add_days(monday, 6), 10, 0)).await;
    assert_eq!(
        sunday["reasons"],
        json!([{"code": "CLOSED_DAY", "override": false}])
    );

    let late = explain(api, s, &ny(monday, 16, 30)).await;
    assert_eq!(
        late["reasons"],
        json!([{"code": "OUTSIDE_HOURS", "window": {"start": ny(monday, 9, 0), "end": ny(monday, 17, 0)}}])
    );
    assert_eq!(late["on_grid"], false);

    let odd = explain(api, s, &format!("{}:30Z", &ny(monday, 10, 0)[..16])).await;
    assert_eq!(codes(&odd), ["NOT_WHOLE_MINUTE"], "{odd}");

    // A booking at 10:00 (with its 30-minute buffer after): 10:00 overlaps
    // it, 11:00 only its buffer.
    let booked = api.book_ok(s, &ny(monday, 10, 0)).await;
    let id = booked["id"].as_str().unwrap();
    let taken = explain(api, s, &ny(monday, 10, 0)).await;
    assert_eq!(
        taken["reasons"],
        json!([{"code": "BOOKED", "booking_id": id, "start": ny(monday, 10, 0), "end": ny(monday, 11, 0), "buffer": false}])
    );
    let buffer = explain(api, s, &ny(monday, 11, 0)).await;
    assert_eq!(buffer["reasons"][0]["buffer"], true, "{buffer}");
    assert_eq!(buffer["next_available"], ny(monday, 12, 0));
    let refused = api.book(s, &ny(monday, 11, 0)).await;
    let details = refused.expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["reasons"], buffer["reasons"]);
    assert_eq!(details["requested_time"], ny(monday, 11, 0));
    assert_eq!(details["next_available"], ny(monday, 12, 0));

    // An ICS calendar busy 14:00-15:00.
    let (start, end) = (ny(monday, 14, 0), ny(monday, 15, 0));
    let ics = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//test//EN",
        "BEGIN:VEVENT",
        &format!("DTSTART:{}", start.replace(['-', ':'], "")),
        &format!("DTEND:{}", end.replace(['-', ':'], "")),
        "UID:busy-1@test",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    .join("\r\n");
    host.route(
        "/hours.ics",
        Answer::status(200).with_body("text/calendar", ics),
    );
    let prv = booked["provider_id"].as_str().unwrap();
    let cal = api
        .post(
            &format!("/v1/providers/{prv}/calendars"),
            &json!({"type": "ics", "url": host.url("/hours.ics")}),
        )
        .await
        .expect_status(201)
        .json;
    api.post_empty("/v1/calendar/sync").await.expect_status(200);
    let busy = explain(api, s, &ny(monday, 14, 0)).await;
    assert_eq!(
        busy["reasons"],
        json!([{"code": "EXTERNAL_BUSY", "calendar_id": cal["id"], "type": "ics", "start": start, "end": end}])
    );
    // 15:00 is free again (this service has no buffer before).
    assert_eq!(busy["next_available"], ny(monday, 15, 0));
}

/// A seed-shaped service reads back in the seed's shape, with `weekly` and
/// `overrides` beside it; a PATCH of the new fields round-trips.
async fn seed_shape_reads_back(api: &Api) {
    let created = api.create_seed_service().await;
    let seed = seed_service();
    assert_eq!(
        created["availability"]["days"],
        seed["availability"]["days"]
    );
    assert_eq!(
        created["availability"]["hours"],
        seed["availability"]["hours"]
    );
    assert_eq!(created["availability"]["overrides"], json!([]));
    assert_eq!(
        created["availability"]["weekly"]["friday"],
        json!([{"start": "09:00", "end": "17:00"}])
    );
    assert_eq!(created["availability"]["weekly"]["saturday"], json!([]));
    for f in ["slot_interval", "booking_horizon", "max_bookings_per_day"] {
        assert_eq!(created[f], Value::Null, "{f}");
    }
    // Sending back what was read (days + hours only) changes nothing.
    let patched = api
        .patch(
            "/v1/services/srv_consultation",
            &json!({"availability": seed["availability"], "slot_interval": 30,
                    "booking_horizon": 90, "max_bookings_per_day": 8}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(patched["availability"], created["availability"]);
    assert_eq!(patched["slot_interval"], 30);
    let read = api.get("/v1/services/srv_consultation").await.json;
    assert_eq!(read["max_bookings_per_day"], 8);
    assert_eq!(read["booking_horizon"], 90);
    let monday = future_monday();
    let half_hours = starts(api, "srv_consultation", monday).await;
    assert_eq!(half_hours.len(), 15, "09:00 to 16:00 every 30 minutes");
    let cleared = api
        .patch(
            "/v1/services/srv_consultation",
            &json!({"slot_interval": null}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(cleared["slot_interval"], Value::Null);
    assert_eq!(cleared["max_bookings_per_day"], 8);
}

/// The validation rules of the weekly form.
async fn weekly_form_is_validated(api: &Api) {
    let with = |availability: Value| seed_with(&json!({"availability": availability}));
    let w = |s: &str, e: &str| json!({"start": s, "end": e});
    let cases = [
        (
            json!({"days": ["monday"], "hours": w("09:00", "17:00"), "weekly": {}, "timezone": "UTC"}),
            "availability.weekly",
        ),
        (json!({"timezone": "UTC"}), "availability.days"),
        (
            json!({"weekly": {"monday": [w("09:00", "12:00"), w("12:00", "13:00")]}, "timezone": "UTC"}),
            "availability.weekly.monday[1].start",
        ),
        (
            json!({"weekly": {"monday": [w("13:00", "14:00"), w("09:00", "10:00")]}, "timezone": "UTC"}),
            "availability.weekly.monday[1].start",
        ),
        (
            json!({"weekly": {"monday": (0..9).map(|h| w(&format!("0{h}:00"), &format!("0{h}:30"))).collect::<Vec<_>>()}, "timezone": "UTC"}),
            "availability.weekly.monday",
        ),
        (
            json!({"weekly": {"monday": [w("24:00", "24:00")]}, "timezone": "UTC"}),
            "availability.weekly.monday[0].start",
        ),
        (
            json!({"weekly": {"monday": [w("10:00", "09:00")]}, "timezone": "UTC"}),
            "availability.weekly.monday[0].end",
        ),
        (
            json!({"weekly": {"monday": [w("09:00", "10:00")]}, "overrides": [
                {"date": "2030-01-01", "hours": []}, {"date": "2030-01-01", "hours": []}], "timezone": "UTC"}),
            "availability.overrides[1].date",
        ),
        (
            json!({"weekly": {"monday": [w("09:00", "10:00")]}, "overrides": [
                {"date": "2030-02-30", "hours": []}], "timezone": "UTC"}),
            "availability.overrides[0].date",
        ),
        (
            json!({"weekly": {"monday": [w("09:00", "10:00")]}, "overrides": (0..501).map(|i| json!({"date": add_days(jiff::civil::date(2030, 1, 1), i).to_string(), "hours": []})).collect::<Vec<_>>(), "timezone": "UTC"}),
            "availability.overrides",
        ),
    ];
    for (availability, field) in cases {
        api.post("/v1/services", &with(availability.clone()))
            .await
            .expect_validation_of(field);
    }
    // A typo'd day is refused (unknown field), `24:00` ends a window.
    let typo = json!({"weekly": {"mondey": [w("09:00", "10:00")]}, "timezone": "UTC"});
    api.post("/v1/services", &with(typo))
        .await
        .expect_validation();
    let ok = json!({"weekly": {"monday": [w("09:00", "10:00"), w("22:00", "24:00")]}, "timezone": "UTC"});
    let created = api.create_service(&with(ok)).await;
    assert_eq!(
        created["availability"]["weekly"]["monday"][1]["end"],
        "24:00"
    );
    for (field, value) in [
        ("slot_interval", 0),
        ("slot_interval", 1441),
        ("booking_horizon", 0),
        ("booking_horizon", 3651),
        ("max_bookings_per_day", 0),
        ("max_bookings_per_day", 1001),
    ] {
        api.post(
            "/v1/services",
            &seed_with(&json!({"id": "srv_v", field: value})),
        )
        .await
        .expect_validation_of(field);
    }
}

// ------------------------------------------------------------------ SQLite

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_weekly_windows_and_overrides() {
    let (_server, api) = super::setup();
    weekly_windows_and_overrides(&api).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_a_dst_day_with_two_windows() {
    let (_server, api) = super::setup();
    a_dst_day_with_two_windows(&api).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_daily_cap_holds_under_a_50_way_race() {
    let (_server, api) = super::setup();
    daily_cap_race(&[api], 50).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_explain_gives_each_reason() {
    let host = Receiver::start().await;
    let server = TestServer::start_with(&[("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true")]);
    explain_each_reason(&server.api("acme"), &host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_seed_shaped_service_reads_back_unchanged() {
    let (_server, api) = super::setup();
    seed_shape_reads_back(&api).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_weekly_form_is_validated() {
    let (_server, api) = super::setup();
    weekly_form_is_validated(&api).await;
}

// ------------------------------------------------------------------ Postgres

fn postgres(env: &[(&str, &str)]) -> (Database, TestServer, Api) {
    let db = Database::create(&pg::admin_url());
    let server = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), env);
    let api = server.api("acme");
    (db, server, api)
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn postgres_weekly_windows_overrides_and_dst() {
    let (_db, server, api) = postgres(&[]);
    weekly_windows_and_overrides(&api).await;
    a_dst_day_with_two_windows(&api).await;
    // Another account: its own default provider, free of the bookings above.
    seed_shape_reads_back(&server.api("globex")).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn postgres_explain_gives_each_reason() {
    let host = Receiver::start().await;
    let (_db, _server, api) = postgres(&[("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true")]);
    explain_each_reason(&api, &host).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn postgres_daily_cap_holds_across_three_processes() {
    let db = Database::create(&pg::admin_url());
    let servers: Vec<TestServer> = (0..3)
        .map(|_| TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &[]))
        .collect();
    let (key, key_id) = servers[0].key_for("acme");
    let apis: Vec<Api> = servers
        .iter()
        .map(|s| s.api_with_key(&key, &key_id))
        .collect();
    daily_cap_race(&apis, 60).await;
}

/// Time off (a row written by SQL: the routes are another change) blocks
/// slots, bookings and reschedules, and explain names it.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn postgres_time_off_blocks_and_is_explained() {
    let (db, _server, api) = postgres(&[]);
    let service = api.create_seed_service().await;
    let prv = service["provider_id"].as_str().unwrap();
    let monday = future_monday();
    let tuesday = add_days(monday, 1);
    let moved = api.book_ok("srv_consultation", &ny(tuesday, 9, 0)).await;
    let (start, end) = (ny(monday, 12, 0), ny(tuesday, 0, 0));
    let account = pg::sql(
        &db.url,
        &format!("SELECT account_id FROM providers WHERE id = '{prv}'"),
    );
    pg::sql(
        &db.url,
        &format!(
            "INSERT INTO time_off (id, account_id, provider_id, start_at, end_at, reason, created_at) \
             VALUES ('off_lunch', '{account}', '{prv}', {}, {}, 'away', 0)",
            ts(&start).as_second(),
            ts(&end).as_second()
        ),
    );
    let expected: Vec<String> = (9..12).map(|h| ny(monday, h, 0)).collect();
    assert_eq!(starts(&api, "srv_consultation", monday).await, expected);
    let e = explain(&api, "srv_consultation", &ny(monday, 14, 0)).await;
    assert_eq!(
        e["reasons"],
        json!([{"code": "TIME_OFF", "time_off_id": "off_lunch", "start": start, "end": end}])
    );
    assert_eq!(e["next_available"], ny(tuesday, 10, 0));
    let refused = api.book("srv_consultation", &ny(monday, 14, 0)).await;
    let details = refused.expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["reasons"], e["reasons"]);
    let id = moved["id"].as_str().unwrap();
    let details = api
        .post(
            &format!("/v1/bookings/{id}/reschedule"),
            &json!({"scheduled_at": ny(monday, 15, 0)}),
        )
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["reasons"][0]["code"], "TIME_OFF", "{details}");
}
