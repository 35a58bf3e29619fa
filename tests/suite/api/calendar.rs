//! Calendars end to end: the private feed and its URL, rotation, ETag/304,
//! HEAD, wrong-token limits, tenant isolation, and `GET /v1/bookings/{id}.ics`.
//! Every calendar the server produces here is read back by an independent
//! parser (the `icalendar` crate) and checked line by line.

use std::collections::HashMap;

use booking_tests::{TestServer, future_monday, ny, seed_with};
use icalendar::parser;
use serde_json::{Value, json};

/// Checks RFC 5545's line rules and parses the body; returns the calendar's
/// properties and each event's properties (name → unescaped-ish raw value).
fn parse(body: &str) -> (HashMap<String, String>, Vec<HashMap<String, String>>) {
    assert!(body.ends_with("\r\n"), "ends with CRLF");
    for line in body.split("\r\n") {
        assert!(line.len() <= 75, "line over 75 octets: {line:?}");
        assert!(!line.contains('\n') && !line.contains('\r'), "bare LF/CR");
    }
    let unfolded = parser::unfold(body);
    let cal = parser::read_calendar(&unfolded).unwrap_or_else(|e| panic!("{e}\n{body}"));
    // The parser returns the VCALENDAR's properties and its components.
    let vcal = &cal;
    let props = |p: &[parser::Property<'_>]| {
        p.iter()
            .map(|p| (p.name.to_string(), p.val.to_string()))
            .collect::<HashMap<_, _>>()
    };
    let events = vcal
        .components
        .iter()
        .map(|c| {
            assert_eq!(c.name.as_str(), "VEVENT");
            props(&c.properties)
        })
        .collect();
    (props(&vcal.properties), events)
}

fn compact(ts: &Value) -> String {
    ts.as_str().unwrap().replace(['-', ':'], "")
}

