//! A scripted HTTP/1.1 server on 127.0.0.1 for the ICS adapter: one request
//! per connection, answers scripted per path, every request recorded, and
//! bodies that can be streamed without a `Content-Length` (to check that
//! the size limit holds while reading, not after).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// Path and query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
}

impl Request {
    /// A header's value, if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A body.
#[derive(Debug, Clone)]
pub enum Body {
    /// Sent with its `Content-Length`.
    Bytes(Vec<u8>),
    /// `total` bytes of calendar-looking text, streamed without a
    /// `Content-Length` and ended by closing the connection.
    Stream { total: usize },
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    delay: Duration,
}

impl Reply {
    /// A status with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
            delay: Duration::ZERO,
        }
    }

    /// 200 with a calendar body.
    pub fn calendar(text: &str) -> Reply {
        Reply::status(200)
            .header("content-type", "text/calendar; charset=utf-8")
            .body(Body::Bytes(text.as_bytes().to_vec()))
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status).header("location", location)
    }

    /// With a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// With a body.
    pub fn body(mut self, body: Body) -> Reply {
        self.body = body;
        self
    }

    /// Answered after `delay`.
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, VecDeque<Reply>>,
    defaults: HashMap<String, Reply>,
    requests: Vec<Request>,
    streamed: usize,
    /// Streamed answers that are over (written to the end, or cut off by the
    /// client hanging up).
    streams_ended: usize,
}

/// The server; dropping it stops accepting connections.
pub struct Server {
    base: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Starts a server answering 404 to every path until told otherwise.
    pub async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Server { base, state, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers the next requests for `path` with these, in order.
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .entry(path.to_owned())
            .or_default()
            .extend(replies);
    }

    /// Answers unscripted requests for `path` with this.
    pub fn always(&self, path: &str, reply: Reply) {
        self.state
            .lock()
            .unwrap()
            .defaults
            .insert(path.to_owned(), reply);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Body bytes written by streamed answers before the client hung up.
    pub fn streamed(&self) -> usize {
        self.state.lock().unwrap().streamed
    }

    /// Whether a streamed answer is over: the server stopped writing it,
    /// because it was complete or because the client hung up.
    pub fn stream_ended(&self) -> bool {
        self.state.lock().unwrap().streams_ended > 0
    }
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return String::from_utf8(buf).ok();
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some(head) = read_head(&mut stream).await else {
        return Ok(());
    };
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let reply = {
        let mut s = state.lock().unwrap();
        s.requests.push(Request {
            path: path.clone(),
            headers,
        });
        let scripted = s.scripts.get_mut(&path).and_then(VecDeque::pop_front);
        scripted
            .or_else(|| s.defaults.get(&path).cloned())
            .unwrap_or_else(|| Reply::status(404))
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut out = format!("HTTP/1.1 {} X\r\nconnection: close\r\n", reply.status);
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    match reply.body {
        Body::Bytes(bytes) => {
            out.push_str(&format!("content-length: {}\r\n\r\n", bytes.len()));
            stream.write_all(out.as_bytes()).await?;
            stream.write_all(&bytes).await?;
        }
        Body::Stream { total } => {
            out.push_str("\r\n");
            stream.write_all(out.as_bytes()).await?;
            stream
                .write_all(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
                .await?;
            let line = b"X-PADDING:0123456789012345678901234567890123456789012345678901234567\r\n";
            let chunk: Vec<u8> = line
                .iter()
                .copied()
                .cycle()
                .take(line.len() * 1024)
                .collect();
            let mut sent = 0;
            let mut written = Ok(());
            while sent < total && written.is_ok() {
                written = stream.write_all(&chunk).await;
                if written.is_ok() {
                    sent += chunk.len();
                    state.lock().unwrap().streamed = sent;
                }
            }
            state.lock().unwrap().streams_ended += 1;
            written?;
        }
    }
    stream.shutdown().await
}
