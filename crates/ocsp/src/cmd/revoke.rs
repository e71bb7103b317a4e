//! `ocsp revoke`, `ocsp unrevoke`, `ocsp status`: change or read one serial's status in
//! the status database.
//!
//! - The serial is `--serial HEX` (as `openssl x509 -serial` prints it) or `--cert FILE`
//!   (then the certificate must be issued by `--ca`, checked by signature, and its
//!   validity and SHA-256 are recorded too).
//! - `revoke --reason NAME` takes openssl's names (`keyCompromise`, `certificateHold`,
//!   ..., any case) or `none` for no reasonCode. Under a public profile (`--profile cabf`,
//!   `mozilla`, `microsoft`, or the `profile` of `--config`) only the Baseline
//!   Requirements' reasons are accepted (§7.2.2: keyCompromise, affiliationChanged,
//!   superseded, cessationOfOperation, privilegeWithdrawn; `unspecified` means no
//!   reasonCode). Revoking again the same way changes nothing; a different reason or time
//!   replaces the record (e.g. certificateHold → keyCompromise).
//! - `unrevoke` lifts certificateHold; any other revocation is permanent unless `--force`.
//! - `--wait[=SECS]` (default 10): after the change, wait until every node that reported
//!   in the last 10 s has seen its generation; exit 3 naming those that have not.
//! - `status` prints the record and which node has seen which generation.
//!
//! Exit status: 0 done, 1 error (the message names the fix), 3 `--wait` timed out.

use crate::cmd::db_flags::{read_ca, DbFlags};
use anyhow::{bail, Context};
use ocsp_proto::der::Encode;
use ocsp_proto::profile::Profile;
use ocsp_proto::x509_cert::Certificate;
use ocsp_proto::{RevocationReason, Serial, Timestamp};
use ocsp_status::postgres::schema::Role;
use ocsp_status::postgres::serial_to_db;
use ocsp_status::postgres::write::{self, CertRecord, Changed, Issuer, RevokeRequest};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Which serial of which CA.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["serial", "cert"])))]
pub struct Target {
    /// The CA certificate (PEM or DER).
    #[arg(long = "ca", value_name = "FILE")]
    pub ca: PathBuf,
    /// The serial, in hex (as `openssl x509 -serial` prints it).
    #[arg(long, value_name = "HEX")]
    pub serial: Option<String>,
    /// The certificate (PEM or DER), instead of --serial.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
}

/// `ocsp revoke`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples (the URL with its password in OCSP_DATABASE_URL or a url_file):\n  \
ocsp revoke --ca cacert.pem --cert alice.pem --reason keyCompromise --wait\n  \
ocsp revoke --ca cacert.pem --serial 1A2B --reason certificateHold\n  \
ocsp unrevoke --ca cacert.pem --serial 1A2B\n  \
ocsp status --ca cacert.pem --serial 1A2B"
)]
pub struct RevokeArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbFlags,
    /// The serial.
    #[command(flatten)]
    pub target: Target,
    /// The reason: keyCompromise, CACompromise, affiliationChanged, superseded,
    /// cessationOfOperation, certificateHold, privilegeWithdrawn, AACompromise,
    /// unspecified, or none (no reasonCode).
    #[arg(long, value_name = "NAME")]
    pub reason: String,
    /// revocationTime: RFC 3339 (2026-12-06T12:00:00Z), YYYYMMDDHHMMSSZ, or @UNIXSECONDS (default: now).
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
    /// invalidityDate (when the key was compromised), same forms as --time.
    #[arg(long, value_name = "TIME")]
    pub invalidity_date: Option<String>,
    /// Wait until every live node has seen the change (at most SECS, default 10).
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "10", require_equals = true)]
    pub wait: Option<u64>,
    /// The compliance profile (private, cabf, mozilla, microsoft; default: the config's, else private).
    #[arg(long, value_name = "PROFILE", value_parser = ["private", "cabf", "mozilla", "microsoft"])]
    pub profile: Option<String>,
}

/// `ocsp unrevoke`.
#[derive(Debug, clap::Args)]
pub struct UnrevokeArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbFlags,
    /// The serial.
    #[command(flatten)]
    pub target: Target,
    /// Un-revoke even when the reason is not certificateHold (revocation is meant to be permanent).
    #[arg(long)]
    pub force: bool,
    /// Wait until every live node has seen the change (at most SECS, default 10).
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "10", require_equals = true)]
    pub wait: Option<u64>,
}

