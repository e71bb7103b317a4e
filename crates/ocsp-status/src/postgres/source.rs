//! Serving from PostgreSQL: one issuer's statuses held in memory, kept in step with the
//! database by generation, so that no request costs a point query.
//!
//! # State
//!
//! At open, the issuer is found by its certificate (`spki_sha256` AND `subject_der`) and
//! every non-tombstone row is read in one REPEATABLE READ transaction together with the
//! issuer's generation, into the compact index table (`snapshot.rs`: 28 bytes an entry,
//! 24 more a revocation). Afterwards a *probe* reads `ocsp_issuer.generation`; when it is
//! ahead, the one-statement delta (`SELECT i.generation, c.… FROM ocsp_issuer i LEFT JOIN
//! ocsp_cert c ON c.issuer_id = i.id AND c.updated_gen > $local WHERE i.id = $1`) gives the
//! generation and every row written since, from one snapshot; a new [`Snapshot`] is
//! swapped in whole. Each row's `not_after` is kept as its entry's expiry
//! ([`StatusSource::entries`] reports it, so CRLs drop an entry one CRL after its
//! certificate expired). The generation commits in order (the issuer row stays locked by the
//! writing transaction until commit), so having read generation G the node has seen every
//! row with `updated_gen <= G`.
//!
//! # Freshness
//!
//! | mode | [`StatusSource::generation`] (and `status`, `entries`) |
//! |---|---|
//! | strict (default) | waits for a probe that STARTED after the call: one shared probe at a time per source; callers that arrive during a probe wait for the next one. So an answer reflects every commit that finished before the request arrived. |
//! | bounded (`max_staleness_ms = N`) | served at once while the state was confirmed by a probe that started less than N ms ago; else as strict. A LISTEN connection (channel `ocsp_status`) wakes a probe when a writer commits; a poll every N/2 ms backs it up. |
//!
//! # Failure
//!
//! A probe whose generation read fails or takes longer than [`PROBE_TIMEOUT`] fails every
//! caller waiting for it with [`StatusError::Unavailable`] (`tryLater`); no caller waits
//! longer than [`WAIT_LIMIT`]. Reading a delta or reloading everything may take up to
//! [`APPLY_TIMEOUT`] (a bulk import, a restore): callers are answered `tryLater` meanwhile
//! and the state is swapped in once complete. The connection is dropped and made again on the next demand, no sooner
//! than a capped, jittered backoff (50 ms doubling to 1 s); during the backoff callers
//! are answered `Unavailable` at once. The last good state is kept (bounded mode serves
//! it for N ms). A generation lower than the one held (a restore, a failover to a replica
//! that lost commits), or an issuer row that disappeared, makes the node reload
//! everything and send [`Change::All`]; the generation this source reports still never
//! goes back (it is the database's plus an offset that grows on such a reload).
//!
//! # Changes, reports, node heartbeat
//!
//! Each applied delta sends [`Change::Serials`] naming the serials whose status changed
//! (more than [`MAX_LISTED_CHANGES`]: [`Change::All`]), before the new state is swapped
//! in, so a cache that reads the generation sees its change. While followed
//! ([`StatusSource::follow`], i.e. by `ocsp serve`), the node probes at least once a
//! second and reports the database generation it has seen through
//! `SELECT ocsp_node_report(node, issuer, gen)` after each probe that moved it and at
//! least once a second, so `ocsp revoke --wait` can tell when every node has it.
//! [`StatusSource::report`] says whether the last probe succeeded (`ocsp_db_up`).

mod listen;
mod snapshot;

use crate::config::{Freshness, OpenError, OpenOptions, PostgresConfig};
use crate::index_txt::table::TableBuilder;
use crate::postgres::{schema, DatabaseUrl};
use crate::{
    Change, Changes, Lookup, SharedClock, SourceReport, StatusEntry, StatusError, StatusSource,
    WatchHandle,
};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use futures_util::TryStreamExt;
use ocsp_proto::{Serial, Timestamp};
use snapshot::{Row, Snapshot};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch, Notify};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

