//! One PKI made by the real `openssl`, in the OpenSSL CA layout, for every test that needs
//! certificates: the server tests (an encrypted RSA CA and the seed's delegated responder,
//! as `../shared/seed-ocsp-with-openssl.md` builds them) and the client tests (an
//! unencrypted P-256 CA with delegated responders of every key type).
//!
//! # Layout
//! A fresh directory under `target/tmp` ([`tmp_root`]), removed when the [`Pki`] is dropped
//! (one kept in a `static` is removed by a later run, an hour on):
//! `openssl.cnf`, `index.txt`, `serial`, `newcerts/`, `private/cakey.pem`, `cacert.pem`,
//! `private/pass.txt` (the passphrase of every encrypted key), `certs/<cn>.pem` for leaves
//! sharing the EC key `private/leaf.key`, `<stem>.key` + `<stem>.crt` for responders
//! ([`Pki::issue_responder`]), `<stem>.key` + `<stem>.pem` for certificates with keys of
//! their own ([`Pki::issue_keyed`]).
//!
//! # `openssl.cnf` extension sections
//! | section | for |
//! |---|---|
//! | `v3_ca` | the CA: `CA:TRUE`, keyCertSign, cRLSign |
//! | `usr_cert` | a TLS-style leaf (serverAuth, clientAuth) |
//! | `v3_leaf` | a plain leaf (digitalSignature only) |
//! | `v3_OCSP` | the seed's delegated responder (OCSPSigning) |
//! | `v3_ocsp_nocheck` | a delegated responder with `id-pkix-ocsp-nocheck` |
//! | `v3_noeku` | a would-be responder without OCSPSigning (serverAuth) |
//!
//! # Builders
//! - [`Pki::new(name)`](Pki::new) / [`Pki::with(name, options)`](Pki::with): the CA per
//!   [`PkiOptions`] (key type, subject, encrypted keys, the seed's responder).
//! - [`Pki::standard(name)`](Pki::standard): `new` plus the [`STANDARD_LEAVES`].
//! - [`Pki::client_set()`](Pki::client_set): the client tests' CA `CN=Test CA` with leaves
//!   `good`, `revoked` and responders `rsa`, `ec`, `ed`, `noeku`, `unrelated`.
//! - `openssl ca` runs on one `Pki` are serialised by an internal lock, so tests sharing a
//!   `Pki` (e.g. in a `OnceLock`) may issue and revoke concurrently.
//! - [`tls_cert`] → [`TlsFiles`]: a throwaway TLS CA and server certificate.

use crate::files::{p, tmp_root, write};
use crate::openssl::{openssl, query, require_openssl, Query};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Mutex;
use std::time::Duration;

/// The passphrase of every encrypted key the PKI writes.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// Key types (`openssl genpkey`).
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

