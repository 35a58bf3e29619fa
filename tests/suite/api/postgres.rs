//! Several server processes on one Postgres database: conflicts, rate limits
//! and idempotency hold across them; the database going away and coming back.
//! Without `TEST_DATABASE_URL` a plain `cargo test` lists these as ignored
//! (`cfg(no_postgres)`, see `tests/build.rs`); `make test` and CI fail instead.

use std::time::{Duration, Instant};

use booking_tests::pg::{self, Database};
use booking_tests::{Api, TestServer, booking_body, future_monday};
use futures_util::future::join_all;
use serde_json::json;

/// `n` servers sharing one fresh database, and a key of `acme` for each.
fn cluster(db: &Database, n: usize, env: &[(&str, &str)]) -> (Vec<TestServer>, Vec<Api>) {
    let servers: Vec<TestServer> = (0..n)
        .map(|_| TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), env))
        .collect();
    let (key, key_id) = servers[0].key_for("acme");
    let apis = servers
        .iter()
        .map(|s| s.api_with_key(&key, &key_id))
        .collect();
    (servers, apis)
}

/// `day` at `hh:mm` UTC (the test service runs in UTC).
fn utc(day: jiff::civil::Date, hour: u32, minute: u32) -> String {
    format!("{day}T{hour:02}:{minute:02}:00Z")
}