/// How long one probe (generation read and delta) may take before it counts as failed.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long applying a delta or reloading everything may take (a bulk import, a restore).
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long opening (connect, checks, first load) may take before `serve` gives up.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);
/// The longest a caller waits for a probe before it is answered `Unavailable`.
pub const WAIT_LIMIT: Duration = Duration::from_millis(950);
/// How often a followed source probes and reports when nothing else asks (strict mode;
/// bounded mode polls every `max_staleness_ms / 2` when that is sooner).
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// The longest reconnection backoff.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Changes listed one by one up to this many; more are sent as [`Change::All`].
pub const MAX_LISTED_CHANGES: usize = 10_000;
/// Change messages a slow subscriber may fall behind by.
const CHANGE_BACKLOG: usize = 64;

const GENERATION_SQL: &str = "SELECT generation FROM ocsp_issuer WHERE id = $1";
const DELTA_SQL: &str = "SELECT i.generation, c.serial, c.status::text, \
     floor(extract(epoch FROM c.revoked_at))::int8, c.reason, \
     floor(extract(epoch FROM c.invalidity_date))::int8, \
     floor(extract(epoch FROM c.not_after))::int8 \
     FROM ocsp_issuer i LEFT JOIN ocsp_cert c ON c.issuer_id = i.id AND c.updated_gen > $2 \
     WHERE i.id = $1";
const ISSUER_SQL: &str =
    "SELECT id, generation, name FROM ocsp_issuer WHERE spki_sha256 = $1 AND subject_der = $2";
const LOAD_SQL: &str = "SELECT serial, status::text, \
     floor(extract(epoch FROM revoked_at))::int8, reason, \
     floor(extract(epoch FROM invalidity_date))::int8, \
     floor(extract(epoch FROM not_after))::int8 \
     FROM ocsp_cert WHERE issuer_id = $1 AND status <> 'D'";
const REPORT_SQL: &str = "SELECT ocsp_node_report($1, $2, $3)";

/// The statuses of one issuer, from PostgreSQL.
pub struct PgSource {
    inner: Arc<Inner>,
}

/// How the issuer is found in `ocsp_issuer`.
#[derive(Clone)]
struct IssuerKey {
    spki_sha256: Vec<u8>,
    subject_der: Vec<u8>,
    /// The certificate's subject, for messages.
    subject: String,
}

/// The outcome of one probe, broadcast to the callers waiting for it.
#[derive(Clone, Debug)]
struct Outcome {
    round: u64,
    error: Option<Arc<str>>,
}

/// How the last probes went (for [`StatusSource::report`]).
struct Book {
    attempted_at: Timestamp,
    took: Duration,
    error: Option<String>,
    loaded_at: Timestamp,
    reloads: u64,
    failures: u64,
    /// The database generation last reported through `ocsp_node_report`.
    reported: Option<(i64, Instant)>,
}

