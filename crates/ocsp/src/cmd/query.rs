//! `ocsp query`: ask a responder for the status of certificates and verify the answer.
//!
//! Exit status (documented in docs/query.md): 0 all good, 1 at least one revoked, 2 at
//! least one unknown and none revoked, 3 the responder answered an error status, 4 the
//! response failed verification, 5 usage, file or network error.

use ocsp_client::query::{
    judge, AnswerOut, AskError, Asked, Checks, Failure, Judged, Verification,
};
use ocsp_client::{HttpOptions, Method, Target};
use ocsp_proto::response::ParsedResponse;
use ocsp_proto::text;
use ocsp_proto::verify::{self, Policy, SignerKind};
use ocsp_proto::x509_cert::Certificate;
use ocsp_proto::{CertStatus, HashAlg, Serial};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Exit status: every certificate good.
pub const EXIT_GOOD: u8 = 0;
/// Exit status: at least one certificate revoked.
pub const EXIT_REVOKED: u8 = 1;
/// Exit status: at least one unknown, none revoked.
pub const EXIT_UNKNOWN: u8 = 2;
/// Exit status: the responder answered an error status.
pub const EXIT_RESPONDER_ERROR: u8 = 3;
/// Exit status: the response failed verification.
pub const EXIT_VERIFY_FAILED: u8 = 4;
/// Exit status: usage, file or network error.
pub const EXIT_USAGE: u8 = 5;

/// HTTP method choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// GET `{url}/{urlencode(base64(DER))}`.
    Get,
    /// POST with `Content-Type: application/ocsp-request`.
    Post,
}

/// Flags of `ocsp query`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 all good, 1 at least one revoked, 2 at least one unknown and none \
                  revoked, 3 the responder answered an error status, 4 verification failed, \
                  5 usage, file or network error. See docs/query.md."
)]
pub struct Args {
    /// Certificate to check (PEM or DER). Repeatable: all go in one request. When the file
    /// holds a chain and --issuer is absent, the next certificate is the issuer.
    #[arg(long = "cert", value_name = "FILE")]
    pub certs: Vec<PathBuf>,
    /// Issuer certificate of the certificates checked (PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub issuer: Option<PathBuf>,
    /// Serial number to check, decimal or 0x-hex (needs --issuer). Repeatable.
    #[arg(long = "serial", value_name = "N")]
    pub serials: Vec<String>,
    /// Responder URL; default: the OCSP URL in the first certificate's AIA extension.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Hash CertIDs with SHA-1 (default SHA-256, as RFC 9919 asks).
    #[arg(long, conflicts_with_all = ["sha384", "sha512"])]
    pub sha1: bool,
    /// Hash CertIDs with SHA-384.
    #[arg(long, conflicts_with = "sha512")]
    pub sha384: bool,
    /// Hash CertIDs with SHA-512.
    #[arg(long)]
    pub sha512: bool,
    /// Send no nonce (by default 32 random octets are sent and must be echoed).
    #[arg(long, alias = "no_nonce")]
    pub no_nonce: bool,
    /// Force the HTTP method (default: GET when the URL is at most 255 bytes, else POST).
    #[arg(long, value_enum, value_name = "get|post")]
    pub method: Option<MethodArg>,
    /// Extra HTTP request header. Repeatable.
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// Seconds allowed for the whole HTTP exchange.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub timeout: u64,
    /// PEM roots for an https:// responder instead of the system's.
    #[arg(long, value_name = "FILE", alias = "https_cafile")]
    pub https_cafile: Option<PathBuf>,
    /// Do not verify the response (says so on stderr).
    #[arg(long)]
    pub noverify: bool,
    /// Extra certificates to look for the responder's certificate in. Repeatable.
    #[arg(long, value_name = "FILE", alias = "verify_other")]
    pub verify_other: Vec<PathBuf>,
    /// Trust the --verify-other certificates as responders without further checks.
    #[arg(long, requires = "verify_other", alias = "trust_other")]
    pub trust_other: bool,
    /// Fail when a nonce was sent and the response does not echo it (default: a warning).
    #[arg(long, alias = "require_nonce")]
    pub require_nonce: bool,
    /// Allowed clock skew in seconds for thisUpdate and nextUpdate.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 300,
        alias = "validity_period"
    )]
    pub validity_period: u64,
    /// Reject answers whose thisUpdate is older than this many seconds.
    #[arg(long, value_name = "SECS", alias = "status_age")]
    pub status_age: Option<u64>,
    /// Trusted roots (PEM or DER): the issuer must chain to one of them.
    #[arg(long, value_name = "FILE")]
    pub cafile: Option<PathBuf>,
    /// Print the request in readable form on stdout.
    #[arg(long, alias = "req_text")]
    pub req_text: bool,
    /// Print the whole response in readable form on stdout.
    #[arg(long, alias = "resp_text")]
    pub resp_text: bool,
    /// Print one JSON document on stdout instead of status lines (see docs/query.md).
    #[arg(long)]
    pub json: bool,
    /// Write the DER request to FILE.
    #[arg(long, value_name = "FILE")]
    pub reqout: Option<PathBuf>,
    /// Write the DER response to FILE.
    #[arg(long, value_name = "FILE")]
    pub respout: Option<PathBuf>,
    /// Send the DER request in FILE instead of building one (its CertIDs and nonce are used).
    #[arg(long, value_name = "FILE")]
    pub reqin: Option<PathBuf>,
    /// Read the DER response from FILE instead of asking a responder.
    #[arg(long, value_name = "FILE")]
    pub respin: Option<PathBuf>,
}