fn around_the_clock() -> serde_json::Value {
    json!({
        "id": "srv_hour", "name": "Hour", "duration": 60,
        "price": {"amount": 100, "currency": "EUR", "type": "flat"},
        "availability": {
            "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
            "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn two_hundred_overlapping_requests_over_three_processes_make_one_booking() {
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    let (_servers, apis) = cluster(&db, 3, &[]);
    apis[0].create_service(&around_the_clock()).await;
    // Starts k minutes after 10:00 for k in 0..60: every pair of one-hour
    // bookings overlaps (all contain 10:59).
    let day = future_monday();
    let answers = join_all((0..200).map(|i| {
        let api = apis[i % 3].clone();
        let at = utc(day, 10, (i % 60) as u32);
        async move { api.book("srv_hour", &at).await }
    }))
    .await;
    let created = answers.iter().filter(|r| r.status.as_u16() == 201).count();
    assert_eq!(created, 1, "exactly one 201 across three processes");
    for res in answers.iter().filter(|r| r.status.as_u16() != 201) {
        res.expect_error(409, "BOOKING_CONFLICT");
    }
    assert_eq!(apis[2].list_all("/v1/bookings", 200).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn rate_limits_hold_across_processes() {
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    let (_servers, apis) = cluster(&db, 3, &[("BOOKING_RATE_BOOKINGS", "10/minute")]);
    apis[0].create_service(&around_the_clock()).await;
    let day = future_monday();
    for i in 0..10 {
        let at = utc(day, i as u32, 0);
        let res = apis[i % 3].book("srv_hour", &at).await;
        assert_ne!(
            res.status.as_u16(),
            429,
            "request {i} was limited: {}",
            res.text()
        );
    }
    let res = apis[10 % 3].book("srv_hour", &utc(day, 20, 0)).await;
    let details = res.expect_error(429, "RATE_LIMITED");
    assert!(details["retry_after"].as_u64().unwrap() >= 1);
    assert!(res.header("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn idempotency_keys_hold_across_processes() {
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    let (_servers, apis) = cluster(&db, 3, &[]);
    apis[0].create_service(&around_the_clock()).await;
    let body = booking_body("srv_hour", &utc(future_monday(), 12, 0));
    let first = apis[0]
        .book_idempotent("same-key", &body)
        .await
        .expect_status(201);
    for api in &apis[1..] {
        let again = api
            .book_idempotent("same-key", &body)
            .await
            .expect_status(201);
        assert_eq!(again.bytes, first.bytes, "byte-identical replay");
    }
    let other = booking_body("srv_hour", &utc(future_monday(), 14, 0));
    apis[2]
        .book_idempotent("same-key", &other)
        .await
        .expect_error(409, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(apis[1].list_all("/v1/bookings", 200).await.len(), 1);
}

async fn wait_for_status(api: &Api, path: &str, status: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let res = api.get(path).await;
        if res.status.as_u16() == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still {} after {within:?}: {}",
            res.status,
            res.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn database_outage_is_503_and_the_server_recovers_by_itself() {
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    let (servers, apis) = cluster(&db, 1, &[]);
    let api = &apis[0];
    api.create_service(&around_the_clock()).await;
    let day = future_monday();
    let accepted = api.book_ok("srv_hour", &utc(day, 9, 0)).await;

    db.set_reachable(false);
    let res = api.book("srv_hour", &utc(day, 13, 0)).await;
    res.expect_error(503, "UNAVAILABLE");
    assert!(res.header("retry-after").is_some());
    api.get("/v1/services")
        .await
        .expect_error(503, "UNAVAILABLE");
    let ready = api.get("/readyz").await;
    assert_eq!(ready.status.as_u16(), 503, "{}", ready.text());
    assert_eq!(
        api.get("/healthz").await.status.as_u16(),
        200,
        "the process itself is up"
    );

    db.set_reachable(true);
    wait_for_status(api, "/readyz", 200, Duration::from_secs(20)).await;
    api.book_ok("srv_hour", &utc(day, 15, 0)).await;
    // Nothing accepted before the outage was lost.
    let id = accepted["id"].as_str().unwrap();
    api.get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200);
    assert!(
        !servers[0].logs().contains("panicked"),
        "{}",
        servers[0].logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn a_server_started_before_the_database_waits_for_it() {
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    db.set_reachable(false);
    let url = db.url.clone();
    // Allow connections again once the server says it is retrying (or, so
    // that the failure shows the log, when it has not said so in time).
    let mut opener = None;
    let server = TestServer::start_watching(&url, tempfile::tempdir().unwrap(), &[], |logs| {
        let admin = admin.clone();
        let name = db.name.clone();
        opener = Some(std::thread::spawn(move || {
            let retrying = logs.wait_for(
                "database unreachable at start-up; retrying",
                Duration::from_secs(15),
            );
            pg::sql(
                &admin,
                &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"),
            );
            retrying
        }));
    });
    let retrying = opener.take().unwrap().join().unwrap();
    assert!(retrying, "no retry logged: {}", server.logs());
    let api = server.api("acme");
    api.get("/readyz").await.expect_status(200);
    api.create_service(&around_the_clock()).await;
}

/// Webhooks with three processes on one database: every event is delivered
/// once (the workers share the outbox with SKIP LOCKED), and when one
/// process is killed mid-delivery the others deliver what it had claimed
/// once its lease ends.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn webhook_deliveries_are_shared_and_survive_a_killed_process() {
    use booking_tests::receiver::{Answer, Receiver};
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    let receiver = Receiver::start().await;
    let env = [
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s,1s"),
        ("BOOKING_WEBHOOK_TIMEOUT", "1s"),
    ];
    let (mut servers, apis) = cluster(&db, 3, &env);
    apis[0].create_service(&around_the_clock()).await;
    let hook = apis[0]
        .post(
            "/v1/webhooks",
            &json!({"url": receiver.url("/h"), "events": ["booking.created"]}),
        )
        .await
        .expect_status(201)
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let day = future_monday();
    let mut ids = Vec::new();
    for i in 0..24 {
        let b = apis[i % 3]
            .book_ok("srv_hour", &utc(day, i as u32, 0))
            .await;
        ids.push(b["id"].as_str().unwrap().to_owned());
    }
    receiver
        .wait_for(Duration::from_secs(30), "every created event", |r| {
            r.len() >= ids.len()
        })
        .await;
    // Once the log shows every delivery settled, nothing is left to send:
    // each was attempted once and the receiver got each once.
    let log_path = format!("/v1/webhooks/{hook}/deliveries");
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log = apis[1].list_all(&log_path, 100).await;
        if log.len() == ids.len() && log.iter().all(|d| d["state"] == "succeeded") {
            break log;
        }
        assert!(Instant::now() < deadline, "not all succeeded: {log:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for d in &log {
        assert_eq!(
            d["attempts"].as_array().unwrap().len(),
            1,
            "one attempt per delivery without a crash: {d}"
        );
    }
    let got = receiver.received();
    assert_eq!(
        got.len(),
        ids.len(),
        "no duplicate deliveries without a crash"
    );
    let delivered: std::collections::BTreeSet<String> = got
        .iter()
        .map(|r| r.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered.len(), ids.len());

    // Now slow answers (beyond the timeout) while process 0 books, then kill it.
    receiver.always(Answer::status(200).after(Duration::from_secs(3)));
    let before = receiver.received().len();
    let day2 = booking_tests::add_days(day, 1);
    let mut late = Vec::new();
    for i in 0..10 {
        let b = apis[0].book_ok("srv_hour", &utc(day2, i, 0)).await;
        late.push(b["id"].as_str().unwrap().to_owned());
    }
    receiver
        .wait_count(before + 1, Duration::from_secs(10))
        .await;
    servers[0].kill();
    receiver.always(Answer::status(200));
    let mark = receiver.received().len();
    receiver
        .wait_for(
            Duration::from_secs(40),
            "the killed process's events",
            |r| {
                let after = &r[mark.min(r.len())..];
                late.iter()
                    .all(|id| after.iter().any(|x| x.json()["data"]["id"] == id.as_str()))
            },
        )
        .await;
    drop(servers);
    drop(db);
}

/// Servers cache the keys they have seen; `keys revoke` (another process)
/// still shuts a key out of every server at once, through the database's
/// notifications.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn a_revoked_key_is_refused_by_every_process_at_once() {
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    let (servers, apis) = cluster(&db, 2, &[]);
    for api in &apis {
        for _ in 0..3 {
            api.get("/v1/services").await.expect_status(200);
        }
    }
    servers[0].revoke(&apis[0].key_id);
    let revoked = Instant::now();
    for api in &apis {
        soon(revoked, "the revoked key", async || {
            api.get("/v1/services").await.status.as_u16() == 401
        })
        .await;
        api.get("/v1/services")
            .await
            .expect_error(401, "UNAUTHORIZED");
    }
}

/// Asks `done` every 10 ms until it holds; fails the test when that is 2 s
/// or more after `since`: how long another process may take to show a
/// change (`what` names the stale thing).
async fn soon(since: Instant, what: &str, mut done: impl AsyncFnMut() -> bool) {
    while !done().await {
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "{what} still stale after {:?}",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The slot starts `GET …/availability` lists for `day`.
async fn slot_starts(api: &Api, day: jiff::civil::Date) -> Vec<String> {
    let res = api
        .get(&format!(
            "/v1/services/srv_hour/availability?from={day}&to={day}"
        ))
        .await
        .expect_status(200);
    res.json["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_owned())
        .collect()
}

/// Servers cache providers' busy time; a booking or a cancellation made
/// through one shows in every other's availability within moments, and in
/// its own at once.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn availability_follows_bookings_made_through_other_processes() {
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    let (_servers, apis) = cluster(&db, 2, &[]);
    apis[0].create_service(&around_the_clock()).await;
    let day = future_monday();
    let at = utc(day, 10, 0);
    for api in &apis {
        assert!(slot_starts(api, day).await.contains(&at));
    }
    let booking = apis[0].book_ok("srv_hour", &at).await;
    assert!(
        !slot_starts(&apis[0], day).await.contains(&at),
        "the writing process sees its booking at once"
    );
    let eventually = async |api: &Api, taken: bool| {
        soon(Instant::now(), "availability", async || {
            slot_starts(api, day).await.contains(&at) != taken
        })
        .await;
    };
    eventually(&apis[1], true).await;
    let id = booking["id"].as_str().unwrap();
    apis[1]
        .post(&format!("/v1/bookings/{id}/cancel"), &json!({}))
        .await
        .expect_status(200);
    eventually(&apis[0], false).await;
}

/// Servers cache the services that availability and booking read; a change
/// or an archive made through one reaches every other within moments, and
/// its own at once.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn service_changes_reach_every_process() {
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    let (_servers, apis) = cluster(&db, 2, &[]);
    apis[0].create_service(&around_the_clock()).await;
    let day = future_monday();
    let at = utc(day, 10, 0);
    for api in &apis {
        assert!(slot_starts(api, day).await.contains(&at));
    }
    // Open from noon, changed through the second process.
    let mut afternoons = around_the_clock()["availability"].clone();
    afternoons["hours"] = json!({"start": "12:00", "end": "24:00"});
    apis[1]
        .patch(
            "/v1/services/srv_hour",
            &json!({"availability": afternoons}),
        )
        .await
        .expect_status(200);
    assert!(
        !slot_starts(&apis[1], day).await.contains(&at),
        "the writing process sees its change at once"
    );
    soon(Instant::now(), "the hours", async || {
        !slot_starts(&apis[0], day).await.contains(&at)
    })
    .await;

    // Archived through the first process.
    apis[0]
        .delete("/v1/services/srv_hour")
        .await
        .expect_status(204);
    apis[0]
        .book("srv_hour", &utc(day, 13, 0))
        .await
        .expect_status(422);
    let path = format!("/v1/services/srv_hour/availability?from={day}&to={day}");
    soon(Instant::now(), "the archived service", async || {
        apis[1].get(&path).await.status == 404
    })
    .await;
    apis[1]
        .book("srv_hour", &utc(day, 13, 0))
        .await
        .expect_status(422);
}

/// Delivery ids of an older version (`dlv_`) are renamed to the contract's
/// `whd_` by the Postgres migration, and redelivered under the new id.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn old_delivery_ids_take_the_contract_prefix_on_postgres() {
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    super::webhooks::old_delivery_ids_take_the_contract_prefix(
        || {
            TestServer::start_on(
                &db.url,
                tempfile::tempdir().unwrap(),
                &super::webhooks::DELIVERING,
            )
        },
        |statement| {
            pg::sql(&db.url, statement);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn count_limits_hold_across_processes() {
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    let (_servers, apis) = cluster(
        &db,
        2,
        &[
            ("BOOKING_MAX_WEBHOOKS", "3"),
            ("BOOKING_MAX_CALENDARS", "2"),
            ("BOOKING_CALENDAR_SYNC_INTERVAL", "1h"),
        ],
    );
    let hook = |i: usize| json!({"url": format!("https://hooks.example.com/{i}")});
    for i in 0..2 {
        apis[0]
            .post("/v1/webhooks", &hook(i))
            .await
            .expect_status(201);
    }
    // Eight creates at limit - 1, over two processes: exactly one fits.
    let bodies: Vec<_> = (0..8).map(|i| hook(10 + i)).collect();
    let answers = join_all(
        bodies
            .iter()
            .enumerate()
            .map(|(i, body)| apis[i % 2].post("/v1/webhooks", body)),
    )
    .await;
    let created = answers.iter().filter(|r| r.status.as_u16() == 201).count();
    assert_eq!(created, 1);
    for res in answers.iter().filter(|r| r.status.as_u16() != 201) {
        assert_eq!(res.expect_error(409, "LIMIT_REACHED")["limit"], 3);
    }
    let prv = apis[0].get("/v1/providers").await.json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/providers/{prv}/calendars");
    let google = json!({"type": "google", "calendar_id": "primary",
        "credentials": {"access_token": "at"}});
    apis[1].post(&path, &google).await.expect_status(201);
    let answers = join_all((0..6).map(|i| apis[i % 2].post(&path, &google))).await;
    let created = answers.iter().filter(|r| r.status.as_u16() == 201).count();
    assert_eq!(created, 1);
    for res in answers.iter().filter(|r| r.status.as_u16() != 201) {
        assert_eq!(res.expect_error(409, "LIMIT_REACHED")["limit"], 2);
    }
}

/// The server binary on `sslmode=verify-full` with the test cluster's CA
/// (`TEST_DATABASE_SSLROOTCERT`, made by `scripts/test-postgres.sh`): it
/// starts, its CLI creates a key, it takes a booking, and every session it
/// holds on its database is encrypted.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    no_postgres_tls,
    ignore = "TEST_DATABASE_URL or TEST_DATABASE_SSLROOTCERT not set: run make test"
)]
async fn a_server_on_verify_full_tls_takes_bookings() {
    let root = match std::env::var("TEST_DATABASE_SSLROOTCERT") {
        Ok(path) if !path.trim().is_empty() => path,
        _ => panic!("TEST_DATABASE_SSLROOTCERT is not set: run make test"),
    };
    let admin = pg::admin_url();
    let db = Database::create(&admin);
    let url = format!("{}?sslmode=verify-full&sslrootcert={root}", db.url);
    let server = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &[]);
    let api = server.api("acme");
    api.create_service(&around_the_clock()).await;
    let at = utc(future_monday(), 10, 0);
    let booking = api
        .post("/v1/bookings", &booking_body("srv_hour", &at))
        .await
        .expect_status(201);
    assert_eq!(booking.json["scheduled_at"], at);
    let sessions = pg::sql(
        &admin,
        &format!(
            "SELECT count(*) || ' ' || count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) WHERE a.datname = '{}'",
            db.name
        ),
    );
    let (all, encrypted) = sessions.split_once(' ').unwrap();
    assert_ne!(all, "0", "no session of the server found");
    assert_eq!(all, encrypted, "sessions: {sessions} (all, encrypted)");
}

/// A mistake in `sslmode` stops `booking-api serve` at start-up with a
/// message naming it (retrying could never help), without the password.
#[test]
fn an_unknown_sslmode_stops_the_server_at_start_up() {
    let url = "postgres://booking:hunter2-secret@127.0.0.1:9/booking?sslmode=verify";
    let mut child = booking_tests::command(url)
        .arg("serve")
        .env("BOOKING_BIND", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("booking-api serve still running 20 s after start with sslmode=verify");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("unknown sslmode `verify`"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