struct Inner {
    url: DatabaseUrl,
    node_id: String,
    freshness: Freshness,
    issuer: IssuerKey,
    /// `ocsp_issuer.id` (found again on a full reload).
    issuer_id: AtomicI32,
    /// `ocsp_issuer.name`.
    name: Mutex<String>,
    state: ArcSwap<Snapshot>,
    changes: broadcast::Sender<Change>,
    clock: SharedClock,
    epoch: Instant,
    /// Probes begun so far; a caller needs a probe numbered above what it read here.
    started: AtomicU64,
    /// The highest probe number a caller waits for.
    requested: AtomicU64,
    wake: Arc<Notify>,
    done_tx: watch::Sender<Outcome>,
    done_rx: watch::Receiver<Outcome>,
    /// When (ns after `epoch`, plus one; 0: never) the last successful probe began.
    confirmed_at: AtomicU64,
    /// A full reload is wanted (SIGHUP).
    force_reload: AtomicBool,
    /// Whether `ocsp serve` follows this source (heartbeat and node reports).
    following: AtomicBool,
    prober: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Whether the prober task runs (cleared when its future is dropped: a runtime that
    /// shut down), read on every lookup instead of the mutex.
    prober_up: Arc<AtomicBool>,
    book: Mutex<Book>,
}

impl PgSource {
    /// Open the issuer's source: connect, check the schema and the role's privileges,
    /// find the issuer by its certificate and load its statuses. Runs on a thread of its
    /// own with a private runtime, so it works inside or outside a tokio runtime; the
    /// probing starts on the caller's runtime at the first lookup or at `follow`.
    pub fn open_blocking(
        cfg: &PostgresConfig,
        opts: &OpenOptions,
    ) -> Result<Arc<PgSource>, OpenError> {
        let freshness = cfg.freshness().map_err(OpenError::Database)?;
        let db = opts.database.as_ref().ok_or_else(|| {
            OpenError::Database(
                "[issuer.status] type = \"postgres\" needs a database: give --db URL, set OCSP_DATABASE_URL, or add [database] url_file = \"/etc/ocsp/db-url\"".into(),
            )
        })?;
        let url = DatabaseUrl::parse(&db.url).map_err(|e| OpenError::Database(e.to_string()))?;
        let cert = opts.issuer_cert.as_ref().ok_or_else(|| {
            OpenError::Database("a postgres source needs its issuer's certificate".into())
        })?;
        let issuer = issuer_key(cert).map_err(OpenError::Database)?;
        let started = Instant::now();
        let attempted_at = opts.clock.now();
        let (url2, issuer2) = (url.clone(), issuer.clone());
        let loaded = std::thread::scope(|s| {
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a runtime to load the database: {e}"))?;
                rt.block_on(async move {
                    let work = async {
                        let mut client = crate::postgres::connect(&url2)
                            .await
                            .map_err(|e| e.to_string())?;
                        schema::ready(&client, schema::Role::Reader)
                            .await
                            .map_err(|e| e.to_string())?;
                        load(&mut client, &issuer2).await
                    };
                    tokio::time::timeout(OPEN_TIMEOUT, work)
                        .await
                        .unwrap_or_else(|_| {
                            Err(format!(
                                "the database at {} did not finish the first load within {} s",
                                url2.redacted(),
                                OPEN_TIMEOUT.as_secs()
                            ))
                        })
                })
            })
            .join()
            .unwrap_or_else(|_| Err("the database load panicked".into()))
        })
        .map_err(OpenError::Database)?;
        let snapshot = Snapshot::from_table(loaded.table, loaded.generation, 1);
        let (entries, revoked) = snapshot.counts();
        tracing::info!(
            issuer = %loaded.name,
            database = %url.redacted(),
            entries,
            revoked,
            generation = loaded.generation,
            bytes = snapshot.heap_bytes(),
            ms = started.elapsed().as_millis() as u64,
            "statuses loaded from the database"
        );
        let (done_tx, done_rx) = watch::channel(Outcome {
            round: 0,
            error: None,
        });
        let epoch = Instant::now();
        let inner = Inner {
            url,
            node_id: db.node_id.clone(),
            freshness,
            issuer,
            issuer_id: AtomicI32::new(loaded.id),
            name: Mutex::new(loaded.name),
            state: ArcSwap::from_pointee(snapshot),
            changes: broadcast::channel(CHANGE_BACKLOG).0,
            clock: opts.clock.clone(),
            epoch,
            started: AtomicU64::new(0),
            requested: AtomicU64::new(0),
            wake: Arc::new(Notify::new()),
            done_tx,
            done_rx,
            confirmed_at: AtomicU64::new(0),
            force_reload: AtomicBool::new(false),
            following: AtomicBool::new(false),
            prober: Mutex::new(None),
            prober_up: Arc::new(AtomicBool::new(false)),
            book: Mutex::new(Book {
                attempted_at,
                took: started.elapsed(),
                error: None,
                loaded_at: attempted_at,
                reloads: 1,
                failures: 0,
                reported: None,
            }),
        };
        Ok(Arc::new(PgSource {
            inner: Arc::new(inner),
        }))
    }

    /// The database generation of the state served now.
    pub fn db_generation(&self) -> i64 {
        self.inner.state.load().db_generation
    }

    /// Heap bytes of the in-memory state.
    pub fn heap_bytes(&self) -> usize {
        self.inner.state.load().heap_bytes()
    }

    /// Generation checks begun so far (each may serve any number of lookups).
    pub fn probes(&self) -> u64 {
        self.inner.started.load(Ordering::Relaxed)
    }
}

/// What a full load read.
struct Loaded {
    id: i32,
    generation: i64,
    name: String,
    table: crate::index_txt::table::Table,
}

