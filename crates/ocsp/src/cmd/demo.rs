//! `ocsp demo [DIR]`: write a demo PKI in the OpenSSL CA layout and serve it.
//!
//! No openssl is needed to make it, yet `openssl ca` and `openssl ocsp` work on every file
//! it writes: the CA (`cacert.pem`, `private/cakey.pem`), its database (`index.txt` with a
//! good, a revoked and an expired leaf, `index.txt.attr`, `serial`, `crlnumber`,
//! `newcerts/`), an `openssl.cnf` whose `[ca]` section points at DIR, and the delegated
//! responder of the seed (`ocsp_responder.crt`, an encrypted PKCS#8 `ocsp_responder.key`
//! and its passphrase file). `ocsp.toml` (an `ocsp serve --config` file) is written last
//! and marks the directory as a complete demo.
//!
//! With `--pkcs11`, the responder key is moved into a SoftHSM2 token under DIR and signs
//! there (see `demo/token.rs`).
//!
//! With `--db URL`, the CA's statuses are imported into that PostgreSQL database and
//! served from it, and the printed instructions revoke with `ocsp revoke` (see
//! `demo/database.rs`).
//!
//! An existing DIR is used only if it is empty, or if it holds a complete demo PKI
//! written earlier: that one is served again as it is, so revocations made with
//! `openssl ca` survive a restart. Anything else there is refused, never overwritten.

#[cfg(feature = "postgres")]
mod database;
mod pki;
mod token;

use crate::logging::{self, LogFormat};
use anyhow::{anyhow, bail, Context, Result};
use ocsp_responder::config::Config;
use pki::{names, Pki};
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::OffsetDateTime;

/// Flags of `ocsp demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes DIR (default ./demo-pki) with no openssl needed, serves it on 127.0.0.1:2560 and \
prints ready-to-paste `openssl ocsp` and `ocsp query` commands. Run it again to serve the \
same PKI again (revocations made with `openssl ca -config DIR/openssl.cnf -revoke ...` \
are kept); remove DIR for a fresh one.")]
pub struct Args {
    /// Directory of the demo PKI: created (or an empty one filled); a complete demo PKI
    /// written earlier is served again as it is; anything else is refused.
    #[arg(value_name = "DIR", default_value = "demo-pki")]
    pub dir: PathBuf,
    /// Port on 127.0.0.1 to serve on (0: any free port).
    #[arg(long, value_name = "PORT", default_value_t = 2560)]
    pub port: u16,
    /// Only write the PKI (or check the one in DIR); do not serve it.
    #[arg(long)]
    pub no_serve: bool,
    /// Print each request and response (as `ocsp serve --text`).
    #[arg(long)]
    pub text: bool,
    /// Put the responder key into a SoftHSM2 token in DIR/softhsm and sign there (PKCS#11).
    #[arg(long)]
    pub pkcs11: bool,
    /// Keep the CA's statuses in this PostgreSQL database (schema migrated, index.txt
    /// imported) and serve from it; revoke with `ocsp revoke`. A bare --db takes the URL
    /// from OCSP_DATABASE_URL (which keeps the password out of the command line).
    #[cfg(feature = "postgres")]
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub db: Option<crate::cmd::db_flags::UrlArg>,
}

/// Run `ocsp demo`.
pub fn run(args: Args) -> ExitCode {
    logging::init(LogFormat::Text, "info");
    match demo(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocsp demo: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// What DIR holds.
#[derive(Debug, PartialEq, Eq)]
enum DirState {
    /// Nothing (missing or empty): write a new PKI.
    Fresh,
    /// A complete demo PKI from an earlier run: serve it again.
    Previous,
}

/// Every file a complete demo PKI has (besides `newcerts/*.pem` and the leaves' keys).
const REQUIRED: [&str; 13] = [
    names::CACERT,
    names::CAKEY,
    names::INDEX,
    names::SERIAL,
    names::CRLNUMBER,
    names::OPENSSL_CNF,
    names::RESPONDER_CRT,
    names::RESPONDER_KEY,
    names::RESPONDER_PASS,
    names::OCSP_TOML,
    "good.pem",
    "revoked.pem",
    "expired.pem",
];

fn inspect_dir(dir: &Path) -> Result<DirState> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DirState::Fresh),
        Err(e) => bail!(
            "{}: cannot use it as the demo directory: {e}",
            dir.display()
        ),
    };
    if entries.next().is_none() {
        return Ok(DirState::Fresh);
    }
    let toml = dir.join(names::OCSP_TOML);
    let is_demo = std::fs::read_to_string(&toml).is_ok_and(|t| t.starts_with(pki::MARKER));
    if !is_demo {
        bail!(
            "{}: the directory is not empty and holds no demo PKI (no {} written by `ocsp demo`); \
             nothing was changed: give another DIR (e.g. `ocsp demo demo-pki2`)",
            dir.display(),
            names::OCSP_TOML
        );
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}: an incomplete demo PKI (missing {}): remove the directory and run `ocsp demo` again for a fresh one",
            dir.display(),
            missing.join(", ")
        );
    }
    Ok(DirState::Previous)
}

