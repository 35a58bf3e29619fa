//! Bookings: creation, prices, auto-confirm, conflicts with `next_available`,
//! listing with filters and paging.

use std::collections::HashSet;

use booking_tests::{add_days, booking_body, future_monday, ny, seed_with, ts};
use serde_json::json;

use super::setup_seed;

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_booking_has_every_contract_field() {
    let (_server, api) = setup_seed().await;
    let service = api
        .get("/v1/services/srv_consultation")
        .await
        .expect_status(200)
        .json;
    let monday = future_monday();
    let at = ny(monday, 10, 0);
    let mut body = booking_body("srv_consultation", &at);
    body["notes"] = json!("Bring the project plan");
    body["metadata"] = json!({"source": "web", "campaign": "spring"});
    let res = api.post("/v1/bookings", &body).await.expect_status(201);
    let b = &res.json;
    let id = b["id"].as_str().expect("id");
    assert!(
        id.starts_with("bk_") && id.len() >= "bk_".len() + 16,
        "{id}"
    );
    assert_eq!(b["service"], "srv_consultation");
    assert_eq!(b["provider_id"], service["provider_id"]);
    assert_eq!(b["duration"], 60);
    assert_eq!(b["scheduled_at"], at);
    assert_eq!(b["end_at"], ny(monday, 11, 0));
    assert_eq!(b["status"], "pending");
    assert_eq!(
        b["customer"],
        json!({"email": "customer@example.com", "name": "John Doe"})
    );
    assert_eq!(b["price"]["amount"], 150);
    assert_eq!(b["price"]["currency"], "USD");
    assert_eq!(b["notes"], "Bring the project plan");
    assert_eq!(
        b["metadata"],
        json!({"source": "web", "campaign": "spring"})
    );
    for stamp in ["created_at", "updated_at"] {
        let text = b[stamp].as_str().unwrap_or_else(|| panic!("{stamp}: {b}"));
        assert!(text.ends_with('Z') && text.len() == 20, "{stamp} = {text}");
        let age = jiff::Timestamp::now().duration_since(ts(text)).as_secs();
        assert!((-5..300).contains(&age), "{stamp} = {text}");
    }
    let got = api
        .get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(&got, b);

    // Minimal body: notes null (or absent), metadata empty.
    let plain = api.book_ok("srv_consultation", &ny(monday, 12, 0)).await;
    assert!(plain["notes"].is_null(), "{plain}");
    assert_eq!(plain["metadata"], json!({}));
    assert_ne!(plain["id"], b["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_may_use_any_offset_and_answers_are_utc() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let local = monday
        .at(14, 0, 0, 0)
        .in_tz("America/New_York")
        .expect("zoned")
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    let b = api.book_ok("srv_consultation", &local).await;
    assert_eq!(b["scheduled_at"], ny(monday, 14, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn off_grid_starts_inside_the_hours_are_accepted() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let b = api.book_ok("srv_consultation", &ny(monday, 10, 17)).await;
    assert_eq!(b["scheduled_at"], ny(monday, 10, 17));
    assert_eq!(b["end_at"], ny(monday, 11, 17));
    // The last possible start ends exactly at 17:00.
    let last = api.book_ok("srv_consultation", &ny(monday, 16, 0)).await;
    assert_eq!(last["end_at"], ny(monday, 17, 0));
    // One that would end after 17:00 is outside the hours.
    let details = api
        .book("srv_consultation", &ny(add_days(monday, 1), 16, 1))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["next_available"], ny(add_days(monday, 2), 9, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn prices_are_copied_from_the_service() {
    let (_server, api) = setup_seed().await;
    api.create_service(&seed_with(&json!({"id": "srv_45", "duration": 45})))
        .await;
    api.create_service(&seed_with(&json!({
        "id": "srv_flat", "duration": 30,
        "price": {"amount": 99.99, "currency": "EUR", "type": "flat"},
    })))
    .await;
    api.create_service(&seed_with(&json!({
        "id": "srv_odd", "duration": 7,
        "price": {"amount": 100, "currency": "USD", "type": "hourly"},
    })))
    .await;
    let monday = future_monday();
    let b = api.book_ok("srv_45", &ny(monday, 9, 0)).await;
    assert_eq!(b["duration"], 45);
    assert_eq!(b["price"], json!({"amount": 112.5, "currency": "USD"}));
    let flat = api.book_ok("srv_flat", &ny(monday, 11, 0)).await;
    assert_eq!(flat["price"], json!({"amount": 99.99, "currency": "EUR"}));
    // 100 x 7 / 60 = 11.666… -> 11.67.
    let odd = api.book_ok("srv_odd", &ny(monday, 13, 0)).await;
    assert_eq!(odd["price"], json!({"amount": 11.67, "currency": "USD"}));

    // Later service changes do not touch existing bookings.
    api.patch(
        "/v1/services/srv_45",
        &json!({"duration": 90, "price": {"amount": 10, "currency": "USD", "type": "flat"}}),
    )
    .await
    .expect_status(200);
    let id = b["id"].as_str().expect("id");
    let again = api
        .get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(again["duration"], 45);
    assert_eq!(again["price"]["amount"], 112.5);
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_confirm_services_create_confirmed_bookings() {
    let (_server, api) = setup_seed().await;
    api.create_service(&seed_with(&json!({"id": "srv_auto", "auto_confirm": true})))
        .await;
    let b = api.book_ok("srv_auto", &ny(future_monday(), 9, 0)).await;
    assert_eq!(b["status"], "confirmed", "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_slot_is_a_conflict_with_the_next_free_slot() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    api.book_ok("srv_consultation", &ny(monday, 9, 0)).await;

    let res = api.book("srv_consultation", &ny(monday, 9, 0)).await;
    let details = res.expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(
        details["requested_time"],
        ny(monday, 9, 0),
        "{}",
        res.text()
    );
    assert_eq!(
        details["next_available"],
        ny(monday, 10, 0),
        "{}",
        res.text()
    );

    // Overlapping the booked hour from inside it.
    let details = api
        .book("srv_consultation", &ny(monday, 9, 30))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["requested_time"], ny(monday, 9, 30));
    assert_eq!(details["next_available"], ny(monday, 10, 0));

    // After filling 10:00 too, the next one is 11:00.
    api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let details = api
        .book("srv_consultation", &ny(monday, 9, 0))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["next_available"], ny(monday, 11, 0));

    // Only the two bookings exist.
    let list = api.get("/v1/bookings").await.expect_status(200).json;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2), "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn outside_the_hours_is_a_conflict_pointing_at_the_next_opening() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let cases = [
        // Evening: the next morning.
        (ny(monday, 18, 0), ny(add_days(monday, 1), 9, 0)),
        // Early morning: the same day's first slot.
        (ny(monday, 7, 0), ny(monday, 9, 0)),
        // Friday evening and Saturday: Monday morning.
        (
            ny(add_days(monday, 4), 17, 0),
            ny(add_days(monday, 7), 9, 0),
        ),
        (
            ny(add_days(monday, 5), 10, 0),
            ny(add_days(monday, 7), 9, 0),
        ),
        // Off grid before the window: the first grid slot at or after it.
        (ny(monday, 8, 30), ny(monday, 9, 0)),
    ];
    for (requested, next) in cases {
        let res = api.book("srv_consultation", &requested).await;
        let details = res.expect_error(409, "BOOKING_CONFLICT");
        assert_eq!(details["requested_time"], requested);
        assert_eq!(details["next_available"], next, "requested {requested}");
    }
    // The past is never available.
    let past = api.book("srv_consultation", "2020-01-06T15:00:00Z").await;
    let details = past.expect_error(409, "BOOKING_CONFLICT");
    // Searching 62 days from 2020 finds nothing: null, never a past slot.
    assert!(
        details["next_available"]
            .as_str()
            .is_none_or(|next| ts(next) > jiff::Timestamp::now()),
        "{details}"
    );
    assert!(details["next_available"].is_null(), "{details}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_by_status_service_provider_and_time() {
    let (_server, api) = setup_seed().await;
    let ann = api
        .post("/v1/providers", &json!({"name": "Ann"}))
        .await
        .expect_status(201)
        .json;
    let ann_id = ann["id"].as_str().expect("id");
    api.create_service(&seed_with(&json!({"id": "srv_ann", "provider_id": ann_id})))
        .await;
    let monday = future_monday();
    let tuesday = add_days(monday, 1);
    let b1 = api.book_ok("srv_consultation", &ny(monday, 9, 0)).await;
    let b2 = api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let b3 = api.book_ok("srv_consultation", &ny(tuesday, 9, 0)).await;
    let b4 = api.book_ok("srv_ann", &ny(monday, 9, 0)).await;
    let id = |b: &serde_json::Value| b["id"].as_str().expect("id").to_owned();
    api.post_empty(&format!("/v1/bookings/{}/confirm", id(&b2)))
        .await
        .expect_status(200);
    api.post_empty(&format!("/v1/bookings/{}/cancel", id(&b3)))
        .await
        .expect_status(200);

    let ids = |path: String| {
        let api = api.clone();
        async move {
            let items = api.list_all(&path, 200).await;
            items.iter().map(id).collect::<HashSet<String>>()
        }
    };
    let set = |bs: &[&serde_json::Value]| bs.iter().map(|b| id(b)).collect::<HashSet<_>>();

    assert_eq!(ids("/v1/bookings".into()).await, set(&[&b1, &b2, &b3, &b4]));
    assert_eq!(
        ids("/v1/bookings?status=pending".into()).await,
        set(&[&b1, &b4])
    );
    assert_eq!(
        ids("/v1/bookings?status=confirmed".into()).await,
        set(&[&b2])
    );
    assert_eq!(
        ids("/v1/bookings?status=cancelled".into()).await,
        set(&[&b3])
    );
    assert_eq!(ids("/v1/bookings?status=completed".into()).await, set(&[]));
    assert_eq!(
        ids("/v1/bookings?service=srv_ann".into()).await,
        set(&[&b4])
    );
    assert_eq!(
        ids("/v1/bookings?service=srv_consultation".into()).await,
        set(&[&b1, &b2, &b3])
    );
    assert_eq!(
        ids(format!("/v1/bookings?provider_id={ann_id}")).await,
        set(&[&b4])
    );
    assert_eq!(ids("/v1/bookings?service=srv_nope".into()).await, set(&[]));
    // from is inclusive, to exclusive, on scheduled_at.
    let from = ny(monday, 10, 0);
    let to = ny(tuesday, 9, 0);
    assert_eq!(
        ids(format!("/v1/bookings?from={from}&to={to}")).await,
        set(&[&b2])
    );
    assert_eq!(ids(format!("/v1/bookings?from={to}")).await, set(&[&b3]));
    assert_eq!(
        ids(format!("/v1/bookings?to={from}")).await,
        set(&[&b1, &b4])
    );
    // Filters combine.
    assert_eq!(
        ids(format!(
            "/v1/bookings?status=pending&service=srv_consultation&to={to}"
        ))
        .await,
        set(&[&b1])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_pages_with_a_stable_order_and_no_duplicates() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let mut made = HashSet::new();
    for h in 9..16 {
        let b = api.book_ok("srv_consultation", &ny(monday, h, 0)).await;
        made.insert(b["id"].as_str().expect("id").to_owned());
    }
    let walked = api.list_all("/v1/bookings", 2).await;
    let ids: Vec<String> = walked
        .iter()
        .map(|b| b["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 7, "{ids:?}");
    assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), made);
    assert_eq!(walked, api.list_all("/v1/bookings", 200).await);
    let first = api
        .get("/v1/bookings?limit=3")
        .await
        .expect_status(200)
        .json;
    assert_eq!(first["data"].as_array().map(Vec::len), Some(3));
    assert!(first["next_cursor"].is_string(), "{first}");
}
