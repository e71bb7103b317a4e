//! Output of a lint run: text (one line per check, then a summary), JSON (one stable
//! document, `version` 1), a one-line round summary for `--watch`, and Prometheus text for
//! the node exporter's textfile collector.
//!
//! Text line: `ID    VERDICT  seen — rule [source]`. JSON: see docs/lint.md; fields are
//! only ever added, never renamed or removed, within a version.

use crate::lint::finding::{Report, Verdict};
use serde::Serialize;

/// The JSON document's version.
pub const JSON_VERSION: u32 = 1;

/// The text report.
pub fn text(r: &Report) -> String {
    let mut s = format!(
        "ocsp lint {} (profile {}{})\n",
        r.url,
        r.profile,
        if r.aggressive { ", aggressive" } else { "" }
    );
    let mut group = None;
    for c in &r.checks {
        if group != Some(c.group) {
            s.push_str(&format!("[{}]\n", c.group.as_str()));
            group = Some(c.group);
        }
        s.push_str(&format!(
            "{:<4} {:<4}  {} — {} [{}]\n",
            c.id,
            c.verdict.as_str(),
            c.seen,
            c.rule,
            c.source
        ));
    }
    s.push_str(&summary_line(r));
    s.push('\n');
    s
}

/// `summary: 30 checks, 25 PASS, 2 WARN, 1 FAIL, 2 SKIP; 19 requests in 1.2 s; exit 2`.
pub fn summary_line(r: &Report) -> String {
    if let Some(e) = &r.error {
        return format!("summary: could not run: {e}; exit {}", r.exit_code());
    }
    let c = r.counts();
    format!(
        "summary: {} checks, {} PASS, {} WARN, {} FAIL, {} SKIP; {} requests in {:.1} s; exit {}",
        r.checks.len(),
        c.pass,
        c.warn,
        c.fail,
        c.skip,
        r.requests,
        r.duration_secs,
        r.exit_code()
    )
}

/// One line per `--watch` round: time, URL, counts, failing ids.
pub fn round_line(r: &Report) -> String {
    let failing: Vec<String> = r
        .checks
        .iter()
        .filter(|c| c.verdict >= Verdict::Warn)
        .map(|c| format!("{}:{}", c.id, c.verdict.as_str()))
        .collect();
    format!(
        "{} {} {}{}",
        r.started,
        r.url,
        summary_line(r).trim_start_matches("summary: "),
        if failing.is_empty() {
            String::new()
        } else {
            format!(" [{}]", failing.join(" "))
        }
    )
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    version: u32,
    #[serde(flatten)]
    report: &'a Report,
    summary: crate::lint::finding::Counts,
    exit_code: u8,
}

/// The JSON document (pretty unless `compact`).
pub fn json(r: &Report, compact: bool) -> String {
    let doc = JsonDoc {
        version: JSON_VERSION,
        report: r,
        summary: r.counts(),
        exit_code: r.exit_code(),
    };
    let s = if compact {
        serde_json::to_string(&doc)
    } else {
        serde_json::to_string_pretty(&doc)
    };
    s.unwrap_or_else(|e| format!("{{\"version\":{JSON_VERSION},\"error\":\"cannot encode: {e}\"}}"))
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text exposition of one run.
pub fn prometheus(r: &Report) -> String {
    let url = label(&r.url);
    let profile = label(r.profile);
    let mut s = String::new();
    s.push_str("# HELP ocsp_lint_check_result Result of one ocsp lint check: 1 for the verdict it had, 0 for the others.\n");
    s.push_str("# TYPE ocsp_lint_check_result gauge\n");
    for c in &r.checks {
        for v in [Verdict::Pass, Verdict::Warn, Verdict::Fail, Verdict::Skip] {
            // Several lines can share an id (one per --cert): report the worst.
            let worst = r
                .checks
                .iter()
                .filter(|x| x.id == c.id)
                .map(|x| x.verdict)
                .max()
                .unwrap_or(c.verdict);
            let line = format!(
                "ocsp_lint_check_result{{url=\"{url}\",profile=\"{profile}\",check=\"{}\",group=\"{}\",verdict=\"{}\"}} {}\n",
                c.id,
                c.group.as_str(),
                v.as_str(),
                u8::from(worst == v)
            );
            if !s.contains(&line) {
                s.push_str(&line);
            }
        }
    }
    let c = r.counts();
    s.push_str("# HELP ocsp_lint_checks Number of ocsp lint checks by verdict in the last run.\n");
    s.push_str("# TYPE ocsp_lint_checks gauge\n");
    for (v, n) in [
        ("PASS", c.pass),
        ("WARN", c.warn),
        ("FAIL", c.fail),
        ("SKIP", c.skip),
    ] {
        s.push_str(&format!(
            "ocsp_lint_checks{{url=\"{url}\",profile=\"{profile}\",verdict=\"{v}\"}} {n}\n"
        ));
    }
    s.push_str("# HELP ocsp_lint_exit_code Exit status of the last run: 0 clean, 1 warnings, 2 failures, 3 could not run.\n");
    s.push_str("# TYPE ocsp_lint_exit_code gauge\n");
    s.push_str(&format!(
        "ocsp_lint_exit_code{{url=\"{url}\",profile=\"{profile}\"}} {}\n",
        r.exit_code()
    ));
    s.push_str("# HELP ocsp_lint_duration_seconds Time the last run took.\n");
    s.push_str("# TYPE ocsp_lint_duration_seconds gauge\n");
    s.push_str(&format!(
        "ocsp_lint_duration_seconds{{url=\"{url}\",profile=\"{profile}\"}} {:.3}\n",
        r.duration_secs
    ));
    s.push_str(
        "# HELP ocsp_lint_last_run_timestamp_seconds When the last run started, Unix time.\n",
    );
    s.push_str("# TYPE ocsp_lint_last_run_timestamp_seconds gauge\n");
    s.push_str(&format!(
        "ocsp_lint_last_run_timestamp_seconds{{url=\"{url}\",profile=\"{profile}\"}} {}\n",
        r.started_unix
    ));
    s
}
