//! The OpenSSL CA database (`index.txt`): parse, validate, watch, swap atomically.
//!
//! [`parse`] is the pure parser (bytes in, [`IndexEntry`]s or `file:line: why` out) and
//! [`IndexEntry::to_line`] its inverse. [`IndexTxtSource`] serves statuses from an
//! immutable, compact snapshot of the file held in an [`ArcSwap`]: lookups never wait for
//! a reload they do not need and never see a half-loaded table.
//!
//! # No stale answers
//!
//! `openssl ca` replaces `index.txt` by rename. Every [`StatusSource::status`] and
//! [`StatusSource::generation`] call stats the path (device, inode, size, mtime and ctime
//! with nanoseconds) and compares it with the state the snapshot was read from; when they
//! differ the file is reloaded before answering (concurrent callers wait for one reload,
//! on the blocking pool when inside a tokio runtime). So a lookup that starts after a new
//! file is in place sees it. A [`notify`] watcher on the parent directory
//! ([`IndexTxtSource::watch`]) reloads as soon as the directory changes, so requests
//! rarely pay for a reload; it also re-reads the file after in-place writes (which may
//! leave size and timestamps unchanged within one clock tick), and re-checks every second
//! in case events are lost. [`IndexTxtSource::reload`] forces a reload (SIGHUP).
//!
//! # Bad files
//!
//! A reload that fails (bad line, cut short, deleted, a directory, unreadable, changing
//! while read) keeps the last good snapshot, logs `file:line: why` once per distinct file
//! state and records it in [`ReloadReport`]; the next change of the file is tried again.
//! A reload whose table equals the served one keeps the generation, so caches keyed by
//! generation stay valid when the file is merely touched.

mod lex;
mod parse;
pub(crate) mod table;

pub use parse::{parse, IndexEntry, IndexFlag};
pub use table::IndexSnapshot;

use crate::{
    Change, Changes, Lookup, SharedClock, SourceReport, StatusEntry, StatusError, StatusSource,
    WatchHandle,
};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use ocsp_proto::{Serial, Timestamp};
use parse::{parse_line, scan};
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use table::{Table, TableBuilder};

/// A problem with an index file, located to the line where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct IndexError {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line, when the problem is on one.
    pub line: Option<usize>,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// How often the watcher re-checks the file when no event arrives.
const POLL: Duration = Duration::from_secs(1);
/// Events closer together than this are handled by one reload.
const SETTLE: Duration = Duration::from_millis(10);
/// ... but a stream of events never delays a reload longer than this.
const MAX_SETTLE: Duration = Duration::from_millis(100);
/// How many times a file that changes while being read is read again before giving up.
const READ_ATTEMPTS: usize = 3;

/// The outcome of the last reload attempt and what is being served, for health checks and
/// metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    /// When the last load or reload was attempted.
    pub attempted_at: Timestamp,
    /// How long it took.
    pub took: Duration,
    /// `None` when it succeeded; else why it failed (the last good state is still served).
    pub error: Option<IndexError>,
    /// The generation being served.
    pub generation: u64,
    /// Entries in the served snapshot.
    pub entries: usize,
    /// Revoked entries in the served snapshot.
    pub revoked: usize,
    /// When the served snapshot was last read successfully from the file.
    pub loaded_at: Timestamp,
    /// Successful loads and reloads so far (including the first load).
    pub reloads: u64,
    /// Failed reload attempts so far.
    pub failures: u64,
    /// Problems logged so far (once per distinct file state and error).
    pub warnings: u64,
}

impl ReloadReport {
    /// Whether the last attempt succeeded.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// What a stat of the path says, compared to decide whether the file changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileKey {
    Stat {
        dev: u64,
        ino: u64,
        size: u64,
        mtime: (i64, i64),
        ctime: (i64, i64),
        mode: u32,
    },
    Error(ErrorKind),
    /// The file kept changing while being read: matches no state, so the next check
    /// tries again.
    Changing,
}

impl FileKey {
    fn of_path(path: &Path) -> FileKey {
        match std::fs::metadata(path) {
            Ok(m) => FileKey::of_meta(&m),
            Err(e) => FileKey::Error(e.kind()),
        }
    }

