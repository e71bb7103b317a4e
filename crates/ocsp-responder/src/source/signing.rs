//! Signing off the I/O path: a fixed pool of signing threads fed by two bounded queues.
//!
//! A signature (RSA-2048 ≈ 250 µs) would stall an async worker and every connection on
//! it, so signing jobs run on their own threads, as many as the machine has cores by
//! default. Each job waits in one of two queues, each bounded by `queue_depth`:
//!
//! - [`Priority::Cacheable`]: answers that go into the response cache (misses and
//!   background re-signs). One signature serves many requests, so they go first.
//! - [`Priority::Live`]: answers to requests with a nonce, signed for one client.
//!
//! A full queue refuses the job at once with [`SourceError::Overloaded`] (the HTTP edge
//! answers `tryLater` with `Retry-After`), so latency stays bounded by
//! `queue_depth / signatures per second` instead of growing with the load. Cache hits
//! never enter the pool: a nonce flood fills the `Live` queue, is refused beyond it, and
//! leaves hits and cache misses untouched. A job whose requester has gone (request
//! deadline passed, client hung up) is skipped when its turn comes.
//!
//! The queue lock is shared by the submitting tasks and the signing threads only; it is
//! held for a push or a pop, never while signing.
//!
//! Answers are handed back in small batches while a flood lasts: a signing thread that
//! finds more work waiting after a job keeps the finished answer (up to
//! [`HAND_BACK_BATCH`], `[signing] batch`) and hands them all back together when it stops or the batch is
//! full, so the I/O threads are woken once per batch instead of once per answer (each
//! such wake preempts a signing thread on a machine with as many signing threads as
//! cores). When nothing else waits, an answer is handed back at once: batching adds
//! latency only to requests that were queued anyway.

use super::SourceError;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// Which queue a signing job waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// An answer that will be cached and served to many clients: served first.
    Cacheable,
    /// An answer for one client (a nonce): served when no cacheable work waits.
    Live,
}

/// Counters of a [`SigningPool`], for metrics. Plain atomics; read with the getters.
#[derive(Debug, Default)]
pub struct SigningStats {
    signed: AtomicU64,
    rejected: AtomicU64,
    abandoned: AtomicU64,
    panicked: AtomicU64,
    queued: AtomicUsize,
}

impl SigningStats {
    /// Jobs run to completion.
    pub fn signed(&self) -> u64 {
        self.signed.load(Ordering::Relaxed)
    }
    /// Jobs refused because their queue was full (answered `tryLater`).
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
    /// Jobs skipped because nobody waited for them any more.
    pub fn abandoned(&self) -> u64 {
        self.abandoned.load(Ordering::Relaxed)
    }
    /// Jobs that panicked (answered `internalError`; the thread survives).
    pub fn panicked(&self) -> u64 {
        self.panicked.load(Ordering::Relaxed)
    }
    /// Jobs waiting now, both queues.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// A queued job: runs the work, returns how to hand its result back (nothing if the
/// requester was gone or the job panicked).
type Job = Box<dyn FnOnce() -> Option<HandBack> + Send + 'static>;

/// Hands one finished answer back to its requester (wakes its task).
type HandBack = Box<dyn FnOnce() + Send + 'static>;

/// Default of the most finished answers a signing thread holds before handing them back
/// together ([`SigningPool::set_hand_back_batch`]).
pub const HAND_BACK_BATCH: usize = 4;

#[derive(Default)]
struct Queues {
    cacheable: VecDeque<Job>,
    live: VecDeque<Job>,
    shutdown: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
    queue_depth: usize,
    batch: AtomicUsize,
    stats: Arc<SigningStats>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        // A poisoned lock only means a thread panicked between push and pop; the queues
        // themselves are always consistent.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A fixed set of signing threads with two bounded queues.
pub struct SigningPool {
    shared: Arc<Shared>,
    threads: usize,
}

impl std::fmt::Debug for SigningPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningPool")
            .field("threads", &self.threads)
            .field("queue_depth", &self.shared.queue_depth)
            .finish()
    }
}

