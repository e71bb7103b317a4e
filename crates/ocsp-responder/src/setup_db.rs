//! What a PostgreSQL status source needs from the responder's configuration: the
//! database URL (`--db`, `[database] url`, `OCSP_DATABASE_URL`, `[database] url_file`,
//! in that order), this node's name (`[database] node_id`, default `HOSTNAME:PORT`) and
//! the issuer's certificate, by which the source finds the issuer in the database (key
//! and name). Used by `setup::open_status` (which reads the certificate) and `ocsp crl`.

use crate::config::{Config, IssuerConfig};
use der::Encode;
use ocsp_status::config::{DatabaseOptions, OpenError, OpenOptions};
use x509_cert::Certificate;

/// Fill `opts` with the database and the certificate `ca` of `issuer`.
pub fn database_options(
    cfg: &Config,
    issuer: &IssuerConfig,
    ca: &Certificate,
    opts: &mut OpenOptions,
) -> Result<(), OpenError> {
    let url = cfg.database.resolve_url().map_err(OpenError::Database)?.ok_or_else(|| {
        OpenError::Database(format!(
            "issuer {}: [issuer.status] type = \"postgres\" needs a database: give --db URL, set OCSP_DATABASE_URL, or add [database] url_file = \"/etc/ocsp/db-url\"",
            issuer.ca.display()
        ))
    })?;
    let der = ca.to_der().map_err(|e| {
        OpenError::Database(format!(
            "{}: the certificate does not encode: {e}",
            issuer.ca.display()
        ))
    })?;
    opts.database = Some(DatabaseOptions {
        url,
        node_id: node_id(cfg),
    });
    opts.issuer_cert = Some(der.into());
    Ok(())
}

/// `[database] node_id`, else `HOSTNAME:PORT` of the first listener.
pub fn node_id(cfg: &Config) -> String {
    if let Some(id) = &cfg.database.node_id {
        return id.clone();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let port = cfg
        .server
        .port
        .map(|p| p.to_string())
        .or_else(|| {
            cfg.server
                .listen
                .first()
                .and_then(|l| l.rsplit(':').next().map(str::to_string))
        })
        .unwrap_or_else(|| "0".into());
    if port == "0" {
        // A port chosen by the system: several such nodes may share a host.
        return format!("{host}:pid{}", std::process::id());
    }
    format!("{host}:{port}")
}
