//! One verdict per request head: the HTTP/1.1 fast path and hyper, fed the same bytes
//! (hyper over an in-memory stream), take the same steps up to the fast path's hand-off
//! (`ocsp_responder::http::differential` states the rule).
//!
//! The bytes are request heads built from the pieces that have split parsers before:
//! Content-Length spellings (signs, spaces, lists, hex, repeats, overflow),
//! Transfer-Encoding, obs-fold, bare CR and LF, odd targets and versions, oversized
//! heads, pipelined follow-ups; then, sometimes, one byte changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ocsp_responder::config::Limits;
use ocsp_responder::http::differential::{check, compare, fast_path, hyper, Step};
use proptest::prelude::*;

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["GET", "HEAD", "POST", "PUT", "get", "OPTIONS", "G\tT"])
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_string()),
        Just("/MEIwQDA%2BMDwwOjAJ?x=1".to_string()),
        Just("/a#frag".to_string()),
        Just("/a b".to_string()),
        Just("*".to_string()),
        Just("http://a/b".to_string()),
        Just("/\u{e9}".to_string()),
        Just("/a\"b{c}|d^e`".to_string()),
        Just("//double".to_string()),
        "/[a-zA-Z0-9%+/=_.~-]{0,40}",
        Just(format!("/{}", "a".repeat(21 * 1024))),
    ]
}

fn version() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "http/1.1", "HTTP/2.0",
    ])
}

fn eol() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["\r\n", "\r\n", "\r\n", "\n", "\r", "\n\r"])
}

fn header() -> impl Strategy<Value = String> {
    let length = prop::sample::select(vec![
        "0",
        "3",
        "03",
        "+3",
        "-3",
        " 3",
        "3 ",
        "1 2",
        "0x10",
        "3,3",
        "3, 3",
        "",
        "1e1",
        "99999999999999999999",
        "\u{663}",
    ]);
    prop_oneof![
        Just("Host: a".to_string()),
        length.prop_map(|v| format!("Content-Length: {v}")),
        prop::sample::select(vec![
            "chunked",
            "gzip, chunked",
            "identity",
            "chunked, gzip"
        ])
        .prop_map(|v| format!("Transfer-Encoding: {v}")),
        prop::sample::select(vec!["close", "keep-alive", "Close, keep-alive", "upgrade"])
            .prop_map(|v| format!("Connection: {v}")),
        prop::sample::select(vec!["\"ab\"", "W/\"ab\", \"cd\"", "*", "\"\u{e9}\""])
            .prop_map(|v| format!("If-None-Match: {v}")),
        Just("X-Folded: a\r\n b".to_string()),
        Just("Bad Name: x".to_string()),
        Just("X-Ctl: a\u{1}b".to_string()),
        Just("Expect: 100-continue".to_string()),
        Just("Upgrade: h2c".to_string()),
        Just(": empty".to_string()),
        Just("X-Space : x".to_string()),
        Just(format!("X-Big: {}", "b".repeat(8 * 1024))),
    ]
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    (
        method(),
        target(),
        version(),
        eol(),
        prop::collection::vec(header(), 0..6),
        prop::collection::vec(any::<u8>(), 0..6),
    )
        .prop_map(|(m, t, v, eol, headers, body)| {
            let mut r = format!("{m} {t} {v}{eol}");
            for h in headers {
                r.push_str(&h);
                r.push_str(eol);
            }
            r.push_str(eol);
            let mut r = r.into_bytes();
            r.extend(body);
            r
        })
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(request(), 1..4),
        prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
    )
        .prop_map(|(requests, flip)| {
            let mut bytes = requests.concat();
            if let Some((at, b)) = flip {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_fast_path_and_hyper_agree(bytes in stream()) {
        if let Err(e) = check(&bytes) {
            prop_assert!(false, "{e}\ninput: {:?}", String::from_utf8_lossy(&bytes));
        }
    }
}

/// The cases that once split the two parsers, and what each side does with them.
#[test]
fn known_splits_agree() {
    let limits = Limits::default();
    for value in ["+3", "-3", "1 2", "0x10", "3, 3", " 3 x"] {
        let bytes = format!("POST / HTTP/1.1\r\nContent-Length: {value}\r\n\r\nabc");
        let fast = fast_path(bytes.as_bytes(), &limits);
        assert_eq!(fast, vec![Step::HandOff], "{value}");
        assert_eq!(hyper(bytes.as_bytes()), vec![Step::Refused(400)], "{value}");
    }
    // Heads that do not parse: hyper's 400, never the fast path's answer.
    for bytes in [
        &b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"[..],
        b"GET / HTTP/1.1\rX: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
        b"GET /a`b HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    ] {
        let what = String::from_utf8_lossy(bytes);
        assert_eq!(fast_path(bytes, &limits), vec![Step::HandOff], "{what}");
        assert_eq!(hyper(bytes), vec![Step::Refused(400)], "{what}");
    }
    // Both answer a plain request and frame its body the same way.
    let bytes = b"POST /p?q HTTP/1.1\r\nContent-Length: 3\r\nIf-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n\r\nabcGET / HTTP/1.1\r\n\r\n";
    let fast = fast_path(bytes, &limits);
    assert_eq!(fast.len(), 2, "{fast:?}");
    assert_eq!(
        fast[0],
        Step::Answer {
            method: "POST".into(),
            path: "/p".into(),
            if_none_match: Some(b"\"a\"".to_vec()),
            body: b"abc".to_vec(),
        }
    );
    compare(&fast, &hyper(bytes)).unwrap();
    // A fast path that answered what hyper refuses is caught.
    let wrong = vec![Step::Answer {
        method: "POST".into(),
        path: "/".into(),
        if_none_match: None,
        body: b"abc".to_vec(),
    }];
    assert!(compare(&wrong, &[Step::Refused(400)]).is_err());
    assert!(compare(&[], &[Step::Refused(400)]).is_err());
}
