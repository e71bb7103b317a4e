//! Issuing CRLs from any status source: what `ocsp crl` writes and `serve` publishes.
//!
//! [`issue`] enumerates a [`StatusSource`] ([`StatusSource::entries`]: index.txt, a CRL
//! source, any later backend) and writes a CRL in the RFC 5280 / CA/B Forum BR §7.2
//! profile through `ocsp_proto::crl::CrlWriter`:
//!
//! - signed by the **CA's** key: a signer whose public key is not the CA certificate's
//!   is refused (a delegated OCSP responder key can never sign a CRL);
//! - version 2, issuer = the CA certificate's subject octets, authorityKeyIdentifier
//!   from the CA, the cRLNumber given (kept strictly increasing by [`number`]);
//! - one entry per revoked serial, in numeric serial order, with its revocation time,
//!   reason code (omitted for `unspecified`), invalidity date and hold instruction;
//! - **retention**: a revoked entry whose certificate expired is kept until it has been
//!   on one CRL issued after the expiry: it is dropped only when the certificate expired
//!   more than one CRL validity period before thisUpdate (every window of that length
//!   holds at least one CRL, so one CRL after the expiry listed it). Entries whose
//!   source does not know the expiry are always kept;
//! - thisUpdate and nextUpdate as given; nextUpdate − thisUpdate at most the profile's
//!   limit ([`max_validity_secs`]: 10 days under `cabf`/`mozilla`/`microsoft` for a
//!   subscriber CA's CRL, 12 months for a CRL of CA certificates);
//! - optionally partitioned (an issuingDistributionPoint, critical, built by hand).
//!
//! Deterministic: the same entries, times, number and a deterministic signature (RSA
//! PKCS#1 v1.5, Ed25519) give the same bytes; ECDSA signatures are randomised, so
//! nodes that must serve identical bytes share the DER, not only the inputs.

pub mod number;
pub mod publish;

use ocsp_proto::crl::{self, CrlNumber, CrlParams, CrlWriter, Entry, HoldInstruction, IdpParams};
use ocsp_proto::profile::Profile;
use ocsp_proto::signer::Signer;
use ocsp_proto::{CertStatus, Revocation, Serial, Timestamp};
use ocsp_status::{StatusEntry, StatusSource};
use x509_cert::Certificate;

/// BR §4.9.7: a subscriber CA's CRL is valid at most 10 days.
pub const MAX_SUBSCRIBER_CRL_SECS: u64 = 10 * 86_400;
/// BR §4.9.7: a CRL of CA certificates is valid at most 12 months.
pub const MAX_CA_CRL_SECS: u64 = 365 * 86_400;
/// Without a public profile: at most ten years.
pub const MAX_PRIVATE_CRL_SECS: u64 = 3_650 * 86_400;

/// The longest CRL validity `profile` allows (`ca_certs`: a CRL of CA certificates).
pub fn max_validity_secs(profile: Profile, ca_certs: bool) -> u64 {
    match (profile, ca_certs) {
        (Profile::Private, _) => MAX_PRIVATE_CRL_SECS,
        (_, true) => MAX_CA_CRL_SECS,
        (_, false) => MAX_SUBSCRIBER_CRL_SECS,
    }
}

/// What one CRL says besides its entries.
#[derive(Debug, Clone)]
pub struct IssueParams {
    /// cRLNumber.
    pub number: CrlNumber,
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate − thisUpdate, in seconds.
    pub validity_secs: u64,
    /// The profile's limit on `validity_secs`.
    pub max_validity_secs: u64,
    /// A partitioned CRL's distribution point URIs (empty: a full CRL).
    pub idp_uris: Vec<String>,
    /// With `idp_uris`: onlyContainsUserCerts.
    pub only_user_certs: bool,
    /// With `idp_uris`: onlyContainsCACerts.
    pub only_ca_certs: bool,
}

/// A CRL written.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The DER.
    pub der: Vec<u8>,
    /// Its entries.
    pub entries: usize,
    /// Revoked entries left out because their certificate expired before the last
    /// period (see the module documentation).
    pub expired_dropped: usize,
    /// Entries on hold (reason certificateHold), which the BR forbid for subscriber
    /// certificates (§7.2.2): the caller warns under a public profile.
    pub held: usize,
    /// The source generation it was issued from.
    pub generation: u64,
    /// thisUpdate and nextUpdate.
    pub this_update: Timestamp,
    /// nextUpdate.
    pub next_update: Timestamp,
    /// Its number.
    pub number: CrlNumber,
}

