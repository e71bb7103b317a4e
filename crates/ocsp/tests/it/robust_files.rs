//! Bad files under the real `ocsp serve` binary (issue 5, point 3).
//!
//! `index.txt` truncated mid-line, with a bad line, deleted, replaced by a directory,
//! unreadable, and written in place in pieces: every answer in the meantime verifies and
//! states the last good index; the problem is logged once per change with `file:line`
//! where there is a line, and shows in `/metrics` (`ocsp_index_last_reload_success 0`,
//! `ocsp_index_reload_failures_total`); the next good version (written as `openssl ca`
//! does, by rename) is answered from the very next request.
//!
//! Unreadable: these tests may run as root, for whom `chmod 000` does not block reading.
//! So the unreadable file is made with what blocks root too — a symbolic link loop
//! (`ELOOP`) — and, when not root, also with `chmod 000`. As root, a `chmod 000` file is
//! checked to be read normally (which is right: the responder can read it).
//!
//! Keys and certificates are read once at start: deleting every key, certificate and
//! passphrase file afterwards (and sending SIGHUP) changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use ocsp_proto::{HashAlg, Serial};
use ocsp_status::index_txt::{parse, IndexEntry, IndexFlag};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use test_support::prelude::*;

struct Rig {
    pki: Pki,
    r: Responder,
    checker: Checker,
    serials: Vec<Serial>,
    metrics: SocketAddr,
    nonce: u64,
}

impl Rig {
    fn start(name: &str) -> Rig {
        let pki = Pki::new(name);
        let mut serials = Vec::new();
        for cn in ["a", "b", "c"] {
            serials.push(serial_of(&pki.issue(cn)));
        }
        pki.revoke(&pki.cert("c"), &["-crl_reason", "superseded"]);
        serials.push(Serial::from_hex("DEAD02").unwrap());
        let mut args = pki.serve_args();
        args.extend(
            ["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"].map(String::from),
        );
        let r = Responder::start(OCSP, &args);
        let metrics = r
            .stdout()
            .lines()
            .find_map(|l| l.strip_prefix("metrics on http://"))
            .and_then(|a| a.trim_end_matches("/metrics").parse().ok())
            .expect("a `metrics on http://…` line");
        let checker = Checker::new(&pki);
        Rig {
            pki,
            r,
            checker,
            serials,
            metrics,
            nonce: 0,
        }
    }

    /// Ask for every serial, cacheable (GET) and with a nonce (POST); every answer must
    /// verify and agree with `view`.
    fn ask(&mut self, view: &IndexView, when: &str) {
        self.ask_any(&[view], when);
    }

    /// [`Rig::ask`], each answer agreeing with one of `views`.
    fn ask_any(&mut self, views: &[&IndexView], when: &str) {
        let addr = self.r.addr();
        for s in &self.serials {
            for alg in [HashAlg::Sha1, HashAlg::Sha256] {
                let der = self.checker.request(std::slice::from_ref(s), alg, None);
                let path = get_path_of(&der);
                let resp = http(addr, &get_req(&path, &["Connection: close"]));
                assert_eq!(resp.status, 200, "{when}: GET {s}");
                if let Err(e) = self.checker.check(&der, &resp.body, views) {
                    panic!("{when}: GET for {s}: {e}\nstderr:\n{}", self.r.stderr());
                }
                self.nonce += 1;
                let nonce = self.nonce.to_be_bytes().repeat(2);
                let der = self
                    .checker
                    .request(std::slice::from_ref(s), alg, Some(&nonce));
                let resp = http(addr, &post_req("/", &der, &["Connection: close"]));
                assert_eq!(resp.status, 200, "{when}: POST {s}");
                if let Err(e) = self.checker.check(&der, &resp.body, views) {
                    panic!("{when}: POST for {s}: {e}\nstderr:\n{}", self.r.stderr());
                }
            }
        }
    }

