//! The status page's lookup form: what the responder would state for a serial, asked of
//! the issuer's status source exactly as a request would ask it, with no signature made.
//!
//! `?issuer=NAME&serial=HEX` (the issuer may be left out when only one is served). The
//! answer applies the issuer's `unknown_serial` policy, as live signing does
//! ([`crate::issuer::Issuer::stated_status`]): a serial with no record is `unknown`, or
//! `revoked` (certificateHold, 1970-01-01) under `unknown_serial = "revoked"`; never
//! `good`. A name no issuer has is what a request would get `unauthorized` for; a backend
//! that cannot answer, `tryLater`.
//!
//! The query is hostile input like any other: percent-decoded leniently, bounded
//! ([`MAX_SERIAL_DIGITS`]), and every value is escaped where it is shown.

use crate::issuer::IssuerSet;

use ocsp_proto::{CertStatus, Serial};
use serde::Serialize;

/// Longest serial accepted, in hex digits (RFC 5280 allows 20 octets; some CAs exceed it).
pub const MAX_SERIAL_DIGITS: usize = 128;

/// What the form asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupQuery {
    /// The issuer's name, if given.
    pub issuer: Option<String>,
    /// The serial as typed, if given.
    pub serial: Option<String>,
}

fn decode(v: &str) -> String {
    let plus = v.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

impl LookupQuery {
    /// From a URL query string (`issuer=…&serial=…`); unknown keys are ignored.
    pub fn parse(query: &str) -> LookupQuery {
        let mut q = LookupQuery::default();
        for pair in query.split('&').take(16) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v);
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match k {
                "issuer" => q.issuer = Some(v.chars().take(256).collect()),
                "serial" => q.serial = Some(v.chars().take(MAX_SERIAL_DIGITS + 8).collect()),
                _ => {}
            }
        }
        q
    }

    /// Whether a lookup was asked for (a serial was given).
    pub fn asked(&self) -> bool {
        self.serial.is_some()
    }
}

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LookupResult {
    /// The issuer asked about (as given, or the only one served).
    pub issuer: Option<String>,
    /// The serial as typed.
    pub serial: String,
    /// The serial normalised (upper-case hex, as index.txt writes it), if it parsed.
    pub serial_hex: Option<String>,
    /// What the responder would answer: `good`, `revoked`, `unknown`, or the error status
    /// a request would get (`unauthorized`, `tryLater`), or `invalid` for a serial that
    /// is not hex.
    pub answer: String,
    /// Whether the status source holds a record of the serial.
    pub on_record: bool,
    /// revocationTime (RFC 3339), when revoked.
    pub revocation_time: Option<String>,
    /// revocationReason, when revoked with one.
    pub revocation_reason: Option<String>,
    /// The status-source generation the answer comes from.
    pub generation: Option<u64>,
    /// Why, in words.
    pub detail: String,
}

