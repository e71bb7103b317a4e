//! [`Pkcs11Signer`]: a key that signs inside a token, each signature checked, faults climbed
//! down the recovery ladder.
//!
//! One signature:
//!
//! 1. [`Health::admit`](super::health::Health::admit): not when the PIN was refused, a call
//!    hangs, or the signer is broken and this is not the probe's turn;
//! 2. a session from [`Sessions`] (idle, new, or waited for);
//! 3. `C_Sign` with the chosen [`Plan`] (hash, DigestInfo, `r ‖ s` → DER around it);
//! 4. the signature verified with aws-lc-rs against the key's SubjectPublicKeyInfo, which the
//!    responder has compared with the certificate byte for byte: a wrong key or a faulty
//!    device never produces an answer that does not verify.
//!
//! The ladder, on a token error (classes in `fault.rs`), each rung once per signature:
//!
//! | rung | on | does |
//! |---|---|---|
//! | 1 | a session fault | closes the session, opens another (finds the key again) |
//! | 2 | `CKR_USER_NOT_LOGGED_IN` | logs in again |
//! | 3 | a device fault, or rungs 1–2 did not help | `reinit = "finalize"`: `C_Finalize` + `C_Initialize` (only when no other call is running in the module); `"never"`: closes every idle session and finds the token again |
//! | — | still failing | broken: the `CKR_…` is the reason `/readyz` and every refused request give |
//!
//! A refused PIN ends the ladder at once and for good (see `health.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cryptoki::mechanism::MechanismType;
use ocsp_proto::sigalg;
use ocsp_proto::signer::{SignError, Signer};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::fault::{self, Fault};
use super::health::Health;
use super::mechanism::{self, Plan};
use super::module::{self, Module};
use super::public_key::KeyKind;
use super::sessions::{Failure, Held, Sessions};
use super::token;
use super::uri::Pkcs11Uri;
use super::{pin, resolve_module};
use crate::passin::Passin;
use crate::{KeyError, KeyErrorKind, Pkcs11Settings, Prompt, Reinit, SignOptions};

/// The most sessions when neither the token nor `[pkcs11] max_sessions` gives a limit.
pub const DEFAULT_MAX_SESSIONS: usize = 64;

/// A private key in a PKCS#11 token. `Send + Sync`: signing threads share it, each with a
/// session of its own at a time.
pub struct Pkcs11Signer {
    name: String,
    module: Arc<Module>,
    sessions: Sessions,
    plan: Plan,
    algorithm: AlgorithmIdentifierOwned,
    spki_der: Vec<u8>,
    spki: SubjectPublicKeyInfoOwned,
    description: String,
    health: Health,
    reinit: Reinit,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("key", &self.description)
            .finish_non_exhaustive()
    }
}

/// What went wrong with one signature, before it becomes a [`SignError`].
enum Outcome {
    /// The ladder ran out, or the device is gone: the signer is broken.
    Broken(String),
    /// The PIN was refused.
    Pin(String),
    /// This signature failed; the signer may be fine.
    Failed(String),
}

