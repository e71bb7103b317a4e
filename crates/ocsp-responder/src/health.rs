//! Health and readiness, responder preflight, and the operations listener's endpoints.
//!
//! - `/healthz`: the process answers (always 200 while it runs).
//! - `/readyz`: every issuer's status source is loaded and answers, every responder
//!   certificate is valid now and can give compliant answers under the profile, and every
//!   signer produced a test signature that verifies against its certificate. 503 with the
//!   problems listed otherwise, and while shutting down. Results are reused for
//!   `ready_cache_secs` so probes cannot turn into a signing load.
//! - `/metrics`: the Prometheus text format (see [`crate::metrics`]).
//! - `/` and `/status.json`: the status page (see [`crate::status_page`]).
//!
//! [`preflight`] re-checks the responders at start, at every reload (SIGHUP) and
//! periodically: valid now, nextUpdate clamped to notAfter (said once), warnings 30 and 7
//! days before a responder certificate expires.

use crate::clock::SharedClock;
use crate::issuer::{IssuerSet, Responder};
use crate::metrics::Exporter;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use ocsp_proto::profile::{Profile, SignerFacts};
use ocsp_proto::{sigalg, Timestamp};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Days before a responder certificate's notAfter at which a warning is logged.
pub const EXPIRY_WARNING_DAYS: [u64; 2] = [30, 7];

/// How long a test signature may take before the signer counts as broken.
pub const TEST_SIGNATURE_TIMEOUT: Duration = Duration::from_secs(5);

/// How serious a preflight finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing (expiry ahead, clamping).
    Warning,
    /// The responder cannot answer correctly.
    Error,
}

/// One preflight finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// The issuer it concerns.
    pub issuer: String,
    /// What, and the fix.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "issuer {}: {}", self.issuer, self.message)
    }
}

fn days(secs: u64) -> String {
    let d = secs / 86_400;
    let h = secs % 86_400 / 3600;
    if d > 0 {
        format!("{d} days {h} hours")
    } else {
        format!("{h} hours {} minutes", secs % 3600 / 60)
    }
}

/// Check every issuer's responder at `now`: valid now, the profile can be met, expiry
/// warnings, nextUpdate clamping. Delegation (issued by the CA, EKU, key usage, nocheck) is
/// checked when the issuer is loaded.
pub fn preflight(issuers: &IssuerSet, profile: Profile, now: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    for issuer in issuers.iter() {
        out.extend(preflight_responder(
            &issuer.name,
            &issuer.responder.current(),
            issuer.validity_secs,
            profile,
            now,
        ));
    }
    out
}

/// [`preflight`] of one issuer's responder `r` (in force, or about to be: the rollover
/// checks a replacement with this before putting it in force).
pub fn preflight_responder(
    issuer: &str,
    r: &Responder,
    validity_secs: u64,
    profile: Profile,
    now: Timestamp,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |severity, message: String| {
        out.push(Finding {
            severity,
            issuer: issuer.to_string(),
            message,
        })
    };
    let not_before = Timestamp::from_x509(&r.cert.tbs_certificate.validity.not_before);
    if now < not_before {
        push(
            Severity::Error,
            format!("the responder certificate is not valid before {not_before}: check the clock, or use a certificate valid now"),
        );
    }
    if now >= r.not_after {
        push(
            Severity::Error,
            format!(
                "the responder certificate expired at {}: renew it and reload (systemctl reload ocsp, or SIGHUP)",
                r.not_after
            ),
        );
        return out;
    }
    let left = r.not_after.0 - now.0;
    if let Some(d) = EXPIRY_WARNING_DAYS
        .iter()
        .rev()
        .find(|d| left <= **d * 86_400)
    {
        push(
            Severity::Warning,
            format!(
                "the responder certificate expires in {} (at {}; {d}-day warning): renew it",
                days(left),
                r.not_after
            ),
        );
    }
    if left < validity_secs {
        push(
            Severity::Warning,
            format!(
                "nextUpdate is clamped to the responder certificate's notAfter {}: responses are valid for {} instead of {}",
                r.not_after,
                days(left),
                days(validity_secs)
            ),
        );
    }
    let alg = r.signer.algorithm();
    let facts = SignerFacts {
        algorithm: &alg,
        spki_der: r.signer.public_key_der(),
        not_after: r.not_after,
    };
    for v in profile.check_config(validity_secs, &facts, now) {
        push(Severity::Error, v.to_string());
    }
    out
}

