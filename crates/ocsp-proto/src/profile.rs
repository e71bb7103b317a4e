//! Compliance profiles: the rules a response must meet before it is signed.
//!
//! A [`Profile`] names a documented set of rules (`private`, `cabf`, `mozilla`,
//! `microsoft`). The responder checks every response against its profile right before
//! signing ([`Profile::check_response`], [`Profile::check_algorithm`]) and refuses to start
//! with a configuration that cannot comply ([`Profile::check_config`]), naming the rule.
//!
//! | rule | private | cabf | mozilla | microsoft |
//! |---|---|---|---|---|
//! | `next-update-present` (RFC 9919 §4.2.2) | yes | yes | yes | yes |
//! | `validity-min`: nextUpdate − thisUpdate + 1 s ≥ | 1 s | 8 h | 8 h | 8 h |
//! | `validity-max`: nextUpdate − thisUpdate + 1 s ≤ | — | 10 days | 10 days | 7 days |
//! | `next-update-within-signer` (nextUpdate ≤ responder notAfter) | yes | yes | yes | yes |
//! | `this-update-not-future` (thisUpdate ≤ producedAt) | yes | yes | yes | yes |
//! | `unassigned-never-good` | yes | yes | yes | yes |
//! | `signature-algorithm`: no SHA-1 | yes | yes | yes | yes |
//! | `signature-algorithm`: RSA PKCS#1 v1.5 / PSS with SHA-256/384/512, ECDSA with the curve's hash | — | yes | yes | yes |
//! | `signature-algorithm`: ECDSA P-256/SHA-256 and P-384/SHA-384 only, no P-521 | — | — | yes | — |
//! | `refresh`: replace a response ≥ 8 h before nextUpdate and ≤ 4 days after thisUpdate (half-way when the validity is under 16 h) | — | yes | yes | yes |
//!
//! The validity interval counts both ends, as the Baseline Requirements (§4.9.10) define
//! it: a response with thisUpdate T and nextUpdate T + 10 days is valid for 10 days and
//! one second, one second too long for `cabf`.
//!
//! Times are arguments: this module reads no clock.

use crate::facts::{AnswerFacts, ResponseFacts};
use crate::response::ResponseParams;
use crate::sigalg;
use crate::status::CertStatus;
use crate::{HashAlg, Timestamp};
use const_oid::db::{rfc5912, rfc8410};
use const_oid::ObjectIdentifier;
use der::Decode;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoRef};

/// The Baseline Requirements' shortest validity (nextUpdate − thisUpdate + 1 s): 8 hours.
pub const MIN_VALIDITY_SECS: u64 = 8 * 3600;
/// Microsoft's longest validity: 7 days (the CA/B Forum allows 10).
pub const MAX_VALIDITY_SECS_MICROSOFT: u64 = 7 * 86_400;
/// The CA/B Forum's longest validity: 10 days.
pub const MAX_VALIDITY_SECS_CABF: u64 = 10 * 86_400;
/// Under the public profiles a response is replaced no later than this after thisUpdate.
pub const MAX_REFRESH_AFTER_THIS_UPDATE_SECS: u64 = 4 * 86_400;
/// ... and at least this long before its nextUpdate (validity of 16 hours or more).
pub const MIN_REFRESH_BEFORE_NEXT_UPDATE_SECS: u64 = 8 * 3600;

/// A compliance profile: which root program's rules responses follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// A private PKI: RFC 6960/9919 only (nextUpdate present and positive, no SHA-1, no
    /// `good` for unassigned serials, nextUpdate within the responder certificate).
    #[default]
    Private,
    /// The CA/Browser Forum Baseline Requirements (§4.9.9–4.10.2, §7.1.3.2).
    Cabf,
    /// The Mozilla Root Store Policy (§5.1, §6.2) on top of the Baseline Requirements.
    Mozilla,
    /// The Microsoft Trusted Root Program: the Baseline Requirements with at most 7 days of
    /// validity.
    Microsoft,
}

