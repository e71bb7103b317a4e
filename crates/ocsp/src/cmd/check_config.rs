//! `ocsp check-config FILE`: validate a configuration without serving.
//!
//! Everything `ocsp serve --config FILE` would load is loaded and checked — the TOML
//! (unknown keys refused), every issuer's files, index, key (decrypted with its `passin`)
//! and certificate chain, the compliance profile, the TLS certificate and key, the log
//! filter, and every listener address (bound, then released) — and every problem found is
//! listed, not just the first. Exit status 0 when there is none, 1 otherwise.

use crate::cmd::listen_flags::ListenFlags;
use anyhow::Context;
use ocsp_responder::config::{Config, IssuerConfig};
use ocsp_responder::http::server::{bind, parse_listen};
use ocsp_responder::http::tls::Tls;
use ocsp_responder::issuer::{Issuer, IssuerSet};
use ocsp_responder::setup::{self, IssuerLoader};
use ocsp_status::{Lookup, StatusEntry, StatusError, StatusSource};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Flags of `ocsp check-config`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
ocsp check-config /etc/ocsp/ocsp.toml\n  \
ocsp check-config --no-bind ocsp.toml      # on a host where the responder already runs\n  \
ocsp check-config ocsp.toml --port 2560    # listeners given to serve as flags\n\n\
Exit status: 0 when the configuration is usable, 1 when any problem was found (all are listed).")]
pub struct Args {
    /// The TOML configuration file, as given to `ocsp serve --config`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Do not try to bind the listener addresses (they may be in use by a running responder).
    #[arg(long)]
    pub no_bind: bool,
    /// The listeners `serve` would be given on its command line, checked with the file.
    #[command(flatten)]
    pub listeners: ListenFlags,
}

/// The findings of a check.
#[derive(Debug, Default)]
pub struct Report {
    /// Problems: the configuration would not serve, or not correctly.
    pub errors: Vec<String>,
    /// Worth knowing, not fatal.
    pub warnings: Vec<String>,
    /// What was found in order, for the summary.
    pub notes: Vec<String>,
}

/// A status source standing in for one that did not open, so that the issuer's key and
/// certificates are still checked (and every problem listed at once).
struct NotOpened;

#[async_trait::async_trait]
impl StatusSource for NotOpened {
    async fn status(&self, _: &ocsp_proto::Serial) -> Result<Lookup, StatusError> {
        Err(StatusError::Unavailable("status source not opened".into()))
    }
    async fn generation(&self) -> Result<u64, StatusError> {
        Err(StatusError::Unavailable("status source not opened".into()))
    }
    async fn entries(&self, _: &mut (dyn FnMut(StatusEntry) + Send)) -> Result<u64, StatusError> {
        Err(StatusError::Unavailable("status source not opened".into()))
    }
    fn describe(&self) -> String {
        "status source not opened".into()
    }
}

fn file_readable(errors: &mut Vec<String>, what: &str, label: &str, path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => match std::fs::File::open(path) {
            Ok(_) => true,
            Err(e) => {
                errors.push(format!(
                    "{what}: {label} {}: cannot read: {e}",
                    path.display()
                ));
                false
            }
        },
        Ok(_) => {
            errors.push(format!(
                "{what}: {label} {}: not a regular file",
                path.display()
            ));
            false
        }
        Err(e) => {
            errors.push(format!("{what}: {label} {}: {e}", path.display()));
            false
        }
    }
}

/// Sign a probe with the issuer's key and verify it against its responder certificate.
fn test_signature(issuer: &Issuer) -> Result<(), String> {
    let r = issuer.responder.current();
    let probe = b"ocsp check-config: a test signature, never sent to a client";
    let sig = r.signer.sign(probe).map_err(|e| e.to_string())?;
    ocsp_proto::sigalg::verify(
        &r.signer.algorithm(),
        &r.cert.tbs_certificate.subject_public_key_info,
        probe,
        &sig,
    )
    .map_err(|e| {
        format!("the test signature does not verify against the responder certificate: {e}")
    })
}