/// Sign a probe with `responder`'s key and verify it against its certificate.
async fn test_signature(responder: Arc<Responder>) -> Result<Duration, String> {
    let started = Instant::now();
    let job = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let message = b"ocsp readiness probe: a test signature, never sent to a client";
        let sig = responder.signer.sign(message).map_err(|e| e.to_string())?;
        sigalg::verify(
            &responder.signer.algorithm(),
            &responder.cert.tbs_certificate.subject_public_key_info,
            message,
            &sig,
        )
        .map_err(|e| {
            format!("the test signature does not verify against the responder certificate: {e}")
        })
    });
    match tokio::time::timeout(TEST_SIGNATURE_TIMEOUT, job).await {
        Err(_) => Err(format!(
            "no test signature within {} s",
            TEST_SIGNATURE_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("the test signature panicked: {e}")),
        Ok(Ok(Err(e))) => Err(e),
        Ok(Ok(Ok(()))) => Ok(started.elapsed()),
    }
}

/// The outcome of one readiness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Whether every check passed.
    pub ready: bool,
    /// What failed, one line each.
    pub problems: Vec<String>,
}

/// Readiness and preflight state of a running responder.
pub struct Health {
    issuers: Arc<IssuerSet>,
    profile: Profile,
    cache_for: Duration,
    last: tokio::sync::Mutex<Option<(Instant, Arc<Readiness>)>>,
    draining: AtomicBool,
    /// Per responder certificate (by notAfter and issuer): findings already logged.
    logged: Mutex<HashMap<String, Vec<String>>>,
    clock: SharedClock,
    started: Instant,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("issuers", &self.issuers.len())
            .field("profile", &self.profile)
            .field("draining", &self.draining.load(Ordering::Relaxed))
            .finish()
    }
}

impl Health {
    /// Health of `issuers` under `profile`; readiness results are reused for `cache_for`.
    pub fn new(issuers: Arc<IssuerSet>, profile: Profile, cache_for: Duration) -> Health {
        Health {
            issuers,
            profile,
            cache_for,
            last: tokio::sync::Mutex::new(None),
            draining: AtomicBool::new(false),
            logged: Mutex::new(HashMap::new()),
            clock: crate::clock::system(),
            started: Instant::now(),
        }
    }

    /// The served issuers.
    pub fn issuers(&self) -> &Arc<IssuerSet> {
        &self.issuers
    }

    /// Time since this was made (at start).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Read the time from `clock` (the one the rest of the responder reads).
    pub fn with_clock(mut self, clock: SharedClock) -> Health {
        self.clock = clock;
        self
    }

    /// The time now, by this responder's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// From now on `/readyz` answers 503 (shutting down: let load balancers drain).
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Readiness, reusing a result younger than `cache_for`.
    pub async fn readiness(&self) -> Arc<Readiness> {
        if self.is_draining() {
            crate::metrics::ready(false);
            return Arc::new(Readiness {
                ready: false,
                problems: vec!["shutting down".into()],
            });
        }
        let mut last = self.last.lock().await;
        if let Some((at, r)) = last.as_ref() {
            if at.elapsed() < self.cache_for {
                return r.clone();
            }
        }
        let r = Arc::new(self.check().await);
        *last = Some((Instant::now(), r.clone()));
        r
    }

    /// Run every readiness check now: status sources, preflight errors, test signatures.
    pub async fn check(&self) -> Readiness {
        let now = self.clock.now();
        let mut problems = Vec::new();
        let mut issuer_ok: HashMap<String, bool> = HashMap::new();
        for f in preflight(&self.issuers, self.profile, now) {
            if f.severity == Severity::Error {
                issuer_ok.insert(f.issuer.clone(), false);
                problems.push(f.to_string());
            }
        }
        let mut tested: Vec<(Arc<Responder>, Result<Duration, String>)> = Vec::new();
        for issuer in self.issuers.iter() {
            let mut ok = issuer_ok.get(&issuer.name).copied().unwrap_or(true);
            if let Err(e) = issuer.status.generation().await {
                ok = false;
                problems.push(format!(
                    "issuer {}: status source {} not available: {e}",
                    issuer.name,
                    issuer.status.describe()
                ));
            }
            let responder = issuer.responder.current();
            let result = match tested.iter().find(|(r, _)| Arc::ptr_eq(r, &responder)) {
                Some((_, res)) => res.clone(),
                None => {
                    let res = test_signature(responder.clone()).await;
                    tested.push((responder.clone(), res.clone()));
                    res
                }
            };
            if let Err(e) = result {
                ok = false;
                problems.push(format!(
                    "issuer {}: signer {} is broken: {e}",
                    issuer.name,
                    responder.signer.describe()
                ));
            }
            crate::metrics::signer_ready(&issuer.name, ok);
        }
        if self.issuers.is_empty() {
            problems.push("no issuer loaded".into());
        }
        let ready = problems.is_empty();
        crate::metrics::ready(ready);
        Readiness { ready, problems }
    }

