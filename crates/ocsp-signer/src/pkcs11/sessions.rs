//! The sessions of one key: opened on demand, at most `cap` at once, each used by one
//! signing thread at a time, kept open between signatures; the login, once per token.
//!
//! - A signing thread takes an idle session, or opens one while fewer than `cap` are open,
//!   or waits up to `session_wait` for one to be given back (more signing threads than the
//!   token allows sessions is a queue, not an error; a wait that runs out is
//!   [`Failure::Busy`]). With as many sessions allowed as there are signing threads, each
//!   thread ends up with one session of its own, opened once. `cap` is `[pkcs11]
//!   max_sessions`, else the token's `ulMaxSessionCount`, else 64.
//! - Sessions are read-only and opened without close-on-drop: a session of an older module
//!   generation (see `module.rs`) is abandoned, never closed, since its handle may name a
//!   session of the new context.
//! - The key is found again in each new session (handles may be per session).
//! - Login (`C_Login` as CKU_USER) happens when the first session of a generation is opened
//!   and when the ladder asks for it; `CKR_USER_ALREADY_LOGGED_IN` counts as success (the
//!   login is the application's, shared by its sessions). Tokens without
//!   CKF_LOGIN_REQUIRED are not logged in to.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cryptoki::error::{Error, RvError};
use cryptoki::object::ObjectHandle;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::RawAuthPin;

use super::module::Module;
use super::token::{self, KeyLookup};
use super::uri::Pkcs11Uri;
use crate::passin::Secret;

/// Why no session could be had.
#[derive(Debug)]
pub enum Failure {
    /// The module said no.
    Token(Error),
    /// Every session stayed in use for `session_wait`.
    Busy(String),
    /// The token or key is not what the URI says (not found, several found).
    Setup(String),
}

/// A session in use by one thread, with the key's handle in it.
#[derive(Debug)]
pub struct Held {
    /// The session.
    pub session: Session,
    /// The key's handle in it.
    pub key: ObjectHandle,
    generation: u64,
}

/// See the module documentation.
pub struct Sessions {
    module: Arc<Module>,
    uri: Pkcs11Uri,
    pin: Option<Secret>,
    cap: usize,
    wait: Duration,
    state: Mutex<State>,
    freed: Condvar,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("module", &self.module)
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    generation: u64,
    slot: Option<Slot>,
    idle: Vec<Held>,
    open: usize,
    logged_in: bool,
}

