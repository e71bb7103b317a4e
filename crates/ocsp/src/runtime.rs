//! The async runtime every subcommand that serves or signs runs in.

use anyhow::Context;

/// A multi-threaded runtime with one worker per core.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    runtime_with(0)
}

/// A multi-threaded runtime with `workers` workers (0: one per core).
pub fn runtime_with(workers: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        b.worker_threads(workers);
    }
    b.enable_all()
        .build()
        .context("cannot start the async runtime")
}