/// Write to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn stdout(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|()| out.flush());
}

/// A failure that ends the command with an exit status.
struct Fail {
    code: u8,
    message: String,
}

fn usage(message: impl Into<String>) -> Fail {
    Fail {
        code: EXIT_USAGE,
        message: message.into(),
    }
}

/// The stable JSON document of `ocsp query --json` (version 1, see docs/query.md).
#[derive(Debug, Serialize)]
struct JsonOut {
    version: u32,
    url: Option<String>,
    method: Option<&'static str>,
    http_status: Option<u16>,
    response_status: Option<&'static str>,
    produced_at: Option<String>,
    nonce: JsonNonce,
    verification: JsonVerification,
    certificates: Vec<JsonCert>,
    exit_code: u8,
    error: Option<String>,
}

#[derive(Debug, Serialize, Default)]
struct JsonNonce {
    sent: Option<String>,
    received: Option<String>,
}

#[derive(Debug, Serialize, Default)]
struct JsonVerification {
    performed: bool,
    verified: bool,
    error: Option<String>,
    warnings: Vec<String>,
    signer_kind: Option<&'static str>,
    signer_subject: Option<String>,
    chain_checked: bool,
}

#[derive(Debug, Serialize)]
struct JsonCert {
    label: String,
    serial: String,
    status: Option<&'static str>,
    unverified_status: Option<&'static str>,
    revocation_time: Option<String>,
    revocation_reason: Option<String>,
    this_update: Option<String>,
    next_update: Option<String>,
}

/// Run `ocsp query`.
pub fn run(args: Args) -> ExitCode {
    let mut out = JsonOut {
        version: 1,
        url: None,
        method: None,
        http_status: None,
        response_status: None,
        produced_at: None,
        nonce: JsonNonce::default(),
        verification: JsonVerification::default(),
        certificates: Vec::new(),
        exit_code: EXIT_USAGE,
        error: None,
    };
    let code = match query(&args, &mut out) {
        Ok(code) => code,
        Err(f) => {
            eprintln!("ocsp query: {}", f.message);
            out.error = Some(f.message);
            f.code
        }
    };
    out.exit_code = code;
    if args.json {
        match serde_json::to_string_pretty(&out) {
            Ok(s) => stdout(&format!("{s}\n")),
            Err(e) => eprintln!("ocsp query: cannot write JSON: {e}"),
        }
    }
    ExitCode::from(code)
}