impl Pkcs11Signer {
    /// Open the key `uri` names: the module, the token, the login, the key, its public half,
    /// the mechanism, and one test signature that must verify. Errors name the URI
    /// (`pin-value` redacted) and say what to fix.
    pub fn open(
        uri_text: &str,
        module: Option<&Path>,
        passin: Option<&Passin>,
        settings: &Pkcs11Settings,
        opts: SignOptions,
        prompt: Prompt<'_>,
    ) -> Result<Pkcs11Signer, KeyError> {
        let name = crate::redact_key_name(uri_text);
        let err = |kind: KeyErrorKind| KeyError::new(name.clone(), kind);
        let p11 = |m: String| KeyError::new(name.clone(), KeyErrorKind::Pkcs11(m));
        let uri = Pkcs11Uri::parse(uri_text).map_err(|e| p11(e.to_string()))?;
        pin::check_uri(&uri, settings.allow_pin_in_uri).map_err(err)?;
        let module_path: PathBuf = resolve_module(&uri, module).map_err(p11)?;
        let m = module::open(&module_path).map_err(p11)?;
        let entered = m.enter();
        let (ctx, _) = m
            .context()
            .ok_or_else(|| p11("the PKCS#11 module is not initialised".into()))?;
        let slot = token::find_slot_described(&ctx, &uri).map_err(|e| p11(e.message()))?;
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| p11(format!("reading the token: {}", fault::describe(&e))))?;
        if info.user_pin_locked() {
            return Err(p11(
                "the token's user PIN is locked (too many wrong PINs): unlock it with the SO \
                 PIN (for SoftHSM2: softhsm2-util; elsewhere the vendor's tool)"
                    .into(),
            ));
        }
        let token_cap = match info.max_session_count() {
            cryptoki::slot::Limit::Max(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => DEFAULT_MAX_SESSIONS,
        };
        let cap = settings
            .max_sessions
            .map_or(token_cap, |n| n.min(token_cap))
            .max(1);
        let pin = if info.login_required() {
            pin::read(&uri, passin, Path::new(&name), prompt).map_err(err)?
        } else {
            None
        };
        let available: Vec<MechanismType> = ctx.get_mechanism_list(slot).map_err(|e| {
            p11(format!(
                "reading the token's mechanisms: {}",
                fault::describe(&e)
            ))
        })?;
        drop(entered);
        let sessions = Sessions::new(m.clone(), uri.clone(), pin, cap, settings.session_wait);
        let held = sessions.take().map_err(|f| p11(start_failure(f)))?;
        let entered = m.enter();
        let facts = token::key_facts(&held.session, held.key).map_err(&p11);
        drop(entered);
        let facts = match facts {
            Ok(f) => f,
            Err(e) => {
                sessions.give_back(held);
                return Err(e);
            }
        };
        sessions.give_back(held);
        let plan = mechanism::choose(facts.kind, opts, &available).map_err(&p11)?;
        let algorithm = mechanism::algorithm(facts.kind, opts).map_err(&p11)?;
        use der::Decode;
        let spki = SubjectPublicKeyInfoOwned::from_der(&facts.spki_der)
            .map_err(|e| p11(format!("the token's public key does not parse: {e}")))?;
        let kind = match facts.kind {
            KeyKind::Rsa(bits) => format!("RSA-{bits}"),
            KeyKind::P256 => "ECDSA P-256".into(),
            KeyKind::P384 => "ECDSA P-384".into(),
            KeyKind::Ed25519 => "Ed25519".into(),
        };
        let alg_name = match facts.kind {
            KeyKind::Ed25519 => String::new(),
            _ => format!(" {}", sigalg::algorithm_name(&algorithm)),
        };
        let description = format!(
            "{kind}{alg_name} in {} (token `{}`, {}, at most {cap} sessions)",
            name,
            info.label().trim_end(),
            plan.mechanism
        );
        let signer = Pkcs11Signer {
            health: Health::new(name.clone(), settings.retry_interval, settings.call_timeout),
            name: name.clone(),
            module: m,
            sessions,
            plan,
            algorithm,
            spki_der: facts.spki_der,
            spki,
            description,
            reinit: settings.reinit,
        };
        signer
            .sign(b"ocsp: the test signature made when a token key is opened")
            .map_err(|e| p11(format!("the test signature failed: {}", e.0)))?;
        Ok(signer)
    }

    /// The most sessions this key opens at once.
    pub fn max_sessions(&self) -> usize {
        self.sessions.cap()
    }

    fn sign_once(&self, held: &Held, tbs: &[u8]) -> Result<Vec<u8>, cryptoki::error::Error> {
        let _call = self.health.call();
        let _in = self.module.enter();
        held.session
            .sign(&self.plan.mechanism(), held.key, &self.plan.input(tbs))
    }

