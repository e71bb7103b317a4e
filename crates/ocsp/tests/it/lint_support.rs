//! Support for the `ocsp lint` tests: `openssl ocsp` run as the seed runs it, the binary's
//! lint run to completion, its JSON read back, and a responder certificate with the CA/B
//! Forum profile.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use test_support::prelude::*;

/// `openssl ocsp` serving a [`Pki`], as the seed document runs it.
pub struct OpensslOcsp {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl OpensslOcsp {
    /// `openssl ocsp -index index.txt -port 0 -rsigner ocsp_responder.crt -rkey
    /// ocsp_responder.key -CA cacert.pem -text EXTRA` (plus `-passin` for the encrypted key);
    /// waits for its `ACCEPT` line.
    pub fn start(pki: &Pki, extra: &[&str]) -> OpensslOcsp {
        let passin = pki.passin();
        let mut args = vec![
            "ocsp",
            "-index",
            p(&pki.index),
            "-port",
            "0",
            "-rsigner",
            p(&pki.responder.cert),
            "-rkey",
            p(&pki.responder.key),
            "-passin",
            &passin,
            "-CA",
            p(&pki.cacert),
            "-text",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new("openssl")
            .args(&args)
            .current_dir(&pki.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run openssl (install it: apt-get install -y openssl)");
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(rest) = line.strip_prefix("ACCEPT ") {
                        let port = rest
                            .split_whitespace()
                            .next()
                            .and_then(|a| a.rsplit(':').next())
                            .and_then(|p| p.parse::<u16>().ok());
                        if let Some(port) = port {
                            let _ = tx.send(port);
                        }
                    }
                }
            });
        }
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(port) => OpensslOcsp { child, port },
            Err(e) => {
                let _ = child.kill();
                panic!("openssl ocsp printed no ACCEPT line: {e}");
            }
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for OpensslOcsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `ocsp lint ARGS` to completion (at most two minutes).
pub fn lint(args: &[&str]) -> Output {
    let mut cmd = Command::new(crate::OCSP);
    cmd.arg("lint").args(args);
    run(&mut cmd, Duration::from_secs(120))
}

/// Run `ocsp lint ARGS --format json`; the exit code and the document.
pub fn lint_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = lint(&all);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ocsp lint printed no JSON ({e}):\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

/// Every verdict per check id (an id repeats for each --cert).
pub fn verdicts(doc: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in doc["checks"].as_array().expect("checks") {
        m.entry(c["id"].as_str().unwrap().to_string())
            .or_default()
            .push(c["verdict"].as_str().unwrap().to_string());
    }
    m
}

/// The check lines (`id verdict seen`) that are WARN or FAIL, for messages.
pub fn problems(doc: &serde_json::Value) -> Vec<String> {
    doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| matches!(c["verdict"].as_str(), Some("WARN") | Some("FAIL")))
        .map(|c| format!("{} {} {}", c["id"], c["verdict"], c["seen"]))
        .collect()
}

/// Assert that check `id` has verdict `want` (at least once).
#[track_caller]
pub fn assert_verdict(doc: &serde_json::Value, id: &str, want: &str) {
    let v = verdicts(doc);
    let got = v.get(id).cloned().unwrap_or_default();
    assert!(
        got.iter().any(|g| g == want),
        "check {id}: wanted {want}, got {got:?}\n{}",
        serde_json::to_string_pretty(&doc["checks"]).unwrap()
    );
}

/// A delegated responder certificate with the CA/B Forum profile (BR §7.1.2.8): EKU
/// OCSPSigning only, keyUsage digitalSignature only, id-pkix-ocsp-nocheck.
pub fn br_responder(pki: &Pki, stem: &str, alg: KeyAlg) -> SignerFiles {
    let mut cnf = std::fs::read_to_string(&pki.cnf).unwrap();
    if !cnf.contains("[ v3_OCSP_BR ]") {
        cnf.push_str(
            "\n[ v3_OCSP_BR ]\nbasicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\n\
             extendedKeyUsage = OCSPSigning\nnoCheck = ignored\n",
        );
        std::fs::write(&pki.cnf, cnf).unwrap();
    }
    pki.issue_responder(stem, alg, "v3_OCSP_BR")
}

/// Issue `expired` (valid in 2020) and mark it `E` in index.txt (`openssl ca -updatedb`).
pub fn issue_expired(pki: &Pki) -> std::path::PathBuf {
    let c = pki.issue_with(
        "expired",
        "usr_cert",
        &[
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20210101000000Z",
        ],
    );
    pki.update_db();
    c
}

/// `ocsp query --respout FILE --noverify --no-nonce` of `cert` at `url`: the raw response.
pub fn fetch_response(pki: &Pki, url: &str, cert: &Path, out: &Path) -> Vec<u8> {
    let mut cmd = Command::new(crate::OCSP);
    cmd.args([
        "query",
        "--issuer",
        p(&pki.cacert),
        "--cert",
        p(cert),
        "--url",
        url,
        "--no-nonce",
        "--noverify",
        "--method",
        "post",
        "--respout",
        p(out),
    ]);
    let o = run(&mut cmd, Duration::from_secs(30));
    std::fs::read(out).unwrap_or_else(|e| {
        panic!(
            "no response saved ({e}): {}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}