/// Read the issuer's row and every status, from one snapshot.
async fn load(client: &mut Client, issuer: &IssuerKey) -> Result<Loaded, String> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(query_error)?;
    let row = tx
        .query_opt(ISSUER_SQL, &[&issuer.spki_sha256, &issuer.subject_der])
        .await
        .map_err(query_error)?
        .ok_or_else(|| {
            format!(
                "the CA {} is not registered in the database: register it and load its statuses with `ocsp import --db URL --ca CAFILE --index index.txt` (or --certs DIR)",
                issuer.subject
            )
        })?;
    let (id, generation, name): (i32, i64, String) = (
        row.try_get(0).map_err(query_error)?,
        row.try_get(1).map_err(query_error)?,
        row.try_get(2).map_err(query_error)?,
    );
    let params: [&(dyn ToSql + Sync); 1] = [&id];
    let rows = tx
        .query_raw(LOAD_SQL, params.iter().copied())
        .await
        .map_err(query_error)?;
    futures_util::pin_mut!(rows);
    let mut b = TableBuilder::with_capacity(0);
    let mut n = 0usize;
    while let Some(r) = rows.try_next().await.map_err(query_error)? {
        let row = row_of(&r, r.try_get(0).map_err(query_error)?, 1)?;
        n += 1;
        if let Some(st) = &row.status {
            b.push_serial(&row.serial, snapshot::revocation(st), row.expires, n)?;
        }
    }
    tx.commit().await.map_err(query_error)?;
    let table = b.finish().map_err(|e| e.reason)?;
    Ok(Loaded {
        id,
        generation,
        name,
        table,
    })
}

/// A status row from its columns: serial given, then status, revoked_at, reason,
/// invalidity_date and not_after from column `at` on.
fn row_of(r: &tokio_postgres::Row, serial: &[u8], at: usize) -> Result<Row, String> {
    Row::from_columns(
        serial,
        r.try_get(at).map_err(query_error)?,
        r.try_get(at + 1).map_err(query_error)?,
        r.try_get(at + 2).map_err(query_error)?,
        r.try_get(at + 3).map_err(query_error)?,
        r.try_get(at + 4).map_err(query_error)?,
    )
}

fn query_error(e: tokio_postgres::Error) -> String {
    crate::postgres::DbError::query(e).to_string()
}

/// How an issuer certificate (DER) is found in `ocsp_issuer`: the SHA-256 of its DER
/// SubjectPublicKeyInfo (`spki_sha256`) and the DER of its subject Name (`subject_der`).
/// Writers must register issuers with the same two values.
pub fn issuer_lookup_key(cert_der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    issuer_key(cert_der).map(|k| (k.spki_sha256, k.subject_der))
}

/// The issuer's key in the database: SHA-256 of its SubjectPublicKeyInfo and its subject.
fn issuer_key(cert_der: &[u8]) -> Result<IssuerKey, String> {
    use der::{Decode, Encode};
    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|e| format!("the issuer certificate does not parse: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let spki = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("the issuer's public key does not encode: {e}"))?;
    let subject_der = tbs
        .subject
        .to_der()
        .map_err(|e| format!("the issuer's subject does not encode: {e}"))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki);
    Ok(IssuerKey {
        spki_sha256: digest.as_ref().to_vec(),
        subject_der,
        subject: tbs.subject.to_string(),
    })
}

impl Inner {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Ask for a probe that starts after this call; returns its number.
    fn demand(&self) -> u64 {
        let target = self.started.load(Ordering::SeqCst) + 1;
        self.requested.fetch_max(target, Ordering::SeqCst);
        self.wake.notify_one();
        target
    }

