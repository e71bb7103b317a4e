//! A small HTTP server for CRL sources to fetch from, which can misbehave on demand.
//!
//! Each path serves the bytes last [`CrlServer::put`] there with a strong `ETag` (a hash
//! of the bytes) and `Last-Modified`, and answers `304 Not Modified` to a matching
//! `If-None-Match`. [`CrlServer::behave`] makes a path fail (`500`), stall (accept the
//! request and say nothing until the client gives up), or answer again. Every request is
//! recorded ([`CrlServer::requests`]). Plain blocking threads: one per connection, so a
//! stalled connection stalls nobody else.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a path answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// The bytes put there (or 404), 304 to a matching `If-None-Match`.
    Serve,
    /// This status, no body.
    Fail(u16),
    /// Read the request, then say nothing for a minute.
    Stall,
}

/// One request seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The path.
    pub path: String,
    /// The `If-None-Match` sent, if any.
    pub if_none_match: Option<String>,
    /// The status answered (0 for a stall).
    pub status: u16,
}

#[derive(Default)]
struct State {
    bodies: HashMap<String, (Vec<u8>, String)>,
    behaviour: HashMap<String, Behaviour>,
    requests: Vec<Request>,
}

/// The server; it runs until the process ends.
pub struct CrlServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl CrlServer {
    /// Listen on 127.0.0.1, a free port.
    pub fn start() -> CrlServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        CrlServer { addr, state }
    }

    /// The URL of `path` (`/ca.crl`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serve `bytes` at `path` from now on.
    pub fn put(&self, path: &str, bytes: &[u8]) {
        let etag = format!(
            "\"{}\"",
            hex::encode(
                &aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref()[..8]
            )
        );
        let mut s = self.state.lock().unwrap();
        s.bodies.insert(path.to_string(), (bytes.to_vec(), etag));
        s.behaviour.insert(path.to_string(), Behaviour::Serve);
    }

    /// Make `path` answer as `b`.
    pub fn behave(&self, path: &str, b: Behaviour) {
        self.state
            .lock()
            .unwrap()
            .behaviour
            .insert(path.to_string(), b);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn serve(mut conn: TcpStream, st: &Mutex<State>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let path = head
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_string();
    let if_none_match = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("if-none-match")
            .then(|| v.trim().to_string())
    });
    let (behaviour, body) = {
        let s = st.lock().unwrap();
        (
            s.behaviour.get(&path).copied().unwrap_or(Behaviour::Serve),
            s.bodies.get(&path).cloned(),
        )
    };
    let record = |status: u16| {
        st.lock().unwrap().requests.push(Request {
            path: path.clone(),
            if_none_match: if_none_match.clone(),
            status,
        })
    };
    match behaviour {
        Behaviour::Stall => {
            record(0);
            std::thread::sleep(Duration::from_secs(60));
        }
        Behaviour::Fail(code) => {
            record(code);
            let _ = write!(
                conn,
                "HTTP/1.1 {code} Failing\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
        Behaviour::Serve => match body {
            None => {
                record(404);
                let _ = write!(
                    conn,
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
            Some((_, etag)) if if_none_match.as_deref() == Some(etag.as_str()) => {
                record(304);
                let _ = write!(
                    conn,
                    "HTTP/1.1 304 Not Modified\r\netag: {etag}\r\nconnection: close\r\n\r\n"
                );
            }
            Some((bytes, etag)) => {
                record(200);
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/pkix-crl\r\ncontent-length: {}\r\netag: {etag}\r\nlast-modified: Mon, 01 Jan 2024 00:00:00 GMT\r\nconnection: close\r\n\r\n",
                    bytes.len()
                );
                let _ = conn.write_all(&bytes);
            }
        },
    }
}
