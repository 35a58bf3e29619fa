//! Outbox delivery benchmark, webhooks and calendar writes (not a test;
//! part of `make bench`): the real release `booking-api` binary, a local
//! receiver on 127.0.0.1 (the test receiver of `tests/receiver.rs`, or a
//! CalDAV calendar on `tests/fake.rs`) and an open-loop load generator, all
//! but the server in this process. Everything runs on one machine and
//! shares its cores.
//!
//! 1. **Latency**: one endpoint subscribed to `booking.created`; bookings
//!    fired on a fixed schedule (default 200/s for 10 s, never waiting for
//!    an answer before the next request); for each booking, the time from
//!    the client holding its whole `201` to its webhook arriving at the
//!    receiver. Targets: p50 < 20 ms, p99 < 100 ms.
//! 2. **Throughput**: 16 endpoints subscribed to every event of an
//!    `auto_confirm` service (created + confirmed: 32 deliveries per
//!    booking), bookings at a steady rate for increasing delivery demands
//!    (1,200, 2,400, 3,600, 4,800/s by default, 5 s each) until the server
//!    no longer keeps up. Measured: deliveries/s arriving in the steady state
//!    (the last three quarters of the stage), the backlog (queued −
//!    delivered) at the start and the end of that window, how fast what is
//!    left drains once bookings stop, and how many connections the server
//!    opened to the receiver. Target: at least 1,000 deliveries/s.
//! 3. **Calendar write-back** (issue 17): bookings on a fixed schedule
//!    (default 1,000/s for 5 s per run) to 8 providers without, then to 8
//!    with a write-back CalDAV connection each (to a local calendar), then
//!    the other way round (plain, written, written, plain). Measured per run:
//!    the `POST`'s latency at the client, the server's CPU time per booking
//!    (from `/proc`), and for the written runs the time from the `201` to
//!    the event's `PUT` arriving at the calendar, events missing after the
//!    drain, and repeated `PUT`s. What it shows: at a load the machine
//!    carries, a booking's answer does not wait for its calendar write;
//!    the write's cost is the CPU column (at saturation, that CPU is taken
//!    from creation: `scripts/bench-sqlite.sh` and `scripts/bench-http.sh`
//!    measure that).
//!
//! Runs on SQLite, and on Postgres when `TEST_DATABASE_URL` names an admin
//! connection (`scripts/test-postgres.sh` provides one; every scenario gets
//! a throw-away database). Positional arguments select stores:
//! `cargo bench -p booking-tests --bench webhooks -- sqlite`. Without
//! `--bench` among its arguments (`cargo test --all-targets` runs it so) it
//! returns at once.
//!
//! Tuning through the environment: `WEBHOOK_BENCH_RATE` (bookings/s of the
//! latency run), `WEBHOOK_BENCH_LATENCY_SECS`, `WEBHOOK_BENCH_STAGE_SECS`,
//! `WEBHOOK_BENCH_ENDPOINTS`, `WEBHOOK_BENCH_DEMANDS` (comma-separated
//! deliveries/s), `WRITEBACK_BENCH_RATE` (bookings/s of the write-back
//! runs), `WRITEBACK_BENCH_SECS`, `WRITEBACK_BENCH_PROVIDERS` (providers of
//! each kind the runs' bookings go to in turn, default 8). Positional arguments may also name
//! scenarios (`latency`, `throughput`, `writeback`): `cargo bench -p
//! booking-tests --bench webhooks -- sqlite writeback`. The server binary is `target/release/booking-api` (or
//! `$BOOKING_API_BIN`): build it first with
//! `cargo build --release -p booking-server --bin booking-api`.

// A benchmark driver: a failed expectation aborts the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use booking_tests::receiver::Receiver;
use booking_tests::{Api, TestServer, booking_body, fmt_utc, pg};
use reqwest::Method;
use serde_json::{Value, json};

/// Every server of the benchmark: deliveries to 127.0.0.1 allowed, no rate
/// limit on bookings that matters.
const SERVER_ENV: &[(&str, &str)] = &[
    ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("BOOKING_RATE_BOOKINGS", "1000000/second"),
];