/// A free port on 127.0.0.1, so that the leaves written before the responder binds name
/// the port it will serve on.
fn free_port() -> Result<u16> {
    let l = TcpListener::bind(("127.0.0.1", 0)).context("cannot find a free port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

/// Create `dir` (and `private/` 0700, `newcerts/`) and write every file of `pki`, keys
/// and passphrase with mode 0600. Never overwrites a file.
fn write_pki(dir: &Path, pki: &Pki) -> Result<()> {
    let mkdir = |p: &Path, mode: u32| -> Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(p)
            .with_context(|| format!("{}: cannot create the directory", p.display()))
    };
    mkdir(&dir.join(names::PRIVATE_DIR), 0o700)?;
    mkdir(&dir.join(names::NEWCERTS_DIR), 0o755)?;
    for f in &pki.files {
        let path = dir.join(&f.path);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if f.secret { 0o600 } else { 0o644 })
            .open(&path)
            .with_context(|| format!("{}: cannot create", path.display()))?;
        out.write_all(&f.contents)
            .and_then(|()| out.sync_all())
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    Ok(())
}

fn demo(args: &Args) -> Result<()> {
    let state = inspect_dir(&args.dir)?;
    // Port 0: a fresh PKI's leaves must name the port served, and --no-serve must print
    // one; only a previous PKI served now can bind port 0 itself.
    let port = match args.port {
        0 if state == DirState::Fresh || args.no_serve => free_port()?,
        p => p,
    };
    let written_for = format!("http://127.0.0.1:{port}");
    let dir = match state {
        DirState::Fresh => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .create(&args.dir)
                .with_context(|| format!("{}: cannot create the directory", args.dir.display()))?;
            let dir = std::fs::canonicalize(&args.dir)
                .with_context(|| format!("{}: cannot resolve the path", args.dir.display()))?;
            if dir.to_str().is_none_or(|d| d.chars().any(char::is_control)) {
                bail!(
                    "{}: openssl.cnf cannot name this directory (not UTF-8, or control characters): choose another DIR",
                    dir.display()
                );
            }
            let pki = pki::build(&dir, &written_for, OffsetDateTime::now_utc())?;
            write_pki(&dir, &pki).map_err(|e| {
                anyhow!(
                    "{e:#}; the demo PKI in {} is incomplete: remove the directory and try again",
                    dir.display()
                )
            })?;
            print_written(&dir, &pki);
            dir
        }
        DirState::Previous => {
            let dir = std::fs::canonicalize(&args.dir)
                .with_context(|| format!("{}: cannot resolve the path", args.dir.display()))?;
            println!(
                "ocsp demo: serving the demo PKI written earlier in {} as it is (remove the directory for a fresh one)",
                dir.display()
            );
            dir
        }
    };

    let mut cfg = Config::load(&dir.join(names::OCSP_TOML))?;
    if args.pkcs11 {
        token::use_softhsm(&dir, &mut cfg)?;
    }
    #[cfg(feature = "postgres")]
    let db = match &args.db {
        Some(flag) => {
            crate::cmd::db_flags::warn_password_in_argv(&flag.0, "ocsp demo");
            let url = database::url_of(Some(flag.0.as_str()))?;
            Some(database::use_database(&dir, &url, &mut cfg)?)
        }
        None => None,
    };
    #[cfg(not(feature = "postgres"))]
    let db: Option<String> = None;
    let db = db.as_deref();
    if args.no_serve {
        print_commands(&dir, &written_for, Some(port), db);
        return Ok(());
    }
    cfg.server.listen = vec![format!("127.0.0.1:{port}")];
    cfg.server.text = args.text;
    let rt = crate::runtime::runtime()?;
    rt.block_on(async {
        let prepared = crate::cmd::serve::prepare(&cfg)?;
        let addr = prepared
            .local_addrs()
            .first()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], port)));
        print_commands(&dir, &format!("http://{addr}"), None, db);
        prepared.run().await
    })
}