    /// `ocsp_index_last_reload_success` and `ocsp_index_reload_failures_total`.
    fn metrics(&self) -> (f64, f64) {
        let resp = http(self.metrics, &get_req("/metrics", &["Connection: close"]));
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        let value = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name) && !l.starts_with('#'))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        };
        (
            value("ocsp_index_last_reload_success"),
            value("ocsp_index_reload_failures_total"),
        )
    }

    /// The index entries as openssl wrote them.
    fn entries(&self) -> Vec<IndexEntry> {
        let bytes = std::fs::read(&self.pki.index).unwrap();
        parse(&bytes, &self.pki.index).unwrap()
    }
}

/// The next good version: flip one entry between valid and revoked.
fn next_version(mut es: Vec<IndexEntry>, k: usize) -> Vec<IndexEntry> {
    let e = &mut es[k % 3];
    if e.revocation.is_some() {
        e.flag = IndexFlag::Valid;
        e.revocation = None;
    } else {
        e.flag = IndexFlag::Revoked;
        e.revocation = Some(ocsp_proto::Revocation::at(ocsp_proto::Timestamp(
            unix_now() - 60,
        )));
    }
    es
}

fn text_of(es: &[IndexEntry]) -> String {
    es.iter().map(|e| e.to_line() + "\n").collect()
}

