//! `ocsp demo`: the PKI it writes works with the real openssl (`ocsp`, `verify`, `pkey`,
//! `ca -revoke`, `ca -gencrl`, `ca` issuing), and the responder it starts answers for it,
//! following revocations made with `openssl ca` while it runs; with `--db`, it answers
//! from a PostgreSQL database (the test binary's throwaway cluster) and follows
//! `ocsp revoke`.
//!
//! Needs the `openssl` binary (`apt-get install -y openssl`); fails without it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::OCSP;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use test_support::openssl::require_openssl;
use test_support::process::run;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `openssl ARGS` in `dir`; panics with its output unless it succeeds. Returns stdout and
/// stderr together (openssl prints verdicts on stderr).
fn openssl(dir: &Path, args: &[&str]) -> String {
    text(&test_support::openssl::openssl(dir, args))
}

/// `openssl ocsp` with verification on, as the demo prints it.
fn openssl_ocsp(dir: &Path, cert: &str, url: &str) -> String {
    openssl(
        dir,
        &[
            "ocsp",
            "-CAfile",
            "cacert.pem",
            "-issuer",
            "cacert.pem",
            "-cert",
            cert,
            "-url",
            url,
            "-resp_text",
        ],
    )
}

/// A running `ocsp demo`, killed on drop.
struct Demo {
    child: Child,
    url: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Demo {
    fn start(dir: &Path) -> Demo {
        Demo::start_with(dir, &[])
    }

    /// `ocsp demo DIR --port 0 EXTRA…`.
    fn start_with(dir: &Path, extra: &[&str]) -> Demo {
        let mut child = Command::new(OCSP)
            .arg("demo")
            .arg(dir)
            .args(["--port", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start ocsp demo");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let buf = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                buf.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let err = child.stderr.take().unwrap();
        let buf = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                buf.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let mut demo = Demo {
            child,
            url: String::new(),
            stdout,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("listening on ") {
                        demo.url = rest.trim().to_string();
                        return demo;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = demo.child.wait().unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "ocsp demo exited ({status}) before listening\nstdout:\n{}\nstderr:\n{}",
                        demo.stdout(),
                        demo.stderr()
                    );
                }
            }
            if let Some(status) = demo.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "ocsp demo exited ({status}) before listening\nstdout:\n{}\nstderr:\n{}",
                    demo.stdout(),
                    demo.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "ocsp demo printed no `listening on` line in 120 s\nstdout:\n{}\nstderr:\n{}",
                demo.stdout(),
                demo.stderr()
            );
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn demo_no_serve(dir: &Path) -> Output {
    run(
        Command::new(OCSP).arg("demo").arg(dir).arg("--no-serve"),
        Duration::from_secs(120),
    )
}

fn index_line<'a>(index: &'a str, serial: &str) -> &'a str {
    index
        .lines()
        .find(|l| l.split('\t').nth(3) == Some(serial))
        .unwrap_or_else(|| panic!("no serial {serial} in index.txt:\n{index}"))
}

/// The subject and serial of a certificate as openssl prints them (X509_NAME_oneline and
/// BN_bn2hex: exactly how `openssl ca` writes them into index.txt).
fn openssl_subject_serial(dir: &Path, cert: &str) -> (String, String) {
    let t = openssl(
        dir,
        &[
            "x509", "-in", cert, "-noout", "-subject", "-serial", "-nameopt", "compat",
        ],
    );
    let mut subject = None;
    let mut serial = None;
    for line in t.lines() {
        if let Some(s) = line.strip_prefix("subject=") {
            subject = Some(s.trim().to_string());
        }
        if let Some(s) = line.strip_prefix("serial=") {
            serial = Some(s.trim().to_string());
        }
    }
    (subject.unwrap(), serial.unwrap())
}

#[test]
fn demo_pki_is_served_and_openssl_works_on_it() {
    require_openssl();
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().join("demo-pki");
    let demo = Demo::start(&dir);
    let url = demo.url.clone();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let dir = std::fs::canonicalize(&dir).unwrap();

    // The printed commands are ready to paste: absolute paths and the real URL.
    let out = demo.stdout();
    let ca = dir.join("cacert.pem").display().to_string();
    for leaf in ["good.pem", "revoked.pem"] {
        let cmd = format!(
            "openssl ocsp -CAfile {ca} -issuer {ca} -cert {} -url {url} -resp_text",
            dir.join(leaf).display()
        );
        assert!(out.contains(&cmd), "no `{cmd}` in:\n{out}");
        let q = format!(
            "ocsp query --issuer {ca} --cert {} --url {url}",
            dir.join(leaf).display()
        );
        assert!(out.contains(&q), "no `{q}` in:\n{out}");
    }
    assert!(
        out.contains(&format!(
            "openssl ca -config {} -revoke {}",
            dir.join("openssl.cnf").display(),
            dir.join("good.pem").display()
        )),
        "{out}"
    );

    // openssl ocsp, verification on.
    let good = openssl_ocsp(&dir, "good.pem", &url);
    assert!(good.contains("Response verify OK"), "{good}");
    assert!(good.contains("good.pem: good"), "{good}");
    let revoked = openssl_ocsp(&dir, "revoked.pem", &url);
    assert!(revoked.contains("Response verify OK"), "{revoked}");
    assert!(revoked.contains("revoked.pem: revoked"), "{revoked}");
    assert!(revoked.contains("Reason: keyCompromise"), "{revoked}");
    let expired = openssl_ocsp(&dir, "expired.pem", &url);
    assert!(expired.contains("Response verify OK"), "{expired}");
    assert!(expired.contains("expired.pem: good"), "{expired}");
    // The delegated responder signed, with its certificate in the response.
    assert!(
        good.contains("OCSP Demo Responder"),
        "responder certificate not in the response:\n{good}"
    );

    // Our own client agrees.
    let q = run(
        Command::new(OCSP)
            .args(["query", "--issuer", &ca, "--cert"])
            .arg(dir.join("revoked.pem"))
            .args(["--url", &url]),
        Duration::from_secs(30),
    );
    assert!(text(&q).contains("revoked"), "ocsp query: {}", text(&q));

    // The certificates chain; the expired one is refused as expired.
    let v = openssl(
        &dir,
        &[
            "verify",
            "-CAfile",
            "cacert.pem",
            "good.pem",
            "revoked.pem",
            "ocsp_responder.crt",
        ],
    );
    assert!(
        v.contains("good.pem: OK") && v.contains("ocsp_responder.crt: OK"),
        "{v}"
    );

    // The responder key is an encrypted PKCS#8 (PBES2, AES-256-CBC) that openssl decrypts
    // with the passphrase file; keys and passphrase are private to the owner.
    let key = std::fs::read_to_string(dir.join("ocsp_responder.key")).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"),
        "{key}"
    );
    let asn1 = openssl(&dir, &["asn1parse", "-in", "ocsp_responder.key"]);
    for alg in ["PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"] {
        assert!(asn1.contains(alg), "{alg} not in:\n{asn1}");
    }
    openssl(
        &dir,
        &[
            "pkey",
            "-in",
            "ocsp_responder.key",
            "-passin",
            "file:ocsp_responder.pass",
            "-noout",
        ],
    );
    let wrong = run(
        Command::new("openssl")
            .args([
                "pkey",
                "-in",
                "ocsp_responder.key",
                "-passin",
                "pass:wrong",
                "-noout",
            ])
            .current_dir(&dir),
        Duration::from_secs(30),
    );
    assert!(
        !wrong.status.success(),
        "a wrong passphrase decrypted the key"
    );
    for f in [
        "ocsp_responder.key",
        "ocsp_responder.pass",
        "private/cakey.pem",
        "good.key",
    ] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }

    // The responder certificate is what the Baseline Requirements ask for.
    let r = openssl(
        &dir,
        &["x509", "-in", "ocsp_responder.crt", "-noout", "-text"],
    );
    assert!(r.contains("OCSP No Check"), "{r}");
    assert!(
        r.contains("X509v3 Extended Key Usage: \n                OCSP Signing\n"),
        "{r}"
    );
    assert!(
        r.contains("X509v3 Key Usage: critical\n                Digital Signature\n"),
        "{r}"
    );
    let g = openssl(
        &dir,
        &[
            "x509",
            "-in",
            "good.pem",
            "-noout",
            "-ext",
            "authorityInfoAccess",
        ],
    );
    assert!(g.contains("OCSP - URI:http://127.0.0.1:"), "{g}");

    // index.txt holds exactly what openssl would write for these certificates.
    let index = std::fs::read_to_string(dir.join("index.txt")).unwrap();
    for (cert, flag) in [
        ("ocsp_responder.crt", "V"),
        ("good.pem", "V"),
        ("revoked.pem", "R"),
        ("expired.pem", "E"),
    ] {
        let (subject, serial) = openssl_subject_serial(&dir, cert);
        let line = index_line(&index, &serial);
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 6, "{line:?}");
        assert_eq!(f[0], flag, "{line:?}");
        assert_eq!(f[4], "unknown", "{line:?}");
        assert_eq!(f[5], subject, "{line:?}");
        assert!(
            f[1].len() == 13
                && f[1].ends_with('Z')
                && f[1][..12].bytes().all(|b| b.is_ascii_digit()),
            "{line:?}"
        );
        if flag == "R" {
            let (t, reason) = f[2].split_once(',').unwrap();
            assert_eq!(reason, "keyCompromise");
            assert_eq!(t.len(), 13, "{line:?}");
        } else {
            assert_eq!(f[2], "", "{line:?}");
        }
        let newcert = std::fs::read(dir.join(format!("newcerts/{serial}.pem"))).unwrap();
        assert_eq!(
            newcert,
            std::fs::read(dir.join(cert)).unwrap(),
            "newcerts/{serial}.pem"
        );
    }

    // openssl ca works on the files: revoke while the demo serves, and the answer follows.
    openssl(
        &dir,
        &[
            "ca",
            "-config",
            "openssl.cnf",
            "-revoke",
            "good.pem",
            "-crl_reason",
            "superseded",
            "-batch",
        ],
    );
    let index = std::fs::read_to_string(dir.join("index.txt")).unwrap();
    let (_, good_serial) = openssl_subject_serial(&dir, "good.pem");
    assert!(
        index_line(&index, &good_serial).starts_with("R\t"),
        "{index}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = openssl_ocsp(&dir, "good.pem", &url);
        if now.contains("good.pem: revoked") {
            assert!(now.contains("Reason: superseded"), "{now}");
            assert!(now.contains("Response verify OK"), "{now}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still not revoked 10 s after openssl ca -revoke:\n{now}\nstderr of ocsp demo:\n{}",
            demo.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // ... a CRL, and a new certificate issued by openssl ca from the demo's config.
    openssl(
        &dir,
        &["ca", "-config", "openssl.cnf", "-gencrl", "-out", "crl.pem"],
    );
    let crl = openssl(&dir, &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(
        crl.contains("Key Compromise") && crl.contains("Superseded"),
        "{crl}"
    );
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "new.key",
            "-subj",
            "/C=XX/O=OCSP Demo/CN=new.ocsp-demo.test",
            "-out",
            "new.csr",
        ],
    );
    openssl(
        &dir,
        &[
            "ca",
            "-config",
            "openssl.cnf",
            "-batch",
            "-notext",
            "-in",
            "new.csr",
            "-out",
            "new.pem",
        ],
    );
    let (subject, serial) = openssl_subject_serial(&dir, "new.pem");
    assert_eq!(
        serial, "1004",
        "the serial file continues after the demo's certificates"
    );
    let index = std::fs::read_to_string(dir.join("index.txt")).unwrap();
    let line = index_line(&index, &serial);
    assert!(
        line.starts_with("V\t") && line.ends_with(&format!("\t\t1004\tunknown\t{subject}")),
        "{line:?}"
    );
    let aia = openssl(
        &dir,
        &[
            "x509",
            "-in",
            "new.pem",
            "-noout",
            "-ext",
            "authorityInfoAccess",
        ],
    );
    assert!(aia.contains("OCSP - URI:http://127.0.0.1:"), "{aia}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = openssl_ocsp(&dir, "new.pem", &url);
        if now.contains("new.pem: good") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new certificate not served as good:\n{now}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(demo);
}

#[test]
fn refuses_a_directory_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mine");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "keep me").unwrap();
    let o = demo_no_serve(&dir);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("holds no demo PKI"), "{}", text(&o));
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["notes.txt"],
        "nothing may be written into a foreign directory"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn a_previous_demo_is_reused_as_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let first = demo_no_serve(&dir);
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("wrote a demo PKI"),
        "{}",
        text(&first)
    );
    let ca = std::fs::read(dir.join("cacert.pem")).unwrap();
    let index = std::fs::read(dir.join("index.txt")).unwrap();

    let second = demo_no_serve(&dir);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("written earlier"),
        "{}",
        text(&second)
    );
    assert_eq!(std::fs::read(dir.join("cacert.pem")).unwrap(), ca);
    assert_eq!(std::fs::read(dir.join("index.txt")).unwrap(), index);

    // A demo directory with a file missing is refused, not patched up.
    std::fs::remove_file(dir.join("ocsp_responder.pass")).unwrap();
    let third = demo_no_serve(&dir);
    assert_eq!(third.status.code(), Some(1), "{}", text(&third));
    assert!(
        text(&third).contains("incomplete demo PKI (missing ocsp_responder.pass)"),
        "{}",
        text(&third)
    );
}

