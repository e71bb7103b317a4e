//! Replacing the responder certificate and key of the real `ocsp serve` while it serves.
//!
//! - Under load (eight keep-alive clients firing cacheable GETs and nonce POSTs), the pair is
//!   swapped several times by replacing the files and sending SIGHUP: not one request
//!   fails or gets a malformed answer; every answer verifies with the certificate it
//!   carries, which is one of the pairs put in force; after each swap, answers name the
//!   new certificate (nonce answers at once, cached answers once re-signed); a bad pair
//!   sent the same way is refused, logged with the file, counted, and the pair in force
//!   stays. `openssl ocsp -respin -VAfile` accepts an answer of each pair.
//! - A next pair configured with `--rsigner-next` takes over at its notBefore with no
//!   signal at all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use ocsp_proto::{HashAlg, Serial};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use test_support::prelude::*;
use x509_cert::der::Encode;

fn kill_hup(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP {pid}");
}

/// The PKI of this file: a P-256 CA, leaves, and responder pairs to swap.
struct Fixture {
    pki: Pki,
    serials: Vec<Serial>,
    pairs: Vec<SignerFiles>,
    noeku: SignerFiles,
    /// Valid from one day after the fixture was made.
    next: SignerFiles,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pki = Pki::with(
            "RollHup",
            PkiOptions {
                ca_key: KeyAlg::P256,
                seed_responder: false,
                ..PkiOptions::default()
            },
        );
        let a = serial_of(&pki.issue("a"));
        let b = pki.issue("b");
        pki.revoke(&b, &["-crl_reason", "keyCompromise"]);
        let b = serial_of(&b);
        let pairs = ["r1", "r2", "r3"]
            .iter()
            .map(|s| pki.issue_responder(s, KeyAlg::P256, "v3_ocsp_nocheck"))
            .collect();
        let noeku = pki.issue_responder("noeku", KeyAlg::P256, "v3_noeku");
        let at = unix_now() + 86_400;
        let next = pki.issue_responder_with(
            "next",
            KeyAlg::P256,
            "v3_ocsp_nocheck",
            &[
                "-startdate",
                &openssl_date(at),
                "-enddate",
                &openssl_date(at + 30 * 86_400),
            ],
        );
        // Everything is issued here, before any test reads index.txt (`openssl ca`
        // replaces it by two renames, between which it does not exist).
        Fixture {
            pki,
            serials: vec![a, b, Serial::from_hex("DEAD04").unwrap()],
            pairs,
            noeku,
            next,
        }
    })
}

/// The DER of the certificate in `files`.
fn cert_der(files: &SignerFiles) -> Vec<u8> {
    read_cert(&files.cert).to_der().unwrap()
}

/// The certificate a successful answer carries (the delegated responder's).
fn carried_cert(body: &[u8]) -> Option<Vec<u8>> {
    let basic = parse_basic(body);
    basic.certs.as_ref()?.first().map(|c| c.to_der().unwrap())
}

/// Read one HTTP response with a Content-Length body.
fn read_answer(r: &mut BufReader<TcpStream>) -> Result<(u16, Vec<u8>), String> {
    let mut line = String::new();
    if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
        return Err("connection closed".into());
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("status line {line:?}"))?;
    let mut len = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).map_err(|e| e.to_string())? == 0 {
            return Err("EOF in headers".into());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0u8; len.ok_or("no content-length")?];
    r.read_exact(&mut body).map_err(|e| format!("body: {e}"))?;
    Ok((status, body))
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    answered: usize,
    problems: Vec<String>,
    /// Per pair index: answers carrying that pair's certificate.
    by_pair: Vec<usize>,
}

struct Load {
    addr: SocketAddr,
    checker: Checker,
    view: IndexView,
    serials: Vec<Serial>,
    pairs: Vec<Vec<u8>>,
}

