//! X.509 chain building: does a certificate chain to a trusted root?
//!
//! [`verify_chain`] walks from a certificate to one of the roots through the given
//! intermediates, at most [`MAX_CHAIN_LEN`] certificates, requiring every certificate to be
//! valid at `now` (an argument: nothing here reads the clock) and every issuing certificate
//! to be a CA (basicConstraints cA). Issuance is checked by name and by signature. A
//! certificate equal to a root is trusted as it is. No name constraints, policies or key
//! usage: this answers "is the issuer I was given one of mine", not full RFC 5280 path
//! validation.

use crate::sigalg;
use crate::verify::{same_cert, subject, validity};
use crate::Timestamp;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

/// Why a certificate does not chain to a trusted root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No issuer was found among the roots and intermediates.
    #[error("no chain from {subject} (issued by {issuer}) to a trusted root")]
    NoPath {
        /// The certificate whose issuer is missing.
        subject: String,
        /// Its issuer's name.
        issuer: String,
    },
    /// A certificate in the path is outside its validity period.
    #[error("{subject} in the chain is not valid now ({now}): it is valid from {not_before} to {not_after}")]
    NotValid {
        /// The certificate.
        subject: String,
        /// The current time.
        now: Timestamp,
        /// notBefore.
        not_before: Timestamp,
        /// notAfter.
        not_after: Timestamp,
    },
    /// A certificate in the path that issues others is not a CA.
    #[error("{subject} issues certificates in the chain but is not a CA (basicConstraints cA is not set)")]
    NotCa {
        /// The certificate.
        subject: String,
    },
    /// The path is longer than allowed.
    #[error("the chain from {subject} is longer than {max} certificates")]
    TooLong {
        /// The starting certificate.
        subject: String,
        /// The limit.
        max: usize,
    },
}

/// Most certificates in a path [`verify_chain`] builds.
pub const MAX_CHAIN_LEN: usize = 8;

fn is_ca(cert: &Certificate) -> bool {
    matches!(cert.tbs_certificate.get::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
}

fn check_valid_now(cert: &Certificate, now: Timestamp) -> Result<(), ChainError> {
    let (not_before, not_after) = validity(cert);
    if now < not_before || now > not_after {
        return Err(ChainError::NotValid {
            subject: subject(cert),
            now,
            not_before,
            not_after,
        });
    }
    Ok(())
}

/// Check that `cert` chains to one of `roots` through `intermediates`, every certificate
/// valid at `now` and every issuing certificate a CA. A certificate equal to a root is
/// trusted as it is. Returns the path from `cert` to the root, inclusive.
pub fn verify_chain(
    cert: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    now: Timestamp,
) -> Result<Vec<Certificate>, ChainError> {
    let mut path = vec![cert.clone()];
    let mut current = cert.clone();
    loop {
        check_valid_now(&current, now)?;
        if roots.iter().any(|r| same_cert(r, &current)) {
            return Ok(path);
        }
        if path.len() >= MAX_CHAIN_LEN {
            return Err(ChainError::TooLong {
                subject: subject(cert),
                max: MAX_CHAIN_LEN,
            });
        }
        let issued_by = |c: &&Certificate| {
            c.tbs_certificate.subject == current.tbs_certificate.issuer
                && sigalg::cert_issued_by(&current, c).is_ok()
                && !path.iter().any(|p| same_cert(p, c))
        };
        let next = roots
            .iter()
            .find(issued_by)
            .map(|r| (r, true))
            .or_else(|| intermediates.iter().find(issued_by).map(|c| (c, false)));
        let Some((next, is_root)) = next else {
            return Err(ChainError::NoPath {
                subject: subject(&current),
                issuer: current.tbs_certificate.issuer.to_string(),
            });
        };
        if !is_ca(next) {
            return Err(ChainError::NotCa {
                subject: subject(next),
            });
        }
        path.push(next.clone());
        if is_root {
            check_valid_now(next, now)?;
            return Ok(path);
        }
        current = next.clone();
    }
}
