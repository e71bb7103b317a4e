//! The one place the responder reads the wall clock.

use ocsp_proto::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in whole seconds since the epoch.
pub fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}
