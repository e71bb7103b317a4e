//! Transport checks: POST and GET are answered as RFC 6960 Appendix A says, lenient GET
//! encodings are understood, other methods are refused cleanly, answers come quickly.
//!
//! | id | probe | PASS when |
//! |---|---|---|
//! | T1 | POST `application/ocsp-request` | 200, `application/ocsp-response`, an OCSP response |
//! | T2 | GET `{url}/{urlencode(base64)}` | the same |
//! | T3 | GET as base64url without padding, unescaped `+/=`, after `//` (`--aggressive` only) | the same statuses as T2 (WARN otherwise) |
//! | T4 | PUT (`--aggressive` only) | a 4xx status |
//! | T5 | every request of the run | the slowest within 10 s (BR §4.10.2) |

use crate::lint::finding::{Finding, Group, Verdict};
use crate::lint::probes::{Lab, Probe};
use crate::lint::profile::LintProfile;
use crate::query::{judge, Checks, Judged};
use base64::Engine as _;

const OCSP_RESPONSE: &str = "application/ocsp-response";

fn answered_ok(p: &Probe) -> (bool, String) {
    let Some(ex) = p.exchange() else {
        return (false, p.outcome());
    };
    let ct = ex.content_type.as_deref().unwrap_or("(no Content-Type)");
    let ok_ct = ct.eq_ignore_ascii_case(OCSP_RESPONSE);
    let ocsp = matches!(
        p.judged,
        Some(Judged::Answered(_)) | Some(Judged::ErrorStatus(_))
    );
    (
        ex.status == 200 && ok_ct && ocsp,
        format!(
            "{}, {ct}, {} octets in {} ms",
            p.outcome(),
            ex.body.len(),
            ex.elapsed.as_millis()
        ),
    )
}

/// T1 and T2 from the base POST and GET probes.
pub fn methods_answered(f: &mut Vec<Finding>, post: &Probe, get: &Probe, profile: LintProfile) {
    let (ok, seen) = answered_ok(post);
    f.push(Finding::new(
        "T1",
        Group::Transport,
        if ok { Verdict::Pass } else { Verdict::Fail },
        format!("POST: {seen}"),
        "POST application/ocsp-request is answered 200 with application/ocsp-response",
        "RFC 6960 Appendix A.1",
    ));
    let (ok, seen) = answered_ok(get);
    f.push(Finding::new(
        "T2",
        Group::Transport,
        if ok {
            Verdict::Pass
        } else {
            profile.public_only().max(profile.since_9919())
        },
        format!("GET: {seen}"),
        "GET {url}/{urlencode(base64(DER))} is answered like POST",
        "RFC 6960 Appendix A.1, RFC 9919 §5, CA/B BR §4.9.9",
    ));
}

fn statuses(j: &Judged) -> Option<Vec<Option<String>>> {
    match j {
        Judged::Answered(a) => Some(
            a.answers
                .iter()
                .map(|x| x.as_ref().map(|x| x.status.name().to_string()))
                .collect(),
        ),
        _ => None,
    }
}

