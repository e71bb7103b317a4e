//! Semantic checks: does the responder say the right thing?
//!
//! | id | probe | PASS when |
//! |---|---|---|
//! | S1 | each `--cert` / `--serial` | `good` |
//! | S2 | each `--revoked-cert` | `revoked` with a revocationTime; a reasonCode under the public profiles |
//! | S3 | a random 20-octet serial under the issuer | anything but `good` (profile rule `unassigned-never-good`) |
//! | S4 | a CertID of an issuer nobody serves | `unauthorized` (`unknown` passes under rfc6960 only) |
//! | S5 | a SHA-256 CertID | answered, with the SHA-256 CertID |
//! | S6 | three CertIDs in one request | three answers, or a clean OCSP error |
//! | S7 | a POST body that is not DER (`--aggressive` only) | `malformedRequest` (another 4xx is a warning) |

use crate::lint::finding::{Finding, Group, Verdict};
use crate::lint::probes::{random_serial, Lab, Probe};
use crate::lint::profile::LintProfile;
use crate::query::Asked;
use crate::request::Target;
use crate::transport::Method;
use ocsp_proto::profile::Rule;
use ocsp_proto::x509_ocsp::OcspResponseStatus;
use ocsp_proto::{CertStatus, HashAlg};

fn first_status(p: &Probe) -> Option<&CertStatus> {
    p.answered()?.answers.first()?.as_ref().map(|a| &a.status)
}

fn verified_note(p: &Probe) -> &'static str {
    match p.answered() {
        Some(a) if !a.verified() && p.verifiable => " (the response did not verify, see A1)",
        _ => "",
    }
}

/// Indices of the probes the semantic checks sent, for the checks that read them later.
#[derive(Default)]
pub struct Sent {
    /// S3.
    pub random: Option<usize>,
    /// S4.
    pub unknown_issuer: Option<usize>,
    /// S7's OCSP status, when one came back.
    pub garbage_status: Option<OcspResponseStatus>,
}

