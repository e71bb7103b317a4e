//! The one clock seam: every part of the responder that needs the time (answers'
//! thisUpdate, cache freshness, HTTP dates, reload reports) reads it through a
//! [`Clock`], so tests can set the time and nothing else reads the wall clock.
//!
//! It lives in the lowest crate that does I/O (`ocsp-proto` never reads the time; it
//! takes it as an argument), so status sources, signers and the responder share it.

use ocsp_proto::Timestamp;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the time comes from.
pub trait Clock: Send + Sync + 'static {
    /// Now, in whole seconds since the epoch.
    fn now(&self) -> Timestamp;
}

/// A clock shared by the parts of one responder.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        )
    }
}

/// Any `Fn() -> Timestamp` is a clock (tests pass closures over an atomic).
impl<F: Fn() -> Timestamp + Send + Sync + 'static> Clock for F {
    fn now(&self) -> Timestamp {
        self()
    }
}

/// The wall clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}
