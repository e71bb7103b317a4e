//! Shared helpers for the `ocsp serve` integration tests: a PKI built by the real
//! `openssl` exactly as `../shared/seed-ocsp-with-openssl.md` builds it, a guard that runs
//! the real `ocsp serve` binary on port 0, and small clients (openssl ocsp, curl, raw
//! HTTP/1.1 over TCP).
//!
//! Use it from a test file with `mod common;` and `use common::*;`.
//!
//! # API
//!
//! Tools
//! - [`require_tools()`]: panics with `apt-get install -y openssl curl` if either is missing.
//! - [`run(cmd, timeout)`](run): run a command with a deadline (killed and reported after it).
//! - [`openssl(dir, args)`](openssl): run `openssl ARGS` in `dir`, panic with its output on failure.
//!
//! The PKI — [`Pki`]
//! - [`Pki::new(name)`](Pki::new): a CA in the OpenSSL CA layout (`openssl.cnf` with the seed's
//!   `[ v3_OCSP ]` section, `index.txt`, `serial`, `newcerts/`, `private/cakey.pem` encrypted,
//!   `cacert.pem`), plus the seed's delegated responder: `openssl genpkey -algorithm RSA -aes256`,
//!   `openssl req -new`, `openssl ca -config openssl.cnf -extensions v3_OCSP -days 365`
//!   (→ `ocsp_responder.key`, `ocsp_responder.crt`). Every key is encrypted with the passphrase in
//!   [`Pki::pass_file`]; `--passin` takes [`Pki::passin()`]. Lives in a fresh directory under
//!   `CARGO_TARGET_TMPDIR`, removed when the `Pki` is dropped (one kept in a `static` is removed
//!   by a later run, an hour on).
//! - [`Pki::standard(name)`](Pki::standard): `new` plus the [`STANDARD_LEAVES`] (good, revoked
//!   keyCompromise, `-crl_compromise`, `-crl_CA_compromise`, `-crl_hold`, revoked without reason,
//!   expired `E` entry, a serial with the top bit set, a leaf valid until 2055 (GeneralizedTime in
//!   `index.txt`), and `outside`, a certificate of this CA that is not in `index.txt`). Get their paths with [`Pki::cert("good")`](Pki::cert).
//! - [`Pki::issue(cn)`](Pki::issue) / [`Pki::issue_with(cn, extensions, extra)`](Pki::issue_with):
//!   `openssl req` + `openssl ca` a leaf (shared EC key [`Pki::leaf_key`]).
//! - [`Pki::issue_responder(stem, KeyAlg, extensions)`](Pki::issue_responder): a responder key
//!   (`openssl genpkey … -aes256`) and certificate issued with the given extensions section
//!   (`v3_OCSP`, or `usr_cert` for one without OCSPSigning).
//!   [`Pki::issue_responder_with`] adds `openssl ca` arguments (`-enddate …`).
//! - [`Pki::revoke(cert, extra)`](Pki::revoke): `openssl ca -revoke CERT EXTRA…`
//!   (e.g. `&["-crl_reason", "keyCompromise"]`); [`Pki::update_db()`](Pki::update_db).
//! - [`Pki::serve_args()`](Pki::serve_args): `--index --ca --rsigner --rkey --passin` for `ocsp serve`;
//!   [`Pki::issuer_toml()`](Pki::issuer_toml): the same as an `[[issuer]]` table.
//! - [`Pki::query(url, args)`](Pki::query): `openssl ocsp -CAfile cacert.pem -issuer cacert.pem
//!   ARGS -url URL` (verification on) → [`Query`].
//! - `openssl ca` runs on one `Pki` are serialised by an internal lock, so tests sharing a `Pki`
//!   (e.g. in a `OnceLock`) may issue and revoke concurrently.
//!
//! The responder — [`Responder`]
//! - [`Responder::start(args)`](Responder::start): runs `ocsp serve ARGS` (give `--port 0` or
//!   `--listen 127.0.0.1:0`), waits for the `listening on http://ADDR:PORT` line(s) on stdout and
//!   returns a guard that kills the process on drop. Its stdout and stderr are drained in the
//!   background (read them with [`Responder::stdout`], [`Responder::stderr`]).
//!   [`Responder::url()`](Responder::url) / [`Responder::addr()`](Responder::addr) give a loopback
//!   address of the first listener.
//! - [`serve_must_fail(args)`](serve_must_fail): runs `ocsp serve ARGS`, expects a non-zero exit
//!   before any `listening on` line, returns its [`Failure`] (exit code, stderr).
//!
//! HTTP
//! - [`Conn`]: one raw TCP connection: [`Conn::send`], [`Conn::read_response`] (HTTP/1.1,
//!   Content-Length or chunked) → [`HttpResponse`]; [`Conn::closed_within`].
//! - [`http(addr, raw)`](http): one request on a fresh connection. [`get_req`], [`post_req`]
//!   build raw requests.
//! - [`curl(args)`](curl): run curl with `--silent --show-error --max-time 10`.
//! - [`b64`], [`pct_encode`]: base64 (by `openssl base64 -A`) and `%XX` encoding of `+ / =`.
//! - [`MALFORMED`], [`UNAUTHORIZED`]: the unsigned error responses' bytes.
//! - [`parse_basic`]: decode a successful response into its `BasicOcspResponse`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `OCSPResponse { responseStatus malformedRequest }`, unsigned.
pub const MALFORMED: [u8; 5] = [0x30, 0x03, 0x0a, 0x01, 0x01];
/// `OCSPResponse { responseStatus unauthorized }`, unsigned.
pub const UNAUTHORIZED: [u8; 5] = [0x30, 0x03, 0x0a, 0x01, 0x06];
/// `OCSPResponse { responseStatus tryLater }`, unsigned.
pub const TRY_LATER: [u8; 5] = [0x30, 0x03, 0x0a, 0x01, 0x03];