/// A rule of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Every SingleResponse carries nextUpdate.
    NextUpdatePresent,
    /// The validity interval is long enough.
    ValidityMin,
    /// The validity interval is short enough.
    ValidityMax,
    /// No nextUpdate after the responder certificate's notAfter.
    NextUpdateWithinSigner,
    /// thisUpdate is not after producedAt.
    ThisUpdateNotFuture,
    /// A serial the CA never issued is never answered `good`.
    UnassignedNeverGood,
    /// The signature algorithm is one the profile allows.
    SignatureAlgorithm,
    /// Pre-signed responses are replaced in time.
    Refresh,
}

impl Rule {
    /// The rule's short name, as printed in messages and metric labels.
    pub fn id(self) -> &'static str {
        match self {
            Rule::NextUpdatePresent => "next-update-present",
            Rule::ValidityMin => "validity-min",
            Rule::ValidityMax => "validity-max",
            Rule::NextUpdateWithinSigner => "next-update-within-signer",
            Rule::ThisUpdateNotFuture => "this-update-not-future",
            Rule::UnassignedNeverGood => "unassigned-never-good",
            Rule::SignatureAlgorithm => "signature-algorithm",
            Rule::Refresh => "refresh",
        }
    }
}

/// A response or configuration that breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("profile {profile}, rule {} ({}): {detail}", rule.id(), profile.source_of(*rule))]
pub struct Violation {
    /// The profile.
    pub profile: Profile,
    /// The rule broken.
    pub rule: Rule,
    /// What breaks it and, for configurations, the fix.
    pub detail: String,
}

/// What the profile needs to know about the key that is about to sign.
#[derive(Clone, Copy, Debug)]
pub struct SignerFacts<'a> {
    /// The signatureAlgorithm the response will carry.
    pub algorithm: &'a AlgorithmIdentifierOwned,
    /// The signer's DER SubjectPublicKeyInfo (for the curve of an EC key).
    pub spki_der: &'a [u8],
    /// The responder certificate's notAfter.
    pub not_after: Timestamp,
}

