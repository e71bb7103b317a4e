//! [`StatusSnapshot`]: everything the status page shows, gathered in one place so the
//! HTML page and `/status.json` cannot disagree.
//!
//! Sources: the issuers themselves (responder certificate, signer, status backend and
//! its generation, asked now), the readiness check (reused for `ready_cache_secs` like
//! `/readyz`), and the responder's own metrics, read back from the rendered Prometheus
//! text (requests and outcomes, latency histograms, cache, signing queue, reloads).
//!
//! Rates are differences between two readings of the counters: this reading and the
//! oldest one kept from earlier views of the page within [`RATE_WINDOW`] that is at least
//! [`MIN_RATE_SPAN`] old; with none (the first view), the counters since start divided by
//! the time since start. The readings are kept per process, as the counters are.

use super::prom_text::{self, Sample};
use crate::health::Ops;
use crate::issuer::Issuer;
use ocsp_proto::Timestamp;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How far back readings are kept for rates.
pub const RATE_WINDOW: Duration = Duration::from_secs(300);
/// The shortest span a rate is computed over.
pub const MIN_RATE_SPAN: Duration = Duration::from_secs(5);
/// Most readings kept (views more frequent than this per window share readings).
const MAX_READINGS: usize = 64;

/// Everything the status page shows.
#[derive(Debug, Clone, Serialize)]
pub struct StatusSnapshot {
    /// When this was gathered (RFC 3339).
    pub generated_at: String,
    /// `ocsp_build_info` labels: version, commit, features, profile (when recorded).
    pub build: Option<Build>,
    /// Whether `/readyz` would answer ready.
    pub ready: bool,
    /// What is wrong, one line each (empty when ready).
    pub problems: Vec<String>,
    /// One entry per served CA.
    pub issuers: Vec<IssuerStatus>,
    /// Requests and their outcomes.
    pub requests: Option<Requests>,
    /// Answers served from the response cache.
    pub cache: Option<Cache>,
    /// The signing pool.
    pub signing: Option<Signing>,
    /// A status lookup asked for with `?serial=`.
    pub lookup: Option<super::lookup::LookupResult>,
}

/// What the binary is.
#[derive(Debug, Clone, Serialize)]
pub struct Build {
    /// Version.
    pub version: String,
    /// Source commit.
    pub commit: String,
    /// Enabled features.
    pub features: String,
    /// Compliance profile in force.
    pub profile: String,
}

/// One served CA.
#[derive(Debug, Clone, Serialize)]
pub struct IssuerStatus {
    /// Its name (logs, metrics, the lookup form).
    pub name: String,
    /// The CA certificate's subject.
    pub ca_subject: String,
    /// The responder certificate's subject.
    pub responder_subject: String,
    /// Whether the responder is delegated (not the CA itself).
    pub delegated: bool,
    /// The responder certificate's notAfter (RFC 3339).
    pub responder_not_after: String,
    /// Whole days until then (negative: expired).
    pub days_to_expiry: i64,
    /// The signer (key kind, where it lives).
    pub signer: String,
    /// Whether the signer's last test signature verified (`None`: not yet checked).
    pub signer_ready: Option<bool>,
    /// The status backend.
    pub backend: String,
    /// The generation lookups see now (`None`: the backend cannot say; see
    /// `backend_error`).
    pub generation: Option<u64>,
    /// Why the backend cannot answer now, if it cannot.
    pub backend_error: Option<String>,
    /// The last (re)load of the backend's data, when it reports one.
    pub last_reload: Option<Reload>,
    /// nextUpdate − thisUpdate of its answers, in seconds.
    pub validity_secs: u64,
    /// Whether the last reload of the responder certificate and key refused nothing
    /// (true from start until a reload refuses a pair; `None`: not known).
    pub responder_reload_ok: Option<bool>,
    /// When the configured next responder certificate takes over (RFC 3339), if one is
    /// pending.
    pub next_responder_at: Option<String>,
}

/// A backend's last (re)load.
#[derive(Debug, Clone, Serialize)]
pub struct Reload {
    /// When it was attempted (RFC 3339).
    pub attempted_at: String,
    /// Whether it succeeded (if not, the last good state is served).
    pub ok: bool,
    /// When the served data was read (RFC 3339).
    pub loaded_at: String,
    /// Entries served.
    pub entries: u64,
    /// Revoked entries served.
    pub revoked: u64,
    /// Failed reloads since start.
    pub failures: u64,
}