/// The passphrase of every key the PKI writes.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// How long any single external command may take.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

/// Panic with install instructions when openssl or curl is missing.
pub fn require_tools() {
    for (tool, arg) in [("openssl", "version"), ("curl", "--version")] {
        let ok = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "`{tool}` is needed by these tests (it is the peer the responder is judged against): \
             apt-get install -y openssl curl"
        );
    }
}

/// Run `cmd` with stdin from `input` (or null); kill it and panic after `timeout`.
pub fn run_input(cmd: &mut Command, input: Option<&[u8]>, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e} (apt-get install -y openssl curl)"));
    if let Some(data) = input {
        let mut stdin = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{desc} did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.lock()),
                String::from_utf8_lossy(&err.lock())
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // The readers finish at EOF, right after exit.
    let until = Instant::now() + Duration::from_secs(5);
    let stdout = wait_eof(&out, until);
    let stderr = wait_eof(&err, until);
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Run `cmd` with a deadline.
pub fn run(cmd: &mut Command, timeout: Duration) -> Output {
    run_input(cmd, None, timeout)
}

fn drain<R: Read + Send + 'static>(mut r: R) -> Arc<DrainedBuf> {
    let d = Arc::new(DrainedBuf {
        buf: Mutex::new(Vec::new()),
        done: Mutex::new(false),
    });
    let d2 = d.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => d2.buf.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
        *d2.done.lock().unwrap() = true;
    });
    d
}

/// Bytes collected from a pipe by a background thread.
pub struct DrainedBuf {
    buf: Mutex<Vec<u8>>,
    done: Mutex<bool>,
}

impl DrainedBuf {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.buf.lock().unwrap()
    }
}

fn wait_eof(d: &Arc<DrainedBuf>, until: Instant) -> Vec<u8> {
    while !*d.done.lock().unwrap() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
    }
    d.lock().clone()
}