/// The service every booking goes to: 15-minute slots around the clock.
const SERVICE: &str = "srv_quick";

/// How long to wait for deliveries still owed after the load stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

struct Settings {
    rate: f64,
    latency_secs: f64,
    stage_secs: f64,
    endpoints: usize,
    demands: Vec<f64>,
    writeback_rate: f64,
    writeback_secs: f64,
    writeback_providers: usize,
}

impl Settings {
    fn from_env() -> Settings {
        fn num(name: &str, default: f64) -> f64 {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{name} must be a number"))
                })
                .unwrap_or(default)
        }
        let demands = std::env::var("WEBHOOK_BENCH_DEMANDS")
            .unwrap_or_else(|_| "1200,2400,3600,4800".to_owned())
            .split(',')
            .map(|d| d.trim().parse().expect("WEBHOOK_BENCH_DEMANDS: numbers"))
            .collect();
        Settings {
            rate: num("WEBHOOK_BENCH_RATE", 200.0),
            latency_secs: num("WEBHOOK_BENCH_LATENCY_SECS", 10.0),
            stage_secs: num("WEBHOOK_BENCH_STAGE_SECS", 5.0),
            endpoints: num("WEBHOOK_BENCH_ENDPOINTS", 16.0) as usize,
            demands,
            writeback_rate: num("WRITEBACK_BENCH_RATE", 1000.0),
            writeback_secs: num("WRITEBACK_BENCH_SECS", 5.0),
            writeback_providers: num("WRITEBACK_BENCH_PROVIDERS", 8.0) as usize,
        }
    }
}

/// Where the server keeps its data.
enum Store {
    Sqlite,
    /// The admin URL throw-away databases are created with.
    Postgres(String),
}

impl Store {
    fn name(&self) -> &'static str {
        match self {
            Store::Sqlite => "SQLite",
            Store::Postgres(_) => "Postgres",
        }
    }
}

/// A running server and, on Postgres, its database (dropped after it).
struct Backend {
    server: TestServer,
    db: Option<pg::Database>,
}

impl Backend {
    /// On Postgres, `VACUUM ANALYZE` (as `scripts/bench-http.sh` runs
    /// before each measured run): every run starts from statistics for the
    /// tables as the warm-up left them, so every cached plan is made again
    /// from them. Before the store analyzed its young tables itself
    /// (`postgres/statistics.rs`, every 5 s), a plan cached while a table
    /// was nearly empty stayed in use while the run grew the table: the
    /// foreign key check of each event on its booking scanned every booking
    /// of the account. The store's task now catches up within seconds;
    /// this keeps the runs' starting state the same.
    fn settle(&self) {
        if let Some(db) = &self.db {
            pg::sql(&db.url, "VACUUM ANALYZE");
        }
    }
}

fn start(store: &Store) -> Backend {
    match store {
        Store::Sqlite => Backend {
            server: TestServer::start_with(SERVER_ENV),
            db: None,
        },
        Store::Postgres(admin) => {
            let db = pg::Database::create(admin);
            let server = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), SERVER_ENV);
            Backend {
                server,
                db: Some(db),
            }
        }
    }
}

async fn create_service(api: &Api, auto_confirm: bool) {
    api.create_service(&json!({
        "id": SERVICE, "name": "Quick", "duration": 15, "auto_confirm": auto_confirm,
        "price": {"amount": 10, "currency": "EUR", "type": "flat"},
        "availability": {
            "days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
            "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
        }
    }))
    .await;
}

async fn endpoint(api: &Api, url: &str, events: Option<&[&str]>) {
    let mut body = json!({"url": url});
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    api.post("/v1/webhooks", &body).await.expect_status(201);
}

/// The `i`-th 15-minute slot from tomorrow (UTC): every booking gets its own.
fn quarter(first: i64, i: usize) -> String {
    let start = first + 900 * i64::try_from(i).unwrap();
    fmt_utc(jiff::Timestamp::from_second(start).unwrap())
}

