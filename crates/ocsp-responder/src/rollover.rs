//! Replacing responder certificates and keys while serving: on reload (SIGHUP,
//! `systemctl reload`) and, for a next certificate configured ahead of time, at its
//! notBefore.
//!
//! # What it promises
//!
//! - **A pair is put in force only after every check a start makes.** The certificate
//!   and key are loaded by the same code as at start ([`IssuerLoader`], the key through
//!   `ocsp_signer::load`, so a file or a token key alike): the key matches the
//!   certificate; a delegated certificate is issued by the CA (by every CA that shares
//!   it), carries OCSPSigning and digitalSignature; then [`preflight_responder`] under the
//!   configuration's profile (valid, the profile's rules). A pair that fails any check
//!   is refused: the pair in force stays, the error is logged naming the file and the
//!   fix, and counted (`ocsp_responder_reload_total{result="failed"}`,
//!   `ocsp_responder_last_reload_success` 0).
//! - **Only what changed is reloaded.** A pair's fingerprint is the SHA-256 of its
//!   certificate, key and `rother` files' contents; a reload whose files are unchanged
//!   loads nothing (`result="unchanged"`) and asks no passphrase.
//! - **No prompt.** A reload cannot ask on a terminal; an encrypted key is unlocked
//!   with its configured `passin`, and one without is refused with that fix.
//! - **The swap takes no lock on the request path.** The issuer's [`ResponderSlot`] is
//!   replaced atomically; a signature under way finishes with the pair it started with,
//!   and every later one uses the new pair (see `source/live.rs`). Issuers sharing a
//!   responder share the slot and switch together.
//! - **Overlapping rollover.** With `rsigner_next` (and `rkey_next`), the next pair is
//!   loaded and checked at start and at every reload, as of its notBefore, and put in
//!   force by [`Rollover::tick`] (run every second by `ocsp serve`, by the one clock) once
//!   that time has come. The rule, applied at every tick and reload: of the configured
//!   pairs valid now, the one with the latest notBefore is in force (the main pair on a
//!   tie). Copying the next pair over the main files later changes nothing in force.
//! - **Cached answers follow.** After every swap the response cache re-signs in the
//!   background what the old pair signed ([`CachedSource::resign_superseded`]); until
//!   then those answers are served as they are (still valid), never past the old
//!   certificate's notAfter (their nextUpdate is clamped to it).
//!
//! Paths come from the configuration read at start; a reload re-reads the files they
//! name, not the configuration.

use crate::config::{Config, IssuerConfig};
use crate::health::{preflight_responder, Severity};
use crate::issuer::{file_err, IssuerError, IssuerSet, Responder, ResponderSlot};
use crate::setup::{read_one_cert, responder_key_spec, sign_options, IssuerLoader};
use crate::source::cache::CachedSource;
use ocsp_proto::profile::Profile;
use ocsp_proto::{sigalg, HashAlg, Timestamp};
use ocsp_signer::Pkcs11Settings;
use ocsp_signer::{PromptError, Secret};
use ocsp_status::SharedClock;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use x509_cert::Certificate;

/// The fix given when a reloaded key is encrypted and has no `passin`.
pub const RELOAD_PASSIN_FIX: &str = "a reload cannot ask on a terminal: give the key's passphrase with passin = \"file:…\" (or env:, fd:) in its [[issuer]] table or --passin, and reload again; the pair in force stays until then";

/// What a reload did for one responder (the issuers sharing it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// The issuers this responder signs for.
    pub issuers: Vec<String>,
    /// `ok`, `unchanged` or `failed` (the label of `ocsp_responder_reload_total`).
    pub result: &'static str,
    /// One line per refused pair: the file, what is wrong, the fix.
    pub errors: Vec<String>,
    /// Whether another pair was put in force.
    pub switched: bool,
}

/// A configured pair, loaded and checked.
struct Pair {
    fingerprint: Vec<u8>,
    responder: Arc<Responder>,
    not_before: Timestamp,
}

/// An issuer that signs with a slot.
struct Sharer {
    name: String,
    ca: Certificate,
    ca_path: PathBuf,
    validity_secs: u64,
}

/// One responder slot and what it can hold.
struct SlotState {
    slot: Arc<ResponderSlot>,
    cfg: IssuerConfig,
    sharers: Vec<Sharer>,
    main: Pair,
    next: Option<Pair>,
    /// The fingerprint of the pair in force.
    active: Vec<u8>,
}

