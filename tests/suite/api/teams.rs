//! Team services (issue 15): `provider_ids` + `assignment` validated;
//! round robin offers a slot while one provider is free and gives each
//! booking to a free provider (exactly k of n concurrent requests win with k
//! providers free, also over three processes on one Postgres); collective
//! needs every provider and blocks all of them at once; reschedule, cancel,
//! `include=providers`, explain per provider, feeds, and fairness over a
//! day. On SQLite and on Postgres.

use std::collections::BTreeSet;
use std::time::Duration;

use booking_tests::pg::{self, Database};
use booking_tests::receiver::Receiver;
use booking_tests::{Api, TestServer, add_days, every_day_service, future_monday};
use futures_util::future::join_all;
use serde_json::{Value, json};

fn postgres_server(db: &Database) -> TestServer {
    TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &[])
}

/// `day` at `hh:00` UTC (the test services run in UTC).
fn at(day: jiff::civil::Date, hour: u32) -> String {
    format!("{day}T{hour:02}:00:00Z")
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// A team service `id` over `team`, and a one-provider service
/// `srv_solo_<i>` for each member (to make them busy one by one).
async fn team_service(api: &Api, id: &str, team: &[String], assignment: &str) {
    api.create_service(&every_day_service(
        id,
        json!({"provider_ids": team, "assignment": assignment}),
    ))
    .await;
    for (i, p) in team.iter().enumerate() {
        api.create_service(&every_day_service(
            &format!("srv_solo_{i}"),
            json!({"provider_id": p}),
        ))
        .await;
    }
}

/// The availability of `service` on `day` with the free providers.
async fn slots_with_providers(api: &Api, service: &str, day: jiff::civil::Date) -> Vec<Value> {
    let res = api
        .get(&format!(
            "/v1/services/{service}/availability?from={day}&to={day}&include=providers"
        ))
        .await
        .expect_status(200);
    res.json["slots"].as_array().unwrap().clone()
}

fn starts(slots: &[Value]) -> Vec<String> {
    slots
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_owned())
        .collect()
}

// ------------------------------------------------------------ validation

