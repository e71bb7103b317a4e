//! The one place the responder reads the wall clock, and the seam to replace it.
//!
//! Parts that need the time take a [`Clock`] (as rustls takes a `TimeProvider`): the
//! HTTP edge (`max-age`, the HTTP/1.1 `Date` header) reads it once per request. The
//! process runs on [`SystemClock`]; a test hands in a clock of its own to see what the
//! edge says at a given second.

use ocsp_proto::Timestamp;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the time comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in whole seconds since the epoch.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        now()
    }
}

/// The system clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// Now, in whole seconds since the epoch (the system clock).
pub fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}
