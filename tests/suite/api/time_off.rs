//! Provider time off (`/v1/providers/{id}/time-off`, issue 14): created
//! across several days with the active bookings inside it reported (and left
//! alone), listed by range in pages, deleted; validated like every route;
//! 404 for unknown providers and time off and for another account's. On
//! SQLite, and on Postgres where a store is involved.

use booking_tests::pg::{self, Database};
use booking_tests::{Api, TestServer, add_days, future_monday, ny};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

fn postgres_server(db: &Database) -> TestServer {
    TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &[])
}

/// The id of `acme`'s default provider.
async fn default_provider(api: &Api) -> String {
    api.get("/v1/providers").await.expect_status(200).json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A New York wall-clock time with its offset (`2027-01-18T12:00:00-05:00`).
fn ny_local(date: Date, hour: i8) -> String {
    date.at(hour, 0, 0, 0)
        .to_zoned(TimeZone::get("America/New_York").unwrap())
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The time-off path of `provider`.
fn path(provider: &str) -> String {
    format!("/v1/providers/{provider}/time-off")
}

/// Time off from Monday 12:00 to Thursday 00:00 (New York) over the
/// suite's booking week: Monday 14:00 and Tuesday 11:00 are inside it, the
/// cancelled Wednesday one and Monday 10:00 and Thursday 10:00 are not.
async fn time_off_across_several_days(server: &TestServer) {
    let api = server.api("acme");
    api.create_seed_service().await;
    let provider = default_provider(&api).await;
    let monday = future_monday();
    let day = |n: i64| add_days(monday, n);
    let before = api.book_ok("srv_consultation", &ny(day(0), 10, 0)).await;
    let monday_afternoon = api.book_ok("srv_consultation", &ny(day(0), 14, 0)).await;
    let tuesday = api.book_ok("srv_consultation", &ny(day(1), 11, 0)).await;
    api.post_empty(&format!("/v1/bookings/{}/confirm", id(&tuesday)))
        .await
        .expect_status(200);
    let cancelled = api.book_ok("srv_consultation", &ny(day(2), 14, 0)).await;
    api.post_empty(&format!("/v1/bookings/{}/cancel", id(&cancelled)))
        .await
        .expect_status(200);
    let after = api.book_ok("srv_consultation", &ny(day(3), 10, 0)).await;

    // Instants with an offset are answered in UTC.
    let created = api
        .post(
            &path(&provider),
            &json!({
                "start": ny_local(day(0), 12),
                "end": ny_local(day(3), 0),
                "reason": "Conference\tBerlin\nback Thursday"
            }),
        )
        .await
        .expect_status(201)
        .json;
    let off = id(&created);
    assert!(off.starts_with("off_"), "{created}");
    assert_eq!(created["provider_id"], provider);
    assert_eq!(created["start"], ny(day(0), 12, 0));
    assert_eq!(created["end"], ny(day(3), 0, 0));
    assert_eq!(created["reason"], "Conference\tBerlin\nback Thursday");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        created["overlapping_bookings"],
        json!([id(&monday_afternoon), id(&tuesday)]),
        "{created}"
    );
    // The bookings inside it are untouched.
    for (booking, status) in [
        (&monday_afternoon, "pending"),
        (&tuesday, "confirmed"),
        (&cancelled, "cancelled"),
        (&before, "pending"),
        (&after, "pending"),
    ] {
        let got = api
            .get(&format!("/v1/bookings/{}", id(booking)))
            .await
            .expect_status(200)
            .json;
        assert_eq!(got["status"], status, "{got}");
    }

    // Listed without overlapping_bookings (a snapshot of creation time).
    let list = api.get(&path(&provider)).await.expect_status(200).json;
    assert_eq!(list["next_cursor"], Value::Null);
    let mut listed = created.clone();
    listed
        .as_object_mut()
        .unwrap()
        .remove("overlapping_bookings");
    assert_eq!(list["data"], json!([listed]));

    // [from, to) ranges: overlapping time off only.
    let query = |from: &str, to: &str| format!("{}?from={from}&to={to}", path(&provider));
    let inside = api
        .get(&query(&ny(day(1), 0, 0), &ny(day(1), 1, 0)))
        .await
        .expect_status(200)
        .json;
    assert_eq!(inside["data"].as_array().unwrap().len(), 1);
    for (from, to) in [
        (ny(day(3), 0, 0), ny(day(4), 0, 0)),
        (ny(day(-1), 0, 0), ny(day(0), 12, 0)),
    ] {
        let outside = api.get(&query(&from, &to)).await.expect_status(200).json;
        assert_eq!(outside["data"], json!([]), "{from} - {to}");
    }
    let only_from = api
        .get(&format!(
            "{}?from={}",
            path(&provider),
            ny(day(2), 23, 0).replace('Z', "%2B00:00")
        ))
        .await
        .expect_status(200)
        .json;
    assert_eq!(only_from["data"].as_array().unwrap().len(), 1);

    // Pages, oldest first.
    let second = api
        .post(
            &path(&provider),
            &json!({"start": ny(day(7), 0, 0), "end": ny(day(8), 0, 0)}),
        )
        .await
        .expect_status(201)
        .json;
    assert_eq!(second["reason"], Value::Null);
    assert_eq!(second["overlapping_bookings"], json!([]));
    let first_page = api
        .get(&format!("{}?limit=1", path(&provider)))
        .await
        .expect_status(200)
        .json;
    assert_eq!(first_page["data"][0]["id"], off);
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let next = api
        .get(&format!("{}?limit=1&cursor={cursor}", path(&provider)))
        .await
        .expect_status(200)
        .json;
    assert_eq!(next["data"][0]["id"], id(&second));
    assert_eq!(next["next_cursor"], Value::Null);

    // Deleted once.
    api.delete(&format!("{}/{off}", path(&provider)))
        .await
        .expect_status(204);
    api.delete(&format!("{}/{off}", path(&provider)))
        .await
        .expect_error(404, "NOT_FOUND");
    let left = api.list_all(&path(&provider), 50).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], id(&second));
}

