//! Test support for the end-to-end suite: runs the real `booking-api` binary
//! on 127.0.0.1 with a temporary SQLite file, creates API keys with its CLI,
//! and offers a small HTTP client with the contract's error helpers.

// Test support: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub mod fake;
pub mod receiver;

/// How long the server may take to log its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How many stderr lines are kept for failure messages.
const KEPT_LOG_LINES: usize = 200;
/// The seed service's zone.
pub const NEW_YORK: &str = "America/New_York";

/// Variables of the server's configuration that must not leak in from the
/// environment of whoever runs the tests.
const CONFIG_VARS: &[&str] = &[
    "DATABASE_URL",
    "BOOKING_BIND",
    "BOOKING_PUBLIC_URL",
    "BOOKING_RATE_BOOKINGS",
    "BOOKING_RATE_CALENDAR_SYNC",
    "BOOKING_LOG",
    "BOOKING_LOG_FORMAT",
    "BOOKING_WORKERS",
    "BOOKING_WEBHOOK_RETRY_DELAYS",
    "BOOKING_WEBHOOK_TIMEOUT",
    "BOOKING_WEBHOOK_ALLOW_PRIVATE",
    "BOOKING_CALENDAR_SYNC_INTERVAL",
    "BOOKING_CALENDAR_WRITE_NICE",
    "BOOKING_CALENDAR_WRITE_DEADLINE",
    "BOOKING_COMPLETION_INTERVAL",
    "BOOKING_DB_POOL_SIZE",
    "BOOKING_FEED_KEY",
    "BOOKING_GOOGLE_API_URL",
    "BOOKING_GOOGLE_TOKEN_URL",
    "BOOKING_GRAPH_API_URL",
    "BOOKING_MICROSOFT_TOKEN_URL",
    "BOOKING_CALENDLY_API_URL",
    "BOOKING_REQUEST_TIMEOUT",
    "BOOKING_TRUSTED_PROXIES",
    "BOOKING_MAX_WEBHOOKS",
    "BOOKING_MAX_CALENDARS",
    "BOOKING_SECRET_KEY",
    "BOOKING_SECRET_KEY_PREVIOUS",
    "BOOKING_SECRET_KEY_NEW",
];

/// The `BOOKING_SECRET_KEY` every test server and CLI run on Postgres gets
/// (Postgres requires one; on SQLite the server makes its key file). A test
/// that wants another key sets it in its own environment, which wins.
pub const TEST_SECRET_KEY: &str = "dGVzdCBrZXk6IGJvb2tpbmctYXBpIGUyZSBzdWl0ZSE=";

/// [`TEST_SECRET_KEY`] as the store's key ring, for store-level tests.
pub fn test_keyring() -> booking_store::secrets::Keyring {
    booking_store::secrets::Keyring::new(
        booking_store::secrets::SecretKey::from_base64(TEST_SECRET_KEY).expect("a valid test key"),
    )
}

/// The `booking-api` binary: `$BOOKING_API_BIN`, else `target/<profile>/booking-api`
/// next to the `deps/` directory holding the running test executable.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BOOKING_API_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "BOOKING_API_BIN={} does not exist",
            path.display()
        );
        return path;
    }
    let exe = std::env::current_exe().expect("current test executable");
    let deps = exe.parent().expect("test executable directory");
    let dir = if deps.ends_with("deps") {
        deps.parent().expect("target profile directory")
    } else {
        deps
    };
    let path = dir.join(format!("booking-api{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the server binary {} is missing: run `cargo build -p booking-server` first \
         (the Makefile does), or set BOOKING_API_BIN",
        path.display()
    );
    path
}

/// A `Command` for the binary with a clean configuration and the given database.
pub fn command(database_url: &str) -> Command {
    let mut cmd = Command::new(binary());
    for var in CONFIG_VARS {
        cmd.env_remove(var);
    }
    cmd.env("DATABASE_URL", database_url)
        .env("BOOKING_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    if database_url.starts_with("postgres") {
        cmd.env("BOOKING_SECRET_KEY", TEST_SECRET_KEY);
    }
    cmd
}

