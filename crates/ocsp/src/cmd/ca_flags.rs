//! The flags that describe one CA, as `openssl ocsp`'s do; shared by `ocsp serve` and
//! `ocsp presign` (`--config FILE` describes any number).

use anyhow::bail;
use ocsp_responder::config::{Config, IssuerConfig, ResponderIdConfig, UnknownSerial};
use ocsp_status::config::PostgresConfig;
use ocsp_status::crl::config::{CrlConfig, IssuedConfig};
use ocsp_status::StatusConfig;
use std::path::PathBuf;

/// One CA given by flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CaFlags {
    /// OpenSSL CA database (index.txt) of the CA.
    #[arg(long, value_name = "FILE")]
    pub index: Option<PathBuf>,
    /// CA certificate (PEM) whose certificates are answered for.
    #[arg(long = "ca", visible_alias = "CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Responder certificate (PEM); default: the CA certificate (the CA key signs).
    #[arg(long, value_name = "FILE")]
    pub rsigner: Option<PathBuf>,
    /// Responder private key (PEM: PKCS#8, encrypted PKCS#8, PKCS#1, SEC1), or a key in a PKCS#11 token as an RFC 7512 URI (pkcs11:token=T;object=K); default: the --rsigner file.
    #[arg(long, value_name = "FILE")]
    pub rkey: Option<PathBuf>,
    /// Where the key's passphrase is: pass:TEXT, env:VAR, file:PATH, fd:N or stdin (else a prompt on a terminal).
    #[arg(long, value_name = "SPEC")]
    pub passin: Option<PassinArg>,
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
    /// Serve the --ca CA's statuses from this PostgreSQL database instead of --index
    /// (also OCSP_DATABASE_URL; keep passwords out of argv: use the variable or a
    /// [database] url_file).
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Answer from CRLs instead of --index: FILE, file: or http(s):// URL
    /// (repeatable: the complete CRL and its delta CRLs).
    #[arg(long, value_name = "URL|FILE")]
    pub crl: Vec<String>,
    /// Serials the CA issued, for --crl: index.txt or a certificate directory
    /// (without it, serials not on the CRL are good: private profile only).
    #[arg(long, value_name = "FILE|DIR", requires = "crl")]
    pub issued: Option<PathBuf>,
    /// The next responder certificate (PEM): takes over at its notBefore, without a restart.
    #[arg(long, value_name = "FILE")]
    pub rsigner_next: Option<PathBuf>,
    /// The next responder certificate's key; default: the --rsigner-next file.
    #[arg(long, value_name = "FILE")]
    pub rkey_next: Option<PathBuf>,
    /// PKCS#11 module (.so) for keys given as pkcs11: URIs (--rkey pkcs11:token=T;object=K), as [pkcs11] module.
    #[arg(long, value_name = "FILE")]
    pub pkcs11_module: Option<PathBuf>,
}

/// A `--passin` value: `pass:TEXT` is a secret, so `Debug` shows it redacted.
#[derive(Clone)]
pub struct PassinArg(pub String);

impl std::str::FromStr for PassinArg {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<PassinArg, Self::Err> {
        Ok(PassinArg(s.to_string()))
    }
}

impl std::fmt::Debug for PassinArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&ocsp_signer::passin::redact(&self.0))
    }
}

impl CaFlags {
    /// Put `--db` into the configuration's `[database]`.
    pub fn apply_db(&self, cfg: &mut Config) {
        if let Some(url) = &self.db {
            cfg.database.url = Some(url.clone());
        }
    }

    /// `--pkcs11-module` into `cfg` (`[pkcs11] module`), when given.
    pub fn apply_pkcs11(&self, cfg: &mut Config) {
        if let Some(m) = &self.pkcs11_module {
            cfg.pkcs11.module = Some(m.clone());
        }
    }

    /// The issuer these flags describe, if any CA flag was given.
    pub fn issuer(&self) -> anyhow::Result<Option<IssuerConfig>> {
        if self.index.is_none()
            && self.ca.is_none()
            && self.rsigner.is_none()
            && self.rkey.is_none()
            && self.crl.is_empty()
        {
            return Ok(None);
        }
        let db = self.db.is_some()
            || std::env::var("OCSP_DATABASE_URL").is_ok_and(|u| !u.trim().is_empty());
        let Some(ca) = self.ca.clone() else {
            bail!("a CA given by flags needs --ca CAFILE and its statuses: --index index.txt, --crl URL, or --db URL (or OCSP_DATABASE_URL)");
        };
        let (index, status) = match (self.index.clone(), self.crl.is_empty()) {
            (Some(_), false) => bail!("give --index or --crl, not both (for an issued-serial list beside --crl, use --issued index.txt)"),
            (Some(index), true) => (Some(index), None),
            (None, false) => {
                let mut c = CrlConfig::new(self.crl.clone());
                c.issued = self.issued.clone().map(IssuedConfig::Path);
                (None, Some(StatusConfig::Crl(c)))
            }
            (None, true) if db => (None, Some(StatusConfig::Postgres(PostgresConfig::default()))),
            (None, true) => bail!("a CA given by flags needs --ca CAFILE and its statuses: --index index.txt, --crl URL, or --db URL (or OCSP_DATABASE_URL)"),
        };
        Ok(Some(IssuerConfig {
            name: None,
            ca,
            index,
            status,
            rsigner: self.rsigner.clone(),
            rkey: self.rkey.clone(),
            passin: self.passin.clone().map(|p| p.0),
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
            rsigner_next: self.rsigner_next.clone(),
            rkey_next: self.rkey_next.clone(),
        }))
    }
}
