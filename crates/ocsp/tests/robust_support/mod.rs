//! Helpers shared by the `robust_*` tests (issue 5): an answer checker that judges every
//! response against the index as it is on disk, request builders, file-descriptor
//! headroom, and /proc readings of the responder (CPU time, resident memory).
//!
//! Used with `mod common; mod robust_support;` (it builds on `common`'s `Pki`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use crate::common::Pki;
use der::DecodePem;
use ocsp_proto::request::{self, RequestLimits};
use ocsp_proto::response::{self, ParsedResponse};
use ocsp_proto::verify::{self, Params, Policy};
use ocsp_proto::x509_ocsp::{CertId, OcspResponseStatus};
use ocsp_proto::{cert_id, CertStatus, HashAlg, Serial, Timestamp};
use ocsp_status::index_txt::{parse, IndexEntry};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use x509_cert::Certificate;

/// Make sure this process (and the responder it spawns, which inherits the limit) may
/// open `want` files: raise the soft RLIMIT_NOFILE with `prlimit(1)` when it is lower.
/// Returns the soft limit in force. (No `unsafe` setrlimit in tests: prlimit does it.)
pub fn raise_fd_limit(want: u64) -> u64 {
    let soft = nofile_soft();
    if soft >= want {
        return soft;
    }
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={want}:")])
        .status();
    if nofile_soft() < want {
        // The hard limit may be lower: take what it allows.
        let hard = nofile_hard();
        let _ = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={}:", hard.min(want))])
            .status();
    }
    nofile_soft()
}

fn nofile(field: usize) -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(field))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

fn nofile_soft() -> u64 {
    nofile(3)
}

fn nofile_hard() -> u64 {
    nofile(4)
}

/// CPU time (user + system) of `pid` in clock ticks (1/100 s on Linux).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ") ".
    let rest = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    get(11) + get(12)
}

/// The number after `key` (e.g. `VmRSS:`) in `/proc/pid/status`; 0 if absent.
fn status_field(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resident memory of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

/// Open file descriptors of `pid`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Read a PEM certificate.
pub fn read_cert(path: &Path) -> Certificate {
    Certificate::from_pem(std::fs::read(path).unwrap()).unwrap()
}

/// What an answer for one serial must say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    Good,
    Revoked,
    Unknown,
}

impl Want {
    pub fn of(status: &CertStatus) -> Want {
        match status {
            CertStatus::Good => Want::Good,
            CertStatus::Revoked(_) => Want::Revoked,
            CertStatus::Unknown => Want::Unknown,
        }
    }
}

/// The statuses an index file states (serials absent → unknown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexView {
    pub statuses: HashMap<Serial, Want>,
}

impl IndexView {
    pub fn from_entries(es: &[IndexEntry]) -> IndexView {
        IndexView {
            statuses: es
                .iter()
                .map(|e| (e.serial.clone(), Want::of(&e.status())))
                .collect(),
        }
    }

    /// The index file as it is on disk now.
    pub fn read(path: &Path) -> IndexView {
        let bytes = std::fs::read(path).unwrap();
        IndexView::from_entries(&parse(&bytes, path).unwrap())
    }

    pub fn want(&self, s: &Serial) -> Want {
        self.statuses.get(s).cloned().unwrap_or(Want::Unknown)
    }
}

/// Builds requests for a PKI's CA and judges the answers.
pub struct Checker {
    pub ca: Certificate,
}

impl Checker {
    pub fn new(pki: &Pki) -> Checker {
        Checker {
            ca: read_cert(&pki.cacert),
        }
    }

    pub fn id(&self, serial: &Serial, alg: HashAlg) -> CertId {
        cert_id::cert_id(&self.ca, serial, alg).unwrap()
    }

    /// A DER request for `serials`, with `nonce` if given.
    pub fn request(&self, serials: &[Serial], alg: HashAlg, nonce: Option<&[u8]>) -> Vec<u8> {
        let ids: Vec<CertId> = serials.iter().map(|s| self.id(s, alg)).collect();
        request::build(&ids, nonce).unwrap()
    }

    /// Judge `resp` as the answer to `req`: a successful response that verifies (signature,
    /// signer authority, every CertID answered, nonce echoed) and states, for each serial,
    /// a status allowed by one of `views` (the index states the request may have seen).
    /// Returns the statuses stated.
    pub fn check(
        &self,
        req: &[u8],
        resp: &[u8],
        views: &[&IndexView],
    ) -> Result<Vec<Want>, String> {
        let parsed_req =
            request::parse(req, &RequestLimits::default()).map_err(|e| e.to_string())?;
        let parsed = response::parse(resp).map_err(|e| format!("unparseable response: {e}"))?;
        let (basic, tbs) = match parsed {
            ParsedResponse::Basic { basic, tbs_der } => (basic, tbs_der),
            ParsedResponse::Error(s) => return Err(format!("error status {s:?}")),
        };
        let requested: Vec<CertId> = parsed_req.items.iter().map(|i| i.cert_id.clone()).collect();
        let now = Timestamp(crate::common::unix_now());
        let v = verify::verify(
            &basic,
            &tbs,
            &Params {
                requested: &requested,
                issuers: std::slice::from_ref(&self.ca),
                nonce: parsed_req.nonce.as_deref(),
                untrusted: &[],
                trusted: &[],
                now,
                policy: Policy {
                    require_nonce: true,
                    ..Policy::default()
                },
            },
        )
        .map_err(|e| format!("does not verify: {e}"))?;
        let stated: Vec<Want> = v.answers.iter().map(|a| Want::of(&a.status)).collect();
        let ok = views.iter().any(|view| {
            v.answers
                .iter()
                .zip(&stated)
                .all(|(a, w)| view.want(&a.serial) == *w)
        });
        if !ok {
            let serials: Vec<String> = v.answers.iter().map(|a| a.serial.to_hex()).collect();
            return Err(format!(
                "statuses {stated:?} for serials {serials:?} match none of the {} index states",
                views.len()
            ));
        }
        Ok(stated)
    }
}

/// Whether `resp` is the unsigned error response `status`.
pub fn is_error(resp: &[u8], status: OcspResponseStatus) -> bool {
    matches!(response::parse(resp), Ok(ParsedResponse::Error(s)) if s == status)
}

/// The serial of a PEM certificate file.
pub fn serial_of(path: &Path) -> Serial {
    Serial::of_cert(&read_cert(path))
}

/// A `--config` file for `pki` with `[server.limits]` set from `limits` (TOML lines).
pub fn config_with_limits(pki: &Pki, limits: &str) -> std::path::PathBuf {
    let path = pki.dir.join(format!(
        "robust-{}.toml",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[server.limits]\n{limits}\n{}",
        pki.issuer_toml()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The p-th percentile (0..=100) of `samples` (sorted in place).
pub fn percentile(samples: &mut [Duration], pct: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    let rank = ((pct / 100.0) * (samples.len() as f64)).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// Write `text` to `path` as `openssl ca` does: a new file renamed over the old one.
pub fn replace_file(path: &Path, text: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Standard base64 with padding (RFC 4648), in-process (no openssl per request).
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
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
    format!("/{}", crate::common::pct_encode(&base64(der), false))
}

/// Threads of `pid`.
pub fn thread_count(pid: u32) -> u64 {
    status_field(pid, "Threads:")
}