/// Requests, over [`Requests::window_secs`].
#[derive(Debug, Clone, Serialize)]
pub struct Requests {
    /// Seconds the rates are computed over.
    pub window_secs: f64,
    /// Whether the window is "since start" (no earlier reading yet).
    pub since_start: bool,
    /// Requests answered since start.
    pub total: u64,
    /// Requests per second.
    pub per_second: f64,
    /// Per outcome, most frequent first; outcomes never seen are left out.
    pub outcomes: Vec<Outcome>,
    /// Request latency quantiles over the window, in milliseconds.
    pub latency_ms: Option<Quantiles>,
}

/// One outcome's count and rate.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// `successful`, `malformedRequest`, `tryLater`, …
    pub outcome: String,
    /// Since start.
    pub total: u64,
    /// Per second over the window.
    pub per_second: f64,
}

/// Latency quantiles, in milliseconds (interpolated within histogram buckets).
#[derive(Debug, Clone, Serialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Observations in the window.
    pub count: u64,
}

/// The response cache.
#[derive(Debug, Clone, Serialize)]
pub struct Cache {
    /// Hits since start.
    pub hits: u64,
    /// Misses since start.
    pub misses: u64,
    /// hits / (hits + misses) over the window (`None`: no cacheable request in it).
    pub hit_ratio: Option<f64>,
    /// Answers held now.
    pub entries: u64,
    /// Evictions since start.
    pub evictions: u64,
}

/// The signing pool.
#[derive(Debug, Clone, Serialize)]
pub struct Signing {
    /// Jobs waiting now.
    pub queue_depth: u64,
    /// Signatures since start.
    pub signatures: u64,
    /// Signatures per second over the window.
    pub per_second: f64,
    /// Jobs refused (queue full, answered tryLater) since start.
    pub rejected: u64,
    /// Signing latency quantiles over the window, in milliseconds.
    pub latency_ms: Option<Quantiles>,
}

struct Reading {
    at: Instant,
    samples: Arc<Vec<Sample>>,
}

static READINGS: Mutex<VecDeque<Reading>> = Mutex::new(VecDeque::new());

/// Keep `now`'s reading and return the one to difference against, if any.
fn baseline(samples: &Arc<Vec<Sample>>) -> Option<(Duration, Arc<Vec<Sample>>)> {
    let now = Instant::now();
    let mut r = READINGS.lock().unwrap_or_else(|p| p.into_inner());
    while r
        .front()
        .is_some_and(|x| now.duration_since(x.at) > RATE_WINDOW)
    {
        r.pop_front();
    }
    let base = r
        .front()
        .filter(|x| now.duration_since(x.at) >= MIN_RATE_SPAN)
        .map(|x| (now.duration_since(x.at), x.samples.clone()));
    // Keep at most one reading per MIN_RATE_SPAN, and a bounded number.
    if r.back()
        .is_none_or(|x| now.duration_since(x.at) >= MIN_RATE_SPAN)
    {
        r.push_back(Reading {
            at: now,
            samples: samples.clone(),
        });
    }
    while r.len() > MAX_READINGS {
        r.pop_front();
    }
    base
}

/// Counters now minus counters at the baseline (the whole value without one).
struct Window<'a> {
    now: &'a [Sample],
    base: Option<&'a [Sample]>,
    secs: f64,
}

impl Window<'_> {
    fn total(&self, name: &str, want: &[(&str, &str)]) -> Option<f64> {
        prom_text::sum(self.now, name, want)
    }
    fn delta(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        let now = self.total(name, want).unwrap_or(0.0);
        let then = self
            .base
            .and_then(|b| prom_text::sum(b, name, want))
            .unwrap_or(0.0);
        (now - then).max(0.0)
    }
    fn rate(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        if self.secs > 0.0 {
            self.delta(name, want) / self.secs
        } else {
            0.0
        }
    }
    fn quantiles(&self, histogram: &str) -> Option<Quantiles> {
        let now = prom_text::buckets(self.now, histogram);
        let then = self
            .base
            .map(|b| prom_text::buckets(b, histogram))
            .unwrap_or_default();
        let diff: Vec<(f64, f64)> = now
            .iter()
            .map(|(le, c)| {
                let before = then
                    .iter()
                    .find(|(l, _)| l.to_bits() == le.to_bits())
                    .map(|(_, c)| *c)
                    .unwrap_or(0.0);
                (*le, (c - before).max(0.0))
            })
            .collect();
        let ms = |q| prom_text::quantile(q, &diff).map(|s| s * 1000.0);
        Some(Quantiles {
            p50: ms(0.5)?,
            p90: ms(0.9)?,
            p99: ms(0.99)?,
            count: diff.last().map(|(_, c)| *c as u64).unwrap_or(0),
        })
    }
}

