//! Which CRLs are accepted, and the state lookups are answered from.
//!
//! A CRL is **accepted** ([`accept`]) only when all of these hold, else it is refused with
//! a reason naming its location:
//!
//! 1. it parses (v1 or v2, PEM or DER; `ocsp_proto::crl::parse`: DER only, size caps, no
//!    trailing bytes, no unknown critical extension, no indirect CRL);
//! 2. its issuer Name is byte-identical to the CA's subject, its authorityKeyIdentifier
//!    (when present) is the CA's subjectKeyIdentifier, and its signature verifies with
//!    the CA's key, or with the key of a configured CRL signer whose certificate the CA
//!    signed (issuer Name, signature, cRLSign);
//! 3. it has a nextUpdate (nothing else bounds an answer) that is not past;
//! 4. its issuingDistributionPoint, if any, does not narrow it to CA certificates, some
//!    reasons or attribute certificates (a partition we would take for the whole CA);
//! 5. a complete CRL carries no `removeFromCRL` entry.
//!
//! A **state** ([`CrlState`]) is one complete CRL and at most one delta CRL. A new
//! complete CRL replaces the served one only when it is not older: a higher CRL
//! number, or the same number (or both v1, without one) with a thisUpdate not earlier;
//! a CRL without a number after one with a number is refused. A delta CRL is used only
//! when `check_delta` accepts it on the served complete CRL (same issuer and scope, base
//! number at most the complete CRL's, its own number above it) and its number is not
//! below the delta in use. The delta in use is dropped when a complete CRL at least as
//! new as it arrives.
//!
//! Lookups read the delta first: an entry there is the current revocation, or, with
//! `removeFromCRL`, says the serial is no longer revoked (a certificate released from
//! hold); otherwise the complete CRL's entry. The state's period is the latest
//! thisUpdate and the earliest nextUpdate of the CRLs in use (a delta that expires takes
//! the revocations it added with it, so the state expires with it).

use std::sync::Arc;

use ocsp_proto::crl::{self, CrlLimits, CrlMeta, RevokedTable};
use ocsp_proto::{Revocation, RevocationReason, Serial, Timestamp};
use x509_cert::Certificate;

use crate::Period;

/// What a CRL must be signed by.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The CA certificate (the CRL's issuer).
    pub ca: Certificate,
    /// A CRL-signing certificate issued by the CA, when the CA delegates CRL signing.
    pub crl_signer: Option<Certificate>,
}

/// One accepted CRL: its table and its CRL-level fields, never the parsed DER.
#[derive(Debug)]
pub struct Loaded {
    /// The revoked serials.
    pub table: RevokedTable,
    /// The CRL-level fields.
    pub meta: CrlMeta,
    /// The index of the location it came from.
    pub location: usize,
}

impl Loaded {
    fn next_update(&self) -> Timestamp {
        // `accept` refuses CRLs without one.
        self.meta.next_update.unwrap_or(Timestamp::EPOCH)
    }
}

