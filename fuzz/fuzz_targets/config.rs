//! `Config::from_toml` on arbitrary text: never panics; every accepted configuration has
//! its issuers' paths made absolute against the file's directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocsp_responder::config::Config;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml(text, Path::new("/etc/ocsp/ocsp.toml")) {
        Ok(cfg) => {
            for i in &cfg.issuers {
                assert!(i.ca.is_absolute());
                // Every accepted issuer has exactly one status backend, its paths
                // absolute.
                let status = i.status_config().expect("accepted without a status source");
                match status {
                    ocsp_status::StatusConfig::IndexTxt(c) => assert!(c.path.is_absolute()),
                    _ => unreachable!("a status variant the fuzz target does not know"),
                }
                let _ = i.validity_secs();
            }
            let _ = format!("{cfg:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
