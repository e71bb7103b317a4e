//! Every metric the responder exports, named, described and registered in this one file.
//!
//! The Prometheus recorder is installed only when a metrics listener is configured
//! (`--metrics-listen`); without it every recording call below is a no-op.
//!
//! | series | type | labels | what |
//! |---|---|---|---|
//! | `ocsp_requests_total` | counter | `method`, `outcome` | requests answered, by outcome (`successful`, `notModified`, `malformedRequest`, `unauthorized`, `tryLater`, `internalError`, `tooLarge`, `uriTooLong`, `timeout`, `methodNotAllowed`, `info`) |
//! | `ocsp_request_duration_seconds` | histogram | `method` | time from request head to response |
//! | `ocsp_cert_statuses_total` | counter | `status` | CertIDs answered `good`, `revoked`, `unknown` |
//! | `ocsp_connections_total` | counter | `scheme` | connections accepted (`http`, `https`, `metrics`) |
//! | `ocsp_connections_open` | gauge | `scheme` | connections open now |
//! | `ocsp_tls_handshake_failures_total` | counter | | TLS handshakes that failed or timed out |
//! | `ocsp_sign_duration_seconds` | histogram | | time to build and sign one response |
//! | `ocsp_sign_queue_depth` | gauge | | signing jobs waiting |
//! | `ocsp_signatures_total` | counter | | signing jobs run |
//! | `ocsp_sign_rejected_total` | counter | | signing jobs refused, queue full (`tryLater`) |
//! | `ocsp_sign_abandoned_total` | counter | | signing jobs skipped, requester gone |
//! | `ocsp_sign_panics_total` | counter | | signing jobs that panicked |
//! | `ocsp_cache_hits_total` / `_misses_total` / `_evictions_total` | counter | | response cache |
//! | `ocsp_cache_entries` | gauge | | responses held by the cache |
//! | `ocsp_cache_resign_failures_total` | counter | | background re-signs that failed: the answer served is past its refresh point |
//! | `ocsp_cache_expired_total` | counter | | cached answers found past their nextUpdate (not served; signed afresh) |
//! | `ocsp_profile_refusals_total` | counter | `rule` | responses the compliance profile refused to sign |
//! | `ocsp_index_entries` | gauge | `issuer` | entries in the served index snapshot |
//! | `ocsp_index_revoked_entries` | gauge | `issuer` | revoked entries in it |
//! | `ocsp_index_generation` | gauge | `issuer` | generation served (changes with every change of status) |
//! | `ocsp_index_last_reload_timestamp_seconds` | gauge | `issuer` | when the last (re)load was attempted |
//! | `ocsp_index_last_reload_success` | gauge | `issuer` | 1 if it succeeded, 0 if the last good state is still served |
//! | `ocsp_db_up` | gauge | `issuer` | PostgreSQL sources: 1 if the database answered the last probe, 0 if not (strict answers `tryLater`) |
//! | `ocsp_index_loaded_timestamp_seconds` | gauge | `issuer` | when the served snapshot was read |
//! | `ocsp_index_reloads_total` / `ocsp_index_reload_failures_total` | counter | `issuer` | (re)loads that succeeded / failed |
//! | `ocsp_responder_cert_expiry_seconds` | gauge | `issuer` | seconds until the responder certificate's notAfter (negative: expired) |
//! | `ocsp_signer_ready` | gauge | `issuer` | 1 if the issuer's last readiness check (test signature) passed |
//! | `ocsp_ready` | gauge | | 1 if `/readyz` last answered ready |
//! | `ocsp_log_lines_suppressed_total` | counter | `kind` | error/warning lines not logged because they stormed |
//! | `ocsp_build_info` | gauge | `version`, `commit`, `features`, `profile` | always 1 |
//! | `ocsp_responder_reload_total` | counter | `issuer`, `result` | responder certificate and key reloads (SIGHUP): `ok` (a changed pair loaded and checked), `unchanged`, `failed` (the pair in force stays) |
//! | `ocsp_responder_last_reload_success` | gauge | `issuer` | 1 if the last responder reload left nothing refused, 0 if a changed pair was refused |
//! | `ocsp_responder_cert_not_after_seconds` | gauge | `issuer` | Unix time of the notAfter of the responder certificate in force |
//! | `ocsp_responder_next_not_before_seconds` | gauge | `issuer` | Unix time the configured next responder certificate takes over (0: none pending) |
//! | `ocsp_responder_switches_total` | counter | `issuer` | responder certificates put in force while serving (reload or next-certificate takeover) |

