//! `ocsp man --out DIR` (hidden): the manual pages, generated so they cannot drift from
//! what they describe.
//!
//! - `ocsp.1` and one `ocsp-SUBCOMMAND.1` per visible subcommand, from the command-line
//!   definition (clap_mangen): every flag with its help text.
//! - `ocsp.toml.5`, the configuration file, from `docs/configuration.md` (compiled in;
//!   see [`config_page`]), whose key tables a test holds to `examples/ocsp.toml` and to
//!   the configuration structs.
//!
//! Pages are dated with the source commit's date (`SOURCE_DATE_EPOCH` when set), so a
//! rebuild of the same commit writes the same bytes. The Debian package runs this at
//! build time (`scripts/package.sh`).

pub mod config_page;

use crate::cli::Cli;
use anyhow::Context;
use clap::CommandFactory;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The date on every page (`YYYY-MM-DD`).
pub const DATE: &str = env!("OCSP_SOURCE_DATE");

/// The manual the pages belong to.
pub const MANUAL: &str = "ocsp manual";

/// Flags of `ocsp man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write the pages into (created if absent).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

fn source() -> String {
    format!("ocsp {}", crate::build_info::VERSION)
}

/// Write every page into `dir`; returns the files written.
pub fn write_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the directory", dir.display()))?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    fn walk(cmd: &clap::Command, dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
        let page = clap_mangen::Man::new(cmd.clone())
            .title(name.to_ascii_uppercase())
            .date(DATE)
            .source(source())
            .manual(MANUAL);
        let mut roff = Vec::new();
        page.render(&mut roff)
            .with_context(|| format!("{name}: cannot render the manual page"))?;
        let path = dir.join(page.get_filename());
        std::fs::write(&path, tidy(&String::from_utf8_lossy(&roff)))
            .with_context(|| format!("{}: cannot write", path.display()))?;
        out.push(path);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, dir, out)?;
        }
        Ok(())
    }
    walk(&cmd, dir, &mut written)?;
    let path = dir.join("ocsp.toml.5");
    std::fs::write(&path, tidy(&config_page::render(DATE, &source(), MANUAL)))
        .with_context(|| format!("{}: cannot write", path.display()))?;
    written.push(path);
    Ok(written)
}

/// Longest text line written (`mandoc -T lint` asks for at most 80 bytes).
const MAX_LINE: usize = 80;

/// Make clap_mangen's roff pass `mandoc -T lint` with nothing to say: no trailing
/// whitespace, no `.br`/blank/`.br` runs (one `.sp` instead), and text lines folded at
/// spaces to at most [`MAX_LINE`] bytes. Control lines, the tag line after `.TP` and
/// no-fill (`.nf` … `.fi`) blocks are kept as they are; a folded line that would start
/// with `.` or `'` is protected with `\&`; a space escaped as `\ ` is never a fold.
pub fn tidy(roff: &str) -> String {
    let lines: Vec<&str> = roff.lines().map(str::trim_end).collect();
    let mut kept: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if lines[i] == ".br" && lines.get(i + 1) == Some(&"") && lines.get(i + 2) == Some(&".br") {
            kept.push(".sp".into());
            i += 3;
            continue;
        }
        kept.push(lines[i].to_string());
        i += 1;
    }
    let mut out = String::with_capacity(roff.len() + 256);
    let mut no_fill = false;
    let mut after_tp = false;
    for line in kept {
        let control = line.starts_with('.') || line.starts_with('\'');
        if control {
            let name = line[1..].split_whitespace().next().unwrap_or("");
            match name {
                "nf" | "EX" => no_fill = true,
                "fi" | "EE" => no_fill = false,
                _ => {}
            }
            after_tp = name == "TP";
            out.push_str(&line);
            out.push('\n');
            continue;
        }
        if no_fill || after_tp || line.len() <= MAX_LINE {
            after_tp = false;
            out.push_str(&line);
            out.push('\n');
            continue;
        }
        fold(&line, &mut out);
    }
    out
}

/// Append `line` folded at unescaped spaces into lines of at most [`MAX_LINE`] bytes
/// (a word longer than that stays whole).
fn fold(line: &str, out: &mut String) {
    let bytes = line.as_bytes();
    let mut start = 0;
    while line.len() - start > MAX_LINE {
        let window = &line[start..];
        let mut cut = None;
        for (at, _) in window.match_indices(' ') {
            let abs = start + at;
            if abs > start && bytes[abs - 1] == b'\\' {
                continue;
            }
            if at > MAX_LINE && cut.is_some() {
                break;
            }
            cut = Some(abs);
            if at > MAX_LINE {
                break;
            }
        }
        let Some(cut) = cut.filter(|c| *c > start) else {
            break;
        };
        push_text(&line[start..cut], out);
        start = cut + 1;
    }
    push_text(&line[start..], out);
}

fn push_text(text: &str, out: &mut String) {
    if text.starts_with('.') || text.starts_with('\'') {
        out.push_str("\\&");
    }
    out.push_str(text);
    out.push('\n');
}

/// Run `ocsp man`.
pub fn run(args: Args) -> ExitCode {
    match write_pages(&args.out) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ocsp man: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_visible_subcommand_and_the_config_page() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let files = write_pages(dir.path()).unwrap_or_else(|e| panic!("{e:#}"));
        let names: Vec<String> = files
            .iter()
            .filter_map(|f| f.file_name()?.to_str().map(str::to_string))
            .collect();
        for want in [
            "ocsp.1",
            "ocsp-serve.1",
            "ocsp-query.1",
            "ocsp-inspect.1",
            "ocsp-demo.1",
            "ocsp-presign.1",
            "ocsp-check-config.1",
            "ocsp-completions.1",
            "ocsp.toml.5",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        assert!(
            !names.iter().any(|n| n == "ocsp-man.1"),
            "hidden: {names:?}"
        );
        let serve = std::fs::read_to_string(dir.path().join("ocsp-serve.1")).unwrap_or_default();
        assert!(serve.contains("metrics\\-listen"), "flags documented");
        assert!(serve.contains(DATE));
        assert!(serve.contains(".TH OCSP-SERVE 1"));
    }

    #[test]
    fn tidy_folds_text_but_not_controls_tags_or_no_fill() {
        let long = "word ".repeat(30);
        let page = format!(
            ".TH X 1\n.TP\n{long}\n{long}\n.nf\n{long}\n.fi\n.br\n\n.br\nend  \n{}x .y \\ z\n",
            "a".repeat(79)
        );
        let t = tidy(&page);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[2], long.trim_end(), "tag line kept");
        assert!(lines[3].len() <= MAX_LINE && lines[3].starts_with("word"));
        assert!(t.contains(&format!(".nf\n{}\n.fi", long.trim_end())));
        assert!(t.contains("\n.sp\nend\n"), "{t}");
        assert!(t.contains("\n\\&.y \\ z\n"), "{t}");
        assert!(!t.lines().any(|l| l.ends_with(' ')));
    }
}
