//! Configuration: what `ocsp serve` flags and `--config FILE` (TOML) describe.
//!
//! One struct per component, every table `deny_unknown_fields`, keys named as the
//! `openssl ocsp`-style flags (`ca`, `index`, `rsigner`, `rkey`, `passin`, `ndays`, ...).
//! Relative paths in a config file are taken relative to the file's directory.
//! Secrets are never inline: `passin` names where the passphrase is (`env:`, `file:`, ...).

use crate::issuer::IssuerError;
pub use crate::issuer::{ResponderIdConfig, UnknownSerial};
pub use ocsp_proto::profile::Profile;
pub use ocsp_status::config::DEFAULT_INDEX_CHECK_MS;
use ocsp_status::StatusConfig;
pub use pkcs11::{Pkcs11Config, ReinitConfig};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listeners, limits and output.
    #[serde(default)]
    pub server: ServerConfig,
    /// One table per served CA.
    #[serde(default, rename = "issuer")]
    pub issuers: Vec<IssuerConfig>,
    /// The response cache (`[cache]`).
    #[serde(default)]
    pub cache: CacheConfig,
    /// Signing threads and queues (`[signing]`).
    #[serde(default)]
    pub signing: SigningConfig,
    /// The compliance profile every response is checked against before it is signed
    /// (`--profile`).
    #[serde(default)]
    pub profile: Profile,
    /// HTTPS listeners (`--tls-listen`, `--tls-cert`, `--tls-key`).
    #[serde(default)]
    pub tls: TlsConfig,
    /// Logs (`--log-format`, `--log-filter`, `--log-client-addr`).
    #[serde(default)]
    pub log: LogConfig,
    /// The metrics and health listener (`--metrics-listen`).
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// CRLs `serve` publishes (`[[crl]]`).
    #[serde(default, rename = "crl")]
    pub crls: Vec<crate::crl_issue::publish::PublishConfig>,
    /// The PostgreSQL database of `[issuer.status] type = "postgres"` (`--db`).
    #[serde(default)]
    pub database: DatabaseConfig,
    /// Keys in PKCS#11 tokens (`[pkcs11]`, `--pkcs11-module`).
    #[serde(default)]
    pub pkcs11: Pkcs11Config,
}

/// `[database]`: where the PostgreSQL status sources read from. The URL comes from
/// `--db`, else `url`, else `OCSP_DATABASE_URL`, else the first line of `url_file` (the
/// place for a password: a file only the responder's user can read).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full&sslrootcert=ca.pem`.
    pub url: Option<String>,
    /// A file holding the URL on its first line.
    pub url_file: Option<PathBuf>,
    /// This node's name in the database's node reports (`ocsp revoke --wait`); default
    /// `HOSTNAME:PORT` of the first listener.
    pub node_id: Option<String>,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url.as_ref().map(|_| "(redacted)"))
            .field("url_file", &self.url_file)
            .field("node_id", &self.node_id)
            .finish()
    }
}

impl DatabaseConfig {
    /// The URL to use: `url` (from `--db` or the file), else `OCSP_DATABASE_URL`, else
    /// the first non-comment line of `url_file`; `Ok(None)` when none is given.
    pub fn resolve_url(&self) -> Result<Option<String>, String> {
        ocsp_status::database_url::find(self.url.as_deref(), self.url_file.as_deref())
            .map(|found| found.map(|(url, _)| url))
            .map_err(|e| format!("[database] url_file: {e}"))
    }
}

mod pkcs11;