fn tomorrow_quarter() -> i64 {
    let t = jiff::Timestamp::now().as_second() + 24 * 3600;
    t - t.rem_euclid(900) + 900
}

/// One booking the server accepted.
struct Booked {
    id: String,
    /// When the request was sent.
    sent: Instant,
    /// When the client held the whole `201` answer.
    done: Instant,
}

/// What an open-loop run produced.
struct Fired {
    booked: Vec<Booked>,
    failed: HashMap<String, usize>,
    /// When the first request was due.
    started: Instant,
    /// How late the generator was, at worst, on its schedule.
    max_lag: Duration,
}

/// Fires `rate × secs` bookings on a fixed schedule (open loop: never waits
/// for an answer before sending the next) to `services` in turn, slots `first_slot..`; counts 201s
/// in `ok` as they come.
async fn fire(
    api: &Api,
    services: &[&str],
    slot0: i64,
    first_slot: usize,
    rate: f64,
    secs: f64,
    ok: Arc<AtomicUsize>,
) -> Fired {
    let n = (rate * secs).round() as usize;
    let period = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now() + Duration::from_millis(10);
    let mut max_lag = Duration::ZERO;
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let due = started + period.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        max_lag = max_lag.max(due.elapsed());
        let api = api.clone();
        let ok = Arc::clone(&ok);
        let body = booking_body(
            services[i % services.len()],
            &quarter(slot0, first_slot + i),
        );
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let res = api
                .request(Method::POST, "/v1/bookings")
                .json(&body)
                .send()
                .await;
            let res = match res {
                Ok(res) => res,
                Err(e) => return Err(format!("{}", e.without_url())),
            };
            let status = res.status().as_u16();
            let bytes = res.bytes().await;
            let done = Instant::now();
            match bytes {
                Ok(bytes) if status == 201 => {
                    ok.fetch_add(1, Ordering::Relaxed);
                    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    let id = json["id"].as_str().unwrap_or_default().to_owned();
                    Ok(Booked { id, sent, done })
                }
                Ok(bytes) => Err(format!(
                    "{status} {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
                )),
                Err(e) => Err(format!("{status}, body: {}", e.without_url())),
            }
        }));
    }
    let mut booked = Vec::with_capacity(n);
    let mut failed = HashMap::new();
    for task in tasks {
        match task.await.expect("booking task") {
            Ok(b) => booked.push(b),
            Err(e) => *failed.entry(e).or_insert(0) += 1,
        }
    }
    Fired {
        booked,
        failed,
        started,
        max_lag,
    }
}

