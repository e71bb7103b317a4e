//! `ocsp serve`: the responder.

use crate::cmd::ca_flags::CaFlags;
use crate::cmd::listen_flags::{has_listener, ListenFlags};
use crate::logging::{self, LogFormat};
use anyhow::{bail, Context};
use ocsp_responder::config::{Config, Profile};
use ocsp_responder::health::{Health, Ops};
use ocsp_responder::http::server::{parse_listen, Server};
use ocsp_responder::http::tls::Tls;
use ocsp_responder::http::Edge;
use ocsp_responder::metrics::{self as ocsp_metrics, Exporter};
use ocsp_responder::rollover::Rollover;
use ocsp_responder::setup::{self, BuildOptions, Built};
use ocsp_responder::source::cache::CachedSource;
use ocsp_responder::source::signing::SigningPool;
use std::io::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Flags of `ocsp serve`. The CA flags (`--ca`, `--index`, `--rsigner`, ...) describe one
/// CA, as `openssl ocsp` does; `--config FILE` describes any number (`[[issuer]]` tables)
/// and the server; flags given on the command line override the file's `[server]` values
/// and add their CA to the file's.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example (the seed's openssl command, translated):\n  \
ocsp serve --index index.txt --port 2560 --rsigner ocsp_responder.crt \\\n    \
--rkey ocsp_responder.key --ca cacert.pem --text\n\n\
Operations (metrics, health, HTTPS, a compliance profile):\n  \
ocsp serve --config /etc/ocsp/ocsp.toml --metrics-listen 127.0.0.1:9560 \\\n    \
--tls-listen [::]:443 --tls-cert tls.crt --tls-key tls.key --profile cabf --log-format json\n\n\
Check a configuration before deploying it: ocsp check-config /etc/ocsp/ocsp.toml")]
pub struct Args {
    /// TOML configuration file (`[server]`, one `[[issuer]]` table per CA).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The CA these flags describe (as `openssl ocsp`'s flags do).
    #[command(flatten)]
    pub ca: CaFlags,

    #[command(flatten)]
    pub listeners: ListenFlags,
    /// Print each request and response in readable form on stdout.
    #[arg(long)]
    pub text: bool,
    /// Log format on stderr [default: text; config: [log] format].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter in RUST_LOG syntax, e.g. `info,ocsp::access=warn` [default: info; overrides
    /// RUST_LOG, which overrides [log] filter].
    #[arg(long, value_name = "FILTER")]
    pub log_filter: Option<String>,
    /// Put the client's IP address in access log lines (off by default, for privacy).
    #[arg(long)]
    pub log_client_addr: bool,
    /// Compliance profile checked before every signature: private (default), cabf, mozilla,
    /// microsoft. A configuration that cannot comply is refused at start, naming the rule.
    #[arg(long, value_name = "PROFILE", value_parser = ["private", "cabf", "mozilla", "microsoft"])]
    pub profile: Option<String>,
    /// Serve /metrics (Prometheus), /healthz and /readyz on ADDR:PORT (e.g. 127.0.0.1:9560).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<String>,
    /// TLS certificate chain for --tls-listen (PEM, leaf first).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM, unencrypted); default: the --tls-cert file.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Load pre-signed answers from this response store (written by `ocsp presign`) at start.
    #[arg(long, value_name = "FILE")]
    pub store: Option<PathBuf>,
    /// Do not cache answers: sign every one (default: answers to requests without a nonce
    /// are cached and re-signed after half their validity).
    #[arg(long)]
    pub no_cache: bool,
    /// Most answers the cache holds (default 100000).
    #[arg(long, value_name = "N")]
    pub cache_max_entries: Option<usize>,
    /// Re-sign a cached answer once this fraction of its validity has passed (default 0.5).
    #[arg(long, value_name = "FRACTION")]
    pub refresh_fraction: Option<f64>,
    /// Threads serving connections (default: one per core). Signing has its own
    /// threads (--signing-threads).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Milliseconds one check that index.txt is unchanged serves lookups (default 1;
    /// 0: every lookup checks the file).
    #[arg(long, value_name = "MS")]
    pub index_check_ms: Option<u64>,
    /// Signing threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub signing_threads: Option<usize>,
    /// Nice value of the signing threads, -20 to 19 (default 0). Negative: more nonce
    /// answers per second, fewer cache hits during a nonce flood; needs CAP_SYS_NICE.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub signing_nice: Option<i32>,
    /// Signing jobs queued (per queue: cacheable, nonce) before answering tryLater (default 256).
    #[arg(long, value_name = "N")]
    pub signing_queue: Option<usize>,
    /// Write the log to FILE instead of stderr (appended; reopened on SIGHUP, for
    /// logrotate) [config: [log] file].
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Share of successful access lines written, 0 to 1 (e.g. 0.01); errors and refusals
    /// are always written [default: 1; config: [log] access_sample].
    #[arg(long, value_name = "RATE")]
    pub access_sample: Option<f64>,
    /// Finished answers a signing thread hands back together while more jobs wait
    /// (default 4; 1: each at once) [config: [signing] batch].
    #[arg(long, value_name = "N")]
    pub signing_batch: Option<usize>,
}