#[tokio::test(flavor = "multi_thread")]
async fn team_services_are_validated_and_read_back() {
    let server = TestServer::start();
    let api = server.api("acme");
    let team = api.create_providers(3).await;
    let other = server.api("globex");
    let theirs = other.create_providers(1).await;
    let cases = [
        (json!({"provider_ids": [team[0], team[1]]}), "assignment"),
        (json!({"assignment": "round_robin"}), "assignment"),
        (
            json!({"provider_ids": [team[0], team[1]], "assignment": "any"}),
            "assignment",
        ),
        (
            json!({"provider_ids": [team[0]], "assignment": "collective"}),
            "provider_ids",
        ),
        (
            json!({"provider_ids": [team[0], team[0]], "assignment": "collective"}),
            "provider_ids",
        ),
        (
            json!({"provider_ids": [team[0], team[1]], "assignment": "collective",
                   "provider_id": team[2]}),
            "provider_ids",
        ),
        (
            json!({"provider_ids": [team[0], theirs[0]], "assignment": "round_robin"}),
            "provider_ids",
        ),
        (
            json!({"provider_ids": [team[0], "prv_nope"], "assignment": "round_robin"}),
            "provider_ids",
        ),
    ];
    for (who, field) in cases {
        api.post("/v1/services", &every_day_service("srv_bad", who.clone()))
            .await
            .expect_validation_of(field);
    }
    let fifty_one: Vec<String> = (0..51).map(|i| format!("prv_x{i}")).collect();
    api.post(
        "/v1/services",
        &every_day_service(
            "srv_bad",
            json!({"provider_ids": fifty_one, "assignment": "collective"}),
        ),
    )
    .await
    .expect_validation_of("provider_ids");

    let created = api
        .create_service(&every_day_service(
            "srv_team",
            json!({"provider_ids": [team[1], team[0]], "assignment": "round_robin"}),
        ))
        .await;
    assert_eq!(created["provider_id"], team[1].as_str());
    assert_eq!(created["provider_ids"], json!([team[1], team[0]]));
    assert_eq!(created["assignment"], "round_robin");
    let read = api
        .get("/v1/services/srv_team")
        .await
        .expect_status(200)
        .json;
    assert_eq!(read["provider_ids"], json!([team[1], team[0]]));
    // Back to one provider, and to a collective team.
    let single = api
        .patch("/v1/services/srv_team", &json!({"provider_id": team[2]}))
        .await
        .expect_status(200)
        .json;
    assert_eq!(single["provider_id"], team[2].as_str());
    assert!(single.get("provider_ids").is_none(), "{single}");
    assert!(single.get("assignment").is_none(), "{single}");
    let collective = api
        .patch(
            "/v1/services/srv_team",
            &json!({"provider_ids": team, "assignment": "collective"}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(collective["assignment"], "collective");
    assert_eq!(collective["provider_id"], team[0].as_str());
    api.patch(
        "/v1/services/srv_team",
        &json!({"assignment": "round_robin"}),
    )
    .await
    .expect_validation_of("assignment");
    // The OpenAPI document still validates and shows the new fields.
    let doc = api.get("/openapi.json").await.expect_status(200).json;
    let create = &doc["components"]["schemas"]["CreateService"]["properties"];
    assert!(create.get("provider_ids").is_some() && create.get("assignment").is_some());
}

// ------------------------------------------------------------ round robin

/// 3 providers, 20 concurrent requests for one slot over `apis`: exactly 3
/// bookings, on 3 different providers; the rest 409 with `next_available`.
async fn round_robin_storm(apis: &[Api]) {
    let api = &apis[0];
    let team = api.create_providers(3).await;
    team_service(api, "srv_rr", &team, "round_robin").await;
    let day = add_days(future_monday(), 1);
    let slot = at(day, 10);
    let answers = join_all((0..20).map(|i| {
        let api = apis[i % apis.len()].clone();
        let slot = slot.clone();
        async move { api.book("srv_rr", &slot).await }
    }))
    .await;
    let won: Vec<&Value> = answers
        .iter()
        .filter(|r| r.status.as_u16() == 201)
        .map(|r| &r.json)
        .collect();
    assert_eq!(won.len(), 3, "exactly one booking per provider");
    let assigned: BTreeSet<String> = won.iter().map(|b| s(&b["provider_id"])).collect();
    assert_eq!(assigned, team.iter().cloned().collect::<BTreeSet<_>>());
    for b in &won {
        assert!(b.get("provider_ids").is_none(), "{b}");
    }
    for res in answers.iter().filter(|r| r.status.as_u16() != 201) {
        let err = res.expect_error(409, "BOOKING_CONFLICT");
        assert_eq!(err["next_available"], at(day, 11).as_str());
    }
    // The slot is gone; the others still offer everyone.
    let slots = slots_with_providers(&apis[apis.len() - 1], "srv_rr", day).await;
    assert!(!starts(&slots).contains(&slot), "{slots:?}");
    assert_eq!(slots[0]["provider_ids"], json!(team));
    let stored = apis[0].list_all("/v1/bookings?service=srv_rr", 200).await;
    assert_eq!(stored.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn round_robin_storm_makes_one_booking_per_provider_on_sqlite() {
    let server = TestServer::start();
    round_robin_storm(&[server.api("acme")]).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn round_robin_storm_makes_one_booking_per_provider_on_postgres() {
    let db = Database::create(&pg::admin_url());
    round_robin_storm(&[postgres_server(&db).api("acme")]).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn round_robin_storm_over_three_processes_makes_one_booking_per_provider() {
    let db = Database::create(&pg::admin_url());
    let servers: Vec<TestServer> = (0..3).map(|_| postgres_server(&db)).collect();
    let (key, key_id) = servers[0].key_for("acme");
    let apis: Vec<Api> = servers
        .iter()
        .map(|s| s.api_with_key(&key, &key_id))
        .collect();
    round_robin_storm(&apis).await;
}

/// Round robin: a busy provider is skipped (`include=providers` shows who
/// is free), a reschedule keeps the provider when free and moves to a free
/// colleague otherwise, a cancel frees the provider at once.
async fn round_robin_lifecycle(server: &TestServer) {
    let api = server.api("acme");
    let team = api.create_providers(2).await;
    team_service(&api, "srv_rr", &team, "round_robin").await;
    let day = add_days(future_monday(), 2);
    // The first provider is busy at 10:00 through their own service.
    api.book_ok("srv_solo_0", &at(day, 10)).await;
    let slots = slots_with_providers(&api, "srv_rr", day).await;
    let ten = slots
        .iter()
        .find(|s| s["start"] == at(day, 10).as_str())
        .unwrap();
    assert_eq!(ten["provider_ids"], json!([team[1]]));
    let nine = slots
        .iter()
        .find(|s| s["start"] == at(day, 9).as_str())
        .unwrap();
    assert_eq!(nine["provider_ids"], json!(team));
    // Without include, slots carry no providers.
    let plain = api
        .get(&format!(
            "/v1/services/srv_rr/availability?from={day}&to={day}"
        ))
        .await
        .expect_status(200)
        .json;
    assert!(plain["slots"][0].get("provider_ids").is_none());
    api.get(&format!(
        "/v1/services/srv_rr/availability?from={day}&to={day}&include=nope"
    ))
    .await
    .expect_validation_of("include");

    let b = api.book_ok("srv_rr", &at(day, 10)).await;
    assert_eq!(b["provider_id"], team[1].as_str(), "the free one");
    let id = s(&b["id"]);
    // 10:00 is now full: explain names both providers' reasons.
    let e = api
        .get(&format!(
            "/v1/services/srv_rr/availability/explain?at={}",
            at(day, 10)
        ))
        .await
        .expect_status(200)
        .json;
    assert_eq!(e["available"], false);
    assert_eq!(e["providers"].as_array().unwrap().len(), 2);
    assert_eq!(e["providers"][1]["provider_id"], team[1].as_str());
    assert_eq!(e["providers"][1]["reasons"][0]["code"], "BOOKED");
    assert_eq!(e["providers"][1]["reasons"][0]["booking_id"], id.as_str());
    let booked: Vec<&Value> = e["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["code"] == "BOOKED")
        .collect();
    assert_eq!(booked.len(), 2, "{e}");
    api.book("srv_rr", &at(day, 10))
        .await
        .expect_error(409, "BOOKING_CONFLICT");

    // Reschedule to 12:00: the second provider is free there, keeps it.
    let moved = api
        .post(
            &format!("/v1/bookings/{id}/reschedule"),
            &json!({"scheduled_at": at(day, 12)}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(moved["provider_id"], team[1].as_str());
    // To 14:00, where the second provider is busy: moves to the first.
    api.book_ok("srv_solo_1", &at(day, 14)).await;
    let moved = api
        .post(
            &format!("/v1/bookings/{id}/reschedule"),
            &json!({"scheduled_at": at(day, 14)}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(moved["provider_id"], team[0].as_str());
    // The first provider's own service no longer has 14:00; 12:00 is free
    // again for the second.
    let solo0 = api
        .slot_starts("srv_solo_0", &day.to_string(), &day.to_string())
        .await;
    assert!(!solo0.contains(&at(day, 14)));
    let solo1 = api
        .slot_starts("srv_solo_1", &day.to_string(), &day.to_string())
        .await;
    assert!(solo1.contains(&at(day, 12)));
    // Both busy at 16:00: refused, with the team's next slot.
    api.book_ok("srv_solo_0", &at(day, 16)).await;
    api.book_ok("srv_solo_1", &at(day, 16)).await;
    let err = api
        .post(
            &format!("/v1/bookings/{id}/reschedule"),
            &json!({"scheduled_at": at(day, 16)}),
        )
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(err["next_available"], at(add_days(day, 1), 9).as_str());
    // Cancel frees the provider at once.
    api.post(&format!("/v1/bookings/{id}/cancel"), &json!({}))
        .await
        .expect_status(200);
    let solo0 = api
        .slot_starts("srv_solo_0", &day.to_string(), &day.to_string())
        .await;
    assert!(solo0.contains(&at(day, 14)));
}

#[tokio::test(flavor = "multi_thread")]
async fn round_robin_reschedule_cancel_and_include_providers_on_sqlite() {
    round_robin_lifecycle(&TestServer::start()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn round_robin_reschedule_cancel_and_include_providers_on_postgres() {
    let db = Database::create(&pg::admin_url());
    round_robin_lifecycle(&postgres_server(&db)).await;
}

/// A day of sequential bookings spreads evenly: fewest bookings that day
/// first, then least recently booked, then team order.
async fn fairness(server: &TestServer) {
    let api = server.api("acme");
    let team = api.create_providers(3).await;
    team_service(&api, "srv_rr", &team, "round_robin").await;
    let day = add_days(future_monday(), 3);
    let mut got = Vec::new();
    for hour in 9..15 {
        for _ in 0..2 {
            let b = api.book_ok("srv_rr", &at(day, hour)).await;
            got.push(s(&b["provider_id"]));
        }
    }
    let expected: Vec<String> = (0..12).map(|i| team[i % 3].clone()).collect();
    assert_eq!(got, expected);
    // Another day starts from the fewest on that day, then least recently
    // booked: everyone has 0, and team[2] ... was booked last, team[0]
    // earliest among the last round.
    let next = api.book_ok("srv_rr", &at(add_days(day, 1), 9)).await;
    assert_eq!(next["provider_id"], team[0].as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn round_robin_assignment_is_fair_over_a_day_on_sqlite() {
    fairness(&TestServer::start()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn round_robin_assignment_is_fair_over_a_day_on_postgres() {
    let db = Database::create(&pg::admin_url());
    fairness(&postgres_server(&db)).await;
}

// ------------------------------------------------------------ collective

/// The feed of `provider` as text.
async fn feed(api: &Api, server: &TestServer, provider: &str) -> String {
    let url = s(&api
        .get(&format!("/v1/providers/{provider}/feed"))
        .await
        .expect_status(200)
        .json["url"]);
    let path = url
        .split_once("/calendar/")
        .map(|(_, p)| format!("/calendar/{p}"))
        .unwrap();
    server
        .client()
        .get(server.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn collective(server: &TestServer) {
    let api = server.api("acme");
    let team = api.create_providers(3).await;
    team_service(&api, "srv_meet", &team, "collective").await;
    let day = add_days(future_monday(), 1);
    // The second provider is busy at 10:00.
    api.book_ok("srv_solo_1", &at(day, 10)).await;
    let slots = slots_with_providers(&api, "srv_meet", day).await;
    assert!(!starts(&slots).contains(&at(day, 10)), "{slots:?}");
    assert!(starts(&slots).contains(&at(day, 11)));
    assert_eq!(slots[0]["provider_ids"], json!(team));
    let err = api
        .book("srv_meet", &at(day, 10))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(err["next_available"], at(day, 11).as_str());
    let e = api
        .get(&format!(
            "/v1/services/srv_meet/availability/explain?at={}",
            at(day, 10)
        ))
        .await
        .expect_status(200)
        .json;
    assert_eq!(e["available"], false);
    let free: Vec<bool> = e["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["available"].as_bool().unwrap())
        .collect();
    assert_eq!(free, vec![true, false, true]);
    assert_eq!(e["reasons"][0]["code"], "BOOKED");

    // 11:00 blocks all three at once.
    let b = api.book_ok("srv_meet", &at(day, 11)).await;
    let id = s(&b["id"]);
    assert_eq!(b["provider_id"], team[0].as_str());
    assert_eq!(b["provider_ids"], json!(team));
    for i in 0..3 {
        api.book(&format!("srv_solo_{i}"), &at(day, 11))
            .await
            .expect_error(409, "BOOKING_CONFLICT");
    }
    // A conflict on the third provider's seat names the booking itself.
    let e = api
        .get(&format!(
            "/v1/services/srv_solo_2/availability/explain?at={}",
            at(day, 11)
        ))
        .await
        .expect_status(200)
        .json;
    assert_eq!(e["reasons"][0]["booking_id"], id.as_str());
    // Listed once, fetched by its id.
    assert_eq!(
        api.list_all("/v1/bookings?service=srv_meet", 200)
            .await
            .len(),
        1
    );
    let got = api
        .get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(got["provider_ids"], json!(team));
    // In each provider's feed, with one UID.
    let uid = format!("UID:{id}");
    for p in &team {
        let text = feed(&api, server, p).await;
        assert_eq!(text.matches(&uid).count(), 1, "{p}: {text}");
    }

    // Reschedule moves everyone: 13:00 becomes busy for all, 11:00 free.
    api.post(
        &format!("/v1/bookings/{id}/reschedule"),
        &json!({"scheduled_at": at(day, 13)}),
    )
    .await
    .expect_status(200);
    for i in 0..3 {
        let solo = api
            .slot_starts(&format!("srv_solo_{i}"), &day.to_string(), &day.to_string())
            .await;
        assert!(!solo.contains(&at(day, 13)), "{i}: {solo:?}");
        assert!(solo.contains(&at(day, 11)), "{i}: {solo:?}");
    }
    // Onto a time the second provider is busy: refused, nothing moves.
    api.post(
        &format!("/v1/bookings/{id}/reschedule"),
        &json!({"scheduled_at": at(day, 10)}),
    )
    .await
    .expect_error(409, "BOOKING_CONFLICT");
    let got = api
        .get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(got["scheduled_at"], at(day, 13).as_str());
    // Cancel frees all three.
    let cancelled = api
        .post(&format!("/v1/bookings/{id}/cancel"), &json!({}))
        .await
        .expect_status(200)
        .json;
    assert_eq!(cancelled["provider_ids"], json!(team));
    for i in 0..3 {
        api.book_ok(&format!("srv_solo_{i}"), &at(day, 13)).await;
    }
    // A collective booking racing single bookings of its providers: all or
    // none of it.
    let race_at = at(day, 15);
    let mut requests = vec![("srv_meet".to_owned(), race_at.clone())];
    for i in 0..3 {
        requests.push((format!("srv_solo_{i}"), race_at.clone()));
    }
    let answers = join_all(requests.iter().map(|(service, when)| {
        let api = api.clone();
        async move { api.book(service, when).await }
    }))
    .await;
    let team_won = answers[0].status.as_u16() == 201;
    let solos_won = answers[1..]
        .iter()
        .filter(|r| r.status.as_u16() == 201)
        .count();
    if team_won {
        assert_eq!(solos_won, 0);
    } else {
        assert_eq!(solos_won, 3, "a refused collective booking blocks nobody");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn collective_needs_everyone_and_blocks_everyone_on_sqlite() {
    collective(&TestServer::start()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn collective_needs_everyone_and_blocks_everyone_on_postgres() {
    let db = Database::create(&pg::admin_url());
    collective(&postgres_server(&db)).await;
}

// ------------------------------------------------------------ webhooks

/// Webhook data is the booking as the API returns it: the assigned
/// `provider_id` of a round-robin booking (the new one after a move), and
/// `provider_ids` of a collective one.
#[tokio::test(flavor = "multi_thread")]
async fn webhook_data_names_the_assigned_and_the_collective_providers() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(&[
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s"),
    ]);
    let api = server.api("acme");
    api.post("/v1/webhooks", &json!({"url": receiver.url("/hook")}))
        .await
        .expect_status(201);
    let team = api.create_providers(2).await;
    team_service(&api, "srv_rr", &team, "round_robin").await;
    api.create_service(&every_day_service(
        "srv_meet",
        json!({"provider_ids": team, "assignment": "collective"}),
    ))
    .await;
    let day = add_days(future_monday(), 1);
    api.book_ok("srv_solo_0", &at(day, 10)).await;
    let rr = api.book_ok("srv_rr", &at(day, 10)).await;
    assert_eq!(rr["provider_id"], team[1].as_str());
    // Moved to 12:00 where only the first provider is free.
    api.book_ok("srv_solo_1", &at(day, 12)).await;
    let moved = api
        .post(
            &format!("/v1/bookings/{}/reschedule", s(&rr["id"])),
            &json!({"scheduled_at": at(day, 12)}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(moved["provider_id"], team[0].as_str());
    let meet = api.book_ok("srv_meet", &at(day, 14)).await;
    let got = receiver
        .wait_for(
            Duration::from_secs(10),
            "four booking.created and one moved",
            |r| r.len() >= 5,
        )
        .await;
    let data_of = |id: &Value, event: &str| -> Value {
        got.iter()
            .map(|r| r.json())
            .find(|b| b["event"] == event && b["data"]["id"] == *id)
            .unwrap_or_else(|| panic!("no {event} for {id}"))["data"]
            .clone()
    };
    assert_eq!(
        data_of(&rr["id"], "booking.created"),
        booking_tests::unlinked(&rr)
    );
    let rescheduled = data_of(&rr["id"], "booking.rescheduled");
    assert_eq!(rescheduled["provider_id"], team[0].as_str());
    let created = data_of(&meet["id"], "booking.created");
    assert_eq!(created, booking_tests::unlinked(&meet));
    assert_eq!(created["provider_ids"], json!(team));
}

/// Holds of a round-robin service take one free provider each by the
/// assignment rule (held providers are not free for the next hold, nor for
/// bookings), a named provider must be one of the team, a booking from a
/// hold lands on the hold's provider, and a collective service cannot be
/// held.
async fn team_holds(server: &TestServer) {
    let api = server.api("acme");
    let team = api.create_providers(2).await;
    team_service(&api, "srv_rr", &team, "round_robin").await;
    api.create_service(&every_day_service(
        "srv_meet",
        json!({"provider_ids": team, "assignment": "collective"}),
    ))
    .await;
    let day = add_days(future_monday(), 3);
    let hold = |extra: Value| {
        let mut body = json!({"service": "srv_rr", "scheduled_at": at(day, 10)});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    };
    let first = api
        .post("/v1/holds", &hold(json!({})))
        .await
        .expect_status(201);
    let second = api
        .post("/v1/holds", &hold(json!({})))
        .await
        .expect_status(201);
    let held: BTreeSet<String> = [&first.json, &second.json]
        .iter()
        .map(|h| s(&h["provider_id"]))
        .collect();
    assert_eq!(held, team.iter().cloned().collect::<BTreeSet<_>>());
    // Both providers held: no third hold, no booking, and the slot is gone.
    api.post("/v1/holds", &hold(json!({})))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    api.post(
        "/v1/bookings",
        &json!({"service": "srv_rr", "scheduled_at": at(day, 10),
                "customer": {"email": "c@example.com", "name": "C"}}),
    )
    .await
    .expect_status(409);
    let slots = slots_with_providers(&api, "srv_rr", day).await;
    assert!(
        slots
            .iter()
            .all(|slot| slot["start"] != at(day, 10).as_str())
    );
    // A named provider: one of the team, else a validation error.
    let named = api
        .post(
            "/v1/holds",
            &hold(json!({"scheduled_at": at(day, 11), "provider_id": team[1]})),
        )
        .await
        .expect_status(201);
    // Naming them again is refused for their own time, though the other
    // provider is free: the reasons are that provider's (their hold), and
    // the next time offered is one they can take.
    let again = api
        .post(
            "/v1/holds",
            &hold(json!({"scheduled_at": at(day, 11), "provider_id": team[1]})),
        )
        .await;
    let details = again.expect_error(409, "BOOKING_CONFLICT");
    let reasons = details["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r["code"] == "HELD" && r["hold_id"] == named.json["id"]),
        "{details}"
    );
    assert_ne!(details["next_available"], at(day, 11).as_str(), "{details}");
    let stranger = api
        .post(
            "/v1/holds",
            &hold(json!({"scheduled_at": at(day, 12), "provider_id": "prv_nobody"})),
        )
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(stranger["field"], "provider_id");
    // The booking from the second hold is its provider's.
    let booked = api
        .post(
            "/v1/bookings",
            &json!({"service": "srv_rr", "scheduled_at": at(day, 10), "hold_id": second.json["id"],
                    "customer": {"email": "c@example.com", "name": "C"}}),
        )
        .await
        .expect_status(201);
    assert_eq!(booked.json["provider_id"], second.json["provider_id"]);
    // Collective: refused on `service`.
    let collective = api
        .post(
            "/v1/holds",
            &json!({"service": "srv_meet", "scheduled_at": at(day, 14)}),
        )
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(collective["field"], "service");
}

#[tokio::test(flavor = "multi_thread")]
async fn round_robin_holds_take_one_free_provider_each_on_sqlite() {
    team_holds(&TestServer::start()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn round_robin_holds_take_one_free_provider_each_on_postgres() {
    let db = Database::create(&pg::admin_url());
    team_holds(&postgres_server(&db)).await;
}
