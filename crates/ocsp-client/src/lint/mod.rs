//! `ocsp lint`: a conformance checker for a live OCSP responder.
//!
//! Given a responder URL and the issuer it answers for (and, when the operator has them,
//! certificates known good and known revoked), [`run`] sends a fixed handful of requests
//! and judges every answer. Each check yields one [`Finding`]: an id, a [`Verdict`], what
//! was seen, the rule and its source. The groups, each in its own file:
//!
//! * [`transport`] T1–T5: POST, GET, GET encodings, other methods, latency;
//! * [`caching`] C1–C5: RFC 9919 §6 headers, 304, error answers not cached;
//! * [`encoding`] E1–E5: DER, times, extensions, one answer per CertID octet for octet;
//! * [`semantics`] S1–S7: good, revoked, never-issued, unknown issuer, SHA-256, several
//!   CertIDs, garbage;
//! * [`nonce`] N1–N3: RFC 9654 echo and bounds;
//! * [`signer`] A1–A6: verification, delegated certificate profile, ResponderID,
//!   certificate included, expiry, algorithm;
//! * [`timing`] P1–P7: the responder's own profile rules
//!   ([`ocsp_proto::profile::Profile::check_facts`], the rule set `ocsp serve` applies
//!   before signing) over what was received, thisUpdate age, producedAt order;
//! * [`robustness`] R1–R3: hostile input, only with [`Config::aggressive`] (so are S7,
//!   garbage, T3, the lenient GET encodings, and T4, another method: `openssl ocsp` exits
//!   on each of them).
//!
//! The default run sends about 15 requests (plus one per `--cert`/`--revoked-cert`);
//! `--aggressive` adds at most 12 and one idle connection. Each request is bounded by
//! [`Config::timeout`]. [`render`] turns a [`Report`] into text, JSON or Prometheus text.
//! Exit status: [`Report::exit_code`].

pub mod caching;
pub mod encoding;
pub mod finding;
pub mod nonce;
pub mod probes;
pub mod profile;
pub mod render;
pub mod robustness;
pub mod semantics;
pub mod signer;
pub mod timing;
pub mod transport;

pub use finding::{Counts, Finding, Group, Report, Verdict};
pub use profile::LintProfile;

use crate::request::Target;
use crate::transport::{HttpOptions, Method};
use ocsp_proto::x509_cert::Certificate;
use ocsp_proto::{HashAlg, Serial};
use probes::{random_serial, Lab};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to lint and how.
#[derive(Clone, Debug)]
pub struct Config {
    /// The responder's base URL.
    pub url: String,
    /// The CA whose certificates the responder answers for.
    pub issuer: Certificate,
    /// Serials the CA issued and did not revoke (`--cert`, `--serial`), labelled.
    pub good: Vec<(String, Serial)>,
    /// Serials the CA revoked (`--revoked-cert`), labelled.
    pub revoked: Vec<(String, Serial)>,
    /// The profile judged against.
    pub profile: LintProfile,
    /// Send the robustness probes.
    pub aggressive: bool,
    /// Time allowed per request.
    pub timeout: Duration,
    /// PEM roots for an https:// responder.
    pub https_cafile: Option<PathBuf>,
}