struct Feed {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn fetch(server: &TestServer, url: &str, etag: Option<&str>) -> Feed {
    let mut req = server.client().get(url);
    if let Some(tag) = etag {
        req = req.header("If-None-Match", tag);
    }
    let res = req.send().await.unwrap();
    Feed {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

fn header<'a>(f: &'a Feed, name: &str) -> &'a str {
    f.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_providers_feed_shows_its_bookings_and_revalidates() {
    let server = TestServer::start_with(&[
        ("BOOKING_PUBLIC_URL", "https://book.example.com/"),
        ("BOOKING_LOG", "info"),
    ]);
    let api = server.api("acme");
    let long = "Ünïcødé 😀 consultation — 日本語のサービス名, with; specials\\ ".repeat(3);
    api.create_service(&seed_with(&json!({"name": long}))).await;
    let prv = api.provider_id().await;
    let feed = api
        .get(&format!("/v1/providers/{prv}/feed"))
        .await
        .expect_status(200)
        .json;
    let url = feed["url"].as_str().unwrap();
    let token = url
        .strip_prefix("https://book.example.com/calendar/feed/")
        .and_then(|t| t.strip_suffix(".ics"))
        .expect("url under BOOKING_PUBLIC_URL");
    assert!(token.len() >= 22, "at least 128 bits");
    assert_eq!(
        feed["webcal_url"],
        format!("webcal://book.example.com/calendar/feed/{token}.ics")
    );
    // Showing it again gives the same URL.
    let again = api.get(&format!("/v1/providers/{prv}/feed")).await.json;
    assert_eq!(again["url"], feed["url"]);
    let local = server.url(&format!("/calendar/feed/{token}.ics"));

    let empty = fetch(&server, &local, None).await;
    assert_eq!(empty.status, 200);
    let (cal, events) = parse(&empty.body);
    assert!(events.is_empty());
    assert_eq!(cal["VERSION"], "2.0");
    assert_eq!(cal["METHOD"], "PUBLISH");
    assert_eq!(cal["CALSCALE"], "GREGORIAN");
    assert_eq!(cal["X-WR-CALNAME"], "acme");
    assert_eq!(cal["REFRESH-INTERVAL"], "PT15M");
    assert_eq!(cal["X-PUBLISHED-TTL"], "PT15M");
    assert!(cal.contains_key("PRODID") && cal.contains_key("NAME"));

    let monday = future_monday();
    let mut body = booking_tests::booking_body("srv_consultation", &ny(monday, 9, 0));
    body["customer"]["name"] = json!("Zoë Ångström 🎉 ".repeat(8));
    body["notes"] = json!("Bring: notes, files; and a \\ backslash\nsecond line ✓ ".repeat(5));
    let a = api
        .post("/v1/bookings", &body)
        .await
        .expect_status(201)
        .json;
    let b = api.book_ok("srv_consultation", &ny(monday, 11, 0)).await;
    let c = api.book_ok("srv_consultation", &ny(monday, 13, 0)).await;
    let a_id = a["id"].as_str().unwrap();
    let b_id = b["id"].as_str().unwrap();
    let c_id = c["id"].as_str().unwrap();
    api.post_empty(&format!("/v1/bookings/{b_id}/confirm"))
        .await
        .expect_status(200);
    api.post(&format!("/v1/bookings/{c_id}/cancel"), &json!({}))
        .await
        .expect_status(200);
    let moved = api
        .post(
            &format!("/v1/bookings/{a_id}/reschedule"),
            &json!({"scheduled_at": ny(monday, 15, 0)}),
        )
        .await
        .expect_status(200)
        .json;

    let full = fetch(&server, &local, None).await;
    assert_eq!(full.status, 200);
    assert_eq!(
        header(&full, "content-type"),
        "text/calendar; charset=utf-8"
    );
    assert!(header(&full, "cache-control").contains("private"));
    assert!(!header(&full, "last-modified").is_empty());
    let tag = header(&full, "etag").to_owned();
    assert!(
        tag.starts_with('"') && tag.ends_with('"'),
        "strong ETag: {tag}"
    );
    let (_, events) = parse(&full.body);
    assert_eq!(events.len(), 3);
    let by_uid: HashMap<&str, &HashMap<String, String>> =
        events.iter().map(|e| (e["UID"].as_str(), e)).collect();
    let ea = by_uid[format!("{a_id}@booking-api").as_str()];
    assert_eq!(ea["SEQUENCE"], "1", "raised by the reschedule");
    assert_eq!(ea["STATUS"], "TENTATIVE");
    assert_eq!(ea["DTSTART"], compact(&moved["scheduled_at"]));
    assert_eq!(ea["DTEND"], compact(&moved["end_at"]));
    assert_eq!(ea["TRANSP"], "OPAQUE");
    assert!(ea["SUMMARY"].contains("Zoë Ångström"));
    assert!(ea["DESCRIPTION"].contains("backslash"));
    for key in ["DTSTAMP", "LAST-MODIFIED", "CREATED"] {
        assert!(ea[key].ends_with('Z'), "{key} in UTC");
    }
    let eb = by_uid[format!("{b_id}@booking-api").as_str()];
    assert_eq!(
        (eb["STATUS"].as_str(), eb["SEQUENCE"].as_str()),
        ("CONFIRMED", "0")
    );
    let ec = by_uid[format!("{c_id}@booking-api").as_str()];
    assert_eq!(
        ec["STATUS"], "CANCELLED",
        "cancelled bookings stay so subscribers remove them"
    );

    // Revalidation: 304 with the same tag, no body.
    let same = fetch(&server, &local, Some(&tag)).await;
    assert_eq!(same.status, 304);
    assert!(same.body.is_empty());
    assert_eq!(header(&same, "etag"), tag);
    // HEAD: the headers GET sends (its length included), no body.
    let full = fetch(&server, &local, None).await;
    let head = server.client().head(&local).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"].to_str().unwrap(), tag);
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        full.body.len().to_string()
    );
    assert!(head.bytes().await.unwrap().is_empty());
    // A change to a booking changes the tag; so does renaming the service.
    api.post_empty(&format!("/v1/bookings/{a_id}/confirm"))
        .await
        .expect_status(200);
    let changed = fetch(&server, &local, Some(&tag)).await;
    assert_eq!(changed.status, 200);
    let tag2 = header(&changed, "etag").to_owned();
    assert_ne!(tag2, tag);
    api.patch("/v1/services/srv_consultation", &json!({"name": "Renamed"}))
        .await
        .expect_status(200);
    let renamed = fetch(&server, &local, Some(&tag2)).await;
    assert_eq!(renamed.status, 200);
    assert!(renamed.body.contains("SUMMARY:Renamed with"));

