//! Encoding checks over every successful response of the run.
//!
//! | id | PASS when |
//! |---|---|
//! | E1 | the OCSPResponse is DER: decoding and re-encoding gives the same octets, nothing trails |
//! | E2 | producedAt, thisUpdate, nextUpdate and revocationTime are GeneralizedTime `YYYYMMDDHHMMSSZ` (the strict DER decoder accepts nothing else) |
//! | E3 | no empty `responseExtensions` (`A1 02 30 00`, Mozilla mozpkix) or `certs` |
//! | E4 | no critical extension lint does not know |
//! | E5 | one SingleResponse per requested CertID, its CertID equal to the request's octet for octet |

use crate::lint::finding::{Finding, Group, Verdict};
use crate::lint::probes::Lab;
use der::{Decode, Encode};
use ocsp_proto::const_oid::db::rfc5280::{ID_CE_HOLD_INSTRUCTION_CODE, ID_CE_INVALIDITY_DATE};
use ocsp_proto::const_oid::db::rfc6960::{ID_PKIX_OCSP_EXTENDED_REVOKE, ID_PKIX_OCSP_NONCE};
use ocsp_proto::x509_ocsp::{BasicOcspResponse, OcspResponse};
use ocsp_proto::Timestamp;

/// Critical extensions lint knows.
const KNOWN: [ocsp_proto::const_oid::ObjectIdentifier; 4] = [
    ID_PKIX_OCSP_NONCE,
    ID_PKIX_OCSP_EXTENDED_REVOKE,
    ID_CE_INVALIDITY_DATE,
    ID_CE_HOLD_INSTRUCTION_CODE,
];

/// E1: whether `der` is a DER OCSPResponse with nothing after it; why not.
pub fn der_problem(der: &[u8]) -> Option<String> {
    match OcspResponse::from_der(der) {
        Err(e) => Some(format!("not DER: {e}")),
        Ok(r) => match r.to_der() {
            Ok(again) if again == der => None,
            Ok(_) => Some("re-encoding gives different octets (not DER)".into()),
            Err(e) => Some(format!("cannot re-encode: {e}")),
        },
    }
}

/// E3 and E4 on one BasicOCSPResponse: whether a SEQUENCE that must not be empty is
/// (`responseExtensions`, `certs`), and the unknown critical extensions.
fn structure(basic: &BasicOcspResponse) -> (Vec<&'static str>, Vec<String>) {
    let rd = &basic.tbs_response_data;
    let mut empty = Vec::new();
    if matches!(&rd.response_extensions, Some(v) if v.is_empty()) {
        empty.push("responseExtensions");
    }
    if matches!(&basic.certs, Some(v) if v.is_empty()) {
        empty.push("certs");
    }
    let unknown = rd
        .response_extensions
        .iter()
        .flatten()
        .chain(
            rd.responses
                .iter()
                .flat_map(|s| s.single_extensions.iter().flatten()),
        )
        .filter(|e| e.critical && !KNOWN.contains(&e.extn_id))
        .map(|e| e.extn_id.to_string())
        .collect();
    (empty, unknown)
}

/// The checks that need nothing but one response's octets: E1–E4 and the sign of the
/// validity interval (P3's `nextUpdate` after `thisUpdate`). What `ocsp lint` says of a
/// single response; the tests hold it against `pkilint`'s `lint_ocsp_response`.
pub fn one_response(der: &[u8]) -> Vec<Finding> {
    let mut f = Vec::new();
    let push = |f: &mut Vec<Finding>,
                id: &'static str,
                group: Group,
                bad: Option<String>,
                rule: &str,
                src: &str| {
        f.push(match bad {
            None => Finding::new(id, group, Verdict::Pass, "as required", rule, src),
            Some(b) => Finding::new(id, group, Verdict::Fail, b, rule, src),
        })
    };
    push(
        &mut f,
        "E1",
        Group::Encoding,
        der_problem(der),
        "the response is DER, nothing after it",
        "RFC 6960 §4.2.1 (X.690 DER)",
    );
    let basic = match ocsp_proto::response::parse(der) {
        Ok(ocsp_proto::response::ParsedResponse::Basic { basic, .. }) => basic,
        Ok(ocsp_proto::response::ParsedResponse::Error(_)) => return f,
        Err(e) => {
            push(
                &mut f,
                "E2",
                Group::Encoding,
                Some(format!("not parseable: {e}")),
                "GeneralizedTime in UTC with seconds, no fractions",
                "RFC 5280 §4.1.2.5.2",
            );
            return f;
        }
    };
    push(
        &mut f,
        "E2",
        Group::Encoding,
        None,
        "GeneralizedTime in UTC with seconds, no fractions",
        "RFC 5280 §4.1.2.5.2",
    );
    let (empty, unknown) = structure(&basic);
    push(
        &mut f,
        "E3",
        Group::Encoding,
        (!empty.is_empty()).then(|| format!("empty {}", empty.join(", "))),
        "no empty responseExtensions or certs",
        "RFC 6960 §4.2.1 (SEQUENCE SIZE (1..MAX)); Mozilla mozpkix",
    );
    push(
        &mut f,
        "E4",
        Group::Encoding,
        (!unknown.is_empty()).then(|| format!("unknown critical {}", unknown.join(", "))),
        "no critical extension a client may not know",
        "RFC 6960 §4.4, RFC 5280 §4.2",
    );
    let negative: Vec<String> = basic
        .tbs_response_data
        .responses
        .iter()
        .filter_map(|s| {
            let this = Timestamp::from_ocsp(&s.this_update);
            let next = Timestamp::from_ocsp(s.next_update.as_ref()?);
            (next < this).then(|| format!("nextUpdate {next} before thisUpdate {this}"))
        })
        .collect();
    push(
        &mut f,
        "P3",
        Group::Time,
        (!negative.is_empty()).then(|| negative.join("; ")),
        "validity-min: nextUpdate not before thisUpdate",
        "RFC 6960 §4.2.2.1",
    );
    f
}