use crate::http::Outcome;
use crate::source::StatusKind;
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Histogram, Unit,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use ocsp_proto::Timestamp;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Requests answered, by method and outcome.
pub const REQUESTS: &str = "ocsp_requests_total";
/// Request latency, by method.
pub const REQUEST_DURATION: &str = "ocsp_request_duration_seconds";
/// CertIDs answered, by status.
pub const CERT_STATUSES: &str = "ocsp_cert_statuses_total";
/// Connections accepted, by scheme.
pub const CONNECTIONS: &str = "ocsp_connections_total";
/// Connections open, by scheme.
pub const CONNECTIONS_OPEN: &str = "ocsp_connections_open";
/// TLS handshakes that failed.
pub const TLS_HANDSHAKE_FAILURES: &str = "ocsp_tls_handshake_failures_total";
/// Time to build and sign one response.
pub const SIGN_DURATION: &str = "ocsp_sign_duration_seconds";
/// Signing jobs waiting.
pub const SIGN_QUEUE_DEPTH: &str = "ocsp_sign_queue_depth";
/// Signing jobs run.
pub const SIGNATURES: &str = "ocsp_signatures_total";
/// Signing jobs refused (queue full).
pub const SIGN_REJECTED: &str = "ocsp_sign_rejected_total";
/// Signing jobs skipped (requester gone).
pub const SIGN_ABANDONED: &str = "ocsp_sign_abandoned_total";
/// Signing jobs that panicked.
pub const SIGN_PANICS: &str = "ocsp_sign_panics_total";
/// Response cache hits.
pub const CACHE_HITS: &str = "ocsp_cache_hits_total";
/// Response cache misses.
pub const CACHE_MISSES: &str = "ocsp_cache_misses_total";
/// Response cache evictions.
pub const CACHE_EVICTIONS: &str = "ocsp_cache_evictions_total";
/// Responses held by the cache.
pub const CACHE_ENTRIES: &str = "ocsp_cache_entries";
/// Background re-signs that failed (answers served past their refresh point).
pub const CACHE_RESIGN_FAILURES: &str = "ocsp_cache_resign_failures_total";
/// Cached answers found past their nextUpdate.
pub const CACHE_EXPIRED: &str = "ocsp_cache_expired_total";
/// Responses refused by the compliance profile, by rule.
pub const PROFILE_REFUSALS: &str = "ocsp_profile_refusals_total";
/// Index entries served, by issuer.
pub const INDEX_ENTRIES: &str = "ocsp_index_entries";
/// Revoked index entries served, by issuer.
pub const INDEX_REVOKED: &str = "ocsp_index_revoked_entries";
/// Index generation served, by issuer.
pub const INDEX_GENERATION: &str = "ocsp_index_generation";
/// When the last index (re)load was attempted, by issuer.
pub const INDEX_LAST_RELOAD: &str = "ocsp_index_last_reload_timestamp_seconds";
/// Whether the last index (re)load succeeded, by issuer.
pub const INDEX_LAST_RELOAD_SUCCESS: &str = "ocsp_index_last_reload_success";
/// Whether the issuer's database answered its last probe (PostgreSQL sources), by issuer.
pub const DB_UP: &str = "ocsp_db_up";
/// When the served snapshot was read, by issuer.
pub const INDEX_LOADED: &str = "ocsp_index_loaded_timestamp_seconds";
/// Successful index (re)loads, by issuer.
pub const INDEX_RELOADS: &str = "ocsp_index_reloads_total";
/// Failed index reloads, by issuer.
pub const INDEX_RELOAD_FAILURES: &str = "ocsp_index_reload_failures_total";
/// Seconds to the responder certificate's notAfter, by issuer.
pub const RESPONDER_CERT_EXPIRY: &str = "ocsp_responder_cert_expiry_seconds";
/// Whether the issuer's last readiness check passed.
pub const SIGNER_READY: &str = "ocsp_signer_ready";
/// Whether `/readyz` last answered ready.
pub const READY: &str = "ocsp_ready";
/// Log lines suppressed while errors stormed, by kind.
pub const LOG_SUPPRESSED: &str = "ocsp_log_lines_suppressed_total";
/// Log lines dropped because the log writer's buffer was full (or their write failed).
pub const LOG_LINES_DROPPED: &str = "ocsp_log_lines_dropped_total";
/// Build information (always 1).
pub const BUILD_INFO: &str = "ocsp_build_info";
/// Responder certificate and key reloads, by issuer and result.
pub const RESPONDER_RELOADS: &str = "ocsp_responder_reload_total";
/// Whether the last responder reload refused nothing, by issuer.
pub const RESPONDER_LAST_RELOAD_SUCCESS: &str = "ocsp_responder_last_reload_success";
/// notAfter of the responder certificate in force, by issuer.
pub const RESPONDER_CERT_NOT_AFTER: &str = "ocsp_responder_cert_not_after_seconds";
/// When the configured next responder certificate takes over, by issuer (0: none).
pub const RESPONDER_NEXT_NOT_BEFORE: &str = "ocsp_responder_next_not_before_seconds";
/// Responder certificates put in force while serving, by issuer.
pub const RESPONDER_SWITCHES: &str = "ocsp_responder_switches_total";