/// Warnings about the index logged in `stderr` after byte offset `from`.
fn reports_since(stderr: &str, from: usize) -> Vec<String> {
    stderr
        .get(from..)
        .unwrap_or("")
        .lines()
        .filter(|l| l.contains("index not reloaded"))
        .map(str::to_string)
        .collect()
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Apply a bad change with `spoil`, check answers keep the last good state for a few
/// seconds (the watcher re-checks every second), that exactly one report naming
/// `expect_in_report` was logged, and that metrics say so; then write the next good
/// version by rename and check the very next answers follow it.
fn drill(rig: &mut Rig, k: usize, what: &str, expect_in_report: &str, spoil: &dyn Fn(&Path)) {
    let good = rig.entries();
    let good_view = IndexView::from_entries(&good);
    let (_, failures_before) = rig.metrics();
    let from = rig.r.stderr().len();
    spoil(&rig.pki.index);
    let until = Instant::now() + Duration::from_millis(2500);
    let mut rounds = 0;
    while Instant::now() < until || rounds < 2 {
        rig.ask(&good_view, what);
        rounds += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    let stderr = rig.r.stderr();
    let reports = reports_since(&stderr, from);
    assert_eq!(
        reports.len(),
        1,
        "{what}: expected one report, got {}:\n{}",
        reports.len(),
        reports.join("\n")
    );
    assert!(
        reports[0].contains(expect_in_report),
        "{what}: the report should name {expect_in_report:?}: {}",
        reports[0]
    );
    assert!(
        !reports[0].contains(" ERROR "),
        "{what}: a file problem is a warning: {}",
        reports[0]
    );
    let (ok, failures) = rig.metrics();
    assert_eq!(ok, 0.0, "{what}: ocsp_index_last_reload_success");
    assert!(
        failures > failures_before,
        "{what}: ocsp_index_reload_failures_total"
    );

    // The next good version, as openssl ca writes it: answered from the next request on.
    let next = next_version(good, k);
    let _ = std::fs::remove_dir_all(&rig.pki.index);
    let _ = std::fs::remove_file(&rig.pki.index);
    replace_file(&rig.pki.index, text_of(&next).as_bytes());
    let next_view = IndexView::from_entries(&next);
    assert_ne!(next_view, good_view);
    rig.ask(&next_view, &format!("{what}, then a good version"));
    assert_eq!(
        rig.metrics().0,
        1.0,
        "{what}: success after the good version"
    );
    let fine = rig.r.stderr();
    assert!(
        fine[from..].contains("index is valid again"),
        "{what}: recovery is logged"
    );
}

#[test]
fn bad_index_files_keep_the_last_good_state_and_are_reported_once() {
    let mut rig = Rig::start("Files");
    let start_view = IndexView::from_entries(&rig.entries());
    rig.ask(&start_view, "at start");
    let index = rig.pki.index.display().to_string();

    drill(
        &mut rig,
        0,
        "a bad line",
        &format!("{index}:2: "),
        &|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let mut lines: Vec<&str> = text.lines().collect();
            lines.insert(1, "V\tthis is not a time\t\t01\tunknown\t/CN=x");
            replace_file(path, (lines.join("\n") + "\n").as_bytes());
        },
    );

    let last_line = rig.entries().len();
    drill(
        &mut rig,
        1,
        "truncated mid-line",
        &format!("{index}:{last_line}: "),
        &|path| {
            let text = std::fs::read(path).unwrap();
            // Cut in the middle of the last line.
            let last_start = text[..text.len() - 1]
                .iter()
                .rposition(|b| *b == b'\n')
                .unwrap()
                + 1;
            let cut = last_start + (text.len() - last_start) / 2;
            replace_file(path, &text[..cut]);
        },
    );

    drill(&mut rig, 2, "deleted", &index, &|path| {
        std::fs::remove_file(path).unwrap();
    });

    drill(
        &mut rig,
        3,
        "replaced by a directory",
        &format!("{index}: is a directory"),
        &|path| {
            std::fs::remove_file(path).unwrap();
            std::fs::create_dir(path).unwrap();
        },
    );

    drill(
        &mut rig,
        4,
        "unreadable (a symbolic link loop)",
        &index,
        &|path| {
            std::fs::remove_file(path).unwrap();
            std::os::unix::fs::symlink(path.file_name().unwrap(), path).unwrap();
        },
    );

    if is_root() {
        // chmod 000 does not stop root: the file is read, which is right.
        use std::os::unix::fs::PermissionsExt;
        let es = next_version(rig.entries(), 5);
        replace_file(&rig.pki.index, text_of(&es).as_bytes());
        std::fs::set_permissions(&rig.pki.index, std::fs::Permissions::from_mode(0o000)).unwrap();
        rig.ask(&IndexView::from_entries(&es), "chmod 000 as root");
        std::fs::set_permissions(&rig.pki.index, std::fs::Permissions::from_mode(0o644)).unwrap();
    } else {
        drill(&mut rig, 5, "unreadable (chmod 000)", &index, &|path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o000)).unwrap();
        });
    }

    // Written in place in pieces (cut mid-line), with answers checked between pieces:
    // every piece but the last leaves a last line without its newline, which is refused.
    let good = rig.entries();
    let good_view = IndexView::from_entries(&good);
    let next = next_version(good, 6);
    let next_view = IndexView::from_entries(&next);
    let text = text_of(&next).into_bytes();
    let empty_view = IndexView::default();
    let from = rig.r.stderr().len();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&rig.pki.index)
        .unwrap();
    let lines: Vec<usize> = text
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect();
    // Cut points in the middle of each line.
    let mut cuts: Vec<usize> = Vec::new();
    let mut start = 0;
    for end in &lines {
        cuts.push(start + (end - start) / 2);
        start = end + 1;
    }
    let mut written = 0;
    for cut in cuts {
        f.write_all(&text[written..cut]).unwrap();
        f.flush().unwrap();
        written = cut;
        std::thread::sleep(Duration::from_millis(400));
        // Opening with O_TRUNC leaves the file empty for an instant before the first piece,
        // and an empty index.txt is valid (a new CA's). A responder that read it in that
        // instant states it, which is right (never older than the file); so the empty state
        // is allowed only when the responder reported loading it.
        let saw_empty = rig
            .r
            .stderr()
            .get(from..)
            .unwrap_or("")
            .lines()
            .any(|l| l.contains("index reloaded") && l.contains(" entries=0 "));
        let views: &[&IndexView] = if saw_empty {
            &[&good_view, &empty_view]
        } else {
            &[&good_view]
        };
        rig.ask_any(
            views,
            &format!("in-place write, {written} of {} bytes", text.len()),
        );
    }
    f.write_all(&text[written..]).unwrap();
    drop(f);
    rig.ask(&next_view, "in-place write complete");
    let reports = reports_since(&rig.r.stderr(), from);
    assert!(
        reports.len() <= lines.len(),
        "at most one report per piece: {}",
        reports.join("\n")
    );
    assert!(
        reports.iter().all(|r| r.contains(&format!("{index}:"))),
        "{}",
        reports.join("\n")
    );
    assert!(rig.r.is_running());
}