    /// Start the prober on the current runtime if it is not running.
    fn ensure_prober(self: &Arc<Self>) -> Result<(), StatusError> {
        if self.prober_up.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut slot = self.prober.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|h| !h.is_finished()) && self.prober_up.load(Ordering::Acquire)
        {
            return Ok(());
        }
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            StatusError::Internal("the postgres source is used outside the async runtime".into())
        })?;
        let weak = Arc::downgrade(self);
        let wake = self.wake.clone();
        let up = Up(self.prober_up.clone());
        up.0.store(true, Ordering::Release);
        *slot = Some(handle.spawn(async move {
            let _up = up;
            prober(weak, wake).await;
        }));
        Ok(())
    }

    /// Wait for a probe that starts after this call; the state it left.
    async fn probed(self: &Arc<Self>) -> Result<Arc<Snapshot>, StatusError> {
        self.ensure_prober()?;
        let mut rx = self.done_rx.clone();
        let target = self.demand();
        let wait = async {
            loop {
                {
                    let o = rx.borrow_and_update();
                    if o.round >= target {
                        return o.error.clone();
                    }
                }
                if rx.changed().await.is_err() {
                    return Some(Arc::from("the database prober stopped"));
                }
            }
        };
        match tokio::time::timeout(WAIT_LIMIT, wait).await {
            Ok(None) => Ok(self.state.load_full()),
            Ok(Some(e)) => Err(StatusError::Unavailable(e.to_string())),
            Err(_) => Err(StatusError::Unavailable(format!(
                "the database did not answer within {} ms",
                WAIT_LIMIT.as_millis()
            ))),
        }
    }

    /// Bounded mode: whether the state was confirmed within the window (and the prober
    /// that keeps it so runs). Atomics only: the hot path of a bounded node.
    fn within_window(&self) -> bool {
        let Freshness::Bounded(window) = self.freshness else {
            return false;
        };
        let confirmed = self.confirmed_at.load(Ordering::Acquire);
        let window_ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        confirmed > 0
            && self.now_ns() < (confirmed - 1).saturating_add(window_ns)
            && self.prober_up.load(Ordering::Acquire)
    }

    /// The state to answer from, as fresh as the mode promises.
    async fn fresh(self: &Arc<Self>) -> Result<Arc<Snapshot>, StatusError> {
        if self.within_window() {
            return Ok(self.state.load_full());
        }
        self.probed().await
    }

    /// How often the prober probes on its own.
    fn poll_interval(&self) -> Duration {
        match self.freshness {
            Freshness::Strict => HEARTBEAT,
            Freshness::Bounded(w) => (w / 2).clamp(Duration::from_millis(1), HEARTBEAT),
        }
    }

    /// Swap in `next`, telling subscribers what changed first.
    fn install(&self, next: Snapshot, change: Option<Change>) {
        if let Some(change) = change {
            if self.changes.receiver_count() > 0 {
                let _ = self.changes.send(change);
            }
        }
        self.state.store(Arc::new(next));
    }
}

/// Clears the prober's flag when the prober's future is dropped.
struct Up(Arc<AtomicBool>);

impl Drop for Up {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// One connection of the prober and its prepared statements.
struct Conn {
    client: Client,
    generation: Statement,
    delta: Statement,
    report: Statement,
}

/// The prober's connection state: the connection, or when to try again.
struct Link {
    conn: Option<Conn>,
    retry_at: Instant,
    backoff: Duration,
    last_error: String,
}

impl Link {
    async fn get(&mut self, url: &DatabaseUrl) -> Result<&mut Conn, String> {
        if self.conn.is_none() {
            if Instant::now() < self.retry_at {
                return Err(self.last_error.clone());
            }
            match tokio::time::timeout(CONNECT_TIMEOUT, open_conn(url)).await {
                Ok(Ok(c)) => self.conn = Some(c),
                Ok(Err(e)) => return Err(self.fail(e)),
                Err(_) => {
                    return Err(self.fail(format!(
                        "cannot reach the database at {} within {} ms",
                        url.redacted(),
                        CONNECT_TIMEOUT.as_millis()
                    )))
                }
            }
        }
        self.conn
            .as_mut()
            .ok_or_else(|| "no database connection".to_string())
    }

    /// Drop the connection and back off; returns the message.
    fn fail(&mut self, e: String) -> String {
        self.conn = None;
        self.backoff = (self.backoff * 2).clamp(Duration::from_millis(50), MAX_BACKOFF);
        self.retry_at = Instant::now() + jitter(self.backoff);
        self.last_error = e.clone();
        e
    }