/// Remove ANSI colour sequences (log lines may carry them).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\u{1b}' && it.peek() == Some(&'[') {
            it.next();
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A path as `&str` (every path the tests make is UTF-8).
pub fn p(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Run `openssl ARGS` in `dir`; panic with its output unless it succeeds.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = run(
        Command::new("openssl").args(args).current_dir(dir),
        CMD_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "openssl {} failed ({}):\n{}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Key types for responder keys (`openssl genpkey`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlg {
    /// RSA of this many bits.
    Rsa(u32),
    /// ECDSA on P-256.
    P256,
    /// ECDSA on P-384.
    P384,
    /// Ed25519.
    Ed25519,
}

impl KeyAlg {
    fn genpkey_args(self) -> Vec<String> {
        match self {
            KeyAlg::Rsa(bits) => vec![
                "-algorithm".into(),
                "RSA".into(),
                "-pkeyopt".into(),
                format!("rsa_keygen_bits:{bits}"),
            ],
            KeyAlg::P256 => vec![
                "-algorithm".into(),
                "EC".into(),
                "-pkeyopt".into(),
                "ec_paramgen_curve:P-256".into(),
            ],
            KeyAlg::P384 => vec![
                "-algorithm".into(),
                "EC".into(),
                "-pkeyopt".into(),
                "ec_paramgen_curve:P-384".into(),
            ],
            KeyAlg::Ed25519 => vec!["-algorithm".into(), "ED25519".into()],
        }
    }
}

/// A responder certificate and its (encrypted) key.
#[derive(Clone, Debug)]
pub struct SignerFiles {
    /// The certificate (PEM, with openssl ca's text dump in front).
    pub cert: PathBuf,
    /// The key (encrypted PKCS#8, passphrase [`PASSPHRASE`]).
    pub key: PathBuf,
}

/// The leaves [`Pki::standard`] issues, by name.
pub const STANDARD_LEAVES: &[&str] = &[
    "good",
    "revoked",
    "compromised",
    "ca_compromised",
    "held",
    "revoked_noreason",
    "expired",
    "highbit",
    "far_future",
    "outside",
];

/// The `-crl_compromise` time of the `compromised` leaf.
pub const COMPROMISE_TIME: &str = "20240101000000Z";
/// How openssl prints [`COMPROMISE_TIME`].
pub const COMPROMISE_TIME_TEXT: &str = "Jan  1 00:00:00 2024 GMT";
/// The `-crl_CA_compromise` time of the `ca_compromised` leaf.
pub const CA_COMPROMISE_TIME: &str = "20230601120000Z";
/// How openssl prints [`CA_COMPROMISE_TIME`].
pub const CA_COMPROMISE_TIME_TEXT: &str = "Jun  1 12:00:00 2023 GMT";

/// PKIs kept in `static`s are never dropped: remove those left by runs over an hour ago.
fn sweep_stale_pkis() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else {
            return;
        };
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3600));
            if old && e.file_name().to_string_lossy().starts_with("serve-pki-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
}

/// A CA in the OpenSSL CA layout, made by the real openssl.
pub struct Pki {
    /// The CA directory.
    pub dir: PathBuf,
    /// A short name (`A`, `B`), part of the CA's subject `CN=Test CA {name}`.
    pub name: String,
    /// `openssl.cnf`.
    pub cnf: PathBuf,
    /// `cacert.pem`.
    pub cacert: PathBuf,
    /// `private/cakey.pem` (encrypted).
    pub cakey: PathBuf,
    /// `index.txt`.
    pub index: PathBuf,
    /// The passphrase file of every key here.
    pub pass_file: PathBuf,
    /// The seed's responder: `ocsp_responder.crt` / `ocsp_responder.key`.
    pub responder: SignerFiles,
    /// The unencrypted EC key every leaf shares.
    pub leaf_key: PathBuf,
    certs: Mutex<HashMap<String, PathBuf>>,
    lock: Mutex<()>,
    _tmp: tempfile::TempDir,
}

fn openssl_cnf(dir: &Path) -> String {
    format!(
        r#"# Written by the ocsp tests: a minimal OpenSSL CA as in the seed.
[ ca ]
default_ca = CA_default

[ CA_default ]
dir               = {dir}
database          = $dir/index.txt
new_certs_dir     = $dir/newcerts
certificate       = $dir/cacert.pem
private_key       = $dir/private/cakey.pem
serial            = $dir/serial
default_md        = sha256
default_days      = 365
policy            = policy_anything
unique_subject    = no
copy_extensions   = none

[ policy_anything ]
commonName        = supplied
organizationName  = optional

[ req ]
distinguished_name = req_dn
prompt             = no

[ req_dn ]
CN = unused

[ v3_ca ]
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ usr_cert ]
basicConstraints = CA:FALSE
keyUsage         = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth

[ v3_OCSP ]
basicConstraints = CA:FALSE
keyUsage = nonRepudiation, digitalSignature, keyEncipherment
extendedKeyUsage = OCSPSigning
"#,
        dir = dir.display()
    )
}

