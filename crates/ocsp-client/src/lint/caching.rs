//! Caching checks (RFC 9919 §6, RFC 5019 §6): an answer to a request without a nonce is the
//! same for everyone until nextUpdate, so the responder should let HTTP caches keep it, for
//! no longer than it is valid; error answers must not be cached.
//!
//! | id | PASS when |
//! |---|---|
//! | C1 | `Cache-Control: max-age=N` with N ≤ nextUpdate − Date (60 s slack) |
//! | C2 | `Cache-Control` has `public`, `no-transform`, `must-revalidate` |
//! | C3 | `Expires` = nextUpdate, `Last-Modified` = thisUpdate (±60 s), `Date` present |
//! | C4 | an `ETag`, and `If-None-Match` with it answered 304 (SKIP without an ETag) |
//! | C5 | error answers (`unauthorized`, `malformedRequest`) carry no positive `max-age` |
//!
//! Missing headers are warnings: the RFCs say SHOULD.

use crate::lint::finding::{Finding, Group, Verdict};
use crate::lint::probes::{Lab, Probe};
use crate::transport::Method;
use ocsp_proto::Timestamp;

const SRC: &str = "RFC 9919 §6 (RFC 5019 §6)";
/// Slack allowed between header times and response times.
const SLACK: u64 = 60;

fn header<'a>(p: &'a Probe, name: &str) -> Option<&'a str> {
    p.exchange()?.headers.get(name)?.to_str().ok()
}

fn max_age(cc: &str) -> Option<u64> {
    cc.split(',').find_map(|d| {
        let d = d.trim();
        let v = d
            .strip_prefix("max-age=")
            .or_else(|| d.strip_prefix("s-maxage="))?;
        v.trim_matches('"').parse().ok()
    })
}

/// Parse an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7).
pub fn parse_http_date(s: &str) -> Option<Timestamp> {
    let rest = s.trim().split_once(", ")?.1;
    let mut it = rest.split(' ');
    let day: u32 = it.next()?.parse().ok()?;
    let mon_s = it.next()?;
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == mon_s)? as u32
        + 1;
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':');
    let h: u64 = hms.next()?.parse().ok()?;
    let m: u64 = hms.next()?.parse().ok()?;
    let sec: u64 = hms.next()?.parse().ok()?;
    if it.next()? != "GMT" || day == 0 || day > 31 || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y = if mon <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mon as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    if days < 0 {
        return None;
    }
    Some(Timestamp(days as u64 * 86_400 + h * 3600 + m * 60 + sec))
}

fn near(a: Timestamp, b: Timestamp) -> bool {
    a.0.abs_diff(b.0) <= SLACK
}

