//! What this binary is: version, source commit and enabled features, as printed by
//! `ocsp --version` and exported as `ocsp_build_info{version,commit,features}` (the values
//! come from `build.rs`).

/// The crate version (`0.1.0`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit the binary was built from (12 hex digits), or `unknown` when built
/// outside git without `OCSP_GIT_COMMIT`.
pub const COMMIT: &str = env!("OCSP_GIT_COMMIT");

/// The enabled Cargo features of the `ocsp` crate, comma-separated, or `none`.
pub const FEATURES: &str = env!("OCSP_FEATURES");

/// `ocsp --version`'s text after the program name: `0.1.0 (commit 1a2b3c4d5e6f, features: none)`.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("OCSP_GIT_COMMIT"),
    ", features: ",
    env!("OCSP_FEATURES"),
    ")"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line_names_version_commit_and_features() {
        assert!(VERSION_LINE.starts_with(VERSION));
        assert!(VERSION_LINE.contains(&format!("commit {COMMIT}")));
        assert!(VERSION_LINE.contains(&format!("features: {FEATURES}")));
        assert!(!COMMIT.is_empty() && !FEATURES.is_empty());
        assert!(!COMMIT.contains(char::is_whitespace), "{COMMIT}");
        assert!(!FEATURES.contains(char::is_whitespace), "{FEATURES}");
    }
}
