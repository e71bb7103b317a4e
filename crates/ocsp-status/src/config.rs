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
    /// A PostgreSQL database shared by many nodes (`[database]` says where); the issuer
    /// is the one registered with this `[[issuer]]`'s CA certificate (key and name).
    Postgres(PostgresConfig),
}

/// `type = "postgres"`: how fresh answers must be.
///
/// ```toml
/// [issuer.status]
/// type = "postgres"
/// consistency = "strict"      # the default
/// # max_staleness_ms = 500    # bounded instead: answers up to 500 ms behind
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// `strict` (the default) or `bounded` (then `max_staleness_ms` is required).
    #[serde(default)]
    pub consistency: Option<Consistency>,
    /// Bounded staleness in milliseconds: answers may be this far behind the database.
    #[serde(default)]
    pub max_staleness_ms: Option<u64>,
}

/// `consistency = …` of a PostgreSQL source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    /// Every answer reflects every commit that finished before the request arrived.
    Strict,
    /// Answers may be up to `max_staleness_ms` behind.
    Bounded,
}

/// How fresh a PostgreSQL source keeps its answers, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Each lookup waits for a generation check that started after it.
    Strict,
    /// Lookups are served while the state was confirmed less than this long ago.
    Bounded(Duration),
}

impl PostgresConfig {
    /// The freshness these keys ask for, or what is wrong with them.
    pub fn freshness(&self) -> Result<Freshness, String> {
        match (self.consistency, self.max_staleness_ms) {
            (None | Some(Consistency::Strict), None) => Ok(Freshness::Strict),
            (Some(Consistency::Strict), Some(_)) => Err(
                "[issuer.status] consistency = \"strict\" takes no max_staleness_ms: drop one of them"
                    .into(),
            ),
            (Some(Consistency::Bounded), None) => Err(
                "[issuer.status] consistency = \"bounded\" needs max_staleness_ms = N (milliseconds)"
                    .into(),
            ),
            (_, Some(0)) => Err(
                "[issuer.status] max_staleness_ms = 0 is strict: write consistency = \"strict\""
                    .into(),
            ),
            (None | Some(Consistency::Bounded), Some(ms)) => {
                Ok(Freshness::Bounded(Duration::from_millis(ms)))
            }
        }
    }
}

/// Where the database is, for sources of `type = "postgres"` (`[database]`, `--db`).
#[derive(Clone, Default)]
pub struct DatabaseOptions {
    /// The URL (it may hold a password: never printed; `Debug` hides it).
    pub url: String,
    /// This node's name in `ocsp_node` (what `ocsp revoke --wait` waits for).
    pub node_id: String,
}

impl std::fmt::Debug for DatabaseOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseOptions")
            .field("url", &"(redacted)")
            .field("node_id", &self.node_id)
            .finish()
    }
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
    /// The database cannot be used (unreachable, schema, privileges, issuer not
    /// registered), or this build cannot use one; the message names the fix.
    #[error("{0}")]
    Database(String),
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
    /// The database, for `type = "postgres"`.
    pub database: Option<DatabaseOptions>,
    /// The issuer's certificate (DER), for backends that find the issuer by it.
    pub issuer_cert: Option<Arc<[u8]>>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            default_index_check_ms: DEFAULT_INDEX_CHECK_MS,
            clock: crate::clock::system(),
            database: None,
            issuer_cert: None,
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
            StatusConfig::Postgres(c) => open_postgres(c, opts),
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
            StatusConfig::Postgres(_) => {}
            #[cfg(feature = "crl")]
            StatusConfig::Crl(c) => c.resolve_paths(base),
        }
    }

    /// A short description for messages (`index_txt /root/ca/index.txt`).
    pub fn describe(&self) -> String {
        match self {
            StatusConfig::IndexTxt(c) => format!("index_txt {}", c.path.display()),
            StatusConfig::Postgres(c) => match c.freshness() {
                Ok(Freshness::Bounded(d)) => {
                    format!("postgres (bounded, {} ms)", d.as_millis())
                }
                _ => "postgres (strict)".to_string(),
            },
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
            StatusConfig::IndexTxt(_) | StatusConfig::Postgres(_) => {
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
            StatusConfig::IndexTxt(_) | StatusConfig::Postgres(_) => false,
            #[cfg(feature = "crl")]
            StatusConfig::Crl(c) => c.good_without_record(),
        }
    }
}

#[cfg(feature = "postgres")]
fn open_postgres(
    c: &PostgresConfig,
    opts: &OpenOptions,
) -> Result<Arc<dyn StatusSource>, OpenError> {
    let source = crate::postgres::source::PgSource::open_blocking(c, opts)?;
    Ok(source)
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_: &PostgresConfig, _: &OpenOptions) -> Result<Arc<dyn StatusSource>, OpenError> {
    Err(OpenError::Database(
        "[issuer.status] type = \"postgres\": this build has no PostgreSQL support; build with the `postgres` feature (the default of the ocsp binary)".into(),
    ))
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
            "[status]\ntype = \"postgres\"\nbogus = 1\n",
            "[status]\npath = \"i\"\n",
        ] {
            assert!(toml::from_str::<Wrapper>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn postgres_freshness() {
        let parse = |t: &str| {
            let w: Wrapper =
                toml::from_str(&format!("[status]\ntype = \"postgres\"\n{t}")).unwrap();
            match w.status {
                StatusConfig::Postgres(c) => c.freshness(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(parse(""), Ok(Freshness::Strict));
        assert_eq!(parse("consistency = \"strict\""), Ok(Freshness::Strict));
        assert_eq!(
            parse("max_staleness_ms = 250"),
            Ok(Freshness::Bounded(Duration::from_millis(250)))
        );
        assert_eq!(
            parse("consistency = \"bounded\"\nmax_staleness_ms = 250"),
            Ok(Freshness::Bounded(Duration::from_millis(250)))
        );
        assert!(parse("consistency = \"bounded\"").is_err());
        assert!(parse("consistency = \"strict\"\nmax_staleness_ms = 5").is_err());
        assert!(parse("max_staleness_ms = 0").is_err());
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
