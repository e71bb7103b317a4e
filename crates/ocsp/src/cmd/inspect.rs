//! `ocsp inspect`: read an OCSP request or response (DER, PEM, base64, or a full GET URL),
//! say which it is, and print it as text or JSON.
//!
//! Exit status: 0 printed, 1 the input is not an OCSP request or response (the message
//! gives the byte offset and what was expected), 5 usage or file error.

use base64::Engine as _;
use ocsp_proto::der::{self, Decode};
use ocsp_proto::text;
use ocsp_proto::x509_ocsp::{BasicOcspResponse, OcspRequest, OcspResponse, OcspResponseStatus};
use serde::Serialize;
use std::io::Read;
use std::process::ExitCode;

/// Largest input read.
const MAX_INPUT: u64 = 4 * 1024 * 1024;

/// Flags of `ocsp inspect`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 printed, 1 the input is not an OCSP request or response, \
                  5 usage or file error."
)]
pub struct Args {
    /// The message: a file holding DER, PEM, base64 or a full GET URL; `-` or nothing for
    /// standard input.
    #[arg(value_name = "FILE|-")]
    pub input: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// How the input was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Form {
    Der,
    Pem,
    Base64,
    Url,
}

impl Form {
    fn describe(self) -> &'static str {
        match self {
            Form::Der => "DER",
            Form::Pem => "PEM",
            Form::Base64 => "base64",
            Form::Url => "a GET URL",
        }
    }
}

#[derive(Serialize)]
struct JsonOut<T: Serialize> {
    form: Form,
    der_length: usize,
    #[serde(flatten)]
    view: T,
    warnings: Vec<String>,
}

/// Run `ocsp inspect`.
pub fn run(args: Args) -> ExitCode {
    let input = match read_input(args.input.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("ocsp inspect: {e}");
            return ExitCode::from(5);
        }
    };
    let (der, form) = match decode_input(&input) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ocsp inspect: {e}");
            return ExitCode::from(1);
        }
    };
    match inspect(&der, form, args.json) {
        Ok(s) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not worth a panic.
            let _ = out.write_all(s.as_bytes()).and_then(|()| out.flush());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ocsp inspect: {e}");
            ExitCode::from(1)
        }
    }
}

fn read_input(name: Option<&str>) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    match name {
        None | Some("-") => std::io::stdin()
            .take(MAX_INPUT)
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read standard input: {e}"))?,
        Some(path) => std::fs::File::open(path)
            .and_then(|f| f.take(MAX_INPUT).read_to_end(&mut buf))
            .map_err(|e| format!("cannot read {path}: {e}"))?,
    };
    if buf.is_empty() {
        return Err("the input is empty: expected an OCSP request or response".into());
    }
    Ok(buf)
}

/// Turn the input into DER, telling how it was written.
fn decode_input(input: &[u8]) -> Result<(Vec<u8>, Form), String> {
    if input.first() == Some(&0x30) {
        return Ok((input.to_vec(), Form::Der));
    }
    let Ok(text) = std::str::from_utf8(input) else {
        return Err(format!(
            "byte 0: expected DER (a SEQUENCE, 0x30), PEM, base64 or a URL; found 0x{:02X} and the input is not text",
            input[0]
        ));
    };
    let t = text.trim();
    if t.starts_with("-----BEGIN") {
        let (label, der) =
            der::pem::decode_vec(t.as_bytes()).map_err(|e| format!("bad PEM: {e}"))?;
        if !label.contains("OCSP") {
            return Err(format!(
                "PEM label {label:?}: expected OCSP REQUEST or OCSP RESPONSE"
            ));
        }
        return Ok((der, Form::Pem));
    }
    if t.starts_with("http://") || t.starts_with("https://") {
        return decode_url(t).map(|d| (d, Form::Url));
    }
    decode_base64(t)
        .map(|d| (d, Form::Base64))
        .map_err(|e| format!("not DER, PEM or a URL, and not base64 either: {e}"))
}

fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect::<String>()
        .trim_end_matches('=')
        .replace('-', "+")
        .replace('_', "/");
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(cleaned.as_bytes())
        .map_err(|e| e.to_string())
}

