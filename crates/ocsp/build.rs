//! Build information for `ocsp --version` and the `ocsp_build_info` metric:
//!
//! - `OCSP_GIT_COMMIT`: `git rev-parse --short=12 HEAD` of the source tree (uncommitted
//!   changes are not marked); `OCSP_GIT_COMMIT` from the environment wins (for builds from
//!   a tarball, where there is no git); `unknown` when neither is available.
//! - `OCSP_FEATURES`: the enabled Cargo features of this crate, comma-separated, `none`
//!   when there are none (read from Cargo's `CARGO_FEATURE_*` variables, so a new feature
//!   shows up without editing this file).
//! - `OCSP_SOURCE_DATE`: the commit's date (`YYYY-MM-DD`) for the man pages, from
//!   `SOURCE_DATE_EPOCH` when set (reproducible builds), else git; `1970-01-01` without
//!   either.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    Some(s.trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=OCSP_GIT_COMMIT");
    let commit = match std::env::var("OCSP_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => match git(&["rev-parse", "--short=12", "HEAD"]) {
            Some(c) if !c.is_empty() => c,
            _ => "unknown".to_string(),
        },
    };
    // Rebuild when HEAD moves (a commit, a checkout). In a worktree, .git is a file
    // naming the real directory; ask git where HEAD and the refs live.
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            if let Some(p) = git(&["rev-parse", "--git-path", &r]) {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|e| e.trim().parse::<i64>().ok())
        .map(civil_date)
        .or_else(|| git(&["log", "-1", "--format=%cs"]).filter(|d| d.len() == 10))
        .unwrap_or_else(|| "1970-01-01".to_string());
    println!("cargo:rustc-env=OCSP_SOURCE_DATE={date}");
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_string))
        .map(|f| f.to_ascii_lowercase().replace('_', "-"))
        .filter(|f| f != "default")
        .collect();
    features.sort();
    let features = if features.is_empty() {
        "none".to_string()
    } else {
        features.join(",")
    };
    println!("cargo:rustc-env=OCSP_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=OCSP_FEATURES={features}");
}

/// `YYYY-MM-DD` of a Unix time (days to civil date, proleptic Gregorian).
fn civil_date(secs: i64) -> String {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