/// HTTPS next to the plain listeners: rustls (aws-lc-rs), HTTP/2 by ALPN.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Addresses to listen on with TLS (`127.0.0.1:443`, `[::]:8443`).
    pub listen: Vec<String>,
    /// The server certificate chain (PEM), leaf first.
    pub cert: Option<PathBuf>,
    /// The server private key (PEM: PKCS#8, PKCS#1 or SEC1, unencrypted); default: the
    /// `cert` file.
    pub key: Option<PathBuf>,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// What is logged and how.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A `RUST_LOG`-style filter (`info`, `info,ocsp::access=warn`); the `RUST_LOG`
    /// environment variable overrides it, `--log-filter` overrides both.
    pub filter: Option<String>,
    /// Put the client's address in access log lines (off by default: privacy).
    pub client_addr: bool,
    /// Error and warning lines of one kind logged per window before the rest are counted
    /// and summarised in one line.
    pub error_burst: u32,
    /// The window of `error_burst`, in seconds.
    pub error_window_secs: u64,
    /// Write the log to this file (appended to; reopened on SIGHUP, for logrotate)
    /// instead of stderr.
    pub file: Option<std::path::PathBuf>,
    /// The share of successful access lines written (`0.01`: one in a hundred, at
    /// random); errors and refusals are always written. 1 writes every line.
    pub access_sample: f64,
    /// The log buffer, in KiB: lines that find it full are dropped and counted
    /// (`ocsp_log_lines_dropped_total`), never waited for.
    pub buffer_kb: usize,
    /// Milliseconds between two writes of the buffer (at most 1000; it is also written
    /// as soon as it is half full, and at shutdown).
    pub flush_ms: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: None,
            client_addr: false,
            error_burst: 10,
            error_window_secs: 60,
            file: None,
            access_sample: 1.0,
            buffer_kb: 2048,
            flush_ms: 250,
        }
    }
}

impl LogConfig {
    /// Refuse a sampling rate that is not a share.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.access_sample) {
            return Err(format!(
                "[log] access_sample = {}: give the share of successful access lines to write, from 0 to 1 (1: every line; errors are always written)",
                self.access_sample
            ));
        }
        Ok(())
    }
}

/// The operations listener: `/metrics`, `/healthz`, `/readyz`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where to serve them (`127.0.0.1:9560`); none by default.
    pub listen: Option<String>,
    /// Seconds a `/readyz` test signature result is reused before signing again.
    pub ready_cache_secs: u64,
    /// Seconds between background checks of the responders (test signature, certificate
    /// expiry warnings 30 and 7 days ahead, preflight).
    pub check_interval_secs: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            ready_cache_secs: 1,
            check_interval_secs: 60,
        }
    }
}

/// The HTTP side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Addresses to listen on (`127.0.0.1:2560`, `[::]:2560`).
    pub listen: Vec<String>,
    /// Listen on this port on all interfaces, IPv4 and IPv6 (as `openssl ocsp -port`).
    pub port: Option<u16>,
    /// Print every request and response in readable form (openssl's `-text`).
    pub text: bool,
    /// Connection and request limits.
    pub limits: Limits,
    /// How long one check that index.txt is unchanged (a `stat`) serves lookups, in
    /// milliseconds; 0 checks on every lookup. The default of every index_txt status
    /// source that does not set its own `check_ms`.
    pub index_check_ms: u64,
    /// Threads serving connections (0: one per core).
    pub workers: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: Vec::new(),
            port: None,
            text: false,
            limits: Limits::default(),
            index_check_ms: DEFAULT_INDEX_CHECK_MS,
            workers: 0,
        }
    }
}

/// Limits on what clients may make the server hold or do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest POST body, in octets (larger → 413 without reading it).
    pub max_body_bytes: usize,
    /// Longest GET path (request target), in octets (longer → 414).
    pub max_uri_bytes: usize,
    /// Most CertIDs in one request (more → malformedRequest).
    pub max_cert_ids: usize,
    /// Seconds allowed to send the request headers.
    pub header_timeout_secs: u64,
    /// Seconds allowed to send the request body.
    pub body_timeout_secs: u64,
    /// Seconds an idle keep-alive connection is kept.
    pub idle_timeout_secs: u64,
    /// Seconds after which an unanswered request is answered `tryLater`.
    pub request_timeout_secs: u64,
    /// Most connections open at once; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Seconds to finish accepted requests after SIGTERM/SIGINT.
    pub shutdown_grace_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 10 * 1024,
            max_uri_bytes: 16 * 1024,
            max_cert_ids: 64,
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            idle_timeout_secs: 60,
            request_timeout_secs: 8,
            max_connections: 10_000,
            shutdown_grace_secs: 10,
        }
    }
}