impl Args {
    /// The operations flags (issue 6) over the file's `profile`, `[tls]`, `[log]`, `[metrics]`.
    fn apply_ops_flags(&self, cfg: &mut Config) -> anyhow::Result<()> {
        if let Some(p) = &self.profile {
            cfg.profile = p.parse::<Profile>().map_err(anyhow::Error::msg)?;
        }
        if let Some(m) = &self.metrics_listen {
            cfg.metrics.listen = Some(m.clone());
        }
        if let Some(c) = &self.tls_cert {
            cfg.tls.cert = Some(c.clone());
        }
        if let Some(k) = &self.tls_key {
            cfg.tls.key = Some(k.clone());
        }
        if let Some(f) = self.log_format {
            cfg.log.format = match f {
                LogFormat::Text => ocsp_responder::config::LogFormat::Text,
                LogFormat::Json => ocsp_responder::config::LogFormat::Json,
            };
        }
        cfg.log.client_addr |= self.log_client_addr;
        if let Some(f) = &self.log_file {
            cfg.log.file = Some(f.clone());
        }
        if let Some(r) = self.access_sample {
            cfg.log.access_sample = r;
            cfg.log
                .check()
                .map_err(|e| anyhow::anyhow!("--access-sample: {e}"))?;
        }
        if !cfg.tls.listen.is_empty() && cfg.tls.cert.is_none() {
            bail!("--tls-listen needs --tls-cert FILE (and --tls-key FILE unless the key is in the certificate file)");
        }
        Ok(())
    }

    /// The configuration these flags (and `--config`) describe.
    pub fn to_config(&self) -> anyhow::Result<Config> {
        let mut cfg = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        if let Some(issuer) = self.ca.issuer()? {
            cfg.issuers.push(issuer);
        }
        self.ca.apply_db(&mut cfg);
        self.ca.apply_pkcs11(&mut cfg);
        self.listeners.apply(&mut cfg);
        cfg.server.text |= self.text;
        if let Some(n) = self.workers {
            cfg.server.workers = n;
        }
        if let Some(ms) = self.index_check_ms {
            cfg.server.index_check_ms = ms;
        }
        if let Some(p) = &self.store {
            cfg.cache.store = Some(p.clone());
        }
        cfg.cache.enabled &= !self.no_cache;
        if let Some(n) = self.cache_max_entries {
            cfg.cache.max_entries = n;
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
        if let Some(n) = self.signing_queue {
            cfg.signing.queue_depth = n;
        }
        if let Some(n) = self.signing_nice {
            cfg.signing.nice = n;
        }
        if let Some(n) = self.signing_batch {
            cfg.signing.batch = n;
        }
        cfg.signing
            .check()
            .map_err(|e| anyhow::anyhow!(e.replace("[signing] nice =", "--signing-nice")))?;
        self.apply_ops_flags(&mut cfg)?;
        if cfg.issuers.is_empty() {
            bail!("no CA to serve: give --ca CAFILE --index index.txt [--rsigner CERT --rkey KEY], or --config FILE with [[issuer]] tables");
        }
        if !has_listener(&cfg) {
            bail!("nowhere to listen: give --port N (all interfaces) or --listen ADDR:PORT");
        }
        Ok(cfg)
    }
}

/// The addresses a configuration listens on.
pub fn listen_addrs(cfg: &Config) -> anyhow::Result<Vec<SocketAddr>> {
    let mut addrs = Vec::new();
    if let Some(p) = cfg.server.port {
        addrs.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), p));
    }
    for l in &cfg.server.listen {
        addrs.extend(parse_listen(l).map_err(anyhow::Error::msg)?);
    }
    Ok(addrs)
}

