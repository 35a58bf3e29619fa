//! Fuzzing every route (issue 13): proptest over the wire types, against the
//! real binary on SQLite.
//!
//! For each operation of [`booking_http::routes::ROUTES`] (the one list the
//! server mounts) a proptest runner sends generated requests: JSON bodies
//! that start from a valid body of the route's wire type and get 0-3
//! mutations (a field replaced by a hostile value: control characters,
//! unicode, long text, huge, negative, fractional or malformed numbers,
//! wrong types, nulls, odd instants; a field removed, added or repeated),
//! arbitrary JSON, random bytes, mangled JSON text, bodies over 64 KiB; query
//! strings of the route's parameters (and unknown ones) with valid and
//! hostile values, encoded or raw; path ids that exist (each operation has
//! its own account with a service, providers, bookings, a webhook with
//! deliveries, a calendar connection, time off and a feed token) or not; now and then
//! a bad `Authorization`, an `Idempotency-Key` or an `If-None-Match`.
//!
//! Every answer must be one the contract allows: never a 5xx or a dropped
//! connection (a panic), a status the OpenAPI document lists for the
//! operation, and every error in the error shape with a code that document
//! gives for that status. After each operation the server must still answer
//! `/healthz`, and its log must hold no panic.
//!
//! `BOOKING_FUZZ_CASES` sets the cases per operation (default
//! [`DEFAULT_CASES`], what `make test` runs; `make fuzz` runs many more).
//! `BOOKING_FUZZ_SEED` (64 hex digits, printed by every run) replays a run's
//! generation; `BOOKING_FUZZ_ROUTE` (e.g. `POST /v1/bookings`) runs only the
//! operations whose `METHOD path` contains it. A failure prints the shrunk
//! request and is saved to `fuzz.proptest-regressions` beside this file,
//! whose cases every later run tries first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use booking_http::routes::{ROUTES, Verb};
use booking_tests::{Api, TestServer, add_days, today_ny};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Cases per operation when `BOOKING_FUZZ_CASES` is unset (`make test`).
const DEFAULT_CASES: u32 = 200;

/// Failing cases, saved by proptest and tried first by every run.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/suite/api/fuzz.proptest-regressions"
);

/// Every code an error answer may carry: the contract's table, its "New
/// error codes", and the HTTP codec's two (docs/api.md, "Malformed requests").
const KNOWN_CODES: &[&str] = &[
    "BOOKING_CONFLICT",
    "CUTOFF_PASSED",
    "INVALID_SERVICE",
    "RATE_LIMITED",
    "UNAUTHORIZED",
    "VALIDATION_ERROR",
    "NOT_FOUND",
    "INVALID_STATE",
    "ALREADY_EXISTS",
    "IDEMPOTENCY_KEY_REUSED",
    "PAYLOAD_TOO_LARGE",
    "METHOD_NOT_ALLOWED",
    "INTERNAL",
    "UNAVAILABLE",
    "REQUEST_TIMEOUT",
    "LIMIT_REACHED",
    "URI_TOO_LONG",
    "REQUEST_HEADER_FIELDS_TOO_LARGE",
];

/// The environment of the fuzzed server: limits high enough never to be the
/// answer, and no request leaving the machine or waiting on DNS: private
/// targets allowed (so URLs are not resolved when given; the fixtures' are
/// a closed local port, generated hosts are under `.invalid`), and every
/// outside API on a closed local port.
const ENV: &[(&str, &str)] = &[
    ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("BOOKING_RATE_BOOKINGS", "1000000/minute"),
    ("BOOKING_RATE_CALENDAR_SYNC", "1000000/hour"),
    ("BOOKING_GOOGLE_API_URL", "http://127.0.0.1:9"),
    ("BOOKING_GOOGLE_TOKEN_URL", "http://127.0.0.1:9/token"),
    ("BOOKING_GRAPH_API_URL", "http://127.0.0.1:9"),
    ("BOOKING_MICROSOFT_TOKEN_URL", "http://127.0.0.1:9/token"),
    ("BOOKING_CALENDLY_API_URL", "http://127.0.0.1:9"),
];

// ------------------------------------------------------------------ the test