fn load(path: &Path) -> Result<Vec<Certificate>, Fail> {
    ocsp_client::load_certs(path).map_err(|e| usage(e.to_string()))
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Fail> {
    std::fs::read(path).map_err(|e| usage(format!("cannot read {what} {}: {e}", path.display())))
}

fn write_file(path: &Path, what: &str, data: &[u8]) -> Result<(), Fail> {
    std::fs::write(path, data)
        .map_err(|e| usage(format!("cannot write {what} {}: {e}", path.display())))
}

fn hash_alg(args: &Args) -> HashAlg {
    if args.sha1 {
        HashAlg::Sha1
    } else if args.sha384 {
        HashAlg::Sha384
    } else if args.sha512 {
        HashAlg::Sha512
    } else {
        HashAlg::Sha256
    }
}

fn parse_headers(raw: &[String]) -> Result<Vec<(String, String)>, Fail> {
    raw.iter()
        .map(|h| match h.split_once('=') {
            Some((n, v)) if !n.trim().is_empty() => {
                Ok((n.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(usage(format!("--header {h:?}: expected NAME=VALUE"))),
        })
        .collect()
}

fn query(args: &Args, out: &mut JsonOut) -> Result<u8, Fail> {
    let alg = hash_alg(args);
    let headers = parse_headers(&args.headers)?;
    if args.timeout == 0 {
        return Err(usage("--timeout must be at least 1 second"));
    }

    // Issuers and targets.
    let issuer_file: Vec<Certificate> = match &args.issuer {
        Some(p) => load(p)?,
        None => Vec::new(),
    };
    let mut issuers: Vec<Certificate> = issuer_file.first().cloned().into_iter().collect();
    // Certificates that may sit between an issuer and a root (for --cafile).
    let mut intermediates: Vec<Certificate> = issuer_file.iter().skip(1).cloned().collect();
    let mut targets: Vec<Target> = Vec::new();
    let mut first_cert: Option<Certificate> = None;
    for path in &args.certs {
        let chain = load(path)?;
        let cert = chain[0].clone();
        let issuer = match issuer_file.first() {
            Some(i) => i.clone(),
            None => chain.get(1).cloned().ok_or_else(|| {
                usage(format!(
                    "{}: no issuer: give --issuer FILE, or put the issuer certificate after the \
                     certificate in this file",
                    path.display()
                ))
            })?,
        };
        intermediates.extend(chain.iter().skip(1).cloned());
        if !issuers.contains(&issuer) {
            issuers.push(issuer.clone());
        }
        if first_cert.is_none() {
            first_cert = Some(cert.clone());
        }
        targets.push(Target {
            label: path.display().to_string(),
            serial: Serial::of_cert(&cert),
            issuer,
        });
    }
    for s in &args.serials {
        let serial = ocsp_client::parse_serial(s).ok_or_else(|| {
            usage(format!(
                "--serial {s:?}: expected a decimal number or 0x followed by hex digits"
            ))
        })?;
        let issuer = issuer_file
            .first()
            .cloned()
            .ok_or_else(|| usage("--serial needs --issuer FILE"))?;
        targets.push(Target {
            label: s.clone(),
            issuer,
            serial,
        });
    }
    if targets.is_empty() && args.reqin.is_none() {
        return Err(usage(
            "nothing to ask: give --cert FILE (with --issuer FILE or a chain in the file), \
             --serial N with --issuer FILE, or --reqin FILE",
        ));
    }

    // The request.
    let asked = match &args.reqin {
        Some(p) => {
            let der = read_file(p, "request")?;
            Asked::from_der(der, &targets).map_err(|e| usage(format!("{}: {e}", p.display())))?
        }
        None => {
            // A saved response (--respin) answered some earlier request: no nonce of ours
            // can be in it, so none is sent or checked (give --reqin to check that one's).
            let nonce = if args.no_nonce || args.respin.is_some() {
                None
            } else {
                Some(ocsp_client::random_nonce().map_err(usage)?)
            };
            Asked::build(&targets, alg, nonce).map_err(|e| usage(e.to_string()))?
        }
    };
    out.nonce.sent = asked.nonce.as_ref().map(hex::encode_upper);
    if let Some(p) = &args.reqout {
        write_file(p, "request", &asked.der)?;
    }
    if args.req_text && !args.json {
        match text::request_der_text(&asked.der) {
            Ok(t) => stdout(&t),
            Err(e) => eprintln!("ocsp query: cannot print the request: {e}"),
        }
    }

    // The response.
    let resp_der = match &args.respin {
        Some(p) => read_file(p, "response")?,
        None => {
            let url = match &args.url {
                Some(u) => u.clone(),
                None => first_cert
                    .as_ref()
                    .and_then(|c| ocsp_client::aia_ocsp_urls(c).into_iter().next())
                    .ok_or_else(|| {
                        usage("no responder URL: give --url URL (the certificate has no AIA OCSP URL)")
                    })?,
            };
            let opts = HttpOptions {
                method: args.method.map(|m| match m {
                    MethodArg::Get => Method::Get,
                    MethodArg::Post => Method::Post,
                }),
                headers,
                timeout: Duration::from_secs(args.timeout),
                https_cafile: args.https_cafile.clone(),
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| usage(format!("cannot start the async runtime: {e}")))?;
            let ex = match rt.block_on(ocsp_client::query::ask(&url, &asked, &opts)) {
                Ok(ex) => ex,
                Err(e) => {
                    if let AskError::HttpStatus { exchange, .. } = &e {
                        out.url = Some(exchange.url.clone());
                        out.method = Some(exchange.method.as_str());
                        out.http_status = Some(exchange.status);
                    }
                    return Err(usage(e.to_string()));
                }
            };
            out.url = Some(ex.url.clone());
            out.method = Some(ex.method.as_str());
            out.http_status = Some(ex.status);
            if !ocsp_client::query::content_type_ok(&ex) {
                eprintln!(
                    "ocsp query: warning: Content-Type is {:?}, not application/ocsp-response",
                    ex.content_type.as_deref().unwrap_or("(none)")
                );
            }
            ex.body
        }
    };
    if let Some(p) = &args.respout {
        write_file(p, "response", &resp_der)?;
    }

    let (untrusted, trusted) = if args.noverify {
        (Vec::new(), Vec::new())
    } else {
        let mut others = Vec::new();
        for p in &args.verify_other {
            others.extend(load(p)?);
        }
        if args.trust_other {
            (Vec::new(), others)
        } else {
            (others, Vec::new())
        }
    };
    let roots = match (&args.cafile, args.noverify) {
        (Some(p), false) => Some(load(p)?),
        _ => None,
    };
    let checks = Checks {
        noverify: args.noverify,
        untrusted,
        trusted,
        policy: Policy {
            leeway_secs: args.validity_period,
            max_age_secs: args.status_age,
            require_nonce: args.require_nonce,
        },
        roots,
        intermediates,
    };
    let answered = match judge(&resp_der, &asked, &issuers, &checks, ocsp_client::now()) {
        Judged::NotOcsp(e) => {
            return Err(Fail {
                code: EXIT_VERIFY_FAILED,
                message: format!(
                    "verification failed: the answer is not a valid OCSP response: {e}"
                ),
            })
        }
        Judged::ErrorStatus(status) => {
            if args.resp_text && !args.json {
                stdout(&text::response_text(&ParsedResponse::Error(status)));
            }
            let name = text::status_name(status);
            out.response_status = Some(name);
            return Err(Fail {
                code: EXIT_RESPONDER_ERROR,
                message: format!("the responder answered {name} ({})", status as u8),
            });
        }
        Judged::Answered(a) => a,
    };
    if args.resp_text && !args.json {
        let parsed = ParsedResponse::Basic {
            basic: answered.basic.clone(),
            tbs_der: answered.tbs_der.clone(),
        };
        stdout(&text::response_text(&parsed));
    }
    out.response_status = Some("successful");
    out.produced_at = Some(answered.produced_at.rfc3339());
    out.nonce.received = answered.nonce.as_ref().map(hex::encode_upper);

    match answered.verification {
        Verification::NotPerformed => {
            eprintln!("ocsp query: WARNING: --noverify: the response was NOT verified (signature, responder, nonce and times unchecked)");
            out.verification.performed = false;
            Ok(report(args, out, &asked, &answered.answers, true))
        }
        Verification::Failed(Failure::Response(e)) => {
            out.verification.performed = true;
            // What the response claims, marked unverified, for the JSON document.
            out.certificates = json_certs(&asked, &answered.answers, false);
            let hint = match &e {
                verify::VerifyError::IssuerUnknown { .. } => " (give --issuer FILE)",
                verify::VerifyError::SignerNotFound { .. } => {
                    " (give the responder certificate with --verify-other FILE)"
                }
                _ => "",
            };
            let msg = format!("verification failed: {e}{hint}");
            out.verification.error = Some(msg.clone());
            Err(Fail {
                code: EXIT_VERIFY_FAILED,
                message: msg,
            })
        }
        Verification::Failed(Failure::Chain {
            error,
            signer_kind,
            signer_subject,
            warnings,
        }) => {
            out.verification.performed = true;
            verified_facts(out, signer_kind, signer_subject, &warnings);
            let msg = format!(
                "verification failed: the issuer does not chain to --cafile {}: {error}",
                args.cafile
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            out.verification.error = Some(msg.clone());
            out.certificates = json_certs(&asked, &answered.answers, false);
            Err(Fail {
                code: EXIT_VERIFY_FAILED,
                message: msg,
            })
        }
        Verification::Verified {
            signer_kind,
            signer_subject,
            warnings,
            chain_checked,
        } => {
            out.verification.performed = true;
            verified_facts(out, signer_kind, signer_subject, &warnings);
            out.verification.chain_checked = chain_checked;
            if signer_kind == SignerKind::Trusted {
                out.verification
                    .warnings
                    .push("the responder was trusted explicitly (--trust-other)".into());
            }
            out.verification.verified = true;
            Ok(report(args, out, &asked, &answered.answers, true))
        }
    }
}

/// The signer and warnings of a response that verified (printed and kept for JSON).
fn verified_facts(
    out: &mut JsonOut,
    signer_kind: SignerKind,
    signer_subject: String,
    warnings: &[verify::Warning],
) {
    out.verification.signer_kind = Some(signer_kind.name());
    out.verification.signer_subject = Some(signer_subject);
    for w in warnings {
        eprintln!("ocsp query: warning: {w}");
        out.verification.warnings.push(w.to_string());
    }
}

fn status_line(a: &AnswerOut) -> String {
    match &a.status {
        CertStatus::Good => "good".into(),
        CertStatus::Unknown => "unknown".into(),
        CertStatus::Revoked(r) => format!(
            "revoked ({}, {})",
            r.reason
                .map(|x| x.openssl_name())
                .unwrap_or("no reason given"),
            r.time.rfc3339()
        ),
    }
}

fn json_certs(asked: &Asked, answers: &[Option<AnswerOut>], trusted: bool) -> Vec<JsonCert> {
    asked
        .cert_ids
        .iter()
        .zip(answers)
        .zip(&asked.labels)
        .map(|((id, a), label)| {
            let (rt, rr) = match a.as_ref().map(|a| &a.status) {
                Some(CertStatus::Revoked(r)) => (
                    Some(r.time.rfc3339()),
                    r.reason.map(|x| x.openssl_name().to_string()),
                ),
                _ => (None, None),
            };
            let name = a.as_ref().map(|a| a.status.name());
            JsonCert {
                label: label.clone(),
                serial: Serial::of_cert_id(id).to_hex(),
                status: if trusted { name } else { None },
                unverified_status: if trusted { None } else { name },
                revocation_time: rt,
                revocation_reason: rr,
                this_update: a.as_ref().map(|a| a.this_update.rfc3339()),
                next_update: a.as_ref().and_then(|a| a.next_update.map(|t| t.rfc3339())),
            }
        })
        .collect()
}

/// Print the per-certificate lines (or fill the JSON) and pick the exit status.
fn report(
    args: &Args,
    out: &mut JsonOut,
    asked: &Asked,
    answers: &[Option<AnswerOut>],
    usable: bool,
) -> u8 {
    out.certificates = json_certs(asked, answers, usable);
    let mut code = EXIT_GOOD;
    let mut any_unknown = false;
    for (label, a) in asked.labels.iter().zip(answers) {
        let line = match a {
            Some(a) => {
                match a.status {
                    CertStatus::Revoked(_) => code = EXIT_REVOKED,
                    CertStatus::Unknown => any_unknown = true,
                    CertStatus::Good => {}
                }
                status_line(a)
            }
            None => {
                any_unknown = true;
                "no answer in the response".into()
            }
        };
        if !args.json {
            stdout(&format!("{label}: {line}\n"));
        }
    }
    if code == EXIT_GOOD && any_unknown {
        code = EXIT_UNKNOWN;
    }
    code
}
