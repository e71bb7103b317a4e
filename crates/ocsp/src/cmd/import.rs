//! `ocsp import`: load an OpenSSL CA database (`--index index.txt`) or a directory of
//! certificates (`--certs DIR`) into the status database, for one CA (`--ca`).
//!
//! - The CA is registered when new (identified by its key AND its name).
//! - One run is one transaction, so one generation step: nodes see all of it or none.
//! - Idempotent: rows equal to the database change nothing, and a run that changes
//!   nothing leaves the generation where it was.
//! - A serial revoked in the database stays revoked when the index says valid, unless
//!   `--allow-unrevoke`; rows absent from the index are left alone.
//! - `--certs DIR`: every file (PEM, possibly several certificates, or DER) must hold
//!   certificates issued by the CA, checked by signature; their serial, validity and
//!   SHA-256 are recorded (a new serial as valid, a known one keeps its status). A
//!   certificate of another CA stops the run before anything is written, unless
//!   `--skip-foreign`.
//! - `--watch` (with `--index`): keep following the file as `ocsp serve` does (the
//!   index_txt source's watcher and per-serial changes) and apply each change as it
//!   happens, so `openssl ca` can feed responders unchanged. A failed apply is retried
//!   every second with the whole file.
//! - A progress bar on a terminal (stderr), the counts at the end (stdout).
//! - With neither `--index` nor `--certs`, the CA is only registered (for CAs whose
//!   statuses are written by `ocsp revoke` alone).