impl Load {
    /// One keep-alive client (a new connection every 50 requests) until `stop`.
    fn run(&self, id: usize, stop: &AtomicBool) -> Seen {
        let mut seen = Seen {
            by_pair: vec![0; self.pairs.len()],
            ..Seen::default()
        };
        let mut conn: Option<BufReader<TcpStream>> = None;
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            if conn.is_none() || i % 50 == 0 {
                let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
                conn = Some(BufReader::new(s));
            }
            let s = &self.serials[(id + i) % self.serials.len()];
            let nonce = ((id as u64) << 32 | i as u64).to_be_bytes().repeat(2);
            let (der, raw) = if i % 2 == 0 {
                let der = self
                    .checker
                    .request(std::slice::from_ref(s), HashAlg::Sha256, None);
                (der.clone(), get_req(&get_path_of(&der), &[]))
            } else {
                let der =
                    self.checker
                        .request(std::slice::from_ref(s), HashAlg::Sha256, Some(&nonce));
                (der.clone(), post_req("/", &der, &[]))
            };
            let c = conn.as_mut().unwrap();
            if let Err(e) = c.get_mut().write_all(&raw) {
                seen.problems.push(format!("client {id}: write: {e}"));
                conn = None;
                continue;
            }
            match read_answer(c) {
                Ok((200, body)) => {
                    if let Err(e) = self.checker.check(&der, &body, &[&self.view]) {
                        seen.problems.push(format!("client {id}: {e}"));
                    } else {
                        match carried_cert(&body)
                            .and_then(|c| self.pairs.iter().position(|p| *p == c))
                        {
                            Some(k) => seen.by_pair[k] += 1,
                            None => seen.problems.push(format!(
                                "client {id}: the answer carries no known responder certificate"
                            )),
                        }
                        seen.answered += 1;
                    }
                }
                Ok((status, _)) => seen.problems.push(format!("client {id}: HTTP {status}")),
                Err(e) => {
                    seen.problems.push(format!("client {id}: {e}"));
                    conn = None;
                }
            }
        }
        seen
    }

    /// One request on a fresh connection: the answer body.
    fn ask(&self, serial: &Serial, nonce: Option<&[u8]>) -> Vec<u8> {
        let der = self
            .checker
            .request(std::slice::from_ref(serial), HashAlg::Sha256, nonce);
        let raw = match nonce {
            Some(_) => post_req("/", &der, &[]),
            None => get_req(&get_path_of(&der), &[]),
        };
        let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut r = BufReader::new(s);
        r.get_mut().write_all(&raw).unwrap();
        let (status, body) = read_answer(&mut r).unwrap();
        assert_eq!(status, 200);
        self.checker.check(&der, &body, &[&self.view]).unwrap();
        body
    }

    /// Wait until answers (a nonce answer, then the cached answer) carry pair `k`.
    fn wait_for_pair(&self, k: usize, what: &str) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(15);
        for nonce in [Some(&b"rollover-probe-nonce"[..]), None] {
            loop {
                let body = self.ask(&self.serials[0], nonce);
                if carried_cert(&body).as_deref() == Some(self.pairs[k].as_slice()) {
                    if nonce.is_none() {
                        return body;
                    }
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{what}: answers ({}) do not name pair {k} after 15 s",
                    if nonce.is_some() { "nonce" } else { "cached" }
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        unreachable!()
    }
}

/// Put `files` where the configuration points (atomically, as `mv` does).
fn install(files: &SignerFiles, cert: &Path, key: &Path) {
    replace_file(cert, &std::fs::read(&files.cert).unwrap());
    replace_file(key, &std::fs::read(&files.key).unwrap());
}

fn openssl_accepts(pki: &Pki, body: &[u8], files: &SignerFiles, dir: &Path) {
    let resp = dir.join("answer.der");
    std::fs::write(&resp, body).unwrap();
    let q = pki.verify_respin(&resp, &["-VAfile", p(&files.cert)]);
    assert!(
        q.status.success() && q.stderr.contains("Response verify OK"),
        "{}",
        q.all()
    );
}

#[test]
fn sighup_swaps_the_pair_under_load_without_a_failed_request() {
    let f = fixture();
    let dir = tempfile::tempdir_in(f.pki.path()).unwrap();
    let (cert, key): (PathBuf, PathBuf) =
        (dir.path().join("live.crt"), dir.path().join("live.key"));
    install(&f.pairs[0], &cert, &key);
    let cfg = dir.path().join("ocsp.toml");
    std::fs::write(
        &cfg,
        format!(
            "profile = \"cabf\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n[metrics]\nlisten = \"127.0.0.1:0\"\n[[issuer]]\nname = \"hup\"\nca = {:?}\nindex = {:?}\nrsigner = {:?}\nrkey = {:?}\npassin = {:?}\n",
            p(&f.pki.cacert),
            p(&f.pki.index),
            p(&cert),
            p(&key),
            f.pki.passin()
        ),
    )
    .unwrap();
    let r = Responder::start(OCSP, ["--config", p(&cfg)]);
    let metrics = metrics_addr(&r);
    let load = Arc::new(Load {
        addr: r.addr(),
        checker: Checker::new(&f.pki),
        view: IndexView::read(&f.pki.index),
        serials: f.serials.clone(),
        pairs: f.pairs.iter().map(cert_der).collect(),
    });
    let body = load.wait_for_pair(0, "at start");
    openssl_accepts(&f.pki, &body, &f.pairs[0], dir.path());

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|id| {
            let (load, stop) = (load.clone(), stop.clone());
            std::thread::spawn(move || load.run(id, &stop))
        })
        .collect();
    let swaps = Mutex::new(Vec::new());
    std::thread::sleep(Duration::from_millis(300));
    for k in [1usize, 2, 0, 1] {
        install(&f.pairs[k], &cert, &key);
        kill_hup(r.pid());
        let body = load.wait_for_pair(k, &format!("swap to pair {k}"));
        openssl_accepts(&f.pki, &body, &f.pairs[k], dir.path());
        swaps.lock().unwrap().push(k);
        std::thread::sleep(Duration::from_millis(200));
    }
    // A bad pair (no OCSPSigning): refused, logged with the file, the pair in force stays.
    install(&f.noeku, &cert, &key);
    kill_hup(r.pid());
    assert!(
        r.wait_stderr("not replaced", Duration::from_secs(10)),
        "{}",
        r.stderr()
    );
    std::thread::sleep(Duration::from_millis(300));
    let body = load.ask(&f.serials[1], Some(b"after the bad pair"));
    assert_eq!(carried_cert(&body), Some(cert_der(&f.pairs[1])));
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Seen> = clients.into_iter().map(|c| c.join().unwrap()).collect();

    let answered: usize = seen.iter().map(|s| s.answered).sum();
    let problems: Vec<&String> = seen.iter().flat_map(|s| &s.problems).collect();
    assert!(
        problems.is_empty(),
        "{} problems in {answered} answers, first: {:?}",
        problems.len(),
        &problems[..problems.len().min(5)]
    );
    let per_pair: Vec<usize> = (0..f.pairs.len())
        .map(|k| seen.iter().map(|s| s.by_pair[k]).sum())
        .collect();
    assert!(answered >= 200, "too little load to judge: {answered}");
    assert!(
        per_pair.iter().all(|n| *n > 0),
        "every pair answered under load: {per_pair:?}"
    );
    let stderr = r.stderr();
    assert!(
        stderr.contains(p(&cert)),
        "the error names the file:\n{stderr}"
    );
    assert!(stderr.contains("OCSPSigning"), "{stderr}");

    let m = scrape(metrics);
    let reloads = |result: &str| {
        sum(
            &m,
            "ocsp_responder_reload_total",
            &[("issuer", "hup"), ("result", result)],
        )
    };
    assert_eq!(reloads("ok"), 4.0, "{m:?}");
    assert_eq!(reloads("failed"), 1.0);
    assert_eq!(
        sum(&m, "ocsp_responder_switches_total", &[("issuer", "hup")]),
        4.0
    );
    assert_eq!(
        sum(
            &m,
            "ocsp_responder_last_reload_success",
            &[("issuer", "hup")]
        ),
        0.0
    );
    let not_after = ocsp_proto::Timestamp::from_x509(
        &read_cert(&f.pairs[1].cert)
            .tbs_certificate
            .validity
            .not_after,
    );
    assert_eq!(
        sum(
            &m,
            "ocsp_responder_cert_not_after_seconds",
            &[("issuer", "hup")]
        ),
        not_after.0 as f64
    );
    // The status page says a reload was refused.
    let (code, json) = get(metrics, "/status.json");
    assert_eq!(code, 200, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["issuers"][0]["responder_reload_ok"], false, "{json}");
    eprintln!(
        "rollover under load: {answered} answers, per pair {per_pair:?}, swaps {:?}",
        swaps.lock().unwrap()
    );
}