/// Check the files one issuer names, each on its own, so that every missing one is listed.
fn check_issuer_files(ic: &IssuerConfig, what: &str, errors: &mut Vec<String>) -> bool {
    let mut ok = file_readable(errors, what, "ca", &ic.ca);
    let rsigner = ic.rsigner.clone().unwrap_or_else(|| ic.ca.clone());
    if ic.rsigner.is_some() {
        ok &= file_readable(errors, what, "rsigner", &rsigner);
    }
    if let Some(k) = ic
        .rkey
        .as_ref()
        .filter(|k| !ocsp_signer::is_pkcs11_uri(&k.to_string_lossy()))
    {
        ok &= file_readable(errors, what, "rkey", k);
    }
    for r in &ic.rother {
        ok &= file_readable(errors, what, "rother", r);
    }
    if let Some(f) = ic.passin.as_deref().and_then(|p| p.strip_prefix("file:")) {
        ok &= file_readable(errors, what, "passin file", Path::new(f));
    }
    if let Some(var) = ic.passin.as_deref().and_then(|p| p.strip_prefix("env:")) {
        if std::env::var_os(var).is_none() {
            errors.push(format!(
                "{what}: passin env:{var}: the environment variable is not set"
            ));
            ok = false;
        }
    }
    ok
}

fn check_bind(addrs: Vec<SocketAddr>, label: &str, no_bind: bool, report: &mut Report) {
    for a in addrs {
        if no_bind {
            report
                .notes
                .push(format!("{label} {a} (not bound: --no-bind)"));
            continue;
        }
        match bind(a) {
            Ok(l) => {
                report.notes.push(format!("{label} {a}: can listen"));
                drop(l);
            }
            Err(e) => report.errors.push(format!(
                "{label} {a}: cannot listen: {e} (is a responder already running there? then use --no-bind)"
            )),
        }
    }
}

fn addrs_of(values: &[String], label: &str, report: &mut Report) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for v in values {
        match parse_listen(v) {
            Ok(a) => out.extend(a),
            Err(e) => report
                .errors
                .push(format!("{label}: {}", e.trim_start_matches("--listen "))),
        }
    }
    out
}