#[test]
fn every_route_answers_fuzzed_bodies_and_queries_within_the_contract() {
    let cases = std::env::var("BOOKING_FUZZ_CASES")
        .ok()
        .map(|v| {
            v.trim()
                .parse::<u32>()
                .expect("BOOKING_FUZZ_CASES is a number")
        })
        .unwrap_or(DEFAULT_CASES);
    let only = std::env::var("BOOKING_FUZZ_ROUTE").unwrap_or_default();
    let seed = run_seed();
    println!(
        "fuzz: {cases} cases per operation, seed {} (BOOKING_FUZZ_SEED={} replays this run's generation)",
        hex(&seed),
        hex(&seed)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = TestServer::start_with(ENV);
    let client = server.client();
    let doc: Value = rt.block_on(async {
        client
            .get(server.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let started = Instant::now();
    let mut ran = 0;
    for (i, (verb, path)) in operations().into_iter().enumerate() {
        let name = format!("{} {path}", verb.as_str());
        if !name.contains(&only) {
            continue;
        }
        let spec = Spec::of(&doc, verb, path);
        let setup = Instant::now();
        let api = server.api(&format!("fuzz{i}"));
        let fx = rt.block_on(Fixtures::create(&api));
        if (verb, path) == (Verb::Post, "/v1/calendar/sync") {
            // A sync waits on each connection's fetch (1.5 s against the
            // closed port); the route reads no input, so what is fuzzed here
            // is its headers and an ignored body, against no connection.
            rt.block_on(async {
                let path = format!(
                    "/v1/providers/{}/calendars/{}",
                    fx.providers[0], fx.calendars[0]
                );
                api.delete(&path).await.expect_status(204);
            });
        }
        let fx = Arc::new(fx);
        let setup = setup.elapsed();
        let op = Op {
            verb,
            path,
            spec,
            fx: fx.clone(),
        };
        let strategy = case_strategy(&op);
        let config = Config {
            cases,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
            max_shrink_iters: 4096,
            ..Config::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &op_seed(&seed, &name));
        let mut runner = TestRunner::new_with_rng(config, rng);
        let op_started = Instant::now();
        let slowest = std::cell::Cell::new(std::time::Duration::ZERO);
        let seen = std::cell::RefCell::new(BTreeMap::<u16, u32>::new());
        let result = runner.run(&strategy, |case| {
            let request = op.render(&case);
            let sent = Instant::now();
            let answer = rt.block_on(request.send(&api));
            slowest.set(slowest.get().max(sent.elapsed()));
            if let Ok(answer) = &answer {
                *seen.borrow_mut().entry(answer.status).or_default() += 1;
            }
            op.check(&request, &answer)
                .map_err(|e| TestCaseError::fail(format!("{e}\n--- request ---\n{request}")))
        });
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, case)) => panic!(
                "fuzz: {name} broke the contract (seed {}; shrunk case saved to {REGRESSIONS}):\n{reason}\n--- minimal request ---\n{}\n--- server log ---\n{}",
                hex(&seed),
                op.render(&case),
                server.logs()
            ),
            Err(TestError::Abort(reason)) => panic!("fuzz: {name} aborted: {reason}"),
        }
        let health = rt.block_on(async {
            client
                .get(server.url("/healthz"))
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        assert!(
            matches!(health, Ok(200)),
            "fuzz: /healthz after {name}: {health:?}\n{}",
            server.logs()
        );
        println!(
            "fuzz: {name}: {cases} cases in {:.1?} (slowest answer {:.1?}; set-up {setup:.1?}); statuses {:?}",
            op_started.elapsed(),
            slowest.get(),
            seen.borrow()
        );
        ran += 1;
    }
    assert!(ran > 0, "BOOKING_FUZZ_ROUTE={only:?} matches no operation");
    assert!(
        !server.logs().contains("panicked"),
        "the server panicked:\n{}",
        server.logs()
    );
    println!(
        "fuzz: {ran} operations, {} cases, in {:.1?}",
        u64::from(cases) * ran,
        started.elapsed()
    );
}

/// What the fuzzer found, fixed: each answer names a field.
#[tokio::test]
async fn fuzzer_findings_name_a_field() {
    let (_server, api) = super::setup();
    // A control character in a query parameter's name, or a bad value of a
    // parameter without a name: `query` (was an empty or unprintable field).
    for query in ["?%7F=1", "?=%00", "?%00="] {
        api.get(&format!("/v1/providers{query}"))
            .await
            .expect_validation_of("query");
    }
    // An unknown empty key: the object holding it (was `""`).
    api.post("/v1/providers", &json!({"": null}))
        .await
        .expect_validation_of("body");
    api.post(
        "/v1/services",
        &json!({"name": "x", "duration": 60, "price": {"": 1}}),
    )
    .await
    .expect_validation_of("price");
    // A body that is only a string with a control character (was `""`).
    api.post("/v1/providers", &json!("\u{0}"))
        .await
        .expect_validation_of("body");
}

/// Every (method, path) the server mounts, from [`ROUTES`].
fn operations() -> Vec<(Verb, &'static str)> {
    ROUTES
        .iter()
        .flat_map(|r| r.methods.iter().map(move |(verb, _)| (*verb, r.path)))
        .collect()
}

fn run_seed() -> [u8; 32] {
    if let Ok(text) = std::env::var("BOOKING_FUZZ_SEED") {
        let text = text.trim();
        assert_eq!(text.len(), 64, "BOOKING_FUZZ_SEED is 64 hex digits");
        let mut seed = [0u8; 32];
        for (i, byte) in seed.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .expect("BOOKING_FUZZ_SEED is 64 hex digits");
        }
        return seed;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Sha256::digest(format!("{now}:{}", std::process::id())).into()
}

fn op_seed(seed: &[u8; 32], name: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed);
    h.update(name.as_bytes());
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

// ------------------------------------------------------------------ what the contract allows

/// What the OpenAPI document says of one operation.
struct Spec {
    /// Status -> the error codes documented for it (empty for success).
    statuses: BTreeMap<u16, BTreeSet<String>>,
    /// Query parameter names.
    query: Vec<String>,
    /// Whether it takes a request body.
    body: bool,
}

impl Spec {
    fn of(doc: &Value, verb: Verb, path: &str) -> Spec {
        // HEAD is described by the GET beside it.
        let method = match verb {
            Verb::Head => "get".to_owned(),
            v => v.as_str().to_lowercase(),
        };
        let op = &doc["paths"][path][&method];
        assert!(op.is_object(), "{method} {path} is not in /openapi.json");
        let mut statuses = BTreeMap::new();
        for (status, response) in op["responses"].as_object().unwrap() {
            let codes = match response["$ref"].as_str() {
                Some(r) => {
                    let name = r.rsplit('/').next().unwrap();
                    doc["components"]["responses"][name]["content"]["application/json"]["examples"]
                        .as_object()
                        .map(|e| e.keys().cloned().collect())
                        .unwrap_or_default()
                }
                None => BTreeSet::new(),
            };
            statuses.insert(status.parse().unwrap(), codes);
        }
        let query = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        Spec {
            statuses,
            query,
            body: op.get("requestBody").is_some(),
        }
    }
}

// ------------------------------------------------------------------ fixtures

/// What exists in an operation's account, for path ids and body fields.
struct Fixtures {
    services: Vec<String>,
    providers: Vec<String>,
    bookings: Vec<String>,
    webhooks: Vec<String>,
    deliveries: Vec<String>,
    calendars: Vec<String>,
    time_off: Vec<String>,
    holds: Vec<String>,
    tokens: Vec<String>,
    /// The customer links of the active bookings.
    manage_tokens: Vec<String>,
    /// Future instants on whole minutes (bookable on the around-the-clock service).
    instants: Vec<String>,
    /// Dates around the booking weeks.
    dates: Vec<String>,
}

impl Fixtures {
    async fn create(api: &Api) -> Fixtures {
        let ok = |r: booking_tests::Resp, status: u16| r.expect_status(status).json;
        let default_provider = ok(api.get("/v1/providers").await, 200)["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let provider = ok(
            api.post("/v1/providers", &json!({"name": "Fuzz Provider"}))
                .await,
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let all_day = api
            .create_service(&json!({
                "name": "Around the clock", "duration": 30,
                "price": {"amount": 10, "currency": "USD", "type": "flat"},
                "availability": {
                    "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
                    "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
                }
            }))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let seed = api.create_seed_service().await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let webhook = ok(
            api.post("/v1/webhooks", &json!({"url": "http://127.0.0.1:9/hook"}))
                .await,
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let calendar = ok(
            api.post(
                &format!("/v1/providers/{default_provider}/calendars"),
                &json!({"type": "ics", "url": "http://127.0.0.1:9/busy.ics"}),
            )
            .await,
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let feed = ok(
            api.get(&format!("/v1/providers/{default_provider}/feed"))
                .await,
            200,
        )["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let token = feed
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".ics")
            .to_owned();
        let today = today_ny();
        // Time off well after every fixture instant (they end 119 days out).
        let time_off = ok(
            api.post(
                &format!("/v1/providers/{default_provider}/time-off"),
                &json!({
                    "start": format!("{}T00:00:00Z", add_days(today, 150)),
                    "end": format!("{}T00:00:00Z", add_days(today, 152)),
                    "reason": "Fuzz"
                }),
            )
            .await,
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // A hold lasting the whole run, after the fixture instants too.
        let hold = ok(
            api.post(
                "/v1/holds",
                &json!({
                    "service": all_day,
                    "scheduled_at": format!("{}T10:00:00Z", add_days(today, 140)),
                    "ttl": 1800
                }),
            )
            .await,
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let instants: Vec<String> = (0..40)
            .map(|i| {
                let date = add_days(today, 2 + i * 3);
                let hour = (i * 7) % 24;
                let minute = [0, 15, 30, 45, 7][(i % 5) as usize];
                format!("{date}T{hour:02}:{minute:02}:00Z")
            })
            .collect();
        let mut bookings = Vec::new();
        let mut manage_tokens = Vec::new();
        for at in &instants[..3] {
            let b = ok(api.book(&all_day, at).await, 201);
            bookings.push(b["id"].as_str().unwrap().to_owned());
            let link = b["manage_url"].as_str().unwrap();
            manage_tokens.push(link.rsplit('/').next().unwrap().to_owned());
        }
        // The third is cancelled below: its link is dead.
        manage_tokens.truncate(2);
        ok(
            api.post_empty(&format!("/v1/bookings/{}/confirm", bookings[1]))
                .await,
            200,
        );
        ok(
            api.post_empty(&format!("/v1/bookings/{}/cancel", bookings[2]))
                .await,
            200,
        );
        let deliveries = ok(
            api.get(&format!("/v1/webhooks/{webhook}/deliveries")).await,
            200,
        )["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        let dates = (-3..80)
            .step_by(4)
            .map(|i| add_days(today, i).to_string())
            .collect();
        Fixtures {
            services: vec![all_day, seed],
            providers: vec![default_provider, provider],
            bookings,
            webhooks: vec![webhook],
            deliveries,
            calendars: vec![calendar],
            time_off: vec![time_off],
            holds: vec![hold],
            tokens: vec![token],
            manage_tokens,
            instants,
            dates,
        }
    }

    /// The real ids for a path parameter of `path`.
    fn ids_for(&self, path: &str, param: &str) -> &[String] {
        match param {
            "cal_id" => &self.calendars,
            "off_id" => &self.time_off,
            "delivery_id" => &self.deliveries,
            "token" if path.contains("/manage/") => &self.manage_tokens,
            "token" => &self.tokens,
            _ if path.starts_with("/v1/providers") => &self.providers,
            _ if path.starts_with("/v1/services") => &self.services,
            _ if path.starts_with("/v1/bookings") => &self.bookings,
            _ if path.starts_with("/v1/webhooks") => &self.webhooks,
            _ if path.starts_with("/v1/holds") => &self.holds,
            _ => panic!("no fixture for {{{param}}} in {path}"),
        }
    }

    /// Good values of a query parameter.
    fn query_values(&self, name: &str) -> Vec<String> {
        let strs = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match name {
            "limit" => strs(&["1", "2", "50", "200", "0", "201", "-1", "1.0", "1e2"]),
            "cursor" => strs(&["c0", "c1", "c3", "c999999999999999999", "c", "c-1", "1"]),
            "status" => strs(&["pending", "confirmed", "cancelled", "completed", "PENDING"]),
            "service" => self.services.clone(),
            "provider_id" => self.providers.clone(),
            "from" | "to" => self.instants.iter().chain(&self.dates).cloned().collect(),
            _ => vec![String::new()],
        }
    }
}

// ------------------------------------------------------------------ JSON with hostile leaves

/// A JSON document as sent: objects keep their order and may repeat keys,
/// and `Raw` leaves are written as they are (numbers serde cannot hold,
/// lone surrogates, invalid tokens).
#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
    Raw(String),
}

impl J {
    fn s(text: impl Into<String>) -> J {
        J::Str(text.into())
    }

    fn n(value: impl ToString) -> J {
        J::Num(value.to_string())
    }

    /// An object of the present fields.
    fn obj(fields: Vec<(&str, Option<J>)>) -> J {
        J::Obj(
            fields
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
                .collect(),
        )
    }

    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) | J::Raw(n) => out.push_str(n),
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap()),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// The paths (child indices) of every node, root first.
    fn paths(&self, here: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        out.push(here.clone());
        let children: Vec<&J> = match self {
            J::Arr(items) => items.iter().collect(),
            J::Obj(fields) => fields.iter().map(|(_, v)| v).collect(),
            _ => return,
        };
        for (i, child) in children.into_iter().enumerate() {
            here.push(i);
            child.paths(here, out);
            here.pop();
        }
    }

    fn at_mut(&mut self, path: &[usize]) -> &mut J {
        match path.split_first() {
            None => self,
            Some((&i, rest)) => match self {
                J::Arr(items) => items[i].at_mut(rest),
                J::Obj(fields) => fields[i].1.at_mut(rest),
                _ => unreachable!("paths only lead into containers"),
            },
        }
    }

    fn apply(&mut self, m: &Mutation) {
        let mut paths = Vec::new();
        self.paths(&mut Vec::new(), &mut paths);
        let path = m.at.get(&paths).clone();
        match &m.kind {
            MutationKind::Replace(value) => *self.at_mut(&path) = value.clone(),
            MutationKind::Remove | MutationKind::Repeat => {
                let Some((&last, parent)) = path.split_last() else {
                    return;
                };
                match self.at_mut(parent) {
                    J::Arr(items) if matches!(m.kind, MutationKind::Remove) => {
                        items.remove(last);
                    }
                    J::Arr(items) => items.push(items[last].clone()),
                    J::Obj(fields) if matches!(m.kind, MutationKind::Remove) => {
                        fields.remove(last);
                    }
                    J::Obj(fields) => fields.push(fields[last].clone()),
                    _ => {}
                }
            }
            MutationKind::Add(key, value) => match self.at_mut(&path) {
                J::Obj(fields) => fields.push((key.clone(), value.clone())),
                J::Arr(items) => items.push(value.clone()),
                _ => {
                    if let J::Obj(fields) = self {
                        fields.push((key.clone(), value.clone()));
                    }
                }
            },
        }
    }
}

#[derive(Clone, Debug)]
struct Mutation {
    at: Index,
    kind: MutationKind,
}

#[derive(Clone, Debug)]
enum MutationKind {
    /// The node becomes a hostile value.
    Replace(J),
    /// The node leaves its object or array.
    Remove,
    /// The node's object member or array item comes twice.
    Repeat,
    /// A member (or item) is added to the node, or to the root.
    Add(String, J),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let kind = prop_oneof![
        6 => hostile().prop_map(MutationKind::Replace),
        2 => Just(MutationKind::Remove),
        1 => Just(MutationKind::Repeat),
        1 => (field_name(), hostile()).prop_map(|(k, v)| MutationKind::Add(k, v)),
    ];
    (any::<Index>(), kind).prop_map(|(at, kind)| Mutation { at, kind })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "name",
            "id",
            "email",
            "extra",
            "NAME",
            "",
            "service",
            "price",
            "scheduled_at",
            "enabled",
            "type",
            "url",
            "__proto__",
        ])
        .prop_map(str::to_owned),
        hostile_string(),
    ]
}

/// Lengths around the limits (200, 254, 255, 500, 1,000, 2,048, 5,000) and
/// past the 64 KiB body limit.
const LENGTHS: &[usize] = &[
    0, 1, 199, 200, 201, 254, 255, 256, 500, 501, 1000, 1001, 2048, 2049, 5000, 5001, 66_000,
];

/// Text that tends to break parsers and validators.
const ODD_TEXT: &[&str] = &[
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\u{0}",
    "a\u{0}b",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{200b}",
    "\u{feff}",
    "\u{fffd}",
    "\u{10ffff}",
    "😀",
    "e\u{301}",
    "\\",
    "\"",
    "'; DROP TABLE bookings; --",
    "%00",
    "%",
    "../../etc/passwd",
    "null",
    "true",
    "0",
    "-1",
    "1e400",
    "NaN",
    "srv_",
    "srv_consultation",
    "bk_",
    "prv_",
    "wh_",
    "whd_",
    "cal_",
    "dlv_x",
    "https://",
    "https:///nohost",
    "https://hooks.fuzz.invalid",
    "https://127.0.0.1/",
    "https://[::1]/",
    "https://169.254.169.254/latest",
    "http://hooks.fuzz.invalid/",
    "webcal://calendar.fuzz.invalid/x.ics",
    "mailto:a@b.co",
    "a@b",
    "a@b.c",
    "@b.co",
    "a@@b.co",
    "a b@c.co",
    "America/New_York",
    "UTC",
    "Etc/GMT+12",
    "Mars/Olympus",
    "../zoneinfo",
    "monday",
    "Monday",
    "24:00",
    "24:01",
    "23:59",
    "9:00",
    "09:00:00",
    "25:00",
    "USD",
    "usd",
    "JPY",
    "XXX",
    "hourly",
    "booking.created",
    "booking.*",
];

fn control_char() -> impl Strategy<Value = char> {
    prop_oneof![
        (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
        Just('\u{7f}'),
    ]
}

fn hostile_string() -> BoxedStrategy<String> {
    prop_oneof![
        2 => any::<String>(),
        2 => prop::collection::vec(
            prop_oneof![3 => any::<char>(), 1 => control_char()],
            0..24
        )
        .prop_map(|chars| chars.into_iter().collect()),
        2 => prop::sample::select(ODD_TEXT).prop_map(str::to_owned),
        1 => (prop::sample::select(LENGTHS), prop_oneof![Just('a'), Just('é'), Just('😀'), Just(' '), any::<char>()])
            .prop_map(|(n, c)| std::iter::repeat_n(c, n).collect()),
        2 => odd_instant(),
        1 => odd_date(),
        1 => (
            prop::sample::select(vec!["srv_", "bk_", "prv_", "wh_", "whd_", "cal_", "evt_", "key_", ""]),
            "[a-zA-Z0-9_]{0,70}"
        )
            .prop_map(|(p, rest)| format!("{p}{rest}")),
    ]
    .boxed()
}

/// RFC 3339 instants and near misses: years, months, days, times, fractions
/// and offsets at and past their edges.
fn odd_instant() -> impl Strategy<Value = String> {
    let year = prop_oneof![
        prop::sample::select(vec![
            "0000",
            "0001",
            "1969",
            "1970",
            "2000",
            "2027",
            "2038",
            "9999",
            "-0001",
            "+002027",
            "-000001",
            "10000",
            "99",
            "２０２７",
        ])
        .prop_map(str::to_owned),
        (0u32..10_000).prop_map(|y| format!("{y:04}")),
    ];
    let two = |max: u32| (0..=max).prop_map(|v| format!("{v:02}"));
    let frac = prop::sample::select(vec![
        "",
        "",
        ".0",
        ".5",
        ".000000001",
        ".1234567891234",
        ",5",
        ".",
    ]);
    let sep = prop::sample::select(vec!["T", "T", "t", " ", "_"]);
    let offset = prop::sample::select(vec![
        "Z",
        "Z",
        "z",
        "+00:00",
        "-00:00",
        "+05:30",
        "-12:00",
        "+14:00",
        "+23:59",
        "-23:59",
        "+24:00",
        "+25:00",
        "-25:59",
        "+99:99",
        "+0530",
        "+05",
        "",
        "+05:30:00",
        "[America/New_York]",
        "+00:00[UTC]",
    ]);
    (
        year,
        two(13),
        two(32),
        sep,
        two(25),
        two(61),
        two(61),
        frac,
        offset,
    )
        .prop_map(|(y, mo, d, sep, h, mi, s, frac, off)| {
            format!("{y}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{off}")
        })
}

fn odd_date() -> impl Strategy<Value = String> {
    let year = prop::sample::select(vec![
        "0000", "0001", "2027", "2028", "9999", "-0001", "+002027", "10000",
    ]);
    (year, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}"))
}

/// Numbers at and past every edge, as JSON writes them or as serde cannot
/// hold them.
fn odd_number() -> impl Strategy<Value = J> {
    prop_oneof![
        any::<i64>().prop_map(J::n),
        any::<u64>().prop_map(J::n),
        any::<f64>().prop_map(|f| {
            if f.is_finite() {
                J::Num(format!("{f:?}"))
            } else {
                J::Raw(f.to_string())
            }
        }),
        prop::sample::select(vec![
            "0",
            "-0",
            "-0.0",
            "1e400",
            "-1e400",
            "1E2",
            "1e-400",
            "0.0000001",
            "123456789012345678901234567890",
            "-9223372036854775809",
            "18446744073709551616",
            "9007199254740993",
            "1.5",
            "-1",
            "60.0",
            "60.5",
            "1440.0000000000001",
            "1e15",
            "999999999999999.9",
            "149.999",
            "0.001",
            "1441",
            "10081",
            "NaN",
            "Infinity",
            "0x10",
            "01",
            "+1",
            ".5",
            "5.",
        ])
        .prop_map(|n| J::Raw(n.to_owned())),
    ]
}

/// A hostile JSON value: a leaf of any type, or a small container of them.
fn hostile() -> BoxedStrategy<J> {
    let leaf = prop_oneof![
        1 => Just(J::Null),
        1 => any::<bool>().prop_map(J::Bool),
        3 => odd_number(),
        6 => hostile_string().prop_map(J::Str),
        1 => prop::sample::select(vec![
            r#""\ud800""#, r#""\udc00\ud800""#, r#""\u0000""#, r#""a\u001fb""#, r#""\x""#,
            r#""\u00""#, "\"unterminated", "[", "{", "}", "",
        ])
        .prop_map(|raw| J::Raw(raw.to_owned())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(J::Arr),
            prop::collection::vec((field_name(), inner), 0..4).prop_map(J::Obj),
        ]
    })
    .boxed()
}

// ------------------------------------------------------------------ valid bodies of each wire type

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop::option::weighted(0.6, s).boxed()
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Z][a-z]{1,12}( [A-Z][a-z]{1,12})?", "\\PC{1,30}",]
}

fn email() -> impl Strategy<Value = String> {
    "[a-z0-9.+]{1,12}@[a-z]{1,10}\\.(com|org|example|co\\.uk)"
}

fn free_text() -> impl Strategy<Value = String> {
    "[\\PC\\n\\t]{0,60}"
}

fn instant(fx: &Fixtures) -> BoxedStrategy<String> {
    let offsets = prop::sample::select(vec!["Z", "+00:00", "-05:00", "+05:30", "+14:00", "-23:59"]);
    (prop::sample::select(fx.instants.clone()), offsets)
        .prop_map(|(t, off)| {
            // The same wall-clock digits with another offset: a real but
            // different instant.
            format!("{}{off}", t.trim_end_matches('Z'))
        })
        .boxed()
}

fn price() -> impl Strategy<Value = J> {
    let amount = prop_oneof![
        prop::sample::select(vec!["0", "150", "149.99", "0.5", "1000000", "99.999"])
            .prop_map(|a| J::Raw(a.to_owned())),
        (0u32..100_000).prop_map(J::n),
    ];
    let currency = prop::sample::select(vec!["USD", "EUR", "JPY", "KWD", "GBP", "CLF", "BHD"]);
    let kind = prop::sample::select(vec!["hourly", "flat", "custom"]);
    (amount, currency, kind).prop_map(|(a, c, k)| {
        J::obj(vec![
            ("amount", Some(a)),
            ("currency", Some(J::s(c))),
            ("type", Some(J::s(k))),
        ])
    })
}

fn availability() -> impl Strategy<Value = J> {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let zones = prop::sample::select(vec![
        "America/New_York",
        "UTC",
        "Europe/London",
        "Europe/Dublin",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Pacific/Chatham",
        "Australia/Lord_Howe",
        "America/St_Johns",
        "Pacific/Kiritimati",
        "Etc/GMT+12",
        "Antarctica/Troll",
        "America/Santiago",
    ]);
    let time = (0u32..24, prop::sample::select(vec![0u32, 15, 30, 45, 59]))
        .prop_map(|(h, m)| format!("{h:02}:{m:02}"));
    let end = prop_oneof![time.clone(), Just("24:00".to_owned())];
    (
        prop::sample::subsequence(DAYS.to_vec(), 1..=7).prop_shuffle(),
        time,
        end,
        zones,
    )
        .prop_map(|(days, start, end, tz)| {
            J::obj(vec![
                ("days", Some(J::Arr(days.into_iter().map(J::s).collect()))),
                (
                    "hours",
                    Some(J::obj(vec![
                        ("start", Some(J::s(start))),
                        ("end", Some(J::s(end))),
                    ])),
                ),
                ("timezone", Some(J::s(tz))),
            ])
        })
}

fn minutes(max: u32) -> impl Strategy<Value = J> {
    prop_oneof![Just(0u32), 1..=60u32, 0..=max].prop_map(J::n)
}

fn service_body(fx: &Fixtures, create: bool) -> BoxedStrategy<J> {
    let id = "srv_[a-z0-9_]{1,20}".prop_map(J::s);
    let providers = prop::sample::select(fx.providers.clone()).prop_map(J::s);
    let described = prop_oneof![free_text().prop_map(J::s), Just(J::Null)];
    let required = |s: BoxedStrategy<J>| {
        if create {
            s.prop_map(Some).boxed()
        } else {
            opt(s)
        }
    };
    (
        (
            if create { opt(id) } else { Just(None).boxed() },
            required(name().prop_map(J::s).boxed()),
            opt(described),
            required((1u32..=1440).prop_map(J::n).boxed()),
            required(price().boxed()),
            required(availability().boxed()),
        ),
        (
            opt(providers),
            opt(minutes(10_080)),
            opt(minutes(10_080)),
            opt(minutes(10_080)),
            opt(any::<bool>().prop_map(J::Bool)),
        ),
    )
        .prop_map(
            |((id, name, desc, duration, price, avail), (prv, bb, ba, mn, auto))| {
                J::obj(vec![
                    ("id", id),
                    ("name", name),
                    ("description", desc),
                    ("duration", duration),
                    ("price", price),
                    ("availability", avail),
                    ("provider_id", prv),
                    ("buffer_before", bb),
                    ("buffer_after", ba),
                    ("minimum_notice", mn),
                    ("auto_confirm", auto),
                ])
            },
        )
        .boxed()
}

fn provider_body(create: bool) -> BoxedStrategy<J> {
    let email = prop_oneof![4 => email().prop_map(J::s), 1 => Just(J::Null)];
    let name = name().prop_map(J::s);
    let name = if create {
        name.prop_map(Some).boxed()
    } else {
        opt(name)
    };
    (name, opt(email))
        .prop_map(|(name, email)| J::obj(vec![("name", name), ("email", email)]))
        .boxed()
}

fn booking_body(fx: &Fixtures) -> BoxedStrategy<J> {
    let metadata = prop::collection::btree_map("[a-z_]{1,12}", "\\PC{0,20}", 0..5)
        .prop_map(|m| J::Obj(m.into_iter().map(|(k, v)| (k, J::Str(v))).collect()));
    (
        prop::sample::select(fx.services.clone()),
        instant(fx),
        email(),
        name(),
        opt(free_text().prop_map(J::s)),
        opt(metadata),
    )
        .prop_map(|(service, at, email, name, notes, metadata)| {
            J::obj(vec![
                ("service", Some(J::s(service))),
                ("scheduled_at", Some(J::s(at))),
                (
                    "customer",
                    Some(J::obj(vec![
                        ("email", Some(J::s(email))),
                        ("name", Some(J::s(name))),
                    ])),
                ),
                ("notes", notes),
                ("metadata", metadata),
            ])
        })
        .boxed()
}

const EVENTS: [&str; 5] = [
    "booking.created",
    "booking.confirmed",
    "booking.cancelled",
    "booking.rescheduled",
    "booking.completed",
];

fn webhook_body(create: bool) -> BoxedStrategy<J> {
    let url = "(https://[a-z]{1,10}\\.fuzz\\.invalid|https?://127\\.0\\.0\\.1:9|https://\\[::1\\])(:[0-9]{1,5})?(/[a-zA-Z0-9._~%-]{0,12}){0,3}(\\?[a-z=&]{0,10})?"
        .prop_map(J::s);
    let url = if create {
        url.prop_map(Some).boxed()
    } else {
        opt(url)
    };
    let events = prop::sample::subsequence(EVENTS.to_vec(), 0..=5)
        .prop_map(|e| J::Arr(e.into_iter().map(J::s).collect()));
    let description = prop_oneof![free_text().prop_map(J::s), Just(J::Null)];
    let enabled = if create {
        Just(None).boxed()
    } else {
        opt(any::<bool>().prop_map(J::Bool))
    };
    (url, opt(events), opt(description), enabled)
        .prop_map(|(url, events, description, enabled)| {
            J::obj(vec![
                ("url", url),
                ("events", events),
                ("description", description),
                ("enabled", enabled),
            ])
        })
        .boxed()
}

fn calendar_body(fx: &Fixtures) -> BoxedStrategy<J> {
    let token = "[A-Za-z0-9._-]{1,40}".prop_map(J::s);
    let credentials = (
        opt(token.clone()),
        opt(token.clone()),
        opt(token.clone()),
        opt(token),
        opt(instant(fx).prop_map(J::s)),
    )
        .prop_map(|(access, refresh, id, secret, expires)| {
            J::obj(vec![
                ("access_token", access),
                ("refresh_token", refresh),
                ("client_id", id),
                ("client_secret", secret),
                ("expires_at", expires),
            ])
        });
    let ics = "(https|webcal)://[a-z]{1,10}\\.fuzz\\.invalid/[a-z]{0,8}\\.ics"
        .prop_map(|url| J::obj(vec![("type", Some(J::s("ics"))), ("url", Some(J::s(url)))]));
    let google = ("[a-z0-9.@_-]{1,30}", credentials.clone()).prop_map(|(id, c)| {
        J::obj(vec![
            ("type", Some(J::s("google"))),
            ("calendar_id", Some(J::s(id))),
            ("credentials", Some(c)),
        ])
    });
    let other = (
        prop::sample::select(vec!["outlook", "calendly", "caldav", "ICS"]),
        credentials,
    )
        .prop_map(|(kind, c)| J::obj(vec![("type", Some(J::s(kind))), ("credentials", Some(c))]));
    prop_oneof![ics, google, other].boxed()
}

/// Time off between two fixture instants (either order: half of them end
/// before they start), with or without a reason.
fn time_off_body(fx: &Fixtures) -> BoxedStrategy<J> {
    (
        instant(fx),
        instant(fx),
        opt(prop_oneof![free_text().prop_map(J::s), Just(J::Null)]),
    )
        .prop_map(|(start, end, reason)| {
            J::obj(vec![
                ("start", Some(J::s(start))),
                ("end", Some(J::s(end))),
                ("reason", reason),
            ])
        })
        .boxed()
}

/// A hold of a fixture service at a fixture instant, with or without a
/// lifetime (in range or not) and a provider.
fn hold_body(fx: &Fixtures) -> BoxedStrategy<J> {
    (
        prop::sample::select(fx.services.clone()),
        instant(fx),
        opt(
            prop::sample::select(vec!["30", "300", "1800", "29", "1801", "0", "-5", "60.5"])
                .prop_map(|n| J::Num(n.to_owned())),
        ),
        opt(prop::sample::select(fx.providers.clone()).prop_map(J::s)),
    )
        .prop_map(|(service, at, ttl, provider)| {
            J::obj(vec![
                ("service", Some(J::s(service))),
                ("scheduled_at", Some(J::s(at))),
                ("ttl", ttl),
                ("provider_id", provider),
            ])
        })
        .boxed()
}

/// The valid body of the operation's wire type, when it takes one.
fn template(verb: Verb, path: &str, fx: &Fixtures) -> Option<BoxedStrategy<J>> {
    let fx_instant = instant(fx);
    Some(match (verb, path) {
        (Verb::Post, "/v1/providers") => provider_body(true),
        (Verb::Patch, "/v1/providers/{id}") => provider_body(false),
        (Verb::Post, "/v1/services") => service_body(fx, true),
        (Verb::Patch, "/v1/services/{id}") => service_body(fx, false),
        (Verb::Post, "/v1/bookings") => booking_body(fx),
        (Verb::Post, "/v1/bookings/{id}/cancel") => opt(free_text().prop_map(J::s))
            .prop_map(|reason| J::obj(vec![("reason", reason)]))
            .boxed(),
        (Verb::Post, "/v1/bookings/{id}/reschedule") => fx_instant
            .prop_map(|at| J::obj(vec![("scheduled_at", Some(J::s(at)))]))
            .boxed(),
        (Verb::Post, "/v1/manage/{token}/cancel") => opt(free_text().prop_map(J::s))
            .prop_map(|reason| J::obj(vec![("reason", reason)]))
            .boxed(),
        (Verb::Post, "/v1/manage/{token}/reschedule") => fx_instant
            .prop_map(|at| J::obj(vec![("scheduled_at", Some(J::s(at)))]))
            .boxed(),
        // The page's forms (`application/x-www-form-urlencoded`): sent as
        // generated text, without the page's CSRF token, so they are
        // refused in words (or the link is wrong); never a 5xx.
        (Verb::Post, "/manage/{token}/cancel") => free_text().prop_map(J::s).boxed(),
        (Verb::Post, "/manage/{token}/reschedule") => fx_instant
            .prop_map(|at| J::s(format!("scheduled_at={at}")))
            .boxed(),
        (Verb::Post, "/v1/webhooks") => webhook_body(true),
        (Verb::Patch, "/v1/webhooks/{id}") => webhook_body(false),
        (Verb::Post, "/v1/providers/{id}/calendars") => calendar_body(fx),
        (Verb::Post, "/v1/providers/{id}/time-off") => time_off_body(fx),
        (Verb::Post, "/v1/holds") => hold_body(fx),
        // Actions that take no fields: `{}` (anything in it is refused).
        (Verb::Post, "/v1/bookings/{id}/confirm")
        | (Verb::Post, "/v1/bookings/{id}/complete")
        | (Verb::Post, "/v1/providers/{id}/feed/rotate")
        | (Verb::Post, "/v1/webhooks/{id}/rotate-secret")
        | (Verb::Post, "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver")
        | (Verb::Post, "/v1/calendar/sync") => Just(J::obj(vec![])).boxed(),
        _ => return None,
    })
}

// ------------------------------------------------------------------ one generated request

#[derive(Clone, Debug)]
enum Body {
    None,
    Json(J),
    /// JSON text cut short or with bytes inserted.
    Mangled(Vec<u8>),
    Bytes(Vec<u8>),
    /// A JSON object over the 64 KiB limit.
    Huge(usize),
}

#[derive(Clone, Debug)]
enum PathId {
    /// One of the account's own (`Index` into the fixtures).
    Real(Index),
    Other(String),
}

#[derive(Clone, Debug)]
enum QueryValue {
    Good(Index),
    Hostile(String),
}

#[derive(Clone, Debug)]
struct QueryParam {
    /// Index into the operation's parameters, or an unknown name.
    name: Result<Index, String>,
    value: QueryValue,
}

#[derive(Clone, Debug)]
enum Auth {
    Good,
    Missing,
    Other(String),
}

#[derive(Clone, Debug)]
struct Case {
    ids: Vec<PathId>,
    /// A valid `from`/`to` pair (a fixture date and 0-9 days after it),
    /// sent first when the operation takes both.
    range: Option<(Index, i64)>,
    query: Vec<QueryParam>,
    /// Percent-encode the query (else sent raw, as far as a URL allows).
    encode_query: bool,
    body: Body,
    auth: Auth,
    /// `Idempotency-Key`, `If-None-Match`, `X-Request-Id`, `Content-Type`.
    headers: Vec<(&'static str, Vec<u8>)>,
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ -~]{0,40}".prop_map(String::into_bytes),
        Just(b"*".to_vec()),
        Just(b"W/\"x\"".to_vec()),
        Just(b"\"abc\", W/\"def\"".to_vec()),
        (prop::sample::select(vec![1usize, 255, 256, 300])).prop_map(|n| vec![b'k'; n]),
        Just("clé-😀".as_bytes().to_vec()),
        Just(vec![b'a', 0xff, 0xfe]),
        Just(b"a\tb".to_vec()),
        Just(Vec::new()),
    ]
}