/// The responders of a running configuration, reloadable.
pub struct Rollover {
    profile: Profile,
    clock: SharedClock,
    cache: Option<Arc<CachedSource>>,
    slots: Mutex<Vec<SlotState>>,
    /// `[pkcs11]`: how keys given as `pkcs11:` URIs are reached.
    pkcs11: Pkcs11Settings,
}

impl std::fmt::Debug for Rollover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollover")
            .field("profile", &self.profile)
            .finish()
    }
}

impl Rollover {
    /// The responders of `issuers` (built from `cfg` by [`crate::setup::build`], one per
    /// `[[issuer]]` in order), timed by `clock`. Loads and checks every configured next pair: one that fails is the
    /// error (a start refuses it, as it refuses a bad main pair). A next pair already due
    /// is put in force at once.
    pub fn new(
        cfg: &Config,
        issuers: &IssuerSet,
        clock: SharedClock,
    ) -> Result<Rollover, IssuerError> {
        if issuers.len() != cfg.issuers.len() {
            return Err(IssuerError::Invalid(format!(
                "{} issuers loaded for {} [[issuer]] tables: build them from this configuration",
                issuers.len(),
                cfg.issuers.len()
            )));
        }
        let now = clock.now();
        let pkcs11 = cfg.pkcs11.settings();
        let mut slots: Vec<SlotState> = Vec::new();
        for (issuer, ic) in issuers.iter().zip(&cfg.issuers) {
            let sharer = Sharer {
                name: issuer.name.clone(),
                ca: issuer.cert.clone(),
                ca_path: ic.ca.clone(),
                validity_secs: issuer.validity_secs,
            };
            if let Some(s) = slots
                .iter_mut()
                .find(|s| Arc::ptr_eq(&s.slot, &issuer.responder))
            {
                s.sharers.push(sharer);
                continue;
            }
            let (cert, key) = main_paths(ic);
            let fingerprint = fingerprint(ic, &cert, &key, &pkcs11);
            slots.push(SlotState {
                slot: issuer.responder.clone(),
                cfg: ic.clone(),
                sharers: vec![sharer],
                main: Pair {
                    fingerprint: fingerprint.clone(),
                    not_before: not_before(&issuer.responder.current().cert),
                    responder: issuer.responder.current(),
                },
                next: None,
                active: fingerprint,
            });
        }
        let rollover = Rollover {
            profile: cfg.profile,
            clock,
            cache: None,
            slots: Mutex::new(Vec::new()),
            pkcs11,
        };
        for s in &mut slots {
            if let Some((cert, key)) = next_paths(&s.cfg) {
                s.next = Some(rollover.load_pair(s, &cert, &key, now)?);
                warn_gap(s);
            }
        }
        for s in &mut slots {
            rollover.reconcile(s, now);
            rollover.export(s);
            for x in &s.sharers {
                crate::metrics::responder_reload_state(&x.name, true);
            }
        }
        *rollover.lock() = slots;
        Ok(rollover)
    }