    #[cfg(unix)]
    fn of_meta(m: &std::fs::Metadata) -> FileKey {
        use std::os::unix::fs::MetadataExt;
        FileKey::Stat {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            mode: m.mode(),
        }
    }

    #[cfg(not(unix))]
    fn of_meta(m: &std::fs::Metadata) -> FileKey {
        let nanos = |t: std::io::Result<std::time::SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or((0, 0), |d| {
                    (
                        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                        i64::from(d.subsec_nanos()),
                    )
                })
        };
        FileKey::Stat {
            dev: 0,
            ino: 0,
            size: m.len(),
            mtime: nanos(m.modified()),
            ctime: nanos(m.created()),
            mode: u32::from(m.is_dir()),
        }
    }
}

/// What lookups see: a table, its generation, and the file state last tried (the state
/// the table was read from, or a later one that failed to load).
struct State {
    table: Arc<Table>,
    generation: u64,
    key: FileKey,
}

/// Bookkeeping only the reloader touches (under the reload mutex).
struct Book {
    logged: Option<(FileKey, String)>,
    warnings: u64,
    reloads: u64,
    failures: u64,
    loaded_at: Timestamp,
}

struct Inner {
    path: PathBuf,
    state: ArcSwap<State>,
    reload: Mutex<Book>,
    report: ArcSwap<ReloadReport>,
    /// How long one check of the file's identity serves lookups, in nanoseconds
    /// (0: every lookup checks).
    check_window_ns: AtomicU64,
    /// The clock of reload reports.
    clock: SharedClock,
    /// Per-serial change notifications (sent only while someone listens).
    changes: tokio::sync::broadcast::Sender<Change>,
    /// When (nanoseconds after `epoch`) a check last began that found the file to be the
    /// one the state was loaded from.
    checked_at_ns: AtomicU64,
    epoch: Instant,
}

/// Status from an index.txt file.
pub struct IndexTxtSource {
    inner: Arc<Inner>,
}

impl IndexTxtSource {
    /// Load `path`; fails with `file:line: why` on the first bad line.
    pub fn open(path: &Path) -> Result<Arc<IndexTxtSource>, IndexError> {
        IndexTxtSource::open_with(path, crate::clock::system())
    }

    /// [`IndexTxtSource::open`], reading report times from `clock`.
    pub fn open_with(path: &Path, clock: SharedClock) -> Result<Arc<IndexTxtSource>, IndexError> {
        let started = Instant::now();
        let attempted_at = clock.now();
        let (table, key) = load_file(path, FileKey::of_path(path)).map_err(|f| f.1)?;
        let report = ReloadReport {
            attempted_at,
            took: started.elapsed(),
            error: None,
            generation: 1,
            entries: table.len(),
            revoked: table.revoked(),
            loaded_at: attempted_at,
            reloads: 1,
            failures: 0,
            warnings: 0,
        };
        tracing::info!(
            index = %path.display(),
            entries = report.entries,
            revoked = report.revoked,
            ms = report.took.as_millis() as u64,
            "index loaded"
        );
        let inner = Inner {
            path: path.to_path_buf(),
            state: ArcSwap::from_pointee(State {
                table: Arc::new(table),
                generation: 1,
                key,
            }),
            reload: Mutex::new(Book {
                logged: None,
                warnings: 0,
                reloads: 1,
                failures: 0,
                loaded_at: attempted_at,
            }),
            report: ArcSwap::from_pointee(report),
            check_window_ns: AtomicU64::new(0),
            clock,
            changes: tokio::sync::broadcast::channel(CHANGE_BACKLOG).0,
            checked_at_ns: AtomicU64::new(0),
            epoch: Instant::now(),
        };
        Ok(Arc::new(IndexTxtSource {
            inner: Arc::new(inner),
        }))
    }