fn text_hook() -> ocsp_responder::http::TextHook {
    Arc::new(|req: &[u8], resp: &[u8]| {
        let mut out = std::io::stdout().lock();
        match ocsp_proto::text::request_der_text(req) {
            Ok(t) => {
                let _ = writeln!(out, "{t}");
            }
            Err(e) => {
                let _ = writeln!(out, "OCSP Request: undecodable ({e})");
            }
        }
        match ocsp_proto::text::response_der_text(resp) {
            Ok(t) => {
                let _ = writeln!(out, "{t}");
            }
            Err(e) => {
                let _ = writeln!(out, "OCSP Response: undecodable ({e})");
            }
        }
        let _ = out.flush();
    })
}

/// A responder with everything loaded and its listeners bound, not yet serving.
pub struct Prepared {
    server: Server,
    built: Built,
    rollover: Arc<Rollover>,
    store: Option<PathBuf>,
    ops: PreparedOps,
}

/// The operations side of a prepared responder (issue 6).
struct PreparedOps {
    health: Arc<Health>,
    exporter: Option<Arc<Exporter>>,
    tls: Option<Arc<Tls>>,
    check_interval: std::time::Duration,
}

impl Prepared {
    /// The response cache (its counters: `cache().stats()`), when enabled.
    pub fn cache(&self) -> Option<&Arc<CachedSource>> {
        self.built.cache.as_ref()
    }

    /// The signing pool (its counters: `signing_pool().stats()`).
    pub fn signing_pool(&self) -> &Arc<SigningPool> {
        &self.built.pool
    }

    /// The bound addresses (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.server.local_addrs()
    }

    /// Print `listening on http://ADDR:PORT` for each listener, then serve until SIGTERM
    /// or SIGINT; SIGHUP reloads the status sources, the responder certificates and keys
    /// (`ocsp_responder::rollover`) and the TLS certificate.
    pub async fn run(self) -> anyhow::Result<()> {
        if let (Some(cache), Some(store)) = (&self.built.cache, &self.store) {
            let started = std::time::Instant::now();
            match cache.load_store(store).await {
                Ok(r) => {
                    tracing::info!(
                        store = %store.display(),
                        loaded = r.loaded,
                        expired = r.expired,
                        stale = r.stale,
                        foreign = r.foreign,
                        invalid = r.invalid,
                        evicted = r.evicted,
                        millis = started.elapsed().as_millis() as u64,
                        "response store loaded"
                    );
                    if r.evicted > 0 {
                        tracing::warn!(
                            "the response store holds more answers than the cache keeps ({} evicted while loading): raise [cache] max_entries / max_bytes (--cache-max-entries)",
                            r.evicted
                        );
                    }
                }
                Err(e) => tracing::warn!("response store not loaded (starting cold): {e}"),
            }
        }
        // What the start logged (warnings included) is written before the listening lines.
        ocsp_responder::log_writer::flush_global();
        {
            let mut out = std::io::stdout().lock();
            for a in self.server.local_addrs() {
                writeln!(out, "listening on http://{a}")?;
            }
            for a in self.server.tls_addrs() {
                writeln!(out, "listening on https://{a}")?;
            }
            if let Some(a) = self.server.ops_addr() {
                writeln!(out, "metrics on http://{a}/metrics")?;
            }
            out.flush()?;
        }
        if let Some(exporter) = self.ops.exporter.clone() {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    exporter.upkeep();
                }
            });
        }
        let _monitor = self.ops.health.spawn_monitor(self.ops.check_interval);
        // Follow each status backend (an index is reloaded as soon as `openssl ca`
        // replaces it), so the request path rarely has to (its own freshness check still
        // guarantees no stale answer).
        let mut watchers = Vec::new();
        for issuer in self.built.issuers.iter() {
            if let Some(w) = issuer.status.clone().follow()? {
                watchers.push(w);
            }
        }
        let (health, tls) = (self.ops.health.clone(), self.ops.tls.clone());
        let issuers = self.built.issuers.clone();
        let rollover = self.rollover.clone();
        // A next responder certificate takes over at its notBefore (by the one clock).
        let ticking = rollover.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                ticking.tick();
            }
        });
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                if let Some(log) = ocsp_responder::log_writer::global() {
                    log.reopen();
                }
                tracing::info!("SIGHUP: reloading status sources");
                for issuer in issuers.iter() {
                    match issuer.status.reload().await {
                        Ok(generation) => {
                            tracing::info!(issuer = %issuer.name, status = %issuer.status.describe(), generation, "SIGHUP: status reloaded")
                        }
                        Err(e) => tracing::warn!(
                            issuer = %issuer.name,
                            "SIGHUP: status not reloaded, the last good state stays in use: {e}"
                        ),
                    }
                }
                let r = rollover.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || r.reload()).await {
                    tracing::error!("SIGHUP: responder certificates not reloaded: {e}");
                }
                if let Some(tls) = &tls {
                    match tls.reload() {
                        Ok(()) => tracing::info!(cert = %tls.cert_path().display(), "SIGHUP: TLS certificate reloaded"),
                        Err(e) => tracing::error!("SIGHUP: TLS certificate not reloaded, the previous one stays in use: {e}"),
                    }
                }
                health.log_preflight(true);
            }
        });
        let (cache, pool) = (self.cache().cloned(), self.signing_pool().clone());
        self.server.run(shutdown_signal()).await;
        // Stop the watchers without waiting for them: one stuck in a reload (index.txt
        // replaced by a FIFO blocks open()) would otherwise keep the process from exiting.
        std::thread::spawn(move || drop(watchers));
        tracing::info!(
            signatures = pool.stats().signed(),
            sign_rejected = pool.stats().rejected(),
            cache_hits = cache.as_ref().map(|c| c.stats().hits()).unwrap_or(0),
            cache_misses = cache.as_ref().map(|c| c.stats().misses()).unwrap_or(0),
            "stopped"
        );
        Ok(())
    }
}

