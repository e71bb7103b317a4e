//! The access log: one line per request, target `ocsp::access`, level INFO.
//!
//! The line is the same whichever way it is written:
//!
//! ```text
//! 2026-12-06T17:51:48.240877Z  INFO ocsp::access: request method=POST http=200 ocsp="successful" serials=01AF54 statuses=good micros=561
//! {"timestamp":"…","level":"INFO","fields":{"message":"request","method":"POST","http":200,"ocsp":"successful","serials":"01AF54","statuses":"good","micros":561},"target":"ocsp::access"}
//! ```
//!
//! (`client=ADDR` after `request` when `[log] client_addr` is on.)
//!
//! - **Direct** ([`install`], what `ocsp serve` does): the line is formatted here, into a
//!   per-thread buffer (the date and time down to the second formatted once per second
//!   and thread, numbers with `itoa`, serials as hex straight from their octets, the
//!   filter asked once), and
//!   handed to the process's [`LogWriter`], which never blocks. This path is taken at
//!   ~100,000 requests per second; the generic `tracing` formatter costs several times
//!   more per line.
//! - **Through `tracing`** (nothing installed: library users, tests, a terminal with
//!   colours): `tracing::info!` with the same fields.
//!
//! Either way the filter decides first (`RUST_LOG=warn`, `info,ocsp::access=warn`: no
//! line, nothing formatted), then sampling: with [`set_sample`] below 1, a successful line
//! (an answer, a 304, the `GET /` text) is kept with that probability; errors and
//! refusals (malformedRequest, unauthorized, tryLater, internalError, every 4xx) are
//! always written.

use crate::http::Outcome;
use crate::log_writer::LogWriter;
use crate::source::StatusKind;
use ocsp_proto::request::RequestItem;
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The method type of [`Line::method`].
pub use http::Method;

/// How the direct path formats a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// As `tracing_subscriber`'s full text format without colours.
    Text,
    /// As its JSON format.
    Json,
}

/// The direct sink: a format and a writer.
#[derive(Debug)]
pub struct Sink {
    format: Format,
    writer: Arc<LogWriter>,
    /// Whether the filter lets access lines through, asked once ([`settle_filter`]).
    enabled: OnceLock<bool>,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// The sampling threshold of successful lines, out of `u64::MAX` (`u64::MAX`: keep all).
static SAMPLE: AtomicU64 = AtomicU64::new(u64::MAX);

/// Write access lines in `format` to `writer` from now on (the first call wins).
pub fn install(format: Format, writer: Arc<LogWriter>) {
    let _ = SINK.set(Sink {
        format,
        writer,
        enabled: OnceLock::new(),
    });
}

/// Ask the global subscriber's filter once whether access lines pass, and keep the
/// answer for the direct path (call it after the subscriber is installed: the filter of
/// `ocsp serve` does not change while it runs).
pub fn settle_filter() {
    if let Some(sink) = SINK.get() {
        let _ = sink
            .enabled
            .set(tracing::enabled!(target: "ocsp::access", tracing::Level::INFO));
    }
}

/// Keep successful lines with probability `rate` (clamped to 0..=1; 1 keeps all).
pub fn set_sample(rate: f64) {
    let t = if rate.is_nan() || rate >= 1.0 {
        u64::MAX
    } else if rate <= 0.0 {
        0
    } else {
        (rate * u64::MAX as f64) as u64
    };
    SAMPLE.store(t, Ordering::Relaxed);
}

/// One request, as the edge saw it.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// The client's address, when it is to be logged.
    pub client: Option<SocketAddr>,
    /// The request method.
    pub method: &'a http::Method,
    /// The HTTP status sent.
    pub http: u16,
    /// What the edge decided.
    pub outcome: Outcome,
    /// The requested certificates (none when the request did not decode).
    pub items: &'a [RequestItem],
    /// The stated statuses (none unless answered).
    pub statuses: &'a [StatusKind],
    /// Microseconds from the request's head to its answer.
    pub micros: u64,
}

impl Line<'_> {
    /// Whether sampling may leave this line out (a success, never an error or a refusal).
    pub fn sampleable(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Successful | Outcome::NotModified | Outcome::Info
        ) && self.http < 400
    }

    fn ocsp(&self) -> &'static str {
        self.outcome
            .ocsp()
            .map_or("-", ocsp_proto::text::status_name)
    }
}