/// Histogram buckets for latencies, in seconds: 100 µs to 10 s (the answer deadline).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Register the help text of every series.
pub fn describe() {
    describe_counter!(
        REQUESTS,
        "OCSP HTTP requests answered, by method and outcome."
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from request head to response, by method."
    );
    describe_counter!(
        CERT_STATUSES,
        "CertIDs answered, by status (good, revoked, unknown)."
    );
    describe_counter!(CONNECTIONS, "Connections accepted, by scheme.");
    describe_gauge!(CONNECTIONS_OPEN, "Connections open now, by scheme.");
    describe_counter!(
        TLS_HANDSHAKE_FAILURES,
        "TLS handshakes that failed or timed out."
    );
    describe_histogram!(
        SIGN_DURATION,
        Unit::Seconds,
        "Time to build and sign one OCSP response."
    );
    describe_gauge!(
        SIGN_QUEUE_DEPTH,
        "Signing jobs waiting for a signing thread."
    );
    describe_counter!(SIGNATURES, "Signing jobs run.");
    describe_counter!(
        SIGN_REJECTED,
        "Signing jobs refused because the queue was full (answered tryLater)."
    );
    describe_counter!(
        SIGN_ABANDONED,
        "Signing jobs skipped because the requester had gone."
    );
    describe_counter!(SIGN_PANICS, "Signing jobs that panicked.");
    describe_counter!(CACHE_HITS, "Requests answered from the response cache.");
    describe_counter!(
        CACHE_MISSES,
        "Requests the response cache could not answer."
    );
    describe_counter!(CACHE_EVICTIONS, "Responses evicted from the cache.");
    describe_gauge!(CACHE_ENTRIES, "Responses held by the cache.");
    describe_counter!(
        CACHE_RESIGN_FAILURES,
        "Background re-signs of cached answers that failed; the answer then served is past its refresh point."
    );
    describe_counter!(
        CACHE_EXPIRED,
        "Cached answers found past their nextUpdate (never served; signed afresh)."
    );
    describe_counter!(
        PROFILE_REFUSALS,
        "Responses the compliance profile refused to sign, by rule."
    );
    describe_gauge!(
        INDEX_ENTRIES,
        "Entries in the served index snapshot, by issuer."
    );
    describe_gauge!(
        INDEX_REVOKED,
        "Revoked entries in the served index snapshot, by issuer."
    );
    describe_gauge!(INDEX_GENERATION, "Index generation served, by issuer.");
    describe_gauge!(
        INDEX_LAST_RELOAD,
        Unit::Seconds,
        "Unix time of the last index (re)load attempt, by issuer."
    );
    describe_gauge!(
        INDEX_LAST_RELOAD_SUCCESS,
        "1 if the last index (re)load succeeded, 0 if it failed and the last good state is served."
    );
    describe_gauge!(
        DB_UP,
        "1 if the issuer's PostgreSQL database answered the last probe, 0 if not (strict sources then answer tryLater), by issuer."
    );
    describe_gauge!(
        INDEX_LOADED,
        Unit::Seconds,
        "Unix time the served index snapshot was read, by issuer."
    );
    describe_counter!(
        INDEX_RELOADS,
        "Successful index loads and reloads, by issuer."
    );
    describe_counter!(INDEX_RELOAD_FAILURES, "Failed index reloads, by issuer.");
    describe_gauge!(
        RESPONDER_CERT_EXPIRY,
        Unit::Seconds,
        "Seconds until the responder certificate expires (negative: expired), by issuer."
    );
    describe_gauge!(
        SIGNER_READY,
        "1 if the issuer's signer produced a valid test signature at the last check."
    );
    describe_gauge!(READY, "1 if the responder was ready at the last check.");
    describe_counter!(
        LOG_SUPPRESSED,
        "Error and warning log lines suppressed while they stormed, by kind."
    );
    describe_gauge!(BUILD_INFO, "Build information; always 1.");
    describe_counter!(
        LOG_LINES_DROPPED,
        "Log lines dropped because the log buffer was full or their write failed."
    );
    describe_counter!(
        RESPONDER_RELOADS,
        "Responder certificate and key reloads, by issuer and result (ok, unchanged, failed)."
    );
    describe_gauge!(
        RESPONDER_LAST_RELOAD_SUCCESS,
        "1 if the last responder reload refused nothing, 0 if the pair in force was kept."
    );
    describe_gauge!(
        RESPONDER_CERT_NOT_AFTER,
        Unit::Seconds,
        "Unix time of the notAfter of the responder certificate in force, by issuer."
    );
    describe_gauge!(
        RESPONDER_NEXT_NOT_BEFORE,
        Unit::Seconds,
        "Unix time the configured next responder certificate takes over (0: none), by issuer."
    );
    describe_counter!(
        RESPONDER_SWITCHES,
        "Responder certificates put in force while serving, by issuer."
    );
}

