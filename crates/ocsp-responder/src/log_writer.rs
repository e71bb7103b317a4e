//! The log writer: a bounded buffer between the threads that log and the file descriptor
//! the lines go to, emptied by one background thread. Logging never makes a request wait.
//!
//! - [`LogWriter::push`] appends one whole line to an in-memory buffer, under a lock held
//!   for the copy only. The caller never waits for a `write(2)`: not for a full pipe, a
//!   slow disk, a stopped terminal or a journal that is busy.
//! - The buffer is bounded ([`LogWriter::capacity`] bytes). A line that does not fit is
//!   dropped and counted ([`LogWriter::dropped`], exported as
//!   `ocsp_log_lines_dropped_total`): under a storm of lines the responder keeps answering,
//!   and the counter says how many lines are missing.
//! - The flusher thread writes what has accumulated, many lines in one `write`, at once
//!   after a line pushed with [`LogWriter::push_soon`] (the rare lines: start, reloads,
//!   errors), and otherwise every
//!   `interval` (at most a second) and as soon as [`WRITE_AT`] bytes (or half the buffer)
//!   wait: the bytes written stay in the CPU's cache between the lines that fill them and
//!   the write that empties them.
//! - [`LogWriter::flush`] writes every line pushed before it was called, then returns: at
//!   shutdown, every line accepted before it is in the file.
//! - A [`Destination::File`] is opened for appending and reopened by its path after
//!   [`LogWriter::reopen`] (on SIGHUP): logrotate renames the file and sends SIGHUP; the
//!   lines flushed after that go to a new file under the old name.
//! - A write that fails (disk full, a closed pipe) loses the lines it held; they are
//!   counted as dropped.
//!
//! Lines are written in the order they were pushed. The writer adds nothing to a line:
//! the caller ends it with `\n`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// Default bound of the buffer: 2 MiB, a quarter of a second of access lines at 50,000
/// requests per second.
pub const DEFAULT_CAPACITY: usize = 2 << 20;

/// Default time between two writes of the flusher (it writes sooner when the buffer is
/// half full).
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);

/// Bytes waiting that wake the flusher before its interval (or half the buffer, if less).
pub const WRITE_AT: usize = 64 << 10;

/// Where the lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The process's standard error (the journal under systemd).
    Stderr,
    /// A file, created if missing, appended to, reopened by [`LogWriter::reopen`].
    File(PathBuf),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Stderr => f.write_str("stderr"),
            Destination::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Lines waiting for the flusher.
struct Pending {
    buf: Vec<u8>,
    lines: u64,
    stop: bool,
    /// A line pushed with [`LogWriter::push_soon`] waits: write without waiting for the
    /// interval.
    soon: bool,
}

/// The open destination; only the flusher (or [`LogWriter::flush`]) holds it.
struct Output {
    dest: Destination,
    file: Option<File>,
    spare: Vec<u8>,
}

impl Output {
    fn open(dest: &Destination) -> std::io::Result<Option<File>> {
        match dest {
            Destination::Stderr => Ok(None),
            Destination::File(path) => {
                let mut o = OpenOptions::new();
                o.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o640);
                o.open(path).map(Some)
            }
        }
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(data),
            None => std::io::stderr().lock().write_all(data),
        }
    }
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    capacity: usize,
    /// [`WRITE_AT`] or half the capacity.
    wake_at: usize,
    dropped: AtomicU64,
    written: AtomicU64,
    reopen: AtomicBool,
    out: Mutex<Output>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; if something did, the data is still whole.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Write out everything pending now (reopening the file first if asked).
    fn flush(&self) {
        let mut out = lock(&self.out);
        if self.reopen.swap(false, Ordering::AcqRel) {
            match Output::open(&out.dest) {
                Ok(f) => out.file = f,
                Err(e) => {
                    // Keep writing to the file still open (the renamed one): late lines
                    // beat lost lines.
                    let _ = writeln!(
                        std::io::stderr(),
                        "ocsp: log file {}: cannot reopen it ({e}); lines go on to the file open before",
                        out.dest
                    );
                }
            }
        }
        let mut batch = std::mem::take(&mut out.spare);
        let lines = {
            let mut p = lock(&self.pending);
            std::mem::swap(&mut p.buf, &mut batch);
            p.soon = false;
            std::mem::take(&mut p.lines)
        };
        if !batch.is_empty() {
            match out.write(&batch) {
                Ok(()) => self.written.fetch_add(lines, Ordering::Relaxed),
                Err(_) => self.dropped.fetch_add(lines, Ordering::Relaxed),
            };
        }
        batch.clear();
        out.spare = batch;
    }
}

/// A bounded, buffered, non-blocking line writer (see the module docs).
pub struct LogWriter {
    shared: Arc<Shared>,
    flusher: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("destination", &lock(&self.shared.out).dest)
            .field("capacity", &self.shared.capacity)
            .finish()
    }
}