fn rfc3339(secs: f64) -> String {
    Timestamp(secs.max(0.0) as u64).rfc3339()
}

async fn issuer_status(issuer: &Issuer, samples: &[Sample], now: Timestamp) -> IssuerStatus {
    let r = issuer.responder.current();
    let left = r.not_after.0 as i64 - now.0 as i64;
    let by_issuer = [("issuer", issuer.name.as_str())];
    let metric = |name: &str| prom_text::sum(samples, name, &by_issuer);
    let last_reload = metric(crate::metrics::INDEX_LAST_RELOAD).map(|attempted| Reload {
        attempted_at: rfc3339(attempted),
        ok: metric(crate::metrics::INDEX_LAST_RELOAD_SUCCESS) == Some(1.0),
        loaded_at: rfc3339(metric(crate::metrics::INDEX_LOADED).unwrap_or(0.0)),
        entries: metric(crate::metrics::INDEX_ENTRIES).unwrap_or(0.0) as u64,
        revoked: metric(crate::metrics::INDEX_REVOKED).unwrap_or(0.0) as u64,
        failures: metric(crate::metrics::INDEX_RELOAD_FAILURES).unwrap_or(0.0) as u64,
    });
    let (generation, backend_error) = match issuer.status.generation().await {
        Ok(g) => (Some(g), None),
        Err(e) => (None, Some(e.to_string())),
    };
    IssuerStatus {
        name: issuer.name.clone(),
        ca_subject: issuer.cert.tbs_certificate.subject.to_string(),
        responder_subject: r.cert.tbs_certificate.subject.to_string(),
        delegated: r.delegated,
        responder_not_after: r.not_after.rfc3339(),
        days_to_expiry: left.div_euclid(86_400),
        signer: r.signer.describe(),
        signer_ready: metric(crate::metrics::SIGNER_READY).map(|v| v == 1.0),
        backend: issuer.status.describe(),
        generation,
        backend_error,
        last_reload,
        validity_secs: issuer.validity_secs,
        responder_reload_ok: metric(crate::metrics::RESPONDER_LAST_RELOAD_SUCCESS)
            .map(|v| v == 1.0),
        next_responder_at: metric(crate::metrics::RESPONDER_NEXT_NOT_BEFORE)
            .filter(|t| *t > 0.0)
            .map(rfc3339),
    }
}

