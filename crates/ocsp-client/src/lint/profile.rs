//! What `--profile` means to lint: which rule set judges the answers and how hard a broken
//! rule weighs.
//!
//! | lint profile | rules ([`ocsp_proto::profile::Profile`]) | RFC 9919 MUSTs (unauthorized, nextUpdate, SHA-256, RFC 9654 bounds) |
//! |---|---|---|
//! | `rfc6960` | `private` | warnings |
//! | `rfc9919` (default) | `private` | failures |
//! | `cabf` | `cabf` | failures, plus the BR responder-certificate profile (§7.1.2.8) |
//! | `mozilla` | `mozilla` | as `cabf` |
//! | `microsoft` | `microsoft` | as `cabf` |

use crate::lint::finding::Verdict;
use ocsp_proto::profile::Profile;

/// A `--profile` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum LintProfile {
    /// RFC 6960 only.
    Rfc6960,
    /// RFC 6960 as profiled by RFC 9919 (and RFC 9654 nonces).
    #[default]
    Rfc9919,
    /// CA/Browser Forum Baseline Requirements.
    Cabf,
    /// Mozilla Root Store Policy.
    Mozilla,
    /// Microsoft Trusted Root Program.
    Microsoft,
}

impl LintProfile {
    /// Every profile.
    pub const ALL: [LintProfile; 5] = [
        LintProfile::Rfc6960,
        LintProfile::Rfc9919,
        LintProfile::Cabf,
        LintProfile::Mozilla,
        LintProfile::Microsoft,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LintProfile::Rfc6960 => "rfc6960",
            LintProfile::Rfc9919 => "rfc9919",
            LintProfile::Cabf => "cabf",
            LintProfile::Mozilla => "mozilla",
            LintProfile::Microsoft => "microsoft",
        }
    }

    /// Parse a name (any case).
    pub fn from_name(s: &str) -> Option<LintProfile> {
        LintProfile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    /// The responder's rule set that judges answers.
    pub fn rules(self) -> Profile {
        match self {
            LintProfile::Rfc6960 | LintProfile::Rfc9919 => Profile::Private,
            LintProfile::Cabf => Profile::Cabf,
            LintProfile::Mozilla => Profile::Mozilla,
            LintProfile::Microsoft => Profile::Microsoft,
        }
    }

    /// A root program's profile (`cabf`, `mozilla`, `microsoft`).
    pub fn is_public(self) -> bool {
        self.rules().is_public()
    }

    /// The verdict for breaking a requirement that is a MUST from RFC 9919 / RFC 9654 on
    /// and at most a SHOULD in RFC 6960.
    pub fn since_9919(self) -> Verdict {
        if self == LintProfile::Rfc6960 {
            Verdict::Warn
        } else {
            Verdict::Fail
        }
    }

    /// The verdict for breaking a requirement of the root programs only.
    pub fn public_only(self) -> Verdict {
        if self.is_public() {
            Verdict::Fail
        } else {
            Verdict::Warn
        }
    }
}

impl std::fmt::Display for LintProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LintProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        LintProfile::from_name(s).ok_or_else(|| {
            format!("unknown profile {s:?}: use rfc6960, rfc9919, cabf, mozilla or microsoft")
        })
    }
}
