//! The real `openssl ocsp` responder, run as the seed runs it, as a peer for the client
//! and for `ocsp lint` (built on [`crate::openssl`] and a [`Pki`]).

use crate::files::p;
use crate::openssl::require_openssl;
use crate::pki::Pki;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The real `openssl ocsp` responder, killed on drop.
pub struct OpensslResponder {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl OpensslResponder {
    /// `openssl ocsp -index index.txt -port 0 -CA cacert -rsigner <signer> -rkey
    /// <signer key> -ignore_err -nmin 60 EXTRA`, the signer being a certificate issued by
    /// [`Pki::issue_keyed`] (unencrypted key). Waits for its `ACCEPT` line (never connects:
    /// openssl 3.0 spins after a bare connect-and-close).
    pub fn start(pki: &Pki, signer: &str, extra: &[&str]) -> OpensslResponder {
        require_openssl();
        let cert = pki.cert(signer);
        let key = pki.key(signer);
        let mut child = Command::new("openssl")
            .args([
                "ocsp",
                "-index",
                p(&pki.index),
                "-port",
                "0",
                "-CA",
                p(&pki.cacert),
                "-rsigner",
                p(&cert),
                "-rkey",
                p(&key),
                "-ignore_err",
                "-nmin",
                "60",
            ])
            .args(extra)
            .current_dir(&pki.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run openssl ocsp ({e}): apt-get install -y openssl")
            });
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        // Drain stderr so the responder never blocks on a full pipe.
        std::thread::spawn(move || {
            if let Some(stderr) = stderr {
                let mut sink = Vec::new();
                let _ = BufReader::new(stderr).read_to_end(&mut sink);
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("ACCEPT ") {
                    let port = rest
                        .split_whitespace()
                        .next()
                        .and_then(|a| a.rsplit(':').next())
                        .and_then(|p| p.parse::<u16>().ok());
                    let _ = tx.send(port);
                    break;
                }
            }
            for _ in lines {}
        });
        let mut r = OpensslResponder { child, port: 0 };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(port)) => r.port = port,
            other => panic!("openssl ocsp did not print its ACCEPT line: {other:?}"),
        }
        r
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for OpensslResponder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