/// A path as a shell word: as it is when it holds no character the shell treats
/// specially, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=,@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn print_written(dir: &Path, pki: &Pki) {
    let mut out = String::new();
    out.push_str(&format!(
        "ocsp demo: wrote a demo PKI in the OpenSSL CA layout to {}\n",
        dir.display()
    ));
    out.push_str(&format!(
        "  {:<38} the CA \"{}\" (RSA-2048), with index.txt, serial, crlnumber, newcerts/, openssl.cnf\n",
        "cacert.pem, private/cakey.pem",
        pki::CA_CN
    ));
    out.push_str(&format!(
        "  {:<38} delegated responder (OCSPSigning, ocsp-nocheck), key encrypted (PBES2/AES-256), passphrase\n",
        "ocsp_responder.crt, .key, .pass"
    ));
    for leaf in &pki.leaves {
        out.push_str(&format!(
            "  {:<38} serial {}: {}\n",
            format!("{}, {}", leaf.kind.cert_file(), leaf.kind.key_file()),
            leaf.serial_hex,
            leaf.kind.describe()
        ));
    }
    print!("{out}");
}

/// The ready-to-paste commands for the PKI in `dir` answered at `url`: served now
/// (`serve_later: None`), or to be served by `ocsp demo DIR --port N`; `db` is the
/// database (redacted) when the statuses are there.
fn commands(dir: &Path, url: &str, serve_later: Option<u16>, db: Option<&str>) -> String {
    let p = |f: &str| shell_word(&dir.join(f).display().to_string());
    let (ca, cnf) = (p(names::CACERT), p(names::OPENSSL_CNF));
    let serving = serve_later.is_none();
    let mut s = String::new();
    if let Some(port) = serve_later {
        s.push_str(&format!(
            "\nServe it with:\n  ocsp demo {}{} --port {port}\n",
            shell_word(&dir.display().to_string()),
            if db.is_some() {
                " --db \"$OCSP_DATABASE_URL\""
            } else {
                ""
            }
        ));
    }
    s.push_str(
        "\nCheck the good and the revoked certificate with openssl (the response's signature is verified):\n",
    );
    for leaf in ["good.pem", "revoked.pem"] {
        s.push_str(&format!(
            "  openssl ocsp -CAfile {ca} -issuer {ca} -cert {} -url {url} -resp_text\n",
            p(leaf)
        ));
    }
    s.push_str("or with ocsp query:\n");
    for leaf in ["good.pem", "revoked.pem"] {
        s.push_str(&format!(
            "  ocsp query --issuer {ca} --cert {} --url {url}\n",
            p(leaf)
        ));
    }
    if let Some(db) = db {
        s.push_str(&format!(
            "The statuses are in the database {db}. With OCSP_DATABASE_URL set to its URL \
             (export OCSP_DATABASE_URL='postgres://USER:PASSWORD@HOST/DATABASE'),\n\
             revoke good.pem in the database{}, then ask again: the answer turns to revoked:\n  \
             ocsp revoke --db \"$OCSP_DATABASE_URL\" --ca {ca} --cert {} --reason keyCompromise\n",
            if serving { " while this runs" } else { "" },
            p("good.pem")
        ));
        s.push_str(&format!(
            "Serve this database without the demo:\n  ocsp serve --db \"$OCSP_DATABASE_URL\" --ca {ca} --rsigner {} --rkey {} --passin file:{} --port 2560\n",
            p(names::RESPONDER_CRT),
            p(names::RESPONDER_KEY),
            p(names::RESPONDER_PASS)
        ));
    } else {
        s.push_str(&format!(
            "Revoke good.pem with openssl{}, then ask again: the answer turns to revoked:\n  \
             openssl ca -config {cnf} -revoke {} -crl_reason keyCompromise\n",
            if serving { " while this runs" } else { "" },
            p("good.pem")
        ));
        s.push_str(&format!(
            "Serve this PKI without the demo:\n  ocsp serve --config {} --port 2560\n",
            p(names::OCSP_TOML)
        ));
    }
    if serving {
        s.push_str("\nServing until Ctrl-C.\n");
    }
    s
}

fn print_commands(dir: &Path, url: &str, serve_later: Option<u16>, db: Option<&str>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(commands(dir, url, serve_later, db).as_bytes());
    let _ = out.flush();
}

// ---- The OpenSSL CA database, as `openssl ca` writes it --------------------------------

/// The state column of an index.txt line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IndexState {
    /// `V`: valid.
    Valid,
    /// `R`: revoked at `at` for `reason` (openssl's spelling, e.g. `keyCompromise`).
    Revoked {
        at: OffsetDateTime,
        reason: &'static str,
    },
    /// `E`: expired (as `openssl ca -updatedb` marks it).
    Expired,
}