fn case_strategy(op: &Op) -> BoxedStrategy<Case> {
    assert_eq!(
        template(op.verb, op.path, &op.fx).is_some(),
        op.spec.body,
        "{} {}: /openapi.json and this test's wire-type templates disagree on a request body",
        op.verb.as_str(),
        op.path
    );
    let params = path_params(op.path).len();
    let id = prop_oneof![
        4 => any::<Index>().prop_map(PathId::Real),
        1 => hostile_string().prop_map(PathId::Other),
    ];
    let ids = prop::collection::vec(id, params..=params);
    let name = if op.spec.query.is_empty() {
        "[a-z_]{1,8}".prop_map(Err).boxed()
    } else {
        prop_oneof![
            5 => any::<Index>().prop_map(Ok),
            1 => prop_oneof!["[a-z_]{1,8}", hostile_string()].prop_map(Err),
        ]
        .boxed()
    };
    let value = prop_oneof![
        3 => any::<Index>().prop_map(QueryValue::Good),
        2 => hostile_string().prop_map(QueryValue::Hostile),
    ];
    let query_len = if op.spec.query.is_empty() { 0..2 } else { 0..6 };
    let query = prop::collection::vec(
        (name, value).prop_map(|(name, value)| QueryParam { name, value }),
        query_len,
    );
    let mangled = |t: BoxedStrategy<J>| {
        (
            t,
            any::<Index>(),
            prop::collection::vec(any::<u8>(), 0..4),
            any::<bool>(),
        )
            .prop_map(|(j, at, insert, cut)| {
                let mut bytes = j.text().into_bytes();
                let i = at.index(bytes.len() + 1);
                if cut {
                    bytes.truncate(i);
                }
                bytes.splice(i.min(bytes.len())..i.min(bytes.len()), insert);
                Body::Mangled(bytes)
            })
    };
    let other = prop_oneof![
        2 => hostile().prop_map(Body::Json),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Body::Bytes),
        1 => prop::sample::select(vec![&b""[..], b" \n", b"{}", b"null", b"[]", b"\"\"", b"0", b"{\"a\":1,}"])
            .prop_map(|b| Body::Bytes(b.to_vec())),
    ];
    let body = match template(op.verb, op.path, &op.fx) {
        Some(t) => prop_oneof![
            12 => (t.clone(), prop::collection::vec(mutation(), 0..4)).prop_map(|(mut j, ms)| {
                for m in &ms {
                    j.apply(m);
                }
                Body::Json(j)
            }),
            4 => other,
            2 => mangled(t),
            1 => prop::sample::select(vec![65_537usize, 70_000]).prop_map(Body::Huge),
        ]
        .boxed(),
        None => prop_oneof![8 => Just(Body::None), 2 => other].boxed(),
    };
    let auth = prop_oneof![
        30 => Just(Auth::Good),
        1 => Just(Auth::Missing),
        1 => prop_oneof![
            Just("Bearer sk_0000000000000000000000000000000000000000".to_owned()),
            Just("Basic dXNlcjpwYXNz".to_owned()),
            Just("Bearer".to_owned()),
            "[ -~]{0,60}",
        ]
        .prop_map(Auth::Other),
    ];
    let header = (
        prop::sample::select(vec![
            "Idempotency-Key",
            "Idempotency-Key",
            "If-None-Match",
            "X-Request-Id",
            "Content-Type",
        ]),
        prop_oneof![
            2 => prop::sample::select(vec![&b"fuzz-1"[..], b"fuzz-2", b"fuzz-3"]).prop_map(<[u8]>::to_vec),
            3 => header_value(),
        ],
    );
    let headers = prop::collection::vec(header, 0..3);
    let ranged = ["from", "to"]
        .iter()
        .all(|p| op.spec.query.iter().any(|q| q == p));
    let range = if ranged {
        prop::option::of((any::<Index>(), 0i64..10)).boxed()
    } else {
        Just(None).boxed()
    };
    (ids, range, query, any::<bool>(), body, auth, headers)
        .prop_map(
            |(ids, range, query, encode_query, body, auth, headers)| Case {
                ids,
                range,
                query,
                encode_query,
                body,
                auth,
                headers,
            },
        )
        .boxed()
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// Text for a URL: long, but with six of them encoded still within what
/// the client sends (a request target of 64 KiB; longer ones are the
/// codec's 414, tested in hostile.rs).
fn capped(text: &str) -> String {
    text.chars().take(1000).collect()
}