#[test]
fn a_next_pair_takes_over_at_its_not_before_without_a_signal() {
    // A PKI of its own: its next certificate is issued now, which rewrites index.txt.
    let pki = Pki::with(
        "RollNext",
        PkiOptions {
            ca_key: KeyAlg::P256,
            seed_responder: false,
            ..PkiOptions::default()
        },
    );
    let good = serial_of(&pki.issue("a"));
    let current = pki.issue_responder("r1", KeyAlg::P256, "v3_ocsp_nocheck");
    let at = unix_now() + 6;
    let next = pki.issue_responder_with(
        "next",
        KeyAlg::P256,
        "v3_ocsp_nocheck",
        &[
            "-startdate",
            &openssl_date(at),
            "-enddate",
            &openssl_date(at + 30 * 86_400),
        ],
    );
    let mut args = pki.serve_args_with(&current);
    args.extend(
        [
            "--listen",
            "127.0.0.1:0",
            "--rsigner-next",
            p(&next.cert),
            "--rkey-next",
            p(&next.key),
        ]
        .map(String::from),
    );
    let r = Responder::start(OCSP, &args);
    let load = Load {
        addr: r.addr(),
        checker: Checker::new(&pki),
        view: IndexView::read(&pki.index),
        serials: vec![good],
        pairs: vec![cert_der(&current), cert_der(&next)],
    };
    let body = load.ask(&load.serials[0], None);
    assert!(
        unix_now() < at,
        "the responder took more than 6 s to start and answer: the switch cannot be observed"
    );
    assert_eq!(
        carried_cert(&body),
        Some(cert_der(&current)),
        "before notBefore"
    );
    let body = load.wait_for_pair(1, "next pair");
    let now = unix_now();
    assert!(now >= at, "not before its notBefore ({now} < {at})");
    assert!(
        now <= at + 5,
        "within a few seconds of its notBefore ({now} vs {at})"
    );
    openssl_accepts(&pki, &body, &next, pki.path());
}

