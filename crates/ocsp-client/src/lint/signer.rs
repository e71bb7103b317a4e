//! Signer checks: the signature, and who made it.
//!
//! | id | PASS when |
//! |---|---|
//! | A1 | every answer about the issuer's certificates verifies: signer found, signature over the raw tbsResponseData, signer authorised, CertIDs, nonce, times |
//! | A2 | the signer is the issuer, or a certificate it issued with EKU id-kp-OCSPSigning; under the public profiles that certificate has EKU OCSPSigning only, keyUsage digitalSignature only, id-pkix-ocsp-nocheck, and no CRL distribution point |
//! | A3 | ResponderID byKey (byName is a warning under rfc9919 and the public profiles) |
//! | A4 | a delegated signer's certificate is in the response |
//! | A5 | the signer certificate is valid for 30 more days (a warning otherwise) |
//! | A6 | the profile's `signature-algorithm` rule (no SHA-1; the public profiles' algorithms and curves), RSA keys of 2048 bits or more |

use crate::lint::finding::{Finding, Group, Verdict};
use crate::lint::probes::{Lab, Probe};
use crate::lint::profile::LintProfile;
use crate::query::{Failure, Verification};
use ocsp_proto::const_oid::db::rfc5280::ID_KP_OCSP_SIGNING;
use ocsp_proto::const_oid::db::rfc5912::RSA_ENCRYPTION;
use ocsp_proto::const_oid::db::rfc6960::ID_PKIX_OCSP_NOCHECK;
use ocsp_proto::profile::Rule;
use ocsp_proto::verify::{find_signer, SignerKind};
use ocsp_proto::x509_cert::ext::pkix::{
    CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages,
};
use ocsp_proto::x509_cert::Certificate;
use ocsp_proto::x509_ocsp::ResponderId;
use ocsp_proto::Timestamp;

/// The signer of `p`'s response, when it can be found, and whether it is the issuer.
pub fn signer_of<'a>(lab: &'a Lab, p: &'a Probe) -> Option<(&'a Certificate, bool)> {
    let a = p.answered()?;
    let (cert, _) = find_signer(
        &a.basic,
        &a.tbs_der,
        std::slice::from_ref(&lab.issuer),
        &[],
        &[],
    )
    .ok()?;
    Some((cert, cert == &lab.issuer))
}

