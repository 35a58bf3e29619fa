//! CalDAV end to end against a real CalDAV server: Radicale (from PyPI,
//! installed by `scripts/test-caldav.sh`), started and stopped by each test
//! on a free port of 127.0.0.1 with a temporary storage folder and plain
//! htpasswd accounts, and checked with an independent client (the Python
//! `caldav` library, `tests/caldav_client.py`).
//!
//! Without Radicale these tests are listed as ignored, unless `CI` or
//! `BOOKING_REQUIRE_CALDAV` is set: then they fail (tests/build.rs).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use booking_tests::{Api, TestServer, add_days, future_monday, ny, sqlite_url};
use serde_json::{Value, json};

const USER: &str = "ada";
const PASSWORD: &str = "s3cret-app-password";

fn python() -> String {
    std::env::var("BOOKING_TEST_CALDAV_PYTHON").unwrap_or_else(|_| {
        panic!(
            "BOOKING_TEST_CALDAV_PYTHON is not set, and the CalDAV tests must run (CI or \
             BOOKING_REQUIRE_CALDAV): run them through scripts/test-caldav.sh"
        )
    })
}

/// A Radicale server on 127.0.0.1.
struct Radicale {
    child: Option<Child>,
    port: u16,
    storage: tempfile::TempDir,
}

impl Radicale {
    /// Starts Radicale on a free port.
    fn start() -> Radicale {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut radicale = Radicale {
            child: None,
            port,
            storage: tempfile::tempdir().unwrap(),
        };
        radicale.run();
        radicale
    }

