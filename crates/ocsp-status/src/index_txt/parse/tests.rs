#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::index_txt::lex::find_byte;

const MAX_TIME: u64 = Timestamp::LAST_GENERALIZED.0;
use proptest::prelude::*;

const P: &str = "/ca/index.txt";

fn one(line: &str) -> Result<IndexEntry, IndexError> {
    parse(format!("{line}\n").as_bytes(), Path::new(P)).map(|mut v| {
        assert_eq!(v.len(), 1);
        v.remove(0)
    })
}

fn err(text: &str) -> IndexError {
    parse(text.as_bytes(), Path::new(P)).unwrap_err()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::from_asn1_text(s.as_bytes()).unwrap()
}

fn revoked(e: &IndexEntry) -> Revocation {
    match e.status() {
        CertStatus::Revoked(r) => r,
        other => panic!("expected revoked, got {other:?}"),
    }
}

#[test]
fn times() {
    assert_eq!(ts("700101000000Z"), Timestamp(0));
    assert_eq!(ts("19700101000000Z"), Timestamp(0));
    assert_eq!(ts("240229123456Z"), Timestamp(1_709_210_096));
    assert_eq!(ts("20240229123456Z"), Timestamp(1_709_210_096));
    assert_eq!(ts("491231235959Z"), Timestamp(2_524_607_999));
    assert_eq!(ts("99991231235959Z"), Timestamp(MAX_TIME));
    for bad in [
        "",
        "Z",
        "230229000000Z", // not a leap year
        "241301000000Z",
        "240100000000Z",
        "240101240000Z",
        "240101006000Z",
        "240101000060Z",
        "240101000000",
        "2401010000Z",
        "240101000000+0100",
        "500101000000Z", // 1950: before 1970
        "19691231235959Z",
        "24010100000aZ",
        "240101000000z",
    ] {
        assert_eq!(Timestamp::from_asn1_text(bad.as_bytes()), None, "{bad}");
    }
    for t in [0, 1, 1_709_210_096, 2_524_607_999, 2_524_608_000, MAX_TIME] {
        let t = Timestamp(t);
        assert_eq!(
            Timestamp::from_asn1_text(t.to_asn1_text().as_bytes()),
            Some(t)
        );
        assert_eq!(
            Timestamp::from_asn1_text(t.to_generalized_text().as_bytes()),
            Some(t)
        );
    }
    assert_eq!(Timestamp(2_524_607_999).to_asn1_text(), "491231235959Z");
    assert_eq!(Timestamp(2_524_608_000).to_asn1_text(), "20500101000000Z");
}

#[test]
fn good_lines() {
    let e = one("V\t351231235959Z\t\t0A\tunknown\t/CN=a").unwrap();
    assert_eq!(e.flag, IndexFlag::Valid);
    assert_eq!(e.status(), CertStatus::Good);
    assert_eq!(e.serial, Serial::from_hex("0A").unwrap());
    assert_eq!(e.expires, ts("351231235959Z"));
    assert_eq!(e.filename, "unknown");
    assert_eq!(e.subject, "/CN=a");
    let e = one("E\t20200101000000Z\t\t00ff\tunknown\t/CN=b").unwrap();
    assert_eq!(e.flag, IndexFlag::Expired);
    assert_eq!(e.status(), CertStatus::Good);
    assert_eq!(e.serial.to_hex(), "FF");
    // An empty subject and a subject with an escaped TAB.
    assert_eq!(
        one("V\t351231235959Z\t\t01\tunknown\t").unwrap().subject,
        ""
    );
    let e = one("V\t351231235959Z\t\t01\tunk\\\tnown\t/CN=a\\\tb").unwrap();
    assert_eq!(e.filename, "unk\tnown");
    assert_eq!(e.subject, "/CN=a\tb");
}