/// Count one responder reload of `issuer` with `result` (`ok`, `unchanged`, `failed`).
pub fn responder_reload(issuer: &str, result: &'static str) {
    counter!(RESPONDER_RELOADS, "issuer" => issuer.to_string(), "result" => result).increment(1);
    responder_reload_state(issuer, result != "failed");
}

/// Record whether `issuer`'s last responder reload refused nothing (1 at start).
pub fn responder_reload_state(issuer: &str, ok: bool) {
    gauge!(RESPONDER_LAST_RELOAD_SUCCESS, "issuer" => issuer.to_string()).set(if ok {
        1.0
    } else {
        0.0
    });
}

/// Record the responder certificate in force for `issuer` and the next one pending.
pub fn responder_certs(issuer: &str, not_after: Timestamp, next_not_before: Option<Timestamp>) {
    gauge!(RESPONDER_CERT_NOT_AFTER, "issuer" => issuer.to_string()).set(not_after.0 as f64);
    gauge!(RESPONDER_NEXT_NOT_BEFORE, "issuer" => issuer.to_string())
        .set(next_not_before.map_or(0.0, |t| t.0 as f64));
}

/// Count one responder put in force while serving, for `issuer`.
pub fn responder_switched(issuer: &str) {
    counter!(RESPONDER_SWITCHES, "issuer" => issuer.to_string()).increment(1);
}

static GLOBAL: OnceLock<PrometheusHandle> = OnceLock::new();

/// A Prometheus recorder configured with this file's buckets (not installed).
pub fn builder() -> PrometheusBuilder {
    // Only fails on an empty bucket list.
    PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new())
}

/// Install the process-wide recorder (once) and return a handle to render it. A second call
/// returns the same handle. Fails if another recorder was installed first.
pub fn install(version: &str, profile: &str) -> Result<PrometheusHandle, String> {
    install_with(
        &BuildInfo {
            version,
            commit: "unknown",
            features: "unknown",
        },
        profile,
    )
}

