//! The CRL status source's load figures, for `bench/crl.sh`.
//!
//! ```text
//! crl_source_load CRL CA.pem
//! ```
//!
//! Opens a `type = "crl"` source on the file (read, decode, parse, verify with the CA,
//! table: what `ocsp serve --crl` does at start and on every new CRL), looks up one
//! serial, and prints `key=value` lines: seconds, revoked entries, the tables' bytes per
//! entry. Peak memory is measured around it by the script.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ocsp_proto::Serial;
use ocsp_status::config::OpenOptions;
use ocsp_status::crl::config::CrlConfig;
use ocsp_status::crl::CrlSource;
use ocsp_status::StatusSource;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (crl, ca) = (&args[1], &args[2]);
    let mut cfg = CrlConfig::new(vec![crl.clone()]);
    cfg.ca = Some(ca.into());
    cfg.max_bytes = Some(1 << 30);
    let started = Instant::now();
    let src = CrlSource::open(&cfg, &OpenOptions::default()).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let report = src.report().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let lookup = rt
        .block_on(src.status(&Serial::from_hex("01").unwrap()))
        .unwrap();
    assert!(lookup.period.is_some());
    let n = report.revoked.max(1);
    println!("seconds={seconds:.3}");
    println!("revoked={}", report.revoked);
    println!("bytes_per_entry={:.1}", src.heap_bytes() as f64 / n as f64);
}