#[test]
fn revocation_forms() {
    let t = ts("240102030405Z");
    let r = revoked(&one("R\t351231235959Z\t240102030405Z\t0B\tunknown\t/CN=a").unwrap());
    assert_eq!(r, Revocation::at(t));
    for reason in RevocationReason::ALL {
        for name in [
            reason.openssl_name().to_string(),
            reason.openssl_name().to_uppercase(),
            reason.openssl_name().to_lowercase(),
        ] {
            let line = format!("R\t351231235959Z\t240102030405Z,{name}\t0B\tunknown\t/CN=a");
            let r = revoked(&one(&line).unwrap());
            assert_eq!(r.reason, Some(reason), "{line}");
            assert_eq!(r.time, t);
        }
    }
    // GeneralizedTime revocation time.
    let r = revoked(&one("R\t351231235959Z\t20240102030405Z,superseded\t0B\tu\t/").unwrap());
    assert_eq!(r.time, t);
    assert_eq!(r.reason, Some(RevocationReason::Superseded));

    let r =
        revoked(&one("R\t351231235959Z\t240102030405Z,keyTime,20231231000000Z\t0B\tu\t/").unwrap());
    assert_eq!(r.reason, Some(RevocationReason::KeyCompromise));
    assert_eq!(r.invalidity_date, Some(ts("20231231000000Z")));
    let r = revoked(
        &one("R\t351231235959Z\t240102030405Z,CAkeyTime,20231231000000Z\t0B\tu\t/").unwrap(),
    );
    assert_eq!(r.reason, Some(RevocationReason::CaCompromise));
    assert_eq!(r.invalidity_date, Some(ts("20231231000000Z")));
    let r = revoked(
        &one("R\t351231235959Z\t240102030405Z,cakeytime,20231231000000Z\t0B\tu\t/").unwrap(),
    );
    assert_eq!(r.reason, Some(RevocationReason::CaCompromise));

    for (text, oid) in [
        ("holdInstructionReject", "1.2.840.10040.2.3"),
        ("holdInstructionNone", "1.2.840.10040.2.1"),
        ("holdinstructioncallissuer", "1.2.840.10040.2.2"),
        ("Hold Instruction Reject", "1.2.840.10040.2.3"),
        ("1.2.840.10040.2.3", "1.2.840.10040.2.3"),
        ("1.3.6.1.4.1.99.1", "1.3.6.1.4.1.99.1"),
    ] {
        let line = format!("R\t351231235959Z\t240102030405Z,holdInstruction,{text}\t0B\tu\t/");
        let r = revoked(&one(&line).unwrap());
        assert_eq!(r.reason, Some(RevocationReason::CertificateHold));
        assert_eq!(
            r.hold_instruction,
            Some(ObjectIdentifier::new(oid).unwrap())
        );
    }

    // An E line revoked before it expired is revoked.
    let e = one("E\t200101000000Z\t190101000000Z,keyCompromise\t0C\tu\t/").unwrap();
    assert_eq!(revoked(&e).reason, Some(RevocationReason::KeyCompromise));
}

#[test]
fn errors_name_line_and_fix() {
    let good = "V\t351231235959Z\t\t01\tunknown\t/CN=a\n";
    let cases: &[(&str, &str)] = &[
        ("V 351231235959Z  02 unknown /CN=b\n", "found 1"),
        ("V\t351231235959Z\t\t02\tunknown\n", "found 5"),
        (
            "V\t351231235959Z\t\t02\tunknown\t/CN=b\textra\n",
            "more than 6",
        ),
        ("X\t351231235959Z\t\t02\tunknown\t/CN=b\n", "not V, R or E"),
        ("v\t351231235959Z\t\t02\tunknown\t/CN=b\n", "not V, R or E"),
        ("V\t35123123595Z\t\t02\tunknown\t/CN=b\n", "expiry time"),
        (
            "R\t351231235959Z\t\t02\tunknown\t/CN=b\n",
            "without a revocation time",
        ),
        (
            "V\t351231235959Z\t240101000000Z\t02\tu\t/\n",
            "mark the line R",
        ),
        (
            "R\t351231235959Z\t2401010000Z\t02\tu\t/\n",
            "revocation time",
        ),
        (
            "R\t351231235959Z\t240101000000Z,\t02\tu\t/\n",
            "unknown revocation reason",
        ),
        (
            "R\t351231235959Z\t240101000000Z,stolen\t02\tu\t/\n",
            "unknown revocation",
        ),
        (
            "R\t351231235959Z\t240101000000Z,keyTime\t02\tu\t/\n",
            "without a compromise",
        ),
        (
            "R\t351231235959Z\t240101000000Z,keyTime,x\t02\tu\t/\n",
            "compromise time",
        ),
        (
            "R\t351231235959Z\t240101000000Z,holdInstruction\t02\tu\t/\n",
            "without an",
        ),
        (
            "R\t351231235959Z\t240101000000Z,holdInstruction,nope\t02\tu\t/\n",
            "not an OID",
        ),
        (
            "R\t351231235959Z\t240101000000Z,superseded,x\t02\tu\t/\n",
            "unexpected",
        ),
        ("V\t351231235959Z\t\t\tunknown\t/CN=b\n", "empty serial"),
        (
            "V\t351231235959Z\t\t0x02\tunknown\t/CN=b\n",
            "not hexadecimal",
        ),
        ("V\t351231235959Z\t\t-02\tunknown\t/CN=b\n", "negative"),
        (
            "V\t351231235959Z\t\t02\tunknown\t/CN=b",
            "does not end with a newline",
        ),
        ("V\t351231235959Z\t\t0", "does not end with a newline"),
    ];
    for (line, want) in cases {
        let e = err(&format!("{good}{line}"));
        assert_eq!(e.line, Some(2), "{line:?}: {e}");
        assert!(e.reason.contains(want), "{line:?}: {e}");
        assert!(e.reason.contains(';'), "no fix given: {e}");
        assert!(e.to_string().starts_with("/ca/index.txt:2: "), "{e}");
    }
}

