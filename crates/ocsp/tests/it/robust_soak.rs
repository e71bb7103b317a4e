//! Soak (issue 5, point 5): mixed load on the real `ocsp serve` binary while index.txt is
//! rewritten every few seconds, as `openssl ca` rewrites it (new file, rename).
//!
//! Load, paced (to stay a good neighbour on a shared machine):
//! - cacheable clients: GET, one CertID, SHA-1 or SHA-256 (answered from the cache);
//! - nonce clients: POST with a nonce, one to three CertIDs (signed live);
//! - a malformed client: garbage bodies, truncated DER, bad GET paths, CertIDs of an
//!   unknown CA — expecting `malformedRequest` / `unauthorized`, HTTP 200;
//! - slow clients: a valid request dribbled out over ~2 s, and slowloris connections
//!   that never finish (the header timeout cuts them).
//!
//! Judged: zero 5xx; zero answers that disagree with the index at the time (an answer
//! must state, for all its CertIDs, the statuses of one index version that was in force
//! at some moment between sending the request and receiving the answer); every signed
//! answer verifies; resident memory at the end within 10 % of what it was after the
//! first minute (judged on runs of 5 minutes or more; always reported).
//!
//! `soak_short` (20 s, debug build) runs with the suite. The full soak is `#[ignore]`d
//! and run by `scripts/soak.sh` (release build, `OCSP_SOAK_SECS`, default 600), which
//! puts its summary in docs/robustness.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use ocsp_proto::der::asn1::OctetString;
use ocsp_proto::request;
use ocsp_proto::x509_ocsp::{CertId, OcspResponseStatus};
use ocsp_proto::{HashAlg, Revocation, RevocationReason, Serial, Timestamp};
use ocsp_status::index_txt::{IndexEntry, IndexFlag};
use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use test_support::prelude::*;

/// Serials in the index: 0x100000 + i for i in 0..SERIALS.
const SERIALS: u64 = 2000;
/// Every CHURN-th serial changes status with every version; the rest are fixed.
const CHURN: u64 = 10;

fn serial(i: u64) -> Serial {
    Serial::from_hex(&format!("{:X}", 0x10_0000 + i)).unwrap()
}

/// The status of serial `i` in index version `k`.
fn status(k: u64, i: u64) -> Want {
    if i % CHURN == 1 {
        match (k + i / CHURN) % 3 {
            0 => Want::Good,
            1 => Want::Revoked,
            _ => Want::Unknown, // absent from that version
        }
    } else if i % 7 == 0 {
        Want::Revoked
    } else {
        Want::Good
    }
}

fn index_text(k: u64) -> String {
    let mut out = String::with_capacity(SERIALS as usize * 110);
    for i in 0..SERIALS {
        let w = status(k, i);
        if w == Want::Unknown {
            continue;
        }
        let revocation = (w == Want::Revoked).then(|| {
            let mut r = Revocation::at(Timestamp(1_700_000_000 + i));
            r.reason = Some(RevocationReason::Superseded);
            r
        });
        let e = IndexEntry {
            flag: if revocation.is_some() {
                IndexFlag::Revoked
            } else {
                IndexFlag::Valid
            },
            expires: Timestamp(2_000_000_000),
            revocation,
            serial: serial(i),
            filename: "unknown".into(),
            subject: format!("/CN=soak {i}"),
        };
        out.push_str(&e.to_line());
        out.push('\n');
    }
    out
}

/// When each version was put in place. A version may be visible from the moment its
/// rename starts (recorded before the rename) until the next version's rename has
/// finished (unknown while that rename is under way: then it may still be visible).
#[derive(Default)]
struct History {
    /// (version, rename started, rename finished)
    versions: Vec<(u64, Instant, Option<Instant>)>,
}

