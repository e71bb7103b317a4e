//! The flags every database command shares: where the database is (`--db`,
//! `OCSP_DATABASE_URL`, `[database] url_file` of `--config`), and the CA a command is
//! about (`--ca`, identified in the database by key and name).
//!
//! A password on the command line is visible to every user of the machine (`ps`), so
//! `--db` with a password draws a warning; the examples put it in the environment or a
//! file. The URL is never printed except redacted.

use anyhow::{bail, Context};
use ocsp_proto::x509_cert::Certificate;
use ocsp_status::postgres::schema::{self, Role};
use ocsp_status::postgres::write::IssuerCert;
use ocsp_status::postgres::{connect, DatabaseUrl};
use std::path::{Path, PathBuf};

/// `--db` and `--config`.
#[derive(Debug, Clone, clap::Args)]
pub struct DbFlags {
    /// PostgreSQL URL: postgres://USER@HOST[:PORT]/DATABASE[?sslmode=verify-full&sslrootcert=FILE].
    /// Default: $OCSP_DATABASE_URL, else `[database] url_file` of --config. Keep the
    /// password out of the command line (other users see it): use the variable or the file.
    #[arg(long = "db", value_name = "URL")]
    pub db: Option<UrlArg>,
    /// Configuration file: its `[database] url_file` names a file holding the URL, and its
    /// `profile` applies.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// A `--db` value: `Debug` shows it redacted.
#[derive(Clone)]
pub struct UrlArg(pub String);

impl std::str::FromStr for UrlArg {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<UrlArg, Self::Err> {
        Ok(UrlArg(s.to_string()))
    }
}

impl std::fmt::Debug for UrlArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&ocsp_status::postgres::url::redact(&self.0))
    }
}

/// What these commands read from `--config` (the rest belongs to `serve`).
#[derive(Debug, Default)]
struct FromConfig {
    url_file: Option<PathBuf>,
    profile: Option<String>,
}

impl DbFlags {
    fn read_config(&self) -> anyhow::Result<FromConfig> {
        let Some(path) = &self.config else {
            return Ok(FromConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration {}", path.display()))?;
        let value: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let url_file = value
            .get("database")
            .and_then(|d| d.get("url_file"))
            .and_then(|f| f.as_str())
            .map(|f| base.join(f));
        let profile = value
            .get("profile")
            .and_then(|p| p.as_str())
            .map(str::to_string);
        Ok(FromConfig { url_file, profile })
    }

    /// The database URL, from the first source that gives one.
    pub fn url(&self) -> anyhow::Result<DatabaseUrl> {
        let cfg = self.read_config()?;
        let url = DatabaseUrl::resolve(
            self.db.as_ref().map(|u| u.0.as_str()),
            cfg.url_file.as_deref(),
        )?;
        let Some(url) = url else {
            bail!(
                "no database given: set OCSP_DATABASE_URL=postgres://USER:PASSWORD@HOST/DATABASE, \
                 or name a file holding the URL in [database] url_file of --config, or pass --db"
            );
        };
        if self.db.is_some() && url.has_password() {
            eprintln!(
                "warning: the password in --db is visible to other users of this machine (ps); \
                 put the URL in OCSP_DATABASE_URL or a [database] url_file instead"
            );
        }
        Ok(url)
    }

    /// The profile of `--config`, if any.
    pub fn config_profile(&self) -> anyhow::Result<Option<String>> {
        Ok(self.read_config()?.profile)
    }

    /// Connect, and check the schema is current and the role may act as `role`.
    pub async fn connect(&self, role: Role) -> anyhow::Result<tokio_postgres::Client> {
        let url = self.url()?;
        let client = connect(&url).await?;
        schema::ready(&client, role).await?;
        Ok(client)
    }
}

/// Warn when `--db` holds a password: argv is visible to every user (`ps`).
pub fn warn_password_in_argv(flag: &str, command: &str) {
    if DatabaseUrl::parse(flag).is_ok_and(|u| u.has_password()) {
        eprintln!(
            "{command}: warning: the password in --db is visible to other users of this machine (ps); \
             put the URL in OCSP_DATABASE_URL instead"
        );
    }
}

/// Read the CA certificate (the first certificate of a PEM or DER file).
pub fn read_ca(path: &Path) -> anyhow::Result<(Certificate, IssuerCert)> {
    let certs = ocsp_responder::setup::read_certs(path)?;
    let Some(cert) = certs.into_iter().next() else {
        bail!(
            "{}: no certificate in the file (give the CA certificate, PEM or DER)",
            path.display()
        );
    };
    let ic = IssuerCert::of(&cert)?;
    Ok((cert, ic))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn db_flag_debug_is_redacted() {
        let a = UrlArg("postgres://w:sekrit@h/d".into());
        let shown = format!("{a:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(shown.contains("w:***@h/d"), "{shown}");
    }
}
