//! What the binary says about itself: `--version` (version, commit, features), the manual
//! pages `ocsp man` writes (checked by the real `mandoc -T lint`, which must have nothing
//! to say), and the completion scripts `ocsp completions` prints (bash's parses in bash).

#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::process::Command;

fn ocsp(args: &[&str]) -> std::process::Output {
    Command::new(crate::OCSP)
        .args(args)
        .output()
        .expect("run ocsp")
}

fn need(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: apt-get install {package} (scripts/test-all.sh does)"
    );
}

#[test]
fn version_names_commit_and_features() {
    let out = ocsp(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let want = format!("ocsp {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want), "{text}");
    assert!(text.contains(", features: "), "{text}");
    // Subcommands say the same.
    let sub = String::from_utf8(ocsp(&["serve", "--version"]).stdout).unwrap();
    assert!(sub.contains("(commit "), "{sub}");
}

#[test]
fn man_pages_pass_mandoc_lint() {
    need("mandoc", "mandoc");
    let dir = tempfile::tempdir().unwrap();
    let out = ocsp(&["man", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let listed = String::from_utf8(out.stdout).unwrap();
    let pages: Vec<&str> = listed.lines().collect();
    assert!(pages.len() >= 9, "{pages:?}");
    for page in &pages {
        let lint = Command::new("mandoc")
            .args(["-T", "lint", "-W", "all", page])
            .output()
            .expect("run mandoc");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        );
        assert!(
            said.trim().is_empty() && lint.status.success(),
            "{page}:\n{said}"
        );
        // And it renders as text naming what it documents.
        let text = Command::new("mandoc")
            .args(["-T", "ascii", page])
            .output()
            .expect("run mandoc");
        assert!(text.status.success() && text.stdout.len() > 200, "{page}");
    }
    let serve = Command::new("mandoc")
        .args(["-T", "utf8"])
        .arg(dir.path().join("ocsp-serve.1"))
        .output()
        .unwrap();
    let serve = String::from_utf8_lossy(&serve.stdout).replace(['\u{8}'], "");
    assert!(serve.contains("metrics-listen"), "{serve}");
    let toml = std::fs::read_to_string(dir.path().join("ocsp.toml.5")).unwrap();
    assert!(toml.contains("refresh_fraction"));
}

#[test]
fn completions_print_a_script_per_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = ocsp(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        assert!(out.stdout.len() > 1000, "{shell}");
    }
    assert_eq!(ocsp(&["completions", "tcsh"]).status.code(), Some(2));
    // bash parses the bash script.
    need("bash", "bash");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ocsp.bash");
    std::fs::write(&file, ocsp(&["completions", "bash"]).stdout).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(check.status.success(), "{check:?}");
}
