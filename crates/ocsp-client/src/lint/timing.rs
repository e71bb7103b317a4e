//! Time and profile checks: the responder's own compliance rules
//! ([`ocsp_proto::profile::Profile::check_facts`]) applied to what it sent, plus the checks
//! that need a clock or several answers.
//!
//! | id | rule | PASS when |
//! |---|---|---|
//! | P1 | `next-update-present` | every SingleResponse has nextUpdate (a warning under rfc6960) |
//! | P2 | `this-update-not-future` | thisUpdate ≤ producedAt ≤ now + 5 min |
//! | P3 | `validity-min` | nextUpdate − thisUpdate + 1 s ≥ the profile's minimum |
//! | P4 | `validity-max` | nextUpdate − thisUpdate + 1 s ≤ the profile's maximum |
//! | P5 | `next-update-within-signer` | nextUpdate ≤ the signer certificate's notAfter |
//! | P6 | thisUpdate age | thisUpdate no older than 4 days (a failure under the public profiles, else a warning) |
//! | P7 | producedAt order | repeated identical requests never get an older producedAt (a stale node behind a load balancer) |
//!
//! The rules P1–P5 (and `signature-algorithm`, A6, and `unassigned-never-good`, S3) are
//! the very ones the responder in this workspace checks before it signs.

use crate::lint::finding::{Finding, Group, Verdict};
use crate::lint::probes::Lab;
use crate::lint::profile::LintProfile;
use crate::lint::signer::signer_of;
use ocsp_proto::facts::{ReceivedSigner, ResponseFacts};
use ocsp_proto::profile::{Rule, Violation, MAX_REFRESH_AFTER_THIS_UPDATE_SECS};
use ocsp_proto::{Serial, Timestamp};

/// Allowed clock skew for producedAt.
const SKEW: u64 = 300;

/// P1–P6 over every verifiable successful probe; `known` says whether a serial was issued.
pub fn profile_rules(
    f: &mut Vec<Finding>,
    lab: &Lab,
    profile: LintProfile,
    known: &dyn Fn(&Serial) -> Option<bool>,
) {
    let rules = profile.rules();
    let mut violations: Vec<(String, Violation)> = Vec::new();
    let mut n = 0;
    let mut future = Vec::new();
    let mut old = Vec::new();
    for p in lab.probes.iter().filter(|p| p.verifiable) {
        let (Some(a), Some(ex)) = (p.answered(), p.exchange()) else {
            continue;
        };
        let Some((signer, _)) = signer_of(lab, p) else {
            continue;
        };
        let Ok(rs) = ReceivedSigner::of(&a.basic, signer) else {
            continue;
        };
        n += 1;
        let facts = ResponseFacts::from_basic(&a.basic, rs.facts(), known);
        for v in rules.check_facts(&facts) {
            violations.push((p.name.to_string(), v));
        }
        let now = ex.started;
        if facts.produced_at > now.plus(SKEW) {
            future.push(format!(
                "{}: producedAt {} is ahead of {now}",
                p.name, facts.produced_at
            ));
        }
        for ans in &facts.answers {
            let age = now.0.saturating_sub(ans.this_update.0);
            if age > MAX_REFRESH_AFTER_THIS_UPDATE_SECS {
                old.push(format!(
                    "{}: thisUpdate {} is {} days old",
                    p.name,
                    ans.this_update,
                    age / 86_400
                ));
            }
        }
    }
    let lines: [(&'static str, Rule, Verdict); 5] = [
        ("P1", Rule::NextUpdatePresent, profile.since_9919()),
        ("P2", Rule::ThisUpdateNotFuture, Verdict::Fail),
        ("P3", Rule::ValidityMin, Verdict::Fail),
        ("P4", Rule::ValidityMax, Verdict::Fail),
        ("P5", Rule::NextUpdateWithinSigner, Verdict::Fail),
    ];
    for (id, rule, verdict) in lines {
        let mut broken: Vec<String> = violations
            .iter()
            .filter(|(_, v)| v.rule == rule)
            .map(|(name, v)| format!("{name}: {}", v.detail))
            .collect();
        if rule == Rule::ThisUpdateNotFuture {
            broken.extend(future.iter().cloned());
        }
        broken.dedup();
        let count = broken.len();
        if count > 3 {
            broken.truncate(3);
            broken.push(format!("… {} in all", count));
        }
        let (v, seen) = if n == 0 {
            (Verdict::Skip, "no verified response".to_string())
        } else if broken.is_empty() {
            (Verdict::Pass, format!("{n} responses"))
        } else {
            (verdict, broken.join("; "))
        };
        let src = if rule == Rule::ValidityMax && !rules.is_public() {
            "no maximum outside the root programs".to_string()
        } else {
            rules.source_of(rule).to_string()
        };
        f.push(Finding::new(id, Group::Time, v, seen, rule.id(), src));
    }
    old.dedup();
    let (v, seen) = if n == 0 {
        (Verdict::Skip, "no verified response".to_string())
    } else if old.is_empty() {
        (
            Verdict::Pass,
            format!("{n} responses: thisUpdate within 4 days"),
        )
    } else {
        (profile.public_only(), old.join("; "))
    };
    f.push(Finding::new(
        "P6",
        Group::Time,
        v,
        seen,
        "thisUpdate no older than 4 days",
        "CA/B BR §4.9.10",
    ));
}

/// P7 over the probes at `repeats` (the same request sent again and again).
pub fn produced_at_order(f: &mut Vec<Finding>, lab: &Lab, repeats: &[usize]) {
    let mut seen: Vec<(Timestamp, Vec<u8>)> = Vec::new();
    for &i in repeats {
        let p = lab.probe(i);
        if let (Some(a), Some(ex)) = (p.answered(), p.exchange()) {
            seen.push((a.produced_at, ex.body.clone()));
        }
    }
    let (v, text) = if seen.len() < 2 {
        (
            Verdict::Skip,
            "fewer than two answers to compare".to_string(),
        )
    } else {
        let back = seen.windows(2).find(|w| w[1].0 < w[0].0);
        let same = seen.windows(2).all(|w| w[0].1 == w[1].1);
        let times: Vec<String> = seen.iter().map(|s| s.0.to_string()).collect();
        match back {
            Some(w) => (
                Verdict::Fail,
                format!(
                    "producedAt went back from {} to {} ({})",
                    w[0].0,
                    w[1].0,
                    times.join(", ")
                ),
            ),
            None => (
                Verdict::Pass,
                format!(
                    "{} answers, producedAt {}{}",
                    seen.len(),
                    times.join(", "),
                    if same {
                        "; identical octets (pre-signed or cached)"
                    } else {
                        "; signed afresh"
                    }
                ),
            ),
        }
    };
    f.push(Finding::new(
        "P7",
        Group::Time,
        v,
        text,
        "producedAt never goes backwards across repeated requests",
        "RFC 6960 §4.2.2.1 (a stale node behind a load balancer; dogtagpki/pki#5015)",
    ));
}