impl Pki {
    /// A CA and the seed's delegated responder, in a fresh directory.
    pub fn new(name: &str) -> Pki {
        require_tools();
        sweep_stale_pkis();
        let tmp = tempfile::Builder::new()
            .prefix(&format!("serve-pki-{name}-"))
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let dir = tmp.path().to_path_buf();
        for d in ["newcerts", "private", "certs", "csr"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(dir.join("index.txt"), "").unwrap();
        std::fs::write(dir.join("serial"), "1000\n").unwrap();
        let pass_file = dir.join("private/pass.txt");
        std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
        let cnf = dir.join("openssl.cnf");
        std::fs::write(&cnf, openssl_cnf(&dir)).unwrap();
        let passin = format!("file:{}", pass_file.display());

        // The CA: an encrypted RSA key and a self-signed certificate.
        let cakey = dir.join("private/cakey.pem");
        let cacert = dir.join("cacert.pem");
        openssl(
            &dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-out",
                p(&cakey),
                "-aes256",
                "-pass",
                &passin,
            ],
        );
        openssl(
            &dir,
            &[
                "req",
                "-config",
                p(&cnf),
                "-new",
                "-x509",
                "-key",
                p(&cakey),
                "-passin",
                &passin,
                "-subj",
                &format!("/CN=Test CA {name}/O=ocsp tests"),
                "-extensions",
                "v3_ca",
                "-days",
                "3650",
                "-out",
                p(&cacert),
            ],
        );
        let leaf_key = dir.join("private/leaf.key");
        openssl(
            &dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                p(&leaf_key),
            ],
        );
        let mut pki = Pki {
            index: dir.join("index.txt"),
            name: name.to_string(),
            cnf,
            cacert,
            cakey,
            pass_file,
            responder: SignerFiles {
                cert: PathBuf::new(),
                key: PathBuf::new(),
            },
            leaf_key,
            certs: Mutex::new(HashMap::new()),
            lock: Mutex::new(()),
            dir,
            _tmp: tmp,
        };
        // The seed, step 1: genpkey -aes256, req -new, ca -extensions v3_OCSP -days 365.
        let key = pki.dir.join("ocsp_responder.key");
        let csr = pki.dir.join("ocsp_responder.csr");
        let crt = pki.dir.join("ocsp_responder.crt");
        openssl(
            &pki.dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-out",
                p(&key),
                "-aes256",
                "-pass",
                &passin,
            ],
        );
        openssl(
            &pki.dir,
            &[
                "req",
                "-config",
                p(&pki.cnf),
                "-new",
                "-key",
                p(&key),
                "-passin",
                &passin,
                "-subj",
                &format!("/CN=OCSP Responder {name}"),
                "-out",
                p(&csr),
            ],
        );
        pki.ca(&[
            "-batch",
            "-extensions",
            "v3_OCSP",
            "-days",
            "365",
            "-in",
            p(&csr),
            "-out",
            p(&crt),
        ]);
        pki.responder = SignerFiles { cert: crt, key };
        pki
    }

    /// [`Pki::new`] plus the [`STANDARD_LEAVES`].
    pub fn standard(name: &str) -> Pki {
        let pki = Pki::new(name);
        pki.issue("good");
        let r = pki.issue("revoked");
        pki.revoke(&r, &["-crl_reason", "keyCompromise"]);
        let c = pki.issue("compromised");
        pki.revoke(&c, &["-crl_compromise", COMPROMISE_TIME]);
        let c = pki.issue("ca_compromised");
        pki.revoke(&c, &["-crl_CA_compromise", CA_COMPROMISE_TIME]);
        let h = pki.issue("held");
        pki.revoke(&h, &["-crl_hold", "holdInstructionReject"]);
        let n = pki.issue("revoked_noreason");
        pki.revoke(&n, &[]);
        pki.issue_with(
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
        {
            let _g = pki.lock.lock().unwrap();
            std::fs::write(pki.dir.join("serial"), "8000F1\n").unwrap();
        }
        pki.issue("highbit");
        // openssl writes dates from 2050 on as GeneralizedTime in index.txt.
        pki.issue_with("far_future", "usr_cert", &["-enddate", "20550101000000Z"]);
        pki.issue_outside_index("outside", "0xDEAD01");
        pki
    }

    /// `--passin` for every key of this PKI.
    pub fn passin(&self) -> String {
        format!("file:{}", self.pass_file.display())
    }

    /// Run `openssl ca -config openssl.cnf -passin … ARGS` under the CA lock.
    pub fn ca(&self, args: &[&str]) -> Output {
        let _g = self.lock.lock().unwrap();
        let passin = self.passin();
        let mut all = vec!["ca", "-config", p(&self.cnf), "-passin", &passin];
        all.extend_from_slice(args);
        openssl(&self.dir, &all)
    }

    /// Issue a leaf `CN=cn` with `usr_cert` extensions; returns `certs/cn.pem`.
    pub fn issue(&self, cn: &str) -> PathBuf {
        self.issue_with(cn, "usr_cert", &[])
    }

    /// Issue a leaf `CN=cn` with the given extensions section and extra `openssl ca` args.
    pub fn issue_with(&self, cn: &str, extensions: &str, extra: &[&str]) -> PathBuf {
        let csr = self.dir.join(format!("csr/{cn}.csr"));
        let out = self.dir.join(format!("certs/{cn}.pem"));
        openssl(
            &self.dir,
            &[
                "req",
                "-config",
                p(&self.cnf),
                "-new",
                "-key",
                p(&self.leaf_key),
                "-subj",
                &format!("/CN={cn}"),
                "-out",
                p(&csr),
            ],
        );
        let mut args = vec!["-batch", "-notext", "-extensions", extensions];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-in", p(&csr), "-out", p(&out)]);
        self.ca(&args);
        self.certs
            .lock()
            .unwrap()
            .insert(cn.to_string(), out.clone());
        out
    }

    /// A certificate of this CA (signed by its key) that `index.txt` does not record.
    pub fn issue_outside_index(&self, cn: &str, serial: &str) -> PathBuf {
        let csr = self.dir.join(format!("csr/{cn}.csr"));
        let out = self.dir.join(format!("certs/{cn}.pem"));
        openssl(
            &self.dir,
            &[
                "req",
                "-config",
                p(&self.cnf),
                "-new",
                "-key",
                p(&self.leaf_key),
                "-subj",
                &format!("/CN={cn}"),
                "-out",
                p(&csr),
            ],
        );
        let passin = self.passin();
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                p(&csr),
                "-CA",
                p(&self.cacert),
                "-CAkey",
                p(&self.cakey),
                "-passin",
                &passin,
                "-set_serial",
                serial,
                "-days",
                "30",
                "-out",
                p(&out),
            ],
        );
        self.certs
            .lock()
            .unwrap()
            .insert(cn.to_string(), out.clone());
        out
    }

    /// A responder key of `alg` (`genpkey … -aes256`) and its certificate, issued by this CA
    /// with the `extensions` section (`v3_OCSP` as in the seed, or another).
    pub fn issue_responder(&self, stem: &str, alg: KeyAlg, extensions: &str) -> SignerFiles {
        self.issue_responder_with(stem, alg, extensions, &[])
    }

    /// [`Pki::issue_responder`] with extra `openssl ca` arguments (`-startdate`, `-enddate`).
    pub fn issue_responder_with(
        &self,
        stem: &str,
        alg: KeyAlg,
        extensions: &str,
        extra: &[&str],
    ) -> SignerFiles {
        let key = self.dir.join(format!("{stem}.key"));
        let csr = self.dir.join(format!("csr/{stem}.csr"));
        let crt = self.dir.join(format!("{stem}.crt"));
        let passin = self.passin();
        let mut args: Vec<String> = vec!["genpkey".into()];
        args.extend(alg.genpkey_args());
        args.extend([
            "-out".into(),
            p(&key).into(),
            "-aes256".into(),
            "-pass".into(),
            passin.clone(),
        ]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        openssl(&self.dir, &argv);
        openssl(
            &self.dir,
            &[
                "req",
                "-config",
                p(&self.cnf),
                "-new",
                "-key",
                p(&key),
                "-passin",
                &passin,
                "-subj",
                &format!("/CN={stem} {}", self.name),
                "-out",
                p(&csr),
            ],
        );
        let mut args = vec!["-batch", "-extensions", extensions, "-days", "365"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-in", p(&csr), "-out", p(&crt)]);
        self.ca(&args);
        SignerFiles { cert: crt, key }
    }

    /// `openssl ca -revoke cert EXTRA…`.
    pub fn revoke(&self, cert: &Path, extra: &[&str]) {
        let mut args = vec!["-revoke", p(cert)];
        args.extend_from_slice(extra);
        self.ca(&args);
    }

    /// `openssl ca -updatedb` (marks expired entries `E`).
    pub fn update_db(&self) {
        self.ca(&["-updatedb"]);
    }

    /// The path of a leaf issued by name.
    pub fn cert(&self, name: &str) -> PathBuf {
        self.certs
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no certificate {name:?} in PKI {}", self.name))
    }

    /// The serial of a certificate as openssl prints it (upper-case hex).
    pub fn serial(&self, cert: &Path) -> String {
        let out = openssl(&self.dir, &["x509", "-noout", "-serial", "-in", p(cert)]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_start_matches("serial=")
            .to_string()
    }

    /// The `index.txt` line of `serial`.
    pub fn index_line(&self, serial: &str) -> Option<String> {
        let text = std::fs::read_to_string(&self.index).unwrap();
        text.lines()
            .find(|l| l.split('\t').nth(3) == Some(serial))
            .map(str::to_string)
    }

    /// Flags for `ocsp serve` as the seed's command (delegated RSA responder).
    pub fn serve_args(&self) -> Vec<String> {
        self.serve_args_with(&self.responder)
    }

    /// Flags for `ocsp serve` with another responder certificate and key.
    pub fn serve_args_with(&self, signer: &SignerFiles) -> Vec<String> {
        vec![
            "--index".into(),
            p(&self.index).into(),
            "--ca".into(),
            p(&self.cacert).into(),
            "--rsigner".into(),
            p(&signer.cert).into(),
            "--rkey".into(),
            p(&signer.key).into(),
            "--passin".into(),
            self.passin(),
        ]
    }

    /// This CA as an `[[issuer]]` table of a `--config` file.
    pub fn issuer_toml(&self) -> String {
        format!(
            "[[issuer]]\nca = {:?}\nindex = {:?}\nrsigner = {:?}\nrkey = {:?}\npassin = {:?}\n",
            p(&self.cacert),
            p(&self.index),
            p(&self.responder.cert),
            p(&self.responder.key),
            self.passin()
        )
    }

    /// `openssl ocsp -CAfile cacert.pem -issuer cacert.pem ARGS -url URL -timeout 10`.
    pub fn query(&self, url: &str, args: &[&str]) -> Query {
        let mut all = vec![
            "ocsp",
            "-CAfile",
            p(&self.cacert),
            "-issuer",
            p(&self.cacert),
        ];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-url", url, "-timeout", "10"]);
        query(&self.dir, &all)
    }

    /// `openssl ocsp -respin FILE -CAfile cacert.pem -issuer cacert.pem -no_nonce ARGS`:
    /// verify a response fetched some other way.
    pub fn verify_respin(&self, resp: &Path, args: &[&str]) -> Query {
        let mut all = vec![
            "ocsp",
            "-respin",
            p(resp),
            "-CAfile",
            p(&self.cacert),
            "-issuer",
            p(&self.cacert),
            "-no_nonce",
        ];
        all.extend_from_slice(args);
        query(&self.dir, &all)
    }

    /// The DER of an OCSP request made by `openssl ocsp -reqout` (ARGS: `-cert`, `-no_nonce`, …).
    pub fn request_der(&self, args: &[&str]) -> Vec<u8> {
        let f = tempfile::NamedTempFile::new_in(&self.dir).unwrap();
        let mut all = vec!["ocsp", "-issuer", p(&self.cacert)];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-reqout", p(f.path())]);
        openssl(&self.dir, &all);
        std::fs::read(f.path()).unwrap()
    }
}

/// The outcome of an `openssl ocsp` run.
#[derive(Debug)]
pub struct Query {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output (statuses, `-resp_text`).
    pub stdout: String,
    /// Standard error (`Response verify OK`, warnings, errors).
    pub stderr: String,
}

impl Query {
    /// Everything printed, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    /// Whether openssl verified the response (signature, signer authority, nonce).
    pub fn verified(&self) -> bool {
        self.stderr.contains("Response verify OK") && !self.stderr.contains("WARNING")
    }

    /// The status openssl printed for the certificate `label` (`path: good`).
    pub fn status_of(&self, label: &str) -> Option<String> {
        let prefix = format!("{label}: ");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|s| s.trim().to_string())
    }

    /// The lines printed under the status line of `label` (This Update, Reason, …).
    pub fn details_of(&self, label: &str) -> String {
        let prefix = format!("{label}: ");
        let mut out = String::new();
        let mut inside = false;
        for l in self.stdout.lines() {
            if l.starts_with(&prefix) {
                inside = true;
                continue;
            }
            if inside {
                if l.starts_with('\t') {
                    out.push_str(l.trim());
                    out.push('\n');
                } else {
                    break;
                }
            }
        }
        out
    }

    /// Assert verification passed and `label` has `status`.
    #[track_caller]
    pub fn assert_status(&self, label: &str, status: &str) {
        assert!(self.verified(), "response not verified:\n{}", self.all());
        assert_eq!(
            self.status_of(label).as_deref(),
            Some(status),
            "status of {label}:\n{}",
            self.all()
        );
    }
}

/// Run `openssl ARGS` (an `ocsp` invocation) without asserting success.
pub fn query(dir: &Path, args: &[&str]) -> Query {
    let out = run(
        Command::new("openssl").args(args).current_dir(dir),
        CMD_TIMEOUT,
    );
    Query {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The running `ocsp serve`, killed on drop.
pub struct Responder {
    child: Child,
    listening: Vec<SocketAddr>,
    out: Arc<DrainedBuf>,
    err: Arc<DrainedBuf>,
}

/// A start that failed, as expected.
#[derive(Debug)]
pub struct Failure {
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error, colour codes removed.
    pub stderr: String,
}

fn serve_command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocsp"));
    cmd.arg("serve")
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A stdout reader that forwards `listening on` lines while keeping everything.
fn drain_stdout(r: std::process::ChildStdout, tx: mpsc::Sender<String>) -> Arc<DrainedBuf> {
    let d = Arc::new(DrainedBuf {
        buf: Mutex::new(Vec::new()),
        done: Mutex::new(false),
    });
    let d2 = d.clone();
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    d2.buf.lock().unwrap().extend_from_slice(&line);
                    let s = String::from_utf8_lossy(&line);
                    if let Some(rest) = s.trim().strip_prefix("listening on http://") {
                        let _ = tx.send(rest.to_string());
                    }
                }
            }
        }
        *d2.done.lock().unwrap() = true;
    });
    d
}