/// Look `q` up among `issuers`.
pub async fn run(q: &LookupQuery, issuers: &IssuerSet) -> LookupResult {
    let typed = q.serial.clone().unwrap_or_default();
    let mut out = LookupResult {
        issuer: q.issuer.clone(),
        serial: typed.clone(),
        serial_hex: None,
        answer: "invalid".into(),
        on_record: false,
        revocation_time: None,
        revocation_reason: None,
        generation: None,
        detail: String::new(),
    };
    let digits: String = typed.chars().filter(|c| *c != ':' && *c != ' ').collect();
    let serial = match Serial::from_hex(&digits) {
        Some(s) if digits.len() <= MAX_SERIAL_DIGITS => s,
        _ => {
            out.detail = format!(
                "not a serial number: give up to {MAX_SERIAL_DIGITS} hex digits, e.g. 1000 or 0x1A2B (colons allowed)"
            );
            return out;
        }
    };
    out.serial_hex = Some(serial.to_hex());
    let issuer = match &q.issuer {
        Some(name) => issuers.iter().find(|i| i.name == *name),
        None if issuers.len() == 1 => issuers.iter().next(),
        None => {
            out.detail = "several issuers are served: choose one".into();
            return out;
        }
    };
    let Some(issuer) = issuer else {
        out.answer = "unauthorized".into();
        out.detail =
            "no served issuer has this name: a request for it would be answered unauthorized"
                .into();
        return out;
    };
    out.issuer = Some(issuer.name.clone());
    let lookup = match issuer.status.status(&serial).await {
        Ok(l) => l,
        Err(e) => {
            out.answer = "tryLater".into();
            out.detail = format!(
                "the status backend cannot answer ({e}): a request would be answered tryLater"
            );
            return out;
        }
    };
    out.generation = Some(lookup.generation);
    out.on_record = lookup.status.is_some();
    let (stated, _) = issuer.stated_status(lookup.status.as_ref());
    out.answer = stated.name().into();
    if let CertStatus::Revoked(r) = &stated {
        out.revocation_time = Some(r.time.rfc3339());
        out.revocation_reason = r.reason.map(|r| r.to_string());
    }
    out.detail = match (&lookup.status, &stated) {
        (Some(_), _) => format!("on record in {}", issuer.status.describe()),
        (None, CertStatus::Revoked(_)) => "no record: answered revoked (certificateHold, 1970-01-01, extended-revoke) under unknown_serial = \"revoked\"".into(),
        (None, _) => "no record: answered unknown (unknown_serial = \"unknown\")".into(),
    };
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::UnknownSerial;
    use crate::source::testkit::{self, Kit};

    fn q(issuer: Option<&str>, serial: &str) -> LookupQuery {
        LookupQuery {
            issuer: issuer.map(str::to_string),
            serial: Some(serial.to_string()),
        }
    }

    #[tokio::test]
    async fn answers_as_live_signing_would_state_it() {
        let kit = Kit::new(&[
            ("01", Some(CertStatus::Good)),
            ("0A", Some(testkit::revoked())),
        ]);
        let r = run(&q(Some("test"), "0a"), &kit.issuers).await;
        assert_eq!(r.answer, "revoked", "{r:?}");
        assert!(r.on_record && r.revocation_time.is_some());
        assert_eq!(r.serial_hex.as_deref(), Some("0A"));
        assert_eq!(run(&q(None, "0x01"), &kit.issuers).await.answer, "good");
        let r = run(&q(None, "77"), &kit.issuers).await;
        assert_eq!((r.answer.as_str(), r.on_record), ("unknown", false));
        assert_eq!(
            run(&q(Some("other"), "01"), &kit.issuers).await.answer,
            "unauthorized"
        );
        for bad in ["zz", "", "-1", &"f".repeat(MAX_SERIAL_DIGITS + 1)] {
            assert_eq!(
                run(&q(None, bad), &kit.issuers).await.answer,
                "invalid",
                "{bad}"
            );
        }
        let strict = Kit::with_policy(&[], UnknownSerial::Revoked);
        let r = run(&q(None, "77"), &strict.issuers).await;
        assert_eq!((r.answer.as_str(), r.on_record), ("revoked", false));
        assert_eq!(r.revocation_time.as_deref(), Some("1970-01-01T00:00:00Z"));
    }

    #[test]
    fn query_parsing_is_lenient_and_bounded() {
        let q = LookupQuery::parse("issuer=Demo+CA%20%C3%A9&serial=%20 0a:1b &x=y");
        assert_eq!(q.issuer.as_deref(), Some("Demo CA é"));
        assert_eq!(q.serial.as_deref(), Some("0a:1b"));
        assert!(q.asked());
        assert!(!LookupQuery::parse("issuer=x&serial=").asked());
        let long = format!("serial={}", "f".repeat(100_000));
        let q = LookupQuery::parse(&long);
        assert_eq!(q.serial.map(|s| s.len()), Some(MAX_SERIAL_DIGITS + 8));
        let q = LookupQuery::parse("serial=%ZZ%&&&=&issuer");
        assert_eq!(q.serial.as_deref(), Some("%ZZ%"));
    }
}