#[tokio::test(flavor = "multi_thread")]
async fn time_off_across_several_days_reports_overlapping_bookings_lists_and_deletes_on_sqlite() {
    time_off_across_several_days(&TestServer::start()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn time_off_across_several_days_reports_overlapping_bookings_lists_and_deletes_on_postgres() {
    let db = Database::create(&pg::admin_url());
    time_off_across_several_days(&postgres_server(&db)).await;
}

/// 404s: unknown providers (before the body is validated) and time off,
/// and everything of another account, which cannot see or delete it.
async fn time_off_is_per_provider_and_account(server: &TestServer) {
    let acme = server.api("acme");
    let globex = server.api("globex");
    let provider = default_provider(&acme).await;
    let other = id(&acme
        .post("/v1/providers", &json!({"name": "Other"}))
        .await
        .expect_status(201)
        .json);
    let monday = future_monday();
    let body = json!({"start": ny(monday, 0, 0), "end": ny(add_days(monday, 2), 0, 0)});
    let off = id(&acme
        .post(&path(&provider), &body)
        .await
        .expect_status(201)
        .json);

    for unknown in ["prv_nope", "nope", "bk_1"] {
        acme.post(&path(unknown), &body)
            .await
            .expect_error(404, "NOT_FOUND");
        acme.post(&path(unknown), &json!({"start": "x", "end": "y"}))
            .await
            .expect_error(404, "NOT_FOUND");
        acme.get(&path(unknown))
            .await
            .expect_error(404, "NOT_FOUND");
        acme.delete(&format!("{}/{off}", path(unknown)))
            .await
            .expect_error(404, "NOT_FOUND");
    }
    for unknown in ["off_nope", "nope", "bk_1"] {
        acme.delete(&format!("{}/{unknown}", path(&provider)))
            .await
            .expect_error(404, "NOT_FOUND");
    }
    // Through another provider of the same account: not found.
    acme.delete(&format!("{}/{off}", path(&other)))
        .await
        .expect_error(404, "NOT_FOUND");
    assert_eq!(
        acme.get(&path(&other)).await.expect_status(200).json["data"],
        json!([])
    );

    // Another account: the provider does not exist for it.
    globex
        .get(&path(&provider))
        .await
        .expect_error(404, "NOT_FOUND");
    globex
        .post(&path(&provider), &body)
        .await
        .expect_error(404, "NOT_FOUND");
    globex
        .delete(&format!("{}/{off}", path(&provider)))
        .await
        .expect_error(404, "NOT_FOUND");
    let globex_provider = default_provider(&globex).await;
    globex
        .delete(&format!("{}/{off}", path(&globex_provider)))
        .await
        .expect_error(404, "NOT_FOUND");
    assert_eq!(
        globex
            .get(&path(&globex_provider))
            .await
            .expect_status(200)
            .json["data"],
        json!([])
    );
    // Still there for its owner.
    let list = acme.list_all(&path(&provider), 50).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], off);
    // Time off is not an allowed method on the single item.
    let res = acme.get(&format!("{}/{off}", path(&provider))).await;
    res.expect_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(res.header("allow"), Some("DELETE"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_or_another_accounts_time_off_is_not_found_on_sqlite() {
    time_off_is_per_provider_and_account(&TestServer::start()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn unknown_or_another_accounts_time_off_is_not_found_on_postgres() {
    let db = Database::create(&pg::admin_url());
    time_off_is_per_provider_and_account(&postgres_server(&db)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn time_off_is_validated_field_by_field() {
    let (_server, api) = super::setup();
    let provider = default_provider(&api).await;
    let to = path(&provider);
    let monday = future_monday();
    let start = ny(monday, 0, 0);
    let days = |n: i64| ny(add_days(monday, n), 0, 0);
    let bad = |start: &str, end: &str| json!({"start": start, "end": end});

    // End before start, equal to it, more than 366 days after it.
    api.post(&to, &bad(&start, &days(-1)))
        .await
        .expect_validation_of("end");
    api.post(&to, &bad(&start, &start))
        .await
        .expect_validation_of("end");
    let start_utc = start.parse::<jiff::Timestamp>().unwrap();
    let year_and_a_second = start_utc
        .checked_add(jiff::SignedDuration::from_hours(366 * 24 + 1))
        .unwrap()
        .to_string();
    api.post(&to, &bad(&start, &year_and_a_second))
        .await
        .expect_validation_of("end");
    let full_year = start_utc
        .checked_add(jiff::SignedDuration::from_hours(366 * 24))
        .unwrap()
        .to_string();
    let res = api.post(&to, &bad(&start, &full_year)).await;
    assert_eq!(res.expect_status(201).json["end"], full_year);

    // Time input: the rules of every route.
    for (start, field) in [
        ("tomorrow", "start"),
        ("2030-01-07T00:00:00+24:00", "start"),
        ("0000-01-01T00:00:00Z", "start"),
        ("+002030-01-07T00:00:00Z", "start"),
        ("2030-01-07", "start"),
        ("2030-01-07T00:00:00", "start"),
        ("2030-01-07T00:00:00.5Z", "start"),
    ] {
        api.post(&to, &bad(start, "2030-01-08T00:00:00Z"))
            .await
            .expect_validation_of(field);
    }
    api.post(&to, &bad(&start, "10000-01-01T00:00:00Z"))
        .await
        .expect_validation_of("end");
    api.post(&to, &json!({"start": start}))
        .await
        .expect_validation_of("end");
    api.post(
        &to,
        &json!({"start": start, "end": days(1), "until": days(2)}),
    )
    .await
    .expect_validation_of("until");
    api.post(&to, &json!({"start": 5, "end": days(1)}))
        .await
        .expect_validation_of("start");

    // The reason: free text up to 1,000 characters, tab and newline only.
    let reason = |r: Value| json!({"start": start, "end": days(1), "reason": r});
    for c in ['\u{0}', '\u{1}', '\r', '\u{1b}', '\u{7f}'] {
        api.post(&to, &reason(json!(format!("a{c}b"))))
            .await
            .expect_validation_of("reason");
    }
    api.post(&to, &reason(json!("x".repeat(1001))))
        .await
        .expect_validation_of("reason");
    api.post(&to, &reason(json!(7)))
        .await
        .expect_validation_of("reason");
    let long = "é".repeat(1000);
    let ok = api.post(&to, &reason(json!(long))).await.expect_status(201);
    assert_eq!(ok.json["reason"], long);
    let ok = api.post(&to, &reason(Value::Null)).await.expect_status(201);
    assert_eq!(ok.json["reason"], Value::Null);

    // The list's query.
    for (query, field) in [
        (format!("from={}", "yesterday"), "from"),
        (format!("to={}", "2030-01-07T00:00:00%2B25:00"), "to"),
        (format!("from={}&to={}", days(2), days(1)), "to"),
        (format!("from={}&to={}", days(1), days(1)), "to"),
        ("limit=0".to_owned(), "limit"),
        ("limit=201".to_owned(), "limit"),
        ("cursor=x".to_owned(), "cursor"),
    ] {
        api.get(&format!("{to}?{query}"))
            .await
            .expect_validation_of(field);
    }
}

/// The service's slot starts from the suite's Monday to the Saturday after.
async fn week_slots(api: &Api) -> Vec<String> {
    let monday = future_monday();
    api.slot_starts(
        "srv_consultation",
        &monday.to_string(),
        &add_days(monday, 5).to_string(),
    )
    .await
}

/// `GET .../availability/explain?at=`.
async fn explain(api: &Api, at: &str) -> Value {
    api.get(&format!(
        "/v1/services/srv_consultation/availability/explain?at={at}"
    ))
    .await
    .expect_status(200)
    .json
}

/// Whether `reasons` holds the TIME_OFF reason of `off`.
fn names_time_off(reasons: &Value, off: &str) -> bool {
    reasons
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["code"] == "TIME_OFF" && r["time_off_id"] == off)
}

/// Time off from Monday 12:00 to Wednesday 12:00 (New York) takes those
/// slots out of availability, makes a booking there a BOOKING_CONFLICT
/// with its TIME_OFF reason and explain say so; deleting it frees the time
/// at once. A booking made before stays (and is reported).
async fn time_off_blocks_until_deleted(server: &TestServer) {
    let api = server.api("acme");
    api.create_seed_service().await;
    let provider = default_provider(&api).await;
    let monday = future_monday();
    let day = |n: i64| add_days(monday, n);
    let all = week_slots(&api).await;
    assert_eq!(all.len(), 40, "{all:?}");
    let earlier = api.book_ok("srv_consultation", &ny(day(1), 11, 0)).await;

    let created = api
        .post(
            &path(&provider),
            &json!({"start": ny(day(0), 12, 0), "end": ny(day(2), 12, 0), "reason": "Away"}),
        )
        .await
        .expect_status(201)
        .json;
    let off = id(&created);
    assert_eq!(created["overlapping_bookings"], json!([id(&earlier)]));

    // Monday 09:00-11:00 and Wednesday 12:00-16:00 stay, Thursday and Friday
    // too; nothing starts in the time off or runs into it.
    let mut expected = Vec::new();
    for n in 0..5 {
        for hour in 9..17 {
            let start = ny(day(n), hour, 0);
            let inside = (n == 0 && hour >= 12) || n == 1 || (n == 2 && hour < 12);
            if !inside {
                expected.push(start);
            }
        }
    }
    assert_eq!(week_slots(&api).await, expected);

    // Booking inside it: 409 with the TIME_OFF reason.
    let tuesday = ny(day(1), 14, 0);
    let res = api.book("srv_consultation", &tuesday).await;
    let details = res.expect_error(409, "BOOKING_CONFLICT");
    assert!(names_time_off(&details["reasons"], &off), "{details}");
    let explained = explain(&api, &tuesday).await;
    assert_eq!(explained["available"], false, "{explained}");
    assert!(names_time_off(&explained["reasons"], &off), "{explained}");
    let reason = explained["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "TIME_OFF")
        .unwrap();
    assert_eq!(reason["start"], ny(day(0), 12, 0));
    assert_eq!(reason["end"], ny(day(2), 12, 0));
    // Ending where it starts, starting where it ends: fine.
    assert_eq!(explain(&api, &ny(day(2), 12, 0)).await["available"], true);
    api.book_ok("srv_consultation", &ny(day(0), 11, 0)).await;
    api.book_ok("srv_consultation", &ny(day(2), 12, 0)).await;
    // Rescheduling into it is refused too.
    let res = api
        .post(
            &format!("/v1/bookings/{}/reschedule", id(&earlier)),
            &json!({"scheduled_at": ny(day(1), 15, 0)}),
        )
        .await;
    let details = res.expect_error(409, "BOOKING_CONFLICT");
    assert!(names_time_off(&details["reasons"], &off), "{details}");

    // Deleted: the time is free at once.
    api.delete(&format!("{}/{off}", path(&provider)))
        .await
        .expect_status(204);
    let explained = explain(&api, &tuesday).await;
    assert_eq!(explained["available"], true, "{explained}");
    assert!(week_slots(&api).await.contains(&tuesday));
    api.book_ok("srv_consultation", &tuesday).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn time_off_blocks_slots_bookings_and_explain_until_deleted_on_sqlite() {
    time_off_blocks_until_deleted(&TestServer::start()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn time_off_blocks_slots_bookings_and_explain_until_deleted_on_postgres() {
    let db = Database::create(&pg::admin_url());
    time_off_blocks_until_deleted(&postgres_server(&db)).await;
}
