//! One line of a lint report: a check's id, its verdict, what was seen, the rule and where
//! the rule comes from; and the report those lines make, with its exit status.
//!
//! Verdicts order by gravity: `PASS` < `SKIP` < `WARN` < `FAIL`. The exit status is 0 when
//! nothing is worse than `SKIP`, 1 for warnings only, 2 for any failure, and 3 when lint
//! could not run at all (no issuer, no answer to the first request).

use serde::Serialize;

/// A check's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// The responder does what the rule asks.
    Pass,
    /// Not checked (not applicable, or nothing to check it with); says why.
    Skip,
    /// A SHOULD is not met, or something is odd without breaking a MUST.
    Warn,
    /// A MUST is broken.
    Fail,
}

impl Verdict {
    /// `PASS`, `SKIP`, `WARN`, `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Skip => "SKIP",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// The groups of checks, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// HTTP: POST, GET, GET encodings, methods, latency.
    Transport,
    /// RFC 9919 §6 caching headers and conditional requests.
    Caching,
    /// DER, times, extensions, one answer per CertID.
    Encoding,
    /// What is answered: good, revoked, never-issued, unknown issuer, hash algorithms.
    Semantics,
    /// RFC 9654 nonces.
    Nonce,
    /// Who signs and with what.
    Signer,
    /// Times and the compliance profile's rules.
    Time,
    /// Hostile input (`--aggressive` only).
    Robustness,
}

impl Group {
    /// The group's name as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Transport => "transport",
            Group::Caching => "caching",
            Group::Encoding => "encoding",
            Group::Semantics => "semantics",
            Group::Nonce => "nonce",
            Group::Signer => "signer",
            Group::Time => "time",
            Group::Robustness => "robustness",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id (`T1`, `C2`, `S4` ...), documented in docs/lint.md.
    pub id: &'static str,
    /// Its group.
    pub group: Group,
    /// The verdict.
    pub verdict: Verdict,
    /// What was seen.
    pub seen: String,
    /// The rule, in a few words.
    pub rule: String,
    /// Where the rule comes from (RFC section, BR paragraph, root program policy).
    pub source: String,
}

impl Finding {
    /// A finding.
    pub fn new(
        id: &'static str,
        group: Group,
        verdict: Verdict,
        seen: impl Into<String>,
        rule: impl Into<String>,
        source: impl Into<String>,
    ) -> Finding {
        Finding {
            id,
            group,
            verdict,
            seen: seen.into(),
            rule: rule.into(),
            source: source.into(),
        }
    }
}

/// How many findings of each verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// PASS.
    pub pass: usize,
    /// WARN.
    pub warn: usize,
    /// FAIL.
    pub fail: usize,
    /// SKIP.
    pub skip: usize,
}

/// Exit status: every check passed or was skipped.
pub const EXIT_CLEAN: u8 = 0;
/// Exit status: warnings, no failure.
pub const EXIT_WARNINGS: u8 = 1;
/// Exit status: at least one failure.
pub const EXIT_FAILURES: u8 = 2;
/// Exit status: lint could not run.
pub const EXIT_COULD_NOT_RUN: u8 = 3;

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The responder URL.
    pub url: String,
    /// The profile judged against.
    pub profile: &'static str,
    /// When the run started (RFC 3339).
    pub started: String,
    /// When the run started, Unix seconds.
    pub started_unix: u64,
    /// Seconds the run took.
    pub duration_secs: f64,
    /// HTTP requests sent.
    pub requests: usize,
    /// Whether the robustness probes ran.
    pub aggressive: bool,
    /// Every check, in report order.
    pub checks: Vec<Finding>,
    /// Why lint could not run, when it could not.
    pub error: Option<String>,
}

impl Report {
    /// Counts per verdict.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for f in &self.checks {
            match f.verdict {
                Verdict::Pass => c.pass += 1,
                Verdict::Warn => c.warn += 1,
                Verdict::Fail => c.fail += 1,
                Verdict::Skip => c.skip += 1,
            }
        }
        c
    }

    /// 0 clean, 1 warnings only, 2 failures, 3 could not run.
    pub fn exit_code(&self) -> u8 {
        if self.error.is_some() {
            return EXIT_COULD_NOT_RUN;
        }
        let c = self.counts();
        if c.fail > 0 {
            EXIT_FAILURES
        } else if c.warn > 0 {
            EXIT_WARNINGS
        } else {
            EXIT_CLEAN
        }
    }
}
