//! The `ocsp` binary under test, run as a process.
//!
//! `env!("CARGO_BIN_EXE_ocsp")` exists only in the binary crate's own tests, so every
//! function here takes the binary's path (`bin`) as its first argument.
//!
//! - [`Responder::start(bin, args)`](Responder::start): runs `ocsp serve ARGS` (give
//!   `--port 0` or `--listen 127.0.0.1:0`), waits for the `listening on http://ADDR:PORT`
//!   line(s) on stdout (readiness) and returns a guard that kills the process on drop. Its
//!   stdout and stderr are drained in the background ([`Responder::stdout`],
//!   [`Responder::stderr`]). [`Responder::url`] / [`Responder::addr`] give a loopback
//!   address of the first listener; [`printed_addr`], [`metrics_addr`], [`https_addr`] the
//!   other listeners it prints.
//! - [`serve_must_fail(bin, args)`](serve_must_fail): runs `ocsp serve ARGS`, expects a
//!   non-zero exit before any `listening on` line, returns its [`Failure`].
//! - [`run(bin, args)`](run) / [`run_stdin`]: any other subcommand to completion, with a
//!   deadline → [`Run`] (exit code, stdout, stderr without colour codes).

use crate::process::{drain, run_input, strip_ansi, DrainedBuf, CMD_TIMEOUT};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How long the binary may take to load and bind.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The running `ocsp serve`, killed on drop.
pub struct Responder {
    child: Child,
    listening: Vec<SocketAddr>,
    out: Arc<DrainedBuf>,
    err: Arc<DrainedBuf>,
}

/// A start that failed, as expected.
#[derive(Debug)]
pub struct Failure {
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error, colour codes removed.
    pub stderr: String,
}

fn serve_command<I, S>(bin: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A stdout reader that forwards `listening on` lines while keeping everything.
fn drain_stdout(r: Option<std::process::ChildStdout>, tx: mpsc::Sender<String>) -> Arc<DrainedBuf> {
    let d = Arc::new(DrainedBuf::default());
    let d2 = d.clone();
    std::thread::spawn(move || {
        if let Some(r) = r {
            let mut r = BufReader::new(r);
            let mut line = Vec::new();
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        d2.push(&line);
                        let s = String::from_utf8_lossy(&line);
                        if let Some(rest) = s.trim().strip_prefix("listening on http://") {
                            let _ = tx.send(rest.to_string());
                        }
                    }
                }
            }
        }
        d2.finish();
    });
    d
}

