//! The connection under actix's HTTP/1 codec: its own error answers in the
//! contract's error shape.
//!
//! actix-http answers a request head it cannot parse by itself, before any
//! middleware or route runs: `400 Bad Request` for a malformed head (a
//! request target over the `http` crate's 65,534 bytes among others) and
//! `431 Request Header Fields Too Large` for more than 96 header fields or a
//! head over 128 KiB, both with an empty body, and then closes the
//! connection. Neither limit can be configured (`MAX_HEADERS` is a constant
//! of actix-http, the URI limit one of `http`), and the dispatcher offers no
//! hook for these answers.
//!
//! [`Guarded`] wraps each accepted connection. Bytes pass through unchanged,
//! except the head of such a codec answer (recognised by its exact status
//! line followed by `content-length: 0`, which no answer of the application
//! has: its errors all carry a JSON body), which is replaced by a complete
//! answer from [`ApiError::codec_answer`]: 414 URI_TOO_LONG when the request
//! line is what overflowed, 431 REQUEST_HEADER_FIELDS_TOO_LARGE, or 400
//! VALIDATION_ERROR, each with `X-Request-Id` and `Connection: close`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ApiError;
use crate::middleware::new_id;

/// The longest request target the `http` crate parses (`u16::MAX - 1`):
/// a request line at least this long is what made the head fail.
const MAX_TARGET: usize = 65_534;

/// The answers actix-http writes on its own, by their first line.
const CODEC_ANSWERS: &[(&[u8], StatusCode)] = &[
    (b"400 Bad Request\r\n", StatusCode::BAD_REQUEST),
    (
        b"431 Request Header Fields Too Large\r\n",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    ),
];

/// A connection whose codec error answers are rewritten into the error
/// shape (see the module documentation).
pub struct Guarded<T> {
    /// The connection; taken by the lingering close when dropped.
    io: Option<T>,
    /// The request line since the last answer began.
    line: RequestLine,
    /// A replacement answer, and how much of it is written.
    pending: Vec<u8>,
    sent: usize,
    /// Starts the lingering close of a connection dropped after a
    /// replacement, with what is left of the replacement to write.
    linger: fn(T, Vec<u8>),
}

impl<T> std::fmt::Debug for Guarded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("line", &self.line)
            .field("replaced", &!self.pending.is_empty())
            .finish_non_exhaustive()
    }
}

/// The length of the first line read since the last answer began (the
/// request line), and whether it has ended.
#[derive(Debug, Default)]
struct RequestLine {
    len: usize,
    done: bool,
}

impl RequestLine {
    /// Counts the request line in bytes just read.
    fn saw(&mut self, bytes: &[u8]) {
        if self.done {
            return;
        }
        match bytes.iter().position(|&b| b == b'\n') {
            Some(at) => {
                self.len += at;
                self.done = true;
            }
            None => self.len += bytes.len(),
        }
    }
}

/// How long a refused client may keep sending before the connection closes.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
/// How much it may send meanwhile.
const LINGER_BYTES: usize = 1 << 20;

/// The lingering close after a replacement answer. The codec closes the
/// connection right after its answer, often while the client is still
/// sending the head it refused, and closing a socket with unread input
/// resets the connection, which can destroy the answer before the client
/// reads it. So what is left of the answer is written, the write side is
/// shut, then input is read and dropped until the client closes, [`LINGER`]
/// has passed or [`LINGER_BYTES`] were read, in a task of its own on the
/// worker's runtime.
fn linger<T: AsyncRead + AsyncWrite + Unpin + Send + 'static>(mut io: T, unsent: Vec<u8>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let drain = async {
            let mut sent = 0;
            while sent < unsent.len() {
                let n =
                    std::future::poll_fn(|cx| Pin::new(&mut io).poll_write(cx, &unsent[sent..]))
                        .await?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                sent += n;
            }
            std::future::poll_fn(|cx| Pin::new(&mut io).poll_shutdown(cx)).await?;
            let mut scratch = [0u8; 8192];
            let mut dropped = 0;
            while dropped <= LINGER_BYTES {
                let mut buf = ReadBuf::new(&mut scratch);
                std::future::poll_fn(|cx| Pin::new(&mut io).poll_read(cx, &mut buf)).await?;
                if buf.filled().is_empty() {
                    break;
                }
                dropped += buf.filled().len();
            }
            Ok::<_, io::Error>(())
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    });
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Guarded<T> {
    /// Wraps an accepted connection.
    pub fn new(io: T) -> Self {
        Guarded {
            io: Some(io),
            line: RequestLine::default(),
            pending: Vec::new(),
            sent: 0,
            linger: linger::<T>,
        }
    }
}

impl<T> Drop for Guarded<T> {
    fn drop(&mut self) {
        if !self.pending.is_empty()
            && let Some(io) = self.io.take()
        {
            let unsent = self.pending.get(self.sent..).unwrap_or_default().to_vec();
            (self.linger)(io, unsent);
        }
    }
}