/// The number of cores, the default number of signing threads.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Default bound of each queue.
pub const DEFAULT_QUEUE_DEPTH: usize = 256;

impl SigningPool {
    /// Start `threads` signing threads (0: one per core), each queue bounded by
    /// `queue_depth` jobs (0: [`DEFAULT_QUEUE_DEPTH`]).
    pub fn new(threads: usize, queue_depth: usize) -> std::io::Result<Arc<SigningPool>> {
        SigningPool::with_nice(threads, queue_depth, 0)
    }

    /// As [`SigningPool::new`], the signing threads running at nice value `nice` (0: as
    /// the process). A negative value makes signatures win the cores over connections:
    /// more nonce answers per second, fewer cache hits while nonces flood in (see
    /// docs/benchmarks.md). It needs CAP_SYS_NICE or a `LimitNICE=` allowing it; if
    /// refused, the threads run at the process's priority and a warning says why.
    pub fn with_nice(
        threads: usize,
        queue_depth: usize,
        nice: i32,
    ) -> std::io::Result<Arc<SigningPool>> {
        let threads = if threads == 0 {
            default_threads()
        } else {
            threads
        };
        let queue_depth = if queue_depth == 0 {
            DEFAULT_QUEUE_DEPTH
        } else {
            queue_depth
        };
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
            queue_depth,
            batch: AtomicUsize::new(HAND_BACK_BATCH),
            stats: Arc::new(SigningStats::default()),
        });
        for i in 0..threads {
            let s = shared.clone();
            std::thread::Builder::new()
                .name(format!("ocsp-sign-{i}"))
                .spawn(move || {
                    if nice != 0 {
                        set_thread_nice(nice, i == 0);
                    }
                    worker(&s)
                })?;
        }
        Ok(Arc::new(SigningPool { shared, threads }))
    }

    /// A pool with the defaults: one thread per core, [`DEFAULT_QUEUE_DEPTH`].
    pub fn with_defaults() -> std::io::Result<Arc<SigningPool>> {
        SigningPool::new(0, 0)
    }

    /// The number of signing threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The bound of each queue.
    pub fn queue_depth(&self) -> usize {
        self.shared.queue_depth
    }

    /// Hold at most `n` finished answers while more jobs wait, and hand them back
    /// together (1: each at once; 0: [`HAND_BACK_BATCH`]).
    pub fn set_hand_back_batch(&self, n: usize) {
        let n = if n == 0 { HAND_BACK_BATCH } else { n };
        self.shared.batch.store(n, Ordering::Relaxed);
    }

    /// The pool's counters.
    pub fn stats(&self) -> &Arc<SigningStats> {
        &self.shared.stats
    }

    /// Run `job` on a signing thread and wait for its result. Refused at once with
    /// [`SourceError::Overloaded`] when the queue of `priority` is full.
    pub async fn run<T, F>(&self, priority: Priority, job: F) -> Result<T, SourceError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let rx = self.submit(priority, job)?;
        rx.await.map_err(|_| {
            SourceError::Internal("signing job failed (panicked or pool stopped)".into())
        })
    }

    /// Queue `job`; its result arrives on the returned channel (closed without a value
    /// if the job panicked or the pool stopped).
    pub fn submit<T, F>(
        &self,
        priority: Priority,
        job: F,
    ) -> Result<oneshot::Receiver<T>, SourceError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let stats = self.shared.stats.clone();
        let wrapped: Job = Box::new(move || {
            if tx.is_closed() {
                stats.abandoned.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)) {
                Ok(v) => {
                    stats.signed.fetch_add(1, Ordering::Relaxed);
                    Some(Box::new(move || {
                        let _ = tx.send(v);
                    }) as HandBack)
                }
                Err(_) => {
                    stats.panicked.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("a signing job panicked");
                    None
                }
            }
        });
        {
            let mut q = self.shared.lock();
            if q.shutdown {
                return Err(SourceError::Unavailable("signing pool stopped".into()));
            }
            let queue = match priority {
                Priority::Cacheable => &mut q.cacheable,
                Priority::Live => &mut q.live,
            };
            if queue.len() >= self.shared.queue_depth {
                drop(q);
                self.shared.stats.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(SourceError::Overloaded);
            }
            queue.push_back(wrapped);
            self.shared.stats.queued.fetch_add(1, Ordering::Relaxed);
        }
        self.shared.ready.notify_one();
        Ok(rx)
    }
}

