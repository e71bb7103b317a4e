//! CRLs as a status source (`[issuer.status] type = "crl"`): answer OCSP for a CA that
//! publishes CRLs (AD CS, EJBCA, Vault, step-ca, `openssl ca -gencrl`).
//!
//! # What is served
//!
//! | serial | with an issued list (`issued = …`) | without one |
//! |---|---|---|
//! | on the CRL (or its delta), not `removeFromCRL` | `revoked`: time, reason, invalidity date and hold instruction from the entry | same |
//! | not on it, in the issued list | `good` | — |
//! | not on it, not in the issued list | no record (the issuer's `unknown_serial`: `unknown`) | `good` (allowed by the `private` profile only: setup refuses it under `cabf` and `mozilla`) |
//!
//! Every lookup carries the state's [`Period`]: the answer's thisUpdate is the CRL's
//! (the delta's when later) and its nextUpdate is never past the CRL's (the earlier of
//! the complete and the delta CRL's).
//!
//! # Freshness
//!
//! - The CRLs are fetched at start ([`CrlSource::open`] fails, naming the location and
//!   the reason, when any configured CRL cannot be fetched or accepted: a complete CRL
//!   without its delta would answer without the delta's revocations), then by the follower
//!   ([`StatusSource::follow`]) every `refresh_secs` and from `before_next_update_secs`
//!   before the served nextUpdate (then every 30 s, as after a failed attempt), and on
//!   SIGHUP ([`StatusSource::reload`]).
//! - Fetches are conditional (see [`fetch`]); the rules for accepting a CRL and for
//!   combining a complete CRL with a delta are in [`state`].
//! - A CRL that cannot be fetched or is refused leaves the served state in place; the
//!   failure is logged, counted in [`SourceReport::failures`] (the
//!   `ocsp_index_reload_failures_total{issuer}` metric) and shown in [`SourceReport::error`].
//! - Once the clock passes the served period's nextUpdate with nothing newer accepted,
//!   [`StatusSource::status`] and [`StatusSource::generation`] say
//!   [`StatusError::Unavailable`]: the responder answers `tryLater` and `/readyz` says
//!   not ready. No answer is ever dated past the CRL it came from.
//! - The generation is the CRL state's counter (raised whenever a different complete or
//!   delta CRL is put in use) plus the issued list's generation: it changes whenever
//!   either may have, and never goes back. Each new CRL state sends [`Change::All`].
//!
//! # Memory
//!
//! Only [`ocsp_proto::crl::RevokedTable`]s are kept (about 52 bytes per revoked entry
//! with 20-octet serials), never the fetched bytes or the parsed CRL. During a refresh
//! the new CRL's bytes and its table are held beside the served table.

pub mod config;
pub mod fetch;
pub mod issued;
pub mod state;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use ocsp_proto::crl::CrlLimits;
use ocsp_proto::{CertStatus, Serial, Timestamp};
use x509_cert::Certificate;

use self::config::{CrlConfig, IssuedConfig};
use self::fetch::{FetchOptions, Fetched, Location, Validators};
use self::issued::{CertDirectory, IssuedList};
use self::state::{CrlState, Trust};
use crate::config::OpenOptions;
use crate::{
    Change, Changes, Lookup, Period, SharedClock, SourceReport, StatusEntry, StatusError,
    StatusSource, WatchHandle,
};

/// How soon a failed refresh is retried.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// A CA's revocation status from its CRLs (see the module documentation).
pub struct CrlSource {
    inner: Arc<Inner>,
}

struct Inner {
    locations: Vec<Location>,
    trust: Trust,
    limits: CrlLimits,
    fetch: FetchOptions,
    refresh: Duration,
    before_next_update: u64,
    issued: Option<IssuedList>,
    served: ArcSwapOption<Served>,
    generation: AtomicU64,
    validators: Mutex<Vec<Validators>>,
    refreshing: tokio::sync::Mutex<()>,
    report: Mutex<ReportState>,
    clock: SharedClock,
    changes: tokio::sync::broadcast::Sender<Change>,
}

