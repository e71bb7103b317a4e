//! Helpers for the workspace's integration tests and benches (`publish = false`).
//!
//! Tests here run against real parts: the real `openssl` binary as CA, client and
//! responder, the real `ocsp` binary as a process, real TCP. The in-memory doubles
//! ([`status::MemSource`], [`signer::TestSigner`]) stand in only for the parts a test is
//! not about. A missing peer fails the test with the `apt-get install` line; it never
//! passes silently.
//!
//! | module | one idea |
//! |---|---|
//! | [`process`] | run a command with a deadline, capture its output; run one test alone |
//! | [`files`] | test directories, writing/replacing files, `unix_now` |
//! | [`openssl`] | the `openssl` binary: runner, `openssl ocsp` client and responder |
//! | [`pki`] | one openssl-made PKI (CA, leaves good/revoked/expired, responders, `index.txt`) |
//! | [`responder`] | the `ocsp` binary: `Responder` (serve, readiness), `serve_must_fail`, `run` |
//! | [`http`] | one raw HTTP/1.1 client (`Conn`), curl, GET-path encoding, a fake responder |
//! | [`prometheus`] | the `/metrics` text format, parsed strictly |
//! | [`status`] | `MemSource`, the in-memory `StatusSource` |
//! | [`signer`] | `TestSigner`, the test `Signer` |
//! | [`inproc`] | CAs made with rcgen and issuers wired in-process |
//! | [`judge`] | never wrong in the dangerous direction: verify an answer, check it against the index |
//! | [`measure`] | `/proc` readings, fd limit, percentiles |
//! | [`postgres`] | a throwaway PostgreSQL cluster (or `OCSP_TEST_DATABASE_URL`), one per test binary |
//! | [`softhsm`] | a SoftHSM2 token store made at test time: tokens, imported and generated keys |
//!
//! [`prelude`] re-exports the items test files use most.
//!
//! The crate's own unit tests cannot use it (it links `ocsp-responder`, so a dev-dependency
//! of that crate's unit tests would duplicate its types); its integration tests and benches can.

// Test helpers fail by panicking, with a message naming what and why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod crl;
pub mod crl_server;
pub mod files;
pub mod http;
pub mod inproc;
pub mod judge;
pub mod measure;
pub mod openssl;
pub mod openssl_responder;
pub mod pki;
pub mod postgres;
pub mod process;
pub mod prometheus;
pub mod responder;
pub mod signer;
pub mod softhsm;
pub mod status;

/// The items test files use most, for `use test_support::prelude::*;`.
pub mod prelude {
    pub use crate::files::{p, replace_file, unix_now, write};
    pub use crate::http::{
        base64, curl, get, get_path_of, get_req, http, parse_basic, pct_encode, post_req, Conn,
        FakeResponder, HttpResponse, Seen, MALFORMED, TRY_LATER, UNAUTHORIZED,
    };
    pub use crate::judge::{
        is_error, judge, read_cert, serial_of, Checker, IndexView, Verdict, Want,
    };
    pub use crate::measure::{
        cpu_ticks, open_fds, percentile, raise_fd_limit, rss_kib, thread_count,
    };
    pub use crate::openssl::{
        b64, openssl, openssl_date, openssl_stdout, openssl_time_text, query, require_openssl,
        require_tools, Query,
    };
    pub use crate::openssl_responder::OpensslResponder;
    pub use crate::pki::{
        tls_cert, KeyAlg, Pki, PkiOptions, SignerFiles, TlsFiles, CA_COMPROMISE_TIME,
        CA_COMPROMISE_TIME_TEXT, COMPROMISE_TIME, COMPROMISE_TIME_TEXT, PASSPHRASE,
        STANDARD_LEAVES,
    };
    pub use crate::process::{run, run_alone, run_input, strip_ansi, CMD_TIMEOUT};
    pub use crate::prometheus::{find, parse_prometheus, scrape, sum, Sample};
    pub use crate::responder::{
        https_addr, metrics_addr, printed_addr, serve_must_fail, Failure, Responder, Run,
        START_TIMEOUT,
    };
    pub use crate::signer::TestSigner;
    pub use crate::status::{Fault, MemSource};
}