    fn ladder(&self, tbs: &[u8]) -> Result<Vec<u8>, Outcome> {
        let mut rung = 0u8;
        // The fault that started the climb: the final message names it first.
        let mut cause: Option<String> = None;
        let named = |cause: &Option<String>, why: String| match cause {
            Some(c) if *c != why => format!("{c}; then, recovering: {why}"),
            _ => why,
        };
        loop {
            // The generation these sessions belong to: a fault in it re-initialises once,
            // however many threads see it.
            let generation = self.module.generation();
            let (fault, why, held) = {
                let taken = {
                    let _call = self.health.call();
                    self.sessions.take()
                };
                match taken {
                    Ok(held) => match self.sign_once(&held, tbs) {
                        Ok(raw) => {
                            self.sessions.give_back(held);
                            return self.check(tbs, raw);
                        }
                        Err(e) => (fault::classify(&e), fault::describe(&e), Some(held)),
                    },
                    Err(Failure::Token(e)) => (fault::classify(&e), fault::describe(&e), None),
                    Err(Failure::Busy(m)) => return Err(Outcome::Failed(m)),
                    // The key vanished from under a working signer: some modules only see
                    // their token again after re-initialising.
                    Err(Failure::Setup(m)) => (Fault::Device, m, None),
                }
            };
            if cause.is_none() {
                cause = Some(why.clone());
            }
            match fault {
                Fault::Pin => {
                    if let Some(h) = held {
                        self.sessions.discard(h);
                    }
                    return Err(Outcome::Pin(format!(
                        "{why}: the token refused the PIN; it is not tried again (a token \
                         locks after a few wrong PINs): fix the PIN source and restart or \
                         reload"
                    )));
                }
                Fault::Other => {
                    if let Some(h) = held {
                        self.sessions.give_back(h);
                    }
                    return Err(Outcome::Failed(named(&cause, why)));
                }
                Fault::Session if rung < 1 => {
                    rung = 1;
                    if let Some(h) = held {
                        self.sessions.discard(h);
                    }
                }
                Fault::Login if rung < 2 => {
                    rung = 2;
                    if let Some(h) = held {
                        let relogged = {
                            let _call = self.health.call();
                            self.sessions.relogin(&h)
                        };
                        self.sessions.discard(h);
                        if let Err(Failure::Token(e)) = &relogged {
                            if fault::classify(e) == Fault::Pin {
                                return Err(Outcome::Pin(format!(
                                    "{}: the token refused the PIN on logging in again; it is \
                                     not tried again: fix the PIN source and restart or reload",
                                    fault::describe(e)
                                )));
                            }
                        }
                    }
                }
                _ if rung < 3 => {
                    rung = 3;
                    if let Some(h) = held {
                        self.sessions.discard(h);
                    }
                    match self.reinit {
                        // Only when no other call runs in the module (see module.rs);
                        // otherwise the next probe tries.
                        Reinit::Finalize => {
                            tracing::warn!(target: "ocsp::pkcs11", key = %self.name,
                                "{why}: re-initialising the PKCS#11 module {}",
                                self.module.path().display());
                            let _call = self.health.call();
                            if let Err(e) = self.module.reinitialize(generation, true) {
                                return Err(Outcome::Broken(named(&cause, e)));
                            }
                        }
                        Reinit::Never => self.sessions.reset(),
                    }
                }
                _ => {
                    if let Some(h) = held {
                        self.sessions.discard(h);
                    }
                    return Err(Outcome::Broken(named(&cause, why)));
                }
            }
        }
    }

    fn check(&self, tbs: &[u8], raw: Vec<u8>) -> Result<Vec<u8>, Outcome> {
        let sig = self.plan.output(raw).map_err(Outcome::Broken)?;
        sigalg::verify(&self.algorithm, &self.spki, tbs, &sig).map_err(|e| {
            Outcome::Broken(format!(
                "the token's signature does not verify against the key's public key ({e}): \
                 a faulty device, or a private key that does not belong to this public key"
            ))
        })?;
        Ok(sig)
    }
}

fn start_failure(f: Failure) -> String {
    match f {
        Failure::Token(e) if fault::classify(&e) == Fault::Pin => format!(
            "{}: the token refused the PIN (not tried again: a token locks after a few \
             wrong PINs): check --passin / pin-source / [pkcs11] pin",
            fault::describe(&e)
        ),
        Failure::Token(e) => fault::describe(&e),
        Failure::Busy(m) | Failure::Setup(m) => m,
    }
}

impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        self.algorithm.clone()
    }

    fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        let fail = |why: &str| SignError(format!("{}: {why}", self.name));
        self.health.admit().map_err(|why| fail(&why))?;
        match self.ladder(tbs) {
            Ok(sig) => {
                self.health.succeeded();
                Ok(sig)
            }
            Err(Outcome::Broken(why)) => Err(fail(&self.health.broken(why))),
            Err(Outcome::Pin(why)) => {
                self.health.pin_refused(why.clone());
                Err(fail(&why))
            }
            Err(Outcome::Failed(why)) => Err(fail(&why)),
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
