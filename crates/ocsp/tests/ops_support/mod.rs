//! Helpers for the operations tests (`ops_*.rs`), on top of `common`: the extra listeners
//! `ocsp serve` prints (`listening on https://…`, `metrics on http://…/metrics`), plain
//! GETs, a Prometheus text-format parser, and a TLS certificate made by openssl at test
//! time.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The address on the first stdout line starting with `prefix` (e.g.
/// `listening on https://`), waiting up to 10 s for it.
pub fn printed_addr(r: &Responder, prefix: &str) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = r.stdout();
        if let Some(line) = out.lines().find_map(|l| l.trim().strip_prefix(prefix)) {
            let addr = line.trim_end_matches("/metrics").trim_end_matches('/');
            return addr
                .parse()
                .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
        }
        assert!(
            Instant::now() < deadline,
            "no `{prefix}` line on stdout:\n{out}\nstderr:\n{}",
            r.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The metrics listener's address.
pub fn metrics_addr(r: &Responder) -> SocketAddr {
    printed_addr(r, "metrics on http://")
}

/// The first HTTPS listener's address.
pub fn https_addr(r: &Responder) -> SocketAddr {
    printed_addr(r, "listening on https://")
}

/// `GET path` on a fresh connection: status and body as text.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let resp = http(addr, &get_req(path, &["Connection: close"]));
    (
        resp.status,
        String::from_utf8_lossy(&resp.body).into_owned(),
    )
}

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric name (`ocsp_requests_total`).
    pub name: String,
    /// Its labels, in order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `k`.
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse the Prometheus text format (version 0.0.4), strictly: every non-comment line must
/// be `name{labels} value`; every `# TYPE` must name a known type.
pub fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (_, ty) = rest.rsplit_once(' ').expect(line);
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty),
                "{line}"
            );
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("bad labels {line:?}"));
                let mut labels = Vec::new();
                let mut s = inner;
                while !s.is_empty() {
                    let (k, v) = s
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("bad label in {line:?}"));
                    let end = v
                        .find('"')
                        .unwrap_or_else(|| panic!("unterminated label in {line:?}"));
                    labels.push((k.to_string(), v[..end].to_string()));
                    s = v[end + 1..].trim_start_matches(',');
                }
                (name.to_string(), labels)
            }
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name {name:?}"
        );
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

/// Scrape `/metrics` and parse it.
pub fn scrape(addr: SocketAddr) -> Vec<Sample> {
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    parse_prometheus(&body)
}

/// The samples of `name` whose labels include every pair of `labels`.
pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .collect()
}

/// The sum of the samples of `name` with `labels`.
pub fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(samples, name, labels).iter().map(|s| s.value).sum()
}

/// TLS files made by openssl at test time: a throwaway TLS CA and a server certificate
/// it issued for `localhost` and 127.0.0.1 (EC P-256, CA:FALSE, serverAuth), with an
/// unencrypted key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The TLS CA certificate (what clients trust).
    pub ca: PathBuf,
    /// The server certificate.
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
}

/// Make [`TlsFiles`] in `dir`.
pub fn tls_cert(dir: &Path) -> TlsFiles {
    let ca = dir.join("tls-ca.crt");
    let ca_key = dir.join("tls-ca.key");
    let csr = dir.join("tls.csr");
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    let ext = write(
        dir,
        "tls-ext.cnf",
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n",
    );
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend_from_slice(&ec);
    args.extend_from_slice(&[
        "-keyout",
        p(&ca_key),
        "-out",
        p(&ca),
        "-days",
        "2",
        "-subj",
        "/CN=Test TLS CA",
    ]);
    openssl(dir, &args);
    let mut args = vec!["req", "-new"];
    args.extend_from_slice(&ec);
    args.extend_from_slice(&[
        "-keyout",
        p(&key),
        "-out",
        p(&csr),
        "-subj",
        "/CN=localhost",
    ]);
    openssl(dir, &args);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            p(&csr),
            "-CA",
            p(&ca),
            "-CAkey",
            p(&ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            p(&ext),
            "-out",
            p(&cert),
        ],
    );
    TlsFiles { ca, cert, key }
}

/// Write `text` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Run `ocsp ARGS` to completion (with a deadline): exit code, stdout, stderr.
pub fn ocsp(args: &[&str]) -> (Option<i32>, String, String) {
    let out = run(
        std::process::Command::new(env!("CARGO_BIN_EXE_ocsp"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null()),
        CMD_TIMEOUT,
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        strip_ansi(&String::from_utf8_lossy(&out.stderr)),
    )
}