impl History {
    /// Versions visible at some moment of [from, to].
    fn possible(&self, from: Instant, to: Instant) -> Vec<u64> {
        let mut out = Vec::new();
        for (n, (k, start, _)) in self.versions.iter().enumerate() {
            // Until the next rename finished; forever if there is none or it is under way.
            let end = self.versions.get(n + 1).and_then(|v| v.2);
            if *start <= to && end.is_none_or(|e| e >= from) {
                out.push(*k);
            }
        }
        out
    }
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    cacheable: AtomicU64,
    nonce: AtomicU64,
    malformed: AtomicU64,
    slow: AtomicU64,
    slowloris: AtomicU64,
    http_5xx: AtomicU64,
    disagree: AtomicU64,
    other_failures: AtomicU64,
}

struct Soak {
    addr: SocketAddr,
    checker: Checker,
    history: Mutex<History>,
    tally: Tally,
    problems: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Soak {
    fn problem(&self, what: String) {
        let mut p = self.problems.lock().unwrap();
        if p.len() < 50 {
            p.push(what);
        }
    }

    /// Check a signed answer to `der` for serial indexes `idx`, asked during [from, to].
    fn judge(&self, der: &[u8], body: &[u8], idx: &[u64], from: Instant, to: Instant) {
        let possible = self.history.lock().unwrap().possible(from, to);
        let views: Vec<IndexView> = possible
            .iter()
            .map(|k| IndexView {
                statuses: idx
                    .iter()
                    .map(|i| (serial(*i), status(*k, *i)))
                    .collect::<HashMap<_, _>>(),
            })
            .collect();
        let refs: Vec<&IndexView> = views.iter().collect();
        if let Err(e) = self.checker.check(der, body, &refs) {
            if e.contains("match none") {
                self.tally.disagree.fetch_add(1, Ordering::Relaxed);
            } else {
                self.tally.other_failures.fetch_add(1, Ordering::Relaxed);
            }
            self.problem(format!("serials {idx:?}, versions {possible:?}: {e}"));
        }
    }

    fn http_status(&self, status: u16, what: &str) -> bool {
        self.tally.requests.fetch_add(1, Ordering::Relaxed);
        if status >= 500 {
            self.tally.http_5xx.fetch_add(1, Ordering::Relaxed);
            self.problem(format!("{what}: HTTP {status}"));
            return false;
        }
        if status != 200 {
            self.tally.other_failures.fetch_add(1, Ordering::Relaxed);
            self.problem(format!("{what}: HTTP {status}"));
            return false;
        }
        true
    }

    /// Pick serials, mostly churning ones.
    fn pick(&self, n: u64, salt: u64) -> u64 {
        let x = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(salt)
            .rotate_left(17);
        if x % 2 == 0 {
            (x / 2 % (SERIALS / CHURN)) * CHURN + 1
        } else {
            x / 2 % SERIALS
        }
    }

    fn cacheable_client(&self, id: u64, rate: f64) {
        let mut conn = Conn::open(self.addr);
        let mut n = 0u64;
        pace(self, rate, |_| {
            n += 1;
            let i = self.pick(n, id);
            let alg = if n % 2 == 0 {
                HashAlg::Sha1
            } else {
                HashAlg::Sha256
            };
            let der = self.checker.request(&[serial(i)], alg, None);
            let from = Instant::now();
            conn.send(&get_req(&get_path_of(&der), &[]));
            match conn.read_response(false) {
                Ok(resp) => {
                    let to = Instant::now();
                    if self.http_status(resp.status, "cacheable GET") {
                        self.tally.cacheable.fetch_add(1, Ordering::Relaxed);
                        self.judge(&der, &resp.body, &[i], from, to);
                    }
                }
                Err(e) => {
                    self.tally.other_failures.fetch_add(1, Ordering::Relaxed);
                    self.problem(format!("cacheable GET: {e}"));
                    conn = Conn::open(self.addr);
                }
            }
            if n % 200 == 0 {
                conn = Conn::open(self.addr);
            }
        });
    }

    fn nonce_client(&self, id: u64, rate: f64) {
        let mut conn = Conn::open(self.addr);
        let mut n = 0u64;
        pace(self, rate, |_| {
            n += 1;
            let idx: Vec<u64> = (0..1 + n % 3)
                .map(|j| self.pick(n * 3 + j, id + 100))
                .collect();
            let serials: Vec<Serial> = idx.iter().map(|i| serial(*i)).collect();
            let nonce = (id << 40 | n).to_be_bytes().repeat(4);
            let der = self
                .checker
                .request(&serials, HashAlg::Sha256, Some(&nonce));
            let from = Instant::now();
            conn.send(&post_req("/", &der, &[]));
            match conn.read_response(false) {
                Ok(resp) => {
                    let to = Instant::now();
                    if self.http_status(resp.status, "nonce POST") {
                        self.tally.nonce.fetch_add(1, Ordering::Relaxed);
                        self.judge(&der, &resp.body, &idx, from, to);
                    }
                }
                Err(e) => {
                    self.tally.other_failures.fetch_add(1, Ordering::Relaxed);
                    self.problem(format!("nonce POST: {e}"));
                    conn = Conn::open(self.addr);
                }
            }
        });
    }

    fn malformed_client(&self, rate: f64) {
        let mut conn = Conn::open(self.addr);
        let good = self.checker.request(&[serial(1)], HashAlg::Sha1, None);
        let stranger = {
            let id = CertId {
                hash_algorithm: HashAlg::Sha1.algorithm_identifier(),
                issuer_name_hash: OctetString::new(vec![0x11; 20]).unwrap(),
                issuer_key_hash: OctetString::new(vec![0x22; 20]).unwrap(),
                serial_number: serial(1).to_serial_number().unwrap(),
            };
            request::build(&[id], None).unwrap()
        };
        let mut n = 0u64;
        pace(self, rate, |_| {
            n += 1;
            let (raw, want) = match n % 5 {
                0 => {
                    let junk: Vec<u8> = (0..(n % 300)).map(|j| (j * 131 + n) as u8).collect();
                    (
                        post_req("/", &junk, &[]),
                        OcspResponseStatus::MalformedRequest,
                    )
                }
                1 => (
                    post_req("/", &good[..good.len() - 1 - (n as usize % 10)], &[]),
                    OcspResponseStatus::MalformedRequest,
                ),
                2 => (
                    get_req(&format!("/{}%zz!", n), &[]),
                    OcspResponseStatus::MalformedRequest,
                ),
                3 => (
                    get_req(&get_path_of(&stranger), &[]),
                    OcspResponseStatus::Unauthorized,
                ),
                _ => {
                    let mut bad = good.clone();
                    bad.push(0);
                    (
                        post_req("/", &bad, &[]),
                        OcspResponseStatus::MalformedRequest,
                    )
                }
            };
            conn.send(&raw);
            match conn.read_response(false) {
                Ok(resp) => {
                    if self.http_status(resp.status, "malformed") {
                        self.tally.malformed.fetch_add(1, Ordering::Relaxed);
                        if !is_error(&resp.body, want) {
                            self.tally.other_failures.fetch_add(1, Ordering::Relaxed);
                            self.problem(format!("malformed case {}: not {want:?}", n % 5));
                        }
                    }
                }
                Err(e) => {
                    self.tally.other_failures.fetch_add(1, Ordering::Relaxed);
                    self.problem(format!("malformed: {e}"));
                    conn = Conn::open(self.addr);
                }
            }
        });
    }

    /// A valid request dribbled out over ~2 s on a fresh connection, then a slowloris
    /// that sends a header byte now and then and never finishes (cut by the server).
    fn slow_client(&self, id: u64) {
        let mut n = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            n += 1;
            let i = self.pick(n, id + 200);
            let der = self
                .checker
                .request(&[serial(i)], HashAlg::Sha256, Some(&[n as u8 | 1; 20]));
            let raw = post_req("/", &der, &[]);
            let mut c = Conn::open(self.addr);
            let from = Instant::now();
            let step = raw.len().div_ceil(20);
            let mut ok = true;
            for piece in raw.chunks(step) {
                if c.stream().try_clone().unwrap().write_all(piece).is_err() {
                    ok = false;
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            match (ok, c.read_response(false)) {
                (true, Ok(resp)) => {
                    let to = Instant::now();
                    if self.http_status(resp.status, "slow POST") {
                        self.tally.slow.fetch_add(1, Ordering::Relaxed);
                        self.judge(&der, &resp.body, &[i], from, to);
                    }
                }
                (_, Err(e)) => {
                    self.tally.other_failures.fetch_add(1, Ordering::Relaxed);
                    self.problem(format!("slow POST: {e}"));
                }
                (false, _) => {
                    self.tally.other_failures.fetch_add(1, Ordering::Relaxed);
                    self.problem("slow POST: write failed".into());
                }
            }
            // Slowloris: one header byte a second until the server hangs up.
            let mut s = TcpStream::connect(self.addr).unwrap();
            let _ = s.write_all(b"GET / HTTP/1.1\r\n");
            self.tally.slowloris.fetch_add(1, Ordering::Relaxed);
            let t = Instant::now();
            while !self.stop.load(Ordering::Relaxed) && t.elapsed() < Duration::from_secs(30) {
                if s.write_all(b"X").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Call `f` about `rate` times a second until the soak stops.
fn pace(soak: &Soak, rate: f64, mut f: impl FnMut(u64)) {
    let gap = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut n = 0u64;
    while !soak.stop.load(Ordering::Relaxed) {
        f(n);
        n += 1;
        let due = start + gap.mul_f64(n as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

/// Install version `k` as openssl ca does, recording when: the start before the rename
/// (so a judge never misses a version that may already be visible), the end after it.
fn install(soak: &Soak, path: &Path, k: u64) {
    let text = index_text(k);
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, &text).unwrap();
    let n = {
        let mut h = soak.history.lock().unwrap();
        h.versions.push((k, Instant::now(), None));
        h.versions.len() - 1
    };
    std::fs::rename(&tmp, path).unwrap();
    soak.history.lock().unwrap().versions[n].2 = Some(Instant::now());
}

/// Ask once for every serial under both hash algorithms, so that the response cache
/// holds its working set before the first RSS reading (the memory judged afterwards is
/// then the steady state, not the cache filling up).
fn warm_up(soak: &Soak) {
    let mut conn = Conn::open(soak.addr);
    for i in 0..SERIALS {
        for alg in [HashAlg::Sha1, HashAlg::Sha256] {
            let der = soak.checker.request(&[serial(i)], alg, None);
            conn.send(&get_req(&get_path_of(&der), &[]));
            let resp = conn.read_response(false).unwrap();
            assert_eq!(resp.status, 200);
        }
    }
}

fn run_soak(secs: u64, rewrite_every: Duration) -> String {
    let pki = Pki::new("Soak");
    std::fs::write(&pki.index, index_text(0)).unwrap();
    let mut args = pki.serve_args();
    args.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    let r = Responder::start(OCSP, &args);
    let pid = r.pid();
    let soak = Arc::new(Soak {
        addr: r.addr(),
        checker: Checker::new(&pki),
        history: Mutex::new(History::default()),
        tally: Tally::default(),
        problems: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    });
    {
        let now = Instant::now();
        soak.history
            .lock()
            .unwrap()
            .versions
            .push((0, now, Some(now)));
    }
    if secs >= 120 {
        warm_up(&soak);
    }
    let started = Instant::now();
    let mut threads = Vec::new();
    for id in 0..3 {
        let s = soak.clone();
        threads.push(std::thread::spawn(move || s.cacheable_client(id, 60.0)));
    }
    for id in 0..2 {
        let s = soak.clone();
        threads.push(std::thread::spawn(move || s.nonce_client(id, 40.0)));
    }
    {
        let s = soak.clone();
        threads.push(std::thread::spawn(move || s.malformed_client(20.0)));
    }
    for id in 0..2 {
        let s = soak.clone();
        threads.push(std::thread::spawn(move || s.slow_client(id)));
    }

    let ref_at = Duration::from_secs(60).min(Duration::from_secs(secs) / 3);
    let mut rss_ref = None;
    let mut rss_max = 0u64;
    let mut series: Vec<(u64, u64, u64)> = Vec::new();
    let mut k = 0u64;
    let mut next_rewrite = started + rewrite_every;
    let end = started + Duration::from_secs(secs);
    while Instant::now() < end {
        if Instant::now() >= next_rewrite {
            k += 1;
            install(&soak, &pki.index, k);
            next_rewrite += rewrite_every;
        }
        let rss = rss_kib(pid);
        rss_max = rss_max.max(rss);
        let at = started.elapsed().as_secs();
        let every = (secs / 10).max(10);
        if series.last().is_none_or(|(t, _, _)| at >= t + every) {
            series.push((at, rss, thread_count(pid)));
        }
        if rss_ref.is_none() && started.elapsed() >= ref_at {
            rss_ref = Some(rss);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    soak.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let rss_end = rss_kib(pid);
    let rss_ref = rss_ref.unwrap_or(rss_end);
    let cpu = cpu_ticks(pid);
    let t = &soak.tally;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let growth = (rss_end as f64 / rss_ref as f64 - 1.0) * 100.0;
    let summary = format!(
        "| duration | {secs} s |\n| index rewrites (rename, every {:?}) | {k} ({SERIALS} serials, {} changing each time) |\n\
         | requests answered | {} (cacheable GET {}, nonce POST {}, malformed {}, slow {}) |\n\
         | slowloris connections | {} |\n| HTTP 5xx | {} |\n| answers disagreeing with the index | {} |\n\
         | other failures | {} |\n| RSS after {:?} / at the end / peak | {} KiB / {} KiB / {} KiB ({growth:+.1} %) |\n\
         | RSS over time (s: MiB (threads)) | {} |\n| responder CPU time | {:.1} s |\n",
        rewrite_every,
        SERIALS / CHURN,
        get(&t.requests),
        get(&t.cacheable),
        get(&t.nonce),
        get(&t.malformed),
        get(&t.slow),
        get(&t.slowloris),
        get(&t.http_5xx),
        get(&t.disagree),
        get(&t.other_failures),
        ref_at,
        rss_ref,
        rss_end,
        rss_max,
        series
            .iter()
            .map(|(t, kib, n)| format!("{t}: {:.1} ({n})", *kib as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(", "),
        cpu as f64 / 100.0,
    );
    eprintln!("soak summary:\n{summary}");
    let problems = soak.problems.lock().unwrap();
    assert!(
        problems.is_empty(),
        "{} problems (first 50):\n{}\n{summary}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(get(&t.http_5xx), 0);
    assert_eq!(get(&t.disagree), 0);
    assert!(
        get(&t.requests) > secs * 100,
        "too little load: {}",
        get(&t.requests)
    );
    assert!(
        k >= secs / rewrite_every.as_secs().max(1) - 1,
        "too few rewrites: {k}"
    );
    if secs >= 300 {
        assert!(
            rss_end as f64 <= rss_ref as f64 * 1.10,
            "RSS grew from {rss_ref} KiB after {ref_at:?} to {rss_end} KiB at the end ({growth:+.1} %)"
        );
    }
    summary
}

#[test]
fn soak_short() {
    run_soak(20, Duration::from_secs(2));
}

/// The full soak: `OCSP_SOAK_SECS` (default 600) seconds; `OCSP_SOAK_REPORT=FILE` writes
/// the summary table there. Run by scripts/soak.sh.
#[test]
#[ignore = "long: run by scripts/soak.sh"]
fn soak_long() {
    let secs = std::env::var("OCSP_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let summary = run_soak(secs, Duration::from_secs(3));
    if let Ok(path) = std::env::var("OCSP_SOAK_REPORT") {
        std::fs::write(path, summary).unwrap();
    }
}