use crate::cmd::db_flags::{read_ca, DbFlags};
use anyhow::{bail, Context};
use ocsp_proto::x509_cert::Certificate;
use ocsp_proto::{Serial, Timestamp};
use ocsp_status::index_txt::{parse, IndexTxtSource};
use ocsp_status::postgres::schema::Role;
use ocsp_status::postgres::serial_to_db;
use ocsp_status::postgres::write::{
    self, ImportCounts, ImportKind, ImportOptions, ImportRow, Issuer, RevokedAt,
};
use ocsp_status::{Change, StatusSource};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Flags of `ocsp import`.
#[derive(Debug, clap::Args)]
#[command(
    group(clap::ArgGroup::new("what").args(["index", "certs"])),
    after_help = "Examples (the URL with its password in the environment or a url_file, never in argv):\n  \
export OCSP_DATABASE_URL=postgres://ocsp_writer@db.example/ocsp?sslmode=verify-full&sslrootcert=/etc/ocsp/pg-ca.pem\n  \
ocsp import --ca demoCA/cacert.pem --index demoCA/index.txt\n  \
ocsp import --ca demoCA/cacert.pem --index demoCA/index.txt --watch\n  \
ocsp import --ca demoCA/cacert.pem --certs demoCA/newcerts"
)]
pub struct Args {
    /// The database.
    #[command(flatten)]
    pub db: DbFlags,
    /// The CA certificate (PEM or DER) whose certificates these are.
    #[arg(long = "ca", value_name = "FILE")]
    pub ca: PathBuf,
    /// An OpenSSL CA database (index.txt) to load.
    #[arg(long, value_name = "FILE")]
    pub index: Option<PathBuf>,
    /// A directory of certificates (PEM or DER, e.g. newcerts/) to record.
    #[arg(long, value_name = "DIR")]
    pub certs: Option<PathBuf>,
    /// The CA's name in the database when registering it (default: its subject).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Let the index make a revoked serial valid again (never done otherwise).
    #[arg(long)]
    pub allow_unrevoke: bool,
    /// With --certs: skip certificates not issued by the CA instead of stopping.
    #[arg(long)]
    pub skip_foreign: bool,
    /// With --index: keep following the file and apply each change as it happens.
    #[arg(long, requires = "index")]
    pub watch: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Run `ocsp import`.
pub fn run(args: Args) -> ExitCode {
    crate::logging::init(crate::logging::LogFormat::Text, "warn");
    let result = crate::runtime::runtime_with(2).and_then(|rt| rt.block_on(import(args)));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ocsp import: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn import(args: Args) -> anyhow::Result<ExitCode> {
    let (ca, ca_id) = read_ca(&args.ca)?;
    // Read the input before connecting: a bad file costs no database work.
    let (rows, kind, what) = if let Some(index) = &args.index {
        (
            index_rows(index, None)?,
            ImportKind::Statuses,
            index.display().to_string(),
        )
    } else if let Some(dir) = &args.certs {
        let (rows, foreign) = cert_rows(dir, &ca)?;
        if !foreign.is_empty() {
            for (file, why) in &foreign {
                eprintln!("ocsp import: {}: {why}", file.display());
            }
            if !args.skip_foreign {
                bail!(
                    "{} file(s) in {} do not hold certificates issued by {} (nothing imported; \
                     remove them or pass --skip-foreign)",
                    foreign.len(),
                    dir.display(),
                    ca_id.subject
                );
            }
        }
        (rows, ImportKind::Certificates, dir.display().to_string())
    } else {
        (Vec::new(), ImportKind::Statuses, String::new())
    };
    let mut client = args.db.connect(Role::Writer).await?;
    let (issuer, created) =
        write::register_issuer(&mut client, &ca_id, args.name.as_deref()).await?;
    if created {
        println!(
            "registered CA {:?} as issuer {} ({:?})",
            ca_id.subject, issuer.id, issuer.name
        );
    }
    if what.is_empty() {
        if !created {
            println!(
                "CA {:?} is already registered as issuer {} ({:?})",
                ca_id.subject, issuer.id, issuer.name
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let options = ImportOptions {
        kind,
        allow_unrevoke: args.allow_unrevoke,
    };
    // Subscribe before the first import, so no change of the file falls between the two.
    let follow = match (&args.index, args.watch) {
        (Some(index), true) => Some(follow(index)?),
        _ => None,
    };
    let counts = import_rows(&mut client, &issuer, rows, options, !args.quiet).await?;
    print_counts(&what, &counts);
    if let Some((source, guard, rx)) = follow {
        let index = args.index.clone().unwrap_or_default();
        watch(&mut client, &issuer, &index, options, source, rx, &args.db).await?;
        drop(guard);
    }
    Ok(ExitCode::SUCCESS)
}

type Following = (
    std::sync::Arc<IndexTxtSource>,
    ocsp_status::WatchHandle,
    ocsp_status::Changes,
);

fn follow(index: &Path) -> anyhow::Result<Following> {
    let source = IndexTxtSource::open(index)?;
    let rx = source
        .changes()
        .context("the index source offers no change notification")?;
    let guard = source
        .clone()
        .follow()?
        .context("the index source cannot be followed")?;
    Ok((source, guard, rx))
}

async fn import_rows(
    client: &mut tokio_postgres::Client,
    issuer: &Issuer,
    rows: Vec<ImportRow>,
    options: ImportOptions,
    show_progress: bool,
) -> anyhow::Result<(ImportCounts, Duration)> {
    let started = Instant::now();
    let bar = (show_progress && std::io::stderr().is_terminal() && rows.len() > 1000).then(|| {
        let bar = indicatif::ProgressBar::new(rows.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} entries {per_sec} {msg}")
        {
            bar.set_style(style);
        }
        bar
    });
    let mut progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
            if n == b.length().unwrap_or(0) {
                b.set_message("merging");
            }
        }
    };
    let counts = write::import(client, issuer.id, rows, options, &mut progress).await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok((counts, started.elapsed()))
}

pub(crate) fn print_counts(what: &str, (c, took): &(ImportCounts, Duration)) {
    let secs = took.as_secs_f64();
    let rate = if secs > 0.0 {
        c.rows as f64 / secs
    } else {
        0.0
    };
    println!(
        "imported {what}: {} entries: {} new, {} changed, {} unchanged, {} kept revoked{}; generation {} -> {}; took {secs:.2} s ({rate:.0} entries/s)",
        c.rows,
        c.inserted,
        c.updated,
        c.unchanged,
        c.kept_revoked,
        if c.duplicates > 0 {
            format!(", {} duplicate serials dropped", c.duplicates)
        } else {
            String::new()
        },
        c.generation_before,
        c.generation,
    );
    if c.kept_revoked > 0 {
        println!(
            "{} serial(s) revoked in the database are valid in the index: left revoked (--allow-unrevoke to apply the index)",
            c.kept_revoked
        );
    }
}

async fn watch(
    client: &mut tokio_postgres::Client,
    issuer: &Issuer,
    index: &Path,
    options: ImportOptions,
    source: std::sync::Arc<IndexTxtSource>,
    mut rx: ocsp_status::Changes,
    db: &DbFlags,
) -> anyhow::Result<()> {
    println!("following {} (Ctrl-C to stop)", index.display());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    // What is still to apply: None = nothing, Some(None) = everything, Some(Some(set)) = these serials.
    let mut pending: Option<Option<HashSet<Serial>>> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
            msg = rx.recv() => match msg {
                Ok(Change::Serials { serials, .. }) => {
                    match &mut pending {
                        Some(None) => {}
                        Some(Some(set)) => set.extend(serials.iter().cloned()),
                        None => pending = Some(Some(serials.iter().cloned().collect())),
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => pending = Some(None),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = tick.tick() => {
                // The watcher can miss events (an editor's rename dance, a full inotify
                // queue); a stat each second catches what it missed (its change arrives
                // on `rx`). A failed apply is retried here.
                let _ = source.generation().await;
            }
        }
        let Some(which) = pending.take() else {
            continue;
        };
        let rows = match index_rows(index, which.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("ocsp import: {e:#} (will retry)");
                pending = Some(None);
                continue;
            }
        };
        match write::import(client, issuer.id, rows, options, &mut |_| {}).await {
            Ok(c) if c.inserted + c.updated > 0 => println!(
                "applied: {} new, {} changed, {} kept revoked; generation {}",
                c.inserted, c.updated, c.kept_revoked, c.generation
            ),
            Ok(_) => {}
            Err(e) => {
                eprintln!("ocsp import: {e} (will retry the whole file)");
                pending = Some(None);
                if client.is_closed() {
                    match db.connect(Role::Writer).await {
                        Ok(c) => *client = c,
                        Err(e) => eprintln!("ocsp import: cannot reconnect: {e:#}"),
                    }
                }
            }
        }
    }
}

/// The rows of `index` (only `only`'s serials when given).
pub(crate) fn index_rows(
    index: &Path,
    only: Option<&HashSet<Serial>>,
) -> anyhow::Result<Vec<ImportRow>> {
    let bytes = std::fs::read(index).with_context(|| format!("cannot read {}", index.display()))?;
    let entries = parse(&bytes, index)?;
    Ok(entries
        .into_iter()
        .filter(|e| only.is_none_or(|s| s.contains(&e.serial)))
        .map(|e| ImportRow {
            serial: serial_to_db(&e.serial),
            revoked: e.revocation.map(|r| RevokedAt {
                time: r.time,
                reason: r.reason,
                invalidity_date: r.invalidity_date,
            }),
            not_before: None,
            not_after: Some(e.expires),
            cert_sha256: None,
        })
        .collect())
}

/// The rows of the certificates in `dir` issued by `ca`, and the files that are not.
#[allow(clippy::type_complexity)]
fn cert_rows(
    dir: &Path,
    ca: &Certificate,
) -> anyhow::Result<(Vec<ImportRow>, Vec<(PathBuf, String)>)> {
    use ocsp_proto::der::Encode;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the directory {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut rows = Vec::new();
    let mut foreign = Vec::new();
    for file in files {
        let certs = match ocsp_responder::setup::read_certs(&file) {
            Ok(c) if !c.is_empty() => c,
            Ok(_) => {
                foreign.push((file, "no certificate in the file".to_string()));
                continue;
            }
            Err(e) => {
                foreign.push((file, format!("not a certificate: {e}")));
                continue;
            }
        };
        for cert in certs {
            if let Err(e) = ocsp_proto::sigalg::cert_issued_by(&cert, ca) {
                foreign.push((
                    file.clone(),
                    format!(
                        "{} is not issued by the CA (issuer {}, signature check: {e})",
                        cert.tbs_certificate.subject, cert.tbs_certificate.issuer
                    ),
                ));
                continue;
            }
            let der = cert.to_der().context("cannot encode a certificate")?;
            let v = &cert.tbs_certificate.validity;
            rows.push(ImportRow {
                serial: serial_to_db(&Serial::of_cert(&cert)),
                revoked: None,
                not_before: Some(Timestamp::from_x509(&v.not_before)),
                not_after: Some(Timestamp::from_x509(&v.not_after)),
                cert_sha256: Some(write::sha256(&der)),
            });
        }
    }
    Ok((rows, foreign))
}
