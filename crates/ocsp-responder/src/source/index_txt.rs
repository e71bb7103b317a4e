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

mod parse;
mod table;

pub use parse::{parse, IndexEntry, IndexFlag};
pub use table::IndexSnapshot;

use super::{Lookup, SourceError, StatusSource};
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
        let started = Instant::now();
        let attempted_at = crate::clock::now();
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

impl Inner {
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
        let attempted_at = crate::clock::now();
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

fn read_table(file: &File, size: u64) -> Result<Table, parse::ScanError> {
    let mut builder = TableBuilder::for_file_size(size);
    scan(file, |line_no, line| {
        let raw = parse_line(line)?;
        builder.push(raw.serial, raw.revocation.as_ref(), line_no)
    })?;
    builder.finish()
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SourceError> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => h
            .spawn_blocking(f)
            .await
            .map_err(|e| SourceError::Internal(format!("index reload task failed: {e}"))),
        Err(_) => Ok(f()),
    }
}

impl IndexTxtSource {
    /// The state to answer from: the current snapshot if the file is unchanged, else the
    /// result of a reload (done off the async workers).
    async fn current(&self) -> Result<Arc<State>, SourceError> {
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
    async fn status(&self, serial: &Serial) -> Result<Lookup, SourceError> {
        let key = FileKey::of_path(&self.inner.path);
        {
            // Fast path: no reference count touched, no lock.
            let st = self.inner.state.load();
            if st.key == key {
                return Ok(Lookup {
                    status: st.table.get(serial.as_bytes()),
                    generation: st.generation,
                });
            }
        }
        let st = self.current().await?;
        Ok(Lookup {
            status: st.table.get(serial.as_bytes()),
            generation: st.generation,
        })
    }

    async fn generation(&self) -> Result<u64, SourceError> {
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
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ocsp_proto::{CertStatus, Revocation, RevocationReason};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    const BASE: u64 = 1_700_000_000;

    fn serial(hex: &str) -> Serial {
        Serial::from_hex(hex).unwrap()
    }

    fn good(hex: &str) -> String {
        format!("V\t351231235959Z\t\t{hex}\tunknown\t/CN={hex}\n")
    }

    fn revoked_at(hex: &str, t: u64) -> String {
        let when = parse::format_time(Timestamp(t));
        format!("R\t351231235959Z\t{when},keyCompromise\t{hex}\tunknown\t/CN={hex}\n")
    }

    /// Write next to `path` and rename into place, as openssl ca does.
    fn replace(path: &Path, content: &str) {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, content).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    fn setup(content: &str) -> (tempfile::TempDir, PathBuf, Arc<IndexTxtSource>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.txt");
        std::fs::write(&path, content).unwrap();
        let src = IndexTxtSource::open(&path).unwrap();
        (dir, path, src)
    }

    async fn status(src: &IndexTxtSource, hex: &str) -> Option<CertStatus> {
        src.status(&serial(hex)).await.unwrap().status
    }

    fn is_revoked(s: Option<CertStatus>) -> bool {
        matches!(s, Some(CertStatus::Revoked(_)))
    }

    #[tokio::test]
    async fn lookups_and_description() {
        let text = format!(
            "{}{}E\t200101000000Z\t\t0C\tunknown\t/CN=c\n\
             E\t200101000000Z\t190101000000Z,superseded\t0D\tunknown\t/CN=d\n",
            good("0A"),
            revoked_at("0B", BASE)
        );
        let (_d, path, src) = setup(&text);
        assert_eq!(status(&src, "0A").await, Some(CertStatus::Good));
        assert_eq!(status(&src, "000a").await, Some(CertStatus::Good));
        assert_eq!(
            status(&src, "0B").await,
            Some(CertStatus::Revoked(Revocation {
                time: Timestamp(BASE),
                reason: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
                hold_instruction: None,
            }))
        );
        assert_eq!(status(&src, "0C").await, Some(CertStatus::Good));
        assert!(is_revoked(status(&src, "0D").await));
        assert_eq!(status(&src, "0E").await, None);
        let l = src.status(&serial("0A")).await.unwrap();
        assert_eq!(l.generation, 1);
        assert_eq!(src.generation().await.unwrap(), 1);
        assert_eq!(src.path(), path);
        assert!(src.describe().contains("(4 entries"), "{}", src.describe());
        let r = src.last_reload();
        assert!(r.ok());
        assert_eq!(
            (r.entries, r.revoked, r.generation, r.reloads),
            (4, 2, 1, 1)
        );
        let snap = src.snapshot();
        assert_eq!(snap.len(), 4);
        assert_eq!(snap.get(&serial("0B")), status(&src, "0B").await);
    }

    #[test]
    fn open_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("index.txt");
        let e = IndexTxtSource::open(&missing).err().unwrap();
        assert_eq!(e.line, None);
        assert!(e.reason.contains("no such file"), "{e}");
        let e = IndexTxtSource::open(dir.path()).err().unwrap();
        assert!(e.reason.contains("is a directory"), "{e}");
        std::fs::write(
            &missing,
            format!("{}{}{}", good("01"), good("02"), good("01")),
        )
        .unwrap();
        let e = IndexTxtSource::open(&missing).err().unwrap();
        assert_eq!(e.line, Some(3));
        assert!(e
            .to_string()
            .contains("index.txt:3: serial 01 appears twice, on lines 1 and 3"));
        std::fs::write(&missing, "").unwrap();
        assert_eq!(IndexTxtSource::open(&missing).unwrap().snapshot().len(), 0);
    }

    /// Every lookup made after a rename returns sees the renamed file.
    #[tokio::test]
    async fn rename_is_seen_by_the_next_lookup() {
        let (_d, path, src) = setup(&good("0A"));
        for i in 0..200u64 {
            let revoke = i % 2 == 0;
            let body = if revoke {
                revoked_at("0A", BASE + i)
            } else {
                good("0A")
            };
            replace(&path, &format!("{body}{}", good("0B")));
            let st = status(&src, "0A").await;
            assert_eq!(is_revoked(st.clone()), revoke, "round {i}: {st:?}");
            if let Some(CertStatus::Revoked(r)) = st {
                assert_eq!(r.time, Timestamp(BASE + i));
            }
        }
        // Every rename changed the table, so each made a new generation.
        assert_eq!(src.generation().await.unwrap(), 201);
    }

    /// Readers on several threads while the file is replaced again and again: a lookup that
    /// starts after a rename never sees an older file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_stale_answers_under_concurrent_renames() {
        let marker = |v: u64| format!("{}{}", revoked_at("FFFF", BASE + v), good("01"));
        let (_d, path, src) = setup(&marker(1));
        let published = Arc::new(AtomicU64::new(1));
        let done = Arc::new(AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..6 {
            let (src, published, done) = (src.clone(), published.clone(), done.clone());
            readers.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !done.load(Ordering::SeqCst) {
                    let before = published.load(Ordering::SeqCst);
                    let l = src.status(&serial("FFFF")).await.unwrap();
                    let Some(CertStatus::Revoked(r)) = l.status else {
                        panic!("marker missing: {l:?}");
                    };
                    let seen = r.time.0 - BASE;
                    assert!(seen >= before, "stale: saw version {seen} after {before}");
                    n += 1;
                }
                n
            }));
        }
        let writer = {
            let (path, published) = (path.clone(), published.clone());
            std::thread::spawn(move || {
                for v in 2..=300u64 {
                    replace(&path, &marker(v));
                    published.store(v, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_micros(300));
                }
            })
        };
        tokio::task::spawn_blocking(move || writer.join().unwrap())
            .await
            .unwrap();
        done.store(true, Ordering::SeqCst);
        let mut total = 0;
        for r in readers {
            total += r.await.unwrap();
        }
        assert!(total > 300, "readers made only {total} lookups");
        let Some(CertStatus::Revoked(r)) = status(&src, "FFFF").await else {
            panic!()
        };
        assert_eq!(r.time, Timestamp(BASE + 300));
    }

    /// Concurrent callers that find the file changed share one reload.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_coalesce() {
        let mut big = String::new();
        for i in 0..20_000u32 {
            big.push_str(&good(&format!("{i:08X}")));
        }
        let (_d, path, src) = setup(&big);
        big.push_str(&revoked_at("FFFFFFFF", BASE));
        replace(&path, &big);
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let src = src.clone();
            tasks.push(tokio::spawn(async move { status(&src, "FFFFFFFF").await }));
        }
        for t in tasks {
            assert!(is_revoked(t.await.unwrap()));
        }
        let r = src.last_reload();
        assert_eq!((r.reloads, r.generation, r.entries), (2, 2, 20_001));
    }

    #[tokio::test]
    async fn bad_reloads_keep_the_last_good_state() {
        let v1 = format!("{}{}", good("0A"), revoked_at("0B", BASE));
        let (dir, path, src) = setup(&v1);
        let expect_old = |tag: &'static str| {
            let src = src.clone();
            async move {
                assert_eq!(status(&src, "0A").await, Some(CertStatus::Good), "{tag}");
                assert!(is_revoked(status(&src, "0B").await), "{tag}");
                assert_eq!(status(&src, "0C").await, None, "{tag}");
                assert_eq!(src.generation().await.unwrap(), 1, "{tag}");
            }
        };

        // A bad line: reported with file:line, once, however many lookups follow.
        replace(
            &path,
            &format!("{v1}V\t351231235959Z\t\tZZ\tunknown\t/CN=x\n"),
        );
        for _ in 0..50 {
            expect_old("bad line").await;
        }
        let r = src.last_reload();
        let e = r.error.clone().unwrap();
        assert_eq!((e.path.as_path(), e.line), (path.as_path(), Some(3)));
        assert!(e.reason.contains("not hexadecimal"), "{e}");
        assert_eq!(
            (r.failures, r.warnings, r.generation, r.entries),
            (1, 1, 1, 2)
        );
        // A forced reload (SIGHUP) of the same bad file fails again but is not logged again.
        assert_eq!(src.reload().await.unwrap_err().line, Some(3));
        assert_eq!(
            (src.last_reload().failures, src.last_reload().warnings),
            (2, 1)
        );

        // Cut short (last line without its newline).
        replace(&path, &format!("{v1}V\t351231235959Z\t\t0C\tunkn"));
        expect_old("cut short").await;
        let r = src.last_reload();
        assert!(r
            .error
            .unwrap()
            .reason
            .contains("does not end with a newline"));
        assert_eq!(r.warnings, 2);

        // Deleted.
        std::fs::remove_file(&path).unwrap();
        expect_old("deleted").await;
        assert!(src
            .last_reload()
            .error
            .unwrap()
            .reason
            .contains("no such file"));

        // Replaced by a directory.
        std::fs::create_dir(&path).unwrap();
        expect_old("directory").await;
        assert!(src
            .last_reload()
            .error
            .unwrap()
            .reason
            .contains("is a directory"));
        std::fs::remove_dir(&path).unwrap();

        // Unreadable (root reads anything: then this case cannot be shown).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&path, &v1).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
            if File::open(&path).is_err() {
                expect_old("unreadable").await;
                let e = src.last_reload().error.unwrap();
                assert!(e.reason.contains("permission denied"), "{e}");
            } else {
                eprintln!("running as root: the unreadable-file case is not observable");
            }
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }

        // Written in place in pieces: the half-written state is refused, the whole one
        // taken.
        let v2 = format!("{}{}{}", revoked_at("0A", BASE + 1), good("0B"), good("0C"));
        let (head, _) = v2.split_at(v2.len() - 10);
        std::fs::write(&path, head).unwrap();
        expect_old("half written").await;
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            f.write_all(&v2.as_bytes()[head.len()..]).unwrap();
        }
        assert!(is_revoked(status(&src, "0A").await));
        assert_eq!(status(&src, "0B").await, Some(CertStatus::Good));
        assert_eq!(status(&src, "0C").await, Some(CertStatus::Good));
        let r = src.last_reload();
        assert!(r.ok());
        assert_eq!((r.generation, r.entries), (2, 3));
        drop(dir);
    }

    #[tokio::test]
    async fn unchanged_content_keeps_the_generation() {
        let v1 = format!("{}{}", good("0A"), revoked_at("0B", BASE));
        let (_d, path, src) = setup(&v1);
        replace(&path, &v1);
        assert_eq!(src.generation().await.unwrap(), 1);
        assert_eq!(src.last_reload().reloads, 2);
        assert_eq!(src.reload().await.unwrap(), 1);
        assert_eq!(src.reload_blocking().unwrap(), 1);
        assert_eq!(src.last_reload().reloads, 4);
        replace(&path, &format!("{v1}{}", good("0C")));
        assert_eq!(src.generation().await.unwrap(), 2);
        assert_eq!(src.generation_now(), 2);
    }

    #[tokio::test]
    async fn check_window_lets_one_stat_serve_lookups() {
        let v1 = good("0A");
        let (_d, path, src) = setup(&v1);
        // Zero (the default): every lookup checks the file.
        replace(&path, &format!("{v1}{}", good("0B")));
        assert_eq!(src.generation().await.unwrap(), 2);
        // A long window: the check just made serves the next lookups, which do not see
        // a change made within it...
        src.set_check_window(Duration::from_secs(3600));
        assert_eq!(src.generation().await.unwrap(), 2);
        replace(&path, &format!("{v1}{}", good("0C")));
        assert_eq!(src.generation().await.unwrap(), 2);
        assert_eq!(src.generation().await.unwrap(), 2);
        // ...until the window is over (here: closed) or a reload (the watcher's) runs.
        src.set_check_window(Duration::ZERO);
        assert_eq!(src.generation().await.unwrap(), 3);
        src.set_check_window(Duration::from_secs(3600));
        replace(&path, &format!("{v1}{}", good("0D")));
        assert_eq!(src.reload().await.unwrap(), 4);
        assert_eq!(src.generation().await.unwrap(), 4);
    }

    async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        for _ in 0..300 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// The watcher reloads without any lookup: after a rename, after an in-place write,
    /// and stops when its guard is dropped.
    #[tokio::test]
    async fn watcher_reloads_proactively() {
        let (_d, path, src) = setup(&good("0A"));
        let guard = src.watch().unwrap();
        // last_reload() never touches the file, so only the watcher can move it.
        replace(&path, &revoked_at("0A", BASE));
        wait_for("reload after rename", || src.last_reload().generation == 2).await;
        // In place, same size: only the content changes.
        let same_size = revoked_at("0A", BASE + 1);
        assert_eq!(same_size.len(), revoked_at("0A", BASE).len());
        {
            use std::io::{Seek, Write};
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.seek(std::io::SeekFrom::Start(0)).unwrap();
            f.write_all(same_size.as_bytes()).unwrap();
        }
        wait_for("reload after in-place write", || {
            src.last_reload().generation == 3
        })
        .await;
        let snap = src.inner.state.load().table.get(&[0x0A]);
        let Some(CertStatus::Revoked(r)) = snap else {
            panic!()
        };
        assert_eq!(r.time, Timestamp(BASE + 1));
        // A bad file seen by the watcher is reported once.
        replace(&path, "garbage\n");
        wait_for("failed reload", || src.last_reload().failures == 1).await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(src.last_reload().warnings, 1);

        guard.stop();
        let before = src.last_reload();
        replace(&path, &good("0A"));
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert_eq!(
            src.last_reload(),
            before,
            "the watcher still runs after stop"
        );
        // Lookups still see the change themselves.
        assert_eq!(status(&src, "0A").await, Some(CertStatus::Good));
    }

    #[test]
    fn watcher_works_outside_a_runtime_and_ends_with_the_source() {
        let (_d, path, src) = setup(&good("0A"));
        let guard = src.watch().unwrap();
        replace(&path, &good("0B"));
        for _ in 0..300 {
            if src.last_reload().generation == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(src.last_reload().generation, 2);
        // Dropping the source first is fine; the guard then ends the thread.
        drop(src);
        drop(guard);
    }
}