/// What the binary is, for `ocsp_build_info`.
#[derive(Debug, Clone, Copy)]
pub struct BuildInfo<'a> {
    /// The version (`0.1.0`).
    pub version: &'a str,
    /// The source commit, or `unknown`.
    pub commit: &'a str,
    /// The enabled features, comma-separated, or `none`.
    pub features: &'a str,
}

/// [`install`], labelling `ocsp_build_info` with the commit and features too.
pub fn install_with(build: &BuildInfo<'_>, profile: &str) -> Result<PrometheusHandle, String> {
    if let Some(h) = GLOBAL.get() {
        return Ok(h.clone());
    }
    let recorder = builder().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    let handle = GLOBAL.get_or_init(|| handle).clone();
    describe();
    gauge!(
        BUILD_INFO,
        "version" => build.version.to_string(),
        "commit" => build.commit.to_string(),
        "features" => build.features.to_string(),
        "profile" => profile.to_string()
    )
    .set(1.0);
    Ok(handle)
}

/// The label value for a request method (bounded: `GET`, `HEAD`, `POST`, `OTHER`).
pub fn method_label(m: &http::Method) -> &'static str {
    METHODS[method_index(m)]
}

/// The position of a method's label in [`METHODS`].
fn method_index(m: &http::Method) -> usize {
    match *m {
        http::Method::GET => 0,
        http::Method::HEAD => 1,
        http::Method::POST => 2,
        _ => 3,
    }
}

const METHODS: [&str; 4] = ["GET", "HEAD", "POST", "OTHER"];

/// The per-request series of the installed recorder, registered once: a request then
/// touches only its own counters, with no registry lookup and no label allocation.
/// `requests` is indexed by method and [`Outcome`] (`m * Outcome::ALL.len() + o as
/// usize`), `statuses` by [`StatusKind`] (`s as usize`).
struct Handles {
    requests: Vec<Counter>,
    durations: Vec<Histogram>,
    statuses: Vec<Counter>,
}

static HANDLES: OnceLock<Handles> = OnceLock::new();

/// Whether per-request metrics are recorded at all: not before [`install`] (`ocsp serve`
/// without a metrics listener records nothing). This crate's unit tests record into
/// local recorders.
fn recording() -> bool {
    cfg!(test) || GLOBAL.get().is_some()
}

fn handles() -> Option<&'static Handles> {
    // Only once the process-wide recorder is in: before that (or under a local recorder,
    // in tests) the macros find the recorder in force.
    GLOBAL.get()?;
    Some(HANDLES.get_or_init(|| {
        Handles {
            requests: METHODS
                .iter()
                .flat_map(|m| {
                    Outcome::ALL
                        .iter()
                        .map(move |o| counter!(REQUESTS, "method" => *m, "outcome" => o.label()))
                })
                .collect(),
            durations: METHODS
                .iter()
                .map(|m| histogram!(REQUEST_DURATION, "method" => *m))
                .collect(),
            statuses: StatusKind::ALL
                .iter()
                .map(|s| counter!(CERT_STATUSES, "status" => s.name()))
                .collect(),
        }
    }))
}

/// Record one answered request.
pub fn request(method: &http::Method, outcome: Outcome, elapsed: Duration) {
    if !recording() {
        return;
    }
    let m = method_index(method);
    if let Some(h) = handles() {
        if let Some(c) = h.requests.get(m * Outcome::ALL.len() + outcome as usize) {
            c.increment(1);
        }
        if let Some(d) = h.durations.get(m) {
            d.record(elapsed.as_secs_f64());
        }
        return;
    }
    counter!(REQUESTS, "method" => METHODS[m], "outcome" => outcome.label()).increment(1);
    histogram!(REQUEST_DURATION, "method" => METHODS[m]).record(elapsed.as_secs_f64());
}

/// Record the statuses of one answer (`good`, `revoked`, `unknown`).
pub fn cert_statuses(statuses: &[StatusKind]) {
    if statuses.is_empty() || !recording() {
        return;
    }
    let h = handles();
    for s in statuses {
        match h.and_then(|h| h.statuses.get(*s as usize)) {
            Some(c) => c.increment(1),
            None => counter!(CERT_STATUSES, "status" => s.name()).increment(1),
        }
    }
}