/// How long the binary may take to load and bind.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

impl Responder {
    /// Start `ocsp serve ARGS`; panic with its output if it does not come up.
    #[track_caller]
    pub fn start<I, S>(args: I) -> Responder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        match Responder::try_start(args) {
            Ok(r) => r,
            Err(f) => panic!(
                "ocsp serve did not start (exit {:?}):\nstdout: {}\nstderr: {}",
                f.code, f.stdout, f.stderr
            ),
        }
    }

    /// Start `ocsp serve ARGS`; the failure if it exits before listening.
    pub fn try_start<I, S>(args: I) -> Result<Responder, Failure>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = serve_command(args);
        let mut child = cmd.spawn().expect("cannot run the ocsp binary");
        let (tx, rx) = mpsc::channel();
        let out = drain_stdout(child.stdout.take().unwrap(), tx);
        let err = drain(child.stderr.take().unwrap());
        let deadline = Instant::now() + START_TIMEOUT;
        let mut listening = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(addr) => {
                    listening.push(parse_listening(&addr));
                    // The binary prints every listener at once; collect the rest.
                    while let Ok(a) = rx.recv_timeout(Duration::from_millis(100)) {
                        listening.push(parse_listening(&a));
                    }
                    return Ok(Responder {
                        child,
                        listening,
                        out,
                        err,
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {}
            }
            if let Some(status) = child.try_wait().unwrap() {
                let until = Instant::now() + Duration::from_secs(5);
                return Err(Failure {
                    code: status.code(),
                    stdout: String::from_utf8_lossy(&wait_eof(&out, until)).into_owned(),
                    stderr: strip_ansi(&String::from_utf8_lossy(&wait_eof(&err, until))),
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ocsp serve printed no `listening on` line within {START_TIMEOUT:?}\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&out.lock()),
                    String::from_utf8_lossy(&err.lock())
                );
            }
        }
    }

    /// The addresses as printed on the `listening on` lines.
    pub fn listening(&self) -> &[SocketAddr] {
        &self.listening
    }

    /// A loopback address of the first listener (127.0.0.1 for a wildcard listener).
    pub fn addr(&self) -> SocketAddr {
        let a = self.listening[0];
        if a.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), a.port())
        } else {
            a
        }
    }

    /// `http://ADDR:PORT` of [`Responder::addr`].
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock()).into_owned()
    }

    /// Everything printed on stderr so far (colour codes removed).
    pub fn stderr(&self) -> String {
        strip_ansi(&String::from_utf8_lossy(&self.err.lock()))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Send SIGTERM (via kill(1)) and wait up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Wait until stderr contains `needle`, up to `timeout`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn parse_listening(s: &str) -> SocketAddr {
    s.trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("bad `listening on http://{s}` line: {e}"))
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `ocsp serve ARGS`, expecting it to exit non-zero before listening.
#[track_caller]
pub fn serve_must_fail<I, S>(args: I) -> Failure
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    match Responder::try_start(args) {
        Ok(r) => panic!(
            "ocsp serve started (listening on {:?}) but should have refused to\nstderr: {}",
            r.listening(),
            r.stderr()
        ),
        Err(f) => {
            assert!(
                f.code.is_some_and(|c| c != 0),
                "ocsp serve should exit non-zero, got {:?}\nstderr: {}",
                f.code,
                f.stderr
            );
            f
        }
    }
}