    fn ok(&mut self) {
        self.backoff = Duration::ZERO;
    }
}

/// Between half and all of `d`.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    d / 2 + d.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

async fn open_conn(url: &DatabaseUrl) -> Result<Conn, String> {
    let client = crate::postgres::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let generation = client.prepare(GENERATION_SQL).await.map_err(query_error)?;
    let delta = client.prepare(DELTA_SQL).await.map_err(query_error)?;
    let report = client.prepare(REPORT_SQL).await.map_err(query_error)?;
    Ok(Conn {
        client,
        generation,
        delta,
        report,
    })
}

/// The prober: one task per source, at most one probe in flight. It probes when a caller
/// asks for a probe newer than the last one begun, when the listener is woken, and every
/// [`Inner::poll_interval`] while the source is followed; it stops when the source is
/// dropped.
async fn prober(weak: Weak<Inner>, wake: Arc<Notify>) {
    let mut link = Link {
        conn: None,
        retry_at: Instant::now(),
        backoff: Duration::ZERO,
        last_error: String::new(),
    };
    let mut next_tick = Instant::now();
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let demand = inner.requested.load(Ordering::SeqCst) > inner.started.load(Ordering::SeqCst);
        let following = inner.following.load(Ordering::Relaxed);
        let tick = following && Instant::now() >= next_tick;
        if !demand && !tick && !inner.force_reload.load(Ordering::Relaxed) {
            let sleep = if following {
                next_tick.saturating_duration_since(Instant::now())
            } else {
                HEARTBEAT
            };
            drop(inner);
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
            continue;
        }
        if tick {
            next_tick = Instant::now() + inner.poll_interval();
        }
        let round = inner.started.fetch_add(1, Ordering::SeqCst) + 1;
        let began = inner.now_ns();
        let attempted_at = inner.clock.now();
        let t0 = Instant::now();
        let result = probe(&inner, &mut link).await;
        let took = t0.elapsed();
        let error = match &result {
            Ok(()) => {
                link.ok();
                inner
                    .confirmed_at
                    .fetch_max(began.saturating_add(1), Ordering::AcqRel);
                None
            }
            Err(e) => Some(Arc::<str>::from(e.as_str())),
        };
        {
            let mut book = inner.book.lock().unwrap_or_else(|p| p.into_inner());
            let was_down = book.error.is_some();
            book.attempted_at = attempted_at;
            book.took = took;
            match &error {
                None => {
                    book.loaded_at = attempted_at;
                    book.reloads += 1;
                    if was_down {
                        tracing::info!(database = %inner.url.redacted(), "database reachable again");
                    }
                    book.error = None;
                }
                Some(e) => {
                    book.failures += 1;
                    if !was_down {
                        tracing::warn!(database = %inner.url.redacted(), "database probe failed (answering tryLater where the state cannot be confirmed): {e}");
                    }
                    book.error = Some(e.to_string());
                }
            }
        }
        let _ = inner.done_tx.send(Outcome { round, error });
        if following && result.is_ok() {
            report_node(&inner, &mut link).await;
        }
    }
}

/// One probe: the generation (within [`PROBE_TIMEOUT`]), then the delta or a full reload
/// when it moved (within [`APPLY_TIMEOUT`]: a bulk import or a restore takes longer than
/// a probe; callers stop waiting at [`WAIT_LIMIT`] meanwhile).
async fn probe(inner: &Arc<Inner>, link: &mut Link) -> Result<(), String> {
    let step = {
        let conn = link.get(&inner.url).await?;
        tokio::time::timeout(PROBE_TIMEOUT, check(inner, conn)).await
    };
    let step = match step {
        Ok(Ok(step)) => step,
        Ok(Err(e)) => return Err(link.fail(e)),
        Err(_) => {
            return Err(link.fail(format!(
                "the database at {} did not answer within {} ms",
                inner.url.redacted(),
                PROBE_TIMEOUT.as_millis()
            )))
        }
    };
    let applied = {
        let conn = link.get(&inner.url).await?;
        let st = inner.state.load_full();
        let work = async {
            match step {
                Step::Current => Ok(()),
                Step::Delta => delta(inner, conn, &st).await,
                Step::Reload(why) => full_reload(inner, conn, &st, &why).await,
            }
        };
        tokio::time::timeout(APPLY_TIMEOUT, work).await
    };
    match applied {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(link.fail(e)),
        Err(_) => Err(link.fail(format!(
            "reading changes from the database at {} took longer than {} s",
            inner.url.redacted(),
            APPLY_TIMEOUT.as_secs()
        ))),
    }
}