impl Sessions {
    /// The sessions of the key `uri` names in `module`, at most `cap` open.
    pub fn new(
        module: Arc<Module>,
        uri: Pkcs11Uri,
        pin: Option<Secret>,
        cap: usize,
        wait: Duration,
    ) -> Sessions {
        Sessions {
            module,
            uri,
            pin,
            cap: cap.max(1),
            wait,
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    /// The most sessions open at once.
    pub fn cap(&self) -> usize {
        self.cap
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forget everything of an older generation.
    fn catch_up(&self, s: &mut State) -> u64 {
        let gen = self.module.generation();
        if s.generation != gen {
            s.generation = gen;
            s.idle.clear();
            s.open = 0;
            s.slot = None;
            s.logged_in = false;
        }
        gen
    }

    /// A session for this thread: idle, new, or given back within `session_wait`.
    pub fn take(&self) -> Result<Held, Failure> {
        let deadline = Instant::now() + self.wait;
        let mut s = self.lock();
        let gen = loop {
            let gen = self.catch_up(&mut s);
            if let Some(h) = s.idle.pop() {
                return Ok(h);
            }
            if s.open < self.cap {
                s.open += 1;
                break gen;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::Busy(format!(
                    "all {} sessions of the token stayed in use for {} ms (raise [pkcs11] \
                     max_sessions if the token allows more, or lower [signing] threads)",
                    self.cap,
                    self.wait.as_millis()
                )));
            }
            s = self
                .freed
                .wait_timeout(s, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        };
        let slot = s.slot;
        let logged_in = s.logged_in;
        drop(s);
        let opened = {
            let _in = self.module.enter();
            self.open_new(gen, slot, logged_in)
        };
        match opened {
            Ok(h) => Ok(h),
            Err(e) => {
                let mut s = self.lock();
                if s.generation == gen {
                    s.open = s.open.saturating_sub(1);
                }
                self.freed.notify_one();
                Err(e)
            }
        }
    }

    fn open_new(&self, gen: u64, slot: Option<Slot>, logged_in: bool) -> Result<Held, Failure> {
        let (ctx, ctx_gen) = self.module.context().ok_or(Failure::Token(Error::Pkcs11(
            RvError::CryptokiNotInitialized,
            cryptoki::context::Function::Initialize,
        )))?;
        if ctx_gen != gen {
            return Err(Failure::Token(Error::Pkcs11(
                RvError::SessionHandleInvalid,
                cryptoki::context::Function::OpenSession,
            )));
        }
        let slot = match slot {
            Some(s) => s,
            None => token::find_slot(&ctx, &self.uri).map_err(Failure::Token)?,
        };
        let session = ctx.open_ro_session_no_drop(slot).map_err(Failure::Token)?;
        if !logged_in {
            self.login(&session, slot, &ctx)?;
        }
        let key = match token::find_key(&session, &self.uri) {
            Ok(k) => k,
            Err(e) => {
                let _ = session.close();
                return Err(match e {
                    KeyLookup::Token(e) => Failure::Token(e),
                    KeyLookup::Choice(m) => Failure::Setup(m),
                });
            }
        };
        let mut s = self.lock();
        if s.generation == gen {
            s.slot = Some(slot);
            s.logged_in = true;
        }
        Ok(Held {
            session,
            key,
            generation: gen,
        })
    }

    fn login(
        &self,
        session: &Session,
        slot: Slot,
        ctx: &cryptoki::context::Pkcs11,
    ) -> Result<(), Failure> {
        let required = ctx
            .get_token_info(slot)
            .map(|i| i.login_required())
            .map_err(Failure::Token)?;
        if !required {
            return Ok(());
        }
        let Some(pin) = &self.pin else {
            return Err(Failure::Setup(
                "the token needs a PIN and none was given: add --passin file:PATH (or \
                 env:VAR, fd:N, stdin), pin-source= in the URI, or [pkcs11] pin"
                    .into(),
            ));
        };
        let raw = RawAuthPin::new(Box::new(pin.expose().to_vec()));
        match session.login_with_raw(UserType::User, &raw) {
            Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(e) => Err(Failure::Token(e)),
        }
    }

    /// Log in again on `held`'s session (the ladder's second rung).
    pub fn relogin(&self, held: &Held) -> Result<(), Failure> {
        let _in = self.module.enter();
        let (ctx, _) = self.module.context().ok_or(Failure::Token(Error::Pkcs11(
            RvError::CryptokiNotInitialized,
            cryptoki::context::Function::Initialize,
        )))?;
        let slot = held
            .session
            .get_session_info()
            .map_err(Failure::Token)?
            .slot_id();
        self.login(&held.session, slot, &ctx)
    }

    /// Give `held` back for the next signature.
    pub fn give_back(&self, held: Held) {
        let mut s = self.lock();
        self.catch_up(&mut s);
        if held.generation == s.generation {
            s.idle.push(held);
        }
        drop(s);
        self.freed.notify_one();
    }

    /// Close `held` (it failed); a new one will be opened in its place.
    pub fn discard(&self, held: Held) {
        let mut s = self.lock();
        self.catch_up(&mut s);
        if held.generation == s.generation {
            s.open = s.open.saturating_sub(1);
            drop(s);
            let _in = self.module.enter();
            let _ = held.session.close();
        } else {
            drop(s);
        }
        self.freed.notify_one();
    }

    /// Close every idle session and forget the slot and the login (after a device fault,
    /// when the module is not re-initialised).
    pub fn reset(&self) {
        let mut s = self.lock();
        let idle = std::mem::take(&mut s.idle);
        s.open = s.open.saturating_sub(idle.len());
        s.slot = None;
        s.logged_in = false;
        drop(s);
        let _in = self.module.enter();
        for h in idle {
            let _ = h.session.close();
        }
        self.freed.notify_all();
    }
}

impl Drop for Sessions {
    fn drop(&mut self) {
        // The key is going away (a reload replaced it): close what is ours, log nobody out
        // (the login is shared with any other key in the token).
        let s = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if s.generation == self.module.generation() {
            let _in = self.module.enter();
            for h in s.idle.drain(..) {
                let _ = h.session.close();
            }
        }
    }
}