/// Check `cfg` (read from `path`) and return what was found. Must run inside a tokio
/// runtime (status sources are async).
pub async fn check(cfg: &Config, no_bind: bool) -> Report {
    let mut report = Report::default();
    if cfg.issuers.is_empty() {
        report
            .errors
            .push("no [[issuer]] table: nothing to serve".into());
    }
    let prompt = |p: &Path| {
        crate::passphrase::prompt(
            p,
            "add passin = \"file:PATH\" (or env:VAR, fd:N, stdin) to its [[issuer]] table",
        )
    };
    let clock = ocsp_responder::clock::system();
    let mut loader = IssuerLoader::with_clock(&prompt, clock.clone()).pkcs11(cfg.pkcs11.settings());
    let mut loaded: Vec<Issuer> = Vec::new();
    for (n, ic) in cfg.issuers.iter().enumerate() {
        let what = match &ic.name {
            Some(name) => format!("[[issuer]] #{} ({name})", n + 1),
            None => format!("[[issuer]] #{} (ca {})", n + 1, ic.ca.display()),
        };
        let files_ok = check_issuer_files(ic, &what, &mut report.errors);
        let status: Arc<dyn StatusSource> = match setup::open_status(cfg, ic, &clock) {
            Ok(src) => {
                report.notes.push(format!("{what}: {}", src.describe()));
                src
            }
            Err(e) => {
                report.errors.push(format!("{what}: status: {e}"));
                Arc::new(NotOpened)
            }
        };
        if !files_ok {
            continue;
        }
        match loader.load(ic, status) {
            Ok(issuer) => {
                report.notes.push(format!(
                    "{what}: {} signed by {} ({}), validity {} s",
                    issuer.name,
                    issuer.responder.current().cert.tbs_certificate.subject,
                    issuer.responder.current().signer.describe(),
                    issuer.validity_secs
                ));
                // Logged in and found (a token key): now one signature, checked against the
                // certificate as a client would.
                match test_signature(&issuer) {
                    Ok(()) => report.notes.push(format!(
                        "{what}: a test signature verifies against the responder certificate"
                    )),
                    Err(e) => report.errors.push(format!("{what}: {e}")),
                }
                loaded.push(issuer);
            }
            Err(e) => report.errors.push(format!("{what}: {e}")),
        }
    }
    report.warnings.extend(loader.warnings().iter().cloned());
    match IssuerSet::new(loaded) {
        Ok(set) => {
            // The checks `serve` and `presign` refuse to start on, from the one wiring.
            let c = setup::compliance(cfg, &set, clock.now());
            report.errors.extend(c.problems);
            report.warnings.extend(c.warnings);
            // The next responder certificates (rsigner_next), checked as `serve` does.
            if set.len() == cfg.issuers.len() {
                match ocsp_responder::rollover::Rollover::new(cfg, &set, clock.clone()) {
                    Ok(r) => {
                        for i in set.iter() {
                            if let Some((_, Some(at))) = r.status(&i.name) {
                                report.notes.push(format!(
                                    "{}: the next responder certificate takes over at {at}",
                                    i.name
                                ));
                            }
                        }
                    }
                    Err(e) => report
                        .errors
                        .push(format!("next responder certificate: {e}")),
                }
            }
        }
        Err(e) => report.errors.push(e.to_string()),
    }

    // Listeners.
    let mut plain = addrs_of(&cfg.server.listen, "[server] listen", &mut report);
    if let Some(p) = cfg.server.port {
        plain.push(SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), p));
    }
    let tls = addrs_of(&cfg.tls.listen, "[tls] listen", &mut report);
    let metrics = match &cfg.metrics.listen {
        Some(m) => addrs_of(std::slice::from_ref(m), "[metrics] listen", &mut report),
        None => Vec::new(),
    };
    if plain.is_empty() && tls.is_empty() {
        report.warnings.push(
            "no listener: `ocsp serve` needs one: give it --port N or --listen ADDR:PORT (check them here with the same flags), or set [server] listen / port or [tls] listen"
                .into(),
        );
    }
    check_bind(plain, "[server] listen", no_bind, &mut report);
    check_bind(tls.clone(), "[tls] listen", no_bind, &mut report);
    check_bind(metrics, "[metrics] listen", no_bind, &mut report);

    // TLS.
    match (&cfg.tls.cert, tls.is_empty()) {
        (Some(cert), _) => match Tls::load(cert, cfg.tls.key.as_deref()) {
            Ok(_) => {
                report
                    .notes
                    .push(format!("[tls] cert {}: loads, key matches", cert.display()));
                if tls.is_empty() {
                    report.warnings.push(
                        "[tls] cert is set but [tls] listen is empty: no HTTPS listener".into(),
                    );
                }
            }
            Err(e) => report.errors.push(format!("[tls]: {e}")),
        },
        (None, false) => report.errors.push(
            "[tls] listen is set but [tls] cert is not: give the server certificate (and key)"
                .into(),
        ),
        (None, true) => {
            if cfg.tls.key.is_some() {
                report
                    .errors
                    .push("[tls] key is set without [tls] cert".into());
            }
        }
    }

    // Logs.
    if let Some(f) = &cfg.log.filter {
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(f) {
            report.errors.push(format!("[log] filter {f:?}: {e}"));
        }
    }
    report
}

/// Print a report; the exit status it calls for.
pub fn print(path: &Path, report: &Report) -> ExitCode {
    println!("{}:", path.display());
    for n in &report.notes {
        println!("  ok: {n}");
    }
    for w in &report.warnings {
        println!("  warning: {w}");
    }
    for e in &report.errors {
        println!("  error: {e}");
    }
    if report.errors.is_empty() {
        println!(
            "configuration OK ({} warning{})",
            report.warnings.len(),
            if report.warnings.len() == 1 { "" } else { "s" }
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "{} problem{} found",
            report.errors.len(),
            if report.errors.len() == 1 { "" } else { "s" }
        );
        ExitCode::from(1)
    }
}

/// Run `ocsp check-config`.
pub fn run(args: Args) -> ExitCode {
    // Only warnings and worse from the loaders: the report is the output.
    crate::logging::init(crate::logging::LogFormat::Text, "warn");
    let cfg = match Config::load(&args.file) {
        Ok(mut c) => {
            args.listeners.apply(&mut c);
            c
        }
        Err(e) => {
            println!("{}:", args.file.display());
            println!("  error: {}", e.reason);
            println!("1 problem found");
            return ExitCode::from(1);
        }
    };
    let result = crate::runtime::runtime()
        .context("check-config")
        .map(|rt| rt.block_on(check(&cfg, args.no_bind)));
    match result {
        Ok(report) => print(&args.file, &report),
        Err(e) => {
            eprintln!("ocsp check-config: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
