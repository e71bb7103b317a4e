//! One verdict per request head: the HTTP/1.1 fast path and hyper, fed the same bytes,
//! take the same steps up to the fast path's hand-off (same requests answered, bodies
//! framed alike, nothing answered that hyper refuses). See
//! `ocsp_responder::http::differential`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = ocsp_responder::http::differential::check(data) {
        panic!("{e}\ninput: {:?}", String::from_utf8_lossy(data));
    }
});
