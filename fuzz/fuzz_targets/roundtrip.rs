//! parse → encode → parse wherever an encoder exists:
//! - a request that parses is DER: it re-encodes to the input byte for byte;
//! - a request that parses, rebuilt with `request::build` from its CertIDs and nonce,
//!   parses to the same CertIDs, serials and nonce;
//! - the same request, base64- and URL-encoded as clients put it in a GET path (standard,
//!   percent-encoded in either case, base64url without padding, under a prefix), decodes
//!   back to the same DER;
//! - a response that parses re-encodes (OCSPResponse and BasicOCSPResponse) to DER that
//!   decodes to an equal value, and its signed tbsResponseData bytes decode to the same
//!   typed view and are exactly its DER encoding.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use ocsp_proto::der::{Decode, Encode};
use ocsp_proto::request::{self, RequestLimits};
use ocsp_proto::response::{self, ParsedResponse};
use ocsp_proto::x509_ocsp::{BasicOcspResponse, CertId, OcspRequest, OcspResponse, ResponseData};
use ocsp_proto::get_path::parse_path as parse_get_path;

fuzz_target!(|data: &[u8]| {
    let limits = RequestLimits::default();
    if let Ok(p) = request::parse(data, &limits) {
        // Only DER is accepted: the input is the encoding of what it decodes to.
        let decoded = OcspRequest::from_der(data).expect("parse accepted it");
        assert_eq!(
            decoded.to_der().expect("re-encode"),
            data,
            "request input is DER"
        );
        let ids: Vec<CertId> = p.items.iter().map(|i| i.cert_id.clone()).collect();
        let der = request::build(&ids, p.nonce.as_deref()).expect("re-encode a parsed request");
        let q = request::parse(&der, &limits).expect("a rebuilt request parses");
        assert_eq!(q.items, p.items);
        assert_eq!(q.nonce, p.nonce);

        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let pct = percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        let lower = pct
            .replace("%2B", "%2b")
            .replace("%2F", "%2f")
            .replace("%3D", "%3d");
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der);
        for path in [
            format!("/{b64}"),
            format!("/{pct}"),
            format!("/{lower}"),
            format!("/{url}"),
            format!("//{b64}"),
            format!("/ocsp/{pct}"),
        ] {
            let (got, parsed) = parse_get_path(&path, &limits).expect("encoded GET path decodes");
            assert_eq!(got, der, "{path}");
            assert_eq!(parsed, q);
        }
    }

    if let Ok(parsed) = response::parse(data) {
        let outer = OcspResponse::from_der(data).expect("parse accepted it");
        let again = outer.to_der().expect("re-encode OCSPResponse");
        assert_eq!(
            OcspResponse::from_der(&again).expect("decode re-encoded"),
            outer
        );
        if let ParsedResponse::Basic { basic, tbs_der } = parsed {
            let enc = basic.to_der().expect("re-encode BasicOCSPResponse");
            let back = BasicOcspResponse::from_der(&enc).expect("decode re-encoded basic");
            assert_eq!(&back, basic.as_ref());
            // What the signature covers decodes to the typed view the client reads, and
            // is its DER encoding byte for byte: the parsers refuse non-DER input (a first
            // run of this target found der 0.7 skipping stray context fields; fixed in
            // 766e2d9, tests in crates/ocsp-proto/tests/it/fuzz_regressions.rs).
            let tbs = ResponseData::from_der(&tbs_der).expect("tbsResponseData decodes");
            assert_eq!(tbs, basic.tbs_response_data);
            let tbs_again = basic.tbs_response_data.to_der().expect("re-encode tbs");
            assert_eq!(tbs_again, tbs_der, "DER input re-encodes byte for byte");
        }
    }
});