#[test]
fn duplicates_name_both_lines() {
    let text = "V\t351231235959Z\t\t0A\tunknown\t/CN=a\n\
                V\t351231235959Z\t\t0B\tunknown\t/CN=b\n\
                R\t351231235959Z\t240101000000Z\t000a\tunknown\t/CN=c\n";
    let e = err(text);
    assert_eq!(e.line, Some(3));
    assert!(e.reason.contains("serial 0A"), "{e}");
    assert!(e.reason.contains("lines 1 and 3"), "{e}");
    // Serials of more than 20 octets too.
    let long = "0102030405060708090A0B0C0D0E0F101112131415";
    let text =
        format!("V\t351231235959Z\t\t{long}\tunknown\t/CN=a\nV\t351231235959Z\t\t00{long}\tu\t/\n");
    let e = err(&text);
    assert_eq!(e.line, Some(2));
    assert!(e.reason.contains("lines 1 and 2"), "{e}");
}

#[test]
fn file_shapes() {
    let p = Path::new(P);
    assert_eq!(parse(b"", p).unwrap(), vec![]);
    assert_eq!(parse(b"\n", p).unwrap(), vec![]);
    let line = "V\t351231235959Z\t\t01\tunknown\t/CN=a";
    assert_eq!(parse(format!("{line}\n\n").as_bytes(), p).unwrap().len(), 1);
    assert_eq!(
        parse(format!("{line}\n \n\t\n").as_bytes(), p)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        parse(format!("{line}\r\n").as_bytes(), p).unwrap()[0].subject,
        "/CN=a"
    );
    assert_eq!(
        parse(format!("# c\n{line}\n# d").as_bytes(), p)
            .unwrap()
            .len(),
        1
    );
    let e = err(&format!(
        "{line}\n\nV\t351231235959Z\t\t02\tunknown\t/CN=b\n"
    ));
    assert_eq!(e.line, Some(2));
    assert!(e.reason.contains("empty line"), "{e}");
    let e = err(&format!("{line}\n{}\n", "x".repeat(MAX_LINE + 1)));
    assert_eq!(e.line, Some(2));
    assert!(e.reason.contains("longer than"), "{e}");
    let e = err(&"y".repeat(3 * CHUNK));
    assert_eq!(e.line, Some(1));
    let e = err("\u{0}\u{1}binary\n");
    assert_eq!(e.line, Some(1));
}

#[test]
fn lines_across_chunks() {
    // Lines straddling the read chunk boundary parse the same.
    let mut text = String::new();
    let mut n = 0u32;
    while text.len() < 2 * CHUNK + 500 {
        n += 1;
        text.push_str(&format!(
            "V\t351231235959Z\t\t{n:X}\tunknown\t/CN=host{n}\n"
        ));
    }
    let v = parse(text.as_bytes(), Path::new(P)).unwrap();
    assert_eq!(v.len(), n as usize);
    assert_eq!(v.last().unwrap().subject, format!("/CN=host{n}"));
}

#[test]
fn to_line_forms() {
    let line = "R\t351231235959Z\t240102030405Z,keyTime,20231231000000Z\t0B\tunknown\t/CN=a";
    assert_eq!(one(line).unwrap().to_line(), line);
    let line = "R\t20510101000000Z\t240102030405Z,holdInstruction,holdInstructionReject\t\
                0B\tunknown\t/CN=a";
    assert_eq!(one(line).unwrap().to_line(), line);
    let line = "E\t200101000000Z\t\t0123\tunknown\t/CN=a\\\tb";
    assert_eq!(one(line).unwrap().to_line(), line);
    let e = one("R\t351231235959Z\t240102030405Z,KEYCOMPROMISE\t0b\tunknown\t/CN=a").unwrap();
    assert_eq!(
        e.to_line(),
        "R\t351231235959Z\t240102030405Z,keyCompromise\t0B\tunknown\t/CN=a"
    );
}

