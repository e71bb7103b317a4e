//! `ocsp demo --db URL`: the demo CA's statuses in PostgreSQL, served from there.
//!
//! Before serving, the database gets the schema (`ocsp db migrate`: idempotent, so a
//! database used before is fine) and the demo's `index.txt` (`ocsp import`: the CA
//! registered by key and name, one transaction, idempotent, never un-revoking), and the
//! issuer of `ocsp.toml` is switched from the index to `[issuer.status] type =
//! "postgres"` on that URL. Revocations are then made with `ocsp revoke`, which writes the
//! database; `openssl ca -revoke` would change only the file, which this demo no longer
//! reads. A demo served again re-imports its index: revocations made in the database
//! stay.
//!
//! The URL may hold a password: it is printed only redacted, and the printed commands
//! name the variable `OCSP_DATABASE_URL`, never the URL.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use ocsp_responder::config::Config;
use ocsp_status::config::PostgresConfig;
use ocsp_status::postgres::write::{self, ImportKind, ImportOptions};
use ocsp_status::postgres::{connect, schema, DatabaseUrl};
use ocsp_status::StatusConfig;

use super::names;
use crate::cmd::db_flags::read_ca;
use crate::cmd::import::{index_rows, print_counts};

/// The URL of `--db URL`, or of `OCSP_DATABASE_URL` for a bare `--db`.
pub(super) fn url_of(flag: Option<&str>) -> Result<String> {
    if let Some(u) = flag.filter(|u| !u.trim().is_empty()) {
        return Ok(u.trim().to_string());
    }
    std::env::var("OCSP_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .map(|u| u.trim().to_string())
        .context("--db without a URL takes it from OCSP_DATABASE_URL, which is not set: export OCSP_DATABASE_URL=postgres://USER:PASSWORD@HOST/DATABASE")
}

/// Migrate the database at `url`, import the demo's index into it, and point `cfg`'s
/// issuer at it. Returns the URL redacted, for the printed instructions.
pub(super) fn use_database(dir: &Path, url: &str, cfg: &mut Config) -> Result<String> {
    let parsed = DatabaseUrl::parse(url)?;
    let redacted = parsed.redacted().to_string();
    let (_, ca) = read_ca(&dir.join(names::CACERT))?;
    let index = dir.join(names::INDEX);
    let rows = index_rows(&index, None)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let mut client = connect(&parsed).await?;
        let migrated = schema::migrate(&mut client).await?;
        for (version, name) in &migrated.applied {
            println!("ocsp demo: database {redacted}: applied migration {version:04}_{name}");
        }
        schema::ready(&client, schema::Role::Writer).await?;
        let (issuer, created) = write::register_issuer(&mut client, &ca, None).await?;
        if created {
            println!(
                "ocsp demo: registered the demo CA in {redacted} as issuer {} ({:?})",
                issuer.id, issuer.name
            );
        }
        let started = Instant::now();
        let options = ImportOptions {
            kind: ImportKind::Statuses,
            allow_unrevoke: false,
        };
        let counts = write::import(&mut client, issuer.id, rows, options, &mut |_| {}).await?;
        print_counts(&index.display().to_string(), &(counts, started.elapsed()));
        anyhow::Ok(())
    })?;
    cfg.database.url = Some(url.to_string());
    for issuer in &mut cfg.issuers {
        issuer.index = None;
        issuer.status = Some(StatusConfig::Postgres(PostgresConfig::default()));
    }
    Ok(redacted)
}