/// Runs a CLI command of the binary to completion.
pub fn run_cli(database_url: &str, args: &[&str]) -> Output {
    command(database_url)
        .args(args)
        .output()
        .expect("run booking-api")
}

/// Starts `serve` on `database_url` with `env` and expects it to fail
/// before listening: its stderr. Panics if it listens (or runs on) instead.
pub fn serve_fails(database_url: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = command(database_url);
    cmd.arg("serve")
        .env("BOOKING_BIND", "127.0.0.1:0")
        .env("BOOKING_LOG", "warn,booking_api=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn booking-api serve");
    let deadline = Instant::now() + START_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap booking-api");
            panic!(
                "booking-api kept running; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().expect("read stderr");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!status.success(), "serve exited successfully: {stderr}");
    assert!(
        !stderr.contains("listening on"),
        "the server listened before failing: {stderr}"
    );
    stderr
}

/// One running server with its own temporary database.
pub struct TestServer {
    child: Child,
    exit: Option<ExitStatus>,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// `sqlite://<tempdir>/booking.db`, or the Postgres URL it runs on.
    pub database_url: String,
    logs: Arc<Mutex<VecDeque<String>>>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with the test defaults.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// Starts a server; `env` overrides the defaults
    /// (`BOOKING_RATE_BOOKINGS=10000/minute`, `BOOKING_WORKERS=2`, `BOOKING_LOG=warn,…`).
    pub fn start_with(env: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = format!("sqlite://{}", dir.path().join("booking.db").display());
        TestServer::start_on(&database_url, dir, env)
    }

    /// Starts a server on the given database (several servers may share one);
    /// `dir` is kept alive as long as the server.
    pub fn start_on(
        database_url: &str,
        dir: tempfile::TempDir,
        env: &[(&str, &str)],
    ) -> TestServer {
        TestServer::start_watching(database_url, dir, env, |_| {})
    }

    /// [`TestServer::start_on`], handing the server's log to `watch` as soon
    /// as the process is spawned, before it listens: for tests that act on
    /// what it logs while starting (see [`ServerLogs::wait_for`]).
    pub fn start_watching(
        database_url: &str,
        dir: tempfile::TempDir,
        env: &[(&str, &str)],
        watch: impl FnOnce(ServerLogs),
    ) -> TestServer {
        let database_url = database_url.to_owned();
        let mut cmd = command(&database_url);
        cmd.arg("serve")
            .env("BOOKING_BIND", "127.0.0.1:0")
            .env("BOOKING_RATE_BOOKINGS", "10000/minute")
            .env("BOOKING_WORKERS", "2")
            // The listening line is logged at info by the server binary.
            .env("BOOKING_LOG", "warn,booking_api=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn booking-api serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let logs = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel::<String>();
        {
            let logs = logs.clone();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = listening_addr(&line)
                        && let Some(tx) = tx.take()
                    {
                        let _ = tx.send(addr);
                    }
                    let mut logs = logs.lock().unwrap();
                    if logs.len() == KEPT_LOG_LINES {
                        logs.pop_front();
                    }
                    logs.push_back(line);
                }
            });
        }
        watch(ServerLogs(logs.clone()));
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => break addr,
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Ok(Some(status)) = child.try_wait() {
                        std::thread::sleep(Duration::from_millis(100)); // let the reader drain
                        panic!(
                            "booking-api exited with {status} before listening; stderr:\n{}",
                            joined(&logs)
                        );
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "booking-api did not log `listening on http://…` within {START_TIMEOUT:?}; stderr:\n{}",
                        joined(&logs)
                    );
                }
            }
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client");
        TestServer {
            child,
            exit: None,
            base_url: format!("http://{addr}"),
            database_url,
            logs,
            client,
            _dir: dir,
        }
    }

    /// A shared HTTP client (no redirects followed, 30 s timeout).
    pub fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The last lines the server wrote to stderr.
    pub fn logs(&self) -> String {
        joined(&self.logs)
    }

    /// Waits up to `within` for a log line containing `needle`; whether one
    /// came (see [`ServerLogs::wait_for`]).
    pub fn wait_for_log(&self, needle: &str, within: Duration) -> bool {
        ServerLogs(self.logs.clone()).wait_for(needle, within)
    }

    /// Runs a CLI command against this server's database (the server keeps running).
    pub fn cli(&self, args: &[&str]) -> Output {
        run_cli(&self.database_url, args)
    }

    /// `keys create --account <account>`: `(key, key_id)`.
    pub fn key_for(&self, account: &str) -> (String, String) {
        let out = self.cli(&["keys", "create", "--account", account]);
        assert!(
            out.status.success(),
            "keys create failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        parse_key_output(&String::from_utf8_lossy(&out.stdout))
    }

    /// `keys revoke <key_id>`, asserting success.
    pub fn revoke(&self, key_id: &str) {
        let out = self.cli(&["keys", "revoke", key_id]);
        assert!(
            out.status.success(),
            "keys revoke failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A client acting with a new key of `account` (created when new).
    pub fn api(&self, account: &str) -> Api {
        let (key, key_id) = self.key_for(account);
        self.api_with_key(&key, &key_id)
    }

    /// A client acting with the given key.
    pub fn api_with_key(&self, key: &str, key_id: &str) -> Api {
        Api {
            base_url: self.base_url.clone(),
            key: key.to_owned(),
            key_id: key_id.to_owned(),
            client: self.client.clone(),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for killed server");
        self.exit = Some(status);
    }

    /// Sends SIGTERM to the server.
    pub fn sigterm(&self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let pid = i32::try_from(self.child.id()).expect("pid fits in i32");
        kill(Pid::from_raw(pid), Signal::SIGTERM).expect("send SIGTERM");
    }

    /// Waits up to `timeout` for the server to exit; `None` if it is still running.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit {
                return Some(status);
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exit = Some(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A running (or starting) server's stderr, as it comes.
#[derive(Clone)]
pub struct ServerLogs(Arc<Mutex<VecDeque<String>>>);

impl ServerLogs {
    /// Whether one of the kept lines contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        let logs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        logs.iter().any(|line| line.contains(needle))
    }

    /// Waits up to `within` (asking every 20 ms) for a line containing
    /// `needle`; whether one came. Blocks the calling thread.
    pub fn wait_for(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn joined(logs: &Mutex<VecDeque<String>>) -> String {
    let logs = logs.lock().unwrap_or_else(|e| e.into_inner());
    logs.iter().cloned().collect::<Vec<_>>().join("\n")
}

/// The `host:port` of a `listening on http://host:port` log line.
fn listening_addr(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("listening on http://")?;
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    addr.contains(':').then_some(addr)
}

/// `(key, key_id)` from the output of `keys create`.
pub fn parse_key_output(stdout: &str) -> (String, String) {
    let key = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("sk_"))
        .unwrap_or_else(|| panic!("no `sk_…` line in:\n{stdout}"))
        .to_owned();
    let key_id = stdout
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("key_")))
        .map(|w| w.trim_end_matches(['.', ',']).to_owned())
        .unwrap_or_else(|| panic!("no `key_…` id on the first line of:\n{stdout}"));
    (key, key_id)
}

// ------------------------------------------------------------------ HTTP

/// A client bound to one server and one API key.
#[derive(Clone)]
pub struct Api {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// `sk_…`.
    pub key: String,
    /// `key_…`.
    pub key_id: String,
    /// The HTTP client.
    pub client: reqwest::Client,
}

impl Api {
    /// A request with this key's `Authorization` header.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.key)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Resp {
        Resp::from(self.request(Method::GET, path)).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        Resp::from(self.request(Method::POST, path).json(body)).await
    }

    /// `POST path` without a body.
    pub async fn post_empty(&self, path: &str) -> Resp {
        Resp::from(self.request(Method::POST, path)).await
    }

    /// `PATCH path` with a raw JSON text.
    pub async fn patch_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Resp {
        Resp::from(
            self.request(Method::PATCH, path)
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    /// `POST path` with a raw JSON text.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Resp {
        Resp::from(
            self.request(Method::POST, path)
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        Resp::from(self.request(Method::PATCH, path).json(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Resp {
        Resp::from(self.request(Method::DELETE, path)).await
    }

    /// The id of the account's first provider (its default one).
    pub async fn provider_id(&self) -> String {
        self.get("/v1/providers").await.json["data"][0]["id"]
            .as_str()
            .expect("provider id")
            .to_owned()
    }

    /// `n` new providers of the key's account (`Stylist 0`, `Stylist 1`,
    /// ...), asserting 201; their ids in order.
    pub async fn create_providers(&self, n: usize) -> Vec<String> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let p = self
                .post("/v1/providers", &json!({"name": format!("Stylist {i}")}))
                .await
                .expect_status(201);
            out.push(p.json["id"].as_str().expect("provider id").to_owned());
        }
        out
    }

    /// `POST /v1/services` with the seed, asserting 201.
    pub async fn create_seed_service(&self) -> Value {
        self.create_service(&seed_service()).await
    }

    /// `POST /v1/services`, asserting 201.
    pub async fn create_service(&self, body: &Value) -> Value {
        self.post("/v1/services", body)
            .await
            .expect_status(201)
            .json
    }

    /// `POST /v1/bookings` for `service` at `scheduled_at`.
    pub async fn book(&self, service: &str, scheduled_at: &str) -> Resp {
        self.post("/v1/bookings", &booking_body(service, scheduled_at))
            .await
    }

    /// `POST /v1/bookings`, asserting 201; the booking.
    pub async fn book_ok(&self, service: &str, scheduled_at: &str) -> Value {
        self.book(service, scheduled_at)
            .await
            .expect_status(201)
            .json
    }

    /// `POST /v1/bookings` with an `Idempotency-Key`.
    pub async fn book_idempotent(&self, key: &str, body: &Value) -> Resp {
        Resp::from(
            self.request(Method::POST, "/v1/bookings")
                .header("Idempotency-Key", key)
                .json(body),
        )
        .await
    }

    /// The slot starts of a service's availability (asserting 200).
    pub async fn slot_starts(&self, service: &str, from: &str, to: &str) -> Vec<String> {
        self.availability(service, from, to)
            .await
            .expect_status(200)
            .json["slots"]
            .as_array()
            .expect("slots array")
            .iter()
            .map(|s| s["start"].as_str().expect("slot start").to_owned())
            .collect()
    }

    /// `GET /v1/services/{id}/availability?from=&to=`.
    pub async fn availability(&self, service: &str, from: &str, to: &str) -> Resp {
        Resp::from(
            self.request(Method::GET, &format!("/v1/services/{service}/availability"))
                .query(&[("from", from), ("to", to)]),
        )
        .await
    }

    /// Every item of a collection, following `next_cursor` with `limit` per page.
    pub async fn list_all(&self, path: &str, limit: u32) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let mut req = self
                .request(Method::GET, &format!("{path}{sep}limit={limit}"))
                .build()
                .expect("request");
            if let Some(c) = &cursor {
                req.url_mut().query_pairs_mut().append_pair("cursor", c);
            }
            let res = self.client.execute(req).await.expect("send");
            let page = Resp::read(res).await.expect_status(200).json;
            let data = page["data"].as_array().expect("data array");
            assert!(
                data.len() <= limit as usize,
                "page larger than limit: {page}"
            );
            items.extend(data.iter().cloned());
            match &page["next_cursor"] {
                Value::Null => return items,
                Value::String(c) => cursor = Some(c.clone()),
                other => panic!("next_cursor must be a string or null, got {other}"),
            }
        }
        panic!("{path}: more than 1000 pages")
    }
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Resp {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub bytes: Vec<u8>,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Resp {
    /// Sends the request and reads the answer.
    pub async fn from(req: reqwest::RequestBuilder) -> Resp {
        Resp::read(req.send().await.expect("send request")).await
    }

    /// Reads an answer.
    pub async fn read(res: reqwest::Response) -> Resp {
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("read body").to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            bytes,
            json,
        }
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `(r, t)` of the IETF `RateLimit: "<policy>";r=<n>;t=<n>` header;
    /// panics when it is missing or malformed.
    #[track_caller]
    pub fn rate_limit(&self, policy: &str) -> (u64, u64) {
        let value = self.header("ratelimit").unwrap_or_else(|| {
            panic!("no RateLimit header on {}: {:?}", self.status, self.headers)
        });
        let rest = value
            .strip_prefix(&format!("\"{policy}\";"))
            .unwrap_or_else(|| panic!("RateLimit {value:?}"));
        let (mut r, mut t) = (None, None);
        for part in rest.split(';') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .unwrap_or_else(|| panic!("RateLimit {value:?}"));
            let n: u64 = v.parse().unwrap_or_else(|_| panic!("RateLimit {value:?}"));
            match k {
                "r" => r = Some(n),
                "t" => t = Some(n),
                _ => {}
            }
        }
        (
            r.unwrap_or_else(|| panic!("no r in {value:?}")),
            t.unwrap_or_else(|| panic!("no t in {value:?}")),
        )
    }

    /// Asserts the status; returns self.
    #[track_caller]
    pub fn expect_status(self, status: u16) -> Resp {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text()
        );
        self
    }

    /// Asserts an error answer in the contract's exact shape with this status
    /// and code; returns its `details`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status} {code}, got {}: {}",
            self.status,
            self.text()
        );
        assert_error_shape(&self.json, &self.text());
        assert_eq!(
            self.json["error"]["code"],
            code,
            "wrong error code: {}",
            self.text()
        );
        self.json["error"]["details"].clone()
    }

    /// Asserts a 400 VALIDATION_ERROR; returns `details.field`.
    #[track_caller]
    pub fn expect_validation(&self) -> String {
        let details = self.expect_error(400, "VALIDATION_ERROR");
        details["field"]
            .as_str()
            .unwrap_or_else(|| panic!("details.field missing: {}", self.text()))
            .to_owned()
    }

    /// Asserts a 400 VALIDATION_ERROR naming `field`.
    #[track_caller]
    pub fn expect_validation_of(&self, field: &str) {
        let got = self.expect_validation();
        assert_eq!(got, field, "details.field: {}", self.text());
    }
}

/// Asserts `{"error": {"code": str, "message": str, "details": object}}` and nothing else.
#[track_caller]
pub fn assert_error_shape(body: &Value, text: &str) {
    let top = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not a JSON object: {text}"));
    assert_eq!(top.len(), 1, "error body has extra members: {text}");
    let error = top
        .get("error")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no `error` object: {text}"));
    assert!(
        error.get("code").is_some_and(Value::is_string),
        "error.code: {text}"
    );
    assert!(
        error
            .get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "error.message: {text}"
    );
    assert!(
        error.get("details").is_some_and(Value::is_object),
        "error.details must be an object: {text}"
    );
}

// ------------------------------------------------------------------ fixtures

/// The seed service (`srv_consultation`).
pub fn seed_service() -> Value {
    json!({
        "id": "srv_consultation",
        "name": "1-Hour Consultation",
        "description": "Expert guidance on your project",
        "duration": 60,
        "price": {"amount": 150, "currency": "USD", "type": "hourly"},
        "availability": {
            "days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "hours": {"start": "09:00", "end": "17:00"},
            "timezone": "America/New_York"
        }
    })
}

/// A 60-minute service `id` open 09:00-17:00 UTC every day, with `who` (a
/// `provider_id`, or `provider_ids` + `assignment`) merged in: the team
/// tests' service.
pub fn every_day_service(id: &str, who: Value) -> Value {
    let mut body = json!({
        "id": id, "name": "Cut", "duration": 60,
        "price": {"amount": 40, "currency": "EUR", "type": "flat"},
        "availability": {
            "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
            "hours": {"start": "09:00", "end": "17:00"}, "timezone": "UTC"
        }
    });
    if let (Some(body), Some(who)) = (body.as_object_mut(), who.as_object()) {
        body.extend(who.clone());
    }
    body
}

/// The seed with `changes` merged in at the top level, e.g. `{"id": "srv_x", "buffer_after": 30}`.
pub fn seed_with(changes: &Value) -> Value {
    let mut body = seed_service();
    for (k, v) in changes.as_object().expect("object of changes") {
        body[k] = v.clone();
    }
    body
}

/// The seed with one value replaced at a JSON pointer (e.g. `/price/currency`);
/// `None` removes it.
pub fn seed_at(pointer: &str, value: Option<Value>) -> Value {
    let mut body = seed_service();
    let (parent, last) = pointer.rsplit_once('/').expect("pointer");
    let parent = body.pointer_mut(parent).expect("parent exists");
    let obj = parent.as_object_mut().expect("parent is an object");
    match value {
        Some(v) => obj.insert(last.to_owned(), v),
        None => obj.remove(last),
    };
    body
}

/// The seed booking body for `service` at `scheduled_at`.
pub fn booking_body(service: &str, scheduled_at: &str) -> Value {
    json!({
        "service": service,
        "scheduled_at": scheduled_at,
        "customer": {"email": "customer@example.com", "name": "John Doe"}
    })
}

/// Today in New York.
pub fn today_ny() -> Date {
    Timestamp::now()
        .to_zoned(TimeZone::get(NEW_YORK).expect("tz"))
        .date()
}

/// The first Monday at least `min_days` days after today (New York), never in
/// a week with a daylight-saving change in New York.
pub fn monday_after(min_days: i64) -> Date {
    let mut day = today_ny()
        .checked_add(min_days.days())
        .expect("date in range");
    while day.weekday() != Weekday::Monday {
        day = day.tomorrow().expect("date");
    }
    let tz = TimeZone::get(NEW_YORK).expect("tz");
    loop {
        let start = day.at(0, 0, 0, 0).to_zoned(tz.clone()).expect("zoned");
        let end = day
            .checked_add(7.days())
            .expect("date")
            .at(0, 0, 0, 0)
            .to_zoned(tz.clone())
            .expect("zoned");
        if start.offset() == end.offset() {
            return day;
        }
        day = day.checked_add(7.days()).expect("date");
    }
}

/// The Monday at least three weeks from today, the suite's usual booking week.
pub fn future_monday() -> Date {
    monday_after(21)
}

/// `date` plus `days`.
pub fn add_days(date: Date, days: i64) -> Date {
    date.checked_add(days.days()).expect("date in range")
}

/// The UTC instant (`…Z`, seconds) of a New York wall-clock time.
pub fn ny(date: Date, hour: i8, minute: i8) -> String {
    let zoned = date
        .at(hour, minute, 0, 0)
        .to_zoned(TimeZone::get(NEW_YORK).expect("tz"))
        .expect("zoned");
    fmt_utc(zoned.timestamp())
}

/// Formats as the API does: `2024-01-20T10:00:00Z`.
pub fn fmt_utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses an RFC 3339 instant.
pub fn ts(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bad instant {text}: {e}"))
}

/// Whether `[a, a + a_min)` and `[b, b + b_min)` overlap.
pub fn overlaps(a: Timestamp, a_min: i64, b: Timestamp, b_min: i64) -> bool {
    let a_end = a.checked_add(a_min.minutes()).expect("instant");
    let b_end = b.checked_add(b_min.minutes()).expect("instant");
    a < b_end && b < a_end
}

/// A path with the given file name inside `dir`.
pub fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}", dir.join(file).display())
}

