//! Every connection owes progress by a deadline, whatever its protocol. hyper bounds
//! the HTTP/1.1 request head (`header_read_timeout`) but offers nothing of the kind for
//! HTTP/2: a client that sends the preface, or half a header block, and then nothing, or
//! only pings, would hold its connection (and a slot of `max_connections`) for as long
//! as it likes. This watchdog closes it.
//!
//! Progress is a request answered: the service completing, counted by [`InFlight`].
//! Bytes are not progress, nor are pings, SETTINGS or window updates. The rules:
//!
//! | state of the connection                         | closed (GOAWAY) at            |
//! |-------------------------------------------------|-------------------------------|
//! | no request answered yet, none in flight         | opened + `header_timeout`     |
//! | an HTTP/2 header block begun, not finished      | its start + `header_timeout`  |
//! | requests in flight                              | — (their own deadlines apply) |
//! | idle after an answer                            | that answer + `idle_timeout`  |
//! | more than [`MAX_CONTROL_FRAMES`] SETTINGS, PING, PRIORITY or RST_STREAM frames since the last answer | at once |
//! | GOAWAY sent, nothing in flight                  | [`LINGER`] later (dropped)    |
//! | GOAWAY sent, requests in flight                 | when they end, at most request + body timeout later |
//!
//! "Closed" means hyper's graceful shutdown (HTTP/2: GOAWAY; HTTP/1.1: close once the
//! answer in progress is out), then the connection dropped [`LINGER`] later if the peer
//! has not closed it by then (an attacker does not answer the GOAWAY's ping).
//!
//! The HTTP/2 frames are seen by [`Watched`], which wraps the stream hyper reads (inside
//! TLS) and reads the 9-byte frame headers as they pass, skipping the payloads: no copy,
//! no allocation. A stream that does not begin with the HTTP/2 preface is not scanned.

use crate::config::Limits;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::Notify;

/// SETTINGS, PING, PRIORITY and RST_STREAM frames a client may send between two answers
/// (or before the first) before the connection is closed as a flood.
pub const MAX_CONTROL_FRAMES: u32 = 200;

/// How long a connection is kept after its GOAWAY when nothing is in flight: time for
/// the GOAWAY to go out and a well-behaved peer to close first.
pub const LINGER: Duration = Duration::from_millis(250);

/// "None" in the millisecond fields.
const NEVER: u64 = u64::MAX;

/// What the watchdog knows of one connection; shared by the stream wrapper, the
/// service (requests run on tasks of their own under HTTP/2) and the connection task.
#[derive(Debug)]
pub struct Watch {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last answer ([`NEVER`]: none yet).
    last_done: AtomicU64,
    /// Requests being answered.
    in_flight: AtomicU32,
    /// Milliseconds since `epoch` when the open HTTP/2 header block began ([`NEVER`]).
    block_since: AtomicU64,
    /// Control frames since the last answer.
    control: AtomicU32,
    /// Too many control frames: reading stopped, to be closed.
    flood: AtomicBool,
    /// Milliseconds since `epoch` when the graceful shutdown began ([`NEVER`]).
    shut_at: AtomicU64,
    /// Wakes the connection task (a flood; the last request in flight ending after the
    /// GOAWAY).
    pub wake: Notify,
}

impl Watch {
    /// A connection opened at `opened`; `served` when requests were already answered on
    /// it (by the HTTP/1.1 fast path) at that instant.
    pub fn new(opened: Instant, served: Option<Instant>) -> Arc<Watch> {
        let w = Watch {
            epoch: opened,
            last_done: AtomicU64::new(NEVER),
            in_flight: AtomicU32::new(0),
            block_since: AtomicU64::new(NEVER),
            control: AtomicU32::new(0),
            flood: AtomicBool::new(false),
            shut_at: AtomicU64::new(NEVER),
            wake: Notify::new(),
        };
        if let Some(at) = served {
            w.last_done.store(w.ms(at), Ordering::Relaxed);
        }
        Arc::new(w)
    }

    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    fn now_ms(&self) -> u64 {
        self.ms(Instant::now())
    }

    /// When the connection must be closed (or dropped, once shutting down) if nothing
    /// changes before.
    pub fn deadline(&self, limits: &Limits) -> Instant {
        let in_flight = self.in_flight.load(Ordering::Acquire);
        let shut_at = self.shut_at.load(Ordering::Acquire);
        if shut_at != NEVER {
            let after = if in_flight > 0 {
                limits.request_timeout() + limits.body_timeout()
            } else {
                LINGER
            };
            return self.at(shut_at) + after;
        }
        // Far enough to be re-armed before it matters; a change re-arms it anyway.
        let mut deadline = Instant::now() + limits.idle_timeout().max(limits.header_timeout());
        let block = self.block_since.load(Ordering::Acquire);
        if block != NEVER {
            deadline = deadline.min(self.at(block) + limits.header_timeout());
        }
        if in_flight == 0 {
            let last = self.last_done.load(Ordering::Acquire);
            let idle = if last == NEVER {
                self.epoch + limits.header_timeout()
            } else {
                self.at(last) + limits.idle_timeout()
            };
            deadline = deadline.min(idle);
        }
        deadline
    }

