//! The GET path decoder the HTTP edge uses (`ocsp_proto::get_path`) on arbitrary paths: never panics, and a path it
//! accepts decodes to DER that parses to the very request it returned.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocsp_proto::request::{self, RequestLimits};
use ocsp_proto::get_path::{decode_component as decode_get_component, parse_path as parse_get_path};

fuzz_target!(|data: &[u8]| {
    let path = String::from_utf8_lossy(data);
    let limits = RequestLimits::default();
    let _ = decode_get_component(&path);
    if let Ok((der, parsed)) = parse_get_path(&path, &limits) {
        assert_eq!(request::parse(&der, &limits).as_ref(), Ok(&parsed));
    }
    // The same with a leading slash, as hyper hands it over.
    let slashed = format!("/{path}");
    if let Ok((der, parsed)) = parse_get_path(&slashed, &limits) {
        assert_eq!(request::parse(&der, &limits).as_ref(), Ok(&parsed));
    }
});