/// A responder certificate and its key.
#[derive(Clone, Debug)]
pub struct SignerFiles {
    /// The certificate (PEM, with openssl ca's text dump in front).
    pub cert: PathBuf,
    /// The key (encrypted PKCS#8 with [`PASSPHRASE`] when the PKI encrypts keys).
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

/// How the CA is made.
#[derive(Clone, Debug)]
pub struct PkiOptions {
    /// The CA's key type (default RSA 2048).
    pub ca_key: KeyAlg,
    /// The CA's subject (default `/CN=Test CA {name}/O=ocsp tests`).
    pub ca_subject: Option<String>,
    /// The CA certificate's validity in days (default 3650).
    pub ca_days: u32,
    /// Encrypt every key with [`PASSPHRASE`] (default `true`); otherwise keys are plain
    /// PKCS#8 (the shared leaf key is always plain).
    pub encrypt_keys: bool,
    /// Issue the seed's delegated RSA responder `ocsp_responder.{key,crt}` (default
    /// `true`); without it [`Pki::responder`] holds empty paths.
    pub seed_responder: bool,
}

impl Default for PkiOptions {
    fn default() -> PkiOptions {
        PkiOptions {
            ca_key: KeyAlg::Rsa(2048),
            ca_subject: None,
            ca_days: 3650,
            encrypt_keys: true,
            seed_responder: true,
        }
    }
}

/// PKIs kept in `static`s are never dropped: remove those left by runs over an hour ago.
fn sweep_stale_pkis() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = std::fs::read_dir(tmp_root()) else {
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
    /// A short name (`A`, `B`), part of the default CA subject `CN=Test CA {name}`.
    pub name: String,
    /// `openssl.cnf`.
    pub cnf: PathBuf,
    /// `cacert.pem`.
    pub cacert: PathBuf,
    /// `private/cakey.pem` (encrypted when the options say so).
    pub cakey: PathBuf,
    /// `index.txt`.
    pub index: PathBuf,
    /// The passphrase file of every encrypted key here.
    pub pass_file: PathBuf,
    /// The seed's responder: `ocsp_responder.crt` / `ocsp_responder.key`.
    pub responder: SignerFiles,
    /// The unencrypted EC key every leaf of [`Pki::issue`] shares.
    pub leaf_key: PathBuf,
    options: PkiOptions,
    certs: Mutex<HashMap<String, PathBuf>>,
    keys: Mutex<HashMap<String, PathBuf>>,
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
default_crl_days  = 7
policy            = policy_anything
unique_subject    = no
copy_extensions   = none
email_in_dn       = no

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

[ v3_leaf ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature

[ v3_OCSP ]
basicConstraints = CA:FALSE
keyUsage = nonRepudiation, digitalSignature, keyEncipherment
extendedKeyUsage = OCSPSigning

[ v3_ocsp_nocheck ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored

[ v3_noeku ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
"#,
        dir = dir.display()
    )
}

impl Pki {
    /// A CA and the seed's delegated responder, in a fresh directory.
    pub fn new(name: &str) -> Pki {
        Pki::with(name, PkiOptions::default())
    }

    /// A CA made per `options`, in a fresh directory.
    pub fn with(name: &str, options: PkiOptions) -> Pki {
        require_openssl();
        sweep_stale_pkis();
        let tmp = tempfile::Builder::new()
            .prefix(&format!("serve-pki-{name}-"))
            .tempdir_in(tmp_root())
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
        let leaf_key = dir.join("private/leaf.key");
        let mut pki = Pki {
            index: dir.join("index.txt"),
            name: name.to_string(),
            cnf,
            cacert: dir.join("cacert.pem"),
            cakey: dir.join("private/cakey.pem"),
            pass_file,
            responder: SignerFiles {
                cert: PathBuf::new(),
                key: PathBuf::new(),
            },
            leaf_key,
            options,
            certs: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            lock: Mutex::new(()),
            dir,
            _tmp: tmp,
        };
        // The CA: a key and a self-signed certificate.
        let passin = pki.passin();
        pki.genkey(&pki.cakey, pki.options.ca_key, pki.options.encrypt_keys);
        let subject = pki
            .options
            .ca_subject
            .clone()
            .unwrap_or_else(|| format!("/CN=Test CA {name}/O=ocsp tests"));
        let days = pki.options.ca_days.to_string();
        openssl(
            &pki.dir,
            &[
                "req",
                "-config",
                p(&pki.cnf),
                "-new",
                "-x509",
                "-key",
                p(&pki.cakey),
                "-passin",
                &passin,
                "-subj",
                &subject,
                "-extensions",
                "v3_ca",
                "-days",
                &days,
                "-out",
                p(&pki.cacert),
            ],
        );
        pki.remember("ca", &pki.cacert, &pki.cakey);
        pki.genkey(&pki.leaf_key, KeyAlg::P256, false);
        if pki.options.seed_responder {
            // The seed, step 1: genpkey -aes256, req -new, ca -extensions v3_OCSP -days 365.
            let key = pki.dir.join("ocsp_responder.key");
            let csr = pki.dir.join("ocsp_responder.csr");
            let crt = pki.dir.join("ocsp_responder.crt");
            pki.genkey(&key, KeyAlg::Rsa(2048), pki.options.encrypt_keys);
            pki.req(&key, &format!("/CN=OCSP Responder {name}"), &csr);
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
        }
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
            let _g = pki.lock.lock().unwrap_or_else(|e| e.into_inner());
            std::fs::write(pki.dir.join("serial"), "8000F1\n").unwrap();
        }
        pki.issue("highbit");
        // openssl writes dates from 2050 on as GeneralizedTime in index.txt.
        pki.issue_with("far_future", "usr_cert", &["-enddate", "20550101000000Z"]);
        pki.issue_outside_index("outside", "0xDEAD01");
        pki
    }

    /// The client tests' PKI: an unencrypted P-256 CA `CN=Test CA` (30 days), leaves
    /// `good` and `revoked` (keyCompromise), delegated responders `rsa` (RSA 2048), `ec`
    /// (P-256), `ed` (Ed25519) with OCSPSigning and `id-pkix-ocsp-nocheck`, `noeku`
    /// (serverAuth only), and `unrelated` (self-signed `CN=Unrelated Responder`, not from
    /// this CA). Each has its own `<stem>.key` and `<stem>.pem`; the CA is `pem("ca")`.
    pub fn client_set() -> Pki {
        let pki = Pki::with(
            "client",
            PkiOptions {
                ca_key: KeyAlg::P256,
                ca_subject: Some("/CN=Test CA".into()),
                ca_days: 30,
                encrypt_keys: false,
                seed_responder: false,
            },
        );
        pki.issue_keyed("good", KeyAlg::P256, "v3_leaf", None);
        let revoked = pki.issue_keyed("revoked", KeyAlg::P256, "v3_leaf", None);
        pki.revoke(&revoked, &["-crl_reason", "keyCompromise"]);
        pki.issue_keyed("rsa", KeyAlg::Rsa(2048), "v3_ocsp_nocheck", None);
        pki.issue_keyed("ec", KeyAlg::P256, "v3_ocsp_nocheck", None);
        pki.issue_keyed("ed", KeyAlg::Ed25519, "v3_ocsp_nocheck", None);
        pki.issue_keyed("noeku", KeyAlg::P256, "v3_noeku", None);
        pki.self_signed(
            "unrelated",
            KeyAlg::P256,
            "/CN=Unrelated Responder",
            "v3_ocsp_nocheck",
        );
        pki
    }

    /// The PKI directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Path of `name` in the PKI directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `--passin` for every key of this PKI.
    pub fn passin(&self) -> String {
        format!("file:{}", self.pass_file.display())
    }

    fn remember(&self, name: &str, cert: &Path, key: &Path) {
        self.certs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), cert.to_path_buf());
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), key.to_path_buf());
    }

    /// `openssl genpkey` of `alg` into `out`, encrypted with the passphrase if `encrypt`.
    fn genkey(&self, out: &Path, alg: KeyAlg, encrypt: bool) {
        let mut args: Vec<String> = vec!["genpkey".into()];
        args.extend(alg.genpkey_args());
        args.extend(["-out".into(), p(out).into()]);
        if encrypt {
            args.extend(["-aes256".into(), "-pass".into(), self.passin()]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        openssl(&self.dir, &argv);
    }

    /// `openssl req -new` for `key` with `subject` into `csr`.
    fn req(&self, key: &Path, subject: &str, csr: &Path) {
        let passin = self.passin();
        openssl(
            &self.dir,
            &[
                "req",
                "-config",
                p(&self.cnf),
                "-new",
                "-key",
                p(key),
                "-passin",
                &passin,
                "-subj",
                subject,
                "-out",
                p(csr),
            ],
        );
    }

    /// Run `openssl ca -config openssl.cnf -passin … ARGS` under the CA lock.
    pub fn ca(&self, args: &[&str]) -> Output {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let passin = self.passin();
        let mut all = vec!["ca", "-config", p(&self.cnf), "-passin", &passin];
        all.extend_from_slice(args);
        openssl(&self.dir, &all)
    }

    /// Issue a leaf `CN=cn` with `usr_cert` extensions; returns `certs/cn.pem`.
    pub fn issue(&self, cn: &str) -> PathBuf {
        self.issue_with(cn, "usr_cert", &[])
    }

    /// Issue a leaf `CN=cn` (the shared leaf key) with the given extensions section and
    /// extra `openssl ca` args.
    pub fn issue_with(&self, cn: &str, extensions: &str, extra: &[&str]) -> PathBuf {
        let csr = self.dir.join(format!("csr/{cn}.csr"));
        let out = self.dir.join(format!("certs/{cn}.pem"));
        self.req(&self.leaf_key, &format!("/CN={cn}"), &csr);
        let mut args = vec!["-batch", "-notext", "-extensions", extensions];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-in", p(&csr), "-out", p(&out)]);
        self.ca(&args);
        self.remember(cn, &out, &self.leaf_key);
        out
    }

    /// Issue `<stem>.pem` (`CN=stem`, 30 days) for a new key `<stem>.key` of `alg`, with the
    /// `extensions` section, or, when `aia` is given, with an extension file naming that
    /// OCSP URL in authorityInfoAccess instead. Returns the certificate's path.
    pub fn issue_keyed(
        &self,
        stem: &str,
        alg: KeyAlg,
        extensions: &str,
        aia: Option<&str>,
    ) -> PathBuf {
        let key = self.dir.join(format!("{stem}.key"));
        let csr = self.dir.join(format!("csr/{stem}.csr"));
        let out = self.dir.join(format!("{stem}.pem"));
        self.genkey(&key, alg, self.options.encrypt_keys);
        self.req(&key, &format!("/CN={stem}"), &csr);
        let mut args = vec!["-batch", "-notext", "-days", "30"];
        let extfile;
        if let Some(url) = aia {
            extfile = write(
                &self.dir,
                &format!("{stem}.ext"),
                &format!("basicConstraints = CA:FALSE\nauthorityInfoAccess = OCSP;URI:{url}\n"),
            );
            args.extend_from_slice(&["-extfile", p(&extfile)]);
        } else {
            args.extend_from_slice(&["-extensions", extensions]);
        }
        args.extend_from_slice(&["-in", p(&csr), "-out", p(&out)]);
        self.ca(&args);
        self.remember(stem, &out, &key);
        out
    }

    /// A self-signed `<stem>.pem` with `subject` and `extensions` for a new key
    /// `<stem>.key`: a certificate this CA did not issue.
    pub fn self_signed(&self, stem: &str, alg: KeyAlg, subject: &str, extensions: &str) -> PathBuf {
        let key = self.dir.join(format!("{stem}.key"));
        let out = self.dir.join(format!("{stem}.pem"));
        self.genkey(&key, alg, self.options.encrypt_keys);
        let passin = self.passin();
        openssl(
            &self.dir,
            &[
                "req",
                "-config",
                p(&self.cnf),
                "-new",
                "-x509",
                "-key",
                p(&key),
                "-passin",
                &passin,
                "-subj",
                subject,
                "-days",
                "30",
                "-extensions",
                extensions,
                "-out",
                p(&out),
            ],
        );
        self.remember(stem, &out, &key);
        out
    }

    /// A certificate of this CA (signed by its key) that `index.txt` does not record.
    pub fn issue_outside_index(&self, cn: &str, serial: &str) -> PathBuf {
        let csr = self.dir.join(format!("csr/{cn}.csr"));
        let out = self.dir.join(format!("certs/{cn}.pem"));
        self.req(&self.leaf_key, &format!("/CN={cn}"), &csr);
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
        self.remember(cn, &out, &self.leaf_key);
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
        self.genkey(&key, alg, self.options.encrypt_keys);
        self.req(&key, &format!("/CN={stem} {}", self.name), &csr);
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

    /// The path of a certificate issued by name (`"ca"` is the CA's).
    pub fn cert(&self, name: &str) -> PathBuf {
        self.certs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no certificate {name:?} in PKI {}", self.name))
    }

    /// The key of a certificate issued by name (`"ca"` is the CA's).
    pub fn key(&self, name: &str) -> PathBuf {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no key {name:?} in PKI {}", self.name))
    }

    /// [`Pki::cert`] as a string.
    pub fn pem(&self, name: &str) -> String {
        p(&self.cert(name)).to_string()
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

    /// The index.txt revocation time of the `R` line for `CN=cn`, as RFC 3339.
    pub fn revocation_time(&self, cn: &str) -> String {
        let idx = std::fs::read_to_string(&self.index).unwrap();
        let line = idx
            .lines()
            .find(|l| l.starts_with('R') && l.ends_with(&format!("/CN={cn}")))
            .unwrap_or_else(|| panic!("no revoked CN={cn} in {}", self.index.display()));
        let t = line
            .split('\t')
            .nth(2)
            .and_then(|f| f.split(',').next())
            .unwrap_or_default();
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

    /// A `--config` file for this CA with `[server.limits]` set from `limits` (TOML lines),
    /// listening on 127.0.0.1:0.
    pub fn config_with_limits(&self, limits: &str) -> PathBuf {
        let name = format!(
            "robust-{}.toml",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[server.limits]\n{limits}\n{}",
            self.issuer_toml()
        );
        write(&self.dir, &name, &text)
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