/// An HTTP response read from a raw connection.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// `HTTP/1.1`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// Header names (lower-case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One raw TCP connection speaking HTTP/1.1.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    /// Connect, with 10 s read and write timeouts.
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        Conn {
            reader: BufReader::new(s),
        }
    }

    /// The socket.
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Write bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        let s = self.reader.get_mut();
        s.write_all(bytes).unwrap();
        s.flush().unwrap();
    }

    /// Read one response; `head` when it answers a HEAD request (no body).
    pub fn read_response(&mut self, head: bool) -> std::io::Result<HttpResponse> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            ));
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if self.reader.read_line(&mut h)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed inside the headers",
                ));
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let mut resp = HttpResponse {
            version,
            status,
            headers,
            body: Vec::new(),
        };
        if head || status == 304 || status == 204 || (100..200).contains(&status) {
            return Ok(resp);
        }
        if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                    .map_err(|_| std::io::Error::other("bad chunk size"))?;
                let mut chunk = vec![0u8; n + 2];
                self.reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                resp.body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(len) = resp.header("content-length") {
            let n: usize = len
                .parse()
                .map_err(|_| std::io::Error::other("bad content-length"))?;
            let mut body = vec![0u8; n];
            self.reader.read_exact(&mut body)?;
            resp.body = body;
        } else {
            self.reader.read_to_end(&mut resp.body)?;
        }
        Ok(resp)
    }

    /// Whether the peer closes (EOF or reset) within `within`, with no data before.
    pub fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        self.reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut byte = [0u8; 1];
        let closed = loop {
            match self.reader.read(&mut byte) {
                Ok(0) => break true,
                Ok(_) => continue, // e.g. a 408 before closing
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if Instant::now() > deadline {
                        break false;
                    }
                }
                Err(_) => break true,
            }
        };
        self.reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        closed
    }
}