#[test]
fn keys_and_certificates_vanishing_after_start_change_nothing() {
    let mut rig = Rig::start("Vanish");
    let view = IndexView::from_entries(&rig.entries());
    rig.ask(&view, "at start");
    for f in [
        rig.pki.responder.key.clone(),
        rig.pki.responder.cert.clone(),
        rig.pki.cacert.clone(),
        rig.pki.cakey.clone(),
        rig.pki.pass_file.clone(),
    ] {
        std::fs::remove_file(&f).unwrap();
    }
    rig.ask(&view, "after the key and certificate files were deleted");
    // A reload signal re-reads the index, not the keys.
    let pid = rig.r.pid().to_string();
    std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(
        rig.r
            .wait_stderr("SIGHUP: status reloaded", Duration::from_secs(10)),
        "{}",
        rig.r.stderr()
    );
    rig.ask(&view, "after SIGHUP with the key files gone");
    assert!(rig.r.is_running());
}

/// Replace index.txt by a named pipe (opening one for reading blocks until a writer
/// comes).
fn fifo_in_place_of(index: &Path) {
    std::fs::remove_file(index).unwrap();
    let ok = std::process::Command::new("mkfifo")
        .arg(index)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", index.display());
}

/// A named pipe in place of index.txt: the responder must keep answering from the last
/// good state (not hang every request until its deadline and answer `tryLater`), and take
/// the next good file.
#[test]
fn index_replaced_by_a_fifo_wedges_nothing() {
    let mut rig = Rig::start("Fifo");
    let good = rig.entries();
    let good_view = IndexView::from_entries(&good);
    rig.ask(&good_view, "at start");
    fifo_in_place_of(&rig.pki.index);
    std::thread::sleep(Duration::from_millis(1500));
    rig.ask(&good_view, "index.txt is a FIFO");
    let next = next_version(good, 0);
    std::fs::remove_file(&rig.pki.index).unwrap();
    replace_file(&rig.pki.index, text_of(&next).as_bytes());
    rig.ask(
        &IndexView::from_entries(&next),
        "a good file after the FIFO",
    );
}

/// Whatever is stuck inside (here a read of index.txt blocked on a FIFO), SIGTERM ends
/// the process, with status 0, about when the grace period ends.
#[test]
fn sigterm_exits_within_the_grace_period_even_with_a_stuck_index_read() {
    let pki = Pki::new("Stuck");
    let s = serial_of(&pki.issue("a"));
    let cfg = pki.config_with_limits("shutdown_grace_secs = 2\nrequest_timeout_secs = 1");
    let mut r = Responder::start(OCSP, ["--config", p(&cfg)]);
    let checker = Checker::new(&pki);
    let der = checker.request(&[s], HashAlg::Sha1, Some(&[1; 8]));
    let resp = http(r.addr(), &post_req("/", &der, &["Connection: close"]));
    checker
        .check(&der, &resp.body, &[&IndexView::read(&pki.index)])
        .unwrap();
    fifo_in_place_of(&pki.index);
    // A request now makes the responder open the FIFO.
    let _ = http(r.addr(), &post_req("/", &der, &["Connection: close"]));
    let t = Instant::now();
    let status = r.terminate(Duration::from_secs(15));
    let took = t.elapsed();
    let status = status.unwrap_or_else(|| panic!("no exit {took:?} after SIGTERM\n{}", r.stderr()));
    assert!(status.success(), "exit status {status:?}\n{}", r.stderr());
    assert!(
        took < Duration::from_secs(6),
        "exit took {took:?} with a 2 s grace period"
    );
}
