//! `[issuer.status] type = "crl"`: where the CRLs are, what the issued serials are, and
//! how often to look again.
//!
//! ```toml
//! [issuer.status]
//! type = "crl"
//! locations = ["http://pki.example.com/ca.crl", "http://pki.example.com/ca-delta.crl"]
//! issued = "/var/lib/ca/index.txt"   # or a directory of certificates, or a status table
//! refresh_secs = 300
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::StatusConfig;

/// Default `refresh_secs`: look for a new CRL every five minutes.
pub const DEFAULT_REFRESH_SECS: u64 = 300;
/// Default `max_bytes`: 64 MiB (Microsoft asks CRLs to stay under 10 MB; a
/// 1,000,000-entry CRL is about 40 MB).
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;
/// Default `connect_timeout_ms`.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Default `read_timeout_ms`: the whole response (headers and body).
pub const DEFAULT_READ_TIMEOUT_MS: u64 = 30_000;
/// Default `before_next_update_secs`: start fetching this long before the served CRL's
/// nextUpdate.
pub const DEFAULT_BEFORE_NEXT_UPDATE_SECS: u64 = 600;

/// `type = "crl"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrlConfig {
    /// The complete CRL and any delta CRLs, as `file:` URLs, paths or `http(s)://`
    /// URLs, in any order (a delta CRL is recognised by its deltaCRLIndicator).
    pub locations: Vec<String>,
    /// The serials the CA issued. Absent: a serial not on the CRL is `good`, which only
    /// the `private` profile allows.
    #[serde(default)]
    pub issued: Option<IssuedConfig>,
    /// The CA certificate the CRLs must be signed by; default: the issuer's `ca`.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// A CRL-signing certificate the CA issued, when the CA does not sign its CRLs
    /// itself.
    #[serde(default)]
    pub crl_signer: Option<PathBuf>,
    /// How often to look for a new CRL, in seconds (besides just before nextUpdate).
    #[serde(default)]
    pub refresh_secs: Option<u64>,
    /// Start fetching this long before the served CRL's nextUpdate, in seconds.
    #[serde(default)]
    pub before_next_update_secs: Option<u64>,
    /// The largest CRL accepted, in bytes.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// TCP and TLS connect timeout, in milliseconds.
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// Timeout for the whole HTTP response, in milliseconds.
    #[serde(default)]
    pub read_timeout_ms: Option<u64>,
    /// PEM file of roots for `https://` locations instead of the system's.
    #[serde(default)]
    pub https_roots: Option<PathBuf>,
}

/// `issued = …`: a path (an `index.txt` file or a directory of certificates), or any
/// status backend's table (`issued = { type = "index_txt", path = "…" }`; every
/// backend of [`StatusConfig`] serves as an issued list, so a database backend is one
/// more table, not new code here).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IssuedConfig {
    /// A file (index.txt) or a directory (certificates, PEM or DER).
    Path(PathBuf),
    /// A status backend: a serial is issued when the backend has a record of it.
    Source(Box<StatusConfig>),
}

impl CrlConfig {
    /// A configuration with `locations` and every other key at its default.
    pub fn new(locations: Vec<String>) -> CrlConfig {
        CrlConfig {
            locations,
            issued: None,
            ca: None,
            crl_signer: None,
            refresh_secs: None,
            before_next_update_secs: None,
            max_bytes: None,
            connect_timeout_ms: None,
            read_timeout_ms: None,
            https_roots: None,
        }
    }

    /// Resolve relative paths (locations that are plain paths too) against `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for l in &mut self.locations {
            if !l.contains("://") && !l.starts_with("file:") && Path::new(l).is_relative() {
                *l = base.join(&*l).display().to_string();
            }
        }
        match &mut self.issued {
            Some(IssuedConfig::Path(p)) => join(p),
            Some(IssuedConfig::Source(s)) => s.resolve_paths(base),
            None => {}
        }
        for p in [&mut self.ca, &mut self.crl_signer, &mut self.https_roots]
            .into_iter()
            .flatten()
        {
            join(p);
        }
    }

    /// Whether a serial absent from the CRL is answered `good` (no issued list).
    pub fn good_without_record(&self) -> bool {
        self.issued.is_none()
    }
}