/// Send `raw` on a new connection and read one response.
pub fn http(addr: SocketAddr, raw: &[u8]) -> HttpResponse {
    let mut c = Conn::open(addr);
    c.send(raw);
    c.read_response(raw.starts_with(b"HEAD "))
        .unwrap_or_else(|e| panic!("no response to {:?}: {e}", String::from_utf8_lossy(raw)))
}

/// A raw `GET path` (HTTP/1.1) with extra header lines (`Name: value`).
pub fn get_req(path: &str, headers: &[&str]) -> Vec<u8> {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// A raw `POST path` of an OCSP request body (HTTP/1.1).
pub fn post_req(path: &str, body: &[u8], headers: &[&str]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for h in headers {
        r.extend_from_slice(h.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(body);
    r
}

/// Run `curl --silent --show-error --max-time 10 ARGS`.
pub fn curl(args: &[&str]) -> Output {
    require_tools();
    run(
        Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "10"])
            .args(args),
        CMD_TIMEOUT,
    )
}

/// Standard base64 of `der`, computed by `openssl base64 -A`.
pub fn b64(der: &[u8]) -> String {
    let out = run_input(
        Command::new("openssl").args(["base64", "-A"]),
        Some(der),
        CMD_TIMEOUT,
    );
    assert!(out.status.success(), "openssl base64 failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `%XX`-encode the base64 characters `+`, `/` and `=` (upper- or lower-case hex).
pub fn pct_encode(s: &str, lower: bool) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        let enc = match c {
            '+' => "%2B",
            '/' => "%2F",
            '=' => "%3D",
            _ => {
                out.push(c);
                continue;
            }
        };
        if lower {
            out.push_str(&enc.to_ascii_lowercase());
        } else {
            out.push_str(enc);
        }
    }
    out
}

/// Decode a successful OCSPResponse; panic on anything else.
pub fn parse_basic(der: &[u8]) -> ocsp_proto::x509_ocsp::BasicOcspResponse {
    match ocsp_proto::response::parse(der).expect("a DER OCSPResponse") {
        ocsp_proto::response::ParsedResponse::Basic { basic, .. } => *basic,
        ocsp_proto::response::ParsedResponse::Error(s) => {
            panic!("expected a successful response, got {s:?}")
        }
    }
}

/// Seconds since the epoch now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An index.txt time (`YYMMDDHHMMSSZ` or `YYYYMMDDHHMMSSZ`) as openssl prints it
/// (`Nov 24 05:48:26 2026 GMT`).
pub fn openssl_time_text(t: &str) -> String {
    let t = t.trim_end_matches('Z');
    let (year, rest) = if t.len() == 12 {
        let yy: u32 = t[..2].parse().unwrap();
        (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &t[2..])
    } else {
        (t[..4].parse().unwrap(), &t[4..])
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month: usize = rest[..2].parse().unwrap();
    let day: u32 = rest[2..4].parse().unwrap();
    format!(
        "{} {:>2} {}:{}:{} {} GMT",
        MONTHS[month - 1],
        day,
        &rest[4..6],
        &rest[6..8],
        &rest[8..10],
        year
    )
}

/// `YYYYMMDDHHMMSSZ` for `secs` after the epoch (for `openssl ca -startdate/-enddate`).
pub fn openssl_date(secs: u64) -> String {
    let dt = ocsp_proto::der::DateTime::from_unix_duration(Duration::from_secs(secs)).unwrap();
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minutes(),
        dt.seconds()
    )
}