/// Run every check once.
pub async fn run(cfg: &Config) -> Report {
    let t0 = Instant::now();
    let started = crate::now();
    let opts = HttpOptions {
        method: None,
        headers: Vec::new(),
        timeout: cfg.timeout,
        https_cafile: cfg.https_cafile.clone(),
    };
    let mut lab = Lab::new(&cfg.url, cfg.issuer.clone(), opts);
    let good: Vec<Target> = cfg
        .good
        .iter()
        .map(|(l, s)| lab.target(l, s.clone()))
        .collect();
    let revoked: Vec<Target> = cfg
        .revoked
        .iter()
        .map(|(l, s)| lab.target(l, s.clone()))
        .collect();
    let base = good
        .first()
        .or(revoked.first())
        .cloned()
        .unwrap_or_else(|| lab.target("random serial", random_serial()));
    let known_good: Vec<Serial> = cfg
        .good
        .iter()
        .chain(&cfg.revoked)
        .map(|(_, s)| s.clone())
        .collect();
    let mut f = Vec::new();

    let finish = |lab: &Lab, checks: Vec<Finding>, error: Option<String>| Report {
        url: cfg.url.clone(),
        profile: cfg.profile.name(),
        started: started.rfc3339(),
        started_unix: started.0,
        duration_secs: t0.elapsed().as_secs_f64(),
        requests: lab.timings.len(),
        aggressive: cfg.aggressive,
        checks,
        error,
    };
    let Some(base_asked) = lab.asked(std::slice::from_ref(&base), HashAlg::Sha1, None) else {
        return finish(
            &lab,
            f,
            Some("cannot encode a request for the issuer".into()),
        );
    };
    let post = lab
        .send("plain POST", base_asked.clone(), Method::Post)
        .await;
    let get = lab.send("plain GET", base_asked.clone(), Method::Get).await;
    if lab.probe(post).sent.is_err() && lab.probe(get).sent.is_err() {
        let why = lab.probe(post).outcome();
        return finish(&lab, f, Some(format!("{} does not answer: {why}", cfg.url)));
    }
    transport::methods_answered(&mut f, lab.probe(post), lab.probe(get), cfg.profile);
    caching::headers(&mut lab, &mut f, get).await;
    let sent = semantics::check(&mut lab, &mut f, &good, &revoked, cfg.profile).await;
    nonce::check(&mut lab, &mut f, &base, post, cfg.profile).await;
    // P7: the same GET twice more, a second apart (producedAt has whole seconds).
    let mut repeats = vec![get];
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        repeats.push(
            lab.send("repeated GET", base_asked.clone(), Method::Get)
                .await,
        );
    }
    let mut errors: Vec<usize> = sent.unknown_issuer.into_iter().collect();
    errors.extend(
        lab.probes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.error_status().is_some())
            .map(|(i, _)| i),
    );
    errors.sort_unstable();
    errors.dedup();
    caching::errors_not_cached(&mut f, &lab, &errors);
    encoding::check(&mut f, &lab);
    let base_probe = [post, get]
        .into_iter()
        .map(|i| lab.probe(i))
        .find(|p| p.answered().is_some());
    signer::check(&mut f, &lab, base_probe, cfg.profile, started);
    let random = sent
        .random
        .map(|i| lab.probe(i).asked.cert_ids.clone())
        .unwrap_or_default();
    let random: Vec<Serial> = random.iter().map(Serial::of_cert_id).collect();
    let known = move |s: &Serial| {
        if known_good.contains(s) {
            Some(true)
        } else if random.contains(s) {
            Some(false)
        } else {
            None
        }
    };
    timing::profile_rules(&mut f, &lab, cfg.profile, &known);
    timing::produced_at_order(&mut f, &lab, &repeats);
    if cfg.aggressive {
        // Lenient GET encodings first: a responder that cannot read them may stop (openssl
        // ocsp exits), which the robustness probes then report.
        semantics::garbage(&mut lab, &mut f).await;
        transport::get_encodings(&mut lab, &mut f, get).await;
        transport::other_method(&mut lab, &mut f).await;
        robustness::check(&mut lab, &mut f, &base_asked.der).await;
    } else {
        semantics::garbage_skipped(&mut f);
        transport::skipped(&mut f);
    }
    transport::latency(&mut f, &lab);
    f.sort_by_key(|x| x.group);
    finish(&lab, f, None)
}

/// A report for a run that could not start (bad arguments, unreadable files).
pub fn could_not_run(url: &str, profile: LintProfile, error: String) -> Report {
    let now = crate::now();
    Report {
        url: url.to_string(),
        profile: profile.name(),
        started: now.rfc3339(),
        started_unix: now.0,
        duration_secs: 0.0,
        requests: 0,
        aggressive: false,
        checks: Vec::new(),
        error: Some(error),
    }
}