/// S1–S7.
pub async fn check(
    lab: &mut Lab,
    f: &mut Vec<Finding>,
    good: &[Target],
    revoked: &[Target],
    profile: LintProfile,
) -> Sent {
    let mut sent = Sent::default();
    // S1
    if good.is_empty() {
        f.push(Finding::new(
            "S1",
            Group::Semantics,
            Verdict::Skip,
            "no --cert or --serial given",
            "a certificate the CA issued and did not revoke is good",
            "RFC 6960 §2.2",
        ));
    }
    for t in good {
        let Some(asked) = lab.asked(std::slice::from_ref(t), HashAlg::Sha1, None) else {
            continue;
        };
        let i = lab.send("good certificate", asked, Method::Post).await;
        let p = lab.probe(i);
        let (v, seen) = match first_status(p) {
            Some(CertStatus::Good) => (
                Verdict::Pass,
                format!("{}: good{}", t.label, verified_note(p)),
            ),
            Some(s) => (Verdict::Fail, format!("{}: {}", t.label, s.name())),
            None => (
                Verdict::Fail,
                format!("{}: no answer ({})", t.label, p.outcome()),
            ),
        };
        f.push(Finding::new(
            "S1",
            Group::Semantics,
            v,
            seen,
            "a certificate the CA issued and did not revoke is good",
            "RFC 6960 §2.2",
        ));
    }
    // S2
    if revoked.is_empty() {
        f.push(Finding::new(
            "S2",
            Group::Semantics,
            Verdict::Skip,
            "no --revoked-cert given",
            "a revoked certificate is revoked, with its time and reason",
            "RFC 6960 §2.2, §4.2.1; CA/B BR §7.2.2, §7.3",
        ));
    }
    for t in revoked {
        let Some(asked) = lab.asked(std::slice::from_ref(t), HashAlg::Sha1, None) else {
            continue;
        };
        let i = lab.send("revoked certificate", asked, Method::Post).await;
        let p = lab.probe(i);
        let (v, seen) = match first_status(p) {
            Some(CertStatus::Revoked(r)) => match r.reason {
                Some(reason) => (
                    Verdict::Pass,
                    format!(
                        "{}: revoked at {}, {}",
                        t.label,
                        r.time,
                        reason.openssl_name()
                    ),
                ),
                None => (
                    if profile.is_public() {
                        Verdict::Warn
                    } else {
                        Verdict::Pass
                    },
                    format!("{}: revoked at {}, no reasonCode", t.label, r.time),
                ),
            },
            Some(s) => (Verdict::Fail, format!("{}: {}", t.label, s.name())),
            None => (
                Verdict::Fail,
                format!("{}: no answer ({})", t.label, p.outcome()),
            ),
        };
        f.push(Finding::new(
            "S2",
            Group::Semantics,
            v,
            seen,
            "a revoked certificate is revoked, with its time and reason",
            "RFC 6960 §2.2, §4.2.1; CA/B BR §7.2.2, §7.3",
        ));
    }
    // S3
    let random = lab.target("random serial", random_serial());
    if let Some(asked) = lab.asked(std::slice::from_ref(&random), HashAlg::Sha1, None) {
        let i = lab.send("random serial", asked, Method::Post).await;
        sent.random = Some(i);
        let p = lab.probe(i);
        let rules = profile.rules();
        let (v, seen) = match (first_status(p), p.error_status()) {
            (Some(CertStatus::Good), _) => (
                Verdict::Fail,
                format!("serial {} (never issued): good", random.serial),
            ),
            (Some(s), _) => (
                Verdict::Pass,
                format!("serial {} (never issued): {}", random.serial, s.name()),
            ),
            (None, Some(e)) => (
                Verdict::Pass,
                format!(
                    "serial {} (never issued): {}",
                    random.serial,
                    ocsp_proto::text::status_name(e)
                ),
            ),
            (None, None) => (
                Verdict::Warn,
                format!("serial {}: {}", random.serial, p.outcome()),
            ),
        };
        f.push(Finding::new(
            "S3",
            Group::Semantics,
            v,
            seen,
            Rule::UnassignedNeverGood.id(),
            rules.source_of(Rule::UnassignedNeverGood),
        ));
    }
    // S4
    let fake = fake_issuer_asked(lab, &random);
    if let Some(asked) = fake {
        let i = lab
            .send_with("unknown issuer", asked, Method::Post, &[], false)
            .await;
        sent.unknown_issuer = Some(i);
        let p = lab.probe(i);
        let (v, seen) = match (first_status(p), p.error_status()) {
            (_, Some(OcspResponseStatus::Unauthorized)) => {
                (Verdict::Pass, "unauthorized".to_string())
            }
            (Some(CertStatus::Unknown), _) => (
                if profile == LintProfile::Rfc6960 {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
                "unknown (a signed answer about an issuer the responder does not serve)"
                    .to_string(),
            ),
            (Some(s), _) => (Verdict::Fail, s.name().to_string()),
            (None, Some(e)) => (Verdict::Warn, ocsp_proto::text::status_name(e).to_string()),
            (None, None) => (Verdict::Fail, p.outcome()),
        };
        f.push(Finding::new(
            "S4",
            Group::Semantics,
            v,
            format!("CertID of an issuer nobody serves: {seen}"),
            "a CertID of an issuer the responder does not serve is answered unauthorized",
            "RFC 9919 §2.2.3 (RFC 5019 §2.2.3); RFC 6960 §2.3",
        ));
    }
    // S5
    let t = good
        .first()
        .or(revoked.first())
        .cloned()
        .unwrap_or(random.clone());
    if let Some(asked) = lab.asked(std::slice::from_ref(&t), HashAlg::Sha256, None) {
        let i = lab.send("SHA-256 CertID", asked, Method::Post).await;
        let p = lab.probe(i);
        let echoed = p.answered().is_some_and(|a| {
            a.basic
                .tbs_response_data
                .responses
                .iter()
                .any(|s| s.cert_id == p.asked.cert_ids[0])
        });
        let (v, seen) = match (first_status(p), echoed) {
            (Some(s), true) => (
                Verdict::Pass,
                format!("{}: {} under a SHA-256 CertID", t.label, s.name()),
            ),
            (Some(s), false) => (
                profile.since_9919(),
                format!(
                    "{}: {} but not under the SHA-256 CertID asked",
                    t.label,
                    s.name()
                ),
            ),
            (None, _) => (
                profile.since_9919(),
                format!("{}: {}", t.label, p.outcome()),
            ),
        };
        f.push(Finding::new(
            "S5",
            Group::Semantics,
            v,
            seen,
            "CertIDs hashed with SHA-256 are answered",
            "RFC 9919 §2.1.1 (clients use SHA-256)",
        ));
    }
    // S6
    let mut three: Vec<Target> = good.iter().chain(revoked).take(2).cloned().collect();
    while three.len() < 3 {
        three.push(lab.target("random serial", random_serial()));
    }
    if let Some(asked) = lab.asked(&three, HashAlg::Sha1, None) {
        let i = lab.send("three CertIDs", asked, Method::Post).await;
        let p = lab.probe(i);
        let (v, seen) = match (p.answered(), p.error_status()) {
            (Some(a), _) => {
                let n = a.answers.iter().flatten().count();
                if n == 3 {
                    (Verdict::Pass, "three CertIDs, three answers".to_string())
                } else {
                    (
                        Verdict::Fail,
                        format!("three CertIDs, {n} of them answered"),
                    )
                }
            }
            (None, Some(e)) => (
                Verdict::Pass,
                format!(
                    "three CertIDs declined with {} (allowed)",
                    ocsp_proto::text::status_name(e)
                ),
            ),
            (None, None) => (Verdict::Fail, p.outcome()),
        };
        f.push(Finding::new(
            "S6",
            Group::Semantics,
            v,
            seen,
            "a request with several CertIDs gets one answer each, or a clean error",
            "RFC 6960 §4.1.1, §4.2.1",
        ));
    }
    sent
}

/// S7 (`--aggressive` only: `openssl ocsp` exits on it); returns the OCSP status seen.
pub async fn garbage(lab: &mut Lab, f: &mut Vec<Finding>) -> Option<OcspResponseStatus> {
    let mut sent = Sent::default();
    // S7
    let url = lab.url.clone();
    let garbage = b"\x30\x03\x02\x01this is not an OCSP request".to_vec();
    let r = lab
        .raw(
            "POST",
            &url,
            garbage,
            &[("Content-Type".into(), "application/ocsp-request".into())],
        )
        .await;
    let (v, seen) = match r {
        Ok(r) if r.status == 200 => match ocsp_proto::response::parse(&r.body) {
            Ok(ocsp_proto::response::ParsedResponse::Error(s)) => {
                sent.garbage_status = Some(s);
                (
                    if s == OcspResponseStatus::MalformedRequest {
                        Verdict::Pass
                    } else {
                        Verdict::Warn
                    },
                    format!("HTTP 200 {}", ocsp_proto::text::status_name(s)),
                )
            }
            Ok(_) => (
                Verdict::Fail,
                "HTTP 200 successful: a signed answer to garbage".to_string(),
            ),
            Err(e) => (
                Verdict::Fail,
                format!("HTTP 200 with a body that is not OCSP: {e}"),
            ),
        },
        Ok(r) if (400..500).contains(&r.status) => (
            Verdict::Warn,
            format!("HTTP {} instead of malformedRequest", r.status),
        ),
        Ok(r) => (Verdict::Fail, format!("HTTP {}", r.status)),
        Err(e) => (Verdict::Fail, e),
    };
    f.push(Finding::new(
        "S7",
        Group::Semantics,
        v,
        format!("POST of non-DER bytes: {seen}"),
        "a request that does not parse is answered malformedRequest",
        "RFC 6960 §2.3, §4.2.1",
    ));
    sent.garbage_status
}

/// S7 when not sent.
pub fn garbage_skipped(f: &mut Vec<Finding>) {
    f.push(Finding::new(
        "S7",
        Group::Semantics,
        Verdict::Skip,
        "sent only with --aggressive (a request that does not parse may stop a responder)",
        "a request that does not parse is answered malformedRequest",
        "RFC 6960 §2.3, §4.2.1",
    ));
}

/// A request whose CertID names an issuer with made-up name and key hashes.
fn fake_issuer_asked(lab: &Lab, random: &Target) -> Option<Asked> {
    let mut asked = lab.asked(std::slice::from_ref(random), HashAlg::Sha1, None)?;
    let noise = crate::random_nonce().ok()?;
    let id = &mut asked.cert_ids[0];
    id.issuer_name_hash = der::asn1::OctetString::new(noise[..20].to_vec()).ok()?;
    id.issuer_key_hash = der::asn1::OctetString::new(noise[12..32].to_vec()).ok()?;
    asked.der = ocsp_proto::request::build(&asked.cert_ids, None).ok()?;
    asked.labels = vec!["unknown issuer".into()];
    Some(asked)
}
