//! The customer page (`/manage/{token}`, issue 16): its headers, markup and
//! form checks over plain HTTP, and in a real browser (headless Chromium
//! over WebDriver): cancel through the form (the booking is cancelled and
//! the webhook says `actor: customer`), and move a booking by picking a
//! listed time. Screenshots go to `target/manage-*.png` in the workspace.
//!
//! The browser tests need Debian's `chromium` and `chromium-driver`
//! (`scripts/test-browser.sh` installs them and exports `CHROMEDRIVER`).
//! Without a driver they are skipped with a message, unless `CI` or
//! `BOOKING_REQUIRE_BROWSER` is set: then they fail.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use booking_tests::receiver::Receiver;
use booking_tests::{Resp, TestServer, future_monday, ny};
use serde_json::{Value, json};

const HOOKS: &[(&str, &str)] = &[
    ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s"),
    ("BOOKING_WEBHOOK_TIMEOUT", "2s"),
];

/// A booking of the seed service on the next suitable Monday at `hour`
/// (New York); the booking and its link's path (`/manage/...`).
async fn booked(server: &TestServer, hour: i8, name: &str) -> (Value, String) {
    let api = server.api("acme");
    let body = json!({
        "service": "srv_consultation",
        "scheduled_at": ny(future_monday(), hour, 0),
        "customer": {"email": "customer@example.com", "name": name}
    });
    let booking = api
        .post("/v1/bookings", &body)
        .await
        .expect_status(201)
        .json;
    let url = booking["manage_url"].as_str().unwrap().to_owned();
    let path = url.strip_prefix(&server.base_url).unwrap().to_owned();
    (booking, path)
}

async fn get(server: &TestServer, path: &str) -> Resp {
    Resp::from(server.client().get(server.url(path))).await
}

async fn post_form(server: &TestServer, path: &str, form: &str, origin: Option<&str>) -> Resp {
    let mut req = server
        .client()
        .post(server.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned());
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    Resp::from(req).await
}

/// The value of the page's hidden CSRF field.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_is_safe_accessible_and_escaped() {
    let server = TestServer::start();
    let api = server.api("acme");
    api.create_seed_service().await;
    let (_, path) = booked(&server, 10, "<script>alert(1)</script> & Co").await;
    let page = get(&server, &path).await.expect_status(200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "no script is allowed: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("form-action 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("name=\"viewport\""));
    assert!(html.contains("<h1>Your booking</h1>"));
    assert!(!html.contains("<script"), "nothing unescaped: {html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
    // In the service's zone, named; every field labelled.
    assert!(html.contains("America/New_York"));
    assert!(html.contains(", 10:00 to 11:00"), "{html}");
    assert!(html.contains("<label for=\"reason\">"));
    assert!(html.contains("<legend>Choose a new time"));
    let radios = html.matches("type=\"radio\"").count();
    assert!(radios > 0 && radios == html.matches("<label for=\"t").count());
    // The style sheet it names is served.
    let css = get(&server, "/manage/assets/page.css")
        .await
        .expect_status(200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    // A wrong link is a page too, in words.
    let wrong = get(&server, &format!("/manage/{:0>32}", 1)).await;
    assert_eq!(wrong.status.as_u16(), 404);
    assert!(wrong.text().contains("Link not found"));
    assert!(wrong.header("content-security-policy").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn forms_refuse_other_sites_and_explain_errors_in_words() {
    let server = TestServer::start();
    let api = server.api("acme");
    api.create_seed_service().await;
    let (booking, path) = booked(&server, 10, "Ada").await;
    // Another booking takes 12:00.
    booked(&server, 12, "Bob").await;
    let html = get(&server, &path).await.expect_status(200).text();
    let token = csrf(&html);
    let id = booking["id"].as_str().unwrap();

    // No CSRF token, a wrong one, or another site's Origin: nothing changes.
    for (form, origin) in [
        (form_encode(&[("reason", "x")]), None),
        (form_encode(&[("csrf", "nope"), ("reason", "x")]), None),
        (
            form_encode(&[("csrf", &token), ("reason", "x")]),
            Some("https://evil.example"),
        ),
    ] {
        let res = post_form(&server, &format!("{path}/cancel"), &form, origin).await;
        assert_eq!(res.status.as_u16(), 400, "{}", res.text());
        assert!(
            res.text()
                .contains("This form has expired or came from another site")
        );
    }
    // No time chosen; a taken time.
    let res = post_form(
        &server,
        &format!("{path}/reschedule"),
        &form_encode(&[("csrf", &token)]),
        Some(&server.base_url),
    )
    .await;
    assert_eq!(res.status.as_u16(), 400);
    assert!(
        res.text()
            .contains("Please choose one of the listed times.")
    );
    let res = post_form(
        &server,
        &format!("{path}/reschedule"),
        &form_encode(&[
            ("csrf", &token),
            ("scheduled_at", &ny(future_monday(), 12, 0)),
        ]),
        Some(&server.base_url),
    )
    .await;
    assert_eq!(res.status.as_u16(), 409);
    assert!(res.text().contains("That time is no longer free."));
    assert_eq!(
        api.get(&format!("/v1/bookings/{id}")).await.json["status"],
        "pending"
    );
    // Past the cutoff, the page says so instead of offering the form.
    api.patch(
        "/v1/services/srv_consultation",
        &json!({"cancel_cutoff": 43200}),
    )
    .await
    .expect_status(200);
    let html = get(&server, &path).await.text();
    assert!(html.contains("It is too late to cancel this booking online."));
    let res = post_form(
        &server,
        &format!("{path}/cancel"),
        &form_encode(&[("csrf", &token)]),
        Some(&server.base_url),
    )
    .await;
    assert_eq!(res.status.as_u16(), 409);
    assert!(
        res.text()
            .contains("It is too late to cancel this booking online.")
    );
    // The page's own post works (a redirect to the confirmation).
    api.patch(
        "/v1/services/srv_consultation",
        &json!({"cancel_cutoff": 0}),
    )
    .await
    .expect_status(200);
    let res = post_form(
        &server,
        &format!("{path}/cancel"),
        &form_encode(&[("csrf", &token), ("reason", "Line one\r\nline two")]),
        Some(&server.base_url),
    )
    .await;
    assert_eq!(res.status.as_u16(), 303);
    assert_eq!(
        res.header("location"),
        Some(format!("{path}/cancelled").as_str())
    );
    let stored = api.get(&format!("/v1/bookings/{id}")).await.json;
    assert_eq!(stored["status"], "cancelled");
    assert_eq!(stored["cancel_reason"], "Line one\nline two");
}

// ------------------------------------------------------------- the browser

/// Whether a variable is set to something that means yes.
fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// The chromedriver to use, or `None` (the test is skipped) when none is
/// installed and nothing requires the browser tests.
fn chromedriver() -> Option<PathBuf> {
    let found = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        })
        .filter(|p| p.exists());
    if found.is_none() {
        assert!(
            !required("CI") && !required("BOOKING_REQUIRE_BROWSER"),
            "no chromedriver: run the tests through scripts/test-browser.sh (make test does), \
             or install Debian's chromium and chromium-driver"
        );
        eprintln!("skipped: no chromedriver (run scripts/test-browser.sh)");
    }
    found
}

/// Where screenshots go: the workspace's `target/`.
fn screenshot_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("manage-{name}.png"))
}