    // The token never reaches the logs.
    assert!(!server.logs().contains(token), "feed token logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_kills_the_old_token_at_once_and_feeds_are_per_tenant() {
    let server = TestServer::start();
    let acme = server.api("acme");
    let globex = server.api("globex");
    acme.create_seed_service().await;
    globex.create_seed_service().await;
    let monday = future_monday();
    acme.book_ok("srv_consultation", &ny(monday, 9, 0)).await;
    let theirs = globex.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let prv = acme.provider_id().await;
    let old = acme.get(&format!("/v1/providers/{prv}/feed")).await.json["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = |url: &str| {
        url.split_once("/calendar/")
            .map(|(_, p)| format!("/calendar/{p}"))
            .unwrap()
    };
    let before = fetch(&server, &server.url(&path(&old)), None).await;
    assert_eq!(before.status, 200);
    let (_, events) = parse(&before.body);
    assert_eq!(events.len(), 1, "only acme's booking");
    assert!(!before.body.contains(theirs["id"].as_str().unwrap()));

    let rotated = acme
        .post_empty(&format!("/v1/providers/{prv}/feed/rotate"))
        .await
        .expect_status(200)
        .json;
    let new = rotated["url"].as_str().unwrap();
    assert_ne!(new, old);
    let gone = server
        .client()
        .get(server.url(&path(&old)))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    assert_eq!(
        fetch(&server, &server.url(&path(new)), None).await.status,
        200
    );
    assert_eq!(
        acme.get(&format!("/v1/providers/{prv}/feed")).await.json["url"],
        new
    );

    // Another account cannot see or rotate it.
    globex
        .get(&format!("/v1/providers/{prv}/feed"))
        .await
        .expect_error(404, "NOT_FOUND");
    globex
        .post_empty(&format!("/v1/providers/{prv}/feed/rotate"))
        .await
        .expect_error(404, "NOT_FOUND");
    assert_eq!(
        fetch(&server, &server.url(&path(new)), None).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn guessing_tokens_is_rate_limited_per_address() {
    let server = TestServer::start();
    let api = server.api("acme");
    let prv = api.provider_id().await;
    let url = api.get(&format!("/v1/providers/{prv}/feed")).await.json["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let real = server.url(&format!(
        "/calendar/{}",
        url.split_once("/calendar/").unwrap().1
    ));
    let mut limited = None;
    for i in 0..40 {
        let res = server
            .client()
            .get(server.url(&format!("/calendar/feed/{:0>32}.ics", i)))
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            404 => {}
            429 => {
                limited = Some(i);
                assert!(res.headers().contains_key("retry-after"));
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["error"]["code"], "RATE_LIMITED");
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(limited, Some(20), "the 21st wrong token is refused");
    // Over the limit, wrong tokens stay refused, but a right token is
    // served: subscribers sharing the guesser's address keep their feeds.
    let wrong = server.url(&format!("/calendar/feed/{:0>32}.ics", 99));
    assert_eq!(fetch(&server, &wrong, None).await.status, 429);
    assert_eq!(fetch(&server, &real, None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_booking_downloads_as_a_calendar() {
    let server = TestServer::start();
    let api = server.api("acme");
    api.create_seed_service().await;
    let b = api
        .book_ok("srv_consultation", &ny(future_monday(), 9, 0))
        .await;
    let id = b["id"].as_str().unwrap();
    let res = api
        .get(&format!("/v1/bookings/{id}.ics"))
        .await
        .expect_status(200);
    assert_eq!(
        res.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    let (cal, events) = parse(&res.text());
    assert_eq!(cal["METHOD"], "PUBLISH");
    assert!(!cal.contains_key("REFRESH-INTERVAL"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["UID"], format!("{id}@booking-api"));
    assert_eq!(events[0]["DTSTART"], compact(&b["scheduled_at"]));
    assert_eq!(events[0]["SUMMARY"], "1-Hour Consultation with John Doe");
    let tag = res.header("etag").unwrap().to_owned();
    let again = api
        .request(reqwest::Method::GET, &format!("/v1/bookings/{id}.ics"))
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // Authentication and tenancy as for the booking itself.
    let anonymous = server
        .client()
        .get(server.url(&format!("/v1/bookings/{id}.ics")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    server
        .api("globex")
        .get(&format!("/v1/bookings/{id}.ics"))
        .await
        .expect_error(404, "NOT_FOUND");
    api.get("/v1/bookings/bk_nope.ics")
        .await
        .expect_error(404, "NOT_FOUND");
}
