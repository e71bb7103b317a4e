//! Test helpers for `ocsp query` / `ocsp inspect`: a PKI made at test time with the real
//! `openssl ca`, the real `openssl ocsp` responder on a free port, a one-shot fake HTTP
//! responder, and a runner for the built `ocsp` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Panic with the install command when openssl is missing.
pub fn require_openssl() {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "these tests need the real `openssl` binary: apt-get install -y openssl"
    );
}

/// Run `openssl ARGS` in `dir`; panic with its output on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl (apt-get install -y openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CNF: &str = r#"
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
serial = ./serial
default_md = sha256
default_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_leaf ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
[ v3_ocsp ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
[ v3_noeku ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
"#;

/// Key types.
#[derive(Clone, Copy, Debug)]
pub enum Key {
    Rsa,
    Ec,
    Ed25519,
}

/// A CA in the OpenSSL layout with a few leaves and responders.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    /// A CA (`ca.pem`, `ca.key`), leaves `good` and `revoked` (keyCompromise), delegated
    /// responders `rsa`, `ec`, `ed` (OCSPSigning), `noeku` (serverAuth only), and
    /// `unrelated` (self-signed, not from this CA).
    pub fn new() -> Pki {
        require_openssl();
        let dir = tempfile::Builder::new()
            .prefix("ocsp-query-pki")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let p = Pki { dir };
        let d = p.path();
        std::fs::write(d.join("ca.cnf"), CNF).unwrap();
        std::fs::create_dir(d.join("newcerts")).unwrap();
        std::fs::write(d.join("index.txt"), "").unwrap();
        std::fs::write(d.join("serial"), "1000\n").unwrap();
        p.genkey("ca", Key::Ec);
        openssl(
            d,
            &[
                "req",
                "-new",
                "-x509",
                "-key",
                "ca.key",
                "-subj",
                "/CN=Test CA",
                "-days",
                "30",
                "-config",
                "ca.cnf",
                "-extensions",
                "v3_ca",
                "-out",
                "ca.pem",
            ],
        );
        p.issue("good", Key::Ec, "v3_leaf", None);
        p.issue("revoked", Key::Ec, "v3_leaf", None);
        openssl(
            d,
            &[
                "ca",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-revoke",
                "revoked.pem",
                "-crl_reason",
                "keyCompromise",
            ],
        );
        p.issue("rsa", Key::Rsa, "v3_ocsp", None);
        p.issue("ec", Key::Ec, "v3_ocsp", None);
        p.issue("ed", Key::Ed25519, "v3_ocsp", None);
        p.issue("noeku", Key::Ec, "v3_noeku", None);
        p.genkey("unrelated", Key::Ec);
        openssl(
            d,
            &[
                "req",
                "-new",
                "-x509",
                "-key",
                "unrelated.key",
                "-subj",
                "/CN=Unrelated Responder",
                "-days",
                "30",
                "-config",
                "ca.cnf",
                "-extensions",
                "v3_ocsp",
                "-out",
                "unrelated.pem",
            ],
        );
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Path of `name` in the PKI directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// Path of `<stem>.pem` as a string.
    pub fn pem(&self, stem: &str) -> String {
        self.file(&format!("{stem}.pem")).display().to_string()
    }

    fn genkey(&self, stem: &str, key: Key) {
        let out = format!("{stem}.key");
        let args: Vec<&str> = match key {
            Key::Rsa => vec![
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                &out,
            ],
            Key::Ec => vec![
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &out,
            ],
            Key::Ed25519 => vec!["genpkey", "-algorithm", "ed25519", "-out", &out],
        };
        openssl(self.path(), &args);
    }

    /// Issue `<stem>.pem` with a new key `<stem>.key`, with `ext` from the config, and an
    /// AIA OCSP URL when given.
    pub fn issue(&self, stem: &str, key: Key, ext: &str, aia: Option<&str>) {
        let d = self.path();
        self.genkey(stem, key);
        let csr = format!("{stem}.csr");
        let subj = format!("/CN={stem}");
        openssl(
            d,
            &[
                "req",
                "-new",
                "-key",
                &format!("{stem}.key"),
                "-subj",
                &subj,
                "-config",
                "ca.cnf",
                "-out",
                &csr,
            ],
        );
        let mut args = vec![
            "ca".to_string(),
            "-batch".into(),
            "-notext".into(),
            "-config".into(),
            "ca.cnf".into(),
            "-cert".into(),
            "ca.pem".into(),
            "-keyfile".into(),
            "ca.key".into(),
            "-in".into(),
            csr,
            "-out".into(),
            format!("{stem}.pem"),
        ];
        if let Some(url) = aia {
            let extfile = format!("{stem}.ext");
            std::fs::write(
                d.join(&extfile),
                format!("basicConstraints = CA:FALSE\nauthorityInfoAccess = OCSP;URI:{url}\n"),
            )
            .unwrap();
            args.extend(["-extfile".into(), extfile]);
        } else {
            args.extend(["-extensions".into(), ext.to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        openssl(d, &refs);
    }

    /// The index.txt revocation time of the `R` line for `cn`, as RFC 3339.
    pub fn revocation_time(&self, cn: &str) -> String {
        let idx = std::fs::read_to_string(self.file("index.txt")).unwrap();
        let line = idx
            .lines()
            .find(|l| l.starts_with('R') && l.ends_with(&format!("/CN={cn}")))
            .unwrap();
        let t = line.split('\t').nth(2).unwrap().split(',').next().unwrap();
        format!(
            "20{}-{}-{}T{}:{}:{}Z",
            &t[0..2],
            &t[2..4],
            &t[4..6],
            &t[6..8],
            &t[8..10],
            &t[10..12]
        )
    }
}

/// The real `openssl ocsp` responder, killed on drop.
pub struct OpensslResponder {
    child: Child,
    pub port: u16,
}

impl OpensslResponder {
    /// `openssl ocsp -index index.txt -port 0 -CA ca.pem -rsigner <signer>.pem -rkey
    /// <signer>.key -ignore_err -nmin 60 EXTRA`. Waits for its `ACCEPT` line (never
    /// connects: openssl 3.0 spins after a bare connect-and-close).
    pub fn start(pki: &Pki, signer: &str, extra: &[&str]) -> OpensslResponder {
        let mut child = Command::new("openssl")
            .args([
                "ocsp",
                "-index",
                "index.txt",
                "-port",
                "0",
                "-CA",
                "ca.pem",
                "-rsigner",
                &format!("{signer}.pem"),
                "-rkey",
                &format!("{signer}.key"),
                "-ignore_err",
                "-nmin",
                "60",
            ])
            .args(extra)
            .current_dir(pki.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openssl ocsp (apt-get install -y openssl)");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        // Drain stderr so the responder never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = BufReader::new(stderr).read_to_end(&mut sink);
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
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

/// What the fake responder saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub head: String,
}

/// A one-connection HTTP responder on 127.0.0.1 that answers `body` (or never answers
/// when `body` is `None`) and reports the request head it read.
pub struct FakeResponder {
    pub port: u16,
    pub seen: mpsc::Receiver<Seen>,
}

impl FakeResponder {
    pub fn start(body: Option<Vec<u8>>) -> FakeResponder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).into_owned();
            let _ = tx.send(Seen { head });
            match body {
                Some(b) => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        b.len()
                    );
                    let _ = s.write_all(&b);
                }
                None => std::thread::sleep(Duration::from_secs(8)),
            }
        });
        FakeResponder { port, seen }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ocsp", self.port)
    }
}

/// The result of running the `ocsp` binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panic with everything when the exit code is not `code`.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit status: {self:#?}");
        self
    }
}

/// Run the built `ocsp` binary with `args` (in `dir` when given).
pub fn ocsp(args: &[&str]) -> Run {
    ocsp_stdin(args, None)
}

/// Run the built `ocsp` binary with `args`, feeding `stdin`.
pub fn ocsp_stdin(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ocsp"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(data).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