/// Why no CRL was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The key is not the CA certificate's.
    #[error("the key does not belong to the CA certificate: a CRL is signed with the CA's own key (e.g. private/cakey.pem), never the OCSP responder's")]
    NotTheCaKey,
    /// The status source could not be enumerated.
    #[error("cannot read the statuses: {0}")]
    Status(String),
    /// The CRL could not be built or signed.
    #[error("cannot build the CRL: {0}")]
    Build(String),
}

/// The revoked entries of `source` that belong on a CRL at `this_update` (see the
/// module documentation), in numeric serial order; returns them, the number dropped for
/// expiry and the generation.
pub async fn revoked_entries(
    source: &dyn StatusSource,
    this_update: Timestamp,
    validity_secs: u64,
) -> Result<(Vec<(Serial, Revocation)>, usize, u64), IssueError> {
    let keep_after = this_update.minus(validity_secs);
    let mut out = Vec::new();
    let mut dropped = 0usize;
    let generation = source
        .entries(&mut |e: StatusEntry| {
            if let CertStatus::Revoked(r) = e.status {
                if e.expires.is_some_and(|x| x < keep_after) {
                    dropped += 1;
                } else {
                    out.push((e.serial, r));
                }
            }
        })
        .await
        .map_err(|e| IssueError::Status(e.to_string()))?;
    out.sort_by(|a, b| {
        let (x, y) = (a.0.as_bytes(), b.0.as_bytes());
        x.len().cmp(&y.len()).then_with(|| x.cmp(y))
    });
    Ok((out, dropped, generation))
}

/// Write and sign the CRL of `source` for CA `ca` with `signer` (the CA's key).
pub async fn issue(
    source: &dyn StatusSource,
    ca: &Certificate,
    signer: &dyn Signer,
    p: &IssueParams,
) -> Result<Issued, IssueError> {
    check_ca_key(ca, signer)?;
    let (entries, dropped, generation) =
        revoked_entries(source, p.this_update, p.validity_secs).await?;
    let der = sign(ca, signer, p, &entries)?;
    let held = entries
        .iter()
        .filter(|(_, r)| r.reason == Some(ocsp_proto::RevocationReason::CertificateHold))
        .count();
    Ok(Issued {
        der,
        held,
        entries: entries.len(),
        expired_dropped: dropped,
        generation,
        this_update: p.this_update,
        next_update: p.this_update.plus(p.validity_secs),
        number: p.number,
    })
}

/// Refuse any signer whose public key is not the CA certificate's.
pub fn check_ca_key(ca: &Certificate, signer: &dyn Signer) -> Result<(), IssueError> {
    let spki = der::Encode::to_der(&ca.tbs_certificate.subject_public_key_info)
        .map_err(|e| IssueError::Build(e.to_string()))?;
    if spki != signer.public_key_der() {
        return Err(IssueError::NotTheCaKey);
    }
    Ok(())
}

/// Build and sign a CRL of `entries` (already filtered and ordered).
pub fn sign(
    ca: &Certificate,
    signer: &dyn Signer,
    p: &IssueParams,
    entries: &[(Serial, Revocation)],
) -> Result<Vec<u8>, IssueError> {
    let issuer = der::Encode::to_der(&ca.tbs_certificate.subject)
        .map_err(|e| IssueError::Build(e.to_string()))?;
    let aki = crl::authority_key_id(ca);
    let uris: Vec<&str> = p.idp_uris.iter().map(String::as_str).collect();
    let params = CrlParams {
        issuer: &issuer,
        authority_key_id: &aki,
        crl_number: p.number,
        this_update: p.this_update,
        next_update: p.this_update.plus(p.validity_secs),
        max_validity_secs: p.max_validity_secs,
        delta_base: None,
        idp: (!uris.is_empty()).then_some(IdpParams {
            full_name_uris: &uris,
            only_user_certs: p.only_user_certs,
            only_ca_certs: p.only_ca_certs,
        }),
    };
    let mut w = CrlWriter::new(params).map_err(|e| IssueError::Build(e.to_string()))?;
    w.reserve(entries.len(), 21);
    for (serial, r) in entries {
        let content = serial.to_integer_content();
        w.push(&Entry {
            serial: &content,
            revocation_date: r.time,
            reason: r.reason,
            invalidity_date: r.invalidity_date,
            hold_instruction: r
                .hold_instruction
                .and_then(|oid| HoldInstruction::from_oid_content(oid.as_bytes())),
        })
        .map_err(|e| IssueError::Build(format!("serial {serial}: {e}")))?;
    }
    w.finish(signer)
        .map_err(|e| IssueError::Build(e.to_string()))
}