impl Limits {
    /// `header_timeout_secs` as a Duration.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }
    /// `body_timeout_secs` as a Duration.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }
    /// `idle_timeout_secs` as a Duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
    /// `request_timeout_secs` as a Duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

/// One served CA. Its `Debug` output redacts an inline passphrase (`pass:<redacted>`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// A name for logs and metrics; default: the CA's subject common name.
    #[serde(default)]
    pub name: Option<String>,
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// The OpenSSL CA database: shorthand for `[issuer.status] type = "index_txt"`
    /// (give this or `status`, not both).
    #[serde(default)]
    pub index: Option<PathBuf>,
    /// Where statuses come from (`[issuer.status]`, a `type` and its keys).
    #[serde(default)]
    pub status: Option<StatusConfig>,
    /// The responder certificate (PEM); default: the CA certificate (the CA signs).
    #[serde(default)]
    pub rsigner: Option<PathBuf>,
    /// The responder key (PEM); default: the `rsigner` file.
    #[serde(default)]
    pub rkey: Option<PathBuf>,
    /// Where the key's passphrase is: `pass:`, `env:VAR`, `file:PATH`, `fd:N`, `stdin`.
    #[serde(default)]
    pub passin: Option<String>,
    /// Signature digest: `sha256` (default), `sha384`, `sha512`.
    #[serde(default)]
    pub rmd: Option<String>,
    /// Signature options as openssl's `-rsigopt`, e.g. `rsa_padding_mode:pss`.
    #[serde(default)]
    pub rsigopt: Vec<String>,
    /// Days until nextUpdate (with `nmin`); default 1 day when neither is set.
    #[serde(default)]
    pub ndays: Option<u64>,
    /// Minutes until nextUpdate (added to `ndays`).
    #[serde(default)]
    pub nmin: Option<u64>,
    /// The answer for serials not in the index.
    #[serde(default)]
    pub unknown_serial: UnknownSerial,
    /// byKey (default) or byName.
    #[serde(default)]
    pub responder_id: ResponderIdConfig,
    /// Leave the responder certificate out of responses.
    #[serde(default)]
    pub resp_no_certs: bool,
    /// Extra certificates to include in responses.
    #[serde(default)]
    pub rother: Vec<PathBuf>,
    /// The next responder certificate (PEM), configured ahead of time: it takes over at
    /// its notBefore (overlapping rollover; see docs/keys.md).
    #[serde(default)]
    pub rsigner_next: Option<PathBuf>,
    /// The next responder certificate's key; default: the `rsigner_next` file. Unlocked
    /// with `passin`.
    #[serde(default)]
    pub rkey_next: Option<PathBuf>,
}

impl std::fmt::Debug for IssuerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerConfig")
            .field("name", &self.name)
            .field("ca", &self.ca)
            .field("index", &self.index)
            .field("status", &self.status)
            .field("rsigner", &self.rsigner)
            .field(
                "rkey",
                &self
                    .rkey
                    .as_deref()
                    .map(|k| ocsp_signer::redact_key_name(&k.to_string_lossy())),
            )
            .field(
                "passin",
                &self.passin.as_deref().map(ocsp_signer::passin::redact),
            )
            .field("rmd", &self.rmd)
            .field("rsigopt", &self.rsigopt)
            .field("ndays", &self.ndays)
            .field("nmin", &self.nmin)
            .field("unknown_serial", &self.unknown_serial)
            .field("responder_id", &self.responder_id)
            .field("resp_no_certs", &self.resp_no_certs)
            .field("rother", &self.rother)
            .field("rsigner_next", &self.rsigner_next)
            .field("rkey_next", &self.rkey_next)
            .finish()
    }
}