#[test]
fn check_config_checks_the_next_pair() {
    let f = fixture();
    let dir = tempfile::tempdir_in(f.pki.path()).unwrap();
    let config = |next: &SignerFiles| {
        let cfg = dir.path().join("cc.toml");
        std::fs::write(
            &cfg,
            format!(
                "[server]\nlisten = [\"127.0.0.1:0\"]\n[[issuer]]\nname = \"cc\"\nca = {:?}\nindex = {:?}\nrsigner = {:?}\nrkey = {:?}\npassin = {:?}\nrsigner_next = {:?}\nrkey_next = {:?}\n",
                p(&f.pki.cacert),
                p(&f.pki.index),
                p(&f.pairs[0].cert),
                p(&f.pairs[0].key),
                f.pki.passin(),
                p(&next.cert),
                p(&next.key),
            ),
        )
        .unwrap();
        cfg
    };
    let cfg = config(&f.next);
    let (code, out, err) = crate::ocsp(&["check-config", "--no-bind", p(&cfg)]).parts();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("the next responder certificate takes over at"),
        "{out}"
    );

    let cfg = config(&f.noeku);
    let (code, out, err) = crate::ocsp(&["check-config", "--no-bind", p(&cfg)]).parts();
    assert_ne!(code, Some(0), "{out}\n{err}");
    let all = format!("{out}{err}");
    assert!(all.contains(p(&f.noeku.cert)), "{all}");
    assert!(all.contains("OCSPSigning"), "{all}");
    // `serve` refuses to start with it too.
    let fail = serve_must_fail(OCSP, ["--config", p(&cfg)]);
    assert!(fail.stderr.contains(p(&f.noeku.cert)), "{}", fail.stderr);
}