/// E1–E5.
pub fn check(f: &mut Vec<Finding>, lab: &Lab) {
    let mut n = 0usize;
    let (mut e1, mut e3, mut e4, mut e5) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut e5_checked = 0usize;
    for p in &lab.probes {
        let (Some(a), Some(ex)) = (p.answered(), p.exchange()) else {
            continue;
        };
        n += 1;
        if let Some(why) = der_problem(&ex.body) {
            e1.push(format!("{}: {why}", p.name));
        }
        let rd = &a.basic.tbs_response_data;
        if matches!(&rd.response_extensions, Some(v) if v.is_empty()) {
            e3.push(p.name.to_string());
        }
        let exts = rd.response_extensions.iter().flatten().chain(
            rd.responses
                .iter()
                .flat_map(|s| s.single_extensions.iter().flatten()),
        );
        for e in exts {
            if e.critical && !KNOWN.contains(&e.extn_id) {
                e4.push(format!("{}: {}", p.name, e.extn_id));
            }
        }
        if p.verifiable {
            e5_checked += 1;
            let mut problems = Vec::new();
            if rd.responses.len() != p.asked.cert_ids.len() {
                problems.push(format!(
                    "{} CertIDs asked, {} SingleResponses",
                    p.asked.cert_ids.len(),
                    rd.responses.len()
                ));
            }
            for (id, label) in p.asked.cert_ids.iter().zip(&p.asked.labels) {
                let want = id.to_der().unwrap_or_default();
                let found = rd
                    .responses
                    .iter()
                    .any(|s| s.cert_id.to_der().map(|d| d == want).unwrap_or(false));
                if !found {
                    problems.push(format!("no answer with the CertID of {label} as sent"));
                }
            }
            if !problems.is_empty() {
                e5.push(format!("{}: {}", p.name, problems.join(", ")));
            }
        }
    }
    let line = |id: &'static str, bad: &[String], v: Verdict, ok: String, rule: &str, src: &str| {
        if n == 0 {
            Finding::new(
                id,
                Group::Encoding,
                Verdict::Skip,
                "no successful response",
                rule,
                src,
            )
        } else if bad.is_empty() {
            Finding::new(id, Group::Encoding, Verdict::Pass, ok, rule, src)
        } else {
            Finding::new(id, Group::Encoding, v, bad.join("; "), rule, src)
        }
    };
    f.push(line(
        "E1",
        &e1,
        Verdict::Fail,
        format!("{n} responses are DER with nothing trailing"),
        "the response is DER, nothing after it",
        "RFC 6960 §4.2.1 (X.690 DER)",
    ));
    f.push(line(
        "E2",
        &[],
        Verdict::Fail,
        format!("{n} responses: every time is GeneralizedTime YYYYMMDDHHMMSSZ"),
        "GeneralizedTime in UTC with seconds, no fractions",
        "RFC 5280 §4.1.2.5.2, RFC 9919 §3.2",
    ));
    f.push(line(
        "E3",
        &e3,
        Verdict::Fail,
        format!("{n} responses: no empty responseExtensions or certs"),
        "no empty responseExtensions or certs",
        "RFC 6960 §4.2.1 (SEQUENCE SIZE (1..MAX)); Mozilla mozpkix",
    ));
    f.push(line(
        "E4",
        &e4,
        Verdict::Warn,
        format!("{n} responses: no unknown critical extension"),
        "no critical extension a client may not know",
        "RFC 6960 §4.4, RFC 5280 §4.2",
    ));
    if e5_checked == 0 {
        f.push(Finding::new(
            "E5",
            Group::Encoding,
            Verdict::Skip,
            "no successful response to compare",
            "one SingleResponse per requested CertID, octet for octet",
            "RFC 6960 §4.2.2.3, RFC 9919 §3.2; boulder#2331",
        ));
    } else {
        f.push(line(
            "E5",
            &e5,
            Verdict::Fail,
            format!("{e5_checked} responses: every CertID answered exactly as asked"),
            "one SingleResponse per requested CertID, octet for octet",
            "RFC 6960 §4.2.2.3, RFC 9919 §3.2; boulder#2331",
        ));
    }
}