/// The request in a GET URL: the last path segments, percent-decoded, base64-decoded.
/// The base64 may itself contain `/`, so every suffix of the path is tried, longest first.
fn decode_url(url: &str) -> Result<Vec<u8>, String> {
    let after_scheme = url.split_once("://").map(|x| x.1).unwrap_or(url);
    let path = after_scheme
        .split_once('/')
        .map(|x| x.1)
        .ok_or_else(|| format!("{url}: the URL has no path holding a request"))?;
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let mut last_err = String::from("empty path");
    for i in 0..segments.len() {
        let candidate = segments[i..].join("/");
        let decoded = percent_encoding::percent_decode_str(&candidate)
            .decode_utf8_lossy()
            .replace(' ', "+");
        match decode_base64(&decoded) {
            Ok(der) if der.first() == Some(&0x30) && OcspRequest::from_der(&der).is_ok() => {
                return Ok(der)
            }
            Ok(_) => last_err = format!("{candidate:?} is not a base64 OCSP request"),
            Err(e) => last_err = format!("{candidate:?} is not base64: {e}"),
        }
    }
    Err(format!(
        "{url}: no path suffix holds a base64 OCSP request ({last_err})"
    ))
}

/// Which message the DER looks like, from the first element inside the outer SEQUENCE:
/// an ENUMERATED (responseStatus) for a response, a SEQUENCE (tbsRequest) for a request.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
}

fn classify(der: &[u8]) -> Result<Kind, String> {
    if der.first() != Some(&0x30) {
        return Err(format!(
            "byte 0: expected a SEQUENCE (0x30) starting an OCSPRequest or OCSPResponse, found 0x{:02X}",
            der.first().copied().unwrap_or(0)
        ));
    }
    // Skip the outer tag and length.
    let len_at = 1;
    let first = *der
        .get(len_at)
        .ok_or("byte 1: expected a length after the SEQUENCE tag, found the end of the input")?;
    let inner_at = if first < 0x80 {
        2
    } else {
        2 + usize::from(first & 0x7F)
    };
    match der.get(inner_at) {
        Some(0x0A) => Ok(Kind::Response),
        Some(0x30) => Ok(Kind::Request),
        Some(b) => Err(format!(
            "byte {inner_at}: expected an ENUMERATED (0x0A, responseStatus of an OCSPResponse) or a \
             SEQUENCE (0x30, tbsRequest of an OCSPRequest), found 0x{b:02X}"
        )),
        None => Err(format!(
            "byte {inner_at}: expected the first element of an OCSPRequest or OCSPResponse, found the end of the input"
        )),
    }
}

fn der_err(what: &str, e: der::Error, input: &[u8], offset: usize) -> String {
    match e.position() {
        Some(p) => {
            let mut at = usize::try_from(u32::from(p)).unwrap_or(0) + offset;
            // The der crate reports a wrong tag at the end of the offending element; report
            // where that element starts instead.
            if let der::ErrorKind::TagUnexpected { actual, .. } = e.kind() {
                if let Some(start) = element_start(input, at, actual.octet()) {
                    at = start;
                }
            }
            format!("not a valid {what}: at byte {at}: {}", e.kind())
        }
        None => format!("not a valid {what}: {}", e.kind()),
    }
}

/// The offset of the TLV with tag `tag` that ends exactly at `end`, if there is one.
fn element_start(input: &[u8], end: usize, tag: u8) -> Option<usize> {
    (0..end.min(input.len())).rev().find(|&s| {
        if input[s] != tag {
            return false;
        }
        let Some(&first) = input.get(s + 1) else {
            return false;
        };
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 {
                return false;
            }
            let Some(bytes) = input.get(s + 2..s + 2 + n) else {
                return false;
            };
            (
                bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
                2 + n,
            )
        };
        s + header + len == end
    })
}

