//! The responder's clock: the one seam is [`ocsp_status::clock`] (a [`Clock`] trait
//! handed to every part that needs the time); [`now`] reads the wall clock for the few
//! places that have not been handed one yet.

pub use ocsp_status::clock::{system, Clock, SharedClock, SystemClock};

use ocsp_proto::Timestamp;

/// Now, by the wall clock, in whole seconds since the epoch.
pub fn now() -> Timestamp {
    SystemClock.now()
}
