//! `ocsp lint URL`: check a live OCSP responder against the RFCs and a compliance profile.
//!
//! Flags become an [`ocsp_client::lint::Config`]; the checks live in
//! `ocsp_client::lint`. Output: one line per check and a summary (text), or one JSON
//! document; `--watch SECS` repeats forever (or `--rounds N` times) printing one line per
//! round, and `--prometheus FILE` rewrites a textfile-collector file after every round.
//!
//! Exit status (docs/lint.md): 0 clean, 1 warnings only, 2 failures, 3 could not run. With
//! `--watch`, the status of the last round.

use ocsp_client::lint::{self, render, Config, LintProfile, Report};
use ocsp_proto::Serial;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per check, then a summary.
    Text,
    /// One JSON document (version 1, see docs/lint.md).
    Json,
}

/// Flags of `ocsp lint`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Sends about 15 ordinary requests (one more per --cert / --revoked-cert) and judges every answer: \
transport, caching headers, encoding, semantics, nonces, signer, times and profile rules. \
--aggressive adds at most 12 requests: a POST of garbage, GETs in lenient encodings (base64url, \
unescaped, //), a PUT, then the robustness probes (a 100 KiB body, an idle connection, undecodable GET paths), each \
followed by one ordinary request; every request is bounded by --timeout. They may stop a \
fragile responder (openssl ocsp exits on any of them), so aim them at your own.\n\n\
Exit status: 0 clean, 1 warnings only, 2 failures, 3 could not run. See docs/lint.md.")]
pub struct Args {
    /// The responder's URL (http:// or https://).
    #[arg(value_name = "URL")]
    pub url: String,
    /// The CA certificate whose certificates the responder answers for (PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub issuer: PathBuf,
    /// A certificate the CA issued and has not revoked: must be answered good. Repeatable.
    #[arg(long = "cert", value_name = "FILE")]
    pub certs: Vec<PathBuf>,
    /// A certificate the CA revoked: must be answered revoked. Repeatable.
    #[arg(long = "revoked-cert", value_name = "FILE")]
    pub revoked_certs: Vec<PathBuf>,
    /// Serial of a certificate the CA issued and has not revoked (decimal or 0x-hex), like
    /// --cert without the file. Repeatable.
    #[arg(long = "serial", value_name = "N")]
    pub serials: Vec<String>,
    /// The rules to judge by.
    #[arg(
        long,
        value_name = "rfc6960|rfc9919|cabf|mozilla|microsoft",
        default_value = "rfc9919"
    )]
    pub profile: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also send the hostile robustness probes (bounded; see below).
    #[arg(long)]
    pub aggressive: bool,
    /// Repeat every SECS seconds, one line per round (JSON: one compact document per line).
    #[arg(long, value_name = "SECS")]
    pub watch: Option<u64>,
    /// With --watch: stop after N rounds (default: run until stopped).
    #[arg(long, value_name = "N", requires = "watch")]
    pub rounds: Option<u64>,
    /// Write Prometheus text to FILE after every run (for the node exporter's textfile
    /// collector; written to FILE.tmp, then renamed).
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
    /// Seconds allowed for each request.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub timeout: u64,
    /// PEM roots for an https:// responder instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub https_cafile: Option<PathBuf>,
}

fn stdout(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|()| out.flush());
}

fn serial_of(path: &Path) -> Result<(String, Serial), String> {
    let certs = ocsp_client::load_certs(path).map_err(|e| e.to_string())?;
    let cert = certs
        .first()
        .ok_or_else(|| format!("{}: no certificate in the file", path.display()))?;
    Ok((path.display().to_string(), Serial::of_cert(cert)))
}

fn config(args: &Args, profile: LintProfile) -> Result<Config, String> {
    if args.timeout == 0 {
        return Err("--timeout must be at least 1 second".into());
    }
    if args.watch == Some(0) {
        return Err("--watch must be at least 1 second".into());
    }
    let issuer = ocsp_client::load_certs(&args.issuer)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}: no certificate in the file", args.issuer.display()))?;
    let mut good = Vec::new();
    for p in &args.certs {
        good.push(serial_of(p)?);
    }
    for s in &args.serials {
        let serial = ocsp_client::parse_serial(s).ok_or_else(|| {
            format!("--serial {s:?}: expected a decimal number or 0x followed by hex digits")
        })?;
        good.push((s.clone(), serial));
    }
    let mut revoked = Vec::new();
    for p in &args.revoked_certs {
        revoked.push(serial_of(p)?);
    }
    Ok(Config {
        url: args.url.clone(),
        issuer,
        good,
        revoked,
        profile,
        aggressive: args.aggressive,
        timeout: Duration::from_secs(args.timeout),
        https_cafile: args.https_cafile.clone(),
    })
}

fn write_prometheus(path: &Path, r: &Report) {
    let tmp = path.with_extension("tmp");
    let res =
        std::fs::write(&tmp, render::prometheus(r)).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = res {
        eprintln!(
            "ocsp lint: cannot write --prometheus {}: {e} (check that its directory exists and is writable)",
            path.display()
        );
    }
}

/// Run `ocsp lint`.
pub fn run(args: Args) -> ExitCode {
    let profile = match args.profile.parse::<LintProfile>() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ocsp lint: --profile: {e}");
            return ExitCode::from(lint::finding::EXIT_COULD_NOT_RUN);
        }
    };
    let emit = |r: &Report, watching: bool| {
        match (args.format, watching) {
            (Format::Text, false) => stdout(&render::text(r)),
            (Format::Text, true) => stdout(&format!("{}\n", render::round_line(r))),
            (Format::Json, w) => stdout(&format!("{}\n", render::json(r, w))),
        }
        if let Some(p) = &args.prometheus {
            write_prometheus(p, r);
        }
    };
    let cfg = match config(&args, profile) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ocsp lint: {e}");
            let r = lint::could_not_run(&args.url, profile, e);
            emit(&r, false);
            return ExitCode::from(r.exit_code());
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ocsp lint: cannot start the async runtime: {e}");
            return ExitCode::from(lint::finding::EXIT_COULD_NOT_RUN);
        }
    };
    let Some(every) = args.watch else {
        let r = rt.block_on(lint::run(&cfg));
        if let Some(e) = &r.error {
            eprintln!("ocsp lint: could not run: {e}");
        }
        emit(&r, false);
        return ExitCode::from(r.exit_code());
    };
    let mut round = 0u64;
    loop {
        let started = std::time::Instant::now();
        let r = rt.block_on(lint::run(&cfg));
        emit(&r, true);
        round += 1;
        if args.rounds.is_some_and(|n| round >= n) {
            return ExitCode::from(r.exit_code());
        }
        let wait = Duration::from_secs(every).saturating_sub(started.elapsed());
        std::thread::sleep(wait);
    }
}