    /// The graceful shutdown has begun.
    pub fn shut(&self) {
        let now = self.now_ms();
        let _ = self
            .shut_at
            .compare_exchange(NEVER, now, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Whether the graceful shutdown has begun.
    pub fn shutting(&self) -> bool {
        self.shut_at.load(Ordering::Acquire) != NEVER
    }

    /// Whether the client flooded control frames.
    pub fn flooded(&self) -> bool {
        self.flood.load(Ordering::Acquire)
    }

    fn control_frame(&self) {
        if self.control.fetch_add(1, Ordering::AcqRel) + 1 > MAX_CONTROL_FRAMES
            && !self.flood.swap(true, Ordering::AcqRel)
        {
            self.wake.notify_one();
        }
    }
}

/// One request being answered; [`InFlight::done`] when its answer is ready. Dropped
/// unfinished (the client reset the stream), it is not progress.
pub struct InFlight(Arc<Watch>);

impl InFlight {
    /// A request has begun on `watch`'s connection.
    pub fn new(watch: &Arc<Watch>) -> InFlight {
        watch.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(watch.clone())
    }

    /// Its answer is ready: progress.
    pub fn done(self) {
        let w = &self.0;
        w.last_done.store(w.now_ms(), Ordering::Release);
        w.control.store(0, Ordering::Release);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let w = &self.0;
        if w.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 && w.shutting() {
            w.wake.notify_one();
        }
    }
}

const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Where the scanner is in the byte stream.
#[derive(Debug, Clone, Copy)]
enum Scan {
    /// Matching the preface; this many bytes matched.
    Preface(usize),
    /// Reading a frame header; this many of its 9 bytes read.
    Header([u8; 9], usize),
    /// Skipping a payload; this many bytes left.
    Payload(usize),
    /// Not HTTP/2: nothing to watch.
    Off,
}

const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

/// The stream hyper reads and writes, with the HTTP/2 frame headers read on the way.
pub struct Watched<T> {
    inner: T,
    watch: Arc<Watch>,
    scan: Scan,
}

impl<T> Watched<T> {
    /// Watch `inner` for `watch`.
    pub fn new(inner: T, watch: Arc<Watch>) -> Watched<T> {
        Watched {
            inner,
            watch,
            scan: Scan::Preface(0),
        }
    }

    fn frame(&self, header: &[u8; 9]) {
        let (kind, flags) = (header[3], header[4]);
        let w = &self.watch;
        match kind {
            HEADERS | CONTINUATION if flags & END_HEADERS != 0 => {
                w.block_since.store(NEVER, Ordering::Release);
            }
            HEADERS => {
                let now = w.now_ms();
                let _ =
                    w.block_since
                        .compare_exchange(NEVER, now, Ordering::AcqRel, Ordering::Acquire);
            }
            SETTINGS | PING if flags & ACK == 0 => w.control_frame(),
            PRIORITY | RST_STREAM => w.control_frame(),
            _ => {}
        }
    }

    fn see(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.scan {
                Scan::Off => return,
                Scan::Preface(n) => {
                    let take = (PREFACE.len() - *n).min(data.len());
                    if data[..take] != PREFACE[*n..*n + take] {
                        self.scan = Scan::Off;
                        return;
                    }
                    *n += take;
                    data = &data[take..];
                    if *n == PREFACE.len() {
                        self.scan = Scan::Header([0; 9], 0);
                    }
                }
                Scan::Header(h, n) => {
                    let take = (9 - *n).min(data.len());
                    h[*n..*n + take].copy_from_slice(&data[..take]);
                    *n += take;
                    data = &data[take..];
                    if *n == 9 {
                        let h = *h;
                        self.frame(&h);
                        let len =
                            usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                        self.scan = if len == 0 {
                            Scan::Header([0; 9], 0)
                        } else {
                            Scan::Payload(len)
                        };
                    }
                }
                Scan::Payload(left) => {
                    let take = (*left).min(data.len());
                    *left -= take;
                    data = &data[take..];
                    if *left == 0 {
                        self.scan = Scan::Header([0; 9], 0);
                    }
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.watch.flooded() {
            // Read no more of a flood; the connection task sends the GOAWAY and closes.
            return Poll::Pending;
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if !matches!(this.scan, Scan::Off) && buf.filled().len() > before {
            this.see(&buf.filled()[before..]);
        }
        r
    }
}

forward_write!(Watched);

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        f.extend([kind, flags, 0, 0, 0, 1]);
        f.extend_from_slice(payload);
        f
    }

    fn watched() -> Watched<()> {
        Watched::new((), Watch::new(Instant::now(), None))
    }

    /// Feed `bytes` in pieces of `step` bytes, as reads may split them.
    fn feed(w: &mut Watched<()>, bytes: &[u8], step: usize) {
        for piece in bytes.chunks(step) {
            w.see(piece);
        }
    }

    #[test]
    fn header_blocks_are_tracked_across_any_split() {
        for step in [1, 2, 7, 9, 10, 1000] {
            let mut w = watched();
            let mut bytes = PREFACE.to_vec();
            bytes.extend(frame(SETTINGS, 0, &[0, 3, 0, 0, 0, 100]));
            bytes.extend(frame(HEADERS, 0, &[0x82; 20]));
            feed(&mut w, &bytes, step);
            assert_ne!(w.watch.block_since.load(Ordering::Relaxed), NEVER, "{step}");
            feed(&mut w, &frame(CONTINUATION, 0, &[1; 300]), step);
            assert_ne!(w.watch.block_since.load(Ordering::Relaxed), NEVER, "{step}");
            feed(&mut w, &frame(CONTINUATION, END_HEADERS, &[1; 3]), step);
            assert_eq!(w.watch.block_since.load(Ordering::Relaxed), NEVER, "{step}");
            feed(&mut w, &frame(HEADERS, END_HEADERS, &[0x82]), step);
            assert_eq!(w.watch.block_since.load(Ordering::Relaxed), NEVER, "{step}");
            assert_eq!(w.watch.control.load(Ordering::Relaxed), 1, "{step}");
        }
    }

    #[test]
    fn control_frames_flood_until_an_answer() {
        let mut w = watched();
        w.see(PREFACE);
        for _ in 0..MAX_CONTROL_FRAMES {
            w.see(&frame(PING, 0, &[0; 8]));
            // Acknowledgements are answers to us, not requests.
            w.see(&frame(SETTINGS, ACK, &[]));
        }
        assert!(!w.watch.flooded());
        // An answer is progress: the count starts again.
        let guard = InFlight::new(&w.watch);
        guard.done();
        assert_eq!(w.watch.in_flight.load(Ordering::Relaxed), 0);
        for _ in 0..MAX_CONTROL_FRAMES {
            w.see(&frame(RST_STREAM, 0, &[0, 0, 0, 8]));
        }
        assert!(!w.watch.flooded());
        w.see(&frame(PRIORITY, 0, &[0, 0, 0, 0, 16]));
        assert!(w.watch.flooded());
    }

    #[test]
    fn other_protocols_are_not_scanned() {
        let mut w = watched();
        w.see(b"GET / HTTP/1.1\r\n\r\n");
        assert!(matches!(w.scan, Scan::Off));
        w.see(&frame(HEADERS, 0, &[0x82]));
        assert_eq!(w.watch.block_since.load(Ordering::Relaxed), NEVER);
    }

    #[test]
    fn deadlines_follow_the_table() {
        let limits = Limits {
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            request_timeout_secs: 8,
            body_timeout_secs: 10,
            ..Limits::default()
        };
        let opened = Instant::now();
        let w = Watch::new(opened, None);
        // Nothing answered yet: the header timeout from the accept.
        assert_eq!(w.deadline(&limits), opened + Duration::from_secs(10));
        // A request in flight: no deadline of the watchdog's within the idle time.
        let guard = InFlight::new(&w);
        assert!(w.deadline(&limits) >= Instant::now() + Duration::from_secs(59));
        guard.done();
        // Answered: the idle timeout from the answer.
        let idle = w.deadline(&limits);
        assert!(
            idle >= opened + Duration::from_secs(59),
            "{:?}",
            idle - opened
        );
        // A header block begun: the header timeout from its start.
        w.block_since.store(w.now_ms(), Ordering::Relaxed);
        assert!(w.deadline(&limits) <= Instant::now() + Duration::from_secs(10));
        // Shutting down with nothing in flight: the linger.
        w.shut();
        assert!(w.deadline(&limits) <= Instant::now() + LINGER);
        // With a request in flight: its time.
        let _guard = InFlight::new(&w);
        assert!(w.deadline(&limits) >= Instant::now() + Duration::from_secs(17));
    }
}
