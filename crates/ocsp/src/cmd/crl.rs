//! `ocsp crl`: write a CA's CRL from its status source, as `openssl ca -gencrl` does,
//! in the RFC 5280 / CA/B Forum BR §7.2 profile (`ocsp_responder::crl_issue`).
//!
//! ```text
//! ocsp crl --index index.txt --ca cacert.pem --keyfile private/cakey.pem \
//!          [--passin SPEC] [--crldays N | --crlhours N] --out ca.crl
//! ocsp crl --config ocsp.toml [--issuer NAME] --keyfile cakey.pem --out ca.crl
//! ocsp crl --db URL --ca cacert.pem --keyfile private/cakey.pem --out ca.crl
//! ```
//!
//! The statuses come from any status backend (`--index`, or the issuer's
//! `[issuer.status]` in `--config`: index.txt, CRLs, or any later backend); the key is
//! the CA's (loaded through `ocsp_signer::load`, so every key kind the responder loads
//! works) and is refused when it is not the CA certificate's. The CRL number is kept in
//! a `crlnumber` file in openssl's format, by default next to the index (openssl's
//! layout: `$dir/crlnumber` beside `$dir/index.txt`); it never goes backwards, not even
//! below the number of the CRL already at `--out`.
//!
//! From PostgreSQL (`--db URL`, else `OCSP_DATABASE_URL` when neither `--index` nor
//! `--config` is given, or a `--config` issuer whose status is `type = "postgres"`) the
//! source is opened as `serve --db` opens it, and the CRL number comes from the
//! database's `ocsp_crl_number` row that every node shares (`crl_db.rs`), not from a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use ocsp_proto::profile::Profile;
use ocsp_proto::Timestamp;
use ocsp_responder::config::Config;
use ocsp_responder::crl_issue::{self, number, IssueParams};
use ocsp_responder::{setup, setup_db};
use ocsp_signer::{KeySpec, Passin, SignOptions};
use ocsp_status::config::{DatabaseOptions, OpenOptions, PostgresConfig};
use ocsp_status::StatusConfig;

use crate::cmd::ca_flags::PassinArg;
#[cfg(feature = "postgres")]
use crate::cmd::db_flags::UrlArg;

/// A `--db` value (this build has no PostgreSQL support).
#[cfg(not(feature = "postgres"))]
#[derive(Clone)]
pub struct UrlArg(pub String);

#[cfg(not(feature = "postgres"))]
impl std::str::FromStr for UrlArg {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<UrlArg, Self::Err> {
        Ok(UrlArg(s.to_string()))
    }
}

#[cfg(not(feature = "postgres"))]
impl std::fmt::Debug for UrlArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(redacted)")
    }
}

/// `ocsp crl` flags (openssl ca's names where it has them).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// OpenSSL CA database (index.txt) to issue the CRL from.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub index: Option<PathBuf>,
    /// A configuration file: issue from an issuer's status source and CA.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// With --config: the issuer's name or CA path (default: the only one).
    #[arg(long, value_name = "NAME", requires = "config")]
    pub issuer: Option<String>,
    /// The CA certificate (PEM); with --config, default: the issuer's.
    #[arg(long = "ca", visible_alias = "cert", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The CA's private key (never the OCSP responder's).
    #[arg(long, value_name = "FILE")]
    pub keyfile: PathBuf,
    /// The key's passphrase: pass:TEXT, env:VAR, file:PATH, fd:N or stdin.
    #[arg(long, value_name = "SPEC")]
    pub passin: Option<PassinArg>,
    /// Days until nextUpdate (default 7 without --crldays and --crlhours).
    #[arg(long, value_name = "DAYS")]
    pub crldays: Option<u64>,
    /// Hours until nextUpdate (added to --crldays).
    #[arg(long, value_name = "HOURS")]
    pub crlhours: Option<u64>,
    /// The next CRL number (openssl's file); default: crlnumber by the index.
    #[arg(long, value_name = "FILE")]
    pub crlnumber: Option<PathBuf>,
    /// Profile bounding nextUpdate: private, cabf (default), mozilla, microsoft.
    #[arg(long, value_name = "PROFILE", default_value = "cabf")]
    pub profile: Profile,
    /// The CRL lists CA certificates (nextUpdate up to 12 months, not 10 days).
    #[arg(long)]
    pub ca_certs: bool,
    /// Partitioned CRL: its distribution point URI, as in the CRLDP (repeatable).
    #[arg(long, value_name = "URI")]
    pub idp_uri: Vec<String>,
    /// With --idp-uri: onlyContainsUserCerts.
    #[arg(long, requires = "idp_uri")]
    pub only_user_certs: bool,
    /// With --idp-uri: onlyContainsCACerts.
    #[arg(long, requires = "idp_uri", conflicts_with = "only_user_certs")]
    pub only_ca_certs: bool,
    /// Output format: PEM (default, as openssl ca) or DER.
    #[arg(long, value_name = "FORMAT", default_value = "PEM", value_parser = ["PEM", "DER", "pem", "der"])]
    pub outform: String,
    /// Where to write the CRL.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Issue from the --ca CA's statuses in this PostgreSQL database (default:
    /// $OCSP_DATABASE_URL when neither --index nor --config is given); the CRL number
    /// then comes from the database's row shared by every node. Keep the password out of
    /// the command line: use the variable.
    #[arg(long = "db", value_name = "URL", conflicts_with_all = ["index", "crlnumber"])]
    pub db: Option<UrlArg>,
}