/// Parse, verify and table one CRL fetched from `location` (see the module
/// documentation for the rules).
pub fn accept(
    bytes: &[u8],
    location: usize,
    trust: &Trust,
    limits: &CrlLimits,
    now: Timestamp,
) -> Result<Loaded, String> {
    let der = crl::decode(bytes, limits).map_err(|e| e.to_string())?;
    let parsed = crl::parse(&der, limits).map_err(|e| e.to_string())?;
    match &trust.crl_signer {
        None => crl::verify_issued_by(&parsed, &trust.ca).map_err(|e| e.to_string())?,
        Some(signer) => {
            verify_crl_signer(signer, &trust.ca)?;
            crl::verify_issued_by(&parsed, signer)
                .or_else(|_| {
                    // The CRL names the CA as issuer; the signer only holds the key.
                    let subject = der::Encode::to_der(&trust.ca.tbs_certificate.subject)
                        .map_err(|e| ocsp_proto::crl::CrlError::WrongIssuer(e.to_string()))?;
                    if subject != parsed.issuer {
                        return Err(ocsp_proto::crl::CrlError::WrongIssuer(
                            "the CRL's issuer Name is not the CA's subject".into(),
                        ));
                    }
                    crl::verify_signature(&parsed, &signer.tbs_certificate.subject_public_key_info)
                })
                .map_err(|e| e.to_string())?
        }
    }
    let Some(next) = parsed.next_update else {
        return Err("the CRL has no nextUpdate, so nothing bounds an answer drawn from it".into());
    };
    if next <= now {
        return Err(format!(
            "the CRL expired at {next} (nextUpdate); the publisher has not issued a newer one"
        ));
    }
    if let Some(idp) = &parsed.issuing_distribution_point {
        if idp.only_ca_certs || idp.only_attribute_certs || idp.only_some_reasons.is_some() {
            return Err(
                "the CRL's issuingDistributionPoint limits it to CA certificates, some reasons \
                 or attribute certificates: configure the CRL that covers the CA's end-entity \
                 certificates"
                    .into(),
            );
        }
    }
    let table = RevokedTable::from_crl(&parsed).map_err(|e| e.to_string())?;
    Ok(Loaded {
        table,
        meta: parsed.meta(),
        location,
    })
}

fn verify_crl_signer(signer: &Certificate, ca: &Certificate) -> Result<(), String> {
    use der::Encode;
    let issuer = signer
        .tbs_certificate
        .issuer
        .to_der()
        .map_err(|e| e.to_string())?;
    let subject = ca
        .tbs_certificate
        .subject
        .to_der()
        .map_err(|e| e.to_string())?;
    if issuer != subject {
        return Err(
            "the CRL signer certificate was not issued by the CA (issuer Name differs)".into(),
        );
    }
    if let Ok(Some((_, ku))) = signer
        .tbs_certificate
        .get::<x509_cert::ext::pkix::KeyUsage>()
    {
        if !ku.0.contains(x509_cert::ext::pkix::KeyUsages::CRLSign) {
            return Err("the CRL signer certificate's keyUsage lacks cRLSign".into());
        }
    }
    let tbs = signer.tbs_certificate.to_der().map_err(|e| e.to_string())?;
    ocsp_proto::sigalg::verify(
        &signer.signature_algorithm,
        &ca.tbs_certificate.subject_public_key_info,
        &tbs,
        signer.signature.raw_bytes(),
    )
    .map_err(|e| {
        format!("the CRL signer certificate's signature does not verify with the CA's key: {e}")
    })
}

/// One complete CRL and the delta CRL applied on it, if any.
#[derive(Debug, Clone)]
pub struct CrlState {
    /// The complete CRL.
    pub base: Arc<Loaded>,
    /// The delta CRL in use.
    pub delta: Option<Arc<Loaded>>,
}

impl CrlState {
    /// The revocation of `serial` in this state.
    pub fn revocation(&self, serial: &Serial) -> Option<Revocation> {
        if let Some(d) = &self.delta {
            if let Some(e) = d.table.get(serial) {
                if e.reason == Some(RevocationReason::RemoveFromCrl) {
                    return None;
                }
                return d.table.revocation(serial);
            }
        }
        self.base.table.revocation(serial)
    }

    /// The period the state speaks for.
    pub fn period(&self) -> Period {
        let mut p = Period {
            this_update: self.base.meta.this_update,
            next_update: self.base.next_update(),
        };
        if let Some(d) = &self.delta {
            p.this_update = p.this_update.max(d.meta.this_update);
            p.next_update = p.next_update.min(d.next_update());
        }
        p
    }

    /// Revoked entries in the state (the delta applied).
    pub fn revoked_table(&self) -> Result<RevokedTable, String> {
        match &self.delta {
            None => Ok(self.base.table.clone()),
            Some(d) => self
                .base
                .table
                .apply_delta(&d.table)
                .map_err(|e| e.to_string()),
        }
    }