/// `ocsp status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbFlags,
    /// The serial.
    #[command(flatten)]
    pub target: Target,
}

fn finish(name: &str, r: anyhow::Result<ExitCode>) -> ExitCode {
    match r {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ocsp {name}: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn block_on<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    f: F,
) -> anyhow::Result<ExitCode> {
    crate::logging::init(crate::logging::LogFormat::Text, "warn");
    crate::runtime::runtime_with(1)?.block_on(f)
}

/// Run `ocsp revoke`.
pub fn run_revoke(a: RevokeArgs) -> ExitCode {
    finish("revoke", block_on(revoke(a)))
}

/// Run `ocsp unrevoke`.
pub fn run_unrevoke(a: UnrevokeArgs) -> ExitCode {
    finish("unrevoke", block_on(unrevoke(a)))
}

/// Run `ocsp status`.
pub fn run_status(a: StatusArgs) -> ExitCode {
    finish("status", block_on(status(a)))
}

/// The resolved target: the CA, its issuer row, the serial and the certificate if given.
struct Resolved {
    issuer: Issuer,
    serial: Serial,
    cert: Option<Certificate>,
}

async fn resolve(t: &Target, client: &tokio_postgres::Client) -> anyhow::Result<Resolved> {
    let (ca, ca_id) = read_ca(&t.ca)?;
    let (serial, cert) = match (&t.serial, &t.cert) {
        (Some(s), _) => (parse_serial(s)?, None),
        (None, Some(path)) => {
            let certs = ocsp_responder::setup::read_certs(path)?;
            let Some(cert) = certs.into_iter().next() else {
                bail!("{}: no certificate in the file", path.display());
            };
            if let Err(e) = ocsp_proto::sigalg::cert_issued_by(&cert, &ca) {
                bail!(
                    "{} ({}) is not issued by the CA {} ({e}): give the CA certificate that issued it",
                    path.display(),
                    cert.tbs_certificate.subject,
                    ca_id.subject
                );
            }
            (Serial::of_cert(&cert), Some(cert))
        }
        (None, None) => bail!("give --serial HEX or --cert FILE"),
    };
    let issuer = write::require_issuer(client, &ca_id).await?;
    Ok(Resolved {
        issuer,
        serial,
        cert,
    })
}

/// A hex serial (`1A2B`, `0x1a2b`, with `:` separators as openssl sometimes prints).
pub fn parse_serial(s: &str) -> anyhow::Result<Serial> {
    let cleaned: String = s.trim().chars().filter(|c| *c != ':').collect();
    let cleaned = cleaned.strip_prefix("serial=").unwrap_or(&cleaned);
    Serial::from_hex(cleaned).with_context(|| {
        format!("--serial {s:?} is not a hexadecimal serial (as `openssl x509 -noout -serial` prints it)")
    })
}

/// A time given as RFC 3339, `YYYYMMDDHHMMSSZ` or `@SECONDS`.
pub fn parse_time(flag: &str, s: &str) -> anyhow::Result<Timestamp> {
    let s = s.trim();
    if let Some(secs) = s.strip_prefix('@') {
        if let Ok(n) = secs.parse::<u64>() {
            return Ok(Timestamp(n));
        }
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        if let Ok(n) = u64::try_from(t.unix_timestamp()) {
            return Ok(Timestamp(n));
        }
    }
    if let Some(t) = Timestamp::from_asn1_text(s.as_bytes()) {
        return Ok(t);
    }
    bail!("{flag} {s:?}: give RFC 3339 (2026-12-06T12:00:00Z), YYYYMMDDHHMMSSZ or @UNIXSECONDS")
}

/// The reasons the Baseline Requirements allow in a subscriber certificate's revocation
/// (§7.2.2); `unspecified` is expressed by omitting the reasonCode.
pub const BR_REASONS: [RevocationReason; 5] = [
    RevocationReason::KeyCompromise,
    RevocationReason::AffiliationChanged,
    RevocationReason::Superseded,
    RevocationReason::CessationOfOperation,
    RevocationReason::PrivilegeWithdrawn,
];

/// Parse `--reason` under `profile`: `None` is "no reasonCode".
pub fn parse_reason(s: &str, profile: Profile) -> anyhow::Result<Option<RevocationReason>> {
    let reason = if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("omitted") {
        None
    } else if let Some(r) = RevocationReason::from_name(s)
        .or_else(|| s.parse::<u8>().ok().and_then(RevocationReason::from_code))
    {
        Some(r)
    } else {
        bail!(
            "--reason {s:?} is not a revocation reason (keyCompromise, CACompromise, affiliationChanged, \
             superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, AACompromise, \
             unspecified, none)"
        );
    };
    if !profile.is_public() {
        return Ok(reason);
    }
    match reason {
        None | Some(RevocationReason::Unspecified) => Ok(None),
        Some(r) if BR_REASONS.contains(&r) => Ok(Some(r)),
        Some(r) => bail!(
            "--reason {} is not allowed under the {} profile (Baseline Requirements §7.2.2 allow keyCompromise, \
             affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, or unspecified/none)",
            r.openssl_name(),
            profile.name()
        ),
    }
}

fn profile_of(flag: Option<&str>, db: &DbFlags) -> anyhow::Result<Profile> {
    let name = match flag {
        Some(p) => Some(p.to_string()),
        None => db.config_profile()?,
    };
    match name {
        None => Ok(Profile::Private),
        Some(n) => Profile::from_name(&n)
            .with_context(|| format!("unknown profile {n:?} (private, cabf, mozilla, microsoft)")),
    }
}

async fn revoke(a: RevokeArgs) -> anyhow::Result<ExitCode> {
    let profile = profile_of(a.profile.as_deref(), &a.db)?;
    let reason = parse_reason(&a.reason, profile)?;
    let time = a
        .time
        .as_deref()
        .map(|t| parse_time("--time", t))
        .transpose()?;
    let invalidity_date = a
        .invalidity_date
        .as_deref()
        .map(|t| parse_time("--invalidity-date", t))
        .transpose()?;
    let mut client = a.db.connect(Role::Writer).await?;
    let r = resolve(&a.target, &client).await?;
    let (not_before, not_after, cert_sha256) = match &r.cert {
        Some(c) => {
            let v = &c.tbs_certificate.validity;
            (
                Some(Timestamp::from_x509(&v.not_before)),
                Some(Timestamp::from_x509(&v.not_after)),
                Some(write::sha256(
                    &c.to_der().context("cannot encode the certificate")?,
                )),
            )
        }
        None => (None, None, None),
    };
    let req = RevokeRequest {
        serial: serial_to_db(&r.serial),
        reason,
        time,
        invalidity_date,
        not_before,
        not_after,
        cert_sha256,
    };
    let ch = write::revoke(&mut client, r.issuer.id, &req).await?;
    if !ch.known {
        println!(
            "note: serial {} was not in the database; recorded as revoked",
            r.serial.to_hex()
        );
    }
    report_change("revoked", &r, &ch);
    wait(&client, &r.issuer, &ch, a.wait).await
}

async fn unrevoke(a: UnrevokeArgs) -> anyhow::Result<ExitCode> {
    let mut client = a.db.connect(Role::Writer).await?;
    let r = resolve(&a.target, &client).await?;
    let ch = write::unrevoke(&mut client, r.issuer.id, &serial_to_db(&r.serial), a.force).await?;
    report_change("un-revoked", &r, &ch);
    wait(&client, &r.issuer, &ch, a.wait).await
}

fn report_change(verb: &str, r: &Resolved, ch: &Changed) {
    let serial = r.serial.to_hex();
    if ch.changed {
        println!(
            "{verb} serial {serial} of {:?}: {} (generation {})",
            r.issuer.name,
            describe(&ch.record),
            ch.generation
        );
    } else {
        println!(
            "serial {serial} of {:?} is already {}: nothing changed (generation {})",
            r.issuer.name,
            describe(&ch.record),
            ch.generation
        );
    }
}

fn describe(rec: &CertRecord) -> String {
    match (rec.status, &rec.revoked) {
        ('R', Some(rv)) => {
            let mut s = format!(
                "revoked at {} ({})",
                rv.time.rfc3339(),
                rv.reason
                    .map(|r| r.openssl_name())
                    .unwrap_or("no reasonCode")
            );
            if let Some(d) = rv.invalidity_date {
                s.push_str(&format!(", invalidity date {}", d.rfc3339()));
            }
            s
        }
        ('V', _) => "valid".into(),
        ('D', _) => "deleted (tombstone)".into(),
        (other, _) => format!("status {other:?}"),
    }
}

async fn wait(
    client: &tokio_postgres::Client,
    issuer: &Issuer,
    ch: &Changed,
    secs: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let Some(secs) = secs else {
        return Ok(ExitCode::SUCCESS);
    };
    let out =
        write::wait_for_nodes(client, issuer.id, ch.generation, Duration::from_secs(secs)).await?;
    if out.live.is_empty() {
        println!(
            "no node has reported for this CA in the last {} s: nothing to wait for",
            write::LIVE_WINDOW.as_secs()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if out.lagging.is_empty() {
        println!(
            "all {} live node(s) have seen generation {}",
            out.live.len(),
            ch.generation
        );
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<String> = out
        .lagging
        .iter()
        .map(|n| {
            format!(
                "{} (at generation {}, reported {} ms ago)",
                n.node_id, n.seen_gen, n.age_ms
            )
        })
        .collect();
    eprintln!(
        "ocsp: after {secs} s, {} of {} live node(s) have not seen generation {}: {}",
        out.lagging.len(),
        out.live.len(),
        ch.generation,
        names.join(", ")
    );
    Ok(ExitCode::from(3))
}

async fn status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let client = a.db.connect(Role::Viewer).await?;
    let r = resolve(&a.target, &client).await?;
    let gen: i64 = client
        .query_one(
            "SELECT generation FROM ocsp_issuer WHERE id = $1",
            &[&r.issuer.id],
        )
        .await
        .map_err(ocsp_status::postgres::DbError::query)?
        .get(0);
    println!(
        "issuer: {:?} (id {}), generation {gen}",
        r.issuer.name, r.issuer.id
    );
    println!("serial: {}", r.serial.to_hex());
    let rec = write::cert_status(&client, r.issuer.id, &serial_to_db(&r.serial)).await?;
    let code = match &rec {
        None => {
            println!("status: not in the database");
            ExitCode::from(1)
        }
        Some(rec) => {
            println!("status: {}", describe(rec));
            if let Some(t) = rec.not_before {
                println!("not before: {}", t.rfc3339());
            }
            if let Some(t) = rec.not_after {
                println!("not after: {}", t.rfc3339());
            }
            if let Some(h) = &rec.cert_sha256 {
                println!("certificate sha256: {}", hex::encode(h));
            }
            println!(
                "last changed: generation {} at {} by {}",
                rec.updated_gen,
                rec.updated_at.rfc3339(),
                rec.updated_by
            );
            ExitCode::SUCCESS
        }
    };
    let nodes = write::nodes(&client, r.issuer.id).await?;
    if nodes.is_empty() {
        println!("nodes: none has reported");
    }
    let live_ms = write::LIVE_WINDOW.as_millis() as i64;
    for n in nodes {
        let seen = match &rec {
            Some(rec) if n.seen_gen >= rec.updated_gen => "has seen this record",
            Some(_) => "has NOT seen this record yet",
            None => "",
        };
        println!(
            "node {}: generation {} ({} ms ago{}){}{}",
            n.node_id,
            n.seen_gen,
            n.age_ms,
            if n.age_ms > live_ms { ", not live" } else { "" },
            if seen.is_empty() { "" } else { ": " },
            seen
        );
    }
    Ok(code)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reasons_under_profiles() {
        assert_eq!(
            parse_reason("keycompromise", Profile::Cabf).unwrap(),
            Some(RevocationReason::KeyCompromise)
        );
        assert_eq!(parse_reason("unspecified", Profile::Cabf).unwrap(), None);
        let e = parse_reason("certificateHold", Profile::Cabf)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not allowed under the cabf profile"), "{e}");
        assert!(parse_reason("CACompromise", Profile::Mozilla).is_err());
        assert_eq!(
            parse_reason("certificateHold", Profile::Private).unwrap(),
            Some(RevocationReason::CertificateHold)
        );
        assert_eq!(
            parse_reason("1", Profile::Private).unwrap(),
            Some(RevocationReason::KeyCompromise)
        );
        assert!(parse_reason("bogus", Profile::Private).is_err());
    }

    #[test]
    fn times_and_serials() {
        assert_eq!(
            parse_time("--time", "@1700000000").unwrap(),
            Timestamp(1_700_000_000)
        );
        assert_eq!(
            parse_time("--time", "2023-11-14T22:13:20Z").unwrap(),
            Timestamp(1_700_000_000)
        );
        assert_eq!(
            parse_time("--time", "20231114221320Z").unwrap(),
            Timestamp(1_700_000_000)
        );
        assert!(parse_time("--time", "yesterday").is_err());
        assert_eq!(parse_serial("0x1A:2b").unwrap().to_hex(), "1A2B");
        assert!(parse_serial("xyz").is_err());
    }
}
