//! Never wrong in the dangerous direction: judging an answer against what the responder
//! may say, independently of the responder's own matching code.
//!
//! - [`judge(req, resp, issuers, now)`](judge): the shared first step. An unsigned error
//!   response is [`Verdict::Error`] (always safe: it vouches for nothing). A successful
//!   one must answer a request that parses and must verify against `issuers` (signature,
//!   signer authority, every requested CertID answered, the nonce echoed — required when
//!   the request has one); anything else is an `Err` naming what is wrong.
//! - [`Checker`]: requests for one CA and a judge of answers against [`IndexView`]s, the
//!   states an `index.txt` on disk may have had while the request was in flight.
//! - [`Want`], [`IndexView`], [`is_error`], [`serial_of`], [`read_cert`].

use crate::pki::Pki;
use der::DecodePem;
use ocsp_proto::request::{self, RequestLimits};
use ocsp_proto::response::{self, ParsedResponse};
use ocsp_proto::verify::{self, Params, Policy, Verified};
use ocsp_proto::x509_ocsp::{BasicOcspResponse, CertId, OcspResponseStatus};
use ocsp_proto::{cert_id, CertStatus, HashAlg, Serial, Timestamp};
use ocsp_status::index_txt::{parse, IndexEntry};
use std::collections::HashMap;
use std::path::Path;
use x509_cert::Certificate;

/// What [`judge`] found.
pub enum Verdict {
    /// An unsigned error response.
    Error(OcspResponseStatus),
    /// A successful response that verifies.
    Verified(Box<Judged>),
}

/// A successful, verified answer.
pub struct Judged {
    /// The response.
    pub basic: BasicOcspResponse,
    /// The CertIDs the request asked, in order.
    pub requested: Vec<CertId>,
    /// What verification established (one answer per requested CertID).
    pub verified: Verified,
}

/// Judge `resp` as the answer to `req`; see the module docs.
pub fn judge(
    req: &[u8],
    resp: &[u8],
    issuers: &[Certificate],
    now: Timestamp,
) -> Result<Verdict, String> {
    let (basic, tbs) =
        match response::parse(resp).map_err(|e| format!("unparseable answer: {e}"))? {
            ParsedResponse::Basic { basic, tbs_der } => (basic, tbs_der),
            ParsedResponse::Error(s) => return Ok(Verdict::Error(s)),
        };
    let parsed_req = request::parse(req, &RequestLimits::default())
        .map_err(|e| format!("a successful answer to a request that does not parse: {e}"))?;
    let requested: Vec<CertId> = parsed_req.items.iter().map(|i| i.cert_id.clone()).collect();
    let verified = verify::verify(
        &basic,
        &tbs,
        &Params {
            requested: &requested,
            issuers,
            nonce: parsed_req.nonce.as_deref(),
            untrusted: &[],
            trusted: &[],
            now,
            policy: Policy {
                require_nonce: true,
                ..Policy::default()
            },
        },
    )
    .map_err(|e| format!("answer does not verify: {e}"))?;
    Ok(Verdict::Verified(Box::new(Judged {
        basic: *basic,
        requested,
        verified,
    })))
}

/// Read a PEM certificate.
pub fn read_cert(path: &Path) -> Certificate {
    let pem = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Certificate::from_pem(pem)
        .unwrap_or_else(|e| panic!("{} is not a PEM certificate: {e}", path.display()))
}

/// What an answer for one serial must say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// `good`.
    Good,
    /// `revoked`.
    Revoked,
    /// `unknown`.
    Unknown,
}

impl Want {
    /// The kind of `status`.
    pub fn of(status: &CertStatus) -> Want {
        match status {
            CertStatus::Good => Want::Good,
            CertStatus::Revoked(_) => Want::Revoked,
            CertStatus::Unknown => Want::Unknown,
        }
    }
}

/// The statuses an index file states (serials absent → unknown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexView {
    /// Serial → status kind.
    pub statuses: HashMap<Serial, Want>,
}

impl IndexView {
    /// The view of parsed entries.
    pub fn from_entries(es: &[IndexEntry]) -> IndexView {
        IndexView {
            statuses: es
                .iter()
                .map(|e| (e.serial.clone(), Want::of(&e.status())))
                .collect(),
        }
    }

    /// The index file as it is on disk now.
    pub fn read(path: &Path) -> IndexView {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let entries = parse(&bytes, path)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        IndexView::from_entries(&entries)
    }

    /// What the index says of `s`.
    pub fn want(&self, s: &Serial) -> Want {
        self.statuses.get(s).cloned().unwrap_or(Want::Unknown)
    }
}

/// Builds requests for a PKI's CA and judges the answers.
pub struct Checker {
    /// The CA.
    pub ca: Certificate,
}

impl Checker {
    /// For the CA of `pki`.
    pub fn new(pki: &Pki) -> Checker {
        Checker {
            ca: read_cert(&pki.cacert),
        }
    }

    /// The CertID of `serial` under this CA.
    pub fn id(&self, serial: &Serial, alg: HashAlg) -> CertId {
        cert_id::cert_id(&self.ca, serial, alg)
            .unwrap_or_else(|e| panic!("no CertID for {}: {e}", serial.to_hex()))
    }

    /// A DER request for `serials`, with `nonce` if given.
    pub fn request(&self, serials: &[Serial], alg: HashAlg, nonce: Option<&[u8]>) -> Vec<u8> {
        let ids: Vec<CertId> = serials.iter().map(|s| self.id(s, alg)).collect();
        request::build(&ids, nonce).unwrap_or_else(|e| panic!("cannot build a request: {e}"))
    }

    /// Judge `resp` as the answer to `req`: a successful response that verifies (see
    /// [`judge`]) and states, for each serial, a status allowed by one of `views` (the
    /// index states the request may have seen). Returns the statuses stated.
    pub fn check(
        &self,
        req: &[u8],
        resp: &[u8],
        views: &[&IndexView],
    ) -> Result<Vec<Want>, String> {
        let now = Timestamp(crate::files::unix_now());
        let judged = match judge(req, resp, std::slice::from_ref(&self.ca), now)? {
            Verdict::Error(s) => return Err(format!("error status {s:?}")),
            Verdict::Verified(j) => j,
        };
        let v = &judged.verified;
        let stated: Vec<Want> = v.answers.iter().map(|a| Want::of(&a.status)).collect();
        let ok = views.iter().any(|view| {
            v.answers
                .iter()
                .zip(&stated)
                .all(|(a, w)| view.want(&a.serial) == *w)
        });
        if !ok {
            let serials: Vec<String> = v.answers.iter().map(|a| a.serial.to_hex()).collect();
            return Err(format!(
                "statuses {stated:?} for serials {serials:?} match none of the {} index states",
                views.len()
            ));
        }
        Ok(stated)
    }
}

/// Whether `resp` is the unsigned error response `status`.
pub fn is_error(resp: &[u8], status: OcspResponseStatus) -> bool {
    matches!(response::parse(resp), Ok(ParsedResponse::Error(s)) if s == status)
}

/// The serial of a PEM certificate file.
pub fn serial_of(path: &Path) -> Serial {
    Serial::of_cert(&read_cert(path))
}