/// Gather the snapshot (running the readiness check if its cached result is stale),
/// with the lookup `query` asks for, if any.
pub async fn gather(ops: &Ops, query: Option<&str>) -> StatusSnapshot {
    let now = ops.health.now();
    let readiness = ops.health.readiness().await;
    // Render after the readiness check, so its gauges are current.
    let samples: Arc<Vec<Sample>> = Arc::new(
        ops.exporter
            .as_ref()
            .map(|e| prom_text::parse(&e.render(now)))
            .unwrap_or_default(),
    );
    let base = baseline(&samples);
    let (secs, since_start) = match &base {
        Some((d, _)) => (d.as_secs_f64(), false),
        None => (ops.health.uptime().as_secs_f64(), true),
    };
    let w = Window {
        now: &samples,
        base: base.as_ref().map(|(_, b)| b.as_slice()),
        secs,
    };
    let mut issuers = Vec::new();
    for issuer in ops.health.issuers().iter() {
        issuers.push(issuer_status(issuer, &samples, now).await);
    }
    let build = samples
        .iter()
        .find(|s| s.name == crate::metrics::BUILD_INFO)
        .map(|s| Build {
            version: s.label("version").into(),
            commit: s.label("commit").into(),
            features: s.label("features").into(),
            profile: s.label("profile").into(),
        });
    let has = |name: &str| samples.iter().any(|s| s.name == name);
    let requests = ops.exporter.is_some().then(|| {
        let mut outcomes: Vec<Outcome> = Vec::new();
        for s in samples
            .iter()
            .filter(|s| s.name == crate::metrics::REQUESTS)
        {
            let o = s.label("outcome");
            if outcomes.iter().any(|x| x.outcome == o) {
                continue;
            }
            let want = [("outcome", o)];
            let total = w.total(crate::metrics::REQUESTS, &want).unwrap_or(0.0) as u64;
            if total > 0 {
                outcomes.push(Outcome {
                    outcome: o.to_string(),
                    total,
                    per_second: w.rate(crate::metrics::REQUESTS, &want),
                });
            }
        }
        outcomes.sort_by(|a, b| b.total.cmp(&a.total).then(a.outcome.cmp(&b.outcome)));
        Requests {
            window_secs: secs,
            since_start,
            total: w.total(crate::metrics::REQUESTS, &[]).unwrap_or(0.0) as u64,
            per_second: w.rate(crate::metrics::REQUESTS, &[]),
            outcomes,
            latency_ms: w.quantiles(crate::metrics::REQUEST_DURATION),
        }
    });
    let cache = has(crate::metrics::CACHE_HITS).then(|| {
        let (dh, dm) = (
            w.delta(crate::metrics::CACHE_HITS, &[]),
            w.delta(crate::metrics::CACHE_MISSES, &[]),
        );
        Cache {
            hits: w.total(crate::metrics::CACHE_HITS, &[]).unwrap_or(0.0) as u64,
            misses: w.total(crate::metrics::CACHE_MISSES, &[]).unwrap_or(0.0) as u64,
            hit_ratio: (dh + dm > 0.0).then(|| dh / (dh + dm)),
            entries: w.total(crate::metrics::CACHE_ENTRIES, &[]).unwrap_or(0.0) as u64,
            evictions: w.total(crate::metrics::CACHE_EVICTIONS, &[]).unwrap_or(0.0) as u64,
        }
    });
    let signing = has(crate::metrics::SIGN_QUEUE_DEPTH).then(|| Signing {
        queue_depth: w
            .total(crate::metrics::SIGN_QUEUE_DEPTH, &[])
            .unwrap_or(0.0) as u64,
        signatures: w.total(crate::metrics::SIGNATURES, &[]).unwrap_or(0.0) as u64,
        per_second: w.rate(crate::metrics::SIGNATURES, &[]),
        rejected: w.total(crate::metrics::SIGN_REJECTED, &[]).unwrap_or(0.0) as u64,
        latency_ms: w.quantiles(crate::metrics::SIGN_DURATION),
    });
    let lookup = match query.map(super::lookup::LookupQuery::parse) {
        Some(q) if q.asked() => Some(super::lookup::run(&q, ops.health.issuers()).await),
        _ => None,
    };
    StatusSnapshot {
        generated_at: now.rfc3339(),
        build,
        ready: readiness.ready,
        problems: readiness.problems.clone(),
        issuers,
        requests,
        cache,
        signing,
        lookup,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_quantiles_are_over_the_window() {
        let then = prom_text::parse(
            "ocsp_requests_total{outcome=\"successful\"} 100\n\
             ocsp_requests_total{outcome=\"tryLater\"} 0\n\
             h_bucket{le=\"0.001\"} 100\nh_bucket{le=\"0.01\"} 100\nh_bucket{le=\"+Inf\"} 100\n",
        );
        let now = prom_text::parse(
            "ocsp_requests_total{outcome=\"successful\"} 150\n\
             ocsp_requests_total{outcome=\"tryLater\"} 10\n\
             h_bucket{le=\"0.001\"} 100\nh_bucket{le=\"0.01\"} 160\nh_bucket{le=\"+Inf\"} 160\n",
        );
        let w = Window {
            now: &now,
            base: Some(&then),
            secs: 10.0,
        };
        assert_eq!(w.rate("ocsp_requests_total", &[]), 6.0);
        assert_eq!(
            w.rate("ocsp_requests_total", &[("outcome", "tryLater")]),
            1.0
        );
        assert_eq!(w.total("ocsp_requests_total", &[]), Some(160.0));
        // Only the 60 new observations count, all between 1 and 10 ms.
        let q = w.quantiles("h").unwrap_or_else(|| panic!("quantiles"));
        assert_eq!(q.count, 60);
        assert!(q.p50 > 1.0 && q.p99 <= 10.0, "{q:?}");
        // Without a baseline: since start.
        let w = Window {
            now: &now,
            base: None,
            secs: 80.0,
        };
        assert_eq!(w.rate("ocsp_requests_total", &[]), 2.0);
        assert_eq!(w.quantiles("h").map(|q| q.count), Some(160));
        assert!(w.quantiles("absent").is_none());
    }
}