/// Counts a connection open until dropped.
#[derive(Debug)]
pub struct ConnectionGuard {
    scheme: &'static str,
}

/// Record an accepted connection; the returned guard counts it open until dropped.
pub fn connection(scheme: &'static str) -> ConnectionGuard {
    counter!(CONNECTIONS, "scheme" => scheme).increment(1);
    gauge!(CONNECTIONS_OPEN, "scheme" => scheme).increment(1.0);
    ConnectionGuard { scheme }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        gauge!(CONNECTIONS_OPEN, "scheme" => self.scheme).decrement(1.0);
    }
}

/// Record a failed TLS handshake.
pub fn tls_handshake_failed() {
    counter!(TLS_HANDSHAKE_FAILURES).increment(1);
}

/// Record a response refused by the compliance profile.
pub fn profile_refused(rule: &'static str) {
    counter!(PROFILE_REFUSALS, "rule" => rule).increment(1);
}

/// Record log lines suppressed while errors stormed.
pub fn log_suppressed(kind: &'static str) {
    counter!(LOG_SUPPRESSED, "kind" => kind).increment(1);
}

/// Record log lines dropped by the log writer (called by its thread; 0 registers the series).
pub fn log_lines_dropped(n: u64) {
    counter!(LOG_LINES_DROPPED).increment(n);
}

/// Times one signature; records [`SIGN_DURATION`] when dropped.
#[derive(Debug)]
pub struct SignTimer(Instant);

/// Start timing a signature.
pub fn sign_timer() -> SignTimer {
    SignTimer(Instant::now())
}

impl Drop for SignTimer {
    fn drop(&mut self) {
        histogram!(SIGN_DURATION).record(self.0.elapsed().as_secs_f64());
    }
}

/// Record the outcome of an issuer's readiness check.
pub fn signer_ready(issuer: &str, ready: bool) {
    gauge!(SIGNER_READY, "issuer" => issuer.to_string()).set(if ready { 1.0 } else { 0.0 });
}

/// Record the responder's readiness.
pub fn ready(ready: bool) {
    gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}

/// What a status source reports about its data, read at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSnapshot {
    /// Entries served.
    pub entries: u64,
    /// Revoked entries served.
    pub revoked: u64,
    /// Generation served.
    pub generation: u64,
    /// When the last (re)load was attempted.
    pub last_attempt: Timestamp,
    /// Whether it succeeded.
    pub last_ok: bool,
    /// When the served data was read.
    pub loaded_at: Timestamp,
    /// Successful (re)loads.
    pub reloads: u64,
    /// Failed reloads.
    pub failures: u64,
    /// Whether the source is a database (then `last_ok` is exported as `ocsp_db_up`).
    pub database: bool,
}

/// The signing pool's counters, read at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningSnapshot {
    /// Jobs run.
    pub signed: u64,
    /// Jobs refused (queue full).
    pub rejected: u64,
    /// Jobs skipped (requester gone).
    pub abandoned: u64,
    /// Jobs that panicked.
    pub panicked: u64,
    /// Jobs waiting now.
    pub queued: u64,
}

/// The response cache's counters, read at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheSnapshot {
    /// Hits.
    pub hits: u64,
    /// Misses.
    pub misses: u64,
    /// Evictions.
    pub evictions: u64,
    /// Responses held.
    pub entries: u64,
    /// Background re-signs that failed.
    pub resign_failures: u64,
    /// Entries found past their nextUpdate.
    pub expired: u64,
}

type Probe<T> = Box<dyn Fn() -> T + Send + Sync>;

struct IssuerProbe {
    name: String,
    not_after: Probe<Timestamp>,
    source: Option<Probe<Option<SourceSnapshot>>>,
}

