//! `ocsp serve`: the responder.

use crate::logging::{self, LogFormat};
use anyhow::{bail, Context};
use ocsp_responder::config::{Config, IssuerConfig, ResponderIdConfig, UnknownSerial};
use ocsp_responder::http::Edge;
use ocsp_responder::issuer::{IssuerLoader, IssuerSet};
use ocsp_responder::server::{parse_listen, Server};
use ocsp_responder::source::cached::CachedSource;
use ocsp_responder::source::index_txt::IndexTxtSource;
use ocsp_responder::source::live::LiveSource;
use ocsp_responder::source::signing::SigningPool;
use ocsp_responder::source::{ResponseSource, StatusSource};
use std::io::{IsTerminal, Write};
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
--rkey ocsp_responder.key --ca cacert.pem --text")]
pub struct Args {
    /// TOML configuration file (`[server]`, one `[[issuer]]` table per CA).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// OpenSSL CA database (index.txt) of the CA.
    #[arg(long, value_name = "FILE")]
    pub index: Option<PathBuf>,
    /// CA certificate (PEM) whose certificates are answered for.
    #[arg(long = "ca", visible_alias = "CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Responder certificate (PEM); default: the CA certificate (the CA key signs).
    #[arg(long, value_name = "FILE")]
    pub rsigner: Option<PathBuf>,
    /// Responder private key (PEM: PKCS#8, encrypted PKCS#8, PKCS#1, SEC1); default: the --rsigner file.
    #[arg(long, value_name = "FILE")]
    pub rkey: Option<PathBuf>,
    /// Where the key's passphrase is: pass:TEXT, env:VAR, file:PATH, fd:N or stdin (else a prompt on a terminal).
    #[arg(long, value_name = "SPEC")]
    pub passin: Option<String>,
    /// Signature digest: sha256 (default), sha384, sha512.
    #[arg(long, value_name = "DIGEST")]
    pub rmd: Option<String>,
    /// Signature option, e.g. rsa_padding_mode:pss (repeatable).
    #[arg(long, value_name = "OPT")]
    pub rsigopt: Vec<String>,
    /// Days until nextUpdate (default: 1 day when neither --ndays nor --nmin is given).
    #[arg(long, value_name = "DAYS")]
    pub ndays: Option<u64>,
    /// Minutes until nextUpdate (added to --ndays).
    #[arg(long, value_name = "MINUTES")]
    pub nmin: Option<u64>,
    /// Answer for serials not in the index: unknown (default) or revoked (RFC 6960 §2.2).
    #[arg(long, value_name = "ANSWER", value_parser = ["unknown", "revoked"])]
    pub unknown_serial: Option<String>,
    /// ResponderID: key (byKey, default, RFC 9919) or name (byName).
    #[arg(long, value_name = "KIND", value_parser = ["key", "name"])]
    pub responder_id: Option<String>,
    /// Leave the responder certificate out of responses.
    #[arg(long)]
    pub resp_no_certs: bool,
    /// Extra certificates to include in responses (repeatable).
    #[arg(long, value_name = "FILE")]
    pub rother: Vec<PathBuf>,

    /// Listen on this port on all interfaces, IPv4 and IPv6 (0: any free port).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Listen on ADDR:PORT (repeatable), e.g. 127.0.0.1:2560 or [::1]:2560.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Vec<String>,
    /// Print each request and response in readable form on stdout.
    #[arg(long)]
    pub text: bool,
    /// Log format on stderr (filters from RUST_LOG).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

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
    /// Signing threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub signing_threads: Option<usize>,
    /// Signing jobs queued (per queue: cacheable, nonce) before answering tryLater (default 256).
    #[arg(long, value_name = "N")]
    pub signing_queue: Option<usize>,
}

impl Args {
    fn has_ca_flags(&self) -> bool {
        self.index.is_some() || self.ca.is_some() || self.rsigner.is_some() || self.rkey.is_some()
    }

    /// The configuration these flags (and `--config`) describe.
    pub fn to_config(&self) -> anyhow::Result<Config> {
        let mut cfg = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        if self.has_ca_flags() {
            let (Some(ca), Some(index)) = (self.ca.clone(), self.index.clone()) else {
                bail!("a CA given by flags needs both --ca CAFILE and --index index.txt");
            };
            cfg.issuers.push(IssuerConfig {
                name: None,
                ca,
                index,
                rsigner: self.rsigner.clone(),
                rkey: self.rkey.clone(),
                passin: self.passin.clone(),
                rmd: self.rmd.clone(),
                rsigopt: self.rsigopt.clone(),
                ndays: self.ndays,
                nmin: self.nmin,
                unknown_serial: match self.unknown_serial.as_deref() {
                    Some("revoked") => UnknownSerial::Revoked,
                    _ => UnknownSerial::Unknown,
                },
                responder_id: match self.responder_id.as_deref() {
                    Some("name") => ResponderIdConfig::Name,
                    _ => ResponderIdConfig::Key,
                },
                resp_no_certs: self.resp_no_certs,
                rother: self.rother.clone(),
            });
        }
        if let Some(p) = self.port {
            cfg.server.port = Some(p);
        }
        if !self.listen.is_empty() {
            cfg.server.listen = self.listen.clone();
        }
        cfg.server.text |= self.text;
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
        if cfg.issuers.is_empty() {
            bail!("no CA to serve: give --ca CAFILE --index index.txt [--rsigner CERT --rkey KEY], or --config FILE with [[issuer]] tables");
        }
        if cfg.server.port.is_none() && cfg.server.listen.is_empty() {
            bail!("nowhere to listen: give --port N (all interfaces) or --listen ADDR:PORT");
        }
        Ok(cfg)
    }
}