/// One line of index.txt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub state: IndexState,
    /// The certificate's notAfter.
    pub expires: OffsetDateTime,
    /// The serial, big-endian, positive.
    pub serial: Vec<u8>,
    /// The subject in openssl's one-line form (see [`oneline`]).
    pub subject: String,
}

impl IndexEntry {
    /// The line as `openssl ca` writes it: six TAB-separated fields (state, expiry,
    /// revocation `time[,reason]`, serial, file name `unknown`, subject) and a newline.
    pub(crate) fn line(&self) -> String {
        let (flag, revocation) = match &self.state {
            IndexState::Valid => ("V", String::new()),
            IndexState::Revoked { at, reason } => ("R", format!("{},{reason}", asn1_time(*at))),
            IndexState::Expired => ("E", String::new()),
        };
        format!(
            "{flag}\t{}\t{revocation}\t{}\tunknown\t{}\n",
            asn1_time(self.expires),
            hex_serial(&self.serial),
            self.subject
        )
    }
}

/// A time as openssl prints an ASN1_TIME in index.txt: UTCTime `YYMMDDHHMMSSZ` for the
/// years 1950..=2049 (what certificates carry then), GeneralizedTime `YYYYMMDDHHMMSSZ`
/// otherwise.
pub(crate) fn asn1_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let y = t.year();
    let rest = format!(
        "{:02}{:02}{:02}{:02}{:02}Z",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if (1950..2050).contains(&y) {
        format!("{:02}{rest}", y.rem_euclid(100))
    } else {
        format!("{y:04}{rest}")
    }
}

/// A serial as openssl writes it in index.txt and `serial` (BN_bn2hex): upper-case hex,
/// two digits per octet, leading zero octets dropped, `00` for zero.
pub(crate) fn hex_serial(serial: &[u8]) -> String {
    let first = serial.iter().position(|&b| b != 0).unwrap_or(serial.len());
    let digits = hex::encode_upper(&serial[first..]);
    if digits.is_empty() {
        "00".to_string()
    } else {
        digits
    }
}