impl<T> Guarded<T> {
    /// The connection, while it is not dropped.
    fn io(&mut self) -> io::Result<Pin<&mut T>>
    where
        T: Unpin,
    {
        self.io
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    /// The answer replacing a codec answer of `status`.
    fn replacement(&self, status: StatusCode, date: Option<&[u8]>) -> Vec<u8> {
        let line_too_long = self.line.len >= MAX_TARGET;
        let error = ApiError::codec_answer(status, line_too_long);
        let request_id = new_id();
        tracing::info!(
            request_id = %request_id,
            status = error.status.as_u16(),
            code = error.code,
            "request head refused by the HTTP parser"
        );
        error.http1_bytes(&request_id, date)
    }
}

/// Where a codec answer starts in `buf`, its status and the length of its
/// head, and the value of its `date` header.
fn find_codec_answer(buf: &[u8]) -> Option<(usize, StatusCode, usize, Option<&[u8]>)> {
    // Answers are scanned on every write (a large JSON body too), so the
    // search for a status line is memchr's vectorised one, not a byte loop
    // (which was a fifth of the CPU of a 120 KB availability answer).
    for at in memchr::memmem::find_iter(buf, b"HTTP/1.") {
        let rest = &buf[at..];
        let Some(after_version) = rest
            .strip_prefix(b"HTTP/1.1 ")
            .or_else(|| rest.strip_prefix(b"HTTP/1.0 "))
        else {
            continue;
        };
        let Some((line, status)) = CODEC_ANSWERS
            .iter()
            .find(|(line, _)| after_version.starts_with(line))
        else {
            continue;
        };
        let headers = &after_version[line.len()..];
        if !headers.starts_with(b"content-length: 0\r\n") {
            continue;
        }
        let Some(end) = headers.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head_len = (rest.len() - headers.len()) + end + 4;
        let date = headers[..end + 2]
            .split(|&b| b == b'\n')
            .find_map(|h| h.strip_prefix(b"date: "))
            .map(|v| v.strip_suffix(b"\r").unwrap_or(v));
        return Some((at, *status, head_len, date));
    }
    None
}

impl<T: AsyncWrite + Unpin> Guarded<T> {
    /// Writes what is left of a replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let io = self.io.as_mut().ok_or(io::ErrorKind::NotConnected)?;
            let n = ready!(Pin::new(io).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Ok(()).into()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(this.io()?.poll_read(cx, buf))?;
        this.line.saw(&buf.filled()[before..]);
        Ok(()).into()
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        match find_codec_answer(buf) {
            Some((0, status, head_len, date)) => {
                this.pending = this.replacement(status, date);
                this.sent = 0;
                // The codec's head counts as written; the replacement goes
                // out now or on the next write, flush or shutdown.
                if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(head_len))
            }
            // Answers before it go out first, unchanged.
            Some((at, ..)) => this.io()?.poll_write(cx, &buf[..at]),
            None => {
                let n = ready!(this.io()?.poll_write(cx, buf))?;
                if buf.starts_with(b"HTTP/1.") {
                    // An answer began: the next request line starts afresh.
                    this.line = RequestLine::default();
                }
                Poll::Ready(Ok(n))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        this.io()?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        this.io()?.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8] = b"date: Sun, 06 Dec 2026 16:32:26 GMT\r\n\r\n";

    fn head(line: &[u8], close: bool) -> Vec<u8> {
        let mut out = b"HTTP/1.1 ".to_vec();
        out.extend_from_slice(line);
        out.extend_from_slice(b"content-length: 0\r\n");
        if close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(DATE);
        out
    }

    #[test]
    fn finds_the_codec_answers_and_nothing_else() {
        let bad = head(b"400 Bad Request\r\n", true);
        let (at, status, len, date) = find_codec_answer(&bad).unwrap();
        assert_eq!((at, status, len), (0, StatusCode::BAD_REQUEST, bad.len()));
        assert_eq!(date, Some(&b"Sun, 06 Dec 2026 16:32:26 GMT"[..]));

        let mut pipelined = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec();
        let first = pipelined.len();
        pipelined.extend(head(b"431 Request Header Fields Too Large\r\n", false));
        let (at, status, ..) = find_codec_answer(&pipelined).unwrap();
        assert_eq!(
            (at, status),
            (first, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );

        // The application's own 400s carry a body.
        let app = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 97\r\n\r\n{}";
        assert!(find_codec_answer(app).is_none());
        assert!(
            find_codec_answer(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").is_none()
        );
    }

    #[test]
    fn the_request_line_is_measured_until_an_answer_begins() {
        let mut line = RequestLine::default();
        line.saw(b"GET /aaaa");
        line.saw(b"aaaa HTTP/1.1\r\nHost: x\r\n");
        assert_eq!((line.len, line.done), (23, true));
        line.saw(b"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        assert_eq!(line.len, 23);
    }
}
