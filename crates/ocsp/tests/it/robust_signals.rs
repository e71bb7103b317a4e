//! Signals under the real `ocsp serve` binary (issue 5, point 4).
//!
//! - SIGTERM with a load across it: clients keep asking over keep-alive and fresh
//!   connections, and slow clients are in the middle of sending a request when the signal
//!   arrives. Every request sent before the signal is answered completely and correctly
//!   (the slow ones after the signal, within the grace period); after it, clients find
//!   the door closed (refused or closed before any byte of an answer), never a partial
//!   or wrong answer or a 5xx; every request the responder logged was received whole;
//!   the process exits 0.
//! - SIGINT does the same.
//! - The grace period (`shutdown_grace_secs`) bounds the wait for clients that never
//!   finish: exit 0 about then, not at the header timeout.
//! - SIGHUP reloads index.txt (and a broken one keeps the last good state, logged).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use ocsp_proto::{HashAlg, Serial};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use test_support::prelude::*;

fn kill(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// What became of one request. (The details are read through `Debug`, in failure
/// messages.)
#[derive(Debug)]
#[allow(dead_code)]
enum Outcome {
    Answered(Result<(), String>),
    /// Connection refused: the listener is closed.
    Refused,
    /// Sent, and the connection closed (or was reset) before any byte of an answer.
    Closed(String),
    /// The answer started but did not finish.
    Partial(String),
    /// HTTP status other than 200.
    Status(u16),
}

struct Sample {
    sent: Instant,
    outcome: Outcome,
}

/// Read one response; distinguish "nothing at all" from "cut in the middle".
fn read_answer(r: &mut BufReader<TcpStream>) -> Result<(u16, Vec<u8>), Outcome> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) => return Err(Outcome::Closed("EOF".into())),
        Err(e) => return Err(Outcome::Closed(e.to_string())),
        Ok(_) => {}
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Outcome::Partial(format!("status line {line:?}")))?;
    let mut len = None;
    loop {
        let mut h = String::new();
        match r.read_line(&mut h) {
            Ok(0) => return Err(Outcome::Partial("EOF in headers".into())),
            Err(e) => return Err(Outcome::Partial(e.to_string())),
            Ok(_) => {}
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
    let len = len.ok_or_else(|| Outcome::Partial("no content-length".into()))?;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)
        .map_err(|e| Outcome::Partial(format!("body: {e}")))?;
    Ok((status, body))
}

struct Load {
    addr: SocketAddr,
    checker: Arc<Checker>,
    view: Arc<IndexView>,
    serials: Vec<Serial>,
}

impl Load {
    /// One client: keep-alive, a fresh connection every 20 requests, until refused.
    fn run(&self, id: usize, stop: &AtomicBool) -> Vec<Sample> {
        let mut out = Vec::new();
        let mut conn: Option<BufReader<TcpStream>> = None;
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            if conn.is_none() || i % 20 == 0 {
                match TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)) {
                    Ok(s) => {
                        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
                        conn = Some(BufReader::new(s));
                    }
                    Err(_) => {
                        out.push(Sample {
                            sent: Instant::now(),
                            outcome: Outcome::Refused,
                        });
                        break;
                    }
                }
            }
            let s = &self.serials[(id + i) % self.serials.len()];
            let nonce = ((id as u64) << 32 | i as u64).to_be_bytes().repeat(2);
            let (der, raw) = if i % 2 == 0 {
                let der = self
                    .checker
                    .request(std::slice::from_ref(s), HashAlg::Sha256, None);
                let raw = get_req(&get_path_of(&der), &[]);
                (der, raw)
            } else {
                let der =
                    self.checker
                        .request(std::slice::from_ref(s), HashAlg::Sha1, Some(&nonce));
                let raw = post_req("/", &der, &[]);
                (der, raw)
            };
            let c = conn.as_mut().unwrap();
            let sent = Instant::now();
            if let Err(e) = c.get_mut().write_all(&raw) {
                out.push(Sample {
                    sent,
                    outcome: Outcome::Closed(format!("write: {e}")),
                });
                conn = None;
                continue;
            }
            let outcome = match read_answer(c) {
                Ok((200, body)) => {
                    Outcome::Answered(self.checker.check(&der, &body, &[&self.view]).map(|_| ()))
                }
                Ok((status, _)) => Outcome::Status(status),
                Err(o) => o,
            };
            let failed = !matches!(outcome, Outcome::Answered(_));
            out.push(Sample { sent, outcome });
            if failed {
                conn = None;
            }
        }
        out
    }
}

