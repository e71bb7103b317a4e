//! Property tests for index.txt lines (issue 5, point 1): parse/print round trips, exact
//! line numbers in errors, and the loaded table agreeing with the parsed entries.
//!
//! - Any entry `openssl ca` can write (V/R/E, UTCTime and GeneralizedTime, every
//!   revocation form, serials of any length, file names and subjects with escaped TABs
//!   and any other characters) prints with `IndexEntry::to_line` to a line that parses
//!   back to the same entry, alone and inside a file.
//! - A bad line anywhere is reported at its own line number; a file cut short (no final
//!   newline) is reported at its last line; a repeated serial is refused.
//! - `IndexTxtSource` loaded from such a file answers every serial with exactly the status
//!   of its entry, and serials not in the file with no record.
//! - Arbitrary bytes never panic the parser, and an error names a line that exists.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ocsp_proto::const_oid::ObjectIdentifier;
use ocsp_proto::{Revocation, RevocationReason, Serial, Timestamp};
use ocsp_status::index_txt::{parse, IndexEntry, IndexFlag, IndexTxtSource};
use proptest::prelude::*;
use std::collections::HashSet;
use std::path::Path;

/// 1970-01-01 .. 9999-12-31T23:59:59Z: what both time forms of the file can hold.
fn time() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        // Mostly the UTCTime years (1970..2049), often 2050 and later (GeneralizedTime).
        3 => (0u64..2_524_608_000).prop_map(Timestamp),
        1 => (2_524_608_000u64..=253_402_300_799).prop_map(Timestamp),
    ]
}

fn hold_oid() -> impl Strategy<Value = ObjectIdentifier> {
    prop_oneof![
        Just(ObjectIdentifier::new_unwrap("1.2.840.10040.2.1")),
        Just(ObjectIdentifier::new_unwrap("1.2.840.10040.2.2")),
        Just(ObjectIdentifier::new_unwrap("1.2.840.10040.2.3")),
        // Arcs below 128 only: const-oid 0.9.6 builds wrong bytes from the strings
        // "….128" and "….16384" to "….32767" (RustCrypto/formats#1520), so such a dotted
        // hold instruction does not survive index.txt today (reported).
        (0u32..3, 0u32..40, prop::collection::vec(0u32..128, 1..5)).prop_map(|(a, b, rest)| {
            let mut s = format!("{a}.{b}");
            for r in rest {
                s.push_str(&format!(".{r}"));
            }
            ObjectIdentifier::new(&s).unwrap()
        }),
    ]
}

/// Every revocation form openssl ca writes: time only, time and reason, keyTime /
/// CAkeyTime with an invalidity date, holdInstruction with an OID.
fn revocation() -> impl Strategy<Value = Revocation> {
    let reason = prop::sample::select(RevocationReason::ALL.to_vec());
    prop_oneof![
        time().prop_map(Revocation::at),
        (time(), reason).prop_map(|(t, r)| {
            let mut rev = Revocation::at(t);
            rev.reason = Some(r);
            rev
        }),
        (time(), time(), any::<bool>()).prop_map(|(t, d, ca)| {
            let mut rev = Revocation::at(t);
            rev.reason = Some(if ca {
                RevocationReason::CaCompromise
            } else {
                RevocationReason::KeyCompromise
            });
            rev.invalidity_date = Some(d);
            rev
        }),
        (time(), hold_oid()).prop_map(|(t, oid)| {
            let mut rev = Revocation::at(t);
            rev.reason = Some(RevocationReason::CertificateHold);
            rev.hold_instruction = Some(oid);
            rev
        }),
    ]
}

/// A file-name or subject field: any characters but a newline, TABs (escaped on
/// output) and backslashes included; not ending in a backslash or CR (which the format
/// cannot carry there).
fn text_field() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            6 => any::<char>().prop_filter("no newline", |c| *c != '\n'),
            2 => prop::sample::select(vec!['/', '=', ' ', ',', 'C', 'N']),
            1 => Just('\t'),
            1 => Just('\\'),
        ],
        0..40,
    )
    .prop_map(|v| v.into_iter().collect::<String>())
    .prop_filter("not ending in a backslash or CR", |s| {
        !s.ends_with('\\') && !s.ends_with('\r')
    })
}

fn serial() -> impl Strategy<Value = Serial> {
    prop::collection::vec(any::<u8>(), 1..32).prop_map(|b| Serial::from_der_content(&b))
}

fn entry() -> impl Strategy<Value = IndexEntry> {
    (
        0u8..3,
        time(),
        revocation(),
        any::<bool>(),
        serial(),
        text_field(),
        text_field(),
    )
        .prop_map(|(f, expires, rev, e_revoked, serial, filename, subject)| {
            let (flag, revocation) = match f {
                0 => (IndexFlag::Valid, None),
                1 => (IndexFlag::Revoked, Some(rev)),
                _ => (IndexFlag::Expired, e_revoked.then_some(rev)),
            };
            IndexEntry {
                flag,
                expires,
                revocation,
                serial,
                filename,
                subject,
            }
        })
}

