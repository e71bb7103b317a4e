//! `ocsp.toml(5)`: the configuration reference as a manual page, rendered from
//! `docs/configuration.md`, the one maintained description of every key.
//!
//! The Markdown there is simple and this reads only what it uses: `#`/`##`/`###`
//! headings, paragraphs, fenced code blocks, and `|` tables. A table whose first column is
//! `key` lists the keys of the section its heading names (`` `[server]` `` → `server`,
//! `` `[[issuer]]` `` → `issuer`, "Top level" → the top level); each row becomes one
//! tagged paragraph. Other tables become one paragraph per row with the header names.
//! Inline code is set in bold, links keep their text, and the few non-ASCII signs the
//! document uses are spelled in ASCII so every man formatter shows them.
//!
//! [`documented_keys`] gives the key tables to the test that holds them equal to
//! `examples/ocsp.toml` and to what the configuration structs accept.

use roff::{bold, roman, Inline, Roff};

/// The document, compiled in.
pub const SOURCE: &str = include_str!("../../../../../docs/configuration.md");

/// One piece of the document.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Heading(usize, String),
    Paragraph(String),
    Code(Vec<String>),
    Table(Vec<Vec<String>>),
}

fn blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = md.lines().peekable();
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut Vec<Block>| {
        if !para.is_empty() {
            out.push(Block::Paragraph(para.join(" ")));
            para.clear();
        }
    };
    while let Some(line) = lines.next() {
        let t = line.trim_end();
        if t.starts_with("```") {
            flush(&mut para, &mut out);
            let mut code = Vec::new();
            for l in lines.by_ref() {
                if l.trim_end().starts_with("```") {
                    break;
                }
                code.push(l.to_string());
            }
            out.push(Block::Code(code));
        } else if t.starts_with('#') {
            flush(&mut para, &mut out);
            let level = t.chars().take_while(|c| *c == '#').count();
            out.push(Block::Heading(level, t[level..].trim().to_string()));
        } else if t.starts_with('|') {
            flush(&mut para, &mut out);
            let mut rows = vec![cells(t)];
            while let Some(next) = lines.peek() {
                if !next.trim_start().starts_with('|') {
                    break;
                }
                let row = cells(next.trim());
                lines.next();
                if !row
                    .iter()
                    .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
                {
                    rows.push(row);
                }
            }
            out.push(Block::Table(rows));
        } else if t.trim().is_empty() {
            flush(&mut para, &mut out);
        } else {
            para.push(t.trim());
        }
    }
    flush(&mut para, &mut out);
    out
}

/// The cells of a `| a | b \| c |` row (`\|` is a literal bar).
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(last) = out.last_mut() {
                    last.push('|');
                }
            }
            '|' => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

/// ASCII for the signs the document uses.
fn ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '✓' => out.push_str("yes"),
            '—' | '–' | '−' => out.push('-'),
            '→' => out.push_str("->"),
            '…' => out.push_str("..."),
            '≥' => out.push_str(">="),
            '≤' => out.push_str("<="),
            '§' => out.push_str("section "),
            '‖' => out.push_str("||"),
            'µ' => out.push('u'),
            '×' => out.push('x'),
            '‘' | '’' => out.push('\''),
            '“' | '”' => out.push('"'),
            c if c.is_ascii() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// Inline Markdown (code spans, links, emphasis marks) as roff inlines.
fn inline(md: &str) -> Vec<Inline> {
    let md = ascii(md);
    let mut out = Vec::new();
    let mut rest = md.as_str();
    let mut plain = String::new();
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            if let Some(end) = rest[1..].find('`') {
                if !plain.is_empty() {
                    out.push(roman(std::mem::take(&mut plain)));
                }
                out.push(bold(&rest[1..1 + end]));
                rest = &rest[end + 2..];
                continue;
            }
        }
        if c == '[' {
            // [text](target) → text
            if let Some(close) = rest.find("](") {
                if let Some(end) = rest[close..].find(')') {
                    let text = &rest[1..close];
                    if !text.contains('[') {
                        if !plain.is_empty() {
                            out.push(roman(std::mem::take(&mut plain)));
                        }
                        out.extend(inline(text));
                        rest = &rest[close + end + 1..];
                        continue;
                    }
                }
            }
        }
        if c == '*' && rest.starts_with("**") {
            rest = &rest[2..];
            continue;
        }
        plain.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !plain.is_empty() {
        out.push(roman(plain));
    }
    out
}

