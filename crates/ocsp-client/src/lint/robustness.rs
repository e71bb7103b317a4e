//! Robustness probes, sent only with `--aggressive`: hostile input must get a clean refusal
//! and must not stop the responder. Bounded: three hostile requests, each followed by one
//! ordinary request that must still be answered, every one within the request timeout;
//! at most seven requests and one idle connection held for at most the timeout.
//!
//! | id | probe | PASS when |
//! |---|---|---|
//! | R1 | a 100 KiB POST body | 413 or `malformedRequest`, and the responder still answers |
//! | R2 | an idle TCP connection left open | a second client is answered meanwhile |
//! | R3 | GET paths that are not base64 (`%ZZ`, `!!!`) | 400 or `malformedRequest`, and the responder still answers |

use crate::lint::finding::{Finding, Group, Verdict};
use crate::lint::probes::Lab;
use ocsp_proto::x509_ocsp::OcspResponseStatus;

/// Size of the oversized body.
pub const BIG_BODY: usize = 100 * 1024;

fn refusal(status: u16, body: &[u8], ok_http: &[u16]) -> (bool, String) {
    if ok_http.contains(&status) {
        return (true, format!("HTTP {status}"));
    }
    if status == 200 {
        return match ocsp_proto::response::parse(body) {
            Ok(ocsp_proto::response::ParsedResponse::Error(
                OcspResponseStatus::MalformedRequest,
            )) => (true, "malformedRequest".into()),
            Ok(ocsp_proto::response::ParsedResponse::Error(s)) => {
                (true, ocsp_proto::text::status_name(s).to_string())
            }
            Ok(_) => (false, "a successful response".into()),
            Err(_) => (false, "HTTP 200 with a body that is not OCSP".into()),
        };
    }
    ((400..500).contains(&status), format!("HTTP {status}"))
}

async fn alive(lab: &mut Lab, base: &[u8]) -> Result<(), String> {
    let url = lab.url.clone();
    match lab
        .raw(
            "POST",
            &url,
            base.to_vec(),
            &[("Content-Type".into(), "application/ocsp-request".into())],
        )
        .await
    {
        Ok(r) if r.status == 200 => Ok(()),
        Ok(r) => Err(format!("the next ordinary request got HTTP {}", r.status)),
        Err(e) => Err(format!("the responder stopped answering: {e}")),
    }
}

fn finding(id: &'static str, outcome: Result<String, String>, rule: &str, src: &str) -> Finding {
    match outcome {
        Ok(seen) => Finding::new(id, Group::Robustness, Verdict::Pass, seen, rule, src),
        Err(seen) => Finding::new(id, Group::Robustness, Verdict::Fail, seen, rule, src),
    }
}

/// R1–R3; `base` is the DER of an ordinary request.
pub async fn check(lab: &mut Lab, f: &mut Vec<Finding>, base: &[u8]) {
    // R1
    let url = lab.url.clone();
    let big = vec![0x30u8; BIG_BODY];
    let r = lab
        .raw(
            "POST",
            &url,
            big,
            &[("Content-Type".into(), "application/ocsp-request".into())],
        )
        .await;
    let first = match &r {
        Ok(r) => {
            let (ok, s) = refusal(r.status, &r.body, &[413, 400]);
            if ok {
                Ok(format!("100 KiB body: {s}"))
            } else {
                Err(format!("100 KiB body: {s}"))
            }
        }
        Err(e) if e.starts_with("cannot connect") => Err(format!("100 KiB body: {e}")),
        // A server may close the connection on an oversized body: a refusal too.
        Err(e) => Ok(format!("100 KiB body: connection ended ({e})")),
    };
    let outcome = match (first, alive(lab, base).await) {
        (Ok(s), Ok(())) => Ok(format!("{s}; still answering")),
        (Ok(s), Err(e)) | (Err(s), Err(e)) => Err(format!("{s}; {e}")),
        (Err(s), Ok(())) => Err(format!("{s}; still answering")),
    };
    f.push(finding(
        "R1",
        outcome,
        "an oversized body is refused (413 or malformedRequest) and the server survives",
        "RFC 9110 §15.5.14; RFC 6960 §4.2.1",
    ));

    // R2
    let outcome = idle_then_ask(lab, base).await;
    f.push(finding(
        "R2",
        outcome,
        "an idle connection does not block other clients",
        "openssl#31129, openssl#23934 (availability, CA/B BR §4.10.2)",
    ));

    // R3
    let mut seen = Vec::new();
    let mut bad = false;
    for path in ["%ZZ%ZZ", "!!!not-base64!!!"] {
        let u = lab.get_url(path);
        match lab.raw("GET", &u, Vec::new(), &[]).await {
            Ok(r) => {
                let (ok, s) = refusal(r.status, &r.body, &[400, 404]);
                bad |= !ok;
                seen.push(format!("GET /{path}: {s}"));
            }
            Err(e) => {
                bad = true;
                seen.push(format!("GET /{path}: {e}"));
            }
        }
    }
    let seen = seen.join("; ");
    let outcome = match alive(lab, base).await {
        Ok(()) if !bad => Ok(format!("{seen}; still answering")),
        Ok(()) => Err(format!("{seen}; still answering")),
        Err(e) => Err(format!("{seen}; {e}")),
    };
    f.push(finding(
        "R3",
        outcome,
        "an undecodable GET is refused (400 or malformedRequest) and the server survives",
        "RFC 6960 §2.3, Appendix A.1; openssl#3043",
    ));
}

async fn idle_then_ask(lab: &mut Lab, base: &[u8]) -> Result<String, String> {
    let uri: http::Uri = lab.url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let host = uri
        .host()
        .unwrap_or("localhost")
        .trim_matches(['[', ']'])
        .to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let idle = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot open the idle connection: {e}"))?;
    let r = alive(lab, base).await;
    drop(idle);
    match r {
        Ok(()) => Ok("answered while another connection sat idle".into()),
        Err(e) => Err(format!("while another connection sat idle: {e}")),
    }
}
