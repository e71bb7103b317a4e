//! `ocsp presign`: sign an answer for every entry of the configured CAs ahead of time,
//! into a response store that `ocsp serve --store` loads at start (docs/presign.md).

use crate::cmd::ca_flags::CaFlags;
use crate::logging::{self, LogFormat};
use anyhow::{bail, Context};
use ocsp_proto::{HashAlg, Serial};
use ocsp_responder::config::Config;
use ocsp_responder::issuer::Issuer;
use ocsp_responder::setup::{self, BuildOptions};
use ocsp_responder::source::cache::CachedSource;
use ocsp_responder::source::SourceError;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flags of `ocsp presign`. The CA flags are those of `ocsp serve` (one CA); `--config`
/// describes any number. Answers are signed as `ocsp serve` would sign them (same
/// validity, policy and responder), for CertIDs hashed with each `--hash` algorithm.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
ocsp presign --index index.txt --ca cacert.pem --rsigner ocsp.crt --rkey ocsp.key \\\n    \
--out responses.store\n  \
ocsp serve ... --store responses.store\n\n\
Run it again with --refresh (e.g. from cron, well within half the validity) to re-sign\n\
only the answers that changed or passed their refresh point.")]
pub struct Args {
    /// TOML configuration file (one `[[issuer]]` table per CA; `[cache] store` is the default --out).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The CA these flags describe (the same flags as `ocsp serve`).
    #[command(flatten)]
    pub ca: CaFlags,

    /// The response store to write (default: `[cache] store` of --config).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// CertID hash algorithms to sign answers for (comma-separated): sha1 is openssl's
    /// default, sha256 RFC 9919's.
    #[arg(
        long,
        value_name = "ALGS",
        value_delimiter = ',',
        default_value = "sha1,sha256"
    )]
    pub hash: Vec<String>,
    /// Start from the existing store at --out: keep answers that are still true and not
    /// past their refresh point, sign the rest.
    #[arg(long)]
    pub refresh: bool,
    /// Re-sign answers past this fraction of their validity (with --refresh; default: the
    /// config's `[cache] refresh_fraction`, 0.5).
    #[arg(long, value_name = "FRACTION")]
    pub refresh_fraction: Option<f64>,
    /// Signing threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub signing_threads: Option<usize>,
    /// The compliance profile answers are checked against before signing, as `serve
    /// --profile` (default: the config's `profile`, else private).
    #[arg(long, value_name = "PROFILE", value_parser = ["private", "cabf", "mozilla", "microsoft"])]
    pub profile: Option<String>,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Log format on stderr (filters from RUST_LOG).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl Args {
    fn config(&self) -> anyhow::Result<Config> {
        let mut cfg = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        if let Some(issuer) = self.ca.issuer()? {
            cfg.issuers.push(issuer);
        }
        self.ca.apply_db(&mut cfg);
        self.ca.apply_pkcs11(&mut cfg);
        if cfg.issuers.is_empty() {
            bail!("no CA to presign for: give --ca CAFILE --index index.txt [--rsigner CERT --rkey KEY], or --config FILE with [[issuer]] tables");
        }
        if let Some(f) = self.refresh_fraction {
            cfg.cache.refresh_fraction = f;
        }
        cfg.cache
            .finish(Path::new("."))
            .map_err(|e| anyhow::anyhow!(e.replace("[cache] ", "--")))?;
        if let Some(n) = self.signing_threads {
            cfg.signing.threads = n;
        }
        if let Some(p) = &self.profile {
            cfg.profile = p.parse().map_err(anyhow::Error::msg)?;
        }
        Ok(cfg)
    }

    fn algorithms(&self) -> anyhow::Result<Vec<HashAlg>> {
        let mut algs = Vec::new();
        for h in &self.hash {
            let Some(a) = HashAlg::from_name(h.trim()) else {
                bail!("--hash {h}: use sha1, sha256, sha384 or sha512");
            };
            if !algs.contains(&a) {
                algs.push(a);
            }
        }
        if algs.is_empty() {
            bail!("--hash: name at least one algorithm");
        }
        Ok(algs)
    }
}

/// Counters shown on the progress line.
#[derive(Default)]
struct Progress {
    done: AtomicU64,
    signed: AtomicU64,
}

fn progress_line(p: &Progress, total: u64, started: Instant) -> String {
    let done = p.done.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let width = 30u64;
    let filled = (done * width).checked_div(total).unwrap_or(width) as usize;
    format!(
        "[{}{}] {done}/{total} answers, {} signed, {:.0}/s",
        "#".repeat(filled),
        "-".repeat(width as usize - filled.min(width as usize)),
        p.signed.load(Ordering::Relaxed),
        done as f64 / secs
    )
}

