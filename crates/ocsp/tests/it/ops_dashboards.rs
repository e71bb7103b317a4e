//! The operations side of the real binary, as an operator meets it:
//!
//! - `dist/prometheus/ocsp-rules.yml` passes `promtool check rules`; every PromQL
//!   expression of `dist/grafana/ocsp.json` parses (checked by promtool as recording
//!   rules, with Grafana's variables substituted);
//! - every metric name the dashboard and the rules use is in the `/metrics` output of a
//!   running `ocsp serve` (the demo PKI, after a few queries), and `ocsp_build_info`
//!   carries version, commit and features;
//! - the status page is on the operations listener (`GET /` HTML, `/status.json` with a
//!   lookup answering `revoked` for the revoked serial) and never on the public OCSP port.
//!
//! promtool comes from Debian's `prometheus` package; without it the test fails saying so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn promtool() -> &'static str {
    let ok = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "promtool is not installed: apt-get install prometheus (scripts/test-all.sh does)"
    );
    "promtool"
}

fn check_rules(file: &Path) {
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check rules {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `expr` string in the dashboard.
fn dashboard_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("dist/grafana/ocsp.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                        _ => walk(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&v, &mut out);
    out
}

/// Metric names (`ocsp_…`) used in `text`.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("ocsp_") {
        let start = i + at;
        let boundary =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        if boundary {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

/// The `expr:` values of the rules file (one line, or a `|` block indented below it).
fn rule_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("dist/prometheus/ocsp-rules.yml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((indent, rest)) = line.split_once("expr:") else {
            continue;
        };
        if !indent.trim().is_empty() {
            continue;
        }
        let mut e = rest.trim().trim_start_matches('|').trim().to_string();
        for next in &lines[i + 1..] {
            let depth = next.len() - next.trim_start().len();
            if !next.trim().is_empty() && depth <= indent.len() {
                break;
            }
            e.push(' ');
            e.push_str(next.trim());
        }
        out.push(e);
    }
    out
}

#[test]
fn rules_and_dashboard_are_valid_promql() {
    assert!(rule_exprs().len() >= 8, "{:?}", rule_exprs());
    check_rules(&repo().join("dist/prometheus/ocsp-rules.yml"));
    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 20, "{exprs:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let e = e
            .replace("$__rate_interval", "5m")
            .replace("$instance", ".*");
        yaml.push_str(&format!(
            "      - record: dashboard:expr{i}\n        expr: {}\n",
            serde_json::to_string(&e).unwrap()
        ));
    }
    let file = dir.path().join("dashboard-rules.yml");
    std::fs::write(&file, yaml).unwrap();
    check_rules(&file);
}

struct Served {
    child: Child,
    public: SocketAddr,
    ops: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(config: &Path) -> Served {
    let mut child = Command::new(crate::OCSP)
        .arg("serve")
        .arg("--config")
        .arg(config)
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut public, mut ops) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while public.is_none() || ops.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("ocsp serve printed its listeners");
        let addr = |prefix: &str| -> Option<SocketAddr> {
            line.strip_prefix(prefix)?
                .trim_end_matches("/metrics")
                .parse()
                .ok()
        };
        public = public.or(addr("listening on http://"));
        ops = ops.or(addr("metrics on http://"));
    }
    Served {
        child,
        public: public.unwrap(),
        ops: ops.unwrap(),
    }
}

fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn running_responder_exports_every_series_the_dashboard_and_rules_use() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let out = Command::new(crate::OCSP)
        .args(["demo", "--no-serve"])
        .arg(&pki)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let served = serve(&pki.join("ocsp.toml"));
    let url = format!("http://{}", served.public);
    // Traffic: live signing (nonce), cache misses then hits (no nonce), a malformed GET.
    for (cert, nonce) in [
        ("revoked.pem", true),
        ("good.pem", false),
        ("good.pem", false),
        ("revoked.pem", false),
    ] {
        let mut q = Command::new(crate::OCSP);
        q.arg("query")
            .arg("--issuer")
            .arg(pki.join("cacert.pem"))
            .arg("--cert")
            .arg(pki.join(cert))
            .args(["--url", &url]);
        if !nonce {
            q.arg("--no-nonce");
        }
        let out = q.output().unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    }
    let (status, _, _) = get(served.public, "/not-base64!");
    assert_eq!(status, 200, "malformedRequest is an OCSP answer");

    let (status, _, metrics) = get(served.ops, "/metrics");
    assert_eq!(status, 200);
    let exported: BTreeSet<String> = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect();
    let mut used = BTreeSet::new();
    for e in rule_exprs() {
        used.extend(names_in(&e));
    }
    for e in dashboard_exprs() {
        used.extend(names_in(&e));
    }
    assert!(used.len() >= 20, "{used:?}");
    let missing: Vec<&String> = used.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "the dashboard or the rules use series the responder does not export: {missing:?}\nexported: {exported:?}"
    );
    let build = metrics
        .lines()
        .find(|l| l.starts_with("ocsp_build_info{"))
        .expect("ocsp_build_info");
    for label in ["version=\"", "commit=\"", "features=\"", "profile=\""] {
        assert!(build.contains(label), "{build}");
    }

    // The status page: on the operations listener only.
    let (status, head, page) = get(served.ops, "/");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(
        page.contains("OCSP Demo CA") && page.contains("days"),
        "{page}"
    );
    assert!(page.contains("CN=OCSP Demo Responder"), "{page}");
    let (status, head, json) = get(served.ops, "/status.json?serial=1002");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/json"), "{head}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["ready"], true, "{json}");
    assert_eq!(v["issuers"][0]["name"], "OCSP Demo CA", "{json}");
    assert!(
        v["issuers"][0]["days_to_expiry"].as_i64().unwrap() > 300,
        "{json}"
    );
    assert_eq!(v["issuers"][0]["last_reload"]["ok"], true, "{json}");
    assert_eq!(v["lookup"]["answer"], "revoked", "{json}");
    assert_eq!(v["lookup"]["revocation_reason"], "keyCompromise", "{json}");
    assert!(v["requests"]["total"].as_u64().unwrap() >= 5, "{json}");
    assert!(v["cache"]["hits"].as_u64().unwrap() >= 1, "{json}");
    let (_, _, good) = get(served.ops, "/status.json?serial=1001");
    assert!(good.contains("\"answer\": \"good\""), "{good}");
    for path in [
        "/",
        "/status.json",
        "/status.json?serial=1002",
        "/?serial=1002",
    ] {
        let (_, head, body) = get(served.public, path);
        assert!(
            !head.contains("text/html") && !head.contains("application/json"),
            "public port {path}: {head}"
        );
        assert!(
            !body.contains("OCSP Demo CA") && !body.contains("revoked"),
            "public port {path}: {body}"
        );
    }
}