/// A1–A6 over `base` (a successful probe about the issuer) and every probe for A1.
pub fn check(
    f: &mut Vec<Finding>,
    lab: &Lab,
    base: Option<&Probe>,
    profile: LintProfile,
    now: Timestamp,
) {
    // A1
    let mut n = 0;
    let mut failed = Vec::new();
    for p in lab.probes.iter().filter(|p| p.verifiable) {
        let Some(a) = p.answered() else { continue };
        n += 1;
        match &a.verification {
            Verification::Failed(Failure::Response(e)) => failed.push(format!("{}: {e}", p.name)),
            Verification::Failed(Failure::Chain { error, .. }) => {
                failed.push(format!("{}: {error}", p.name))
            }
            _ => {}
        }
    }
    f.push(if n == 0 {
        Finding::new(
            "A1",
            Group::Signer,
            Verdict::Skip,
            "no successful response",
            "responses verify",
            "RFC 6960 §3.2, §4.2.2.2",
        )
    } else if failed.is_empty() {
        Finding::new(
            "A1",
            Group::Signer,
            Verdict::Pass,
            format!("{n} responses verify"),
            "responses verify",
            "RFC 6960 §3.2, §4.2.2.2",
        )
    } else {
        failed.dedup();
        Finding::new(
            "A1",
            Group::Signer,
            Verdict::Fail,
            format!("{} of {n} do not: {}", failed.len(), failed.join("; ")),
            "responses verify",
            "RFC 6960 §3.2, §4.2.2.2",
        )
    });

    let skip = |id: &'static str, rule: &str, src: &str, why: &str| {
        Finding::new(id, Group::Signer, Verdict::Skip, why.to_string(), rule, src)
    };
    let Some(base) = base else {
        for (id, rule, src) in RULES {
            f.push(skip(id, rule, src, "no successful response"));
        }
        return;
    };
    let Some(a) = base.answered() else {
        for (id, rule, src) in RULES {
            f.push(skip(id, rule, src, "no successful response"));
        }
        return;
    };
    let Some((signer, is_issuer)) = signer_of(lab, base) else {
        for (id, rule, src) in RULES {
            f.push(skip(
                id,
                rule,
                src,
                "the signer's certificate was not found",
            ));
        }
        return;
    };
    let delegated = !is_issuer;
    let subject = signer.tbs_certificate.subject.to_string();

    // A2
    let (v, seen) = if is_issuer {
        (Verdict::Pass, format!("signed by the issuer {subject}"))
    } else {
        let tbs = &signer.tbs_certificate;
        let eku: Vec<_> = match tbs.get::<ExtendedKeyUsage>() {
            Ok(Some((_, e))) => e.0,
            _ => Vec::new(),
        };
        let mut must = Vec::new();
        let mut br = Vec::new();
        if !eku.contains(&ID_KP_OCSP_SIGNING) {
            must.push("no EKU id-kp-OCSPSigning".to_string());
        } else if eku.len() > 1 {
            br.push(format!(
                "EKU has {} purposes, not OCSPSigning only",
                eku.len()
            ));
        }
        match tbs.get::<KeyUsage>() {
            Ok(Some((_, ku))) => {
                if !ku.0.contains(KeyUsages::DigitalSignature) {
                    must.push("keyUsage without digitalSignature".into());
                } else if ku.0.into_iter().count() > 1 {
                    br.push("keyUsage has more than digitalSignature".into());
                }
            }
            _ => br.push("no keyUsage".into()),
        }
        let nocheck = tbs
            .extensions
            .iter()
            .flatten()
            .any(|e| e.extn_id == ID_PKIX_OCSP_NOCHECK);
        if !nocheck {
            br.push("no id-pkix-ocsp-nocheck".into());
        }
        if matches!(tbs.get::<CrlDistributionPoints>(), Ok(Some(_))) {
            br.push("a CRL distribution point".into());
        }
        let issued_by_issuer = a_signer_kind(a) == Some(SignerKind::Delegated);
        if !issued_by_issuer {
            must.push("not shown to be issued by the issuer".into());
        }
        if !must.is_empty() {
            (
                Verdict::Fail,
                format!(
                    "delegated {subject}: {}",
                    must.iter()
                        .chain(&br)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        } else if !br.is_empty() {
            (
                if profile.is_public() {
                    Verdict::Fail
                } else {
                    Verdict::Pass
                },
                format!(
                    "delegated {subject}: {}{}",
                    br.join(", "),
                    if profile.is_public() {
                        ""
                    } else {
                        " (required by the BR only)"
                    }
                ),
            )
        } else {
            (
                Verdict::Pass,
                format!("delegated {subject}: EKU OCSPSigning, keyUsage digitalSignature, nocheck"),
            )
        }
    };
    f.push(Finding::new(
        "A2",
        Group::Signer,
        v,
        seen,
        RULES[0].1,
        RULES[0].2,
    ));

    // A3
    let (v, seen) = match &a.basic.tbs_response_data.responder_id {
        ResponderId::ByKey(_) => (Verdict::Pass, "byKey".to_string()),
        ResponderId::ByName(n) => (
            if profile == LintProfile::Rfc6960 {
                Verdict::Pass
            } else {
                Verdict::Warn
            },
            format!("byName ({n})"),
        ),
    };
    f.push(Finding::new(
        "A3",
        Group::Signer,
        v,
        seen,
        RULES[1].1,
        RULES[1].2,
    ));

    // A4
    let included = a.basic.certs.iter().flatten().any(|c| c == signer);
    let (v, seen) = match (delegated, included) {
        (false, _) => (
            Verdict::Pass,
            "signed by the issuer (nothing to include)".to_string(),
        ),
        (true, true) => (
            Verdict::Pass,
            "the delegated certificate is in the response".to_string(),
        ),
        (true, false) => (
            Verdict::Fail,
            "the delegated certificate is not in the response".to_string(),
        ),
    };
    f.push(Finding::new(
        "A4",
        Group::Signer,
        v,
        seen,
        RULES[2].1,
        RULES[2].2,
    ));

    // A5
    let not_after = Timestamp::from_x509(&signer.tbs_certificate.validity.not_after);
    let left = not_after.0.saturating_sub(now.0) / 86_400;
    let (v, seen) = if not_after <= now {
        (Verdict::Fail, format!("{subject} expired at {not_after}"))
    } else if left < 30 {
        (
            Verdict::Warn,
            format!("{subject} expires in {left} days ({not_after})"),
        )
    } else {
        (
            Verdict::Pass,
            format!("{subject} valid for {left} more days"),
        )
    };
    f.push(Finding::new(
        "A5",
        Group::Signer,
        v,
        seen,
        RULES[3].1,
        RULES[3].2,
    ));

    // A6
    let rules = profile.rules();
    let spki = &signer.tbs_certificate.subject_public_key_info;
    let spki_der = der::Encode::to_der(spki).unwrap_or_default();
    let alg_name = ocsp_proto::sigalg::algorithm_name(&a.basic.signature_algorithm);
    let (mut v, mut seen) = match rules.check_algorithm(&a.basic.signature_algorithm, &spki_der) {
        Ok(()) => (Verdict::Pass, alg_name.to_string()),
        Err(e) => (Verdict::Fail, e.detail),
    };
    if spki.algorithm.oid == RSA_ENCRYPTION {
        // The modulus dominates the encoded key: 2048 bits take 270 octets.
        let len = spki.subject_public_key.raw_bytes().len();
        if len < 260 {
            v = Verdict::Fail;
            seen = format!(
                "{seen}; RSA key of about {} bits",
                (len.saturating_sub(10)) * 8
            );
        }
    }
    f.push(Finding::new(
        "A6",
        Group::Signer,
        v,
        seen,
        format!("{}; RSA ≥ 2048 bits", Rule::SignatureAlgorithm.id()),
        rules.source_of(Rule::SignatureAlgorithm),
    ));
}

fn a_signer_kind(a: &crate::query::Answered) -> Option<SignerKind> {
    match &a.verification {
        Verification::Verified { signer_kind, .. } => Some(*signer_kind),
        Verification::Failed(Failure::Chain { signer_kind, .. }) => Some(*signer_kind),
        _ => None,
    }
}

/// A2–A6: id, rule, source.
const RULES: [(&str, &str, &str); 5] = [
    (
        "A2",
        "the signer is the issuer or its delegated OCSP responder with the BR profile",
        "RFC 6960 §4.2.2.2; CA/B BR §7.1.2.8",
    ),
    (
        "A3",
        "ResponderID byKey",
        "RFC 9919 §2.2.2 (RFC 6960 §4.2.2.3)",
    ),
    (
        "A4",
        "a delegated responder's certificate is included",
        "RFC 6960 §4.2.2.2, RFC 9919 §2.2.1",
    ),
    (
        "A5",
        "the signer certificate does not expire within 30 days",
        "operational (CA/B BR §4.9.10: nextUpdate within the signer's validity)",
    ),
    (
        "A6",
        "signature-algorithm; RSA ≥ 2048 bits",
        "CA/B BR §7.1.3.2, §6.1.5",
    ),
];
