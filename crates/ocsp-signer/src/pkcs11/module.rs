//! PKCS#11 modules: loaded once per process and path, initialised once, re-initialised on
//! request (the last rung of the recovery ladder).
//!
//! - A module is `dlopen`ed and `C_Initialize`d (`CKF_OS_LOCKING_OK`: our signing threads call
//!   it concurrently) the first time a key names it, and kept for the life of the process:
//!   keys that share a module share one context (a second `C_Initialize` would fail, and two
//!   keys in one token must share its login). `CKR_CRYPTOKI_ALREADY_INITIALIZED` is accepted
//!   (something else in the process initialised it).
//! - [`Module::reinitialize`] `C_Finalize`s the context and initialises a new one, and bumps the
//!   module's *generation*. Sessions are tagged with the generation they were opened in; one
//!   of an older generation is abandoned without `C_CloseSession` (its handle number may belong
//!   to a session of the new context by then). Two threads that see the same fault
//!   re-initialise once: the second finds the generation already moved on.
//! - A module is never finalized when the process ends or a key is dropped: some modules crash
//!   in `C_Finalize` (the reason for `reinit = "never"`), and the operating system closes
//!   everything at exit anyway.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};

/// One loaded module.
pub struct Module {
    path: PathBuf,
    state: Mutex<State>,
    /// Held shared by every call into the module, exclusively by `C_Finalize`: a module
    /// finalized under another thread's call corrupts its memory.
    calls: RwLock<()>,
    /// A copy of the state's generation, read without the lock (which a hanging
    /// `C_Finalize` may hold).
    generation: AtomicU64,
}

/// A call into the module by any key, until dropped ([`Module::enter`]).
pub type Entered<'a> = RwLockReadGuard<'a, ()>;

/// How long a re-initialisation waits for the calls running in the module to end.
const FINALIZE_WAIT: Duration = Duration::from_millis(200);

struct State {
    ctx: Option<Pkcs11>,
    generation: u64,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("path", &self.path).finish()
    }
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<Module>>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();
    MODULES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The module at `path`, loaded and initialised on first use. The error says what failed
/// (`cannot load …: …`, `C_Initialize: CKR_…`).
pub fn open(path: &Path) -> Result<Arc<Module>, String> {
    let mut modules = registry().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = modules.get(path) {
        return Ok(m.clone());
    }
    let ctx = initialise(path)?;
    let m = Arc::new(Module {
        path: path.to_path_buf(),
        state: Mutex::new(State {
            ctx: Some(ctx),
            generation: 1,
        }),
        calls: RwLock::new(()),
        generation: AtomicU64::new(1),
    });
    modules.insert(path.to_path_buf(), m.clone());
    Ok(m)
}

fn initialise(path: &Path) -> Result<Pkcs11, String> {
    let ctx = Pkcs11::new(path).map_err(|e| {
        format!(
            "cannot load the PKCS#11 module {}: {e} (check --pkcs11-module / [pkcs11] module, \
             or the URI's module-path; for SoftHSM2: apt-get install softhsm2, \
             /usr/lib/softhsm/libsofthsm2.so)",
            path.display()
        )
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(ctx),
        Err(e) => Err(format!(
            "the PKCS#11 module {} failed to initialise: {}",
            path.display(),
            super::fault::describe(&e)
        )),
    }
}

impl Module {
    /// The module's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current context and its generation; `None` while a re-initialisation failed (the
    /// next [`Module::reinitialize`] tries again).
    pub fn context(&self) -> Option<(Pkcs11, u64)> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.ctx.clone().map(|c| (c, s.generation))
    }

    /// Hold off re-initialisation while calling into the module (by any key), until the
    /// guard drops. Never held across a call to [`Module::reinitialize`].
    pub fn enter(&self) -> Entered<'_> {
        self.calls.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Finalize the context of generation `seen` (unless `finalize` is false: then the
    /// context is kept and only the generation moves on, abandoning every session) and
    /// initialise a new one. Does nothing when the generation is already past `seen`. Only
    /// when no other call runs in the module: after waiting [`FINALIZE_WAIT`] for them to
    /// end, it gives up (the caller tries again later).
    pub fn reinitialize(&self, seen: u64, finalize: bool) -> Result<(), String> {
        let deadline = Instant::now() + FINALIZE_WAIT;
        let _alone = loop {
            match self.calls.try_write() {
                Ok(g) => break g,
                Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    return Err(format!(
                        "the PKCS#11 module {} is not re-initialised: other calls into it are \
                         still running",
                        self.path.display()
                    ))
                }
            }
        };
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.generation != seen && s.ctx.is_some() {
            return Ok(());
        }
        s.generation += 1;
        self.generation.store(s.generation, Ordering::Release);
        if !finalize {
            if s.ctx.is_none() {
                s.ctx = Some(initialise(&self.path)?);
            }
            return Ok(());
        }
        if let Some(old) = s.ctx.take() {
            // Errors are expected here (the device is gone); the new context is what counts.
            let _ = old.finalize();
        }
        s.ctx = Some(initialise(&self.path)?);
        Ok(())
    }
}
