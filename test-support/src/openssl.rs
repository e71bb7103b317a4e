//! Running the real `openssl` binary, the peer the tests judge the responder against.
//!
//! - [`require_openssl`] / [`require_tools`]: panic with the `apt-get install` line when
//!   openssl (or curl) is missing: a test whose peer is absent fails, it never passes.
//! - [`openssl`]: run `openssl ARGS` in a directory with a deadline; panic with its output
//!   unless it succeeds. [`openssl_stdout`]: the same, stdout as text.
//! - [`query`] → [`Query`]: an `openssl ocsp` client run (success not asserted), with its
//!   verdict (`Response verify OK`) and per-certificate statuses.
//! - [`OpensslResponder`]: `openssl ocsp -port 0` as a responder, killed on drop.
//! - [`b64`]: base64 made by `openssl base64 -A`.
//! - [`openssl_time_text`], [`openssl_date`]: time formats as openssl prints and takes them.

use crate::process::{run, run_input, CMD_TIMEOUT};
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::Duration;

fn works(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Panic with the install command when openssl is missing.
pub fn require_openssl() {
    assert!(
        works("openssl", "version"),
        "these tests need the real `openssl` binary (the peer the responder is judged \
         against): apt-get install -y openssl"
    );
}

/// Panic with install instructions when openssl or curl is missing.
pub fn require_tools() {
    for (tool, arg) in [("openssl", "version"), ("curl", "--version")] {
        assert!(
            works(tool, arg),
            "`{tool}` is needed by these tests (it is the peer the responder is judged against): \
             apt-get install -y openssl curl"
        );
    }
}

/// Run `openssl ARGS` in `dir`; panic with its output unless it succeeds.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = run(
        Command::new("openssl").args(args).current_dir(dir),
        CMD_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "openssl {} failed ({}):\n{}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// [`openssl`], returning stdout as text.
pub fn openssl_stdout(dir: &Path, args: &[&str]) -> String {
    String::from_utf8_lossy(&openssl(dir, args).stdout).into_owned()
}

/// The outcome of an `openssl ocsp` run.
#[derive(Debug)]
pub struct Query {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output (statuses, `-resp_text`).
    pub stdout: String,
    /// Standard error (`Response verify OK`, warnings, errors).
    pub stderr: String,
}

impl Query {
    /// Everything printed, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    /// Whether openssl verified the response (signature, signer authority, nonce).
    pub fn verified(&self) -> bool {
        self.stderr.contains("Response verify OK") && !self.stderr.contains("WARNING")
    }

    /// The status openssl printed for the certificate `label` (`path: good`).
    pub fn status_of(&self, label: &str) -> Option<String> {
        let prefix = format!("{label}: ");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|s| s.trim().to_string())
    }

    /// The lines printed under the status line of `label` (This Update, Reason, …).
    pub fn details_of(&self, label: &str) -> String {
        let prefix = format!("{label}: ");
        let mut out = String::new();
        let mut inside = false;
        for l in self.stdout.lines() {
            if l.starts_with(&prefix) {
                inside = true;
                continue;
            }
            if inside {
                if l.starts_with('\t') {
                    out.push_str(l.trim());
                    out.push('\n');
                } else {
                    break;
                }
            }
        }
        out
    }

    /// Assert verification passed and `label` has `status`.
    #[track_caller]
    pub fn assert_status(&self, label: &str, status: &str) {
        assert!(self.verified(), "response not verified:\n{}", self.all());
        assert_eq!(
            self.status_of(label).as_deref(),
            Some(status),
            "status of {label}:\n{}",
            self.all()
        );
    }
}

/// Run `openssl ARGS` (an `ocsp` invocation) in `dir` without asserting success.
pub fn query(dir: &Path, args: &[&str]) -> Query {
    let out = run(
        Command::new("openssl").args(args).current_dir(dir),
        CMD_TIMEOUT,
    );
    Query {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Standard base64 of `der`, computed by `openssl base64 -A`.
pub fn b64(der: &[u8]) -> String {
    let out = run_input(
        Command::new("openssl").args(["base64", "-A"]),
        Some(der),
        CMD_TIMEOUT,
    );
    assert!(out.status.success(), "openssl base64 failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An index.txt time (`YYMMDDHHMMSSZ` or `YYYYMMDDHHMMSSZ`) as openssl prints it
/// (`Nov 24 05:48:26 2026 GMT`).
pub fn openssl_time_text(t: &str) -> String {
    let t = t.trim_end_matches('Z');
    let num = |s: &str| -> u32 {
        s.parse()
            .unwrap_or_else(|_| panic!("not an index.txt time: {t:?}"))
    };
    let (year, rest) = if t.len() == 12 {
        let yy = num(&t[..2]);
        (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &t[2..])
    } else {
        (num(&t[..4]), &t[4..])
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = num(&rest[..2]) as usize;
    let day = num(&rest[2..4]);
    format!(
        "{} {:>2} {}:{}:{} {} GMT",
        MONTHS[month - 1],
        day,
        &rest[4..6],
        &rest[6..8],
        &rest[8..10],
        year
    )
}

/// `YYYYMMDDHHMMSSZ` for `secs` after the epoch (for `openssl ca -startdate/-enddate`).
pub fn openssl_date(secs: u64) -> String {
    let dt = ocsp_proto::der::DateTime::from_unix_duration(Duration::from_secs(secs))
        .unwrap_or_else(|e| panic!("{secs} s after the epoch is not a date: {e}"));
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minutes(),
        dt.seconds()
    )
}
