//! Exit statuses of argument errors: `query` and `inspect` document 5 for usage errors
//! (2 means "unknown" there); `--help` and `--version` succeed.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::process::Command;

fn status(args: &[&str]) -> i32 {
    Command::new(env!("CARGO_BIN_EXE_ocsp"))
        .args(args)
        .output()
        .expect("run ocsp")
        .status
        .code()
        .expect("exit code")
}

#[test]
fn usage_errors_exit_5_for_query_and_inspect() {
    assert_eq!(status(&["query", "--no-such-flag"]), 5);
    assert_eq!(status(&["query", "--timeout"]), 5);
    assert_eq!(status(&["inspect", "--no-such-flag"]), 5);
}

#[test]
fn usage_errors_exit_2_elsewhere_and_help_succeeds() {
    assert_eq!(status(&["serve", "--no-such-flag"]), 2);
    assert_eq!(status(&["no-such-subcommand"]), 2);
    assert_eq!(status(&["--help"]), 0);
    assert_eq!(status(&["query", "--help"]), 0);
    assert_eq!(status(&["--version"]), 0);
}