#[cfg(feature = "postgres")]
#[test]
fn demo_on_a_database_answers_from_it_and_follows_ocsp_revoke() {
    require_openssl();
    let pg = test_support::postgres::PgCluster::shared();
    let db = pg.fresh_db();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let demo = Demo::start_with(&dir, &["--db", &db.url]);
    let url = demo.url.clone();
    let dir = std::fs::canonicalize(&dir).unwrap();

    // The instructions revoke in the database, naming the variable, never the password.
    let out = demo.stdout();
    let password = db
        .url
        .split('@')
        .next()
        .and_then(|u| u.rsplit(':').next())
        .unwrap();
    assert!(
        password.len() >= 4,
        "the test URL has a password: {}",
        db.url
    );
    assert!(!out.contains(password), "the password is printed:\n{out}");
    assert!(!demo.stderr().contains(password), "{}", demo.stderr());
    let revoke_cmd = format!(
        "ocsp revoke --db \"$OCSP_DATABASE_URL\" --ca {} --cert {} --reason keyCompromise",
        dir.join("cacert.pem").display(),
        dir.join("good.pem").display()
    );
    assert!(out.contains(&revoke_cmd), "no `{revoke_cmd}` in:\n{out}");
    assert!(!out.contains("openssl ca -config"), "{out}");
    let index = std::fs::read_to_string(dir.join("index.txt")).unwrap();
    assert_eq!(
        pg.exec_in(&db.name, "SELECT count(*) FROM ocsp_cert"),
        index.lines().filter(|l| !l.is_empty()).count().to_string(),
        "the demo's index.txt imported:\n{index}"
    );

    let good = openssl_ocsp(&dir, "good.pem", &url);
    assert!(good.contains("Response verify OK"), "{good}");
    assert!(good.contains("good.pem: good"), "{good}");
    let revoked = openssl_ocsp(&dir, "revoked.pem", &url);
    assert!(revoked.contains("revoked.pem: revoked"), "{revoked}");

    // ocsp revoke, as printed (the variable expanded): the very next answer is revoked
    // (strict consistency: no waiting), while index.txt still says valid.
    let r = run(
        Command::new(OCSP)
            .args(["revoke", "--db", &db.url])
            .args(["--ca", "cacert.pem", "--cert", "good.pem"])
            .args(["--reason", "keyCompromise"])
            .current_dir(&dir),
        Duration::from_secs(60),
    );
    assert!(r.status.success(), "{}", text(&r));
    let now = openssl_ocsp(&dir, "good.pem", &url);
    assert!(now.contains("Response verify OK"), "{now}");
    assert!(now.contains("good.pem: revoked"), "{now}");
    assert!(now.contains("Reason: keyCompromise"), "{now}");
    let index = std::fs::read_to_string(dir.join("index.txt")).unwrap();
    let (_, good_serial) = openssl_subject_serial(&dir, "good.pem");
    assert!(
        index_line(&index, &good_serial).starts_with('V'),
        "the answer came from the database, not the file:\n{index}"
    );
}