fn human(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d} d"));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s} s"));
    }
    parts.join(" ")
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 4] = [
        Profile::Private,
        Profile::Cabf,
        Profile::Mozilla,
        Profile::Microsoft,
    ];

    /// The profile's name (`private`, `cabf`, `mozilla`, `microsoft`).
    pub fn name(self) -> &'static str {
        match self {
            Profile::Private => "private",
            Profile::Cabf => "cabf",
            Profile::Mozilla => "mozilla",
            Profile::Microsoft => "microsoft",
        }
    }

    /// Parse a profile name (any case).
    pub fn from_name(s: &str) -> Option<Profile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    /// Whether this is one of the public (root program) profiles.
    pub fn is_public(self) -> bool {
        self != Profile::Private
    }

    /// Where a rule of this profile comes from.
    pub fn source_of(self, rule: Rule) -> &'static str {
        match (self, rule) {
            (_, Rule::NextUpdatePresent) => "RFC 9919 §4.2.2: responses always carry nextUpdate",
            (Profile::Private, Rule::ValidityMin) => "nextUpdate after thisUpdate",
            (_, Rule::ValidityMin) => "CA/B BR §4.9.10: validity interval of at least 8 hours",
            (Profile::Microsoft, Rule::ValidityMax) => {
                "Microsoft Trusted Root Program: validity interval of at most 7 days"
            }
            (Profile::Mozilla, Rule::ValidityMax) => {
                "Mozilla Root Store Policy §6.2 / CA/B BR §4.9.10: validity interval of at most 10 days"
            }
            (_, Rule::ValidityMax) => "CA/B BR §4.9.10: validity interval of at most 10 days",
            (_, Rule::NextUpdateWithinSigner) => {
                "CA/B BR §4.9.10, Mozilla §6.2: nextUpdate no later than the responder certificate's notAfter"
            }
            (_, Rule::ThisUpdateNotFuture) => "RFC 6960 §4.2.2.1: thisUpdate not after producedAt",
            (_, Rule::UnassignedNeverGood) => {
                "CA/B BR §4.9.10: a serial that was never issued is never answered good"
            }
            (Profile::Private, Rule::SignatureAlgorithm) => "no SHA-1 signatures",
            (Profile::Mozilla, Rule::SignatureAlgorithm) => {
                "Mozilla Root Store Policy §5.1: RSA PKCS#1 v1.5 or PSS with SHA-256/384/512, ECDSA P-256 with SHA-256 or P-384 with SHA-384"
            }
            (_, Rule::SignatureAlgorithm) => {
                "CA/B BR §7.1.3.2: RSA PKCS#1 v1.5 or PSS with SHA-256/384/512, ECDSA with its curve's hash; no SHA-1"
            }
            (Profile::Private, Rule::Refresh) => "no refresh deadline before nextUpdate",
            (_, Rule::Refresh) => {
                "CA/B BR §4.9.10: update at least 8 hours before nextUpdate and within 4 days of thisUpdate"
            }
        }
    }

    /// The validity interval bounds (inclusive counting), in seconds.
    pub fn validity_bounds(self) -> (u64, Option<u64>) {
        match self {
            Profile::Private => (1, None),
            Profile::Cabf | Profile::Mozilla => (MIN_VALIDITY_SECS, Some(MAX_VALIDITY_SECS_CABF)),
            Profile::Microsoft => (MIN_VALIDITY_SECS, Some(MAX_VALIDITY_SECS_MICROSOFT)),
        }
    }

    fn violation(self, rule: Rule, detail: impl Into<String>) -> Violation {
        Violation {
            profile: self,
            rule,
            detail: detail.into(),
        }
    }

    /// Check a validity interval given as nextUpdate − thisUpdate (seconds); the interval
    /// counted by the rules is one second longer.
    pub fn check_validity(self, next_minus_this: u64) -> Result<(), Violation> {
        let interval = next_minus_this.saturating_add(1);
        let (min, max) = self.validity_bounds();
        if next_minus_this == 0 || interval < min {
            return Err(self.violation(
                Rule::ValidityMin,
                format!(
                    "nextUpdate − thisUpdate of {} gives a validity interval of {}, under {}",
                    human(next_minus_this),
                    human(interval),
                    human(min)
                ),
            ));
        }
        if let Some(max) = max {
            if interval > max {
                return Err(self.violation(
                    Rule::ValidityMax,
                    format!(
                        "nextUpdate − thisUpdate of {} gives a validity interval of {} (both ends count), over {}",
                        human(next_minus_this),
                        human(interval),
                        human(max)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Check the algorithm a signer signs with, and its key.
    pub fn check_algorithm(
        self,
        alg: &AlgorithmIdentifierOwned,
        spki_der: &[u8],
    ) -> Result<(), Violation> {
        let name = sigalg::algorithm_name(alg);
        let digest = match sigalg::signature_digest(alg) {
            Ok(d) => d,
            Err(e) => {
                return Err(self.violation(Rule::SignatureAlgorithm, format!("{name}: {e}")));
            }
        };
        if digest == Some(HashAlg::Sha1) {
            return Err(self.violation(
                Rule::SignatureAlgorithm,
                format!("{name} is a SHA-1 signature; sign with SHA-256 or longer (--rmd sha256)"),
            ));
        }
        if !self.is_public() {
            return Ok(());
        }
        match alg.oid {
            rfc5912::SHA_256_WITH_RSA_ENCRYPTION
            | rfc5912::SHA_384_WITH_RSA_ENCRYPTION
            | rfc5912::SHA_512_WITH_RSA_ENCRYPTION
            | rfc5912::ID_RSASSA_PSS => Ok(()),
            rfc5912::ECDSA_WITH_SHA_256 | rfc5912::ECDSA_WITH_SHA_384 | rfc5912::ECDSA_WITH_SHA_512 => {
                let curve = SubjectPublicKeyInfoRef::from_der(spki_der)
                    .ok()
                    .and_then(|k| k.algorithm.parameters)
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                let (curve_name, want) = match curve {
                    Some(rfc5912::SECP_256_R_1) => ("P-256", Some(HashAlg::Sha256)),
                    Some(rfc5912::SECP_384_R_1) => ("P-384", Some(HashAlg::Sha384)),
                    Some(rfc5912::SECP_521_R_1) if self != Profile::Mozilla => ("P-521", Some(HashAlg::Sha512)),
                    Some(rfc5912::SECP_521_R_1) => ("P-521", None),
                    _ => ("an unknown curve", None),
                };
                match want {
                    Some(h) if digest == Some(h) => Ok(()),
                    Some(h) => Err(self.violation(
                        Rule::SignatureAlgorithm,
                        format!("{name} with a {curve_name} key: this profile pairs {curve_name} with {h} (--rmd {h})"),
                    )),
                    None => Err(self.violation(
                        Rule::SignatureAlgorithm,
                        format!("{name} with {curve_name}: not allowed; use an RSA, P-256 or P-384 key"),
                    )),
                }
            }
            rfc8410::ID_ED_25519 => Err(self.violation(
                Rule::SignatureAlgorithm,
                "Ed25519 signatures are not allowed for publicly trusted CAs; use an RSA, P-256 or P-384 key",
            )),
            _ => Err(self.violation(Rule::SignatureAlgorithm, format!("{name} is not allowed"))),
        }
    }

    /// Check a configuration before serving: the validity it gives every response
    /// (`validity_secs` = nextUpdate − thisUpdate), the signer's algorithm, and whether the
    /// responder certificate lives long enough for a compliant response `now`. Returns every
    /// violation.
    pub fn check_config(
        self,
        validity_secs: u64,
        signer: &SignerFacts<'_>,
        now: Timestamp,
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        if let Err(v) = self.check_validity(validity_secs) {
            out.push(v);
        }
        if let Err(v) = self.check_algorithm(signer.algorithm, signer.spki_der) {
            out.push(v);
        }
        let left = signer.not_after.0.saturating_sub(now.0);
        let (min, _) = self.validity_bounds();
        if left.saturating_add(1) < min {
            out.push(self.violation(
                Rule::NextUpdateWithinSigner,
                format!(
                    "the responder certificate expires in {}: nextUpdate is clamped to its notAfter, which leaves a validity under {}; renew the responder certificate",
                    human(left),
                    human(min)
                ),
            ));
        }
        out
    }

    /// When a response produced with `this_update` and `next_update` must be replaced at the
    /// latest. Under the public profiles: at least 8 hours before nextUpdate and no later than
    /// 4 days after thisUpdate, or half-way through a validity under 16 hours. Under `private`:
    /// nextUpdate.
    pub fn refresh_deadline(self, this_update: Timestamp, next_update: Timestamp) -> Timestamp {
        if !self.is_public() {
            return next_update;
        }
        let span = next_update.0.saturating_sub(this_update.0);
        if span >= 2 * MIN_REFRESH_BEFORE_NEXT_UPDATE_SECS {
            next_update
                .minus(MIN_REFRESH_BEFORE_NEXT_UPDATE_SECS)
                .min(this_update.plus(MAX_REFRESH_AFTER_THIS_UPDATE_SECS))
        } else {
            this_update.plus(span / 2)
        }
    }

    /// Check that a cache refreshing responses `refresh_before_secs` before their nextUpdate
    /// (validity `validity_secs`) meets the refresh rule.
    pub fn check_refresh(
        self,
        validity_secs: u64,
        refresh_before_secs: u64,
    ) -> Result<(), Violation> {
        let this = Timestamp(0);
        let next = this.plus(validity_secs);
        let deadline = self.refresh_deadline(this, next);
        let refresh_at = next.minus(refresh_before_secs);
        if refresh_at > deadline {
            return Err(self.violation(
                Rule::Refresh,
                format!(
                    "responses valid for {} are refreshed {} before nextUpdate; they must be refreshed at least {} before it",
                    human(validity_secs),
                    human(refresh_before_secs),
                    human(next.0 - deadline.0)
                ),
            ));
        }
        Ok(())
    }

    /// Check a response about to be signed. `on_record[i]` says whether the status source
    /// held a record of the serial of `params.answers[i]`; a missing entry counts as no
    /// record (so a `good` for it is refused). The first violation is returned.
    pub fn check_response(
        self,
        params: &ResponseParams<'_>,
        on_record: &[bool],
        signer: &SignerFacts<'_>,
    ) -> Result<(), Violation> {
        let facts = ResponseFacts::from_params(params, on_record, *signer);
        match self.judge(&facts, true).into_iter().next() {
            Some(v) => Err(v),
            None => Ok(()),
        }
    }

    /// Every rule `facts` break, in rule order per answer (algorithm first). The same rules
    /// as [`Profile::check_response`], for a response received (`ocsp lint`).
    pub fn check_facts(self, facts: &ResponseFacts<'_>) -> Vec<Violation> {
        self.judge(facts, false)
    }

    fn judge(self, facts: &ResponseFacts<'_>, first_only: bool) -> Vec<Violation> {
        let mut out = Vec::new();
        if let Err(v) = self.check_algorithm(facts.signer.algorithm, facts.signer.spki_der) {
            out.push(v);
            if first_only {
                return out;
            }
        }
        for a in &facts.answers {
            for v in self.answer_violations(a, facts) {
                out.push(v);
                if first_only {
                    return out;
                }
            }
        }
        out
    }

    fn answer_violations(self, a: &AnswerFacts, facts: &ResponseFacts<'_>) -> Vec<Violation> {
        let mut out = Vec::new();
        match a.next_update {
            None => out.push(self.violation(
                Rule::NextUpdatePresent,
                format!(
                    "the SingleResponse for serial {} has no nextUpdate",
                    a.serial
                ),
            )),
            Some(next) if next <= a.this_update => out.push(self.violation(
                Rule::ValidityMin,
                format!(
                    "nextUpdate {next} is not after thisUpdate {}",
                    a.this_update
                ),
            )),
            Some(next) => {
                if let Err(v) = self.check_validity(next.0 - a.this_update.0) {
                    out.push(v);
                }
                if next > facts.signer.not_after {
                    out.push(self.violation(
                        Rule::NextUpdateWithinSigner,
                        format!(
                            "nextUpdate {next} is after the responder certificate's notAfter {}",
                            facts.signer.not_after
                        ),
                    ));
                }
            }
        }
        if a.this_update > facts.produced_at {
            out.push(self.violation(
                Rule::ThisUpdateNotFuture,
                format!(
                    "thisUpdate {} is after producedAt {}",
                    a.this_update, facts.produced_at
                ),
            ));
        }
        if matches!(a.status, CertStatus::Good) && a.on_record == Some(false) {
            out.push(self.violation(
                Rule::UnassignedNeverGood,
                format!(
                    "serial {} has no record but would be answered good",
                    a.serial
                ),
            ));
        }
        out
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Profile, String> {
        Profile::from_name(s).ok_or_else(|| {
            format!("unknown profile {s:?}: use private, cabf, mozilla or microsoft")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{ResponderIdKind, SingleAnswer};
    use crate::Serial;
    use der::Encode;

    fn ec_spki(curve: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
        let kp = rcgen::KeyPair::generate_for(curve).unwrap();
        rcgen::PublicKeyData::subject_public_key_info(&kp)
    }

    fn alg(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        }
    }

    fn rsa_alg() -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            parameters: Some(der::Any::from_der(&der::asn1::Null.to_der().unwrap()).unwrap()),
        }
    }

    #[test]
    fn validity_windows_count_both_ends() {
        let day = 86_400;
        assert!(Profile::Cabf.check_validity(day).is_ok());
        assert!(Profile::Cabf.check_validity(MIN_VALIDITY_SECS - 1).is_ok());
        assert_eq!(
            Profile::Cabf
                .check_validity(MIN_VALIDITY_SECS - 2)
                .unwrap_err()
                .rule,
            Rule::ValidityMin
        );
        assert!(Profile::Cabf.check_validity(10 * day - 1).is_ok());
        let v = Profile::Cabf.check_validity(10 * day).unwrap_err();
        assert_eq!(v.rule, Rule::ValidityMax);
        assert!(v.to_string().contains("validity-max"), "{v}");
        assert!(Profile::Mozilla.check_validity(10 * day - 1).is_ok());
        assert!(Profile::Microsoft.check_validity(7 * day - 1).is_ok());
        let v = Profile::Microsoft.check_validity(10 * day).unwrap_err();
        assert_eq!(v.rule, Rule::ValidityMax);
        assert!(v.to_string().contains("7 days"), "{v}");
        assert!(Profile::Private.check_validity(60).is_ok());
        assert!(Profile::Private.check_validity(365 * day).is_ok());
        assert_eq!(
            Profile::Private.check_validity(0).unwrap_err().rule,
            Rule::ValidityMin
        );
    }

    #[test]
    fn algorithms() {
        let p256 = ec_spki(&rcgen::PKCS_ECDSA_P256_SHA256);
        let p384 = ec_spki(&rcgen::PKCS_ECDSA_P384_SHA384);
        let sha1 = alg(rfc5912::SHA_1_WITH_RSA_ENCRYPTION);
        for p in Profile::ALL {
            assert_eq!(
                p.check_algorithm(&sha1, &[]).unwrap_err().rule,
                Rule::SignatureAlgorithm,
                "{p}"
            );
            assert!(p.check_algorithm(&rsa_alg(), &[]).is_ok(), "{p}");
            assert!(
                p.check_algorithm(&alg(rfc5912::ECDSA_WITH_SHA_256), &p256)
                    .is_ok(),
                "{p}"
            );
            assert!(
                p.check_algorithm(&alg(rfc5912::ECDSA_WITH_SHA_384), &p384)
                    .is_ok(),
                "{p}"
            );
        }
        let ed = alg(rfc8410::ID_ED_25519);
        assert!(Profile::Private.check_algorithm(&ed, &[]).is_ok());
        assert!(Profile::Cabf.check_algorithm(&ed, &[]).is_err());
        // Curve and hash must match under the public profiles.
        let mismatch = alg(rfc5912::ECDSA_WITH_SHA_384);
        assert!(Profile::Private.check_algorithm(&mismatch, &p256).is_ok());
        let v = Profile::Cabf.check_algorithm(&mismatch, &p256).unwrap_err();
        assert!(v.detail.contains("P-256"), "{v}");
    }

    #[test]
    fn refresh_deadlines() {
        let t = Timestamp(1_000_000);
        // 1 day: 8 hours before nextUpdate.
        assert_eq!(
            Profile::Cabf.refresh_deadline(t, t.plus(86_400)),
            t.plus(86_400 - 8 * 3600)
        );
        // 7 days: 4 days after thisUpdate.
        assert_eq!(
            Profile::Cabf.refresh_deadline(t, t.plus(7 * 86_400)),
            t.plus(4 * 86_400)
        );
        // 10 hours: half-way.
        assert_eq!(
            Profile::Cabf.refresh_deadline(t, t.plus(36_000)),
            t.plus(18_000)
        );
        assert_eq!(
            Profile::Private.refresh_deadline(t, t.plus(86_400)),
            t.plus(86_400)
        );
        assert!(Profile::Cabf.check_refresh(86_400, 8 * 3600).is_ok());
        assert_eq!(
            Profile::Cabf.check_refresh(86_400, 3600).unwrap_err().rule,
            Rule::Refresh
        );
        assert!(Profile::Private.check_refresh(86_400, 0).is_ok());
    }

    #[test]
    fn config_checks_list_every_violation() {
        let sha1 = alg(rfc5912::SHA_1_WITH_RSA_ENCRYPTION);
        let now = Timestamp(1_000_000);
        let facts = SignerFacts {
            algorithm: &sha1,
            spki_der: &[],
            not_after: now.plus(3600),
        };
        let v = Profile::Microsoft.check_config(10 * 86_400, &facts, now);
        let rules: Vec<Rule> = v.iter().map(|v| v.rule).collect();
        assert_eq!(
            rules,
            vec![
                Rule::ValidityMax,
                Rule::SignatureAlgorithm,
                Rule::NextUpdateWithinSigner
            ]
        );
        let rsa = rsa_alg();
        let ok = SignerFacts {
            algorithm: &rsa,
            spki_der: &[],
            not_after: now.plus(365 * 86_400),
        };
        assert!(Profile::Microsoft.check_config(86_400, &ok, now).is_empty());
    }

    #[test]
    fn responses() {
        let rsa = rsa_alg();
        let now = Timestamp(1_700_000_000);
        let signer = SignerFacts {
            algorithm: &rsa,
            spki_der: &[],
            not_after: now.plus(30 * 86_400),
        };
        let cert_id = x509_ocsp::CertId {
            hash_algorithm: HashAlg::Sha1.algorithm_identifier(),
            issuer_name_hash: der::asn1::OctetString::new(vec![1; 20]).unwrap(),
            issuer_key_hash: der::asn1::OctetString::new(vec![2; 20]).unwrap(),
            serial_number: Serial::from_hex("0abc")
                .unwrap()
                .to_serial_number()
                .unwrap(),
        };
        let answer = |status: CertStatus, next: Option<Timestamp>| SingleAnswer {
            cert_id: cert_id.clone(),
            status,
            this_update: now,
            next_update: next,
        };
        let rid = ResponderIdKind::ByKey(vec![0; 20]);
        let check = |p: Profile, a: SingleAnswer, rec: bool| {
            let answers = [a];
            let params = ResponseParams {
                responder_id: &rid,
                produced_at: now,
                answers: &answers,
                nonce: None,
                extended_revoke: false,
                certs: &[],
            };
            p.check_response(&params, &[rec], &signer)
        };
        assert!(check(
            Profile::Cabf,
            answer(CertStatus::Good, Some(now.plus(86_400))),
            true
        )
        .is_ok());
        let rule = |r: Result<(), Violation>| r.unwrap_err().rule;
        assert_eq!(
            rule(check(
                Profile::Cabf,
                answer(CertStatus::Good, Some(now.plus(86_400))),
                false
            )),
            Rule::UnassignedNeverGood
        );
        assert!(check(
            Profile::Cabf,
            answer(CertStatus::Unknown, Some(now.plus(86_400))),
            false
        )
        .is_ok());
        assert_eq!(
            rule(check(
                Profile::Private,
                answer(CertStatus::Good, None),
                true
            )),
            Rule::NextUpdatePresent
        );
        assert_eq!(
            rule(check(
                Profile::Cabf,
                answer(CertStatus::Good, Some(now.plus(3600))),
                true
            )),
            Rule::ValidityMin
        );
        assert!(check(
            Profile::Private,
            answer(CertStatus::Good, Some(now.plus(3600))),
            true
        )
        .is_ok());
        assert_eq!(
            rule(check(
                Profile::Microsoft,
                answer(CertStatus::Good, Some(now.plus(8 * 86_400))),
                true
            )),
            Rule::ValidityMax
        );
        assert_eq!(
            rule(check(
                Profile::Private,
                answer(CertStatus::Good, Some(now.plus(31 * 86_400))),
                true
            )),
            Rule::NextUpdateWithinSigner
        );
    }

    #[test]
    fn names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>().unwrap(), p);
        }
        assert_eq!("CABF".parse::<Profile>().unwrap(), Profile::Cabf);
        assert!("webtrust".parse::<Profile>().is_err());
    }
}