impl LogWriter {
    /// A writer to `dest` holding at most `capacity` bytes (0: [`DEFAULT_CAPACITY`]),
    /// flushed every `interval` (capped at one second; zero: [`DEFAULT_INTERVAL`]). A file
    /// that cannot be opened is an error naming it.
    pub fn new(
        dest: Destination,
        capacity: usize,
        interval: Duration,
    ) -> Result<LogWriter, String> {
        let capacity = if capacity == 0 {
            DEFAULT_CAPACITY
        } else {
            capacity
        };
        let interval = if interval.is_zero() {
            DEFAULT_INTERVAL
        } else {
            interval.min(Duration::from_secs(1))
        };
        let file = Output::open(&dest).map_err(|e| {
            format!(
                "log file {dest}: {e}; create its directory and let the service user write to it, or remove [log] file to log to stderr"
            )
        })?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(capacity),
                lines: 0,
                stop: false,
                soon: false,
            }),
            wake: Condvar::new(),
            capacity,
            wake_at: WRITE_AT.min(capacity / 2),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            reopen: AtomicBool::new(false),
            out: Mutex::new(Output {
                dest,
                file,
                spare: Vec::with_capacity(capacity),
            }),
        });
        let s = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("ocsp-log".into())
            .spawn(move || flusher(&s, interval))
            .map_err(|e| format!("cannot start the log writer thread: {e}"))?;
        Ok(LogWriter {
            shared,
            flusher: Mutex::new(Some(flusher)),
        })
    }

    /// Append `line` (ending in `\n`) whole, or drop and count it when the buffer has no
    /// room for it. Never waits for a write. Returns whether the line was kept.
    pub fn push(&self, line: &[u8]) -> bool {
        let half = self.shared.wake_at;
        let mut p = lock(&self.shared.pending);
        let before = p.buf.len();
        if p.stop || before + line.len() > self.shared.capacity {
            drop(p);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        p.buf.extend_from_slice(line);
        p.lines += 1;
        let crossed = before < half && p.buf.len() >= half;
        drop(p);
        if crossed {
            self.shared.wake.notify_one();
        }
        true
    }

    /// As [`LogWriter::push`], and have the flusher write it now rather than at the end
    /// of its interval (the rare lines that are not access lines: start, reloads, errors;
    /// one wake-up of the flusher each, never a wait).
    pub fn push_soon(&self, line: &[u8]) -> bool {
        let mut p = lock(&self.shared.pending);
        if p.stop || p.buf.len() + line.len() > self.shared.capacity {
            drop(p);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        p.buf.extend_from_slice(line);
        p.lines += 1;
        p.soon = true;
        drop(p);
        self.shared.wake.notify_one();
        true
    }

    /// Write every line pushed so far, then return (shutdown, tests).
    pub fn flush(&self) {
        self.shared.flush();
    }

    /// Reopen the file by its path before the next write (SIGHUP, after logrotate renamed
    /// it). Nothing for stderr.
    pub fn reopen(&self) {
        self.shared.reopen.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }

    /// Lines dropped so far: no room in the buffer, or their write failed.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Lines written so far.
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// The bound of the buffer, in bytes.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Where the lines go.
    pub fn destination(&self) -> Destination {
        lock(&self.shared.out).dest.clone()
    }

    /// Flush, stop the flusher thread and wait for it. Lines pushed afterwards are dropped
    /// and counted.
    pub fn stop(&self) {
        lock(&self.shared.pending).stop = true;
        self.shared.wake.notify_one();
        if let Some(t) = lock(&self.flusher).take() {
            let _ = t.join();
        }
        self.shared.flush();
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

fn flusher(shared: &Shared, interval: Duration) {
    let half = shared.wake_at;
    let mut reported = 0u64;
    loop {
        let stop = {
            let p = lock(&shared.pending);
            let (p, _) = shared
                .wake
                .wait_timeout_while(p, interval, |p| {
                    !p.stop
                        && !p.soon
                        && p.buf.len() < half
                        && !shared.reopen.load(Ordering::Acquire)
                })
                .unwrap_or_else(|e| e.into_inner());
            p.stop
        };
        shared.flush();
        let dropped = shared.dropped.load(Ordering::Relaxed);
        crate::metrics::log_lines_dropped(dropped - reported);
        reported = dropped;
        if stop {
            return;
        }
    }
}

/// The process's writer, once installed (by `ocsp serve`).
static GLOBAL: OnceLock<Arc<LogWriter>> = OnceLock::new();

/// Make `w` the process's writer (the first one installed stays).
pub fn install(w: Arc<LogWriter>) -> Arc<LogWriter> {
    GLOBAL.get_or_init(|| w).clone()
}

/// The process's writer, if one is installed.
pub fn global() -> Option<&'static Arc<LogWriter>> {
    GLOBAL.get()
}

/// Flush the process's writer, if any (at shutdown).
pub fn flush_global() {
    if let Some(w) = GLOBAL.get() {
        w.flush();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ocsp-logw-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.join("access.log")
    }

    fn read(p: &std::path::Path) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }

    #[test]
    fn bounded_drops_are_counted_and_never_wait() {
        let path = tmp("bounded");
        // An hour between flushes (capped at 1 s) and room for 10 lines of 10 bytes.
        let w = LogWriter::new(
            Destination::File(path.clone()),
            100,
            Duration::from_secs(3600),
        )
        .unwrap();
        // Hold the output so the flusher cannot empty the buffer while we fill it.
        let out = lock(&w.shared.out);
        let t = Instant::now();
        let kept = (0..1000)
            .filter(|i| w.push(format!("line {i:04}\n").as_bytes()))
            .count();
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(kept, 10);
        assert_eq!(w.dropped(), 990);
        drop(out);
        w.flush();
        let text = read(&path);
        assert_eq!(text.lines().count(), 10, "{text}");
        assert!(text.starts_with("line 0000\nline 0001\n"), "{text}");
        assert_eq!(w.written(), 10);
        // Room again after the flush.
        assert!(w.push(b"line 9999\n"));
    }

    #[test]
    fn a_line_larger_than_the_buffer_is_dropped_whole() {
        let path = tmp("large");
        let w = LogWriter::new(Destination::File(path.clone()), 16, DEFAULT_INTERVAL).unwrap();
        assert!(!w.push(&[b'x'; 17]));
        assert!(w.push(b"short\n"));
        w.flush();
        assert_eq!(read(&path), "short\n");
        assert_eq!(w.dropped(), 1);
    }

    #[test]
    fn flushed_within_the_interval_without_being_asked() {
        let path = tmp("interval");
        let w = LogWriter::new(
            Destination::File(path.clone()),
            0,
            Duration::from_millis(100),
        )
        .unwrap();
        let t = Instant::now();
        w.push(b"one\n");
        while read(&path).is_empty() {
            assert!(
                t.elapsed() < Duration::from_secs(3),
                "not flushed after {:?}",
                t.elapsed()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(read(&path), "one\n");
        // An interval above a second is capped at one.
        let slow = tmp("interval-cap");
        let w =
            LogWriter::new(Destination::File(slow.clone()), 0, Duration::from_secs(60)).unwrap();
        let t = Instant::now();
        w.push(b"two\n");
        while read(&slow).is_empty() {
            assert!(
                t.elapsed() < Duration::from_secs(3),
                "not flushed within a second"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn half_full_wakes_the_flusher_early() {
        let path = tmp("half");
        let w = LogWriter::new(
            Destination::File(path.clone()),
            1000,
            Duration::from_secs(1),
        )
        .unwrap();
        // Let the flusher settle into its wait, then cross half the buffer.
        std::thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        for _ in 0..6 {
            w.push(&[b'y'; 99]);
            w.push(b"\n");
        }
        while read(&path).len() < 600 {
            assert!(t.elapsed() < Duration::from_secs(3));
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            t.elapsed() < Duration::from_millis(900),
            "half-full buffer waited for the interval: {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn push_soon_is_written_without_waiting_for_the_interval() {
        let path = tmp("soon");
        let w = LogWriter::new(Destination::File(path.clone()), 0, Duration::from_secs(1)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        w.push(b"batched\n");
        w.push_soon(b"soon\n");
        while read(&path).is_empty() {
            assert!(t.elapsed() < Duration::from_secs(3));
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            t.elapsed() < Duration::from_millis(900),
            "waited for the interval: {:?}",
            t.elapsed()
        );
        // In order, the batched line with it.
        assert_eq!(read(&path), "batched\nsoon\n");
    }

    #[test]
    fn reopen_follows_a_logrotate_rename() {
        let path = tmp("rotate");
        let w = LogWriter::new(Destination::File(path.clone()), 0, DEFAULT_INTERVAL).unwrap();
        w.push(b"before\n");
        w.flush();
        let rotated = path.with_extension("log.1");
        std::fs::rename(&path, &rotated).unwrap();
        // Without a reopen, lines follow the open file under its new name.
        w.push(b"renamed\n");
        w.flush();
        assert_eq!(read(&rotated), "before\nrenamed\n");
        assert!(!path.exists());
        w.reopen();
        w.push(b"after\n");
        w.flush();
        assert_eq!(read(&path), "after\n");
        assert_eq!(read(&rotated), "before\nrenamed\n");
    }

    #[test]
    fn stop_writes_everything_pushed_and_later_lines_are_counted() {
        let path = tmp("stop");
        let w = LogWriter::new(Destination::File(path.clone()), 0, Duration::from_secs(1)).unwrap();
        for i in 0..5000 {
            assert!(w.push(format!("{i}\n").as_bytes()));
        }
        w.stop();
        assert_eq!(read(&path).lines().count(), 5000);
        assert!(!w.push(b"late\n"));
        assert_eq!(w.dropped(), 1);
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_named() {
        let e = LogWriter::new(
            Destination::File("/nonexistent-dir/ocsp/access.log".into()),
            0,
            DEFAULT_INTERVAL,
        )
        .unwrap_err();
        assert!(e.contains("/nonexistent-dir/ocsp/access.log"), "{e}");
        assert!(e.contains("[log] file"), "{e}");
    }
}