    /// Let one check of the file (a `stat`) serve the lookups of the next `window`
    /// instead of each lookup checking: a change to the file is then seen by requests
    /// that arrive at most `window` after it (the watcher usually sees it sooner), and a
    /// busy responder makes at most one `stat` per `window`. Zero, the default, checks
    /// on every lookup.
    pub fn set_check_window(&self, window: Duration) {
        let ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        self.inner.check_window_ns.store(ns, Ordering::Relaxed);
    }

    /// The file this source reads.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Read the file again now, even if it looks unchanged (SIGHUP). Blocks for the
    /// length of a load; from async code use [`IndexTxtSource::reload`].
    /// Returns the generation served afterwards, or why the file was not taken (the last
    /// good state is then still served).
    pub fn reload_blocking(&self) -> Result<u64, IndexError> {
        match self.inner.refresh(true) {
            (_, Some(e)) => Err(e),
            (st, None) => Ok(st.generation),
        }
    }

    /// [`IndexTxtSource::reload_blocking`] on the blocking pool.
    pub async fn reload(&self) -> Result<u64, IndexError> {
        let inner = self.inner.clone();
        match run_blocking(move || inner.refresh(true)).await {
            Ok((_, Some(e))) => Err(e),
            Ok((st, None)) => Ok(st.generation),
            Err(e) => Err(IndexError {
                path: self.inner.path.clone(),
                line: None,
                reason: e.to_string(),
            }),
        }
    }

    /// The outcome of the last load attempt and what is served.
    pub fn last_reload(&self) -> ReloadReport {
        ReloadReport::clone(&self.inner.report.load())
    }

    /// The current state, brought up to date first (blocking, for code outside async such
    /// as pre-signing every entry).
    pub fn snapshot(&self) -> IndexSnapshot {
        let st = self.inner.current_blocking();
        IndexSnapshot {
            table: st.table.clone(),
            generation: st.generation,
        }
    }