    /// Starts (again) on the same port and storage.
    fn run(&mut self) {
        let users = self.storage.path().join("users");
        std::fs::write(&users, format!("{USER}:{PASSWORD}\n")).unwrap();
        let collections = self.storage.path().join("collections");
        let child = Command::new(python())
            .args(["-m", "radicale", "--config", ""])
            .arg("--server-hosts")
            .arg(format!("127.0.0.1:{}", self.port))
            .args([
                "--auth-type",
                "htpasswd",
                "--auth-htpasswd-encryption",
                "plain",
            ])
            .arg("--auth-htpasswd-filename")
            .arg(&users)
            .arg("--storage-filesystem-folder")
            .arg(&collections)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start radicale");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "radicale did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it (the storage stays).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Makes calendar `name` of the account; answers its URL.
    fn make_calendar(&self, name: &str) -> String {
        client(&["make", &self.base_url(), USER, PASSWORD, name])
            .trim()
            .to_owned()
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the Python client; answers what it printed.
fn client(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("caldav_client.py");
    let out = Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .expect("run the caldav client");
    assert!(
        out.status.success(),
        "caldav client {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The calendar's events, as the client reads them.
fn events(calendar: &str) -> Vec<Value> {
    client(&["list", calendar, USER, PASSWORD])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Stores an iCalendar object with the client.
fn add_event(calendar: &str, ics: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), ics).unwrap();
    client(&[
        "add",
        calendar,
        USER,
        PASSWORD,
        &file.path().display().to_string(),
    ]);
}

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s,1s,1s,1s"),
    ]
}

async fn connect(api: &Api, prv: &str, url: &str, password: &str, write: bool) -> Value {
    api.post(
        &format!("/v1/providers/{prv}/calendars"),
        &json!({"type": "caldav", "url": url, "username": USER, "password": password,
                "write": write}),
    )
    .await
    .expect_status(201)
    .json
}

/// Waits until the calendar's events satisfy `done`.
fn wait_events(calendar: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = events(calendar);
        if done(&got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "never happened: {what}; events {got:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    no_caldav,
    ignore = "Radicale not installed: run scripts/test-caldav.sh"
)]
async fn a_recurring_event_in_radicale_blocks_its_occurrences() {
    let radicale = Radicale::start();
    let calendar = radicale.make_calendar("work");
    let monday = future_monday();
    let compact = |d: jiff::civil::Date| d.strftime("%Y%m%d").to_string();
    // Weekly on Mondays at 10:00 New York time, four times, without the
    // second; the third moved to 14:00; a transparent event and a
    // cancelled one at 16:00 that block nothing; an all-day event on the
    // Tuesday.
    let ics = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//test//EN",
        "BEGIN:VEVENT",
        "UID:weekly@example.com",
        "DTSTAMP:20260101T000000Z",
        &format!("DTSTART;TZID=America/New_York:{}T100000", compact(monday)),
        &format!("DTEND;TZID=America/New_York:{}T110000", compact(monday)),
        "RRULE:FREQ=WEEKLY;COUNT=4",
        &format!(
            "EXDATE;TZID=America/New_York:{}T100000",
            compact(add_days(monday, 7))
        ),
        "SUMMARY:Standup",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:weekly@example.com",
        "DTSTAMP:20260101T000000Z",
        &format!(
            "RECURRENCE-ID;TZID=America/New_York:{}T100000",
            compact(add_days(monday, 14))
        ),
        &format!(
            "DTSTART;TZID=America/New_York:{}T140000",
            compact(add_days(monday, 14))
        ),
        &format!(
            "DTEND;TZID=America/New_York:{}T150000",
            compact(add_days(monday, 14))
        ),
        "SUMMARY:Standup (moved)",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    .join("\r\n");
    add_event(&calendar, &ics);
    for (uid, extra) in [
        ("free@example.com", "TRANSP:TRANSPARENT"),
        ("gone@example.com", "STATUS:CANCELLED"),
    ] {
        add_event(
            &calendar,
            &[
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                "PRODID:-//test//EN",
                "BEGIN:VEVENT",
                &format!("UID:{uid}"),
                "DTSTAMP:20260101T000000Z",
                &format!("DTSTART;TZID=America/New_York:{}T160000", compact(monday)),
                &format!("DTEND;TZID=America/New_York:{}T170000", compact(monday)),
                extra,
                "END:VEVENT",
                "END:VCALENDAR",
                "",
            ]
            .join("\r\n"),
        );
    }
    add_event(
        &calendar,
        &[
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//test//EN",
            "BEGIN:VEVENT",
            "UID:allday@example.com",
            "DTSTAMP:20260101T000000Z",
            &format!("DTSTART;VALUE=DATE:{}", compact(add_days(monday, 1))),
            &format!("DTEND;VALUE=DATE:{}", compact(add_days(monday, 2))),
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
        .join("\r\n"),
    );

    let server = TestServer::start_with(&env());
    let api = server.api("acme");
    api.create_seed_service().await;
    let prv = api.provider_id().await;
    let conn = connect(&api, &prv, &calendar, PASSWORD, false).await;
    assert_eq!(conn["type"], "caldav");
    assert!(
        !api.get(&format!("/v1/providers/{prv}/calendars"))
            .await
            .text()
            .contains(PASSWORD)
    );
    let synced = api
        .post_empty("/v1/calendar/sync")
        .await
        .expect_status(200)
        .json;
    assert_eq!(synced["data"][0]["status"], "synced", "{synced}");
    let slots = |from: jiff::civil::Date, to: jiff::civil::Date| {
        let api = &api;
        async move {
            api.slot_starts("srv_consultation", &from.to_string(), &to.to_string())
                .await
        }
    };
    let free = slots(monday, add_days(monday, 21)).await;
    let has = |d: jiff::civil::Date, h: i8| free.contains(&ny(d, h, 0));
    assert!(!has(monday, 10), "the first occurrence blocks 10:00");
    assert!(has(monday, 9) && has(monday, 11));
    assert!(has(add_days(monday, 7), 10), "EXDATE frees the second");
    assert!(
        has(add_days(monday, 14), 10),
        "the third moved away from 10:00"
    );
    assert!(!has(add_days(monday, 14), 14), "... to 14:00");
    assert!(!has(add_days(monday, 21), 10), "the fourth blocks");
    assert!(
        has(monday, 16),
        "transparent and cancelled events block nothing"
    );
    assert!(
        !free
            .iter()
            .any(|s| s.starts_with(&add_days(monday, 1).to_string())),
        "the all-day event blocks the Tuesday"
    );

    // A wrong password: a clear error, and the last good blocks stay.
    connect(&api, &prv, &calendar, "wrong", false).await;
    let synced = api
        .post_empty("/v1/calendar/sync")
        .await
        .expect_status(200)
        .json;
    let failed = &synced["data"][1];
    assert_eq!(failed["status"], "error", "{synced}");
    assert!(
        failed["error"].as_str().unwrap().contains("401"),
        "{synced}"
    );
    // And a collection that is not there.
    let missing = format!("{}{USER}/nope/", radicale.base_url());
    connect(&api, &prv, &missing, PASSWORD, false).await;
    let synced = api
        .post_empty("/v1/calendar/sync")
        .await
        .expect_status(200)
        .json;
    assert_eq!(synced["data"][2]["status"], "error", "{synced}");
    assert!(
        synced["data"][2]["error"].as_str().unwrap().contains("404"),
        "{synced}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    no_caldav,
    ignore = "Radicale not installed: run scripts/test-caldav.sh"
)]
async fn bookings_become_one_event_each_moved_and_removed() {
    let radicale = Radicale::start();
    let calendar = radicale.make_calendar("bookings");
    let server = TestServer::start_with(&env());
    let api = server.api("acme");
    api.create_seed_service().await;
    let prv = api.provider_id().await;
    let monday = future_monday();
    // Before the connection: written by the backfill.
    let first = api.book_ok("srv_consultation", &ny(monday, 9, 0)).await;
    connect(&api, &prv, &calendar, PASSWORD, true).await;
    let second = api.book_ok("srv_consultation", &ny(monday, 11, 0)).await;
    let third = api.book_ok("srv_consultation", &ny(monday, 13, 0)).await;
    let id = |b: &Value| b["id"].as_str().unwrap().to_owned();
    wait_events(&calendar, "three events", |e| e.len() == 3);

    api.post(
        &format!("/v1/bookings/{}/reschedule", id(&second)),
        &json!({"scheduled_at": ny(monday, 15, 0)}),
    )
    .await
    .expect_status(200);
    api.post(&format!("/v1/bookings/{}/cancel", id(&third)), &json!({}))
        .await
        .expect_status(200);
    let got = wait_events(&calendar, "the move and the removal", |e| {
        e.len() == 2 && e.iter().any(|e| e["start"] == ny(monday, 15, 0))
    });
    for (booking, start, end) in [
        (&first, ny(monday, 9, 0), ny(monday, 10, 0)),
        (&second, ny(monday, 15, 0), ny(monday, 16, 0)),
    ] {
        let matching: Vec<&Value> = got
            .iter()
            .filter(|e| e["uid"] == format!("{}@booking-api", id(booking)))
            .collect();
        assert_eq!(matching.len(), 1, "one event per booking: {got:?}");
        let event = matching[0];
        assert_eq!(event["resource"], format!("{}.ics", id(booking)));
        assert_eq!(event["start"], start);
        assert_eq!(event["end"], end);
        assert_eq!(event["status"], "TENTATIVE");
    }
    let c = &api
        .get(&format!("/v1/providers/{prv}/calendars"))
        .await
        .json["data"][0];
    assert_eq!(c["last_write_error"], Value::Null, "{c}");
    // Our own events are not read back as busy time.
    let synced = api
        .post_empty("/v1/calendar/sync")
        .await
        .expect_status(200)
        .json;
    assert_eq!(synced["data"][0]["status"], "synced", "{synced}");
    assert_eq!(synced["data"][0]["busy_blocks"], 0, "{synced}");
    api.post(
        &format!("/v1/bookings/{}/reschedule", id(&first)),
        &json!({"scheduled_at": ny(monday, 9, 30)}),
    )
    .await
    .expect_status(200);
    wait_events(&calendar, "the overlapping move", |e| {
        e.iter().any(|e| e["start"] == ny(monday, 9, 30))
    });
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    no_caldav,
    ignore = "Radicale not installed: run scripts/test-caldav.sh"
)]
async fn a_write_interrupted_by_a_crash_arrives_once() {
    let mut radicale = Radicale::start();
    let calendar = radicale.make_calendar("crash");
    let data = tempfile::tempdir().unwrap();
    let url = sqlite_url(data.path(), "booking.db");
    let mut server = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &env());
    let api = server.api("acme");
    api.create_seed_service().await;
    let prv = api.provider_id().await;
    connect(&api, &prv, &calendar, PASSWORD, true).await;
    let monday = future_monday();

    // The calendar is unreachable when the booking is made: the write
    // fails (and is retried) until the server is killed.
    radicale.stop();
    let booking = api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = &api
            .get(&format!("/v1/providers/{prv}/calendars"))
            .await
            .json["data"][0];
        if c["last_write_error"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "the write never failed: {c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill();

    radicale.run();
    assert!(events(&calendar).is_empty());
    let restarted = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &env());
    let again = restarted.api_with_key(&api.key, &api.key_id);
    let got = wait_events(&calendar, "the event after the restart", |e| !e.is_empty());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["uid"], format!("{id}@booking-api"));
    assert_eq!(got[0]["start"], ny(monday, 10, 0));
    // Later rounds change nothing: still one event.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(events(&calendar).len(), 1);
    let c = &again
        .get(&format!("/v1/providers/{prv}/calendars"))
        .await
        .json["data"][0];
    assert_eq!(c["last_write_error"], Value::Null, "{c}");
}