/// A name in openssl's one-line form (X509_NAME_oneline): `/C=XX/O=Org/CN=name`, octets
/// outside printable ASCII as `\xHH`.
pub(crate) fn oneline(rdns: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (attr, value) in rdns {
        s.push('/');
        s.push_str(attr);
        s.push('=');
        for &b in value.as_bytes() {
            if (b' '..=b'~').contains(&b) {
                s.push(char::from(b));
            } else {
                s.push_str(&format!("\\x{b:02X}"));
            }
        }
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn index_lines_are_what_openssl_writes() {
        let subject = oneline(&[
            ("C", "XX"),
            ("O", "OCSP Demo"),
            ("CN", "good.ocsp-demo.test"),
        ]);
        let valid = IndexEntry {
            state: IndexState::Valid,
            expires: datetime!(2027-03-04 05:06:07 UTC),
            serial: vec![0x10, 0x01],
            subject: subject.clone(),
        };
        assert_eq!(
            valid.line(),
            "V\t270304050607Z\t\t1001\tunknown\t/C=XX/O=OCSP Demo/CN=good.ocsp-demo.test\n"
        );
        let revoked = IndexEntry {
            state: IndexState::Revoked {
                at: datetime!(2026-01-02 03:04:05 UTC),
                reason: "keyCompromise",
            },
            serial: vec![0x00, 0xab, 0xcd],
            ..valid.clone()
        };
        assert_eq!(
            revoked.line(),
            "R\t270304050607Z\t260102030405Z,keyCompromise\tABCD\tunknown\t/C=XX/O=OCSP Demo/CN=good.ocsp-demo.test\n"
        );
        let expired = IndexEntry {
            state: IndexState::Expired,
            expires: datetime!(1999-12-31 23:59:59 UTC),
            ..valid
        };
        assert_eq!(
            expired.line(),
            "E\t991231235959Z\t\t1001\tunknown\t/C=XX/O=OCSP Demo/CN=good.ocsp-demo.test\n"
        );
    }

    #[test]
    fn times_switch_to_generalized_from_2050() {
        assert_eq!(
            asn1_time(datetime!(2049-12-31 23:59:59 UTC)),
            "491231235959Z"
        );
        assert_eq!(
            asn1_time(datetime!(2050-01-01 00:00:00 UTC)),
            "20500101000000Z"
        );
        assert_eq!(
            asn1_time(datetime!(1950-01-01 00:00:00 UTC)),
            "500101000000Z"
        );
        assert_eq!(
            asn1_time(datetime!(2026-06-01 12:00:00 +02:00)),
            "260601100000Z",
            "in UTC"
        );
    }

    #[test]
    fn serials_as_bn2hex() {
        assert_eq!(hex_serial(&[0x10, 0x00]), "1000");
        assert_eq!(hex_serial(&[0x00, 0x0f]), "0F");
        assert_eq!(hex_serial(&[0x01, 0x00, 0xfe]), "0100FE");
        assert_eq!(hex_serial(&[0]), "00");
        assert_eq!(hex_serial(&[]), "00");
    }

    #[test]
    fn names_in_oneline_form() {
        assert_eq!(oneline(&[("CN", "a b")]), "/CN=a b");
        assert_eq!(oneline(&[("O", "Zürich\t")]), "/O=Z\\xC3\\xBCrich\\x09");
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            shell_word("/tmp/demo-pki/good.pem"),
            "/tmp/demo-pki/good.pem"
        );
        assert_eq!(shell_word("/tmp/my pki/x"), "'/tmp/my pki/x'");
        assert_eq!(shell_word("/a'b"), "'/a'\\''b'");
    }

    #[test]
    fn directories_are_checked_before_anything_is_written() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("new");
        assert_eq!(inspect_dir(&d).unwrap(), DirState::Fresh);
        std::fs::create_dir(&d).unwrap();
        assert_eq!(inspect_dir(&d).unwrap(), DirState::Fresh);
        std::fs::write(d.join("notes.txt"), "mine").unwrap();
        let e = inspect_dir(&d).unwrap_err().to_string();
        assert!(e.contains("holds no demo PKI"), "{e}");
        std::fs::write(d.join(names::OCSP_TOML), format!("{}\n", pki::MARKER)).unwrap();
        let e = inspect_dir(&d).unwrap_err().to_string();
        assert!(e.contains("incomplete demo PKI (missing cacert.pem"), "{e}");
        std::fs::write(d.join("file"), "").unwrap();
        assert!(inspect_dir(&d.join("file")).is_err());
    }

    #[test]
    fn writes_and_then_recognises_a_complete_pki() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("pki");
        let now = OffsetDateTime::now_utc();
        let p = pki::build(&d, "http://127.0.0.1:2560", now).unwrap();
        write_pki(&d, &p).unwrap();
        assert_eq!(inspect_dir(&d).unwrap(), DirState::Previous);
        use std::os::unix::fs::PermissionsExt;
        let mode = |f: &str| std::fs::metadata(d.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(names::RESPONDER_KEY), 0o600);
        assert_eq!(mode(names::RESPONDER_PASS), 0o600);
        assert_eq!(mode(names::CAKEY), 0o600);
        assert_eq!(mode("good.key"), 0o600);
        assert_eq!(mode(names::PRIVATE_DIR), 0o700);
        assert_eq!(mode(names::CACERT), 0o644);
        // Writing again never overwrites.
        assert!(write_pki(&d, &p).is_err());
        // The config it serves from parses and points into the directory.
        let cfg = Config::load(&d.join(names::OCSP_TOML)).unwrap();
        assert_eq!(cfg.issuers.len(), 1);
        assert_eq!(cfg.issuers[0].index, Some(d.join("index.txt")));
        assert_eq!(
            cfg.issuers[0].passin.as_deref(),
            Some(format!("file:{}", d.join(names::RESPONDER_PASS).display()).as_str())
        );
        let cmds = commands(&d, "http://127.0.0.1:2560", None, None);
        assert!(cmds.contains("while this runs"));
        let on_db = commands(
            &d,
            "http://127.0.0.1:2560",
            None,
            Some("postgres://u:***@h/d"),
        );
        assert!(on_db.contains(&format!(
            "ocsp revoke --db \"$OCSP_DATABASE_URL\" --ca {} --cert {} --reason keyCompromise\n",
            d.join("cacert.pem").display(),
            d.join("good.pem").display()
        )));
        assert!(!on_db.contains("openssl ca -config"), "{on_db}");
        let later = commands(&d, "http://127.0.0.1:2561", Some(2561), None);
        assert!(later.contains(&format!("ocsp demo {} --port 2561\n", d.display())));
        let ca = d.join("cacert.pem").display().to_string();
        assert!(cmds.contains(&format!(
            "openssl ocsp -CAfile {ca} -issuer {ca} -cert {} -url http://127.0.0.1:2560 -resp_text\n",
            d.join("revoked.pem").display()
        )));
    }
}
