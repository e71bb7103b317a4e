//! The GET form of an OCSP request: `{url}/{urlencode(base64(DER))}` (RFC 6960 Appendix A.1,
//! RFC 9919 §2.1), both directions.
//!
//! **Encoding** ([`encode_component`], [`url`]) is what a client sends: standard base64
//! with padding, then every character outside RFC 3986's unreserved set percent-encoded
//! (`+` → `%2B`, `/` → `%2F`, `=` → `%3D`), joined to the base URL with exactly one `/`
//! and with any query or fragment of the base dropped.
//!
//! **Decoding** ([`decode_component`], [`parse_path`]) is what a responder accepts, and it
//! is lenient on purpose, because real clients are not careful: percent escapes in either
//! case, `+` that arrived as a space, the base64url alphabet (`-`, `_`), missing padding,
//! CR/LF from a line-wrapping base64 tool, and the request after any path prefix
//! (`/ocsp/...`), after `//`, or holding raw `/`. The longest suffix that decodes *and*
//! parses as a request wins, and at most [`MAX_PREFIX_SEGMENTS`] starting points are tried,
//! so a hostile path costs a bounded amount of work. Leniency never changes *which* request
//! is read: what [`parse_path`] returns is the DER it parsed, byte for byte.
//!
//! Round trip: for any bytes `b`, `decode_component(&encode_component(b)) == Some(b)`.

use crate::request::{self, ParsedRequest, RequestLimits};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Most path segments tried as the start of the base64 request in a GET.
pub const MAX_PREFIX_SEGMENTS: usize = 16;

/// Characters left as they are in the GET path: RFC 3986 unreserved.
const PATH_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `urlencode(base64(der))`: the last path segment of a GET request.
pub fn encode_component(der: &[u8]) -> String {
    utf8_percent_encode(&STANDARD.encode(der), PATH_SAFE).to_string()
}

/// The GET URL for `der` under `base`: `{base}/{urlencode(base64(der))}`, one `/` between,
/// the base's query and fragment dropped.
pub fn url(base: &str, der: &[u8]) -> String {
    let enc = encode_component(der);
    let base = base.split(['?', '#']).next().unwrap_or(base);
    if base.ends_with('/') {
        format!("{base}{enc}")
    } else {
        format!("{base}/{enc}")
    }
}

fn b64_engine() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// Decode one candidate GET path suffix: percent-decoding (either case), space for `+`,
/// base64url characters, missing padding, CR/LF ignored. `None` when empty or not base64.
pub fn decode_component(s: &str) -> Option<Vec<u8>> {
    let decoded = percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let cleaned: Vec<u8> = decoded
        .into_iter()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .map(|b| match b {
            b' ' | b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    if cleaned.is_empty() {
        return None;
    }
    b64_engine().decode(&cleaned).ok()
}

/// Find the OCSP request in a GET path: the base64 may follow any prefix (`/ocsp/...`),
/// contain raw `/`, or follow `//`. The longest suffix that decodes and parses wins.
#[allow(clippy::result_unit_err)] // the only failure is "no suffix decodes"
pub fn parse_path(path: &str, limits: &RequestLimits) -> Result<(Vec<u8>, ParsedRequest), ()> {
    let trimmed = path.trim_start_matches('/');
    let mut starts = vec![0usize];
    starts.extend(
        trimmed
            .match_indices('/')
            .map(|(i, _)| i + 1)
            .take(MAX_PREFIX_SEGMENTS),
    );
    for start in starts {
        let candidate = trimmed[start..].trim_start_matches('/');
        if let Some(der) = decode_component(candidate) {
            if let Ok(parsed) = request::parse(&der, limits) {
                return Ok((der, parsed));
            }
        }
    }
    Err(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        let der = [0xFB, 0xFF, 0xFE, 0x00];
        // base64 "+//+AA==" -> every special character percent-encoded.
        assert_eq!(
            url("http://h/ocsp", &der),
            "http://h/ocsp/%2B%2F%2F%2BAA%3D%3D"
        );
        assert_eq!(url("http://h/", &der), "http://h/%2B%2F%2F%2BAA%3D%3D");
        assert_eq!(url("http://h", &der), "http://h/%2B%2F%2F%2BAA%3D%3D");
        assert_eq!(
            url("http://h/o?x=1", &der),
            "http://h/o/%2B%2F%2F%2BAA%3D%3D"
        );
        assert_eq!(decode_component("%2B%2F%2F%2BAA%3D%3D"), Some(der.to_vec()));
        assert_eq!(decode_component("-__-AA"), Some(der.to_vec()));
        assert_eq!(decode_component(""), None);
        assert_eq!(decode_component("!!"), None);
    }
}