fn revocation() -> impl Strategy<Value = Revocation> {
    let time = 0..=MAX_TIME;
    let hold = prop_oneof![
        Just(ObjectIdentifier::new_unwrap("1.2.840.10040.2.1")),
        Just(ObjectIdentifier::new_unwrap("1.2.840.10040.2.3")),
        // Only OIDs const-oid encodes faithfully (its string parser mis-encodes some
        // arcs, which the index parser does not depend on).
        (1u32..100, 0u32..100_000).prop_filter_map("OID const-oid mis-encodes", |(a, b)| {
            let text = format!("1.3.6.{a}.{b}");
            ObjectIdentifier::new(&text)
                .ok()
                .filter(|o| o.to_string() == text)
        }),
    ];
    (
        time.clone(),
        proptest::option::of(0..RevocationReason::ALL.len()),
        proptest::option::of(time),
        proptest::option::of(hold),
    )
        .prop_map(|(t, reason, inval, hold)| {
            let reason = reason.map(|i| RevocationReason::ALL[i]);
            Revocation {
                time: Timestamp(t),
                reason,
                invalidity_date: inval
                    .filter(|_| {
                        matches!(
                            reason,
                            Some(RevocationReason::KeyCompromise)
                                | Some(RevocationReason::CaCompromise)
                        )
                    })
                    .map(Timestamp),
                hold_instruction: hold
                    .filter(|_| reason == Some(RevocationReason::CertificateHold)),
            }
        })
}

fn entry() -> impl Strategy<Value = IndexEntry> {
    let flag = prop_oneof![
        Just(IndexFlag::Valid),
        Just(IndexFlag::Revoked),
        Just(IndexFlag::Expired)
    ];
    (
        flag,
        0..=MAX_TIME,
        revocation(),
        proptest::collection::vec(any::<u8>(), 1..=24),
        "[a-zA-Z0-9 ./=,é\t\\\\-]{0,20}",
        "[a-zA-Z0-9 ./=,é\t\\\\-]{0,40}",
        any::<bool>(),
    )
        .prop_map(
            |(flag, expires, rev, serial, filename, subject, e_revoked)| {
                let revocation = match flag {
                    IndexFlag::Valid => None,
                    IndexFlag::Revoked => Some(rev),
                    IndexFlag::Expired => e_revoked.then_some(rev),
                };
                // A file name may not end in a backslash (it would escape the separator).
                let filename = filename.trim_end_matches('\\').to_string();
                IndexEntry {
                    flag,
                    expires: Timestamp(expires),
                    revocation,
                    serial: Serial::from_der_content(&serial),
                    filename,
                    subject,
                }
            },
        )
}

proptest! {
    #[test]
    fn to_line_round_trips(entries in proptest::collection::vec(entry(), 0..20)) {
        let mut seen = std::collections::HashSet::new();
        let entries: Vec<IndexEntry> =
            entries.into_iter().filter(|e| seen.insert(e.serial.clone())).collect();
        let mut text = String::new();
        for e in &entries {
            text.push_str(&e.to_line());
            text.push('\n');
        }
        let back = parse(text.as_bytes(), Path::new(P));
        prop_assert_eq!(back, Ok(entries));
    }

    #[test]
    fn find_byte_is_position(hay in proptest::collection::vec(0u8..4, 0..40), n in 0u8..4) {
        prop_assert_eq!(find_byte(&hay, n), hay.iter().position(|&b| b == n));
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&bytes, Path::new(P));
    }

    #[test]
    fn parsed_lines_print_back(
        flag in "[VRE]",
        rev in "(|2[0-9]0[1-9]1[0-2]2[0-3]5959Z(|,keyTime,20240101000000Z|,superseded))",
        serial in "[0-9a-fA-F]{1,44}",
        rest in "[a-z\t\\\\]{0,12}",
    ) {
        let line = format!("{flag}\t351231235959Z\t{rev}\t{serial}\t{rest}\n");
        if let Ok(v) = parse(line.as_bytes(), Path::new(P)) {
            let again = format!("{}\n", v[0].to_line());
            prop_assert_eq!(parse(again.as_bytes(), Path::new(P)), Ok(v));
        }
    }
}