/// The configuration section a heading names: `` `[server.limits]` `` → `server.limits`,
/// `` `[[issuer]]` (one per served CA) `` → `issuer`, "Top level" → "".
fn section_of(heading: &str) -> Option<String> {
    if heading.eq_ignore_ascii_case("top level") {
        return Some(String::new());
    }
    let code = heading.strip_prefix('`')?;
    let code = &code[..code.find('`')?];
    Some(
        code.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

/// Every (section, key) the key tables document, in order; the section is `""` for the
/// top level and `issuer` for `[[issuer]]`.
#[cfg(test)]
pub fn documented_keys() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    for b in blocks(SOURCE) {
        match b {
            Block::Heading(_, h) => section = section_of(&h),
            Block::Table(rows)
                if rows.first().and_then(|r| r.first()).map(String::as_str) == Some("key") =>
            {
                if let Some(s) = &section {
                    for row in &rows[1..] {
                        if let Some(k) = row.first() {
                            out.push((s.clone(), k.trim_matches('`').to_string()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The page, in roff (man(7) macros), ASCII only.
pub fn render(date: &str, source: &str, manual: &str) -> String {
    let mut r = Roff::new();
    r.control("TH", ["OCSP.TOML", "5", date, source, manual]);
    r.control("SH", ["NAME"]);
    r.text([roman(
        "ocsp.toml - configuration file of the ocsp OCSP responder",
    )]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([bold("/etc/ocsp/ocsp.toml")]);
    r.control("SH", ["DESCRIPTION"]);
    let mut first_heading = true;
    let mut section: Option<String> = None;
    // A paragraph macro right after a heading is redundant (mandoc says so).
    let mut headed = true;
    for b in blocks(SOURCE) {
        let was_headed = std::mem::replace(&mut headed, matches!(b, Block::Heading(..)));
        let pp = |r: &mut Roff| {
            if !was_headed {
                r.control("PP", [] as [&str; 0]);
            }
        };
        match b {
            Block::Heading(1, _) => {}
            Block::Heading(level, h) => {
                section = section_of(&h);
                let title = ascii(&h.replace('`', ""));
                if level == 2 && first_heading {
                    r.control("SH", ["KEYS"]);
                    first_heading = false;
                }
                if level == 2 && section.is_none() {
                    r.control("SH", [title.to_ascii_uppercase().as_str()]);
                } else {
                    r.control("SS", [title.as_str()]);
                }
            }
            Block::Paragraph(p) => {
                pp(&mut r);
                r.text(inline(&p));
            }
            Block::Code(lines) => {
                pp(&mut r);
                r.control("RS", ["4"]);
                r.control("nf", [] as [&str; 0]);
                for l in lines {
                    r.text([roman(ascii(&l))]);
                }
                r.control("fi", [] as [&str; 0]);
                r.control("RE", [] as [&str; 0]);
            }
            Block::Table(rows) => {
                let Some((head, body)) = rows.split_first() else {
                    continue;
                };
                let is_keys = head.first().map(String::as_str) == Some("key");
                for row in body {
                    r.control("TP", [] as [&str; 0]);
                    let first = row.first().map(String::as_str).unwrap_or("");
                    if is_keys && section.is_some() {
                        r.text([bold(first.trim_matches('`'))]);
                    } else {
                        r.text(inline(first));
                    }
                    let mut text: Vec<Inline> = Vec::new();
                    for (h, cell) in head.iter().zip(row).skip(1) {
                        if h == "meaning" {
                            continue;
                        }
                        let mut name = ascii(h);
                        if let Some(c) = name.get_mut(..1) {
                            c.make_ascii_uppercase();
                        }
                        text.push(roman(format!("{name}: ")));
                        text.extend(inline(cell));
                        text.push(roman(". "));
                    }
                    if let Some(i) = head.iter().position(|h| h == "meaning") {
                        if let Some(m) = row.get(i) {
                            text.extend(inline(m));
                        }
                    }
                    r.text(text);
                }
            }
        }
    }
    r.control("SH", ["FILES"]);
    r.control("TP", [] as [&str; 0]);
    r.text([bold("/etc/ocsp/ocsp.toml")]);
    r.text([roman(
        "The configuration the packaged systemd unit (ocsp.service) serves.",
    )]);
    r.control("TP", [] as [&str; 0]);
    r.text([bold("/usr/share/doc/ocsp/examples/ocsp.toml")]);
    r.text([roman("A commented example with every key.")]);
    r.control("SH", ["SEE ALSO"]);
    r.text([
        bold("ocsp-serve"),
        roman("(1), "),
        bold("ocsp-check-config"),
        roman("(1), "),
        bold("ocsp"),
        roman("(1)"),
    ]);
    r.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const EXAMPLE: &str = include_str!("../../../../../examples/ocsp.toml");

    /// (section, key) of every key in the example, set or commented out.
    fn example_keys() -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        let mut section = String::new();
        for line in EXAMPLE.lines() {
            let l = line.trim_start_matches('#').trim();
            if l.starts_with('[') {
                let end = l.find(']').unwrap_or(l.len());
                section = l[..end].trim_start_matches('[').to_string();
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                continue;
            };
            let k = k.trim();
            if !v.trim().is_empty()
                && !k.is_empty()
                && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                out.insert((section.clone(), k.to_string()));
            }
        }
        out
    }

    /// The keys the configuration structs accept in `section`, as serde's unknown-field
    /// error lists them.
    fn accepted_keys(section: &str) -> BTreeSet<String> {
        let text = match section {
            "" => "no_such_key = 1\n".to_string(),
            "issuer" => "[[issuer]]\nno_such_key = 1\n".to_string(),
            "crl" => "[[crl]]\nno_such_key = 1\n".to_string(),
            // A tagged table: the keys of its one variant, and the tag.
            "issuer.status" => {
                let mut keys = accepted_keys_of(
                    "[[issuer]]\nca = \"a\"\n[issuer.status]\ntype = \"index_txt\"\npath = \"p\"\nno_such_key = 1\n",
                    section,
                );
                keys.insert("type".to_string());
                // Every backend's keys share the table.
                keys.extend(accepted_keys_of(
                    "[[issuer]]\nca = \"a\"\n[issuer.status]\ntype = \"crl\"\nlocations = []\nno_such_key = 1\n",
                    section,
                ));
                keys.extend(accepted_keys_of(
                    "[[issuer]]\nca = \"a\"\n[issuer.status]\ntype = \"postgres\"\nno_such_key = 1\n",
                    section,
                ));
                return keys;
            }
            s => format!("[{s}]\nno_such_key = 1\n"),
        };
        accepted_keys_of(&text, section)
    }

    fn accepted_keys_of(text: &str, section: &str) -> BTreeSet<String> {
        let err = ocsp_responder::config::Config::from_toml(text, std::path::Path::new("t.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let list = err
            .split_once("expected one of")
            .or_else(|| err.split_once("expected"))
            .map(|(_, l)| l)
            .unwrap_or_else(|| panic!("[{section}]: no field list in {err:?}"));
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn documented_keys_are_the_example_keys() {
        let documented: BTreeSet<(String, String)> = documented_keys().into_iter().collect();
        let example = example_keys();
        assert!(documented.len() > 40, "{documented:?}");
        let undocumented: Vec<_> = example.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "keys in examples/ocsp.toml missing from the tables of docs/configuration.md: {undocumented:?}"
        );
        let not_in_example: Vec<_> = documented.difference(&example).collect();
        assert!(
            not_in_example.is_empty(),
            "keys of docs/configuration.md missing from examples/ocsp.toml: {not_in_example:?}"
        );
    }

    #[test]
    fn documented_keys_are_what_the_config_structs_accept() {
        let documented: BTreeSet<(String, String)> = documented_keys().into_iter().collect();
        let sections: BTreeSet<&str> = documented.iter().map(|(s, _)| s.as_str()).collect();
        for s in sections {
            let doc: BTreeSet<String> = documented
                .iter()
                .filter(|(sec, _)| sec == s)
                .map(|(_, k)| k.clone())
                .collect();
            let mut accepted = accepted_keys(s);
            // Tables nested in a section are documented under their own heading.
            let nested: Vec<String> = accepted
                .iter()
                .filter(|k| {
                    let full = if s.is_empty() {
                        (*k).clone()
                    } else {
                        format!("{s}.{k}")
                    };
                    documented.iter().any(|(sec, _)| *sec == full)
                        || (s.is_empty() && *k == "issuer")
                })
                .cloned()
                .collect();
            for n in nested {
                accepted.remove(&n);
            }
            assert_eq!(
                doc, accepted,
                "[{s}]: documented vs accepted by the structs"
            );
        }
    }

    #[test]
    fn page_is_ascii_roff_with_every_key() {
        let page = render("2026-01-01", "ocsp 0", "ocsp manual");
        assert!(page.is_ascii());
        assert!(page.contains("\n.TH OCSP.TOML 5 2026-01-01"), "{page}");
        assert!(!page.contains('`'), "code spans converted");
        for (_, key) in documented_keys() {
            assert!(page.contains(&format!("\\fB{key}\\fR")), "{key} missing");
        }
        assert!(
            !page.lines().any(|l| l.starts_with('\'')),
            "no stray control lines"
        );
    }
}