/// What a generation check found.
enum Step {
    /// Nothing changed.
    Current,
    /// The generation moved on: read the delta.
    Delta,
    /// Reload everything, for this reason.
    Reload(String),
}

/// Read the issuer's generation and decide.
async fn check(inner: &Arc<Inner>, conn: &mut Conn) -> Result<Step, String> {
    let st = inner.state.load_full();
    let id = inner.issuer_id.load(Ordering::Relaxed);
    let row = conn
        .client
        .query_opt(&conn.generation, &[&id])
        .await
        .map_err(query_error)?;
    let forced = inner.force_reload.swap(false, Ordering::AcqRel);
    let g: Option<i64> = match row {
        Some(r) => Some(r.try_get(0).map_err(query_error)?),
        None => None,
    };
    Ok(match g {
        Some(g) if !forced && g == st.db_generation => Step::Current,
        Some(g) if !forced && g > st.db_generation => Step::Delta,
        None => Step::Reload("the issuer's row is gone".into()),
        Some(g) if g < st.db_generation => Step::Reload(format!(
            "the database generation went back from {} to {g} (restore or failover)",
            st.db_generation
        )),
        Some(_) => Step::Reload("reload requested".into()),
    })
}

async fn delta(inner: &Arc<Inner>, conn: &mut Conn, st: &Arc<Snapshot>) -> Result<(), String> {
    let id = inner.issuer_id.load(Ordering::Relaxed);
    let rows = conn
        .client
        .query(&conn.delta, &[&id, &st.db_generation])
        .await
        .map_err(query_error)?;
    let Some(first) = rows.first() else {
        return Err("the issuer's row is gone".into());
    };
    let g: i64 = first.try_get(0).map_err(query_error)?;
    if g < st.db_generation {
        return Err(format!(
            "the database generation went back from {} to {g}",
            st.db_generation
        ));
    }
    let mut changed_rows = Vec::with_capacity(rows.len());
    for r in &rows {
        let serial: Option<&[u8]> = r.try_get(1).map_err(query_error)?;
        let Some(serial) = serial else { continue };
        changed_rows.push(row_of(r, serial, 2)?);
    }
    let generation = st.generation + u64::try_from(g - st.db_generation).unwrap_or(0);
    // Work proportional to the table (a big delta, or the overlay folded in) runs on the
    // blocking pool, not on a worker that serves requests.
    let big = changed_rows.len() + st.overlay_len() >= snapshot::COMPACT_AT;
    let base = st.clone();
    let applied = if big {
        tokio::task::spawn_blocking(move || base.apply(changed_rows, g, generation))
            .await
            .map_err(|e| format!("applying a delta failed: {e}"))?
    } else {
        base.apply(changed_rows, g, generation)
    }?;
    let (next, serials) = applied;
    tracing::debug!(
        generation = g,
        changed = serials.len(),
        "database delta applied"
    );
    let change = if serials.len() > MAX_LISTED_CHANGES {
        Change::All { generation }
    } else {
        Change::Serials {
            generation,
            serials: serials.into(),
        }
    };
    inner.install(next, Some(change));
    Ok(())
}

async fn full_reload(
    inner: &Arc<Inner>,
    conn: &mut Conn,
    st: &Arc<Snapshot>,
    why: &str,
) -> Result<(), String> {
    tracing::warn!(database = %inner.url.redacted(), "{why}: reloading every status and dropping cached answers");
    let loaded = load(&mut conn.client, &inner.issuer).await?;
    inner.issuer_id.store(loaded.id, Ordering::Relaxed);
    *inner.name.lock().unwrap_or_else(|p| p.into_inner()) = loaded.name;
    let generation = st.generation + 1;
    let next = Snapshot::from_table(loaded.table, loaded.generation, generation);
    inner.install(next, Some(Change::All { generation }));
    Ok(())
}