async fn warm_one(
    cache: &CachedSource,
    issuer: &Arc<Issuer>,
    serial: &Serial,
    alg: HashAlg,
) -> Result<bool, SourceError> {
    loop {
        match cache.warm(issuer, serial, alg).await {
            Err(SourceError::Overloaded) => tokio::time::sleep(Duration::from_millis(2)).await,
            other => return other,
        }
    }
}

async fn presign(args: &Args, cfg: &Config, out: &Path) -> anyhow::Result<()> {
    let algs = args.algorithms()?;
    // The one wiring, as `serve` builds it (the same profile checks before every
    // signature), with a cache large enough for every answer.
    let mut cfg = cfg.clone();
    cfg.cache.enabled = true;
    cfg.cache.max_entries = usize::MAX / 4;
    cfg.cache.max_bytes = usize::MAX / 4;
    let prompt = crate::passphrase::prompt_passin;
    let built = setup::build(&cfg, &BuildOptions::new(&prompt))?;
    for w in &built.warnings {
        tracing::warn!("{w}");
    }
    let cache = built
        .cache
        .clone()
        .context("the cache is off: presign needs it")?;
    let pool = built.pool.clone();
    // Every entry of every issuer, read from its status source.
    let mut work: Vec<(Arc<Issuer>, Serial)> = Vec::new();
    for issuer in built.issuers.iter() {
        let mut serials = Vec::new();
        issuer
            .status
            .entries(&mut |e| serials.push(e.serial))
            .await
            .with_context(|| format!("{}: reading its status entries", issuer.name))?;
        work.extend(serials.into_iter().map(|s| (issuer.clone(), s)));
    }
    let total = (work.len() * algs.len()) as u64;
    if args.refresh && out.exists() {
        let r = cache.load_store(out).await?;
        tracing::info!(
            records = r.records,
            kept = r.loaded,
            expired = r.expired,
            stale = r.stale,
            foreign = r.foreign,
            invalid = r.invalid,
            "read the existing store"
        );
    }
    let started = Instant::now();
    let progress = Arc::new(Progress::default());
    // A bar redrawn in place on a terminal; a line every 10 s into a log otherwise.
    let tty = std::io::stderr().is_terminal();
    let ticker = (!args.quiet).then(|| {
        let p = progress.clone();
        tokio::spawn(async move {
            let every = Duration::from_millis(if tty { 250 } else { 10_000 });
            loop {
                tokio::time::sleep(every).await;
                let mut err = std::io::stderr().lock();
                let line = progress_line(&p, total, started);
                let _ = if tty {
                    write!(err, "\r{line}")
                } else {
                    writeln!(err, "{line}")
                };
                let _ = err.flush();
            }
        })
    });
    // Keep the signing queue full but never over it.
    let in_flight = (pool.threads() + pool.queue_depth()).max(1);
    let work = Arc::new(work);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight.min(total.max(1) as usize) {
        let (cache, work, next, progress, algs) = (
            cache.clone(),
            work.clone(),
            next.clone(),
            progress.clone(),
            algs.clone(),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some((issuer, serial)) = work.get(i / algs.len()) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let alg = algs[i % algs.len()];
                let signed = warm_one(&cache, issuer, serial, alg)
                    .await
                    .with_context(|| format!("{}: serial {serial} ({alg})", issuer.name))?;
                if signed {
                    progress.signed.fetch_add(1, Ordering::Relaxed);
                }
                progress.done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("a presign task failed")??;
    }
    if let Some(t) = ticker {
        t.abort();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "{}{}",
            if tty { "\r" } else { "" },
            progress_line(&progress, total, started)
        );
    }
    let written = cache.save_store(out)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {written} answers for {} serials of {} CA(s) to {} ({} signed, {} kept) in {secs:.1} s",
        work.len(),
        built.issuers.len(),
        out.display(),
        progress.signed.load(Ordering::Relaxed),
        total - progress.signed.load(Ordering::Relaxed),
    );
    Ok(())
}

/// Run `ocsp presign`.
pub fn run(args: Args) -> ExitCode {
    logging::init(args.log_format, "warn");
    let result = (|| -> anyhow::Result<()> {
        let cfg = args.config()?;
        let Some(out) = args.out.clone().or_else(|| cfg.cache.store.clone()) else {
            bail!("where to write: give --out FILE (or [cache] store in --config)");
        };
        crate::runtime::runtime()?.block_on(presign(&args, &cfg, &out))
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocsp presign: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn progress_text() {
        let p = Progress::default();
        p.done.store(5, Ordering::Relaxed);
        let l = progress_line(&p, 10, Instant::now());
        assert!(l.contains("5/10"), "{l}");
        assert!(l.starts_with("[###############---------------]"), "{l}");
        assert!(progress_line(&p, 0, Instant::now()).contains("5/0"));
    }
}