/// Renders `/metrics`: reads the state others keep (indexes, signing pool, cache,
/// certificates) into gauges and counters, then renders the recorder.
pub struct Exporter {
    handle: PrometheusHandle,
    issuers: Vec<IssuerProbe>,
    signing: Option<Probe<SigningSnapshot>>,
    cache: Option<Probe<CacheSnapshot>>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field(
                "issuers",
                &self
                    .issuers
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Exporter {
    /// An exporter rendering `handle`.
    pub fn new(handle: PrometheusHandle) -> Exporter {
        Exporter {
            handle,
            issuers: Vec::new(),
            signing: None,
            cache: None,
        }
    }

    /// Export an issuer: its responder certificate's notAfter and, if given, its status
    /// source's state.
    pub fn add_issuer(
        &mut self,
        name: &str,
        responder_not_after: Timestamp,
        source: Option<Probe<Option<SourceSnapshot>>>,
    ) {
        self.add_issuer_following(name, Box::new(move || responder_not_after), source);
    }

    /// As [`Exporter::add_issuer`], the responder certificate's notAfter read at every
    /// scrape from `not_after` (it changes when the certificate is replaced while serving).
    pub fn add_issuer_following(
        &mut self,
        name: &str,
        not_after: Probe<Timestamp>,
        source: Option<Probe<Option<SourceSnapshot>>>,
    ) {
        self.issuers.push(IssuerProbe {
            name: name.to_string(),
            not_after,
            source,
        });
    }

    /// Export the signing pool's counters.
    pub fn set_signing(&mut self, probe: Probe<SigningSnapshot>) {
        self.signing = Some(probe);
    }

    /// Export the response cache's counters.
    pub fn set_cache(&mut self, probe: Probe<CacheSnapshot>) {
        self.cache = Some(probe);
    }

    /// The recorder handle.
    pub fn handle(&self) -> &PrometheusHandle {
        &self.handle
    }

    /// Read every probe into the recorder (the current recorder: the global one in the
    /// server, a local one in tests).
    pub fn collect(&self, now: Timestamp) {
        for i in &self.issuers {
            let issuer = i.name.clone();
            let not_after = (i.not_after)();
            let left = not_after.0 as f64 - now.0 as f64;
            gauge!(RESPONDER_CERT_NOT_AFTER, "issuer" => issuer.clone()).set(not_after.0 as f64);
            gauge!(RESPONDER_CERT_EXPIRY, "issuer" => issuer.clone()).set(left);
            let Some(snap) = i.source.as_ref().and_then(|p| p()) else {
                continue;
            };
            gauge!(INDEX_ENTRIES, "issuer" => issuer.clone()).set(snap.entries as f64);
            gauge!(INDEX_REVOKED, "issuer" => issuer.clone()).set(snap.revoked as f64);
            gauge!(INDEX_GENERATION, "issuer" => issuer.clone()).set(snap.generation as f64);
            gauge!(INDEX_LAST_RELOAD, "issuer" => issuer.clone()).set(snap.last_attempt.0 as f64);
            gauge!(INDEX_LAST_RELOAD_SUCCESS, "issuer" => issuer.clone()).set(if snap.last_ok {
                1.0
            } else {
                0.0
            });
            gauge!(INDEX_LOADED, "issuer" => issuer.clone()).set(snap.loaded_at.0 as f64);
            if snap.database {
                gauge!(DB_UP, "issuer" => issuer.clone()).set(if snap.last_ok { 1.0 } else { 0.0 });
            }
            counter!(INDEX_RELOADS, "issuer" => issuer.clone()).absolute(snap.reloads);
            counter!(INDEX_RELOAD_FAILURES, "issuer" => issuer).absolute(snap.failures);
        }
        if let Some(p) = &self.signing {
            let s = p();
            gauge!(SIGN_QUEUE_DEPTH).set(s.queued as f64);
            counter!(SIGNATURES).absolute(s.signed);
            counter!(SIGN_REJECTED).absolute(s.rejected);
            counter!(SIGN_ABANDONED).absolute(s.abandoned);
            counter!(SIGN_PANICS).absolute(s.panicked);
        }
        if let Some(p) = &self.cache {
            let c = p();
            counter!(CACHE_HITS).absolute(c.hits);
            counter!(CACHE_MISSES).absolute(c.misses);
            counter!(CACHE_EVICTIONS).absolute(c.evictions);
            gauge!(CACHE_ENTRIES).set(c.entries as f64);
            counter!(CACHE_RESIGN_FAILURES).absolute(c.resign_failures);
            counter!(CACHE_EXPIRED).absolute(c.expired);
        }
    }

    /// Collect, then render in the Prometheus text format.
    pub fn render(&self, now: Timestamp) -> String {
        self.collect(now);
        self.handle.render()
    }

    /// Drain histogram buffers and drop idle series; run every few seconds.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// Share an exporter between the listener and the upkeep task.
pub type SharedExporter = Arc<Exporter>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse the text format into (name{labels}, value) pairs, checking every line.
    fn parse(text: &str) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            out.push((series.to_string(), value.parse::<f64>().unwrap()));
        }
        out
    }