    /// Re-sign the cache's superseded answers in the background after every swap.
    pub fn with_cache(mut self, cache: Option<Arc<CachedSource>>) -> Rollover {
        self.cache = cache;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SlotState>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Load again every responder pair whose files changed, check it, and put in force
    /// what the rule (module documentation) selects. Blocking (files, key decryption):
    /// call it off the async workers. Logs and counts every outcome.
    pub fn reload(&self) -> Vec<ReloadOutcome> {
        let now = self.clock.now();
        let mut slots = self.lock();
        let mut out = Vec::with_capacity(slots.len());
        let mut any_switch = false;
        for s in slots.iter_mut() {
            let mut errors = Vec::new();
            let mut changed = false;
            let (cert, key) = main_paths(&s.cfg);
            if fingerprint(&s.cfg, &cert, &key, &self.pkcs11) != s.main.fingerprint {
                match self.load_pair(s, &cert, &key, now) {
                    Ok(p) => {
                        s.main = p;
                        changed = true;
                    }
                    Err(e) => errors.push(e.to_string()),
                }
            }
            if let Some((cert, key)) = next_paths(&s.cfg) {
                let fp = fingerprint(&s.cfg, &cert, &key, &self.pkcs11);
                if s.next.as_ref().map(|p| &p.fingerprint) != Some(&fp) {
                    match self.load_pair(s, &cert, &key, now) {
                        Ok(p) => {
                            s.next = Some(p);
                            warn_gap(s);
                            changed = true;
                        }
                        Err(e) => errors.push(e.to_string()),
                    }
                }
            }
            let switched = self.reconcile(s, now);
            any_switch |= switched;
            let result = if !errors.is_empty() {
                "failed"
            } else if changed {
                "ok"
            } else {
                "unchanged"
            };
            let names: Vec<String> = s.sharers.iter().map(|x| x.name.clone()).collect();
            for n in &names {
                crate::metrics::responder_reload(n, result);
            }
            for e in &errors {
                tracing::error!(
                    issuers = %names.join(","),
                    "reload: responder certificate and key not replaced, the pair in force stays: {e}"
                );
            }
            if result == "ok" {
                tracing::info!(issuers = %names.join(","), switched, "reload: responder certificate and key loaded and checked");
            }
            self.export(s);
            out.push(ReloadOutcome {
                issuers: names,
                result,
                errors,
                switched,
            });
        }
        drop(slots);
        if any_switch {
            self.resign_in_background();
        }
        out
    }

    /// Put in force any next pair whose notBefore has come (no file is read; never waits
    /// for a reload in progress). Returns whether a pair was switched. `ocsp serve` runs
    /// it every second.
    pub fn tick(&self) -> bool {
        let now = self.clock.now();
        let mut any = false;
        // Never wait on a reload in progress (it may be decrypting a key): this runs on an
        // async worker, and the reload puts in force whatever is due when it finishes.
        let mut slots = match self.slots.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return false,
        };
        for s in slots.iter_mut() {
            if self.reconcile(s, now) {
                any = true;
                self.export(s);
            }
        }
        drop(slots);
        if any {
            self.resign_in_background();
        }
        any
    }

    /// The notAfter of the responder certificate in force for `issuer`, and the notBefore
    /// of its pending next certificate.
    pub fn status(&self, issuer: &str) -> Option<(Timestamp, Option<Timestamp>)> {
        let slots = self.lock();
        let s = slots
            .iter()
            .find(|s| s.sharers.iter().any(|x| x.name == issuer))?;
        Some((s.slot.current().not_after, pending(s)))
    }

    /// Put in force the pair the rule selects at `now`; whether it changed.
    fn reconcile(&self, s: &mut SlotState, now: Timestamp) -> bool {
        let valid = |p: &Pair| p.not_before <= now && now < p.responder.not_after;
        let mut best = valid(&s.main).then_some(&s.main);
        if let Some(n) = s.next.as_ref().filter(|n| valid(n)) {
            if best.is_none_or(|b| n.not_before > b.not_before) {
                best = Some(n);
            }
        }
        let Some(best) = best else {
            return false;
        };
        if best.fingerprint == s.active {
            return false;
        }
        s.slot.replace(best.responder.clone());
        s.active = best.fingerprint.clone();
        for x in &s.sharers {
            crate::metrics::responder_switched(&x.name);
            tracing::info!(
                issuer = %x.name,
                subject = %best.responder.cert.tbs_certificate.subject,
                serial = %best.responder.cert.tbs_certificate.serial_number,
                not_after = %best.responder.not_after,
                "responder certificate and key in force replaced; cached answers are re-signed in the background"
            );
        }
        true
    }

    fn export(&self, s: &SlotState) {
        let not_after = s.slot.current().not_after;
        for x in &s.sharers {
            crate::metrics::responder_certs(&x.name, not_after, pending(s));
        }
    }