    /// Start watching the parent directory: reload as soon as the file is replaced or
    /// written, and re-check every second. Runs on its own thread (fine inside or outside
    /// a tokio runtime); stops when the guard is dropped or [`WatchGuard::stop`]ped.
    pub fn watch(self: &Arc<Self>) -> Result<WatchGuard, IndexError> {
        use notify::Watcher;
        let path = &self.inner.path;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path.file_name().map(|n| n.to_os_string());
        let (tx, rx) = mpsc::channel::<Msg>();
        let events = tx.clone();
        let mut watcher = notify::recommended_watcher(move |ev| {
            let _ = events.send(Msg::Event(ev));
        })
        .map_err(|e| watch_error(path, &dir, &e))?;
        watcher
            .watch(&dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(path, &dir, &e))?;
        let weak = Arc::downgrade(&self.inner);
        let thread = std::thread::Builder::new()
            .name("index-watch".into())
            .spawn(move || watch_loop(&weak, &rx, name.as_deref()))
            .map_err(|e| IndexError {
                path: path.clone(),
                line: None,
                reason: format!("cannot start the watcher thread: {e}"),
            })?;
        tracing::debug!(index = %path.display(), dir = %dir.display(), "watching index");
        Ok(WatchGuard {
            watcher: Some(watcher),
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The generation lookups see now, bringing the state up to date first (blocking).
    pub fn generation_now(&self) -> u64 {
        self.inner.current_blocking().generation
    }
}

fn watch_error(path: &Path, dir: &Path, e: &notify::Error) -> IndexError {
    IndexError {
        path: path.to_path_buf(),
        line: None,
        reason: format!(
            "cannot watch directory {}: {e}; raise fs.inotify.max_user_watches / \
             max_user_instances, or run without the watcher (each lookup still checks the \
             file)",
            dir.display()
        ),
    }
}

/// Changes listed one by one up to this many; more are sent as [`Change::All`].
const MAX_LISTED_CHANGES: usize = 10_000;
/// Change messages a slow subscriber may fall behind by before it is told
/// [`Change::All`].
const CHANGE_BACKLOG: usize = 64;

impl Inner {
    /// Tell subscribers what changed from `old` to `new` (now `generation`).
    fn notify(&self, old: &Table, new: &Table, generation: u64) {
        if self.changes.receiver_count() == 0 {
            return;
        }
        let change = match old.diff(new, MAX_LISTED_CHANGES) {
            Some(serials) => Change::Serials {
                generation,
                serials: serials.into(),
            },
            None => Change::All { generation },
        };
        let _ = self.changes.send(change);
    }

    /// The state, reloaded first if the file changed since it was last tried.
    fn current_blocking(&self) -> Arc<State> {
        let st = self.state.load_full();
        if FileKey::of_path(&self.path) == st.key {
            return st;
        }
        self.refresh(false).0
    }

    /// Reload if the file changed since it was last tried (or always, with `force`).
    /// Callers that arrive during a reload wait for it and then find nothing to do.
    /// Returns the state now served and, if this call tried the file and failed, why.
    fn refresh(&self, force: bool) -> (Arc<State>, Option<IndexError>) {
        let mut book = self.reload.lock().unwrap_or_else(PoisonError::into_inner);
        let cur = self.state.load_full();
        let key0 = FileKey::of_path(&self.path);
        if !force && key0 == cur.key {
            return (cur, None);
        }
        let started = Instant::now();
        let attempted_at = self.clock.now();
        let (next, error) = match load_file(&self.path, key0) {
            Ok((table, key)) => {
                book.reloads += 1;
                book.loaded_at = attempted_at;
                let next = if table == *cur.table {
                    State {
                        table: cur.table.clone(),
                        generation: cur.generation,
                        key,
                    }
                } else {
                    State {
                        table: Arc::new(table),
                        generation: cur.generation + 1,
                        key,
                    }
                };
                if next.generation != cur.generation {
                    self.notify(&cur.table, &next.table, next.generation);
                    tracing::info!(
                        index = %self.path.display(),
                        entries = next.table.len(),
                        revoked = next.table.revoked(),
                        generation = next.generation,
                        ms = started.elapsed().as_millis() as u64,
                        "index reloaded"
                    );
                }
                if book.logged.take().is_some() {
                    tracing::info!(index = %self.path.display(), "index is valid again");
                }
                (next, None)
            }
            Err(failure) => {
                let (key, e) = *failure;
                book.failures += 1;
                let msg = e.to_string();
                if book.logged.as_ref() != Some(&(key, msg.clone())) {
                    tracing::warn!(
                        "{msg} (index not reloaded; still serving generation {}, {} entries)",
                        cur.generation,
                        cur.table.len()
                    );
                    book.logged = Some((key, msg));
                    book.warnings += 1;
                }
                let next = State {
                    table: cur.table.clone(),
                    generation: cur.generation,
                    key,
                };
                (next, Some(e))
            }
        };
        let next = Arc::new(next);
        self.report.store(Arc::new(ReloadReport {
            attempted_at,
            took: started.elapsed(),
            error: error.clone(),
            generation: next.generation,
            entries: next.table.len(),
            revoked: next.table.revoked(),
            loaded_at: book.loaded_at,
            reloads: book.reloads,
            failures: book.failures,
            warnings: book.warnings,
        }));
        self.state.store(next.clone());
        (next, error)
    }
}

/// A failed load: the file state it belongs to and why.
type Failure = Box<(FileKey, IndexError)>;

/// Read and parse the file. `key0` is the path's state before opening; errors carry the
/// state they belong to (always one observed before the content was read, so a change
/// made after it is noticed by the next check).
fn load_file(path: &Path, key0: FileKey) -> Result<(Table, FileKey), Failure> {
    let err = |key: FileKey, reason: String| {
        Box::new((
            key,
            IndexError {
                path: path.to_path_buf(),
                line: None,
                reason,
            },
        ))
    };
    let mut key0 = key0;
    for _ in 0..READ_ATTEMPTS {
        // Look before opening: open() on a FIFO blocks until a writer appears, which would
        // hold the reload lock, and every request behind it, indefinitely.
        let pre = std::fs::metadata(path).map_err(|e| err(key0, open_reason(&e)))?;
        if !pre.is_file() {
            let what = if pre.is_dir() {
                "is a directory"
            } else {
                "is not a regular file"
            };
            return Err(err(
                FileKey::of_meta(&pre),
                format!(
                    "{what}; point the responder at the index file itself (`database` in \
                     openssl.cnf, usually index.txt)"
                ),
            ));
        }
        let file = File::open(path).map_err(|e| err(key0, open_reason(&e)))?;
        let meta = file
            .metadata()
            .map_err(|e| err(key0, format!("cannot stat the open file: {e}")))?;
        let key = FileKey::of_meta(&meta);
        if !meta.is_file() {
            let what = if meta.is_dir() {
                "is a directory"
            } else {
                "is not a regular file"
            };
            return Err(err(
                key,
                format!(
                    "{what}; point the responder at the index file itself (`database` in \
                     openssl.cnf, usually index.txt)"
                ),
            ));
        }
        let result = read_table(&file, meta.len()).map_err(|e| e.into_index_error(path));
        let after = file.metadata().map(|m| FileKey::of_meta(&m));
        if after.as_ref().ok() == Some(&key) {
            return result.map(|t| (t, key)).map_err(|e| Box::new((key, e)));
        }
        // Written while we read it: what we read may be a mix. Read it again.
        key0 = FileKey::of_path(path);
        std::thread::sleep(SETTLE);
    }
    Err(err(
        FileKey::Changing,
        format!(
            "the file changed while being read, {READ_ATTEMPTS} times in a row; write the \
             new index to a temporary file and rename it into place, as openssl ca does"
        ),
    ))
}

fn open_reason(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::NotFound => "cannot open: no such file; check the index path (`database` \
             in openssl.cnf), or restore the file (openssl ca keeps index.txt.old)"
            .to_string(),
        ErrorKind::PermissionDenied => {
            "cannot open: permission denied; let the responder's user read the file and \
             search its directory"
                .to_string()
        }
        _ => format!("cannot open: {e}"),
    }
}

fn read_table(file: &File, size: u64) -> Result<Table, lex::ScanError> {
    let mut builder = TableBuilder::for_file_size(size);
    scan(file, |line_no, line| {
        let raw = parse_line(line)?;
        builder.push(raw.serial, raw.revocation.as_ref(), raw.expires, line_no)
    })?;
    builder.finish()
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StatusError> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => h
            .spawn_blocking(f)
            .await
            .map_err(|e| StatusError::Internal(format!("index reload task failed: {e}"))),
        Err(_) => Ok(f()),
    }
}

impl IndexTxtSource {
    /// The state to answer from: the current snapshot if the file is unchanged, else the
    /// result of a reload (done off the async workers).
    async fn current(&self) -> Result<Arc<State>, StatusError> {
        let key = FileKey::of_path(&self.inner.path);
        {
            let st = self.inner.state.load();
            if st.key == key {
                return Ok(arc_swap::Guard::into_inner(st));
            }
        }
        let inner = self.inner.clone();
        Ok(run_blocking(move || inner.refresh(false)).await?.0)
    }
}

#[async_trait]
impl StatusSource for IndexTxtSource {
    async fn status(&self, serial: &Serial) -> Result<Lookup, StatusError> {
        let key = FileKey::of_path(&self.inner.path);
        {
            // Fast path: no reference count touched, no lock.
            let st = self.inner.state.load();
            if st.key == key {
                return Ok(Lookup {
                    status: st.table.get(serial.as_bytes()),
                    generation: st.generation,
                    period: None,
                });
            }
        }
        let st = self.current().await?;
        Ok(Lookup {
            status: st.table.get(serial.as_bytes()),
            generation: st.generation,
            period: None,
        })
    }