    /// The number of revoked serials (an estimate with a delta: base plus delta).
    pub fn revoked_estimate(&self) -> usize {
        self.base.table.len() + self.delta.as_ref().map_or(0, |d| d.table.len())
    }

    /// A short description (`CRL 42 + delta 43`).
    pub fn describe(&self) -> String {
        let n = |m: &CrlMeta| match m.crl_number {
            Some(n) => n.to_string(),
            None => format!("v1 of {}", m.this_update),
        };
        match &self.delta {
            None => format!("CRL {}", n(&self.base.meta)),
            Some(d) => format!("CRL {} + delta {}", n(&self.base.meta), n(&d.meta)),
        }
    }
}

/// Whether complete CRL `new` may replace `cur`: `Ok(true)` to replace, `Ok(false)` when
/// it is the same CRL again, `Err` when it is older.
pub fn newer_base(cur: &CrlMeta, new: &CrlMeta) -> Result<bool, String> {
    match (cur.crl_number, new.crl_number) {
        (Some(c), Some(n)) if n > c => Ok(true),
        (Some(c), Some(n)) if n < c => Err(format!(
            "CRL number {n} is older than the served CRL's {c} (a stale mirror or a replay): kept {c}"
        )),
        (Some(c), None) => Err(format!(
            "the CRL has no CRL number but the served one has {c}: kept {c}"
        )),
        _ => {
            if new.this_update > cur.this_update {
                Ok(true)
            } else if new.this_update == cur.this_update {
                Ok(false)
            } else {
                Err(format!(
                    "thisUpdate {} is older than the served CRL's {}: kept the served CRL",
                    new.this_update, cur.this_update
                ))
            }
        }
    }
}

/// The state after a refresh: `cur` (if any), the complete CRLs and delta CRLs just
/// accepted (`fresh`). Returns the new state (or `None` when there is no complete CRL
/// yet) and one message per CRL not used.
pub fn advance(
    cur: Option<&CrlState>,
    fresh: Vec<Loaded>,
) -> (Option<CrlState>, Vec<(usize, String)>) {
    let mut problems = Vec::new();
    let (fulls, deltas): (Vec<Loaded>, Vec<Loaded>) =
        fresh.into_iter().partition(|l| !l.meta.is_delta());
    let mut base = cur.map(|c| c.base.clone());
    for f in fulls {
        match &base {
            None => base = Some(Arc::new(f)),
            Some(b) if b.location != f.location => {
                problems.push((
                    f.location,
                    format!(
                        "a second complete CRL (the first came from location {}): list one complete CRL and its delta CRLs",
                        b.location + 1
                    ),
                ));
            }
            Some(b) => match newer_base(&b.meta, &f.meta) {
                Ok(true) => base = Some(Arc::new(f)),
                Ok(false) => {}
                Err(e) => problems.push((f.location, e)),
            },
        }
    }
    let Some(base) = base else {
        for d in deltas {
            problems.push((d.location, "a delta CRL without its complete CRL".into()));
        }
        return (None, problems);
    };
    let applies = |d: &Loaded| -> Result<(), String> {
        crl::check_delta(&base.meta, &d.meta).map_err(|e| e.to_string())
    };
    let mut delta: Option<Arc<Loaded>> = cur
        .and_then(|c| c.delta.clone())
        .filter(|d| applies(d).is_ok());
    for d in deltas {
        if let Err(e) = applies(&d) {
            problems.push((d.location, e));
            continue;
        }
        match &delta {
            Some(cur_d) if d.meta.crl_number < cur_d.meta.crl_number => problems.push((
                d.location,
                format!(
                    "delta CRL number {} is older than the delta in use: kept the newer one",
                    d.meta.crl_number.map(|n| n.to_string()).unwrap_or_default()
                ),
            )),
            _ => delta = Some(Arc::new(d)),
        }
    }
    (Some(CrlState { base, delta }), problems)
}
