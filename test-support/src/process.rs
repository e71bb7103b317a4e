//! Running a command with a deadline and capturing what it prints.
//!
//! - [`run`] / [`run_input`]: run a command (stdin null, or fed from a buffer), collect
//!   stdout and stderr on background threads (so a chatty child never blocks on a full
//!   pipe), and kill it and panic with everything it printed if it outlives the deadline.
//! - [`drain`] / [`DrainedBuf`]: the pipe collector, also used by the responder spawner.
//! - [`strip_ansi`]: remove colour sequences from log text.
//! - [`run_alone`]: run one test of the current test binary in a child process of its
//!   own, for tests that measure or change process-wide state (peak RSS, the global
//!   tracing subscriber, the metrics recorder) and must not share the process with the
//!   other tests of a single integration binary.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long any single external command may take.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

/// Run `cmd` with stdin from `input` (or null); kill it and panic after `timeout`.
pub fn run_input(cmd: &mut Command, input: Option<&[u8]>, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run {desc}: {e} (a missing test peer? apt-get install -y openssl curl)")
    });
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => panic!("cannot wait for {desc}: {e}"),
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{desc} did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.lock()),
                String::from_utf8_lossy(&err.lock())
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // The readers finish at EOF, right after exit.
    let until = Instant::now() + Duration::from_secs(5);
    Output {
        status,
        stdout: out.wait_eof(until),
        stderr: err.wait_eof(until),
    }
}

/// Run `cmd` with a deadline.
pub fn run(cmd: &mut Command, timeout: Duration) -> Output {
    run_input(cmd, None, timeout)
}

/// Bytes collected from a pipe by a background thread.
#[derive(Default)]
pub struct DrainedBuf {
    buf: Mutex<Vec<u8>>,
    done: Mutex<bool>,
}

impl DrainedBuf {
    /// The bytes collected so far.
    pub fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Append bytes (for collectors that also look at each line).
    pub fn push(&self, bytes: &[u8]) {
        self.lock().extend_from_slice(bytes);
    }

    /// Mark the pipe as ended.
    pub fn finish(&self) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }

    /// Everything, once the pipe ended (or `until` passed).
    pub fn wait_eof(&self, until: Instant) -> Vec<u8> {
        while !*self.done.lock().unwrap_or_else(|e| e.into_inner()) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.lock().clone()
    }
}

/// Collect everything `r` yields on a background thread (an absent pipe yields nothing).
pub fn drain<R: Read + Send + 'static>(r: Option<R>) -> Arc<DrainedBuf> {
    let d = Arc::new(DrainedBuf::default());
    let d2 = d.clone();
    std::thread::spawn(move || {
        if let Some(mut r) = r {
            let mut chunk = [0u8; 8192];
            loop {
                match r.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => d2.push(&chunk[..n]),
                }
            }
        }
        d2.finish();
    });
    d
}

/// Remove ANSI colour sequences (log lines may carry them).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\u{1b}' && it.peek() == Some(&'[') {
            it.next();
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The variable that tells a re-run test binary which test it runs alone.
const ALONE: &str = "TEST_SUPPORT_RUN_ALONE";

/// Run the test `path` (its full name in the test binary, e.g.
/// `ops_readyz::readyz_fails_while_the_signer_is_broken`) in a process of its own.
///
/// Returns `true` in that child process: the caller then runs the test's body. In the
/// parent it re-runs the current test binary with `--exact path --test-threads 1`, waits
/// (up to `timeout`), passes the child's output through and panics with it if the test
/// failed there; it then returns `false` and the caller returns.
///
/// ```ignore
/// #[test]
/// fn measures_the_process() {
///     if !test_support::process::run_alone(module_path!(), "measures_the_process", TIMEOUT) {
///         return;
///     }
///     // ... the body, alone in its process ...
/// }
/// ```
pub fn run_alone(module: &str, test: &str, timeout: Duration) -> bool {
    // `module_path!()` starts with the crate name (`it::ops_readyz`); the harness names
    // tests without it.
    let path = match module.split_once("::") {
        Some((_, rest)) => format!("{rest}::{test}"),
        None => test.to_string(),
    };
    if std::env::var(ALONE).is_ok_and(|v| v == path) {
        return true;
    }
    let exe = std::env::current_exe()
        .unwrap_or_else(|e| panic!("cannot find the test binary to re-run {path}: {e}"));
    let out = run(
        Command::new(exe)
            .args([
                path.as_str(),
                "--exact",
                "--test-threads",
                "1",
                "--nocapture",
            ])
            .env(ALONE, &path),
        timeout,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        out.status.success(),
        "{path} failed in its own process ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("1 passed"),
        "{path} did not run in its own process (no `1 passed`):\n{stdout}\n{stderr}"
    );
    false
}