/// Build everything `cfg` describes ([`setup::build`]) and bind its listeners (inside a
/// tokio runtime).
pub fn prepare(cfg: &Config) -> anyhow::Result<Prepared> {
    let prompt = crate::passphrase::prompt_passin;
    let built = setup::build(cfg, &BuildOptions::new(&prompt))?;
    for w in &built.warnings {
        tracing::warn!("{w}");
    }
    for i in built.issuers.iter() {
        tracing::info!(
            issuer = %i.name,
            signer = %i.responder.current().signer.describe(),
            status = %i.status.describe(),
            validity_secs = i.validity_secs,
            "serving"
        );
    }
    let mut edge = Edge::new(built.source.clone(), cfg.server.limits.clone())
        .with_clock(built.clock.clone())
        .with_log(
            cfg.log.client_addr,
            cfg.log.error_burst,
            std::time::Duration::from_secs(cfg.log.error_window_secs),
        );
    if cfg.server.text {
        edge = edge.with_text(text_hook());
    }
    if !cfg.crls.is_empty() {
        let mut prompt = crate::passphrase::prompt_passin;
        let published = ocsp_responder::crl_issue::publish::start(
            &cfg.crls,
            &built.issuers,
            cfg.profile,
            built.clock.clone(),
            &mut prompt,
        )
        .map_err(anyhow::Error::msg)?;
        edge = edge.with_published(published);
    }
    let mut server = Server::bind(&listen_addrs(cfg)?, Arc::new(edge))?;
    let ops = prepare_ops(cfg, &built, &mut server)?;
    let rollover = Arc::new(
        Rollover::new(cfg, &built.issuers, built.clock.clone())?.with_cache(built.cache.clone()),
    );
    Ok(Prepared {
        server,
        built,
        rollover,
        store: cfg.cache.store.clone(),
        ops,
    })
}