struct Served {
    state: CrlState,
    generation: u64,
}

#[derive(Debug, Clone)]
struct ReportState {
    attempted_at: Timestamp,
    took: Duration,
    error: Option<String>,
    loaded_at: Timestamp,
    reloads: u64,
    failures: u64,
}

impl CrlSource {
    /// Open the source described by `cfg` and fetch its CRLs once; fails, naming the
    /// location and the fix, when any of them cannot be fetched or accepted.
    pub fn open(cfg: &CrlConfig, opts: &OpenOptions) -> Result<Arc<CrlSource>, String> {
        if cfg.locations.is_empty() {
            return Err(
                "a crl status source needs at least one location (the complete CRL)".into(),
            );
        }
        let locations = cfg
            .locations
            .iter()
            .map(|l| Location::parse(l))
            .collect::<Result<Vec<_>, _>>()?;
        let ca_path = cfg.ca.as_deref().ok_or(
            "a crl status source needs the CA certificate: set ca in [issuer.status] (or the issuer's ca)",
        )?;
        let ca = read_cert(ca_path)?;
        let crl_signer = cfg.crl_signer.as_deref().map(read_cert).transpose()?;
        let max_bytes = cfg.max_bytes.unwrap_or(config::DEFAULT_MAX_BYTES);
        let tls = if locations
            .iter()
            .any(|l| matches!(l, Location::Http(u) if u.to_ascii_lowercase().starts_with("https")))
        {
            Some(Arc::new(fetch::tls_config(cfg.https_roots.as_deref())?))
        } else {
            None
        };
        let issued = match &cfg.issued {
            None => None,
            Some(IssuedConfig::Path(p)) if p.is_dir() => {
                Some(IssuedList::Directory(CertDirectory::open(p, &ca)?))
            }
            Some(IssuedConfig::Path(p)) => Some(IssuedList::Source(
                crate::StatusConfig::index_txt(p.clone())
                    .open(opts)
                    .map_err(|e| format!("issued list: {e}"))?,
            )),
            Some(IssuedConfig::Source(s)) => Some(IssuedList::Source(
                s.open(opts).map_err(|e| format!("issued list: {e}"))?,
            )),
        };
        let now = opts.clock.now();
        let n = locations.len();
        let source = Arc::new(CrlSource {
            inner: Arc::new(Inner {
                locations,
                trust: Trust { ca, crl_signer },
                limits: CrlLimits {
                    max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
                    ..CrlLimits::default()
                },
                fetch: FetchOptions {
                    max_bytes,
                    connect_timeout: Duration::from_millis(
                        cfg.connect_timeout_ms
                            .unwrap_or(config::DEFAULT_CONNECT_TIMEOUT_MS),
                    ),
                    read_timeout: Duration::from_millis(
                        cfg.read_timeout_ms
                            .unwrap_or(config::DEFAULT_READ_TIMEOUT_MS),
                    ),
                    tls,
                },
                refresh: Duration::from_secs(
                    cfg.refresh_secs
                        .unwrap_or(config::DEFAULT_REFRESH_SECS)
                        .max(1),
                ),
                before_next_update: cfg
                    .before_next_update_secs
                    .unwrap_or(config::DEFAULT_BEFORE_NEXT_UPDATE_SECS),
                issued,
                served: ArcSwapOption::empty(),
                generation: AtomicU64::new(0),
                validators: Mutex::new(vec![Validators::default(); n]),
                refreshing: tokio::sync::Mutex::new(()),
                report: Mutex::new(ReportState {
                    attempted_at: now,
                    took: Duration::ZERO,
                    error: None,
                    loaded_at: now,
                    reloads: 0,
                    failures: 0,
                }),
                clock: opts.clock.clone(),
                changes: tokio::sync::broadcast::channel(16).0,
            }),
        });
        let inner = source.inner.clone();
        let first = std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the CRL fetcher: {e}"))?;
                rt.block_on(inner.refresh())
            })
            .join()
            .map_err(|_| "the CRL fetcher panicked".to_string())?
        });
        if let Err(e) = first {
            return Err(format!("no CRL could be loaded: {e}"));
        }
        if source.inner.served.load().is_none() {
            let why = source.inner.report_state().error.unwrap_or_default();
            return Err(format!("no complete CRL could be loaded: {why}"));
        }
        Ok(source)
    }

    /// The state served now and its generation, or why none can be served.
    fn current(&self) -> Result<Arc<Served>, StatusError> {
        let inner = &self.inner;
        let Some(served) = inner.served.load_full() else {
            return Err(StatusError::Unavailable(format!(
                "no CRL loaded from {}",
                inner.location_list()
            )));
        };
        let period = served.state.period();
        if inner.clock.now() >= period.next_update {
            let why = inner
                .report_state()
                .error
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            return Err(StatusError::Unavailable(format!(
                "{} expired at {} (nextUpdate) and no newer CRL was accepted{why}",
                served.state.describe(),
                period.next_update
            )));
        }
        Ok(served)
    }

    async fn issued_generation(&self) -> Result<u64, StatusError> {
        match &self.inner.issued {
            Some(list) => list.generation().await,
            None => Ok(0),
        }
    }

    /// Heap bytes of the served tables (complete CRL and delta), for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        self.inner.served.load().as_ref().map_or(0, |s| {
            s.state.base.table.heap_bytes()
                + s.state.delta.as_ref().map_or(0, |d| d.table.heap_bytes())
        })
    }

    /// Fetch every location now (what the follower and SIGHUP do).
    pub async fn refresh(&self) -> Result<u64, StatusError> {
        self.inner
            .refresh()
            .await
            .map_err(StatusError::Unavailable)?;
        self.generation().await
    }
}