    /// Run [`preflight`] and log its findings: errors always, a warning once until it
    /// changes (or every time when `force`: at start and on SIGHUP). Returns the findings.
    pub fn log_preflight(&self, force: bool) -> Vec<Finding> {
        let findings = preflight(&self.issuers, self.profile, self.clock.now());
        let mut logged = self.logged.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen: HashMap<String, Vec<String>> = HashMap::new();
        for f in &findings {
            // Key warnings by issuer and their first words, so "expires in 29 days" and
            // "expires in 28 days" count as the same warning until the threshold changes.
            let key: String = f
                .message
                .split(" (")
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .collect();
            let key = format!("{key}|{}", f.message.contains("7-day warning"));
            let already = logged.get(&f.issuer).is_some_and(|v| v.contains(&key));
            seen.entry(f.issuer.clone()).or_default().push(key);
            match f.severity {
                Severity::Error => tracing::error!(issuer = %f.issuer, "preflight: {}", f.message),
                Severity::Warning if force || !already => {
                    tracing::warn!(issuer = %f.issuer, "preflight: {}", f.message)
                }
                Severity::Warning => {}
            }
        }
        *logged = seen;
        if force && findings.is_empty() {
            tracing::info!(
                issuers = self.issuers.len(),
                profile = %self.profile,
                "preflight: every responder certificate is valid and none expires within 30 days"
            );
        }
        findings
    }

    /// Check in the background at once and then every `interval`: log readiness changes
    /// and preflight findings. Ends when the returned handle is aborted or the runtime stops.
    pub fn spawn_monitor(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut was_ready: Option<bool> = None;
            // The first tick is at once: the readiness gauges exist from the start.
            let mut tick = tokio::time::interval(interval.max(Duration::from_secs(1)));
            loop {
                tick.tick().await;
                if me.is_draining() {
                    return;
                }
                me.log_preflight(false);
                let r = me.check().await;
                match (was_ready, r.ready) {
                    (Some(true) | None, false) => {
                        tracing::error!(problems = %r.problems.join("; "), "not ready")
                    }
                    (Some(false), true) => tracing::info!("ready again"),
                    _ => {}
                }
                was_ready = Some(r.ready);
            }
        })
    }
}