fn pki_and_serials(name: &str) -> (Pki, Vec<Serial>) {
    let pki = Pki::new(name);
    let a = serial_of(&pki.issue("a"));
    let b = pki.issue("b");
    pki.revoke(&b, &["-crl_reason", "keyCompromise"]);
    let b = serial_of(&b);
    (pki, vec![a, b, Serial::from_hex("DEAD03").unwrap()])
}

fn sigterm_or_sigint_under_load(sig: &str) {
    let (pki, serials) = pki_and_serials(&format!("Sig{sig}"));
    let cfg = pki.config_with_limits("shutdown_grace_secs = 5");
    let mut r = Responder::start(OCSP, ["--config", p(&cfg)]);
    let addr = r.addr();
    let pid = r.pid();
    let load = Arc::new(Load {
        addr,
        checker: Arc::new(Checker::new(&pki)),
        view: Arc::new(IndexView::read(&pki.index)),
        serials,
    });

    // Slow clients: half a request before the signal, the rest after it.
    let signalled = Arc::new(Mutex::new(None::<Instant>));
    let mut slow = Vec::new();
    for k in 0..3 {
        let (load, signalled) = (load.clone(), signalled.clone());
        slow.push(std::thread::spawn(move || {
            let der = load.checker.request(
                std::slice::from_ref(&load.serials[k % 3]),
                HashAlg::Sha256,
                Some(&[k as u8 + 1; 16]),
            );
            let raw = post_req("/", &der, &[]);
            let s = TcpStream::connect(load.addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            let mut r = BufReader::new(s);
            // k = 0: half the headers; k = 1: headers and half the body; k = 2: all but
            // the last byte.
            let first = match k {
                0 => 20,
                1 => raw.len() - der.len() / 2,
                _ => raw.len() - 1,
            };
            r.get_mut().write_all(&raw[..first]).unwrap();
            while signalled.lock().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(500));
            r.get_mut().write_all(&raw[first..]).unwrap();
            match read_answer(&mut r) {
                Ok((200, body)) => load.checker.check(&der, &body, &[&load.view]).map(|_| ()),
                Ok((status, _)) => Err(format!("slow client {k}: HTTP {status}")),
                Err(o) => Err(format!("slow client {k}: {o:?}")),
            }
        }));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|id| {
            let (load, stop) = (load.clone(), stop.clone());
            std::thread::spawn(move || load.run(id, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let t_signal = Instant::now();
    *signalled.lock().unwrap() = Some(t_signal);
    kill(pid, sig);
    // Clients stop by themselves once refused; a bound in case they never are.
    let deadline = Instant::now() + Duration::from_secs(10);
    while clients.iter().any(|c| !c.is_finished()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let samples: Vec<Sample> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let slow_results: Vec<Result<(), String>> =
        slow.into_iter().map(|s| s.join().unwrap()).collect();
    let status = r
        .terminate(Duration::from_secs(10))
        .expect("the responder exits");
    let exited_after = t_signal.elapsed();

    let before: Vec<&Sample> = samples.iter().filter(|s| s.sent < t_signal).collect();
    let after: Vec<&Sample> = samples.iter().filter(|s| s.sent >= t_signal).collect();
    let mut problems = Vec::new();
    for s in &before {
        match &s.outcome {
            Outcome::Answered(Ok(())) => {}
            other => problems.push(format!("sent before {sig}: {other:?}")),
        }
    }
    for s in &after {
        match &s.outcome {
            Outcome::Answered(Ok(())) | Outcome::Refused | Outcome::Closed(_) => {}
            other => problems.push(format!("sent after {sig}: {other:?}")),
        }
    }
    for (k, res) in slow_results.iter().enumerate() {
        if let Err(e) = res {
            problems.push(format!("slow client {k} (in flight across {sig}): {e}"));
        }
    }
    let answered = samples
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Answered(Ok(()))))
        .count();
    let stderr = r.stderr();
    let logged = stderr
        .lines()
        .filter(|l| l.contains("ocsp::access"))
        .count();
    eprintln!(
        "{sig}: {} requests sent before the signal, {} after ({} answered, {} refused, {} closed unanswered); \
         responder logged {logged} requests; exit {status:?} {exited_after:?} after the signal",
        before.len(),
        after.len(),
        after.iter().filter(|s| matches!(s.outcome, Outcome::Answered(_))).count(),
        after.iter().filter(|s| matches!(s.outcome, Outcome::Refused)).count(),
        after.iter().filter(|s| matches!(s.outcome, Outcome::Closed(_))).count(),
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}\nstderr tail:\n{}",
        problems.len(),
        problems.join("\n"),
        tail(&stderr)
    );
    assert!(
        before.len() > 100,
        "too little load before the signal: {}",
        before.len()
    );
    // Every request the responder handled reached its client whole (the slow clients
    // are the 3 beyond the load's answers).
    assert_eq!(
        logged,
        answered + slow_results.len(),
        "logged vs received answers\n{}",
        tail(&stderr)
    );
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        tail(&stderr)
    );
    assert!(
        exited_after < Duration::from_secs(5),
        "took {exited_after:?} to stop"
    );
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[test]
fn sigterm_under_load_loses_no_accepted_request() {
    sigterm_or_sigint_under_load("TERM");
}

#[test]
fn sigint_under_load_loses_no_accepted_request() {
    sigterm_or_sigint_under_load("INT");
}

#[test]
fn grace_period_bounds_the_wait_for_clients_that_never_finish() {
    let (pki, serials) = pki_and_serials("Grace");
    let cfg = pki.config_with_limits("shutdown_grace_secs = 2\nheader_timeout_secs = 30\nbody_timeout_secs = 30\nidle_timeout_secs = 30");
    let mut r = Responder::start(OCSP, ["--config", p(&cfg)]);
    let addr = r.addr();
    let checker = Checker::new(&pki);
    let der = checker.request(&serials[..1], HashAlg::Sha256, None);
    // A keep-alive client that got its answer and stays, one stuck in its headers, one
    // stuck in its body.
    let mut idle = Conn::open(addr);
    idle.send(&post_req("/", &der, &[]));
    idle.read_response(false).unwrap();
    let mut headers = Conn::open(addr);
    headers.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
    let mut body = Conn::open(addr);
    let raw = post_req("/", &der, &[]);
    body.send(&raw[..raw.len() - 3]);
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let status = r.terminate(Duration::from_secs(15)).expect("exits");
    let took = t.elapsed();
    assert!(status.success(), "exit status {status:?}\n{}", r.stderr());
    assert!(
        took < Duration::from_secs(5),
        "stopping took {took:?} with a 2 s grace period"
    );
    // The idle keep-alive client was let go at once; new connections are refused.
    assert!(idle.closed_within(Duration::from_secs(1)));
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    let _ = (headers, body);
}

#[test]
fn sighup_reloads_the_index() {
    let (pki, serials) = pki_and_serials("Hup");
    let mut args = pki.serve_args();
    args.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
    let r = Responder::start(OCSP, &args);
    let addr = r.addr();
    let checker = Checker::new(&pki);
    let pid = r.pid();
    let ask = |view: &IndexView, when: &str| {
        for s in &serials {
            let der = checker.request(std::slice::from_ref(s), HashAlg::Sha1, Some(&[9; 8]));
            let resp = http(addr, &post_req("/", &der, &["Connection: close"]));
            checker
                .check(&der, &resp.body, &[view])
                .unwrap_or_else(|e| panic!("{when}: {s}: {e}"));
        }
    };
    ask(&IndexView::read(&pki.index), "at start");

    // Revoke with openssl ca, then SIGHUP: reloaded (logged), and answered.
    pki.revoke(&pki.cert("a"), &["-crl_reason", "superseded"]);
    kill(pid, "HUP");
    assert!(
        r.wait_stderr("SIGHUP: status reloaded", Duration::from_secs(10)),
        "{}",
        r.stderr()
    );
    ask(
        &IndexView::read(&pki.index),
        "after openssl ca -revoke and SIGHUP",
    );

    // A broken index and SIGHUP: not reloaded, said so, last good state kept.
    let good = IndexView::read(&pki.index);
    let text = std::fs::read_to_string(&pki.index).unwrap();
    replace_file(&pki.index, format!("{text}garbage\n").as_bytes());
    kill(pid, "HUP");
    assert!(
        r.wait_stderr(
            "SIGHUP: status not reloaded, the last good state stays in use",
            Duration::from_secs(10)
        ),
        "{}",
        r.stderr()
    );
    ask(&good, "after a broken index and SIGHUP");
    let line = text.lines().count() + 1;
    assert!(
        r.stderr()
            .contains(&format!("{}:{line}:", pki.index.display())),
        "{}",
        r.stderr()
    );

    // Fixed again: the next SIGHUP takes it.
    let reloads = r.stderr().matches("SIGHUP: status reloaded").count();
    replace_file(&pki.index, text.as_bytes());
    kill(pid, "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.stderr().matches("SIGHUP: status reloaded").count() == reloads {
        assert!(
            Instant::now() < deadline,
            "no reload after the fix:\n{}",
            r.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    ask(&good, "after the index was fixed and SIGHUP");
}
