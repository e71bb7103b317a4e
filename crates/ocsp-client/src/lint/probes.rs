//! Sending probes and keeping what came back.
//!
//! A [`Lab`] holds the responder's URL, the issuer and the HTTP options, sends requests
//! through the ordinary client ([`crate::send`], [`crate::send_raw`]) and keeps every
//! [`Probe`]: what was asked, the exchange (or why it failed) and the judged answer. The
//! checks read the probes; only the robustness probes and a few transport probes go
//! around the well-behaved client with [`Lab::raw`].
//!
//! Every request is bounded by the lab's timeout; the number of requests is fixed by the
//! checks (see docs/lint.md), never by what the responder answers.

use crate::query::{judge, Answered, Asked, Checks, Judged};
use crate::request::Target;
use crate::transport::{send, send_raw, Exchange, HttpOptions, Method, RawReply};
use ocsp_proto::verify::Policy;
use ocsp_proto::x509_cert::Certificate;
use ocsp_proto::x509_ocsp::OcspResponseStatus;
use ocsp_proto::{HashAlg, Serial};
use std::time::Duration;

/// One request and what came of it.
#[derive(Debug)]
pub struct Probe {
    /// What the probe is for, as printed in findings.
    pub name: &'static str,
    /// What was asked.
    pub asked: Asked,
    /// The exchange, or why there was none.
    pub sent: Result<Exchange, String>,
    /// The body judged (HTTP 200 only).
    pub judged: Option<Judged>,
    /// Whether the answer should verify against the issuer (not for a made-up issuer).
    pub verifiable: bool,
}

impl Probe {
    /// The successful response, when there is one.
    pub fn answered(&self) -> Option<&Answered> {
        match &self.judged {
            Some(Judged::Answered(a)) => Some(a),
            _ => None,
        }
    }

    /// The exchange, when there was one.
    pub fn exchange(&self) -> Option<&Exchange> {
        self.sent.as_ref().ok()
    }

    /// The OCSP error status, when the answer was one.
    pub fn error_status(&self) -> Option<OcspResponseStatus> {
        match &self.judged {
            Some(Judged::ErrorStatus(s)) => Some(*s),
            _ => None,
        }
    }

    /// A short description of the outcome: `HTTP 200 successful`, `HTTP 200
    /// malformedRequest`, `HTTP 405`, `no answer: ...`.
    pub fn outcome(&self) -> String {
        let ex = match &self.sent {
            Err(e) => return format!("no answer: {e}"),
            Ok(ex) => ex,
        };
        match &self.judged {
            None => format!("HTTP {}", ex.status),
            Some(Judged::NotOcsp(e)) => {
                format!("HTTP {} with a body that is not OCSP ({e})", ex.status)
            }
            Some(Judged::ErrorStatus(s)) => {
                format!("HTTP {} {}", ex.status, ocsp_proto::text::status_name(*s))
            }
            Some(Judged::Answered(_)) => format!("HTTP {} successful", ex.status),
        }
    }
}

/// The state of one lint run.
pub struct Lab {
    /// The responder's base URL.
    pub url: String,
    /// The issuer.
    pub issuer: Certificate,
    /// HTTP options (timeout, HTTPS roots); `method` is set per probe.
    pub opts: HttpOptions,
    /// Every probe sent through the client, in order.
    pub probes: Vec<Probe>,
    /// Time taken by every request (probes and raw ones).
    pub timings: Vec<Duration>,
}

impl Lab {
    /// A lab for `url` and `issuer`.
    pub fn new(url: &str, issuer: Certificate, opts: HttpOptions) -> Lab {
        Lab {
            url: url.to_string(),
            issuer,
            opts,
            probes: Vec::new(),
            timings: Vec::new(),
        }
    }

    /// A target under the issuer.
    pub fn target(&self, label: &str, serial: Serial) -> Target {
        Target {
            label: label.to_string(),
            issuer: self.issuer.clone(),
            serial,
        }
    }

    /// A request for `targets` with `alg` and `nonce`; `None` when it cannot be encoded
    /// (a 0-octet nonce can be; nothing lint builds fails).
    pub fn asked(&self, targets: &[Target], alg: HashAlg, nonce: Option<Vec<u8>>) -> Option<Asked> {
        Asked::build(targets, alg, nonce).ok()
    }

    /// Send `asked` with `method`, judge the answer, keep the probe; returns its index.
    pub async fn send(&mut self, name: &'static str, asked: Asked, method: Method) -> usize {
        self.send_with(name, asked, method, &[], true).await
    }

    /// [`Lab::send`] with extra headers and a say on whether the answer can verify.
    pub async fn send_with(
        &mut self,
        name: &'static str,
        asked: Asked,
        method: Method,
        headers: &[(String, String)],
        verifiable: bool,
    ) -> usize {
        let mut opts = self.opts.clone();
        opts.method = Some(method);
        opts.headers = headers.to_vec();
        let sent = send(&self.url, &asked.der, &opts)
            .await
            .map_err(|e| e.to_string());
        let judged = match &sent {
            Ok(ex) => {
                self.timings.push(ex.elapsed);
                (ex.status == 200).then(|| {
                    let checks = Checks {
                        noverify: !verifiable,
                        policy: Policy::default(),
                        ..Checks::default()
                    };
                    judge(
                        &ex.body,
                        &asked,
                        std::slice::from_ref(&self.issuer),
                        &checks,
                        ex.started,
                    )
                })
            }
            Err(_) => None,
        };
        self.probes.push(Probe {
            name,
            asked,
            sent,
            judged,
            verifiable,
        });
        self.probes.len() - 1
    }

    /// A request as given: any method, the URL exactly as written, any body.
    pub async fn raw(
        &mut self,
        method: &str,
        url: &str,
        body: Vec<u8>,
        headers: &[(String, String)],
    ) -> Result<RawReply, String> {
        let r = send_raw(method, url, body, headers, &self.opts)
            .await
            .map_err(|e| e.to_string());
        if let Ok(r) = &r {
            self.timings.push(r.elapsed);
        }
        r
    }

    /// The probe at `i`.
    pub fn probe(&self, i: usize) -> &Probe {
        &self.probes[i]
    }

    /// The URL of `der` as a GET, with the base's path.
    pub fn get_url(&self, component: &str) -> String {
        let base = self.url.split(['?', '#']).next().unwrap_or(&self.url);
        if base.ends_with('/') {
            format!("{base}{component}")
        } else {
            format!("{base}/{component}")
        }
    }
}

/// 20 random octets with the high bit clear: a positive serial no CA is likely to have
/// issued.
pub fn random_serial() -> Serial {
    let mut b = crate::random_nonce().unwrap_or_else(|_| vec![0x5A; 32]);
    b.truncate(20);
    b[0] = (b[0] & 0x7F) | 0x40;
    Serial::from_der_content(&b)
}