/// Log `line` (if the filter lets it through and sampling keeps it).
pub fn record(line: &Line<'_>) {
    let sink = SINK.get();
    let enabled = match sink.and_then(|s| s.enabled.get()) {
        Some(settled) => *settled,
        None => tracing::enabled!(target: "ocsp::access", tracing::Level::INFO),
    };
    if !enabled || (line.sampleable() && !keep_sampled()) {
        return;
    }
    match sink {
        Some(sink) => sink.write(line),
        None => tracing::info!(
            target: "ocsp::access",
            client = line.client.map(tracing::field::display),
            method = %line.method,
            http = line.http,
            ocsp = line.ocsp(),
            serials = %Serials(line.items),
            statuses = %Statuses(line.statuses),
            micros = line.micros,
            "request"
        ),
    }
}

/// Whether a sampleable line is kept (a per-thread xorshift draw against the threshold).
fn keep_sampled() -> bool {
    let t = SAMPLE.load(Ordering::Relaxed);
    if t == u64::MAX {
        return true;
    }
    thread_local! {
        static RNG: Cell<u64> = const { Cell::new(0) };
    }
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            // Seeded per thread from the clock and the thread's stack address.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64);
            x = nanos ^ (std::ptr::from_ref(r) as usize as u64).rotate_left(32) | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x < t
    })
}

/// Per-thread state of the direct path: the line being built and the formatted second.
struct Scratch {
    buf: Vec<u8>,
    second: u64,
    /// `2026-12-06T17:51:48.` for `second`.
    prefix: [u8; 20],
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch { buf: Vec::new(), second: u64::MAX, prefix: [0; 20] })
    };
}

impl Sink {
    fn write(&self, line: &Line<'_>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let (secs, micros) = (now.as_secs(), now.subsec_micros());
        SCRATCH.with(|s| {
            let Ok(mut s) = s.try_borrow_mut() else {
                return;
            };
            let s = &mut *s;
            if s.second != secs {
                s.second = secs;
                s.prefix = second_prefix(secs);
            }
            s.buf.clear();
            format_line(&mut s.buf, self.format, &s.prefix, micros, line);
            self.writer.push(&s.buf);
        });
    }
}

/// `YYYY-MM-DDTHH:MM:SS.` of a Unix time.
fn second_prefix(secs: u64) -> [u8; 20] {
    let mut out = [b'0'; 20];
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut w = &mut out[..];
    let _ = write!(
        w,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    out
}

/// Format `line` into `buf` (ending in `\n`); `prefix` is the date and time down to the
/// second and its dot, `micros` the fraction.
pub fn format_line(buf: &mut Vec<u8>, format: Format, prefix: &[u8], micros: u32, line: &Line<'_>) {
    let mut n = itoa::Buffer::new();
    let mut frac = [b'0'; 6];
    let digits = n.format(micros.min(999_999));
    frac[6 - digits.len()..].copy_from_slice(digits.as_bytes());
    match format {
        Format::Text => {
            buf.extend_from_slice(prefix);
            buf.extend_from_slice(&frac);
            buf.extend_from_slice(b"Z  INFO ocsp::access: request ");
            if let Some(c) = line.client {
                buf.extend_from_slice(b"client=");
                let _ = write!(buf, "{c}");
                buf.push(b' ');
            }
            buf.extend_from_slice(b"method=");
            buf.extend_from_slice(line.method.as_str().as_bytes());
            buf.extend_from_slice(b" http=");
            buf.extend_from_slice(n.format(line.http).as_bytes());
            buf.extend_from_slice(b" ocsp=\"");
            buf.extend_from_slice(line.ocsp().as_bytes());
            buf.extend_from_slice(b"\" serials=");
            serials(buf, line.items);
            buf.extend_from_slice(b" statuses=");
            statuses(buf, line.statuses);
            buf.extend_from_slice(b" micros=");
            buf.extend_from_slice(n.format(line.micros).as_bytes());
            buf.push(b'\n');
        }
        Format::Json => {
            buf.extend_from_slice(b"{\"timestamp\":\"");
            buf.extend_from_slice(prefix);
            buf.extend_from_slice(&frac);
            buf.extend_from_slice(b"Z\",\"level\":\"INFO\",\"fields\":{\"message\":\"request\",");
            if let Some(c) = line.client {
                // An address prints with digits, dots, colons, brackets and hex only.
                let _ = write!(buf, "\"client\":\"{c}\",");
            }
            buf.extend_from_slice(b"\"method\":\"");
            // A method is an HTTP token: nothing in it needs escaping in JSON.
            buf.extend_from_slice(line.method.as_str().as_bytes());
            buf.extend_from_slice(b"\",\"http\":");
            buf.extend_from_slice(n.format(line.http).as_bytes());
            buf.extend_from_slice(b",\"ocsp\":\"");
            buf.extend_from_slice(line.ocsp().as_bytes());
            buf.extend_from_slice(b"\",\"serials\":\"");
            serials(buf, line.items);
            buf.extend_from_slice(b"\",\"statuses\":\"");
            statuses(buf, line.statuses);
            buf.extend_from_slice(b"\",\"micros\":");
            buf.extend_from_slice(n.format(line.micros).as_bytes());
            buf.extend_from_slice(b"},\"target\":\"ocsp::access\"}\n");
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The serials, comma-separated, as [`ocsp_proto::Serial::to_hex`] prints them.
fn serials(buf: &mut Vec<u8>, items: &[RequestItem]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let s = &item.serial;
        let octets = if s.is_negative() {
            buf.push(b'-');
            &s.as_bytes()[1..]
        } else {
            s.as_bytes()
        };
        // Two digits per octet written in place (no capacity check per digit).
        let start = buf.len();
        buf.resize(start + 2 * octets.len(), 0);
        for (pair, b) in buf[start..].chunks_exact_mut(2).zip(octets) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 15)];
        }
    }
}