fn inspect(der: &[u8], form: Form, json: bool) -> Result<String, String> {
    let mut warnings = Vec::new();
    match classify(der)? {
        Kind::Request => {
            let req = OcspRequest::from_der(der).map_err(|e| der_err("OCSPRequest", e, der, 0))?;
            if let Err(e) = ocsp_proto::request::parse(der, &Default::default()) {
                warnings.push(format!("a responder would refuse this request: {e}"));
            }
            let view = text::request_view(&req);
            if json {
                json_string(&JsonOut {
                    form,
                    der_length: der.len(),
                    view,
                    warnings,
                })
            } else {
                let mut s = format!(
                    "OCSP request ({} octets of DER, read as {})\n",
                    der.len(),
                    form.describe()
                );
                s.push_str(&text::render_request(&view));
                for w in warnings {
                    s.push_str(&format!("Warning: {w}\n"));
                }
                Ok(s)
            }
        }
        Kind::Response => {
            let outer =
                OcspResponse::from_der(der).map_err(|e| der_err("OCSPResponse", e, der, 0))?;
            if outer.response_status == OcspResponseStatus::Successful {
                let bytes = outer.response_bytes.as_ref().ok_or(
                    "a successful OCSPResponse must carry responseBytes ([0] EXPLICIT), and this one has none",
                )?;
                let inner = bytes.response.as_bytes();
                if bytes.response_type == ocsp_proto::const_oid::db::rfc6960::ID_PKIX_OCSP_BASIC {
                    let offset = der
                        .windows(inner.len().max(1))
                        .position(|w| w == inner)
                        .unwrap_or(0);
                    BasicOcspResponse::from_der(inner).map_err(|e| {
                        der_err(
                            &format!("BasicOCSPResponse (it starts at byte {offset})"),
                            e,
                            der,
                            offset,
                        )
                    })?;
                }
            }
            let parsed = ocsp_proto::response::parse(der)
                .map_err(|e| format!("not a valid OCSPResponse: {e}"))?;
            let view = text::response_view(&parsed);
            if json {
                json_string(&JsonOut {
                    form,
                    der_length: der.len(),
                    view,
                    warnings,
                })
            } else {
                let mut s = format!(
                    "OCSP response ({} octets of DER, read as {})\n",
                    der.len(),
                    form.describe()
                );
                s.push_str(&text::render_response(&view));
                Ok(s)
            }
        }
    }
}

fn json_string<T: Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| format!("cannot write JSON: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn request_der() -> Vec<u8> {
        use ocsp_proto::der::asn1::OctetString;
        use ocsp_proto::x509_ocsp::CertId;
        let id = CertId {
            hash_algorithm: ocsp_proto::HashAlg::Sha256.algorithm_identifier(),
            issuer_name_hash: OctetString::new(vec![1u8; 32]).unwrap(),
            issuer_key_hash: OctetString::new(vec![2u8; 32]).unwrap(),
            serial_number: ocsp_proto::Serial::from_hex("FB")
                .unwrap()
                .to_serial_number()
                .unwrap(),
        };
        ocsp_proto::request::build(&[id], Some(&[0xFF; 32])).unwrap()
    }

    #[test]
    fn forms() {
        let der = request_der();
        assert_eq!(decode_input(&der).unwrap(), (der.clone(), Form::Der));
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        assert_eq!(
            decode_input(b64.as_bytes()).unwrap(),
            (der.clone(), Form::Base64)
        );
        let wrapped = format!("{}\n{}\n", &b64[..40], &b64[40..]);
        assert_eq!(decode_input(wrapped.as_bytes()).unwrap().0, der);
        let url = ocsp_client::get_url("http://[::1]:8080/ocsp/x", &der);
        assert_eq!(
            decode_input(url.as_bytes()).unwrap(),
            (der.clone(), Form::Url)
        );
        // Unencoded base64 with '/' in a URL.
        let raw = format!("http://h/a/{b64}");
        assert_eq!(decode_input(raw.as_bytes()).unwrap().0, der);
        let pem = der::pem::encode_string("OCSP REQUEST", der::pem::LineEnding::LF, &der).unwrap();
        assert_eq!(decode_input(pem.as_bytes()).unwrap(), (der, Form::Pem));
    }

    #[test]
    fn kinds_and_errors() {
        let der = request_der();
        assert_eq!(classify(&der).unwrap(), Kind::Request);
        let resp = ocsp_proto::response::error_response(OcspResponseStatus::TryLater);
        assert_eq!(classify(&resp).unwrap(), Kind::Response);
        let t = inspect(&resp, Form::Der, false).unwrap();
        assert!(t.contains("tryLater"), "{t}");
        let e = classify(&[0x30, 0x03, 0x02, 0x01, 0x00]).unwrap_err();
        assert!(e.starts_with("byte 2: expected an ENUMERATED"), "{e}");
        let mut cut = der.clone();
        cut.truncate(der.len() - 5);
        let e = inspect(&cut, Form::Der, false).unwrap_err();
        assert!(e.contains("at byte"), "{e}");
        let j = inspect(&der, Form::Der, true).unwrap();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["type"], "request");
        assert_eq!(v["cert_ids"][0]["serial"], "FB");
    }
}
