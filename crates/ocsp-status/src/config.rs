//! The status backend of one issuer, as configured: a tagged table, one variant per
//! backend, so a new backend is one variant and one `open` arm.
//!
//! ```toml
//! [[issuer]]
//! ca = "cacert.pem"
//! [issuer.status]
//! type = "index_txt"
//! path = "index.txt"
//! check_ms = 1
//! ```
//!
//! The flat `index = "index.txt"` key of `[[issuer]]` and the `--index` flag stay: the
//! responder's configuration turns them into [`StatusConfig::IndexTxt`].

use crate::index_txt::{IndexError, IndexTxtSource};
use crate::{SharedClock, StatusSource};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Default of `check_ms` (and of `[server] index_check_ms`): one `stat` of index.txt
/// serves the lookups of one millisecond.
pub const DEFAULT_INDEX_CHECK_MS: u64 = 1;

/// Where an issuer's statuses come from (`[issuer.status]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StatusConfig {
    /// An OpenSSL CA database (`index.txt`), reloaded when `openssl ca` replaces it.
    IndexTxt(IndexTxtConfig),
    /// A CA's CRLs (complete and delta), fetched from files or HTTP(S), with an
    /// optional issued-serial list.
    #[cfg(feature = "crl")]
    Crl(crate::crl::config::CrlConfig),
}

/// `type = "index_txt"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexTxtConfig {
    /// The file.
    pub path: PathBuf,
    /// How long one check that the file is unchanged (a `stat`) serves lookups, in
    /// milliseconds; 0 checks on every lookup. Default: `[server] index_check_ms`.
    #[serde(default)]
    pub check_ms: Option<u64>,
}

/// A backend that could not be opened, naming what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The index file is missing, unreadable or has a bad line.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A CRL source whose CRLs, CA certificate or issued list could not be loaded.
    #[cfg(feature = "crl")]
    #[error("crl status source: {0}")]
    Crl(String),
}

/// What `open` needs besides the table itself.
#[derive(Clone)]
pub struct OpenOptions {
    /// `check_ms` for index files that do not set their own.
    pub default_index_check_ms: u64,
    /// The clock of reload reports.
    pub clock: SharedClock,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            default_index_check_ms: DEFAULT_INDEX_CHECK_MS,
            clock: crate::clock::system(),
        }
    }
}

impl StatusConfig {
    /// An index.txt backend with the default check window.
    pub fn index_txt(path: impl Into<PathBuf>) -> StatusConfig {
        StatusConfig::IndexTxt(IndexTxtConfig {
            path: path.into(),
            check_ms: None,
        })
    }

    /// Open the backend (the first load happens here: a bad file fails now, naming the
    /// file, the line and the fix).
    pub fn open(&self, opts: &OpenOptions) -> Result<Arc<dyn StatusSource>, OpenError> {
        match self {
            StatusConfig::IndexTxt(c) => {
                let source = IndexTxtSource::open_with(&c.path, opts.clock.clone())?;
                source.set_check_window(Duration::from_millis(
                    c.check_ms.unwrap_or(opts.default_index_check_ms),
                ));
                Ok(source)
            }
            #[cfg(feature = "crl")]
            StatusConfig::Crl(c) => {
                Ok(crate::crl::CrlSource::open(c, opts).map_err(OpenError::Crl)?)
            }
        }
    }

    /// Resolve relative paths against `base` (the configuration file's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        match self {
            StatusConfig::IndexTxt(c) => {
                if c.path.is_relative() {
                    c.path = base.join(&c.path);
                }
            }
            #[cfg(feature = "crl")]
            StatusConfig::Crl(c) => c.resolve_paths(base),
        }
    }

    /// A short description for messages (`index_txt /root/ca/index.txt`).
    pub fn describe(&self) -> String {
        match self {
            StatusConfig::IndexTxt(c) => format!("index_txt {}", c.path.display()),
            #[cfg(feature = "crl")]
            StatusConfig::Crl(c) => format!("crl {}", c.locations.join(", ")),
        }
    }
}

impl StatusConfig {
    /// Fill in what the backend takes from its issuer when its own table leaves it out
    /// (a CRL source's CA certificate); nothing for other backends.
    pub fn default_issuer_ca(&mut self, ca: &Path) {
        match self {
            StatusConfig::IndexTxt(_) => {
                let _ = ca;
            }
            #[cfg(feature = "crl")]
            StatusConfig::Crl(c) => {
                if c.ca.is_none() {
                    c.ca = Some(ca.to_path_buf());
                }
            }
        }
    }

    /// Whether this backend answers `good` for serials it holds no record of (a CRL
    /// without an issued list): the `cabf` and `mozilla` profiles refuse it.
    pub fn good_without_record(&self) -> bool {
        match self {
            StatusConfig::IndexTxt(_) => false,
            #[cfg(feature = "crl")]
            StatusConfig::Crl(c) => c.good_without_record(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Wrapper {
        status: StatusConfig,
    }

    #[test]
    fn tagged_tables() {
        let w: Wrapper =
            toml::from_str("[status]\ntype = \"index_txt\"\npath = \"i.txt\"\ncheck_ms = 0\n")
                .unwrap();
        assert_eq!(
            w.status,
            StatusConfig::IndexTxt(IndexTxtConfig {
                path: "i.txt".into(),
                check_ms: Some(0)
            })
        );
        for bad in [
            "[status]\ntype = \"index_txt\"\n",
            "[status]\ntype = \"index_txt\"\npath = \"i\"\nbogus = 1\n",
            "[status]\ntype = \"ldap\"\npath = \"i\"\n",
            "[status]\npath = \"i\"\n",
        ] {
            assert!(toml::from_str::<Wrapper>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolves_relative_paths() {
        let mut c = StatusConfig::index_txt("i.txt");
        c.resolve_paths(Path::new("/etc/ocsp"));
        assert_eq!(c.describe(), "index_txt /etc/ocsp/i.txt");
        let mut c = StatusConfig::index_txt("/abs/i.txt");
        c.resolve_paths(Path::new("/etc/ocsp"));
        assert_eq!(c.describe(), "index_txt /abs/i.txt");
    }
}