/// A chromedriver process and one headless Chromium session, spoken to
/// with plain WebDriver (W3C) HTTP calls.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    async fn start(driver: &PathBuf) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success());
            if ready == Some(true) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=390,844"]
        });
        if let Some(binary) = binary {
            options["binary"] = json!(binary);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"))
            .to_owned();
        Browser {
            driver: child,
            base,
            session,
            http,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(
            res["value"].get("error").is_none(),
            "WebDriver {path}: {res}"
        );
        res["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
            .collect()
    }

    async fn attribute(&self, element: &str, name: &str) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Waits until the current URL satisfies `done`.
    async fn wait_url(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.url().await;
            if done(&url) {
                return url;
            }
            if Instant::now() > deadline {
                panic!("{what}: still at {url}: {}", self.source().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the viewport.
    async fn screenshot(&self, name: &str) {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(screenshot_path(name), bytes).unwrap();
    }

    async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_cancels_in_a_real_browser() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(HOOKS);
    let api = server.api("acme");
    api.create_seed_service().await;
    api.post("/v1/webhooks", &json!({"url": receiver.url("/hook")}))
        .await
        .expect_status(201);
    let (booking, _) = booked(&server, 10, "Ada Lovelace").await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let browser = Browser::start(&driver).await;
    browser.goto(booking["manage_url"].as_str().unwrap()).await;
    let source = browser.source().await;
    assert!(source.contains("Your booking"), "{source}");
    assert!(source.contains("Ada Lovelace"));
    browser.screenshot("page").await;

    let reason = browser.find("#reason").await;
    browser.type_into(&reason, "Something came up").await;
    let button = browser.find("form[action$=\"/cancel\"] button").await;
    browser.click(&button).await;
    browser
        .wait_url("the confirmation", |u| u.ends_with("/cancelled"))
        .await;
    assert!(
        browser
            .source()
            .await
            .contains("Your booking has been cancelled.")
    );
    browser.screenshot("cancelled").await;
    browser.quit().await;

    let stored = api.get(&format!("/v1/bookings/{id}")).await.json;
    assert_eq!(stored["status"], "cancelled");
    assert_eq!(stored["cancel_reason"], "Something came up");
    let got = receiver
        .wait_for(Duration::from_secs(20), "booking.cancelled", |r| {
            r.iter().any(|x| x.json()["event"] == "booking.cancelled")
        })
        .await;
    let hook = got
        .iter()
        .map(|r| r.json())
        .find(|j| j["event"] == "booking.cancelled")
        .unwrap();
    assert_eq!(hook["actor"], "customer");
    assert_eq!(hook["data"]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_moves_a_booking_in_a_real_browser() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let server = TestServer::start();
    let api = server.api("acme");
    api.create_seed_service().await;
    let (booking, _) = booked(&server, 10, "Grace Hopper").await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let browser = Browser::start(&driver).await;
    browser.goto(booking["manage_url"].as_str().unwrap()).await;
    // Pick a listed time other than the current one.
    let radios = browser.find_all("input[name=\"scheduled_at\"]").await;
    assert!(!radios.is_empty(), "no free times listed");
    let mut chosen = None;
    for radio in &radios {
        let value = browser.attribute(radio, "value").await;
        if value != booking["scheduled_at"].as_str().unwrap() {
            chosen = Some((radio.clone(), value));
            break;
        }
    }
    let (radio, value) = chosen.expect("another free time");
    browser.click(&radio).await;
    browser.screenshot("reschedule-picked").await;
    let button = browser.find("form[action$=\"/reschedule\"] button").await;
    browser.click(&button).await;
    browser
        .wait_url("back on the page", |u| u.contains("done=rescheduled"))
        .await;
    let source = browser.source().await;
    assert!(
        source.contains("Your booking has been moved to the new time."),
        "{source}"
    );
    browser.screenshot("rescheduled").await;
    browser.quit().await;

    let stored = api.get(&format!("/v1/bookings/{id}")).await.json;
    assert_eq!(stored["scheduled_at"], value.as_str());
    assert_eq!(stored["status"], "pending");
    assert_eq!(stored["sequence"], Value::Null, "not part of the answer");
}
