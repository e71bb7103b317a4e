//! `ocsp_proto::request::parse` on arbitrary bytes: never panics, and whatever it accepts
//! respects the limits it promises (non-empty, capped CertIDs, RFC 9654 nonce length,
//! serials in normal form, negative ones kept apart). The readable views of the request must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocsp_proto::request::{parse, RequestLimits, MAX_NONCE_LEN};

fuzz_target!(|data: &[u8]| {
    let limits = RequestLimits::default();
    if let Ok(p) = parse(data, &limits) {
        assert!(!p.items.is_empty());
        assert!(p.items.len() <= limits.max_cert_ids);
        if let Some(n) = &p.nonce {
            assert!((1..=MAX_NONCE_LEN).contains(&n.len()));
        }
        for item in &p.items {
            let s = item.serial.as_bytes();
            assert!(!s.is_empty());
            // Normal form: no leading zero unless zero itself; a negative INTEGER is kept
            // apart as 0x00 followed by its content octets (top bit set).
            assert!(
                s.len() == 1 || s[0] != 0 || (item.serial.is_negative() && s[1] & 0x80 != 0),
                "serial not in normal form: {s:?}"
            );
        }
        let _ = ocsp_proto::text::parsed_request_text(&p);
    }
    let _ = ocsp_proto::text::request_der_text(data);
    // A tighter limit never accepts more.
    let tight = RequestLimits {
        max_bytes: 512,
        max_cert_ids: 2,
    };
    if let Ok(p) = parse(data, &tight) {
        assert!(data.len() <= 512 && p.items.len() <= 2);
        assert!(parse(data, &limits).is_ok() || data.len() > limits.max_bytes);
    }
});