impl Responder {
    /// Start `bin serve ARGS`; panic with its output if it does not come up.
    #[track_caller]
    pub fn start<I, S>(bin: impl AsRef<Path>, args: I) -> Responder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        match Responder::try_start(bin, args) {
            Ok(r) => r,
            Err(f) => panic!(
                "ocsp serve did not start (exit {:?}):\nstdout: {}\nstderr: {}",
                f.code, f.stdout, f.stderr
            ),
        }
    }

    /// Start `bin serve ARGS`; the failure if it exits before listening.
    pub fn try_start<I, S>(bin: impl AsRef<Path>, args: I) -> Result<Responder, Failure>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let bin = bin.as_ref();
        let mut cmd = serve_command(bin, args);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run the ocsp binary {}: {e}", bin.display()));
        let (tx, rx) = mpsc::channel();
        let out = drain_stdout(child.stdout.take(), tx);
        let err = drain(child.stderr.take());
        let deadline = Instant::now() + START_TIMEOUT;
        let mut listening = Vec::new();
        loop {
            if let Ok(addr) = rx.recv_timeout(Duration::from_millis(20)) {
                listening.push(parse_listening(&addr));
                // The binary prints every listener at once; collect the rest.
                while let Ok(a) = rx.recv_timeout(Duration::from_millis(100)) {
                    listening.push(parse_listening(&a));
                }
                return Ok(Responder {
                    child,
                    listening,
                    out,
                    err,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let until = Instant::now() + Duration::from_secs(5);
                return Err(Failure {
                    code: status.code(),
                    stdout: String::from_utf8_lossy(&out.wait_eof(until)).into_owned(),
                    stderr: strip_ansi(&String::from_utf8_lossy(&err.wait_eof(until))),
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ocsp serve printed no `listening on` line within {START_TIMEOUT:?}\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&out.lock()),
                    String::from_utf8_lossy(&err.lock())
                );
            }
        }
    }

    /// The addresses as printed on the `listening on` lines.
    pub fn listening(&self) -> &[SocketAddr] {
        &self.listening
    }

    /// A loopback address of the first listener (127.0.0.1 for a wildcard listener).
    pub fn addr(&self) -> SocketAddr {
        let a = self.listening[0];
        if a.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), a.port())
        } else {
            a
        }
    }

    /// `http://ADDR:PORT` of [`Responder::addr`].
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock()).into_owned()
    }

    /// Everything printed on stderr so far (colour codes removed).
    pub fn stderr(&self) -> String {
        strip_ansi(&String::from_utf8_lossy(&self.err.lock()))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Send SIGTERM (via kill(1)) and wait up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Wait until stderr contains `needle`, up to `timeout`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn parse_listening(s: &str) -> SocketAddr {
    s.trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("bad `listening on http://{s}` line: {e}"))
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `bin serve ARGS`, expecting it to exit non-zero before listening.
#[track_caller]
pub fn serve_must_fail<I, S>(bin: impl AsRef<Path>, args: I) -> Failure
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    match Responder::try_start(bin, args) {
        Ok(r) => panic!(
            "ocsp serve started (listening on {:?}) but should have refused to\nstderr: {}",
            r.listening(),
            r.stderr()
        ),
        Err(f) => {
            assert!(
                f.code.is_some_and(|c| c != 0),
                "ocsp serve should exit non-zero, got {:?}\nstderr: {}",
                f.code,
                f.stderr
            );
            f
        }
    }
}

/// The address on the first stdout line starting with `prefix` (e.g.
/// `listening on https://`), waiting up to 10 s for it.
pub fn printed_addr(r: &Responder, prefix: &str) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = r.stdout();
        if let Some(line) = out.lines().find_map(|l| l.trim().strip_prefix(prefix)) {
            let addr = line.trim_end_matches("/metrics").trim_end_matches('/');
            return addr
                .parse()
                .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
        }
        assert!(
            Instant::now() < deadline,
            "no `{prefix}` line on stdout:\n{out}\nstderr:\n{}",
            r.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The metrics listener's address.
pub fn metrics_addr(r: &Responder) -> SocketAddr {
    printed_addr(r, "metrics on http://")
}

/// The first HTTPS listener's address.
pub fn https_addr(r: &Responder) -> SocketAddr {
    printed_addr(r, "listening on https://")
}

/// The result of running the `ocsp` binary to completion.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error, colour codes removed.
    pub stderr: String,
}

impl Run {
    /// Panic with everything when the exit code is not `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit status: {self:#?}");
        self
    }

    /// `(code, stdout, stderr)`.
    pub fn parts(self) -> (Option<i32>, String, String) {
        (self.code, self.stdout, self.stderr)
    }
}

/// Run `bin ARGS` to completion (stdin null, `NO_COLOR=1`, deadline [`CMD_TIMEOUT`]).
pub fn run(bin: impl AsRef<Path>, args: &[&str]) -> Run {
    run_stdin(bin, args, None)
}

/// Run `bin ARGS` to completion, feeding `stdin`.
pub fn run_stdin(bin: impl AsRef<Path>, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let out = run_input(
        Command::new(bin.as_ref()).args(args).env("NO_COLOR", "1"),
        stdin,
        CMD_TIMEOUT,
    );
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: strip_ansi(&String::from_utf8_lossy(&out.stderr)),
    }
}