/// C1–C4 on the plain GET (no nonce).
pub async fn headers(lab: &mut Lab, f: &mut Vec<Finding>, get: usize) {
    let p = lab.probe(get);
    let Some(a) = p.answered() else {
        for (id, rule) in [
            ("C1", "max-age no longer than the answer is valid"),
            ("C2", "Cache-Control public, no-transform, must-revalidate"),
            (
                "C3",
                "Expires = nextUpdate, Last-Modified = thisUpdate, Date",
            ),
            ("C4", "ETag, and 304 Not Modified on If-None-Match"),
        ] {
            f.push(Finding::new(
                id,
                Group::Caching,
                Verdict::Skip,
                format!(
                    "the plain GET was not answered successfully ({})",
                    p.outcome()
                ),
                rule,
                SRC,
            ));
        }
        return;
    };
    let this = a.answers.iter().flatten().map(|x| x.this_update).min();
    let next = a
        .answers
        .iter()
        .flatten()
        .filter_map(|x| x.next_update)
        .min();
    let date = header(p, "date").and_then(parse_http_date);
    let now = date.unwrap_or(p.exchange().map(|e| e.started).unwrap_or_else(crate::now));
    let cc = header(p, "cache-control").map(str::to_string);

    // C1
    let (v, seen) = match (&cc, cc.as_deref().and_then(max_age)) {
        (None, _) => (Verdict::Warn, "no Cache-Control header".to_string()),
        (Some(cc), None) => (
            Verdict::Warn,
            format!("Cache-Control {cc:?} has no max-age"),
        ),
        (Some(cc), Some(age)) => match next {
            Some(n) if now.plus(age) > n.plus(SLACK) => (
                Verdict::Fail,
                format!(
                    "Cache-Control {cc:?}: cached until {} but nextUpdate is {}",
                    now.plus(age),
                    n
                ),
            ),
            Some(n) => (
                Verdict::Pass,
                format!(
                    "max-age={age}, nextUpdate in {} s",
                    n.0.saturating_sub(now.0)
                ),
            ),
            None => (
                Verdict::Warn,
                format!("max-age={age} but the answer has no nextUpdate to bound it"),
            ),
        },
    };
    f.push(Finding::new(
        "C1",
        Group::Caching,
        v,
        seen,
        "max-age present and no longer than nextUpdate − now",
        SRC,
    ));

    // C2
    let (v, seen) = match &cc {
        None => (Verdict::Warn, "no Cache-Control header".to_string()),
        Some(cc) => {
            let lc = cc.to_ascii_lowercase();
            let missing: Vec<&str> = ["public", "no-transform", "must-revalidate"]
                .into_iter()
                .filter(|d| !lc.split(',').any(|x| x.trim() == *d))
                .collect();
            if missing.is_empty() {
                (Verdict::Pass, format!("Cache-Control {cc:?}"))
            } else {
                (
                    Verdict::Warn,
                    format!("Cache-Control {cc:?} lacks {}", missing.join(", ")),
                )
            }
        }
    };
    f.push(Finding::new(
        "C2",
        Group::Caching,
        v,
        seen,
        "Cache-Control public, no-transform, must-revalidate",
        SRC,
    ));

    // C3
    let mut problems = Vec::new();
    match (header(p, "expires"), next) {
        (None, _) => problems.push("no Expires".to_string()),
        (Some(e), Some(n)) => match parse_http_date(e) {
            Some(t) if near(t, n) => {}
            Some(t) => problems.push(format!("Expires {t} is not nextUpdate {n}")),
            None => problems.push(format!("Expires {e:?} is not an HTTP date")),
        },
        (Some(_), None) => {}
    }
    match (header(p, "last-modified"), this) {
        (None, _) => problems.push("no Last-Modified".to_string()),
        (Some(l), Some(t0)) => match parse_http_date(l) {
            Some(t) if near(t, t0) => {}
            Some(t) => problems.push(format!("Last-Modified {t} is not thisUpdate {t0}")),
            None => problems.push(format!("Last-Modified {l:?} is not an HTTP date")),
        },
        (Some(_), None) => {}
    }
    if date.is_none() {
        problems.push("no (valid) Date".to_string());
    }
    f.push(Finding::new(
        "C3",
        Group::Caching,
        if problems.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Warn
        },
        if problems.is_empty() {
            "Expires = nextUpdate, Last-Modified = thisUpdate, Date present".to_string()
        } else {
            problems.join("; ")
        },
        "Expires = nextUpdate, Last-Modified = thisUpdate, Date present",
        SRC,
    ));

    // C4
    let etag = header(p, "etag").map(str::to_string);
    let asked = p.asked.clone();
    let Some(etag) = etag else {
        f.push(Finding::new(
            "C4",
            Group::Caching,
            Verdict::Skip,
            "no ETag (optional); conditional GET not probed",
            "ETag, and 304 Not Modified on If-None-Match",
            "RFC 9919 §6, RFC 9110 §13.1.2",
        ));
        return;
    };
    let i = lab
        .send_with(
            "conditional GET",
            asked,
            Method::Get,
            &[("If-None-Match".to_string(), etag.clone())],
            true,
        )
        .await;
    let p = lab.probe(i);
    let (v, seen) = match p.exchange() {
        Some(ex) if ex.status == 304 => (
            Verdict::Pass,
            format!("ETag {etag}; If-None-Match answered 304"),
        ),
        Some(ex) if ex.status == 200 => (
            Verdict::Warn,
            format!("ETag {etag}; If-None-Match answered 200 with the body again"),
        ),
        Some(ex) => (
            Verdict::Fail,
            format!("ETag {etag}; If-None-Match answered HTTP {}", ex.status),
        ),
        None => (
            Verdict::Fail,
            format!("ETag {etag}; If-None-Match: {}", p.outcome()),
        ),
    };
    f.push(Finding::new(
        "C4",
        Group::Caching,
        v,
        seen,
        "ETag, and 304 Not Modified on If-None-Match",
        "RFC 9919 §6, RFC 9110 §13.1.2",
    ));
}

/// C5: error answers are not cacheable.
pub fn errors_not_cached(f: &mut Vec<Finding>, lab: &Lab, probes: &[usize]) {
    let mut seen = Vec::new();
    let mut bad = Vec::new();
    for &i in probes {
        let p = lab.probe(i);
        let Some(s) = p.error_status() else { continue };
        let name = ocsp_proto::text::status_name(s);
        let cc = header(p, "cache-control").unwrap_or("");
        let cacheable = max_age(cc).is_some_and(|a| a > 0)
            && !cc.contains("no-store")
            && !cc.contains("no-cache");
        seen.push(format!("{name}: Cache-Control {cc:?}"));
        if cacheable {
            bad.push(name);
        }
    }
    let (v, text) = if seen.is_empty() {
        (Verdict::Skip, "no error answer was received".to_string())
    } else if bad.is_empty() {
        (Verdict::Pass, seen.join("; "))
    } else {
        (
            Verdict::Warn,
            format!("cacheable error answers: {}", seen.join("; ")),
        )
    };
    f.push(Finding::new(
        "C5",
        Group::Caching,
        v,
        text,
        "error answers are not cached (no positive max-age)",
        "RFC 9919 §6; boulder#1485",
    ));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Timestamp(784_111_777))
        );
        let t = Timestamp(1_800_000_000);
        assert_eq!(parse_http_date(&t.http_date()), Some(t));
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(max_age("public, max-age=600, no-transform"), Some(600));
        assert_eq!(max_age("no-cache"), None);
    }
}