/// Percent-encodes all but the unreserved characters.
fn pct(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

// ------------------------------------------------------------------ sending and checking

struct Op {
    verb: Verb,
    path: &'static str,
    spec: Spec,
    fx: Arc<Fixtures>,
}

/// A request as sent.
struct Request {
    method: Method,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
}

/// An answer as read.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Op {
    fn render(&self, case: &Case) -> Request {
        let mut target = String::new();
        let mut ids = case.ids.iter();
        let mut rest = self.path;
        while let Some((before, after)) = rest.split_once('{') {
            target.push_str(before);
            let (param, after) = after.split_once('}').unwrap();
            let id = match ids.next().unwrap() {
                PathId::Real(i) => {
                    let real = self.fx.ids_for(self.path, param);
                    if real.is_empty() {
                        "none".to_owned()
                    } else {
                        i.get(real).clone()
                    }
                }
                PathId::Other(text) => capped(text),
            };
            // An empty segment is another route (`/v1/services/`), and a
            // client removes `.` and `..` segments, even encoded.
            target.push_str(&if matches!(id.as_str(), "" | "." | "..") {
                "0".to_owned()
            } else {
                pct(&id)
            });
            rest = after;
        }
        target.push_str(rest);
        let range = case.range.iter().flat_map(|(i, days)| {
            let from = i.get(&self.fx.dates).clone();
            let date: jiff::civil::Date = from.parse().unwrap();
            let to = add_days(date, *days).to_string();
            [("from".to_owned(), from), ("to".to_owned(), to)]
        });
        let pairs: Vec<(String, String)> = range
            .chain(case.query.iter().map(|q| {
                let name = match &q.name {
                    Ok(i) => i.get(&self.spec.query).clone(),
                    Err(name) => capped(name),
                };
                let value = match &q.value {
                    QueryValue::Good(i) => i.get(&self.fx.query_values(&name)).clone(),
                    QueryValue::Hostile(text) => capped(text),
                };
                (name, value)
            }))
            .collect();
        if !pairs.is_empty() {
            target.push('?');
            let part = |text: &str| {
                if case.encode_query {
                    pct(text)
                } else {
                    // As typed into a URL: only what would end the query escaped.
                    text.replace('#', "%23")
                }
            };
            let query: Vec<String> = pairs
                .iter()
                .map(|(n, v)| format!("{}={}", part(n), part(v)))
                .collect();
            target.push_str(&query.join("&"));
        }
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        match &case.auth {
            Auth::Good => headers.push(("Authorization".into(), Vec::new())),
            Auth::Missing => {}
            Auth::Other(text) => headers.push(("Authorization".into(), text.clone().into_bytes())),
        }
        for (name, value) in &case.headers {
            headers.push(((*name).to_owned(), value.clone()));
        }
        let body = match &case.body {
            Body::None => None,
            Body::Json(j) => Some(j.text().into_bytes()),
            Body::Mangled(b) | Body::Bytes(b) => Some(b.clone()),
            Body::Huge(n) => Some(format!("{{\"name\":\"{}\"}}", "a".repeat(*n)).into_bytes()),
        };
        Request {
            method: Method::from_bytes(self.verb.as_str().as_bytes()).unwrap(),
            target,
            headers,
            body,
        }
    }

    fn check(&self, request: &Request, answer: &Result<Answer, String>) -> Result<(), String> {
        let answer = answer.as_ref()?;
        let status = answer.status;
        let text = String::from_utf8_lossy(&answer.body);
        let shown = format!("{status}: {}", text.chars().take(2000).collect::<String>());
        if status >= 500 {
            return Err(format!("a server error: {shown}"));
        }
        let Some(codes) = self.spec.statuses.get(&status) else {
            return Err(format!(
                "status {status} is not one /openapi.json lists for this operation ({:?}): {shown}",
                self.spec.statuses.keys().collect::<Vec<_>>()
            ));
        };
        if !answer.headers.contains_key("x-request-id") {
            return Err(format!("no X-Request-Id: {shown}"));
        }
        let head = request.method == Method::HEAD;
        if status < 400 {
            let json = answer
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("application/json"));
            if status == 204 && !answer.body.is_empty() {
                return Err(format!("204 with a body: {shown}"));
            }
            if json && !head && serde_json::from_slice::<Value>(&answer.body).is_err() {
                return Err(format!("a JSON answer that is not JSON: {shown}"));
            }
            return Ok(());
        }
        if head {
            return Ok(());
        }
        // The customer page answers its errors as pages, in words.
        if request.target.starts_with("/manage/") {
            let html = answer
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("text/html"));
            if !html || !text.contains("<h1>") {
                return Err(format!("a page error that is not a page: {shown}"));
            }
            return Ok(());
        }
        let body: Value = serde_json::from_slice(&answer.body)
            .map_err(|_| format!("an error that is not JSON: {shown}"))?;
        let top = body
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| format!("not in the error shape: {shown}"))?;
        let error = top
            .get("error")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("no `error` object: {shown}"))?;
        if error
            .keys()
            .any(|k| !["code", "message", "details"].contains(&k.as_str()))
        {
            return Err(format!("extra members in `error`: {shown}"));
        }
        let code = error
            .get("code")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no error.code: {shown}"))?;
        if error
            .get("message")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!("no error.message: {shown}"));
        }
        if error.get("details").is_some_and(|d| !d.is_object()) {
            return Err(format!("error.details is not an object: {shown}"));
        }
        if !KNOWN_CODES.contains(&code) {
            return Err(format!("unknown error code {code}: {shown}"));
        }
        if !codes.contains(code) {
            return Err(format!(
                "code {code} is not one /openapi.json gives for {status} here ({codes:?}): {shown}"
            ));
        }
        if code == "VALIDATION_ERROR"
            && error["details"]["field"].as_str().is_none_or(str::is_empty)
        {
            return Err(format!("a VALIDATION_ERROR without details.field: {shown}"));
        }
        if status == 429 && !answer.headers.contains_key("retry-after") {
            return Err(format!("429 without Retry-After: {shown}"));
        }
        if status == 401 && !answer.headers.contains_key("www-authenticate") {
            return Err(format!("401 without WWW-Authenticate: {shown}"));
        }
        Ok(())
    }
}