    #[test]
    fn renders_every_family_with_ocsp_prefix() {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        let mut exp = Exporter::new(handle);
        exp.add_issuer(
            "Test CA",
            Timestamp(2_000),
            Some(Box::new(|| {
                Some(SourceSnapshot {
                    entries: 7,
                    revoked: 2,
                    generation: 3,
                    last_attempt: Timestamp(900),
                    last_ok: false,
                    loaded_at: Timestamp(800),
                    reloads: 3,
                    failures: 1,
                    database: true,
                })
            })),
        );
        exp.set_signing(Box::new(|| SigningSnapshot {
            signed: 5,
            queued: 2,
            ..Default::default()
        }));
        exp.set_cache(Box::new(|| CacheSnapshot {
            hits: 10,
            misses: 4,
            evictions: 1,
            entries: 3,
            ..Default::default()
        }));
        let text = metrics::with_local_recorder(&recorder, || {
            describe();
            request(
                &http::Method::GET,
                Outcome::Successful,
                Duration::from_millis(3),
            );
            request(
                &http::Method::POST,
                Outcome::MalformedRequest,
                Duration::from_micros(300),
            );
            cert_statuses(&[StatusKind::Good, StatusKind::Revoked]);
            {
                let _c = connection("https");
            }
            let _t = sign_timer();
            drop(_t);
            profile_refused("validity-max");
            exp.render(Timestamp(1_000))
        });
        let series = parse(&text);
        assert!(series.iter().all(|(s, _)| s.starts_with("ocsp_")), "{text}");
        let get = |name: &str| {
            series
                .iter()
                .find(|(s, _)| s == name)
                .map(|(_, v)| *v)
                .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
        };
        assert_eq!(
            get(r#"ocsp_requests_total{method="GET",outcome="successful"}"#),
            1.0
        );
        assert_eq!(
            get(r#"ocsp_request_duration_seconds_count{method="GET"}"#),
            1.0
        );
        assert_eq!(
            get(r#"ocsp_request_duration_seconds_bucket{method="GET",le="0.005"}"#),
            1.0
        );
        assert_eq!(get(r#"ocsp_cert_statuses_total{status="revoked"}"#), 1.0);
        assert_eq!(get(r#"ocsp_connections_open{scheme="https"}"#), 0.0);
        assert_eq!(get(r#"ocsp_index_entries{issuer="Test CA"}"#), 7.0);
        assert_eq!(get(r#"ocsp_index_generation{issuer="Test CA"}"#), 3.0);
        assert_eq!(get(r#"ocsp_db_up{issuer="Test CA"}"#), 0.0);
        assert_eq!(
            get(r#"ocsp_index_last_reload_success{issuer="Test CA"}"#),
            0.0
        );
        assert_eq!(
            get(r#"ocsp_index_last_reload_timestamp_seconds{issuer="Test CA"}"#),
            900.0
        );
        assert_eq!(
            get(r#"ocsp_responder_cert_expiry_seconds{issuer="Test CA"}"#),
            1000.0
        );
        assert_eq!(get("ocsp_sign_queue_depth"), 2.0);
        assert_eq!(get("ocsp_signatures_total"), 5.0);
        assert_eq!(get("ocsp_cache_hits_total"), 10.0);
        assert_eq!(get("ocsp_sign_duration_seconds_count"), 1.0);
        assert_eq!(
            get(r#"ocsp_profile_refusals_total{rule="validity-max"}"#),
            1.0
        );
        assert!(text.contains("# HELP ocsp_requests_total"), "{text}");
    }
}
