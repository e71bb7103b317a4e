//! Compliance limits checked before signing: validity window, algorithms.

/// The Baseline Requirements' shortest validity (nextUpdate − thisUpdate + 1 s): 8 hours.
pub const MIN_VALIDITY_SECS: u64 = 8 * 3600;
/// Microsoft's longest validity: 7 days (the CA/B Forum allows 10).
pub const MAX_VALIDITY_SECS_MICROSOFT: u64 = 7 * 86_400;
/// The CA/B Forum's longest validity: 10 days.
pub const MAX_VALIDITY_SECS_CABF: u64 = 10 * 86_400;
