//! Sampling of error and warning logs: when the same kind of failure storms (a backend
//! down, a broken signer answering every request with an error), the first `burst` lines
//! of each window are logged, the rest counted; the next logged line says how many were
//! suppressed (and `ocsp_log_lines_suppressed_total` counts them).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Admits at most `burst` events per `window`.
#[derive(Debug)]
pub struct Sampler {
    kind: &'static str,
    burst: u32,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    window_start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl Sampler {
    /// A sampler for events of `kind` (the metric label): `burst` per `window` (a burst of 0
    /// logs nothing; a zero window never suppresses).
    pub fn new(kind: &'static str, burst: u32, window: Duration) -> Sampler {
        Sampler {
            kind,
            burst,
            window,
            state: Mutex::new(State {
                window_start: None,
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    /// Whether to log this event now. `Some(n)`: log it, and say `n` similar lines were
    /// suppressed since the last one logged. `None`: suppressed (counted).
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Option<u64> {
        if self.window.is_zero() {
            return Some(0);
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let expired = st
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= self.window);
        if expired {
            st.window_start = Some(now);
            st.logged = 0;
        }
        if st.logged < self.burst {
            st.logged += 1;
            let n = st.suppressed;
            st.suppressed = 0;
            Some(n)
        } else {
            st.suppressed += 1;
            drop(st);
            crate::metrics::log_suppressed(self.kind);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_suppresses_then_reports() {
        let s = Sampler::new("test", 2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(s.admit_at(t0), Some(0));
        assert_eq!(s.admit_at(t0), Some(0));
        for _ in 0..5 {
            assert_eq!(s.admit_at(t0 + Duration::from_secs(1)), None);
        }
        assert_eq!(s.admit_at(t0 + Duration::from_secs(11)), Some(5));
        assert_eq!(s.admit_at(t0 + Duration::from_secs(12)), Some(0));
        assert_eq!(s.admit_at(t0 + Duration::from_secs(12)), None);
    }

    #[test]
    fn zero_window_never_suppresses() {
        let s = Sampler::new("test", 0, Duration::ZERO);
        for _ in 0..100 {
            assert_eq!(s.admit(), Some(0));
        }
    }
}
