//! Checking a CRL against its issuer, and a delta CRL against its base.
//!
//! [`verify_signature`] checks the signature over the TBS octets exactly as they were read
//! (never a re-encoding) with the algorithms of [`crate::sigalg`]. [`verify_issued_by`]
//! adds what RFC 5280 §6.3.3 asks of a CRL issued by the certificate's own CA: the CRL's
//! issuer Name is byte-identical to the CA's subject (BR §7.2.2 requires byte identity), an
//! authorityKeyIdentifier, when both sides have one, equals the CA's subjectKeyIdentifier,
//! and a CA certificate with a keyUsage extension asserts cRLSign. CRLs signed by a
//! separate CRL-signing certificate are checked with [`verify_signature`] on that
//! certificate's key, after the caller has verified that certificate.
//!
//! [`check_delta`] says whether a delta CRL may be combined with a complete CRL (RFC 5280
//! §5.2.4): same issuer, same scope (equal issuingDistributionPoint octets, or both
//! absent), the complete CRL's number at least the delta's BaseCRLNumber, and the delta
//! newer than the complete CRL by number.

use const_oid::db::rfc5280;
use der::Encode;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::Certificate;

use super::parse::{Crl, CrlError, CrlMeta};

/// Check the CRL's signature with `spki`.
pub fn verify_signature(crl: &Crl<'_>, spki: &SubjectPublicKeyInfoOwned) -> Result<(), CrlError> {
    crate::sigalg::verify(&crl.signature_algorithm, spki, crl.tbs, crl.signature)?;
    Ok(())
}

/// The subjectKeyIdentifier of `cert`, when it has one.
pub fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    cert.tbs_certificate
        .get::<SubjectKeyIdentifier>()
        .ok()
        .flatten()
        .map(|(_, ski)| ski.0.as_bytes().to_vec())
}

/// Check that `issuer` (a CA certificate, already trusted) issued and signed the CRL.
pub fn verify_issued_by(crl: &Crl<'_>, issuer: &Certificate) -> Result<(), CrlError> {
    let subject = issuer
        .tbs_certificate
        .subject
        .to_der()
        .map_err(|e| CrlError::WrongIssuer(format!("CA subject does not encode: {e}")))?;
    if subject != crl.issuer {
        return Err(CrlError::WrongIssuer(
            "the CRL's issuer Name is not byte-identical to the CA certificate's subject".into(),
        ));
    }
    if let (Some(aki), Some(ski)) = (crl.authority_key_id, subject_key_id(issuer)) {
        if aki != ski.as_slice() {
            return Err(CrlError::WrongIssuer(format!(
                "the CRL's authorityKeyIdentifier {} is not the CA's subjectKeyIdentifier {} (a CRL of a re-keyed CA?)",
                hex::encode(aki),
                hex::encode(&ski)
            )));
        }
    }
    match issuer.tbs_certificate.get::<KeyUsage>() {
        Ok(Some((_, ku))) if !ku.0.contains(KeyUsages::CRLSign) => {
            return Err(CrlError::WrongIssuer(
                "the CA certificate's keyUsage lacks cRLSign".into(),
            ))
        }
        Ok(_) => {}
        Err(e) => {
            return Err(CrlError::WrongIssuer(format!(
                "the CA certificate's keyUsage ({}) does not decode: {e}",
                rfc5280::ID_CE_KEY_USAGE
            )))
        }
    }
    verify_signature(crl, &issuer.tbs_certificate.subject_public_key_info)
}

/// Whether `delta` may be applied on `base` (see the module documentation).
pub fn check_delta(base: &CrlMeta, delta: &CrlMeta) -> Result<(), CrlError> {
    if base.is_delta() {
        return Err(CrlError::Delta("the base is itself a delta CRL".into()));
    }
    let Some(delta_base) = delta.base_crl_number else {
        return Err(CrlError::Delta(
            "not a delta CRL (no deltaCRLIndicator)".into(),
        ));
    };
    if base.issuer != delta.issuer {
        return Err(CrlError::Delta("issuer differs from the base CRL's".into()));
    }
    let scope = |m: &CrlMeta| m.issuing_distribution_point.as_ref().map(|i| i.der.clone());
    if scope(base) != scope(delta) {
        return Err(CrlError::Delta(
            "issuingDistributionPoint (scope) differs from the base CRL's".into(),
        ));
    }
    let Some(base_number) = base.crl_number else {
        return Err(CrlError::Delta("the base CRL has no CRL number".into()));
    };
    if base_number < delta_base {
        return Err(CrlError::Delta(format!(
            "needs a base CRL numbered {delta_base} or later; the base is {base_number}"
        )));
    }
    match delta.crl_number {
        Some(n) if n > base_number => Ok(()),
        Some(n) => Err(CrlError::Delta(format!(
            "delta CRL number {n} is not newer than the base's {base_number}"
        ))),
        None => Err(CrlError::Delta("delta CRL without a CRL number".into())),
    }
}