impl Request {
    async fn send(&self, api: &Api) -> Result<Answer, String> {
        let mut req = api.client.request(
            self.method.clone(),
            format!("{}{}", api.base_url, self.target),
        );
        for (name, value) in &self.headers {
            if name == "Authorization" && value.is_empty() {
                req = req.bearer_auth(&api.key);
                continue;
            }
            // Bytes a header cannot carry are left out (not this test's subject).
            if let Ok(value) = reqwest::header::HeaderValue::from_bytes(value) {
                req = req.header(name.as_str(), value);
            }
        }
        if let Some(body) = &self.body {
            req = req.body(body.clone());
        }
        let res = req.send().await.map_err(|e| {
            let e: String = format!("{e:?}").chars().take(500).collect();
            format!("no answer (a panic or a dropped connection?): {e}")
        })?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res
            .bytes()
            .await
            .map_err(|e| format!("the answer was cut short: {e:?}"))?
            .to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target: String = self.target.chars().take(300).collect();
        let more = self.target.len() - target.len();
        if more > 0 {
            writeln!(f, "{} {target}… ({more} more bytes)", self.method)?;
        } else {
            writeln!(f, "{} {target}", self.method)?;
        }
        for (name, value) in &self.headers {
            if name == "Authorization" && value.is_empty() {
                writeln!(f, "Authorization: Bearer <the account's key>")?;
            } else {
                writeln!(
                    f,
                    "{name}: {}",
                    String::from_utf8_lossy(value).escape_debug()
                )?;
            }
        }
        match &self.body {
            None => write!(f, "(no body)"),
            Some(b) if b.len() > 4096 => write!(
                f,
                "({} bytes: {}…)",
                b.len(),
                String::from_utf8_lossy(&b[..200])
            ),
            Some(b) => match std::str::from_utf8(b) {
                Ok(text) => write!(f, "\n{text}"),
                Err(_) => write!(f, "\n(bytes) {b:?}"),
            },
        }
    }
}