    fn resign_in_background(&self) {
        let Some(cache) = self.cache.clone() else {
            return;
        };
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(async move {
                let r = cache.resign_superseded().await;
                tracing::info!(
                    found = r.found,
                    resigned = r.resigned,
                    skipped = r.skipped,
                    failed = r.failed,
                    "cached answers re-signed by the responder in force"
                );
            });
        }
    }

    /// Load the pair `cert`/`key` for `s` and check it as of `now` (as of its notBefore
    /// when that is later: a next pair).
    fn load_pair(
        &self,
        s: &SlotState,
        cert: &Path,
        key: &Path,
        now: Timestamp,
    ) -> Result<Pair, IssuerError> {
        let fingerprint = fingerprint(&s.cfg, cert, key, &self.pkcs11);
        let rcert = read_one_cert(cert)?;
        let not_before = not_before(&rcert);
        let at = now.max(not_before);
        let at_clock: SharedClock = Arc::new(move || at);
        let prompt = |_: &Path| -> Result<Secret, PromptError> {
            Err(PromptError::Unavailable {
                fix: RELOAD_PASSIN_FIX.into(),
            })
        };
        let mut loader = IssuerLoader::with_clock(&prompt, at_clock).pkcs11(self.pkcs11.clone());
        let first = s
            .sharers
            .first()
            .ok_or_else(|| IssuerError::Invalid("a responder without an issuer".into()))?;
        let spec = responder_key_spec(&s.cfg, key, &self.pkcs11)?;
        let opts = sign_options(&s.cfg)?;
        let responder = loader.load_responder(&s.cfg, &first.ca, cert, key, &spec, opts)?;
        for w in loader.warnings() {
            tracing::warn!("{w}");
        }
        for x in &s.sharers {
            if responder.delegated {
                sigalg::cert_issued_by(&responder.cert, &x.ca).map_err(|_| {
                    file_err(
                        cert,
                        format!(
                            "responder certificate is not issued by the CA {} (issuer {}), which shares this responder: issue it from that CA, or give that issuer its own rsigner",
                            x.ca_path.display(),
                            x.name
                        ),
                    )
                })?;
            }
            let problems: Vec<String> =
                preflight_responder(&x.name, &responder, x.validity_secs, self.profile, at)
                    .into_iter()
                    .filter(|f| f.severity == Severity::Error)
                    .map(|f| f.message)
                    .collect();
            if !problems.is_empty() {
                return Err(file_err(
                    cert,
                    format!(
                        "refused under profile {} for issuer {}: {}",
                        self.profile,
                        x.name,
                        problems.join("; ")
                    ),
                ));
            }
        }
        Ok(Pair {
            fingerprint,
            responder: Arc::new(responder),
            not_before,
        })
    }
}

/// Warn when the next pair starts after the one in force ends: no certificate would be
/// valid in between.
fn warn_gap(s: &SlotState) {
    let current = s.slot.current();
    if let Some(n) = s.next.as_ref().filter(|n| n.not_before > current.not_after) {
        for x in &s.sharers {
            tracing::warn!(
                issuer = %x.name,
                "the next responder certificate starts at {} but the one in force ends at {}: no answer can be signed in between; issue the next one with an earlier notBefore (openssl ca -startdate)",
                n.not_before,
                current.not_after
            );
        }
    }
}

/// The pending next pair's notBefore, if one is configured and not yet in force.
fn pending(s: &SlotState) -> Option<Timestamp> {
    s.next
        .as_ref()
        .filter(|n| n.fingerprint != s.active && n.not_before > s.main.not_before)
        .map(|n| n.not_before)
}

fn not_before(cert: &Certificate) -> Timestamp {
    Timestamp::from_x509(&cert.tbs_certificate.validity.not_before)
}

/// The main pair's certificate and key files (as at start: the key defaults to the
/// certificate file, the certificate to the CA's).
fn main_paths(ic: &IssuerConfig) -> (PathBuf, PathBuf) {
    let cert = ic.rsigner.clone().unwrap_or_else(|| ic.ca.clone());
    let key = ic.rkey.clone().unwrap_or_else(|| cert.clone());
    (cert, key)
}

/// The next pair's files, when configured.
fn next_paths(ic: &IssuerConfig) -> Option<(PathBuf, PathBuf)> {
    let cert = ic.rsigner_next.clone()?;
    let key = ic.rkey_next.clone().unwrap_or_else(|| cert.clone());
    Some((cert, key))
}

/// SHA-256 over the key's spec (its `Debug`, which shows no secret) and the contents of
/// the pair's certificate, key and `rother` files (an unreadable file hashes as its
/// error, so the reload that reads it reports it; a key that is no file, such as a token
/// object, is then known by its spec, and its certificate file says when it changed).
fn fingerprint(ic: &IssuerConfig, cert: &Path, key: &Path, pkcs11: &Pkcs11Settings) -> Vec<u8> {
    let spec = match responder_key_spec(ic, key, pkcs11) {
        Ok(spec) => format!("{spec:?}"),
        Err(e) => e.to_string(),
    };
    let mut all = HashAlg::Sha256.digest(spec.as_bytes());
    let files = [cert, key]
        .into_iter()
        .chain(ic.rother.iter().map(PathBuf::as_path));
    for p in files {
        let bytes = std::fs::read(p).unwrap_or_else(|e| format!("unreadable: {e}").into_bytes());
        all.extend_from_slice(&HashAlg::Sha256.digest(&bytes));
    }
    HashAlg::Sha256.digest(&all)
}