    async fn generation(&self) -> Result<u64, StatusError> {
        let inner = &self.inner;
        let window = inner.check_window_ns.load(Ordering::Relaxed);
        // The state is read before the clock and the check: if the check finds the
        // file unchanged, this state was current when the check began.
        let st = inner.state.load();
        let began = u64::try_from(inner.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if window > 0
            && began
                < inner
                    .checked_at_ns
                    .load(Ordering::Acquire)
                    .saturating_add(window)
        {
            return Ok(st.generation);
        }
        if FileKey::of_path(&inner.path) == st.key {
            if window > 0 {
                inner.checked_at_ns.fetch_max(began, Ordering::AcqRel);
            }
            return Ok(st.generation);
        }
        drop(st);
        Ok(self.current().await?.generation)
    }

    async fn entries(
        &self,
        visit: &mut (dyn FnMut(StatusEntry) + Send),
    ) -> Result<u64, StatusError> {
        let st = self.current().await?;
        for (serial, status, expires) in st.table.iter() {
            visit(StatusEntry {
                serial,
                status,
                expires: Some(expires),
            });
        }
        Ok(st.generation)
    }

    fn changes(&self) -> Option<Changes> {
        Some(self.inner.changes.subscribe())
    }

    async fn reload(&self) -> Result<u64, StatusError> {
        IndexTxtSource::reload(self)
            .await
            .map_err(|e| StatusError::Unavailable(e.to_string()))
    }

    fn follow(self: Arc<Self>) -> Result<Option<WatchHandle>, StatusError> {
        let guard =
            IndexTxtSource::watch(&self).map_err(|e| StatusError::Unavailable(e.to_string()))?;
        Ok(Some(Box::new(guard)))
    }

    fn report(&self) -> Option<SourceReport> {
        let r = self.last_reload();
        Some(SourceReport {
            kind: "index_txt",
            location: self.inner.path.display().to_string(),
            generation: r.generation,
            entries: r.entries as u64,
            revoked: r.revoked as u64,
            attempted_at: r.attempted_at,
            took: r.took,
            error: r.error.map(|e| e.to_string()),
            loaded_at: r.loaded_at,
            reloads: r.reloads,
            failures: r.failures,
        })
    }

    fn describe(&self) -> String {
        let st = self.inner.state.load();
        format!(
            "index {} ({} entries, generation {})",
            self.inner.path.display(),
            st.table.len(),
            st.generation
        )
    }
}

enum Msg {
    Event(notify::Result<notify::Event>),
    Stop,
}

/// Stops the watcher when dropped.
pub struct WatchGuard {
    watcher: Option<notify::RecommendedWatcher>,
    stop: Option<mpsc::Sender<Msg>>,
    thread: Option<JoinHandle<()>>,
}

impl WatchGuard {
    /// Stop watching and wait for the watcher thread (at most one reload's time).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        drop(self.watcher.take());
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(Msg::Stop);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for WatchGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchGuard").finish_non_exhaustive()
    }
}

/// Whether `ev` says our file's content was written in place (which may leave its size and
/// timestamps unchanged within one clock tick, so it forces a re-read).
fn wrote_in_place(ev: &notify::Result<notify::Event>, name: Option<&std::ffi::OsStr>) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
    match ev {
        // Lost events (queue overflow) or a watcher error: re-read to be sure.
        Err(_) => true,
        Ok(ev) if ev.need_rescan() => true,
        Ok(ev) => {
            let write = matches!(
                ev.kind,
                EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any)
                    | EventKind::Access(AccessKind::Close(AccessMode::Write))
            );
            write && ev.paths.iter().any(|p| p.file_name() == name)
        }
    }
}

fn watch_loop(weak: &Weak<Inner>, rx: &mpsc::Receiver<Msg>, name: Option<&std::ffi::OsStr>) {
    use mpsc::RecvTimeoutError;
    loop {
        let force = match rx.recv_timeout(POLL) {
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => false,
            Ok(Msg::Event(ev)) => {
                // Let a burst (openssl ca writes several files) settle into one reload.
                let mut force = wrote_in_place(&ev, name);
                let deadline = Instant::now() + MAX_SETTLE;
                while Instant::now() < deadline {
                    match rx.recv_timeout(SETTLE) {
                        Ok(Msg::Event(ev)) => force |= wrote_in_place(&ev, name),
                        Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                        Err(RecvTimeoutError::Timeout) => break,
                    }
                }
                force
            }
        };
        let Some(inner) = weak.upgrade() else { return };
        let _ = inner.refresh(force);
    }
}

#[cfg(test)]
mod tests;