/// The default validity (nextUpdate − thisUpdate) when neither `ndays` nor `nmin` is set.
pub const DEFAULT_VALIDITY_SECS: u64 = 86_400;

impl IssuerConfig {
    /// nextUpdate − thisUpdate, in seconds.
    pub fn validity_secs(&self) -> u64 {
        match (self.ndays, self.nmin) {
            (None, None) => DEFAULT_VALIDITY_SECS,
            (d, m) => d.unwrap_or(0) * 86_400 + m.unwrap_or(0) * 60,
        }
    }

    /// The status backend: `status`, or `index` as an index_txt backend.
    pub fn status_config(&self) -> Result<StatusConfig, IssuerError> {
        match (&self.index, &self.status) {
            (Some(index), None) => Ok(StatusConfig::index_txt(index.clone())),
            (None, Some(status)) => {
                let mut status = status.clone();
                status.default_issuer_ca(&self.ca);
                Ok(status)
            }
            (Some(_), Some(_)) => Err(IssuerError::Invalid(format!(
                "issuer {}: both index and [issuer.status] are set: keep one",
                self.ca.display()
            ))),
            (None, None) => Err(IssuerError::Invalid(format!(
                "issuer {}: no status source: give index = \"index.txt\" (--index) or an [issuer.status] table",
                self.ca.display()
            ))),
        }
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.ca);
        if let Some(p) = self.index.as_mut() {
            fix(p);
        }
        if let Some(status) = self.status.as_mut() {
            status.resolve_paths(base);
        }
        if let Some(p) = self.rsigner.as_mut() {
            fix(p);
        }
        if let Some(p) = self.rkey.as_mut() {
            // A `pkcs11:` URI is not a path.
            if !ocsp_signer::is_pkcs11_uri(&p.to_string_lossy()) {
                fix(p);
            }
        }
        self.rother.iter_mut().for_each(fix);
        self.rsigner_next.iter_mut().for_each(fix);
        self.rkey_next.iter_mut().for_each(fix);
        if let Some(spec) = self.passin.as_mut() {
            if let Some(rest) = spec.strip_prefix("file:") {
                let p = Path::new(rest);
                if p.is_relative() {
                    *spec = format!("file:{}", base.join(p).display());
                }
            }
        }
    }
}

/// The response cache: pre-signed answers for requests without a nonce.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Answer requests without a nonce from pre-signed answers (`--no-cache` turns it off).
    pub enabled: bool,
    /// Most answers held (`--cache-max-entries`); default 100,000.
    pub max_entries: usize,
    /// About the most bytes of answers held; default 256 MiB.
    pub max_bytes: usize,
    /// Fraction of an answer's validity after which it is re-signed, in (0, 1]
    /// (`--refresh-fraction`); default 0.5.
    pub refresh_fraction: f64,
    /// A response store written by `ocsp presign`, loaded at start (`--store`).
    pub store: Option<PathBuf>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            max_entries: crate::source::cache::DEFAULT_MAX_ENTRIES,
            max_bytes: crate::source::cache::DEFAULT_MAX_BYTES,
            refresh_fraction: crate::source::cache::DEFAULT_REFRESH_FRACTION,
            store: None,
        }
    }
}

impl CacheConfig {
    /// The cache's options.
    pub fn options(&self) -> crate::source::cache::CacheOptions {
        crate::source::cache::CacheOptions {
            max_entries: self.max_entries,
            max_bytes: self.max_bytes,
            refresh_fraction: self.refresh_fraction,
        }
    }

    /// Check the values; resolve `store` against `base`.
    pub fn finish(&mut self, base: &Path) -> Result<(), String> {
        if !(self.refresh_fraction > 0.0 && self.refresh_fraction <= 1.0) {
            return Err(format!(
                "[cache] refresh_fraction = {}: give a fraction of the validity in (0, 1], e.g. 0.5",
                self.refresh_fraction
            ));
        }
        if self.max_entries == 0 {
            return Err("[cache] max_entries = 0: give at least 1 (or enabled = false)".into());
        }
        if let Some(p) = self.store.as_mut() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(())
    }
}