/// What the operations listener serves.
pub struct Ops {
    /// Readiness.
    pub health: Arc<Health>,
    /// `/metrics`, if metrics are recorded.
    pub exporter: Option<Arc<Exporter>>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops").field("health", &self.health).finish()
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Answer one request on the operations listener.
pub async fn handle_ops<B>(ops: &Ops, req: Request<B>) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, PLAIN, "use GET\n".into());
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, PLAIN, "ok\n".into()),
        "/readyz" => {
            let r = ops.health.readiness().await;
            if r.ready {
                text(StatusCode::OK, PLAIN, "ready\n".into())
            } else {
                let mut body = String::from("not ready\n");
                for p in &r.problems {
                    body.push_str("- ");
                    body.push_str(p);
                    body.push('\n');
                }
                text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, body)
            }
        }
        "/metrics" => match &ops.exporter {
            Some(e) => text(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                e.render(ops.health.now()),
            ),
            None => text(
                StatusCode::NOT_FOUND,
                PLAIN,
                "metrics are not recorded\n".into(),
            ),
        },
        "/" => crate::status_page::page(ops, req.uri().query()).await,
        "/status.json" => crate::status_page::json(ops, req.uri().query()).await,
        _ => text(
            StatusCode::NOT_FOUND,
            PLAIN,
            "not found: try /, /status.json, /metrics, /healthz or /readyz\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuer::{Issuer, ResponderSlot, UnknownSerial};
    use der::Decode;
    use ocsp_proto::response::ResponderIdKind;
    use ocsp_proto::signer::{SignError, Signer};
    use ocsp_proto::IssuerIdentity;
    use spki::AlgorithmIdentifierOwned;
    use std::sync::atomic::AtomicBool;
    use x509_cert::Certificate;

    /// An Ed25519 signer that fails while `broken` is set.
    struct Flaky {
        key: aws_lc_rs::signature::Ed25519KeyPair,
        spki: Vec<u8>,
        broken: Arc<AtomicBool>,
    }
    impl Signer for Flaky {
        fn algorithm(&self) -> AlgorithmIdentifierOwned {
            AlgorithmIdentifierOwned {
                oid: const_oid::db::rfc8410::ID_ED_25519,
                parameters: None,
            }
        }
        fn public_key_der(&self) -> &[u8] {
            &self.spki
        }
        fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
            if self.broken.load(Ordering::SeqCst) {
                return Err(SignError("token removed".into()));
            }
            Ok(self.key.sign(tbs).as_ref().to_vec())
        }
        fn describe(&self) -> String {
            "flaky Ed25519".into()
        }
    }

    fn issuers(not_after_days: i64, broken: Arc<AtomicBool>) -> (Arc<IssuerSet>, Timestamp) {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Health CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(not_after_days);
        let cert = params.self_signed(&kp).unwrap();
        let cert = Certificate::from_der(cert.der()).unwrap();
        let key = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&kp.serialize_der()).unwrap();
        let spki = rcgen::PublicKeyData::subject_public_key_info(&kp);
        let not_after = Timestamp::from_x509(&cert.tbs_certificate.validity.not_after);
        let responder = Arc::new(Responder {
            signer: Arc::new(Flaky { key, spki, broken }),
            cert: cert.clone(),
            responder_id: ResponderIdKind::by_key(&cert).unwrap(),
            certs: Vec::new(),
            not_after,
            delegated: false,
        });
        let issuer = Issuer {
            name: "Health CA".into(),
            identity: IssuerIdentity::of(&cert).unwrap(),
            cert,
            responder: ResponderSlot::new(responder),
            status: crate::source::testkit::MemSource::new(&[]),
            validity_secs: 86_400,
            unknown_serial: UnknownSerial::Unknown,
        };
        (Arc::new(IssuerSet::new(vec![issuer]).unwrap()), not_after)
    }

    #[tokio::test]
    async fn readiness_follows_the_signer() {
        let broken = Arc::new(AtomicBool::new(false));
        let (set, _) = issuers(365, broken.clone());
        let health = Health::new(set, Profile::Private, Duration::ZERO);
        assert!(health.readiness().await.ready);
        broken.store(true, Ordering::SeqCst);
        let r = health.readiness().await;
        assert!(!r.ready);
        assert!(r.problems[0].contains("token removed"), "{:?}", r.problems);
        broken.store(false, Ordering::SeqCst);
        assert!(health.readiness().await.ready);
        health.set_draining();
        assert!(!health.readiness().await.ready);
    }

    #[tokio::test]
    async fn profile_refuses_ed25519_at_runtime_too() {
        let (set, _) = issuers(365, Arc::new(AtomicBool::new(false)));
        let health = Health::new(set, Profile::Cabf, Duration::ZERO);
        let r = health.readiness().await;
        assert!(!r.ready);
        assert!(
            r.problems[0].contains("signature-algorithm"),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn expiry_warnings_at_30_and_7_days() {
        let (set, not_after) = issuers(365, Arc::new(AtomicBool::new(false)));
        let at = |days_left: u64| not_after.minus(days_left * 86_400);
        assert!(preflight(&set, Profile::Private, at(31)).is_empty());
        let f = preflight(&set, Profile::Private, at(29));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("30-day warning"), "{f:?}");
        let f = preflight(&set, Profile::Private, at(6));
        assert!(f[0].message.contains("7-day warning"), "{f:?}");
        // Under a day left: clamped, said so.
        let f = preflight(&set, Profile::Private, not_after.minus(3600));
        assert!(f.iter().any(|f| f.message.contains("clamped")), "{f:?}");
        // Under 8 hours left: the public profiles cannot comply.
        let f = preflight(&set, Profile::Private, not_after.minus(3600));
        assert!(f.iter().all(|f| f.severity == Severity::Warning), "{f:?}");
        let f = preflight(&set, Profile::Microsoft, not_after.minus(3600));
        assert!(
            f.iter().any(|f| f.severity == Severity::Error
                && f.message.contains("next-update-within-signer")),
            "{f:?}"
        );
        let f = preflight(&set, Profile::Private, not_after.plus(1));
        assert!(f[0].message.contains("expired"), "{f:?}");
        assert_eq!(f[0].severity, Severity::Error);
    }

    #[tokio::test]
    async fn ops_endpoints() {
        let broken = Arc::new(AtomicBool::new(false));
        let (set, _) = issuers(365, broken.clone());
        let ops = Ops {
            health: Arc::new(Health::new(set, Profile::Private, Duration::ZERO)),
            exporter: None,
        };
        let get = |p: &str| Request::get(p).body(()).unwrap();
        assert_eq!(
            handle_ops(&ops, get("/healthz")).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            handle_ops(&ops, get("/readyz")).await.status(),
            StatusCode::OK
        );
        broken.store(true, Ordering::SeqCst);
        assert_eq!(
            handle_ops(&ops, get("/readyz")).await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            handle_ops(&ops, get("/healthz")).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            handle_ops(&ops, get("/metrics")).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            handle_ops(&ops, get("/nope")).await.status(),
            StatusCode::NOT_FOUND
        );
        let post = Request::post("/readyz").body(()).unwrap();
        assert_eq!(
            handle_ops(&ops, post).await.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
