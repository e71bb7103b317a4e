//! Raw HTTP/1.1 over TCP, and curl: the tests' own clients, so every byte on the wire is
//! the test's choice.
//!
//! - [`Conn`]: one TCP connection: [`Conn::send`] raw bytes, [`Conn::read_response`]
//!   (Content-Length, chunked, or until close) → [`HttpResponse`], [`Conn::closed_within`].
//! - [`http(addr, raw)`](http): one request on a fresh connection; [`get`]: a GET's status
//!   and body text. [`get_req`], [`post_req`] build raw requests.
//! - [`curl(args)`](curl): run curl with `--silent --show-error --max-time 10`.
//! - [`base64`] (in-process), [`pct_encode`], [`get_path_of`]: RFC 6960 GET paths.
//! - [`MALFORMED`], [`UNAUTHORIZED`], [`TRY_LATER`]: the unsigned error responses' bytes;
//!   [`parse_basic`]: decode a successful response.
//! - [`FakeResponder`]: a one-connection HTTP server that answers fixed bytes (or never)
//!   and reports the request head it read.

use crate::openssl::require_tools;
use crate::process::{run, CMD_TIMEOUT};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `OCSPResponse { responseStatus malformedRequest }`, unsigned.
pub const MALFORMED: [u8; 5] = [0x30, 0x03, 0x0a, 0x01, 0x01];
/// `OCSPResponse { responseStatus unauthorized }`, unsigned.
pub const UNAUTHORIZED: [u8; 5] = [0x30, 0x03, 0x0a, 0x01, 0x06];
/// `OCSPResponse { responseStatus tryLater }`, unsigned.
pub const TRY_LATER: [u8; 5] = [0x30, 0x03, 0x0a, 0x01, 0x03];

/// An HTTP response read from a raw connection.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// `HTTP/1.1`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// Header names (lower-case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One raw TCP connection speaking HTTP/1.1.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    /// Connect, with 10 s read and write timeouts.
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .and_then(|()| s.set_write_timeout(Some(Duration::from_secs(10))))
            .unwrap_or_else(|e| panic!("cannot set socket timeouts: {e}"));
        Conn {
            reader: BufReader::new(s),
        }
    }

    /// The socket.
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Write bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        let s = self.reader.get_mut();
        s.write_all(bytes)
            .and_then(|()| s.flush())
            .unwrap_or_else(|e| panic!("cannot send {} bytes: {e}", bytes.len()));
    }

    /// Write bytes; the error if the peer stops reading or closes (for hostile sends).
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let s = self.reader.get_mut();
        s.write_all(bytes).and_then(|()| s.flush())
    }

    /// Read one response; `head` when it answers a HEAD request (no body).
    pub fn read_response(&mut self, head: bool) -> std::io::Result<HttpResponse> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            ));
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if self.reader.read_line(&mut h)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed inside the headers",
                ));
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            match h.split_once(':') {
                Some((n, v)) => headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string())),
                None => return Err(std::io::Error::other(format!("bad header line {h:?}"))),
            }
        }
        let mut resp = HttpResponse {
            version,
            status,
            headers,
            body: Vec::new(),
        };
        if head || status == 304 || status == 204 || (100..200).contains(&status) {
            return Ok(resp);
        }
        if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                    .map_err(|_| std::io::Error::other("bad chunk size"))?;
                let mut chunk = vec![0u8; n + 2];
                self.reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                resp.body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(len) = resp.header("content-length") {
            let n: usize = len
                .parse()
                .map_err(|_| std::io::Error::other("bad content-length"))?;
            let mut body = vec![0u8; n];
            self.reader.read_exact(&mut body)?;
            resp.body = body;
        } else {
            self.reader.read_to_end(&mut resp.body)?;
        }
        Ok(resp)
    }

    /// Whether the peer closes (EOF or reset) within `within`; bytes before the close (such
    /// as a 408) are allowed.
    pub fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let _ = self
            .reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = [0u8; 256];
        let closed = loop {
            match self.reader.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if Instant::now() > deadline {
                        break false;
                    }
                }
                Err(_) => break true,
            }
        };
        let _ = self
            .reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(10)));
        closed
    }
}

/// Send `raw` on a new connection and read one response.
pub fn http(addr: SocketAddr, raw: &[u8]) -> HttpResponse {
    let mut c = Conn::open(addr);
    c.send(raw);
    c.read_response(raw.starts_with(b"HEAD "))
        .unwrap_or_else(|e| panic!("no response to {:?}: {e}", String::from_utf8_lossy(raw)))
}

/// `GET path` on a fresh connection: status and body as text.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let resp = http(addr, &get_req(path, &["Connection: close"]));
    (
        resp.status,
        String::from_utf8_lossy(&resp.body).into_owned(),
    )
}

/// A raw `GET path` (HTTP/1.1) with extra header lines (`Name: value`).
pub fn get_req(path: &str, headers: &[&str]) -> Vec<u8> {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// A raw `POST path` of an OCSP request body (HTTP/1.1).
pub fn post_req(path: &str, body: &[u8], headers: &[&str]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for h in headers {
        r.extend_from_slice(h.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(body);
    r
}

/// Run `curl --silent --show-error --max-time 10 ARGS`.
pub fn curl(args: &[&str]) -> Output {
    require_tools();
    run(
        Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "10"])
            .args(args),
        CMD_TIMEOUT,
    )
}

/// `%XX`-encode the base64 characters `+`, `/` and `=` (upper- or lower-case hex).
pub fn pct_encode(s: &str, lower: bool) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        let enc = match c {
            '+' => "%2B",
            '/' => "%2F",
            '=' => "%3D",
            _ => {
                out.push(c);
                continue;
            }
        };
        if lower {
            out.push_str(&enc.to_ascii_lowercase());
        } else {
            out.push_str(enc);
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648), in-process (no openssl per request).
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `GET /{percent-encoded base64 of der}`, as RFC 6960 clients send it.
pub fn get_path_of(der: &[u8]) -> String {
    format!("/{}", pct_encode(&base64(der), false))
}

/// Decode a successful OCSPResponse; panic on anything else.
pub fn parse_basic(der: &[u8]) -> ocsp_proto::x509_ocsp::BasicOcspResponse {
    match ocsp_proto::response::parse(der) {
        Ok(ocsp_proto::response::ParsedResponse::Basic { basic, .. }) => *basic,
        Ok(ocsp_proto::response::ParsedResponse::Error(s)) => {
            panic!("expected a successful response, got {s:?}")
        }
        Err(e) => panic!("not a DER OCSPResponse: {e}"),
    }
}

/// What the fake responder saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request head (request line and headers).
    pub head: String,
}

/// A one-connection HTTP responder on 127.0.0.1 that answers `body` (or never answers
/// when `body` is `None`) and reports the request head it read.
pub struct FakeResponder {
    /// Its port.
    pub port: u16,
    /// The request heads it read.
    pub seen: mpsc::Receiver<Seen>,
}

impl FakeResponder {
    /// Listen on 127.0.0.1:0 and serve one connection in the background.
    pub fn start(body: Option<Vec<u8>>) -> FakeResponder {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("cannot listen on 127.0.0.1:0: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"))
            .port();
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).into_owned();
            let _ = tx.send(Seen { head });
            match body {
                Some(b) => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        b.len()
                    );
                    let _ = s.write_all(&b);
                }
                None => std::thread::sleep(Duration::from_secs(8)),
            }
        });
        FakeResponder { port, seen }
    }

    /// `http://127.0.0.1:PORT/ocsp`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ocsp", self.port)
    }
}