impl Drop for SigningPool {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.ready.notify_all();
    }
}

/// Give the calling thread nice value `nice` (on Linux, priorities are per thread).
fn set_thread_nice(nice: i32, report: bool) {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
        if report {
            tracing::warn!(
                nice,
                error = %e,
                "cannot set the signing threads' priority; they run at the process's. \
                 Allow it with CAP_SYS_NICE or LimitNICE={nice} (systemd), or set \
                 [signing] nice = 0"
            );
        }
    }
}

fn worker(shared: &Shared) {
    let mut finished: Vec<HandBack> = Vec::with_capacity(HAND_BACK_BATCH);
    loop {
        let job = {
            let mut q = shared.lock();
            loop {
                if let Some(j) = q.cacheable.pop_front().or_else(|| q.live.pop_front()) {
                    shared.stats.queued.fetch_sub(1, Ordering::Relaxed);
                    break j;
                }
                // Nothing waits: hand back what is held before sleeping.
                if !finished.is_empty() {
                    drop(q);
                    finished.drain(..).for_each(|h| h());
                    q = shared.lock();
                    continue;
                }
                if q.shutdown {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        if let Some(h) = job() {
            finished.push(h);
        }
        if finished.len() >= shared.batch.load(Ordering::Relaxed) || shared.stats.queued() == 0 {
            finished.drain(..).for_each(|h| h());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A gate the test opens to let blocked jobs finish.
    fn gate() -> (Arc<(Mutex<bool>, Condvar)>, impl Fn()) {
        let g = Arc::new((Mutex::new(false), Condvar::new()));
        let g2 = g.clone();
        let open = move || {
            *g2.0.lock().unwrap() = true;
            g2.1.notify_all();
        };
        (g, open)
    }

    fn wait_gate(g: &(Mutex<bool>, Condvar)) {
        let mut open = g.0.lock().unwrap();
        while !*open {
            open = g.1.wait(open).unwrap();
        }
    }

    /// The nice value of the thread that runs `pool`'s jobs.
    async fn nice_of(pool: &SigningPool) -> i32 {
        pool.run(Priority::Live, || {
            rustix::process::getpriority_process(Some(rustix::thread::gettid()))
        })
        .await
        .unwrap()
        .unwrap()
    }

    #[tokio::test]
    async fn signing_threads_take_their_nice_value() {
        // Raising the value (lower priority) needs no privilege.
        let pool = SigningPool::with_nice(1, 4, 7).unwrap();
        assert_eq!(nice_of(&pool).await, 7);
        let plain = SigningPool::new(1, 4).unwrap();
        let own = rustix::process::getpriority_process(None).unwrap();
        assert_eq!(nice_of(&plain).await, own);
    }

    #[tokio::test]
    async fn runs_jobs_and_counts() {
        let pool = SigningPool::new(2, 4).unwrap();
        assert_eq!(pool.threads(), 2);
        let v = pool.run(Priority::Live, || 21 * 2).await.unwrap();
        assert_eq!(v, 42);
        let names = pool
            .run(Priority::Cacheable, || {
                std::thread::current().name().map(str::to_string)
            })
            .await
            .unwrap();
        assert!(names.unwrap().starts_with("ocsp-sign-"));
        assert_eq!(pool.stats().signed(), 2);
        assert_eq!(pool.stats().queued(), 0);
    }

    #[tokio::test]
    async fn full_queue_is_overloaded_per_priority() {
        let pool = SigningPool::new(1, 2).unwrap();
        let (g, open) = gate();
        let (started_tx, started_rx) = mpsc::channel();
        // Occupy the only thread.
        let g1 = g.clone();
        let busy = pool
            .submit(Priority::Live, move || {
                started_tx.send(()).unwrap();
                wait_gate(&g1);
                1
            })
            .unwrap();
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // Fill the live queue.
        let a = pool.submit(Priority::Live, || 2).unwrap();
        let b = pool.submit(Priority::Live, || 3).unwrap();
        assert!(matches!(
            pool.submit(Priority::Live, || 4),
            Err(SourceError::Overloaded)
        ));
        assert_eq!(pool.stats().rejected(), 1);
        // The cacheable queue is separate: a nonce flood does not block cache misses.
        let c = pool.submit(Priority::Cacheable, || 5).unwrap();
        assert_eq!(pool.stats().queued(), 3);
        open();
        assert_eq!(busy.await.unwrap(), 1);
        assert_eq!(c.await.unwrap(), 5);
        assert_eq!(a.await.unwrap(), 2);
        assert_eq!(b.await.unwrap(), 3);
    }

    #[tokio::test]
    async fn cacheable_jobs_go_first() {
        let pool = SigningPool::new(1, 8).unwrap();
        let (g, open) = gate();
        let (started_tx, started_rx) = mpsc::channel();
        let g1 = g.clone();
        let _busy = pool
            .submit(Priority::Live, move || {
                started_tx.send(()).unwrap();
                wait_gate(&g1);
            })
            .unwrap();
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut rxs = Vec::new();
        for (p, tag) in [
            (Priority::Live, "live1"),
            (Priority::Cacheable, "cache1"),
            (Priority::Live, "live2"),
            (Priority::Cacheable, "cache2"),
        ] {
            let o = order.clone();
            rxs.push(pool.submit(p, move || o.lock().unwrap().push(tag)).unwrap());
        }
        open();
        for r in rxs {
            r.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            vec!["cache1", "cache2", "live1", "live2"]
        );
    }

    #[tokio::test]
    async fn answers_are_held_while_more_wait_and_handed_back_together() {
        let pool = SigningPool::new(1, 8).unwrap();
        pool.set_hand_back_batch(2);
        let (g1, open1) = gate();
        let (g2, open2) = gate();
        let (started_tx, started_rx) = mpsc::channel();
        let s2 = started_tx.clone();
        let mut a = pool
            .submit(Priority::Live, move || {
                started_tx.send(()).unwrap();
                wait_gate(&g1);
                "a"
            })
            .unwrap();
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let b = pool
            .submit(Priority::Live, move || {
                s2.send(()).unwrap();
                wait_gate(&g2);
                "b"
            })
            .unwrap();
        // A finishes while B waits: A is held, not handed back, while B runs.
        open1();
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(matches!(
            a.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty)
        ));
        open2();
        assert_eq!(a.await.unwrap(), "a");
        assert_eq!(b.await.unwrap(), "b");
        // Alone, an answer comes back at once (nothing waits behind it).
        assert_eq!(pool.run(Priority::Live, || 1).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn abandoned_jobs_are_skipped_and_panics_contained() {
        let pool = SigningPool::new(1, 8).unwrap();
        let (g, open) = gate();
        let (started_tx, started_rx) = mpsc::channel();
        let g1 = g.clone();
        let busy = pool
            .submit(Priority::Live, move || {
                started_tx.send(()).unwrap();
                wait_gate(&g1);
            })
            .unwrap();
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let ran = Arc::new(AtomicU64::new(0));
        let r2 = ran.clone();
        let gone = pool
            .submit(Priority::Live, move || {
                r2.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        drop(gone);
        open();
        busy.await.unwrap();
        let r = pool.run(Priority::Live, || -> u32 { panic!("boom") }).await;
        assert!(matches!(r, Err(SourceError::Internal(_))));
        // The thread survived the panic.
        assert_eq!(pool.run(Priority::Live, || 7).await.unwrap(), 7);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        assert_eq!(pool.stats().abandoned(), 1);
        assert_eq!(pool.stats().panicked(), 1);
    }
}