/// Health, metrics, TLS and the operations listener (issue 6).
fn prepare_ops(cfg: &Config, built: &Built, server: &mut Server) -> anyhow::Result<PreparedOps> {
    let (issuers, cache, pool) = (&built.issuers, built.cache.as_ref(), &built.pool);
    let health = Arc::new(
        Health::new(
            issuers.clone(),
            cfg.profile,
            std::time::Duration::from_secs(cfg.metrics.ready_cache_secs),
        )
        .with_clock(built.clock.clone()),
    );
    health.log_preflight(true);
    let tls = match (&cfg.tls.cert, cfg.tls.listen.is_empty()) {
        (Some(cert), false) => {
            let tls = Arc::new(Tls::load(cert, cfg.tls.key.as_deref())?);
            let mut addrs = Vec::new();
            for l in &cfg.tls.listen {
                addrs.extend(
                    parse_listen(l)
                        .map_err(|e| anyhow::anyhow!(e.replace("--listen", "--tls-listen")))?,
                );
            }
            server.bind_tls(&addrs, tls.clone())?;
            Some(tls)
        }
        (None, false) => bail!("--tls-listen needs --tls-cert FILE"),
        (_, true) => None,
    };
    let mut exporter = None;
    if let Some(m) = &cfg.metrics.listen {
        let addr = parse_listen(m)
            .map_err(|e| anyhow::anyhow!(e.replace("--listen", "--metrics-listen")))?
            .into_iter()
            .next()
            .context("--metrics-listen: no address")?;
        let build = ocsp_metrics::BuildInfo {
            version: crate::build_info::VERSION,
            commit: crate::build_info::COMMIT,
            features: crate::build_info::FEATURES,
        };
        let handle =
            ocsp_metrics::install_with(&build, cfg.profile.name()).map_err(anyhow::Error::msg)?;
        let mut e = Exporter::new(handle);
        for issuer in issuers.iter() {
            let status = issuer.status.clone();
            let slot = issuer.responder.clone();
            e.add_issuer_following(
                &issuer.name,
                Box::new(move || slot.current().not_after),
                Some(Box::new(move || {
                    let r = status.report()?;
                    Some(ocsp_metrics::SourceSnapshot {
                        entries: r.entries,
                        revoked: r.revoked,
                        generation: r.generation,
                        last_attempt: r.attempted_at,
                        last_ok: r.ok(),
                        loaded_at: r.loaded_at,
                        reloads: r.reloads,
                        failures: r.failures,
                        database: r.kind == "postgres",
                    })
                })),
            );
        }
        let stats = pool.stats().clone();
        e.set_signing(Box::new(move || ocsp_metrics::SigningSnapshot {
            signed: stats.signed(),
            rejected: stats.rejected(),
            abandoned: stats.abandoned(),
            panicked: stats.panicked(),
            queued: stats.queued() as u64,
        }));
        if let Some(c) = cache {
            let stats = c.stats().clone();
            e.set_cache(Box::new(move || ocsp_metrics::CacheSnapshot {
                hits: stats.hits(),
                misses: stats.misses(),
                evictions: stats.evictions(),
                entries: stats.entries() as u64,
                resign_failures: stats.resign_failures(),
                expired: stats.expired(),
            }));
        }
        let e = Arc::new(e);
        server.bind_ops(
            addr,
            Arc::new(Ops {
                health: health.clone(),
                exporter: Some(e.clone()),
            }),
        )?;
        exporter = Some(e);
    }
    Ok(PreparedOps {
        health,
        exporter,
        tls,
        check_interval: std::time::Duration::from_secs(cfg.metrics.check_interval_secs),
    })
}

/// Serve `cfg` until SIGTERM or SIGINT.
pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    prepare(&cfg)?.run().await
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
    }
}

/// Run `ocsp serve`.
pub fn run(args: Args) -> ExitCode {
    let result = args.to_config().and_then(|cfg| {
        let format = match cfg.log.format {
            ocsp_responder::config::LogFormat::Text => LogFormat::Text,
            ocsp_responder::config::LogFormat::Json => LogFormat::Json,
        };
        let log = logging::init_serve(format, args.log_filter.as_deref(), &cfg.log)?;
        // Once `serve` returns, the grace period is over: do not wait for blocking work
        // that may never end (a read of index.txt stuck on a FIFO, a hung disk).
        let rt = crate::runtime::runtime_with(cfg.server.workers)?;
        let result = rt.block_on(serve(cfg));
        rt.shutdown_timeout(std::time::Duration::from_secs(1));
        // Every line accepted so far (the last requests' access lines, "stopped") is
        // written before the process exits.
        log.flush();
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocsp serve: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn config(extra: &[&str]) -> anyhow::Result<ocsp_responder::config::Config> {
        let mut argv = vec![
            "ocsp",
            "serve",
            "--index",
            "i.txt",
            "--ca",
            "ca.pem",
            "--rsigner",
            "r.pem",
            "--rkey",
            "k.pem",
            "--port",
            "0",
        ];
        argv.extend_from_slice(extra);
        let Command::Serve(args) = Cli::try_parse_from(argv)?.command else {
            anyhow::bail!("not serve");
        };
        args.to_config()
    }

    #[test]
    fn tuning_flags_reach_the_config() {
        let cfg = config(&[
            "--workers",
            "3",
            "--index-check-ms",
            "0",
            "--signing-nice",
            "-5",
        ])
        .unwrap();
        assert_eq!(
            (
                cfg.server.workers,
                cfg.server.index_check_ms,
                cfg.signing.nice
            ),
            (3, 0, -5)
        );
        let d = config(&[]).unwrap();
        assert_eq!(
            (d.server.workers, d.server.index_check_ms, d.signing.nice),
            (0, 1, 0)
        );
        let err = config(&["--signing-nice", "25"]).unwrap_err().to_string();
        assert!(err.contains("--signing-nice 25"), "{err}");
    }
}
