//! `ocsp demo --pkcs11`: the demo's responder key moved into a SoftHSM2 token, and served
//! from there (signing inside the token, as with an HSM).
//!
//! - SoftHSM2 must be installed (its module and `softhsm2-util`); otherwise the demo stops
//!   with the line that installs it.
//! - The token store is `DIR/softhsm/` (`softhsm2.conf`, `tokens/`); `SOFTHSM2_CONF` is set
//!   for this process. The first run makes the token `ocsp-demo` with a random user PIN in
//!   `DIR/softhsm/pin` (0600) and imports the responder key (decrypted in memory, written to
//!   a 0600 file only for `softhsm2-util --import`, removed at once) as `ocsp-responder`,
//!   CKA_ID 01. Later runs use the token as it is.
//! - The issuer then names `rkey = "pkcs11:token=ocsp-demo;object=ocsp-responder"`, its PIN
//!   `file:DIR/softhsm/pin`, and `[pkcs11] module` the SoftHSM2 module.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use ocsp_responder::config::Config;

use super::pki::names;

/// Where SoftHSM2's module may be.
const MODULES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// The token's label.
pub const TOKEN: &str = "ocsp-demo";
/// The key's label.
pub const OBJECT: &str = "ocsp-responder";

/// Put the responder key of the demo in `dir` into the SoftHSM2 token (first run) and point
/// `cfg`'s issuer at it. Returns the URI.
pub fn use_softhsm(dir: &Path, cfg: &mut Config) -> Result<String> {
    let Some(module) = MODULES.iter().map(PathBuf::from).find(|p| p.is_file()) else {
        bail!(
            "--pkcs11 needs SoftHSM2, which is not installed (no libsofthsm2.so in {}): \
             install it (Debian/Ubuntu: apt-get install softhsm2; Fedora: dnf install softhsm) \
             and run again, or run the demo without --pkcs11",
            MODULES.join(", ")
        );
    };
    let util_ok = Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !util_ok {
        bail!("--pkcs11 needs softhsm2-util, which is not on PATH: install softhsm2");
    }
    let store = dir.join("softhsm");
    let tokens = store.join("tokens");
    let conf = store.join("softhsm2.conf");
    let pin_file = store.join("pin");
    std::fs::create_dir_all(&tokens)
        .with_context(|| format!("{}: cannot create", tokens.display()))?;
    if !conf.is_file() {
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .with_context(|| format!("{}: cannot write", conf.display()))?;
    }
    // Read by the module when it is initialised, which happens after this.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    if !pin_file.is_file() {
        let pin = random_digits(8)?;
        let so_pin = random_digits(12)?;
        softhsm2_util(&[
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            &pin,
            "--so-pin",
            &so_pin,
        ])?;
        import_key(dir, &store, &pin)?;
        write_secret(&pin_file, format!("{pin}\n").as_bytes())?;
        println!(
            "ocsp demo: moved the responder key into the SoftHSM2 token `{TOKEN}` \
             ({}, SOFTHSM2_CONF={}); its user PIN is in {}",
            tokens.display(),
            conf.display(),
            pin_file.display()
        );
    }
    let uri = format!("pkcs11:token={TOKEN};object={OBJECT}");
    let Some(issuer) = cfg.issuers.first_mut() else {
        bail!("the demo configuration has no issuer");
    };
    issuer.rkey = Some(PathBuf::from(&uri));
    issuer.passin = Some(format!("file:{}", pin_file.display()));
    cfg.pkcs11.module = Some(module.clone());
    println!(
        "ocsp demo: signing inside the token: --rkey '{uri}' --pkcs11-module {}",
        module.display()
    );
    Ok(uri)
}

fn import_key(dir: &Path, store: &Path, pin: &str) -> Result<()> {
    use pkcs8::der::pem::LineEnding;
    use pkcs8::der::Decode;
    let pem = std::fs::read_to_string(dir.join(names::RESPONDER_KEY))
        .with_context(|| format!("{}: cannot read", names::RESPONDER_KEY))?;
    let pass = std::fs::read_to_string(dir.join(names::RESPONDER_PASS))
        .with_context(|| format!("{}: cannot read", names::RESPONDER_PASS))?;
    let (_, doc) = pkcs8::der::SecretDocument::from_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{}: {e}", names::RESPONDER_KEY))?;
    let enc = pkcs8::EncryptedPrivateKeyInfo::from_der(doc.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: {e}", names::RESPONDER_KEY))?;
    let plain = enc
        .decrypt(pass.trim_end_matches('\n'))
        .map_err(|e| anyhow::anyhow!("{}: cannot decrypt: {e}", names::RESPONDER_KEY))?;
    pkcs8::PrivateKeyInfo::from_der(plain.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: {e}", names::RESPONDER_KEY))?;
    let text = plain
        .to_pem("PRIVATE KEY", LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
    let tmp = store.join("import.pem");
    write_secret(&tmp, text.as_bytes())?;
    let result = softhsm2_util(&[
        "--import",
        tmp.to_str().unwrap_or_default(),
        "--token",
        TOKEN,
        "--label",
        OBJECT,
        "--id",
        "01",
        "--pin",
        pin,
    ]);
    let _ = std::fs::remove_file(&tmp);
    result
}

fn write_secret(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    f.write_all(data)
        .with_context(|| format!("{}: cannot write", path.display()))
}

fn random_digits(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(b.iter().map(|x| char::from(b'0' + x % 10)).collect())
}

fn softhsm2_util(args: &[&str]) -> Result<()> {
    let out = Command::new("softhsm2-util")
        .args(args)
        .output()
        .context("cannot run softhsm2-util")?;
    if !out.status.success() {
        bail!(
            "softhsm2-util {}: {}{}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