impl Inner {
    fn location_list(&self) -> String {
        self.locations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn report_state(&self) -> ReportState {
        self.report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One refresh: fetch every location, accept what verifies, advance the state.
    /// Returns `Err` with every problem when any location failed (the state may still
    /// have advanced from the others).
    async fn refresh(&self) -> Result<(), String> {
        let _one = self.refreshing.lock().await;
        let started = Instant::now();
        let attempted_at = self.clock.now();
        let prev = self
            .validators
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut problems: Vec<String> = Vec::new();
        let mut bodies = Vec::new();
        for (i, loc) in self.locations.iter().enumerate() {
            let old = prev.get(i).cloned().unwrap_or_default();
            match fetch::fetch(loc, &old, &self.fetch).await {
                Ok(Fetched::Unchanged) => {}
                Ok(Fetched::Body(bytes, v)) => bodies.push((i, bytes, v)),
                Err(e) => problems.push(e),
            }
        }
        let trust = self.trust.clone();
        let limits = self.limits.clone();
        let now = self.clock.now();
        let accepted = tokio::task::spawn_blocking(move || {
            bodies
                .into_iter()
                .map(|(i, bytes, v)| (i, v, state::accept(&bytes, i, &trust, &limits, now)))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| format!("CRL verification failed: {e}"))?;
        let mut fresh = Vec::new();
        let mut new_validators = Vec::new();
        for (i, v, r) in accepted {
            match r {
                Ok(l) => {
                    fresh.push(l);
                    new_validators.push((i, v));
                }
                Err(e) => problems.push(format!("{}: refused: {e}", self.locations[i])),
            }
        }
        let cur = self.served.load_full();
        let (next, refused) = state::advance(cur.as_ref().map(|s| &s.state), fresh);
        for (i, e) in &refused {
            problems.push(format!("{}: not used: {e}", self.locations[*i]));
        }
        {
            let mut vs = self.validators.lock().unwrap_or_else(|e| e.into_inner());
            for (i, v) in new_validators {
                if refused.iter().all(|(j, _)| *j != i) {
                    if let Some(slot) = vs.get_mut(i) {
                        *slot = v;
                    }
                }
            }
        }
        let changed = match (&cur, &next) {
            (None, Some(_)) => true,
            (Some(c), Some(n)) => {
                !Arc::ptr_eq(&c.state.base, &n.base)
                    || match (&c.state.delta, &n.delta) {
                        (None, None) => false,
                        (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
                        _ => true,
                    }
            }
            _ => false,
        };
        if changed {
            if let Some(state) = next {
                let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
                tracing::info!(
                    locations = %self.location_list(),
                    crl = %state.describe(),
                    revoked = state.revoked_estimate(),
                    next_update = %state.period().next_update,
                    "CRL loaded"
                );
                self.served
                    .store(Some(Arc::new(Served { state, generation })));
                // Subscribers compare with `StatusSource::generation`: the sum.
                let issued = match &self.issued {
                    Some(list) => list.generation().await.unwrap_or(0),
                    None => 0,
                };
                let _ = self.changes.send(Change::All {
                    generation: generation.saturating_add(issued),
                });
            }
        }
        if let Some(list) = &self.issued {
            if let Err(e) = list.refresh().await {
                problems.push(format!("issued list {}: {e}", list.describe()));
            }
        }
        let error = (!problems.is_empty()).then(|| problems.join("; "));
        {
            let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
            r.attempted_at = attempted_at;
            r.took = started.elapsed();
            r.error = error.clone();
            if changed {
                r.loaded_at = attempted_at;
                r.reloads += 1;
            }
            if error.is_some() {
                r.failures += 1;
            }
        }
        match error {
            Some(e) => {
                tracing::warn!(
                    locations = %self.location_list(),
                    "CRL refresh: {e}; the last good CRL stays in use"
                );
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// How long the follower waits before the next refresh.
    fn wait(&self) -> Duration {
        let mut wait = self.refresh;
        if self.report_state().error.is_some() {
            wait = wait.min(RETRY_AFTER_FAILURE);
        }
        if let Some(s) = self.served.load_full() {
            let due = s.state.period().next_update.minus(self.before_next_update);
            let now = self.clock.now();
            wait = if due <= now {
                // Inside the window before nextUpdate: keep looking, without hammering.
                wait.min(RETRY_AFTER_FAILURE)
            } else {
                wait.min(Duration::from_secs(due.0 - now.0))
            };
        }
        wait
    }
}

/// Stops the follower thread when dropped.
struct Follower {
    _stop: tokio::sync::oneshot::Sender<()>,
}

#[async_trait]
impl StatusSource for CrlSource {
    async fn status(&self, serial: &Serial) -> Result<Lookup, StatusError> {
        let served = self.current()?;
        let issued_generation = self.issued_generation().await?;
        let period = served.state.period();
        let status = match served.state.revocation(serial) {
            Some(r) => Some(CertStatus::Revoked(r)),
            None => match &self.inner.issued {
                None => Some(CertStatus::Good),
                Some(list) => list.contains(serial).await?.then_some(CertStatus::Good),
            },
        };
        Ok(Lookup {
            status,
            generation: served.generation.saturating_add(issued_generation),
            period: Some(period),
        })
    }

    async fn generation(&self) -> Result<u64, StatusError> {
        let served = self.current()?;
        Ok(served
            .generation
            .saturating_add(self.issued_generation().await?))
    }

    async fn entries(
        &self,
        visit: &mut (dyn FnMut(StatusEntry) + Send),
    ) -> Result<u64, StatusError> {
        let served = self.current()?;
        let generation = served
            .generation
            .saturating_add(self.issued_generation().await?);
        let table = served
            .state
            .revoked_table()
            .map_err(StatusError::Internal)?;
        let mut out: Vec<StatusEntry> = Vec::with_capacity(table.len());
        let mut listed = std::collections::HashSet::new();
        if let Some(list) = &self.inner.issued {
            list.for_each(&mut |serial, expires| {
                let status = match served.state.revocation(&serial) {
                    Some(r) => CertStatus::Revoked(r),
                    None => CertStatus::Good,
                };
                if matches!(status, CertStatus::Revoked(_)) {
                    listed.insert(serial.clone());
                }
                out.push(StatusEntry {
                    serial,
                    status,
                    expires,
                });
            })
            .await?;
        }
        for e in table.iter() {
            let serial = e.serial();
            if listed.contains(&serial) {
                continue;
            }
            let Some(r) = table.revocation(&serial) else {
                continue;
            };
            out.push(StatusEntry {
                serial,
                status: CertStatus::Revoked(r),
                expires: None,
            });
        }
        out.sort_by(|a, b| {
            let (x, y) = (a.serial.as_bytes(), b.serial.as_bytes());
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        });
        for e in out {
            visit(e);
        }
        Ok(generation)
    }

    fn changes(&self) -> Option<Changes> {
        Some(self.inner.changes.subscribe())
    }

    async fn reload(&self) -> Result<u64, StatusError> {
        self.refresh().await
    }

    fn follow(self: Arc<Self>) -> Result<Option<WatchHandle>, StatusError> {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let inner = self.inner.clone();
        std::thread::Builder::new()
            .name("crl-refresh".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    tracing::error!("cannot start the CRL refresh thread's runtime");
                    return;
                };
                rt.block_on(async move {
                    loop {
                        tokio::select! {
                            _ = &mut stopped => return,
                            _ = tokio::time::sleep(inner.wait()) => {}
                        }
                        // Failures are logged and reported by `refresh`.
                        let _ = inner.refresh().await;
                    }
                });
            })
            .map_err(|e| {
                StatusError::Internal(format!("cannot start the CRL refresh thread: {e}"))
            })?;
        Ok(Some(Box::new(Follower { _stop: stop })))
    }

    fn report(&self) -> Option<SourceReport> {
        let r = self.inner.report_state();
        let served = self.inner.served.load_full();
        let (generation, revoked) = served.as_ref().map_or((0, 0), |s| {
            (s.generation, s.state.revoked_estimate() as u64)
        });
        // Past nextUpdate the report says so even when the last fetch "succeeded"
        // (nothing newer was published).
        let error = r.error.or_else(|| {
            let p: Period = served.as_ref()?.state.period();
            (self.inner.clock.now() >= p.next_update).then(|| {
                format!(
                    "the CRL expired at {} and nothing newer was published",
                    p.next_update
                )
            })
        });
        Some(SourceReport {
            kind: "crl",
            location: self.inner.location_list(),
            generation,
            entries: revoked,
            revoked,
            attempted_at: r.attempted_at,
            took: r.took,
            error,
            loaded_at: r.loaded_at,
            reloads: r.reloads,
            failures: r.failures,
        })
    }

    fn describe(&self) -> String {
        let served = self.inner.served.load_full();
        let what = served.as_ref().map_or("nothing loaded".into(), |s| {
            format!(
                "{}, {} revoked",
                s.state.describe(),
                s.state.revoked_estimate()
            )
        });
        let issued = match &self.inner.issued {
            Some(l) => format!("issued: {}", l.describe()),
            None => "no issued list: serials not on the CRL are good".into(),
        };
        format!("crl {} ({what}; {issued})", self.inner.location_list())
    }
}

fn read_cert(path: &std::path::Path) -> Result<Certificate, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    issued::certificates(&bytes)
        .into_iter()
        .next()
        .ok_or_else(|| {
            format!(
                "{}: no certificate (PEM or DER) in the file",
                path.display()
            )
        })
}
