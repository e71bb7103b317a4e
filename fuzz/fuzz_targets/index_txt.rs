//! The index.txt parser on arbitrary bytes: never panics; an error names the file and a
//! line that exists; and every accepted file round-trips — each entry printed with
//! `IndexEntry::to_line` parses back to the same entry, alone and as a whole file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocsp_status::index_txt::parse;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/ca/index.txt");
    match parse(data, path) {
        Ok(entries) => {
            let mut text = String::new();
            for e in &entries {
                let line = e.to_line();
                let again = parse(format!("{line}\n").as_bytes(), path)
                    .unwrap_or_else(|err| panic!("printed line {line:?} does not parse: {err}"));
                assert_eq!(again, vec![e.clone()], "{line:?}");
                let _ = e.status();
                text.push_str(&line);
                text.push('\n');
            }
            assert_eq!(
                parse(text.as_bytes(), path).expect("printed file parses"),
                entries
            );
        }
        Err(e) => {
            assert_eq!(e.path, path);
            if let Some(l) = e.line {
                let lines = data.iter().filter(|b| **b == b'\n').count() + 1;
                assert!(l >= 1 && l <= lines, "line {l} of {lines}: {e}");
            }
            let _ = e.to_string();
        }
    }
});
