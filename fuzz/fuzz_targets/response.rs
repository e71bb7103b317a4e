//! The client side: `ocsp_proto::response::parse` on arbitrary bytes, then everything a
//! client does with what parsed — the readable views, the status of each answer, and
//! full verification against the certificates the response itself carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocsp_proto::response::{parse, ParsedResponse};
use ocsp_proto::verify::{self, Params, Policy};
use ocsp_proto::x509_ocsp::CertId;
use ocsp_proto::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = parse(data) else {
        let _ = ocsp_proto::text::response_der_text(data);
        return;
    };
    let _ = ocsp_proto::text::response_text(&parsed);
    let ParsedResponse::Basic { basic, tbs_der } = &parsed else {
        return;
    };
    let rd = &basic.tbs_response_data;
    let _ = verify::responder_id_text(&rd.responder_id);
    for r in &rd.responses {
        let _ = verify::answer_status(r);
    }
    let requested: Vec<CertId> = rd.responses.iter().map(|r| r.cert_id.clone()).collect();
    let certs = basic.certs.clone().unwrap_or_default();
    for c in &certs {
        let _ = verify::responder_id_matches(&rd.responder_id, c);
        let _ = verify::has_ocsp_signing(c);
    }
    let nonce = rd.nonce().map(|n| n.0.as_bytes().to_vec());
    for trusted in [&certs[..], &[][..]] {
        let p = Params {
            requested: &requested,
            issuers: &certs,
            nonce: nonce.as_deref(),
            untrusted: &certs,
            trusted,
            now: Timestamp(1_750_000_000),
            policy: Policy::default(),
        };
        if let Ok(v) = verify::verify(basic, tbs_der, &p) {
            assert_eq!(v.answers.len(), requested.len());
        }
    }
});