/// Waits until the receiver holds `n` requests; false after `timeout`.
async fn wait_count(receiver: &Receiver, n: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while receiver.count() < n {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// The nearest-rank percentile of sorted values.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn failures(failed: &HashMap<String, usize>) -> String {
    if failed.is_empty() {
        return String::new();
    }
    let list: Vec<String> = failed.iter().map(|(e, n)| format!("{n}× {e}")).collect();
    format!(" (failed: {})", list.join("; "))
}

/// The value of a metric line (`name` with its labels exactly) on /metrics.
async fn metric(server: &TestServer, name: &str) -> Option<f64> {
    let text = server
        .client()
        .get(server.url("/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

// ------------------------------------------------------------------ latency

struct Latency {
    store: &'static str,
    rate: f64,
    secs: f64,
    booked: usize,
    achieved: f64,
    failed: String,
    post_p50: Duration,
    post_p99: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
    before_201: usize,
    missing: usize,
    max_lag: Duration,
}

async fn latency(store: &Store, s: &Settings) -> Latency {
    let receiver = Receiver::start().await;
    let backend = start(store);
    let api = backend.server.api("bench");
    create_service(&api, false).await;
    endpoint(&api, &receiver.url("/latency"), Some(&["booking.created"])).await;
    let slot0 = tomorrow_quarter();
    let ok = Arc::new(AtomicUsize::new(0));

    // Warm-up (connections, caches, the SQLite file): not measured.
    let warm = fire(&api, &[SERVICE], slot0, 0, s.rate, 0.5, Arc::clone(&ok)).await;
    wait_count(&receiver, warm.booked.len(), DRAIN_TIMEOUT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    receiver.take();
    backend.settle();

    let first = warm.booked.len() + warm.failed.values().sum::<usize>();
    let run = fire(&api, &[SERVICE], slot0, first, s.rate, s.latency_secs, ok).await;
    let finished = run.booked.iter().map(|b| b.done).max();
    wait_count(&receiver, run.booked.len(), DRAIN_TIMEOUT).await;
    let got = receiver.take();

    let mut arrivals: HashMap<String, Instant> = HashMap::new();
    for r in &got {
        let id = r.json()["data"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let at = arrivals.entry(id).or_insert(r.at);
        *at = (*at).min(r.at);
    }
    let mut lat = Vec::new();
    let mut post = Vec::new();
    let mut before_201 = 0;
    let mut missing = 0;
    for b in &run.booked {
        post.push(b.done - b.sent);
        match arrivals.get(&b.id) {
            Some(at) => {
                if *at < b.done {
                    before_201 += 1;
                }
                lat.push(at.saturating_duration_since(b.done));
            }
            None => missing += 1,
        }
    }
    lat.sort();
    post.sort();
    let span = finished.map_or(f64::INFINITY, |f| (f - run.started).as_secs_f64());
    Latency {
        store: store.name(),
        rate: s.rate,
        secs: s.latency_secs,
        booked: run.booked.len(),
        achieved: run.booked.len() as f64 / span,
        failed: failures(&run.failed),
        post_p50: pct(&post, 50.0),
        post_p99: pct(&post, 99.0),
        p50: pct(&lat, 50.0),
        p99: pct(&lat, 99.0),
        max: lat.last().copied().unwrap_or_default(),
        before_201,
        missing,
        max_lag: run.max_lag,
    }
}

// --------------------------------------------------------------- throughput

struct Stage {
    store: &'static str,
    target: f64,
    bookings_per_s: f64,
    demand: f64,
    delivered: f64,
    backlog_from: i64,
    backlog_to: i64,
    queue_depth: Option<f64>,
    drain: Option<Duration>,
    drain_rate: Option<f64>,
    duplicates: usize,
    /// Connections the server opened to the receiver during the stage.
    connections: usize,
    failed: String,
    kept_up: bool,
}

/// One sample: (when, 201s so far, deliveries received so far).
type Sample = (Instant, usize, usize);

async fn throughput(store: &Store, s: &Settings) -> Vec<Stage> {
    let receiver = Arc::new(Receiver::start().await);
    let backend = start(store);
    let api = backend.server.api("bench");
    create_service(&api, true).await;
    for k in 0..s.endpoints {
        endpoint(&api, &receiver.url(&format!("/e{k}")), None).await;
    }
    let per_booking = 2 * s.endpoints;
    let slot0 = tomorrow_quarter();
    let mut slot = 0;

    // Warm-up: opens the server's connections to the receiver.
    let warm = fire(
        &api,
        &[SERVICE],
        slot0,
        slot,
        20.0,
        0.5,
        Arc::new(AtomicUsize::new(0)),
    )
    .await;
    slot += 10;
    wait_count(&receiver, warm.booked.len() * per_booking, DRAIN_TIMEOUT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    receiver.take();
    backend.settle();

    let mut stages = Vec::new();
    for &target in &s.demands {
        let rate = target / per_booking as f64;
        let ok = Arc::new(AtomicUsize::new(0));
        let connections = receiver.connections();
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (ok, stop) = (Arc::clone(&ok), Arc::clone(&stop));
            let receiver = Arc::clone(&receiver);
            tokio::spawn(async move {
                let mut samples: Vec<Sample> = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    samples.push((Instant::now(), ok.load(Ordering::Relaxed), receiver.count()));
                }
                samples
            })
        };
        let run = fire(
            &api,
            &[SERVICE],
            slot0,
            slot,
            rate,
            s.stage_secs,
            Arc::clone(&ok),
        )
        .await;
        slot += run.booked.len() + run.failed.values().sum::<usize>();
        let queue_depth = metric(&backend.server, "webhook_queue_depth").await;
        let expected = run.booked.len() * per_booking;
        let backlog_after = expected.saturating_sub(receiver.count());
        let drain_from = Instant::now();
        let drained = wait_count(&receiver, expected, DRAIN_TIMEOUT).await;
        let drain = drained.then(|| drain_from.elapsed());
        stop.store(true, Ordering::Relaxed);
        let samples = sampler.await.expect("sampler");

        // Steady state: from a quarter into the stage to its scheduled end.
        let from = run.started + Duration::from_secs_f64(s.stage_secs / 4.0);
        let to = run.started + Duration::from_secs_f64(s.stage_secs);
        let at = |t: Instant| -> Sample {
            samples
                .iter()
                .copied()
                .rfind(|x| x.0 <= t)
                .unwrap_or((run.started, 0, 0))
        };
        let (t0, ok0, got0) = at(from);
        let (t1, ok1, got1) = at(to);
        let dt = (t1 - t0).as_secs_f64().max(1e-3);
        let backlog = |ok: usize, got: usize| (ok * per_booking) as i64 - got as i64;
        let got = receiver.take();
        // An event goes to every endpoint with the same webhook-id: a
        // duplicate is the same (endpoint path, webhook-id) twice.
        let ids: HashSet<(&str, &str)> = got
            .iter()
            .map(|r| (r.path.as_str(), r.header("webhook-id")))
            .collect();
        let kept_up = backlog(ok1, got1) <= (target * 0.25) as i64 && drained;
        stages.push(Stage {
            store: store.name(),
            target,
            bookings_per_s: (ok1 - ok0) as f64 / dt,
            demand: ((ok1 - ok0) * per_booking) as f64 / dt,
            delivered: (got1 - got0) as f64 / dt,
            backlog_from: backlog(ok0, got0),
            backlog_to: backlog(ok1, got1),
            queue_depth,
            drain,
            drain_rate: drain
                .filter(|_| backlog_after >= 500)
                .map(|d| backlog_after as f64 / d.as_secs_f64()),
            duplicates: got.len() - ids.len(),
            connections: receiver.connections() - connections,
            failed: failures(&run.failed),
            kept_up,
        });
        let last = stages.last().unwrap();
        eprintln!(
            "  demand {:.0}/s: {:.0} delivered/s, backlog {} -> {}, {}",
            last.demand,
            last.delivered,
            last.backlog_from,
            last.backlog_to,
            if last.kept_up { "kept up" } else { "saturated" }
        );
        if !kept_up {
            break;
        }
    }
    stages
}

// --------------------------------------------------------------- write-back

/// One run of the write-back comparison.
struct WriteRun {
    store: &'static str,
    /// Whether the booked provider has a write-back connection.
    written: bool,
    rate: f64,
    secs: f64,
    booked: usize,
    failed: String,
    post_p50: Duration,
    post_p99: Duration,
    post_max: Duration,
    /// The server's CPU time per booking over the run (µs), from /proc.
    cpu_per_booking: Option<f64>,
    /// Booking 201 → its event's first `PUT` at the calendar (written runs).
    event_p50: Duration,
    event_p99: Duration,
    event_max: Duration,
    missing: usize,
    /// `PUT`s of the run's events beyond the first of each.
    extra_puts: usize,
    max_lag: Duration,
}

/// The CalDAV calendar the written provider's connection writes into: every
/// `PUT` answered 201 with an ETag and kept (path and arrival); a `REPORT`
/// (the connection's busy-time read) answered with an empty multistatus.
struct CalendarSink {
    server: booking_tests::fake::FakeServer,
    puts: Arc<std::sync::Mutex<Vec<(String, Instant)>>>,
}

impl CalendarSink {
    async fn start() -> CalendarSink {
        use booking_tests::fake::{FakeServer, Response};
        let puts: Arc<std::sync::Mutex<Vec<(String, Instant)>>> = Arc::default();
        let kept = Arc::clone(&puts);
        let server = FakeServer::start(move |r| match r.method.as_str() {
            "PUT" => {
                let mut puts = kept.lock().unwrap();
                puts.push((r.path.clone(), r.at));
                Response::status(201).with_header("etag", &format!("\"{}\"", puts.len()))
            }
            "REPORT" => Response {
                status: 207,
                headers: vec![("content-type".into(), "application/xml".into())],
                body: br#"<?xml version="1.0"?><multistatus xmlns="DAV:"/>"#.to_vec(),
            },
            "DELETE" => Response::status(204),
            _ => Response::status(404),
        })
        .await;
        CalendarSink { server, puts }
    }

    /// Each booking's first `PUT` (its event's resource is `{id}.ics`)
    /// and how many `PUT`s it had.
    fn arrivals(&self) -> HashMap<String, (Instant, usize)> {
        let puts = self.puts.lock().unwrap();
        let mut first: HashMap<String, (Instant, usize)> = HashMap::new();
        for (path, at) in puts.iter() {
            let id = path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .trim_end_matches(".ics")
                .to_owned();
            let seen = first.entry(id).or_insert((*at, 0));
            seen.0 = seen.0.min(*at);
            seen.1 += 1;
        }
        first
    }

    fn count(&self) -> usize {
        self.puts.lock().unwrap().len()
    }
}

/// The server's CPU time so far (user + system), from /proc (Linux).
fn server_cpu(server: &TestServer) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.pid())).ok()?;
    // Fields after the command (which may hold spaces) start at `) `.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(100);
    Some(Duration::from_secs_f64(ticks as f64 / hz as f64))
}

/// Booking creation at a fixed rate (open loop) on one server, to
/// providers without and to providers with a write-back (CalDAV)
/// connection each, in the order plain, written, written, plain (so a drift of the machine
/// weighs on both alike): what a booking's `POST` costs the client with and
/// without its calendar write queued, and how long after its `201` the
/// event reaches the calendar.
async fn writeback(store: &Store, s: &Settings) -> Vec<WriteRun> {
    let sink = CalendarSink::start().await;
    let backend = start(store);
    let api = backend.server.api("bench");
    // Each run's bookings go round-robin to `providers` providers, each with
    // a service of its own (on Postgres one provider's bookings take turns
    // on its lock, which caps one provider's rate below the schedule's).
    let n = s.writeback_providers.max(1);
    let ids = api.create_providers(2 * n).await;
    let mut services: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for (k, provider) in ids.iter().enumerate() {
        let written = k >= n;
        let id = format!("srv_{}_{k}", if written { "written" } else { "plain" });
        api.create_service(&json!({
            "id": id, "name": id, "duration": 15, "provider_id": provider,
            "price": {"amount": 10, "currency": "EUR", "type": "flat"},
            "availability": {
                "days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
                "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
            }
        }))
        .await;
        if written {
            api.post(
                &format!("/v1/providers/{provider}/calendars"),
                &json!({"type": "caldav", "url": sink.server.url(&format!("/cal{k}/")),
                        "username": "bench", "password": "bench", "write": true}),
            )
            .await
            .expect_status(201);
        }
        services[usize::from(written)].push(id);
    }
    let services: [Vec<&str>; 2] = services
        .each_ref()
        .map(|v| v.iter().map(String::as_str).collect());
    let slot0 = tomorrow_quarter();
    let mut next_slot = [0usize, 0usize];

    // Warm-up of both (connections, caches, the SQLite file): not measured.
    for (k, services) in services.iter().enumerate() {
        let warm = fire(
            &api,
            services,
            slot0,
            0,
            s.writeback_rate,
            0.5,
            Arc::default(),
        )
        .await;
        next_slot[k] = warm.booked.len() + warm.failed.values().sum::<usize>();
    }
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while sink.count() < next_slot[1] && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut runs = Vec::new();
    for written in [false, true, true, false] {
        backend.settle();
        let k = usize::from(written);
        let puts_before = sink.count();
        let cpu_before = server_cpu(&backend.server);
        let run = fire(
            &api,
            &services[k],
            slot0,
            next_slot[k],
            s.writeback_rate,
            s.writeback_secs,
            Arc::default(),
        )
        .await;
        let cpu = match (cpu_before, server_cpu(&backend.server)) {
            (Some(a), Some(b)) if !run.booked.is_empty() => {
                Some((b - a).as_secs_f64() * 1e6 / run.booked.len() as f64)
            }
            _ => None,
        };
        next_slot[k] += run.booked.len() + run.failed.values().sum::<usize>();
        let mut post: Vec<Duration> = run.booked.iter().map(|b| b.done - b.sent).collect();
        post.sort();
        let (mut events, mut missing, mut extra_puts) = (Vec::new(), 0, 0);
        if written {
            // Every booking's event, or the drain timeout.
            let deadline = Instant::now() + DRAIN_TIMEOUT;
            while sink.count() < puts_before + run.booked.len() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let first = sink.arrivals();
            for b in &run.booked {
                match first.get(&b.id) {
                    Some((at, puts)) => {
                        events.push(at.saturating_duration_since(b.done));
                        extra_puts += puts - 1;
                    }
                    None => missing += 1,
                }
            }
            events.sort();
        }
        runs.push(WriteRun {
            store: store.name(),
            written,
            rate: s.writeback_rate,
            secs: s.writeback_secs,
            booked: run.booked.len(),
            failed: failures(&run.failed),
            post_p50: pct(&post, 50.0),
            post_p99: pct(&post, 99.0),
            post_max: post.last().copied().unwrap_or_default(),
            cpu_per_booking: cpu,
            event_p50: pct(&events, 50.0),
            event_p99: pct(&events, 99.0),
            event_max: events.last().copied().unwrap_or_default(),
            missing,
            extra_puts,
            max_lag: run.max_lag,
        });
    }
    runs
}

fn writeback_row(x: &WriteRun) -> String {
    let (event_p50, event_p99, event_max, missing) = if x.written {
        (
            format!("**{}**", ms(x.event_p50)),
            format!("**{}**", ms(x.event_p99)),
            ms(x.event_max),
            x.missing.to_string(),
        )
    } else {
        ("-".into(), "-".into(), "-".into(), "-".into())
    };
    format!(
        "| {} | {} | {:.0}/s × {:.0} s | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |{}",
        x.store,
        if x.written { "yes" } else { "no" },
        x.rate,
        x.secs,
        x.booked,
        ms(x.post_p50),
        ms(x.post_p99),
        ms(x.post_max),
        x.cpu_per_booking
            .map_or("-".to_owned(), |c| format!("{c:.0}")),
        event_p50,
        event_p99,
        event_max,
        missing,
        if x.written {
            x.extra_puts.to_string()
        } else {
            "-".into()
        },
        ms(x.max_lag),
        x.failed,
    )
}

fn stage_row(x: &Stage) -> String {
    format!(
        "| {} | {:.0} | {:.1} | {:.0} | **{:.0}** | {} → {} | {} | {} | {} | {} | {} |{}",
        x.store,
        x.target,
        x.bookings_per_s,
        x.demand,
        x.delivered,
        x.backlog_from,
        x.backlog_to,
        x.queue_depth.map_or("-".to_owned(), |d| format!("{d:.0}")),
        match (x.drain, x.drain_rate) {
            (Some(d), Some(r)) => format!("{:.1} s ({r:.0}/s)", d.as_secs_f64()),
            (Some(d), None) => format!("{:.2} s", d.as_secs_f64()),
            (None, _) => format!("> {} s", DRAIN_TIMEOUT.as_secs()),
        },
        x.duplicates,
        x.connections,
        if x.kept_up { "kept up" } else { "saturated" },
        x.failed,
    )
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // `harness = false` target without it, and a benchmark is no test: do
    // nothing then (as criterion does).
    if !std::env::args().skip(1).any(|a| a == "--bench") {
        eprintln!("webhooks bench: not run without --bench (use `make bench`)");
        return;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.to_ascii_lowercase())
        .collect();
    const STORES: [&str; 2] = ["sqlite", "postgres"];
    const SCENARIOS: [&str; 3] = ["latency", "throughput", "writeback"];
    // A kind of argument not given selects every one of its kind.
    let pick = |names: &[&str], name: &str| {
        let given: Vec<&String> = filters
            .iter()
            .filter(|f| names.contains(&f.as_str()))
            .collect();
        given.is_empty() || given.iter().any(|f| *f == name)
    };
    let wanted = |name: &str| pick(&STORES, name);
    let scenario = |name: &str| pick(&SCENARIOS, name);
    let mut stores = Vec::new();
    if wanted("sqlite") {
        stores.push(Store::Sqlite);
    }
    if wanted("postgres") {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => stores.push(Store::Postgres(url)),
            _ => eprintln!(
                "webhooks bench: Postgres skipped (set TEST_DATABASE_URL, e.g. through \
                 scripts/test-postgres.sh)"
            ),
        }
    }
    let settings = Settings::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let mut latencies = Vec::new();
        let mut stages = Vec::new();
        let mut writes = Vec::new();
        for store in &stores {
            if scenario("latency") {
                eprintln!("webhooks bench: {} latency…", store.name());
                latencies.push(latency(store, &settings).await);
            }
            if scenario("throughput") {
                eprintln!("webhooks bench: {} throughput…", store.name());
                stages.extend(throughput(store, &settings).await);
            }
            if scenario("writeback") {
                eprintln!("webhooks bench: {} calendar write-back…", store.name());
                writes.extend(writeback(store, &settings).await);
            }
        }
        println!();
        println!(
            "machine: {} cores shared by the server, its database, the load generator and the receiver",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        if !latencies.is_empty() {
        println!();
        println!(
            "## Webhook latency: booking 201 → webhook at the receiver, open loop, \
             one endpoint (booking.created)"
        );
        println!(
            "| store | schedule | 201s | 201s/s | POST p50 | POST p99 | webhook p50 | webhook p99 | max | before 201 | missing | generator lag |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for l in &latencies {
            println!(
                "| {} | {:.0}/s × {:.0} s | {} | {:.0} | {} | {} | **{}** | **{}** | {} | {} | {} | {} |{}",
                l.store,
                l.rate,
                l.secs,
                l.booked,
                l.achieved,
                ms(l.post_p50),
                ms(l.post_p99),
                ms(l.p50),
                ms(l.p99),
                ms(l.max),
                l.before_201,
                l.missing,
                ms(l.max_lag),
                l.failed,
            );
        }
        println!("targets: webhook p50 < 20 ms, p99 < 100 ms");
        }
        if !stages.is_empty() {
        println!();
        println!(
            "## Webhook throughput: {} endpoints × 2 events per booking (auto_confirm), \
             {:.0} s per stage, steady state = last 3/4 of the stage",
            settings.endpoints, settings.stage_secs
        );
        println!(
            "| store | demand target/s | bookings/s | demand/s | delivered/s | backlog (queued − delivered) | webhook_queue_depth* | drain after load (rate) | duplicates | connections opened | verdict |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for x in &stages {
            println!("{}", stage_row(x));
        }
        println!("target: >= 1,000 deliveries/s");
        println!("(* the gauge is refreshed every 5 s by the server, so it lags)");
        }
        if !writes.is_empty() {
            println!();
            println!(
                "## Calendar write-back: booking creation at a fixed rate (open loop), to a \
                 provider without and to one with a write-back CalDAV connection ({} of each, \
                 bookings to them in turn), in the \
                 order plain, written, written, plain; booking 201 → event PUT at the calendar",
                settings.writeback_providers.max(1)
            );
            println!(
                "| store | write-back | schedule | 201s | POST p50 | POST p99 | POST max | server CPU µs per booking | event p50 | event p99 | event max | missing | repeated PUTs | generator lag |"
            );
            println!(
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
            );
            for x in &writes {
                println!("{}", writeback_row(x));
            }
        }
    });
}
