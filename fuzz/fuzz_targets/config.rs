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
                assert!(i.ca.is_absolute() && i.index.is_absolute());
                let _ = i.validity_secs();
            }
            let _ = format!("{cfg:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
