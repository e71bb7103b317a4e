//! `ocsp lint --watch SECS` prints one line per round (text) or one compact JSON document
//! per line, and `--prometheus FILE` leaves a textfile-collector file that `promtool check
//! metrics` accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::lint_support::*;
use crate::OCSP;
use std::process::Command;
use std::time::Duration;
use test_support::prelude::*;

#[test]
fn watch_rounds_and_prometheus_text() {
    let pki = Pki::new("LW");
    let good = pki.issue("good");
    let mut a = pki.serve_args();
    a.extend(["--listen", "127.0.0.1:0"].map(String::from));
    let r = Responder::start(OCSP, a);
    let url = r.url();
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("ocsp_lint.prom");

    let out = lint(&[
        &url,
        "--issuer",
        p(&pki.cacert),
        "--cert",
        p(&good),
        "--watch",
        "1",
        "--rounds",
        "2",
        "--prometheus",
        p(&prom),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in &lines {
        // 2026-12-06T15:00:00Z http://… 38 checks, 33 PASS, 0 WARN, 0 FAIL, 5 SKIP; … exit 0
        assert!(
            l.as_bytes()[4] == b'-' && l.contains(&url) && l.ends_with("exit 0"),
            "{l}"
        );
        assert!(l.contains(" 0 FAIL"), "{l}");
    }
    let metrics = std::fs::read_to_string(&prom).unwrap();
    assert!(metrics.contains("ocsp_lint_exit_code{"), "{metrics}");
    assert!(
        metrics.contains("check=\"S1\",group=\"semantics\",verdict=\"PASS\"} 1"),
        "{metrics}"
    );
    assert!(!dir.path().join("ocsp_lint.tmp").exists());
    let check = run(
        Command::new("sh").args(["-c", &format!("promtool check metrics < {}", p(&prom))]),
        Duration::from_secs(30),
    );
    assert!(
        check.status.success(),
        "promtool check metrics (install: apt-get install -y prometheus): {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    // JSON: one compact document per round.
    let out = lint(&[
        &url,
        "--issuer",
        p(&pki.cacert),
        "--watch",
        "1",
        "--rounds",
        "2",
        "--format",
        "json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let docs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{text}");
    assert!(
        docs.iter()
            .all(|d| d["version"] == 1 && d["exit_code"] == 0),
        "{text}"
    );

    // A failing round shows in the line and the metrics: nobody listening.
    drop(r);
    let out = lint(&[
        &url,
        "--issuer",
        p(&pki.cacert),
        "--watch",
        "1",
        "--rounds",
        "1",
        "--timeout",
        "2",
        "--prometheus",
        p(&prom),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("could not run"));
    let metrics = std::fs::read_to_string(&prom).unwrap();
    assert!(metrics.contains("} 3\n"), "{metrics}");
}
