//! Nonce checks (RFC 9654, which replaced RFC 8954 and updates RFC 6960 §4.4.1).
//!
//! | id | probe | PASS when |
//! |---|---|---|
//! | N1 | a 32-octet nonce | echoed octet for octet (WARN: not echoed, a documented "ignore nonces" policy is allowed) |
//! | N2 | no nonce (the plain POST) | no nonce in the response |
//! | N3 | nonces of 0 and 129 octets | `malformedRequest` (RFC 9654 §2.1: 1..128 octets, a responder MUST reject others) |

use crate::lint::finding::{Finding, Group, Verdict};
use crate::lint::probes::{Lab, Probe};
use crate::lint::profile::LintProfile;
use crate::request::Target;
use crate::transport::Method;
use ocsp_proto::x509_ocsp::OcspResponseStatus;
use ocsp_proto::HashAlg;

const SRC: &str = "RFC 9654 §2.1";

fn nonce_of(p: &Probe) -> Option<&[u8]> {
    p.answered()?.nonce.as_deref()
}

/// N1–N3; `plain` is a probe sent without a nonce.
pub async fn check(
    lab: &mut Lab,
    f: &mut Vec<Finding>,
    t: &Target,
    plain: usize,
    profile: LintProfile,
) {
    // N1
    let nonce = crate::random_nonce().unwrap_or_else(|_| vec![0xA5; 32]);
    if let Some(asked) = lab.asked(std::slice::from_ref(t), HashAlg::Sha1, Some(nonce.clone())) {
        let i = lab.send("32-octet nonce", asked, Method::Post).await;
        let p = lab.probe(i);
        let (v, seen) = match (p.answered(), nonce_of(p)) {
            (None, _) => (Verdict::Fail, p.outcome()),
            (Some(_), None) => (
                Verdict::Warn,
                "not echoed (the responder ignores nonces)".to_string(),
            ),
            (Some(_), Some(n)) if n == nonce.as_slice() => {
                (Verdict::Pass, "32 octets echoed".to_string())
            }
            (Some(_), Some(n)) => (
                Verdict::Fail,
                format!("a different nonce came back ({} octets)", n.len()),
            ),
        };
        f.push(Finding::new(
            "N1",
            Group::Nonce,
            v,
            seen,
            "a 32-octet nonce is echoed exactly",
            SRC,
        ));
    }
    // N2
    let p = lab.probe(plain);
    let (v, seen) = match (p.answered(), nonce_of(p)) {
        (None, _) => (
            Verdict::Skip,
            format!("the plain request was not answered ({})", p.outcome()),
        ),
        (Some(_), None) => (Verdict::Pass, "no nonce asked, none answered".to_string()),
        (Some(_), Some(n)) => (
            Verdict::Fail,
            format!("a {}-octet nonce nobody sent", n.len()),
        ),
    };
    f.push(Finding::new(
        "N2",
        Group::Nonce,
        v,
        seen,
        "no nonce in the response when none was asked",
        "RFC 6960 §4.4.1, RFC 9654 §2.1",
    ));
    // N3
    let mut seen = Vec::new();
    let mut worst = Verdict::Pass;
    for len in [0usize, 129] {
        let Some(asked) = lab.asked(
            std::slice::from_ref(t),
            HashAlg::Sha1,
            Some(vec![0x42; len]),
        ) else {
            continue;
        };
        let i = lab.send("out-of-bounds nonce", asked, Method::Post).await;
        let p = lab.probe(i);
        let (v, s) = match (p.error_status(), p.answered()) {
            (Some(OcspResponseStatus::MalformedRequest), _) => {
                (Verdict::Pass, "malformedRequest".to_string())
            }
            (Some(e), _) => (Verdict::Warn, ocsp_proto::text::status_name(e).to_string()),
            (None, Some(a)) => match &a.nonce {
                Some(n) if n.len() == len => {
                    (profile.since_9919(), "answered and echoed".to_string())
                }
                Some(n) => (
                    profile.since_9919(),
                    format!("answered, echoing {} octets", n.len()),
                ),
                None => (
                    profile.since_9919(),
                    "answered without the nonce instead of refused".to_string(),
                ),
            },
            (None, None) => (Verdict::Warn, p.outcome()),
        };
        worst = worst.max(v);
        seen.push(format!("{len} octets: {s}"));
    }
    f.push(Finding::new(
        "N3",
        Group::Nonce,
        worst,
        seen.join("; "),
        "nonces of 0 or more than 128 octets are refused with malformedRequest",
        SRC,
    ));
}
