//! End to end: `ocsp query` against `ocsp serve`, both the real binary, over a PKI made with
//! `openssl ca` at test time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod query_pki;

use query_pki::*;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `ocsp serve … --port 0`, killed on drop.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(pki: &Pki, extra: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ocsp"))
            .arg("serve")
            .args(["--index", "index.txt", "--ca", "ca.pem", "--port", "0"])
            .args(extra)
            .current_dir(pki.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut s);
            let _ = err_tx.send(s);
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_string());
                    break;
                }
            }
            for _ in lines {}
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let err = err_rx
                    .recv_timeout(Duration::from_secs(5))
                    .unwrap_or_default();
                panic!("ocsp serve printed no `listening on` line; stderr:\n{err}");
            }
        };
        // A wildcard listener is reached through loopback.
        let url = url
            .replace("://[::]:", "://[::1]:")
            .replace("://0.0.0.0:", "://127.0.0.1:");
        Serve { child, url }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {r:#?}"))
}

#[test]
fn query_against_serve_delegated_and_ca_signed() {
    let pki = Pki::new();
    let delegated = Serve::start(&pki, &["--rsigner", "ec.pem", "--rkey", "ec.key"]);
    let ca_signed = Serve::start(&pki, &["--rkey", "ca.key"]);
    for (serve, kind) in [(&delegated, "delegated"), (&ca_signed, "issuer")] {
        let r = ocsp(&[
            "query",
            "--cert",
            &pki.pem("good"),
            "--cert",
            &pki.pem("revoked"),
            "--serial",
            "0x7777",
            "--issuer",
            &pki.pem("ca"),
            "--url",
            &serve.url,
            "--require-nonce",
            "--cafile",
            &pki.pem("ca"),
        ]);
        r.expect_code(1);
        assert_eq!(
            r.stdout,
            format!(
                "{}: good\n{}: revoked (keyCompromise, {})\n0x7777: unknown\n",
                pki.pem("good"),
                pki.pem("revoked"),
                pki.revocation_time("revoked")
            ),
            "{r:#?}"
        );
        assert!(r.stderr.is_empty(), "{r:#?}");
        for (method, extra) in [("GET", "--sha1"), ("POST", "--sha512")] {
            let r = ocsp(&[
                "query",
                "--cert",
                &pki.pem("good"),
                "--issuer",
                &pki.pem("ca"),
                "--url",
                &serve.url,
                "--method",
                &method.to_lowercase(),
                extra,
                "--json",
            ]);
            r.expect_code(0);
            let v = json(&r);
            assert_eq!(v["method"], method);
            assert_eq!(v["verification"]["verified"], true);
            assert_eq!(v["verification"]["signer_kind"], kind);
            assert_eq!(v["nonce"]["sent"], v["nonce"]["received"]);
            assert!(v["certificates"][0]["next_update"].is_string(), "{r:#?}");
        }
    }
    // What serve sent, saved and inspected.
    let resp = pki.file("serve-resp.der").display().to_string();
    ocsp(&[
        "query",
        "--cert",
        &pki.pem("good"),
        "--issuer",
        &pki.pem("ca"),
        "--url",
        &delegated.url,
        "--respout",
        &resp,
    ])
    .expect_code(0);
    let r = ocsp(&["inspect", &resp]);
    r.expect_code(0);
    assert!(
        r.stdout.contains("(byKey)"),
        "serve identifies itself byKey by default: {r:#?}"
    );
    assert!(r.stdout.contains("Cert Status: good"), "{r:#?}");
}
