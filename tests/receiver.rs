//! A webhook receiver for tests: a real HTTP/1.1 server on 127.0.0.1 that
//! records every request (headers and body, with its arrival instant) and
//! answers with a scripted status per request. Keep-alive is supported, so
//! it behaves like a production receiver behind a connection pool.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One received request.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// Raw body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
    /// The status it was answered with.
    pub status: u16,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    /// A header.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// A plain answer with this status.
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            body: Vec::new(),
        }
    }

    /// With this body (and its content type).
    pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Answer {
        self.headers
            .push(("content-type".to_owned(), content_type.to_owned()));
        self.body = body.into();
        self
    }

    /// With a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Answered after `delay`.
    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    connections: usize,
    script: VecDeque<Answer>,
    default: Option<Answer>,
    routes: Vec<(String, Answer)>,
}

/// The receiver; dropping it stops accepting connections.
pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts a receiver that answers 200 unless scripted otherwise.
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.lock().unwrap().connections += 1;
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Receiver {
            base_url,
            state,
            task,
        }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Answers the next requests with these, in order (then the default).
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.lock().unwrap().script.extend(answers);
    }

    /// Answers every unscripted request with this (200 when unset).
    pub fn always(&self, answer: Answer) {
        self.state.lock().unwrap().default = Some(answer);
    }

    /// Answers every unscripted request whose path starts with `prefix`
    /// with this (the last matching route wins; before the default).
    pub fn route(&self, prefix: &str, answer: Answer) {
        self.state
            .lock()
            .unwrap()
            .routes
            .push((prefix.to_owned(), answer));
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// How many requests were received so far (cheap: nothing is copied).
    pub fn count(&self) -> usize {
        self.state.lock().unwrap().received.len()
    }

    /// How many connections were accepted so far (a client that pools
    /// connections well opens few).
    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Everything received so far, moved out: later calls (and
    /// [`Receiver::received`]) only see what arrives afterwards. For long
    /// runs (benchmarks) that should not copy or keep every request.
    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut self.state.lock().unwrap().received)
    }

    /// Waits until `done` holds for what was received, or panics after `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            if Instant::now() > deadline {
                let summary: Vec<String> = got
                    .iter()
                    .map(|r| format!("{} {}", r.header("webhook-id"), r.status))
                    .collect();
                panic!("receiver: {what} not seen within {timeout:?}; got {summary:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for `n` requests in all.
    pub async fn wait_count(&self, n: usize, timeout: Duration) -> Vec<Received> {
        self.wait_for(timeout, &format!("{n} requests"), |r| r.len() >= n)
            .await
    }
}

async fn serve(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).await?;
        let at = Instant::now();
        let answer = {
            let mut s = state.lock().unwrap();
            let routed = s
                .routes
                .iter()
                .rev()
                .find(|(prefix, _)| path.starts_with(prefix.as_str()))
                .map(|(_, a)| a.clone());
            let answer = s
                .script
                .pop_front()
                .or(routed)
                .or_else(|| s.default.clone())
                .unwrap_or_else(|| Answer::status(200));
            s.received.push(Received {
                path,
                headers,
                body,
                at,
                status: answer.status,
            });
            answer
        };
        if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            answer.status,
            answer.body.len()
        );
        for (k, v) in &answer.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        write.write_all(head.as_bytes()).await?;
        write.write_all(&answer.body).await?;
    }
}