/// Throw-away Postgres databases for end-to-end tests, made with `psql` on the
/// server named by `TEST_DATABASE_URL` (`make test` provides one).
pub mod pg {
    use std::process::Command;

    /// The admin URL; panics without one. Tests that need it carry
    /// `#[cfg_attr(no_postgres, ignore = "...")]` (`no_postgres` is set by
    /// `tests/build.rs` when no server was given and none is required), so a
    /// plain `cargo test` lists them as ignored and `make test` or CI fail.
    pub fn admin_url() -> String {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => panic!(
                "TEST_DATABASE_URL is not set, and this Postgres test must run (CI or \
                 BOOKING_REQUIRE_POSTGRES is set, or the tests were built with a database): \
                 run `make test`, or `scripts/test-postgres.sh cargo test ...`"
            ),
        }
    }

    /// Runs one SQL statement as the admin role.
    pub fn sql(admin: &str, statement: &str) -> String {
        let out = Command::new("psql")
            .arg(admin)
            .args(["-v", "ON_ERROR_STOP=1", "-qAt", "-c", statement])
            .output()
            .expect("run psql (install the PostgreSQL client)");
        assert!(
            out.status.success(),
            "psql failed on `{statement}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// An empty database, dropped when this guard goes.
    pub struct Database {
        admin: String,
        /// Its name.
        pub name: String,
        /// Its URL.
        pub url: String,
    }

    impl Database {
        /// Creates `booking_e2e_<random>` (the server migrates it at start-up).
        pub fn create(admin: &str) -> Database {
            let name = format!("booking_e2e_{}", uuid_like());
            sql(admin, &format!("CREATE DATABASE {name}"));
            let url = match admin.rsplit_once('/') {
                Some((base, _)) => format!("{base}/{name}"),
                None => panic!("TEST_DATABASE_URL has no database part: {admin}"),
            };
            Database {
                admin: admin.to_owned(),
                name,
                url,
            }
        }

        /// Refuses (false) or allows (true) new connections, and with
        /// `false` also ends the current ones: the database is "down".
        pub fn set_reachable(&self, reachable: bool) {
            sql(
                &self.admin,
                &format!(
                    "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {reachable}",
                    self.name
                ),
            );
            if !reachable {
                sql(
                    &self.admin,
                    &format!(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}'",
                        self.name
                    ),
                );
            }
        }
    }

    impl Drop for Database {
        fn drop(&mut self) {
            let _ = Command::new("psql")
                .arg(&self.admin)
                .args([
                    "-qAt",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                ])
                .output();
        }
    }

    fn uuid_like() -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::time::{SystemTime, UNIX_EPOCH};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("{nanos:x}_{:x}_{n}", std::process::id())
    }
}