/// Where the statuses and the CRL number come from.
struct Plan {
    status: StatusConfig,
    opts: OpenOptions,
    ca_path: PathBuf,
    /// The index's directory (for the default crlnumber file).
    index_dir: Option<PathBuf>,
    /// The database URL when the statuses (and so the CRL number) are in PostgreSQL.
    db_url: Option<String>,
}

/// Run `ocsp crl`.
pub fn run(args: Args) -> ExitCode {
    match write_crl(&args) {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ocsp crl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn write_crl(args: &Args) -> anyhow::Result<String> {
    #[cfg(feature = "postgres")]
    if let Some(url) = &args.db {
        crate::cmd::db_flags::warn_password_in_argv(&url.0, "ocsp crl");
    }
    let plan = source_of(args)?;
    let ca = setup::read_one_cert(&plan.ca_path)?;
    let spec = KeySpec::file(&args.keyfile, args.passin.clone().map(|p| Passin::new(p.0)));
    let mut prompt = crate::passphrase::prompt_passin;
    let signer = ocsp_signer::load(&spec, SignOptions::default(), &mut prompt)
        .with_context(|| format!("{}", args.keyfile.display()))?;
    crl_issue::check_ca_key(&ca, signer.as_ref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.keyfile.display()))?;
    let validity_secs = match (args.crldays, args.crlhours) {
        (None, None) => 7 * 86_400,
        (d, h) => d.unwrap_or(0) * 86_400 + h.unwrap_or(0) * 3_600,
    };
    if validity_secs == 0 {
        bail!("--crldays/--crlhours: the CRL must be valid for some time");
    }
    let max = crl_issue::max_validity_secs(args.profile, args.ca_certs);
    if validity_secs > max {
        bail!(
            "--crldays/--crlhours: {} days is over the {} profile's limit of {} days{}",
            validity_secs as f64 / 86_400.0,
            args.profile,
            max / 86_400,
            if args.ca_certs {
                ""
            } else {
                " (--ca-certs for a CRL of CA certificates)"
            }
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // The source first: a database number is taken only once the statuses are readable.
    let source = rt.block_on(async { plan.status.open(&plan.opts) })?;
    let (number, number_file) = match &plan.db_url {
        Some(url) => (rt.block_on(db_number(url, &ca, &args.out))?, None),
        None => {
            let file = match &args.crlnumber {
                Some(p) => p.clone(),
                None => plan
                    .index_dir
                    .as_ref()
                    .map(|d| d.join("crlnumber"))
                    .context("give --crlnumber FILE (the file that keeps the CRL number)")?,
            };
            let n = number::next_number(&file, Some(&args.out)).map_err(anyhow::Error::msg)?;
            (n, Some(file))
        }
    };
    let now = Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    let params = IssueParams {
        number,
        this_update: now,
        validity_secs,
        max_validity_secs: max,
        idp_uris: args.idp_uri.clone(),
        only_user_certs: args.only_user_certs,
        only_ca_certs: args.only_ca_certs,
    };
    let issued = rt.block_on(crl_issue::issue(
        source.as_ref(),
        &ca,
        signer.as_ref(),
        &params,
    ))?;
    if issued.held > 0 && args.profile != Profile::Private {
        eprintln!(
            "ocsp crl: warning: {} entries are on hold (certificateHold), which profile {} forbids for subscriber certificates (BR 7.2.2): revoke them with a final reason",
            issued.held, args.profile
        );
    }
    if let Some(file) = &number_file {
        number::commit(file, number).map_err(anyhow::Error::msg)?;
    }
    let bytes = if args.outform.eq_ignore_ascii_case("der") {
        issued.der.clone()
    } else {
        pem(&issued.der).into_bytes()
    };
    write_atomically(&args.out, &bytes)?;
    Ok(format!(
        "{}: CRL number {} with {} entries ({} expired certificates' entries dropped), thisUpdate {}, nextUpdate {}",
        args.out.display(),
        issued.number,
        issued.entries,
        issued.expired_dropped,
        issued.this_update,
        issued.next_update
    ))
}

/// The CRL number from the database's shared row (`crl_db.rs`).
#[cfg(feature = "postgres")]
async fn db_number(
    url: &str,
    ca: &ocsp_proto::x509_cert::Certificate,
    out: &Path,
) -> anyhow::Result<ocsp_proto::crl::CrlNumber> {
    crate::cmd::crl_db::next_number(url, ca, out).await
}

#[cfg(not(feature = "postgres"))]
async fn db_number(
    _: &str,
    _: &ocsp_proto::x509_cert::Certificate,
    _: &Path,
) -> anyhow::Result<ocsp_proto::crl::CrlNumber> {
    bail!("this ocsp was built without PostgreSQL support (cargo feature postgres)")
}

/// The status backend, how to open it, the CA certificate, the index's directory (for
/// crlnumber) and the database (for the CRL number).
fn source_of(args: &Args) -> anyhow::Result<Plan> {
    if let Some(index) = &args.index {
        let ca = args.ca.clone().context("--index needs --ca CAFILE")?;
        let dir = index.parent().map(Path::to_path_buf);
        return Ok(Plan {
            status: StatusConfig::index_txt(index.clone()),
            opts: OpenOptions::default(),
            ca_path: ca,
            index_dir: dir,
            db_url: None,
        });
    }
    let Some(path) = &args.config else {
        return database_plan(args);
    };
    let mut cfg = Config::load(path)?;
    if let Some(url) = &args.db {
        cfg.database.url = Some(url.0.clone());
    }
    let issuer = match &args.issuer {
        None if cfg.issuers.len() == 1 => &cfg.issuers[0],
        None => bail!(
            "{}: {} issuers: choose one with --issuer NAME",
            path.display(),
            cfg.issuers.len()
        ),
        Some(name) => cfg
            .issuers
            .iter()
            .find(|i| {
                i.name.as_deref() == Some(name.as_str()) || i.ca.display().to_string() == *name
            })
            .with_context(|| format!("{}: no issuer named {name}", path.display()))?,
    };
    let status = issuer.status_config()?;
    let mut opts = OpenOptions::default();
    let mut db_url = None;
    if let StatusConfig::Postgres(_) = status {
        let ca = ocsp_responder::setup::first_cert(&issuer.ca)?;
        setup_db::database_options(&cfg, issuer, &ca, &mut opts)?;
        db_url = opts.database.as_ref().map(|d| d.url.clone());
    }
    let dir = issuer
        .index
        .as_ref()
        .and_then(|i| i.parent().map(Path::to_path_buf));
    let ca = args.ca.clone().unwrap_or_else(|| issuer.ca.clone());
    Ok(Plan {
        status,
        opts,
        ca_path: ca,
        index_dir: dir,
        db_url,
    })
}

/// `--db URL` (or `OCSP_DATABASE_URL`) with `--ca`: the CA's statuses in PostgreSQL,
/// opened as `serve --db` opens them (`setup_db::database_options`).
fn database_plan(args: &Args) -> anyhow::Result<Plan> {
    let mut cfg = Config::default();
    cfg.database.url = args.db.as_ref().map(|u| u.0.clone());
    let Some(url) = cfg.database.resolve_url().map_err(anyhow::Error::msg)? else {
        bail!("give --index index.txt (with --ca), --config FILE, or --db URL (or OCSP_DATABASE_URL) with --ca");
    };
    let ca = args
        .ca
        .clone()
        .context("--db needs --ca CAFILE (the CA whose statuses the database holds)")?;
    let cert = setup::read_one_cert(&ca)?;
    let der = der::Encode::to_der(&cert)
        .with_context(|| format!("{}: the certificate does not encode", ca.display()))?;
    let opts = OpenOptions {
        database: Some(DatabaseOptions {
            url: url.clone(),
            node_id: setup_db::node_id(&cfg),
        }),
        issuer_cert: Some(der.into()),
        ..OpenOptions::default()
    };
    Ok(Plan {
        status: StatusConfig::Postgres(PostgresConfig::default()),
        opts,
        ca_path: ca,
        index_dir: None,
        db_url: Some(url),
    })
}

fn pem(der: &[u8]) -> String {
    let block = pem::Pem::new("X509 CRL", der.to_vec());
    pem::encode_config(
        &block,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("{}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}", path.display()))
}