fn prompt_passphrase(path: &Path) -> Result<Vec<u8>, String> {
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "{}: the key is encrypted and no --passin was given: add --passin pass:…|env:VAR|file:PATH|fd:N|stdin",
            path.display()
        ));
    }
    rpassword::prompt_password(format!("Enter pass phrase for {}: ", path.display()))
        .map(String::into_bytes)
        .map_err(|e| format!("{}: cannot read the passphrase: {e}", path.display()))
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

/// Everything a running responder holds: its issuers and their index watchers.
pub struct Loaded {
    /// The served CAs.
    pub issuers: Arc<IssuerSet>,
    /// The index sources, for SIGHUP reloads.
    pub indexes: Vec<Arc<IndexTxtSource>>,
}

/// Load and check every issuer of `cfg`.
pub fn load_issuers(cfg: &Config) -> anyhow::Result<Loaded> {
    let prompt = prompt_passphrase;
    let mut loader = IssuerLoader::new(&prompt);
    let mut issuers = Vec::new();
    let mut indexes = Vec::new();
    for ic in &cfg.issuers {
        let source = IndexTxtSource::open(&ic.index)?;
        let status: Arc<dyn StatusSource> = source.clone();
        issuers.push(loader.load(ic, status)?);
        indexes.push(source);
    }
    for w in loader.warnings() {
        tracing::warn!("{w}");
    }
    Ok(Loaded {
        issuers: Arc::new(IssuerSet::new(issuers)?),
        indexes,
    })
}

fn text_hook() -> ocsp_responder::http::TextHook {
    Arc::new(|req: &[u8], resp: &[u8]| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "OCSP request: {} octets", req.len());
        let _ = writeln!(out, "OCSP response: {} octets", resp.len());
        let _ = out.flush();
    })
}

/// A responder with everything loaded and its listeners bound, not yet serving.
pub struct Prepared {
    server: Server,
    loaded: Loaded,
    cache: Option<Arc<CachedSource>>,
    pool: Arc<SigningPool>,
    store: Option<PathBuf>,
}

impl Prepared {
    /// The response cache (its counters: `cache().stats()`), when enabled.
    pub fn cache(&self) -> Option<&Arc<CachedSource>> {
        self.cache.as_ref()
    }

    /// The signing pool (its counters: `signing_pool().stats()`).
    pub fn signing_pool(&self) -> &Arc<SigningPool> {
        &self.pool
    }

    /// The bound addresses (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.server.local_addrs()
    }

    /// Print `listening on http://ADDR:PORT` for each listener, then serve until SIGTERM
    /// or SIGINT; SIGHUP reloads the index files.
    pub async fn run(self) -> anyhow::Result<()> {
        if let (Some(cache), Some(store)) = (&self.cache, &self.store) {
            let started = std::time::Instant::now();
            match cache.load_store(store).await {
                Ok(r) => tracing::info!(
                    store = %store.display(),
                    loaded = r.loaded,
                    expired = r.expired,
                    stale = r.stale,
                    foreign = r.foreign,
                    invalid = r.invalid,
                    millis = started.elapsed().as_millis() as u64,
                    "response store loaded"
                ),
                Err(e) => tracing::warn!("response store not loaded (starting cold): {e}"),
            }
        }
        {
            let mut out = std::io::stdout().lock();
            for a in self.server.local_addrs() {
                writeln!(out, "listening on http://{a}")?;
            }
            out.flush()?;
        }
        let indexes = self.loaded.indexes.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading index files");
                for idx in &indexes {
                    let _ = idx.generation().await;
                }
            }
        });
        self.server.run(shutdown_signal()).await;
        Ok(())
    }
}

/// Load every issuer of `cfg` and bind its listeners (inside a tokio runtime).
pub fn prepare(cfg: &Config) -> anyhow::Result<Prepared> {
    let loaded = load_issuers(cfg)?;
    for i in loaded.issuers.iter() {
        tracing::info!(
            issuer = %i.name,
            signer = %i.responder.signer.describe(),
            status = %i.status.describe(),
            validity_secs = i.validity_secs,
            "serving"
        );
    }
    let pool = SigningPool::new(cfg.signing.threads, cfg.signing.queue_depth)
        .context("cannot start the signing threads")?;
    let live = LiveSource::new(loaded.issuers.clone(), pool.clone());
    let (source, cache): (Arc<dyn ResponseSource>, _) = if cfg.cache.enabled {
        let c = Arc::new(CachedSource::new(live, cfg.cache.options()));
        (c.clone(), Some(c))
    } else {
        (Arc::new(live), None)
    };
    let mut edge = Edge::new(source, cfg.server.limits.clone());
    if cfg.server.text {
        edge = edge.with_text(text_hook());
    }
    let server = Server::bind(&listen_addrs(cfg)?, Arc::new(edge))?;
    Ok(Prepared {
        server,
        loaded,
        cache,
        pool,
        store: cfg.cache.store.clone(),
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

/// A multi-threaded runtime with one worker per core.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Run `ocsp serve`.
pub fn run(args: Args) -> ExitCode {
    logging::init(args.log_format, "info");
    let result = args
        .to_config()
        .and_then(|cfg| runtime()?.block_on(serve(cfg)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocsp serve: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