/// T3: the same request in the encodings real clients send.
pub async fn get_encodings(lab: &mut Lab, f: &mut Vec<Finding>, get: usize) {
    let (asked, want) = {
        let p = lab.probe(get);
        (p.asked.clone(), p.judged.as_ref().and_then(statuses))
    };
    let Some(want) = want else {
        f.push(Finding::new(
            "T3",
            Group::Transport,
            Verdict::Skip,
            "the plain GET was not answered successfully; nothing to compare with",
            "GET encodings clients use (base64url, unescaped, //) are understood",
            "RFC 6960 Appendix A.1; cfssl#354, boulder#798, vault#18938",
        ));
        return;
    };
    let std = base64::engine::general_purpose::STANDARD.encode(&asked.der);
    let url_nopad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&asked.der);
    let escaped = ocsp_proto::get_path::encode_component(&asked.der);
    let forms = [
        ("base64url without padding", lab.get_url(&url_nopad)),
        ("unescaped + / =", lab.get_url(&std)),
        ("after //", lab.get_url(&format!("/{escaped}"))),
    ];
    let mut bad = Vec::new();
    for (what, url) in forms {
        let r = lab.raw("GET", &url, Vec::new(), &[]).await;
        let got = match &r {
            Ok(r) if r.status == 200 => {
                let j = judge(
                    &r.body,
                    &asked,
                    std::slice::from_ref(&lab.issuer),
                    &Checks {
                        noverify: true,
                        ..Checks::default()
                    },
                    crate::now(),
                );
                statuses(&j)
            }
            _ => None,
        };
        if got.as_ref() != Some(&want) {
            let how = match r {
                Ok(r) if r.status == 200 => "a different answer".to_string(),
                Ok(r) => format!("HTTP {}", r.status),
                Err(e) => e,
            };
            bad.push(format!("{what}: {how}"));
        }
    }
    f.push(Finding::new(
        "T3",
        Group::Transport,
        if bad.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Warn
        },
        if bad.is_empty() {
            "base64url without padding, unescaped + / =, and // all answered as the plain GET"
                .to_string()
        } else {
            format!("not understood: {}", bad.join("; "))
        },
        "GET encodings clients use (base64url, unescaped, //) are understood",
        "RFC 6960 Appendix A.1; cfssl#354, boulder#798, vault#18938",
    ));
}

/// T3 and T4 when not sent (without `--aggressive`).
pub fn skipped(f: &mut Vec<Finding>) {
    f.push(Finding::new(
        "T3",
        Group::Transport,
        Verdict::Skip,
        "sent only with --aggressive (a GET a responder cannot read may stop it)",
        "GET encodings clients use (base64url, unescaped, //) are understood",
        "RFC 6960 Appendix A.1; cfssl#354, boulder#798, vault#18938",
    ));
    f.push(Finding::new(
        "T4",
        Group::Transport,
        Verdict::Skip,
        "sent only with --aggressive (an unexpected method may stop a responder)",
        "methods other than GET and POST are refused with a 4xx (405), not a crash",
        "RFC 9110 §15.5.6; RFC 6960 Appendix A",
    ));
}

/// T4: a method OCSP does not use is refused with a 4xx, and the server keeps answering.
pub async fn other_method(lab: &mut Lab, f: &mut Vec<Finding>) {
    let url = lab.url.clone();
    let r = lab
        .raw("PUT", &url, b"not an OCSP request".to_vec(), &[])
        .await;
    let (verdict, seen) = match r {
        Ok(r) if (400..500).contains(&r.status) => {
            (Verdict::Pass, format!("PUT answered HTTP {}", r.status))
        }
        Ok(r) => (Verdict::Warn, format!("PUT answered HTTP {}", r.status)),
        Err(e) => (Verdict::Warn, format!("PUT: {e}")),
    };
    f.push(Finding::new(
        "T4",
        Group::Transport,
        verdict,
        seen,
        "methods other than GET and POST are refused with a 4xx (405), not a crash",
        "RFC 9110 §15.5.6; RFC 6960 Appendix A",
    ));
}

/// T5: latency over every request of the run.
pub fn latency(f: &mut Vec<Finding>, lab: &Lab) {
    let mut t: Vec<u128> = lab.timings.iter().map(|d| d.as_millis()).collect();
    if t.is_empty() {
        f.push(Finding::new(
            "T5",
            Group::Transport,
            Verdict::Skip,
            "no request was answered",
            "answers within 10 seconds",
            "CA/B BR §4.10.2",
        ));
        return;
    }
    t.sort_unstable();
    let p50 = t[t.len() / 2];
    let max = t[t.len() - 1];
    f.push(Finding::new(
        "T5",
        Group::Transport,
        if max <= 10_000 {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        format!("{} requests: median {p50} ms, slowest {max} ms", t.len()),
        "answers within 10 seconds",
        "CA/B BR §4.10.2",
    ));
}