/// Signing off the I/O path: a fixed pool of threads with two bounded queues.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    /// Signing threads (`--signing-threads`); 0 (default): one per core.
    pub threads: usize,
    /// Jobs each queue (cacheable, nonce) holds before answering `tryLater`
    /// (`--signing-queue`); default 256.
    pub queue_depth: usize,
    /// Nice value of the signing threads (`--signing-nice`), -20 to 19; 0 (default):
    /// the process's.
    pub nice: i32,
    /// Finished answers a signing thread holds while more jobs wait, handed back together
    /// (fewer wake-ups of the I/O threads under a nonce flood); 1: each at once.
    pub batch: usize,
}

impl SigningConfig {
    /// Refuse values the kernel would not take.
    pub fn check(&self) -> Result<(), String> {
        if !(-20..=19).contains(&self.nice) {
            return Err(format!(
                "[signing] nice = {}: give a nice value from -20 to 19 (0: the process's)",
                self.nice
            ));
        }
        Ok(())
    }
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            threads: 0,
            queue_depth: crate::source::signing::DEFAULT_QUEUE_DEPTH,
            nice: 0,
            batch: crate::source::signing::HAND_BACK_BATCH,
        }
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong (with line and column from the TOML parser where it has them).
    pub reason: String,
}

impl Config {
    /// Parse TOML text; `path` is used for messages and to resolve relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            reason: e.to_string().trim_end().to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.cache.finish(base).map_err(|reason| ConfigError {
            path: path.to_path_buf(),
            reason,
        })?;
        cfg.signing.check().map_err(|reason| ConfigError {
            path: path.to_path_buf(),
            reason,
        })?;
        cfg.pkcs11.resolve_paths(base);
        cfg.log.check().map_err(|reason| ConfigError {
            path: path.to_path_buf(),
            reason,
        })?;
        if let Some(f) = cfg.log.file.as_mut().filter(|f| f.is_relative()) {
            *f = base.join(&*f);
        }
        for i in &mut cfg.issuers {
            i.resolve_paths(base);
            i.status_config().map_err(|e| ConfigError {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        for c in &mut cfg.crls {
            c.resolve_paths(base);
        }
        for p in [
            cfg.tls.cert.as_mut(),
            cfg.tls.key.as_mut(),
            cfg.database.url_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }

    /// Read and parse a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            reason: format!("cannot read: {e}"),
        })?;
        Config::from_toml(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_keys_are_read() {
        let d = Config::default();
        assert_eq!(
            (d.server.index_check_ms, d.server.workers, d.signing.nice),
            (DEFAULT_INDEX_CHECK_MS, 0, 0)
        );
        let cfg = Config::from_toml(
            "[server]\nindex_check_ms = 0\nworkers = 3\n[signing]\nnice = -5\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(
            (
                cfg.server.index_check_ms,
                cfg.server.workers,
                cfg.signing.nice
            ),
            (0, 3, -5)
        );
    }

    #[test]
    fn parses_issuers_and_resolves_paths() {
        let cfg = Config::from_toml(
            r#"
            [server]
            listen = ["127.0.0.1:0"]
            [server.limits]
            max_body_bytes = 2048
            [[issuer]]
            ca = "cacert.pem"
            index = "/abs/index.txt"
            rsigner = "ocsp.crt"
            passin = "file:pass.txt"
            ndays = 2
            nmin = 30
            unknown_serial = "revoked"
            responder_id = "name"
            [[issuer]]
            ca = "b.pem"
            index = "b.txt"
            "#,
            Path::new("/etc/ocsp/ocsp.toml"),
        )
        .unwrap();
        assert_eq!(cfg.server.limits.max_body_bytes, 2048);
        assert_eq!(cfg.server.limits.max_cert_ids, 64);
        let a = &cfg.issuers[0];
        assert_eq!(a.ca, Path::new("/etc/ocsp/cacert.pem"));
        assert_eq!(a.index.as_deref(), Some(Path::new("/abs/index.txt")));
        assert_eq!(a.passin.as_deref(), Some("file:/etc/ocsp/pass.txt"));
        assert_eq!(a.validity_secs(), 2 * 86_400 + 30 * 60);
        assert_eq!(a.unknown_serial, UnknownSerial::Revoked);
        assert_eq!(a.responder_id, ResponderIdConfig::Name);
        assert_eq!(cfg.issuers[1].validity_secs(), DEFAULT_VALIDITY_SECS);
    }

    #[test]
    fn cache_and_signing_tables() {
        let cfg = Config::from_toml(
            "[cache]\nmax_entries = 10\nrefresh_fraction = 0.25\nstore = \"r.store\"\n[signing]\nthreads = 3\nqueue_depth = 9\n",
            Path::new("/etc/ocsp/ocsp.toml"),
        )
        .unwrap();
        assert_eq!(cfg.cache.max_entries, 10);
        assert_eq!(cfg.cache.options().refresh_fraction, 0.25);
        assert_eq!(
            cfg.cache.store.as_deref(),
            Some(Path::new("/etc/ocsp/r.store"))
        );
        assert!(cfg.cache.enabled);
        assert_eq!((cfg.signing.threads, cfg.signing.queue_depth), (3, 9));
        let d = Config::default();
        assert_eq!(d.cache.max_entries, 100_000);
        assert_eq!(d.signing.queue_depth, 256);
        for bad in [
            "[cache]\nrefresh_fraction = 0.0\n",
            "[cache]\nrefresh_fraction = 1.5\n",
            "[cache]\nmax_entries = 0\n",
            "[cache]\nmax_entrys = 1\n",
            "[signing]\nthread = 1\n",
            "[signing]\nnice = -21\n",
            "[signing]\nnice = 20\n",
        ] {
            assert!(
                Config::from_toml(bad, Path::new("x.toml")).is_err(),
                "{bad}"
            );
        }
    }

    /// The example configuration in the repository parses, shows the defaults it says it
    /// shows, and every key it names (set or commented out) is in docs/configuration.md.
    #[test]
    fn example_config_parses_and_is_documented() {
        let example = include_str!("../../../examples/ocsp.toml");
        let docs = include_str!("../../../docs/configuration.md");
        let cfg = Config::from_toml(example, Path::new("/etc/ocsp/ocsp.toml")).unwrap();
        let d = Config::default();
        assert_eq!(
            format!("{:?}", cfg.server.limits),
            format!("{:?}", d.server.limits)
        );
        assert_eq!(format!("{:?}", cfg.log), format!("{:?}", d.log));
        assert_eq!(format!("{:?}", cfg.cache), format!("{:?}", d.cache));
        assert_eq!(format!("{:?}", cfg.signing), format!("{:?}", d.signing));
        assert_eq!(format!("{:?}", cfg.tls), format!("{:?}", d.tls));
        assert_eq!(cfg.metrics.ready_cache_secs, d.metrics.ready_cache_secs);
        assert_eq!(
            cfg.metrics.check_interval_secs,
            d.metrics.check_interval_secs
        );
        assert_eq!(cfg.profile, d.profile);
        assert_eq!(cfg.issuers.len(), 1);
        let i = &cfg.issuers[0];
        assert_eq!(i.ca, Path::new("/etc/ocsp/ca/cacert.pem"));
        assert_eq!(i.validity_secs(), DEFAULT_VALIDITY_SECS);
        assert_eq!(
            i.passin.as_deref(),
            Some("file:/etc/ocsp/ca/private/pass.txt")
        );
        let mut keys = Vec::new();
        for line in example.lines() {
            let l = line.trim_start_matches('#').trim();
            if let Some((k, _)) = l.split_once(" = ") {
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    keys.push(k.to_string());
                }
            }
        }
        assert!(keys.len() > 40, "{keys:?}");
        for k in &keys {
            assert!(
                docs.contains(&format!("`{k}`")),
                "key `{k}` of examples/ocsp.toml is not in docs/configuration.md"
            );
        }
        for table in [
            "[server]",
            "[server.limits]",
            "[tls]",
            "[log]",
            "[metrics]",
            "[cache]",
            "[signing]",
            "[[issuer]]",
        ] {
            assert!(example.contains(table), "{table}");
            assert!(
                docs.contains(&format!("`{table}`")),
                "{table} not documented"
            );
        }
    }

    #[test]
    fn status_tables_and_the_flat_index_key() {
        let cfg = Config::from_toml(
            "[[issuer]]\nca = \"a.pem\"\n[issuer.status]\ntype = \"index_txt\"\npath = \"i.txt\"\ncheck_ms = 5\n[[issuer]]\nca = \"b.pem\"\nindex = \"j.txt\"\n",
            Path::new("/etc/ocsp/ocsp.toml"),
        )
        .unwrap();
        assert_eq!(
            cfg.issuers[0].status_config().unwrap(),
            StatusConfig::IndexTxt(ocsp_status::IndexTxtConfig {
                path: "/etc/ocsp/i.txt".into(),
                check_ms: Some(5)
            })
        );
        assert_eq!(
            cfg.issuers[1].status_config().unwrap(),
            StatusConfig::index_txt("/etc/ocsp/j.txt")
        );
        for (bad, says) in [
            ("[[issuer]]\nca = \"a\"\n", "no status source"),
            (
                "[[issuer]]\nca = \"a\"\nindex = \"i\"\n[issuer.status]\ntype = \"index_txt\"\npath = \"i\"\n",
                "keep one",
            ),
            (
                "[[issuer]]\nca = \"a\"\n[issuer.status]\ntype = \"oracle\"\npath = \"i\"\n",
                "oracle",
            ),
        ] {
            let e = Config::from_toml(bad, Path::new("x.toml")).unwrap_err();
            assert!(e.reason.contains(says), "{bad}: {}", e.reason);
        }
    }

    #[test]
    fn debug_redacts_inline_passphrases() {
        let cfg = Config::from_toml(
            "[[issuer]]\nca = \"a\"\nindex = \"b\"\npassin = \"pass:hunter2\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("pass:<redacted>"), "{dbg}");
    }

    #[test]
    fn ops_tables() {
        let cfg = Config::from_toml(
            "profile = \"microsoft\"\n[tls]\nlisten = [\"[::]:443\"]\ncert = \"tls/chain.pem\"\n[log]\nformat = \"json\"\nclient_addr = true\n[metrics]\nlisten = \"127.0.0.1:9560\"\n",
            Path::new("/etc/ocsp/ocsp.toml"),
        )
        .unwrap();
        assert_eq!(cfg.profile, Profile::Microsoft);
        assert_eq!(
            cfg.tls.cert.as_deref(),
            Some(Path::new("/etc/ocsp/tls/chain.pem"))
        );
        assert_eq!(cfg.log.format, LogFormat::Json);
        assert!(cfg.log.client_addr);
        assert_eq!(cfg.metrics.listen.as_deref(), Some("127.0.0.1:9560"));
        for bad in [
            "profile = \"webtrust\"\n",
            "[tls]\ncrt = \"x\"\n",
            "[log]\nformat = \"xml\"\n",
            "[metrics]\nlisten = 9560\n",
        ] {
            assert!(
                Config::from_toml(bad, Path::new("x.toml")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_position() {
        let err = Config::from_toml(
            "[[issuer]]\nca = \"a\"\nindex = \"b\"\nrsinger = \"c\"\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(err.reason.contains("rsinger"), "{}", err.reason);
        assert!(err.reason.contains("line 4"), "{}", err.reason);
    }
}
