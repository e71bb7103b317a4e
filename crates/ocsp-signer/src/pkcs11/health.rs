//! The signer's health: ready, broken (the recovery ladder ran out), PIN refused, or a call
//! into the module hanging. It decides whether a signature request may call into the token
//! at all ([`Health::admit`]):
//!
//! - **Ready**: every request calls in.
//! - **Broken** (since the ladder last ran out, with the `CKR_…` that ended it): requests fail
//!   at once with that reason, except one every `retry_interval`, which walks the ladder again
//!   (a probe). A probe that signs makes the signer ready again: recovery needs no restart.
//!   The readiness check's test signature is such a request, so `/readyz` names the reason
//!   and turns ready by itself.
//! - **PIN refused**: no request calls in again, ever: a token locks its user PIN after a
//!   few wrong ones, and a loop of logins would lock it. Logged once; the fix is a new PIN
//!   and a restart (or a reload that loads the key again).
//! - **A call hanging**: each call into the module is registered while it runs; when one has
//!   run longer than `call_timeout`, requests fail at once ("a call into the token has not
//!   returned for N s") instead of piling more signing threads into the stuck module. The
//!   stuck thread is left alone (a thread blocked in C cannot be cancelled); when its call
//!   returns, the signer is admitted again.
//!
//! Transitions are logged once each (`tracing`, target `ocsp::pkcs11`), not per request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// See the module documentation.
#[derive(Debug)]
pub struct Health {
    name: String,
    state: Mutex<State>,
    calls: Mutex<HashMap<u64, Instant>>,
    next_call: AtomicU64,
    retry: Duration,
    call_timeout: Duration,
}

#[derive(Debug, Default)]
struct State {
    broken: Option<Broken>,
    pin_refused: Option<String>,
    hang_logged: bool,
}

#[derive(Debug)]
struct Broken {
    /// What broke it (kept while probes fail for other reasons).
    reason: String,
    /// What the last probe met, when it differs.
    last: Option<String>,
    next_try: Instant,
}

impl Broken {
    fn message(&self) -> String {
        match &self.last {
            Some(l) => format!("{}; last try: {l}", self.reason),
            None => self.reason.clone(),
        }
    }
}

/// A call into the module, registered until dropped.
#[derive(Debug)]
pub struct Call<'a> {
    health: &'a Health,
    id: u64,
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        self.health
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl Health {
    /// A ready signer named `name` (the redacted URI) in logs.
    pub fn new(name: String, retry: Duration, call_timeout: Duration) -> Health {
        Health {
            name,
            state: Mutex::new(State::default()),
            calls: Mutex::new(HashMap::new()),
            next_call: AtomicU64::new(0),
            retry,
            call_timeout,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this request may call into the token; the reason when not.
    pub fn admit(&self) -> Result<(), String> {
        let now = Instant::now();
        let oldest = self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .min()
            .copied();
        let mut s = self.state();
        if let Some(pin) = &s.pin_refused {
            return Err(pin.clone());
        }
        if let Some(started) = oldest {
            let running = now.saturating_duration_since(started);
            if running >= self.call_timeout {
                let msg = format!(
                    "a call into the token has not returned for {} s (limit {} s): the token \
                     or its connection hangs; signing resumes when the call returns",
                    running.as_secs(),
                    self.call_timeout.as_secs()
                );
                if !s.hang_logged {
                    s.hang_logged = true;
                    tracing::error!(target: "ocsp::pkcs11", key = %self.name, "{msg}");
                }
                return Err(msg);
            }
        }
        if s.hang_logged
            && oldest.is_none_or(|t| now.saturating_duration_since(t) < self.call_timeout)
        {
            s.hang_logged = false;
            tracing::info!(target: "ocsp::pkcs11", key = %self.name, "the hanging call into the token returned");
        }
        match &mut s.broken {
            Some(b) if now < b.next_try => Err(b.message()),
            Some(b) => {
                // This request is the probe; the others keep failing fast meanwhile.
                b.next_try = now + self.retry;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Register a call into the module until the returned guard drops.
    pub fn call(&self) -> Call<'_> {
        let id = self.next_call.fetch_add(1, Ordering::Relaxed);
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Instant::now());
        Call { health: self, id }
    }

    /// Calls into the module running now.
    pub fn calls_running(&self) -> usize {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The ladder ran out: broken for `reason` until a probe succeeds. Returns the message
    /// to give (the first reason, and this one when it differs).
    pub fn broken(&self, reason: String) -> String {
        let mut s = self.state();
        let next_try = Instant::now() + self.retry;
        match &mut s.broken {
            Some(b) => {
                b.last = (b.reason != reason).then_some(reason);
                b.next_try = next_try;
                b.message()
            }
            None => {
                tracing::error!(target: "ocsp::pkcs11", key = %self.name,
                    "the signer is not ready: {reason}; retrying every {} s",
                    self.retry.as_secs_f32());
                s.broken = Some(Broken {
                    reason: reason.clone(),
                    last: None,
                    next_try,
                });
                reason
            }
        }
    }

    /// The token refused the PIN: never log in again.
    pub fn pin_refused(&self, reason: String) {
        let mut s = self.state();
        if s.pin_refused.is_none() {
            tracing::error!(target: "ocsp::pkcs11", key = %self.name, "{reason}");
            s.pin_refused = Some(reason);
        }
    }

    /// A signature was made: ready (again).
    pub fn succeeded(&self) {
        let mut s = self.state();
        if let Some(b) = s.broken.take() {
            tracing::info!(target: "ocsp::pkcs11", key = %self.name,
                "the signer recovered (it was not ready: {})", b.reason);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn broken_admits_one_probe_per_interval() {
        let h = Health::new(
            "k".into(),
            Duration::from_secs(3600),
            Duration::from_secs(10),
        );
        assert!(h.admit().is_ok());
        h.broken("C_Sign: CKR_DEVICE_REMOVED".into());
        assert_eq!(h.admit().unwrap_err(), "C_Sign: CKR_DEVICE_REMOVED");
        h.succeeded();
        assert!(h.admit().is_ok());
        h.pin_refused("CKR_PIN_INCORRECT".into());
        h.succeeded();
        assert!(h.admit().is_err());
    }

    #[test]
    fn a_hanging_call_stops_admission_until_it_returns() {
        let h = Health::new("k".into(), Duration::from_secs(1), Duration::from_millis(0));
        let call = h.call();
        assert!(h.admit().unwrap_err().contains("has not returned"));
        drop(call);
        assert!(h.admit().is_ok());
    }
}