/// Entries with distinct serials.
fn entries(max: usize) -> impl Strategy<Value = Vec<IndexEntry>> {
    prop::collection::vec(entry(), 0..max).prop_map(|v| {
        let mut seen = HashSet::new();
        v.into_iter()
            .filter(|e| seen.insert(e.serial.clone()))
            .collect()
    })
}

fn file_of(entries: &[IndexEntry]) -> String {
    entries.iter().map(|e| e.to_line() + "\n").collect()
}

const PATH: &str = "/ca/index.txt";

/// Lines that are wrong in one field each.
fn bad_line() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "V\t351231235959Z\t\t1001\tunknown",               // 5 fields
        "V\t351231235959Z\t\t1001\tunknown\t/CN=a\textra", // 7 fields
        "X\t351231235959Z\t\t1001\tunknown\t/CN=a",        // bad flag
        "V\t35123123595Z\t\t1001\tunknown\t/CN=a",         // bad time
        "V\t351231235959Z\t240101000000Z\t1001\tunknown\t/CN=a", // V with revocation
        "R\t351231235959Z\t\t1001\tunknown\t/CN=a",        // R without revocation
        "R\t351231235959Z\t240101000000Z,nonsense\t1001\tunknown\t/CN=a",
        "R\t351231235959Z\t240101000000Z,keyTime\t1001\tunknown\t/CN=a",
        "V\t351231235959Z\t\t10G1\tunknown\t/CN=a", // not hex
        "V\t351231235959Z\t\t\tunknown\t/CN=a",     // empty serial
        "V\t351231235959Z\t\t-1001\tunknown\t/CN=a", // negative
        "V 351231235959Z  1001 unknown /CN=a",      // spaces for TABs
    ])
    .prop_map(str::to_string)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn line_round_trip(e in entry()) {
        let line = e.to_line();
        prop_assert!(!line.contains('\n'));
        let back = parse(format!("{line}\n").as_bytes(), Path::new(PATH));
        prop_assert_eq!(back, Ok(vec![e.clone()]), "{:?}", line);
        // CRLF line ends are read too.
        prop_assert_eq!(parse(format!("{line}\r\n").as_bytes(), Path::new(PATH)), Ok(vec![e]));
    }

    #[test]
    fn file_round_trip(es in entries(24)) {
        let text = file_of(&es);
        prop_assert_eq!(parse(text.as_bytes(), Path::new(PATH)), Ok(es.clone()));
        // Comments anywhere and blank lines at the end change nothing.
        let mut commented = String::from("# written by a test\n");
        for e in &es {
            commented.push_str(&e.to_line());
            commented.push_str("\n# comment\n");
        }
        commented.push_str("\n\n");
        prop_assert_eq!(parse(commented.as_bytes(), Path::new(PATH)), Ok(es));
    }

    #[test]
    fn a_bad_line_is_reported_at_its_line(es in entries(12), at in any::<prop::sample::Index>(), bad in bad_line()) {
        // Give the bad line a serial no entry has, so it is its own fault being reported.
        let mut lines: Vec<String> = es.iter().map(IndexEntry::to_line).collect();
        let k = at.index(lines.len() + 1);
        lines.insert(k, bad.clone());
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let err = parse(text.as_bytes(), Path::new(PATH)).expect_err("a bad line is refused");
        prop_assert_eq!(err.line, Some(k + 1), "{}", err);
        prop_assert_eq!(err.path.as_path(), Path::new(PATH));
        let shown = err.to_string();
        let prefix = format!("{PATH}:{}: ", k + 1);
        prop_assert!(shown.starts_with(&prefix), "{}", shown);
    }

    #[test]
    fn a_file_cut_short_is_refused(es in entries(12).prop_filter("non-empty", |v| !v.is_empty()), cut in 1usize..40) {
        // The last line loses its newline and possibly more: never read as a shorter entry.
        let text = file_of(&es);
        let keep = text.len().saturating_sub(cut).max(1);
        let mut cut_text = text.as_bytes()[..keep].to_vec();
        if cut_text.ends_with(b"\n") {
            cut_text.pop();
        }
        let lines = cut_text.iter().filter(|b| **b == b'\n').count() + 1;
        match parse(&cut_text, Path::new(PATH)) {
            Err(e) => prop_assert!(e.line.is_some_and(|l| l <= lines), "{}", e),
            Ok(v) => prop_assert!(false, "a file without its final newline was accepted: {:?}", v),
        }
    }

    #[test]
    fn a_repeated_serial_is_refused(es in entries(10).prop_filter("non-empty", |v| !v.is_empty()), pick in any::<prop::sample::Index>(), e in entry()) {
        let dup = IndexEntry { serial: es[pick.index(es.len())].serial.clone(), ..e };
        let mut all = es.clone();
        all.push(dup);
        let err = parse(file_of(&all).as_bytes(), Path::new(PATH)).expect_err("duplicate serial");
        let first = pick.index(es.len()) + 1;
        let second = all.len();
        prop_assert!(err.line == Some(first) || err.line == Some(second), "{}", err);
        let other = if err.line == Some(first) { second } else { first };
        prop_assert!(err.reason.contains(&other.to_string()), "both lines named: {}", err);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
        if let Err(e) = parse(&bytes, Path::new(PATH)) {
            prop_assert!(e.line.is_none_or(|l| l >= 1 && l <= lines), "{}", e);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn loaded_table_answers_exactly_the_entries(es in entries(64), probes in prop::collection::vec(serial(), 0..16)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.txt");
        std::fs::write(&path, file_of(&es)).unwrap();
        let src = IndexTxtSource::open(&path).unwrap();
        let snap = src.snapshot();
        prop_assert_eq!(snap.len(), es.len());
        prop_assert_eq!(snap.revoked(), es.iter().filter(|e| e.revocation.is_some()).count());
        for e in &es {
            prop_assert_eq!(snap.get(&e.serial), Some(e.status()), "serial {}", e.serial);
        }
        let known: HashSet<_> = es.iter().map(|e| e.serial.clone()).collect();
        for p in probes.iter().filter(|p| !known.contains(*p)) {
            prop_assert_eq!(snap.get(p), None, "serial {} is not in the file", p);
        }
    }
}

/// A dotted hold instruction is either refused with its line or kept exactly
/// (const-oid 0.9.6's string parser mis-encodes arcs 128 and 16384..32767,
/// RustCrypto/formats#1520, so the index parser encodes dotted OIDs itself).
#[test]
fn dotted_hold_instruction_is_kept_exactly_or_refused() {
    for oid in ["1.2.128", "1.2.16384", "1.3.6.1.4.1.16385.1"] {
        let line =
            format!("R\t351231235959Z\t240101000000Z,holdInstruction,{oid}\t01\tunknown\t/CN=a\n");
        if let Ok(es) = parse(line.as_bytes(), Path::new(PATH)) {
            let got = es[0].revocation.as_ref().and_then(|r| r.hold_instruction);
            let got = got.map(|o| o.to_string());
            assert_eq!(
                got.as_deref(),
                Some(oid),
                "holdInstruction {oid} read as another OID"
            );
        }
    }
}

/// Found by the `index_txt` fuzz target: a dotted hold instruction with an arc of 2^28 or
/// more (`1.2.840110040.2.2`) made the parser panic inside const-oid's `Display`
/// ("OID malformed: ArcTooBig"), which const-oid's `from_bytes` accepts but cannot print.
/// A bad line must be refused with its line number (or kept exactly), never a panic: at
/// start a panic is a crash instead of `file:line: why`; on reload every request would be
/// answered internalError instead of from the last good state.
#[test]
fn a_hold_instruction_arc_too_big_for_const_oid_is_refused_not_a_panic() {
    for oid in [
        "1.2.840110040.2.2",
        "1.2.268435456",
        "2.4294967295.1",
        "1.2.99999999999999999999",
    ] {
        let line = format!(
            "R\t491231235959Z\t240101000000Z,holdInstruction,{oid}\t0B\tunknown\t/CN=hold\n"
        );
        let outcome = std::panic::catch_unwind(|| match parse(line.as_bytes(), Path::new(PATH)) {
            Ok(es) => {
                // Kept: then exactly, and printable.
                let back = es[0].to_line();
                assert!(back.contains(oid), "holdInstruction {oid} kept as {back:?}");
                true
            }
            Err(e) => {
                assert_eq!(e.line, Some(1), "{e}");
                false
            }
        });
        assert!(
            outcome.is_ok(),
            "holdInstruction {oid} panicked the index parser"
        );
    }
}

/// Found by the `index_txt` fuzz target: a line whose last field ends in carriage returns
/// (`…/CN=x\r\r\n`) parsed to a subject ending in `\r` (only one CR was taken as part of
/// the line end), which `to_line` printed as is, so the next parse took one more CR away.
/// Every CR before the LF now belongs to the line end.
#[test]
fn a_subject_ending_in_carriage_returns_round_trips() {
    for tail in ["\r", "\r\r", "\r\r\r"] {
        let line = format!("V\t491231235959Z\t\t2004\tunknown\t/CN=x{tail}\n");
        let es = parse(line.as_bytes(), Path::new(PATH)).unwrap();
        let again = parse(format!("{}\n", es[0].to_line()).as_bytes(), Path::new(PATH)).unwrap();
        assert_eq!(
            again,
            es,
            "line ending in {} CR before the newline",
            tail.len()
        );
    }
}