fn statuses(buf: &mut Vec<u8>, statuses: &[StatusKind]) {
    for (i, s) in statuses.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(s.name().as_bytes());
    }
}

/// The serials, comma-separated (formatted only if the line is logged).
struct Serials<'a>(&'a [RequestItem]);

impl std::fmt::Display for Serials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&item.serial.to_hex())?;
        }
        Ok(())
    }
}

/// Stated statuses, comma-separated.
struct Statuses<'a>(&'a [StatusKind]);

impl std::fmt::Display for Statuses<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(s.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn line(outcome: Outcome, http: u16) -> Line<'static> {
        Line {
            client: None,
            method: &Method::GET,
            http,
            outcome,
            items: &[],
            statuses: &[],
            micros: 1,
        }
    }

    #[test]
    fn only_successes_may_be_sampled_away() {
        for o in Outcome::ALL {
            let http = match o {
                Outcome::NotModified => 304,
                Outcome::MethodNotAllowed => 405,
                Outcome::TooLarge => 413,
                Outcome::UriTooLong => 414,
                Outcome::Timeout => 408,
                Outcome::Other => 400,
                _ => 200,
            };
            let expected = matches!(
                o,
                Outcome::Successful | Outcome::NotModified | Outcome::Info
            );
            assert_eq!(line(o, http).sampleable(), expected, "{o:?}");
        }
        // A success with an error status (never produced today) is not sampled either.
        assert!(!line(Outcome::Successful, 500).sampleable());
    }

    #[test]
    fn sampling_keeps_about_the_share_asked() {
        // The only test of this binary that changes the rate.
        set_sample(0.01);
        let kept = (0..200_000).filter(|_| keep_sampled()).count();
        set_sample(0.0);
        let none = (0..10_000).filter(|_| keep_sampled()).count();
        set_sample(1.0);
        let all = (0..10_000).filter(|_| keep_sampled()).count();
        assert!((1_400..=2_600).contains(&kept), "{kept} of 200,000 at 0.01");
        assert_eq!(none, 0);
        assert_eq!(all, 10_000);
    }

    #[test]
    fn seconds_and_fractions_print_as_rfc3339() {
        assert_eq!(&second_prefix(0), b"1970-01-01T00:00:00.");
        assert_eq!(&second_prefix(1_796_579_508), b"2026-12-06T17:51:48.");
        let mut buf = Vec::new();
        format_line(
            &mut buf,
            Format::Text,
            &second_prefix(0),
            7,
            &line(Outcome::TryLater, 200),
        );
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "1970-01-01T00:00:00.000007Z  INFO ocsp::access: request method=GET http=200 \
             ocsp=\"tryLater\" serials= statuses= micros=1\n"
        );
    }
}