/// Moves a booking of the SQLite database at `database_url` two hours into
/// the past (it ended an hour ago), behind the server's back: how the tests
/// reach "after `end_at`" without waiting. Waits for the server's write lock.
pub fn backdate_sqlite_booking(database_url: &str, booking: &str) {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let path = database_url.strip_prefix("sqlite://").unwrap();
    let mut conn = SqliteConnection::establish(path).unwrap();
    // The server writes too (webhook deliveries): wait for its lock.
    conn.batch_execute("PRAGMA busy_timeout = 10000").unwrap();
    let now = jiff::Timestamp::now().as_second();
    let n = diesel::sql_query(format!(
        "UPDATE bookings SET scheduled_at = {s}, end_at = {e}, occupied_start = {s}, \
         occupied_end = {e} WHERE id = '{booking}'",
        s = now - 7200,
        e = now - 3600,
    ))
    .execute(&mut conn)
    .unwrap();
    assert_eq!(n, 1, "booking {booking} not found");
}

/// A booking as the API answers it, without `manage_url`: what a webhook
/// body carries (docs/webhooks.md). Panics when the answer has no link.
pub fn unlinked(booking: &serde_json::Value) -> serde_json::Value {
    let mut b = booking.clone();
    let link = b.as_object_mut().and_then(|o| o.remove("manage_url"));
    assert!(
        link.is_some(),
        "the API's answer carries manage_url: {booking}"
    );
    b
}