/// `ocsp_node_report` after a probe that moved the generation, and at least once a
/// second. A failure is logged, never fatal: the node still serves.
async fn report_node(inner: &Arc<Inner>, link: &mut Link) {
    let g = inner.state.load().db_generation;
    let due = {
        let book = inner.book.lock().unwrap_or_else(|p| p.into_inner());
        match book.reported {
            Some((r, at)) => r != g || at.elapsed() >= HEARTBEAT,
            None => true,
        }
    };
    if !due {
        return;
    }
    let Some(conn) = link.conn.as_mut() else {
        return;
    };
    let id = inner.issuer_id.load(Ordering::Relaxed);
    let res = tokio::time::timeout(
        PROBE_TIMEOUT,
        conn.client
            .execute(&conn.report, &[&inner.node_id, &id, &g]),
    )
    .await;
    match res {
        Ok(Ok(_)) => {
            let mut book = inner.book.lock().unwrap_or_else(|p| p.into_inner());
            book.reported = Some((g, Instant::now()));
        }
        Ok(Err(e)) => {
            tracing::debug!("node report failed: {}", query_error(e));
        }
        Err(_) => tracing::debug!("node report timed out"),
    }
}

#[async_trait]
impl StatusSource for PgSource {
    async fn status(&self, serial: &Serial) -> Result<Lookup, StatusError> {
        if self.inner.within_window() {
            // No reference count touched: two cores serving do not share a cache line.
            let st = self.inner.state.load();
            return Ok(Lookup {
                status: st.get(serial),
                generation: st.generation,
                period: None,
            });
        }
        let st = self.inner.fresh().await?;
        Ok(Lookup {
            status: st.get(serial),
            generation: st.generation,
            period: None,
        })
    }

    async fn generation(&self) -> Result<u64, StatusError> {
        if self.inner.within_window() {
            return Ok(self.inner.state.load().generation);
        }
        Ok(self.inner.fresh().await?.generation)
    }

    async fn entries(
        &self,
        visit: &mut (dyn FnMut(StatusEntry) + Send),
    ) -> Result<u64, StatusError> {
        let st = self.inner.fresh().await?;
        for (serial, status, expires) in st.entries() {
            visit(StatusEntry {
                serial,
                status,
                expires: (expires != Timestamp::LAST_GENERALIZED).then_some(expires),
            });
        }
        Ok(st.generation)
    }

    fn changes(&self) -> Option<Changes> {
        Some(self.inner.changes.subscribe())
    }

    async fn reload(&self) -> Result<u64, StatusError> {
        self.inner.force_reload.store(true, Ordering::Release);
        Ok(self.inner.probed().await?.generation)
    }

    fn follow(self: Arc<Self>) -> Result<Option<WatchHandle>, StatusError> {
        self.inner.following.store(true, Ordering::Relaxed);
        self.inner.ensure_prober()?;
        self.inner.wake.notify_one();
        let listener = listen::spawn(Arc::downgrade(&self.inner))?;
        Ok(Some(Box::new(Following {
            inner: self.inner.clone(),
            listener,
        })))
    }

    fn report(&self) -> Option<SourceReport> {
        let st = self.inner.state.load();
        let (entries, revoked) = st.counts();
        let book = self.inner.book.lock().unwrap_or_else(|p| p.into_inner());
        let name = self
            .inner
            .name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Some(SourceReport {
            kind: "postgres",
            location: format!("{} issuer {name}", self.inner.url.redacted()),
            generation: st.generation,
            entries,
            revoked,
            attempted_at: book.attempted_at,
            took: book.took,
            error: book.error.clone(),
            loaded_at: book.loaded_at,
            reloads: book.reloads,
            failures: book.failures,
        })
    }

    fn describe(&self) -> String {
        let st = self.inner.state.load();
        let name = self
            .inner
            .name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mode = match self.inner.freshness {
            Freshness::Strict => "strict".to_string(),
            Freshness::Bounded(d) => format!("bounded {} ms", d.as_millis()),
        };
        format!(
            "postgres {} issuer {name} ({} entries, generation {}, {mode})",
            self.inner.url.redacted(),
            st.counts().0,
            st.db_generation
        )
    }
}

/// Keeps a followed source's listener and heartbeat running.
struct Following {
    inner: Arc<Inner>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.listener.abort();
        self.inner.following.store(false, Ordering::Relaxed);
    }
}
