//! A real SoftHSM2 token store, made at test time: a `softhsm2.conf` and a token directory
//! under `target/tmp`, `SOFTHSM2_CONF` pointing at it (set once for the whole test process,
//! so spawned `ocsp` binaries inherit it), tokens initialised with `softhsm2-util`.
//!
//! - [`SoftHsm::shared`]: one store per test binary, with the tokens it is asked for made
//!   up front (SoftHSM2 reads its token list when the module is initialised, and a module is
//!   initialised once per process).
//! - Keys: [`SoftHsm::import`] puts a key file's key in a token (`softhsm2-util --import`,
//!   decrypted first with openssl); [`SoftHsm::generate`] makes one inside the token
//!   (`C_GenerateKeyPair` through cryptoki: `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`), whose
//!   private half never exists outside it.
//! - [`SoftHsm::certify`]: a responder certificate (`v3_OCSP`) from a [`Pki`] for a key in
//!   the token, by `openssl x509 -req -force_pubkey`.
//! - [`SoftHsm::pull`] / [`SoftHsm::restore`]: the token's directory moved away and back
//!   (a token pulled out and put back, for the fault drills); [`SoftHsm::set_pin`]: the user
//!   PIN changed behind a signer's back.
//!
//! Missing SoftHSM2 fails the test with `apt-get install -y softhsm2`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

use crate::files::{p, tmp_root};
use crate::openssl::openssl;
use crate::pki::{KeyAlg, Pki, SignerFiles};

/// The user PIN of every token made here.
pub const PIN: &str = "7391";
/// The security officer PIN of every token made here.
pub const SO_PIN: &str = "739100";

/// Where SoftHSM2's module is on Debian.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 token store (see the module documentation).
#[derive(Debug)]
pub struct SoftHsm {
    /// The store's directory (`softhsm2.conf`, `tokens/`, key files, pulled tokens).
    pub dir: PathBuf,
    /// The module.
    pub module: PathBuf,
    tokens: Mutex<HashMap<String, PathBuf>>,
}

/// Fail with the install line unless SoftHSM2 is installed.
pub fn require_softhsm() {
    let ok = Path::new(MODULE).is_file()
        && std::process::Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "SoftHSM2 is not installed ({MODULE} and softhsm2-util are needed): \
         apt-get install -y softhsm2 (scripts/test-all.sh installs it)"
    );
}

impl SoftHsm {
    /// The process's store, with `tokens` made the first time (later calls must ask for a
    /// subset of the same tokens).
    pub fn shared(tokens: &[&str]) -> &'static SoftHsm {
        static STORE: OnceLock<SoftHsm> = OnceLock::new();
        let hsm = STORE.get_or_init(|| SoftHsm::create(tokens));
        for t in tokens {
            assert!(
                hsm.tokens.lock().unwrap().contains_key(*t),
                "token {t} was not made when the store was: ask SoftHsm::shared for every \
                 token of the test binary at once"
            );
        }
        hsm
    }

    fn create(tokens: &[&str]) -> SoftHsm {
        require_softhsm();
        let dir = tmp_root().join(format!(
            "softhsm-{}-{}",
            std::process::id(),
            crate::files::unix_now()
        ));
        let token_dir = dir.join("tokens");
        std::fs::create_dir_all(&token_dir).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
                 slots.removable = false\n",
                token_dir.display()
            ),
        )
        .unwrap();
        // Before any thread of the tests loads the module or spawns a responder.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let hsm = SoftHsm {
            dir,
            module: PathBuf::from(MODULE),
            tokens: Mutex::new(HashMap::new()),
        };
        for t in tokens {
            hsm.init_token(t);
        }
        hsm
    }

    fn init_token(&self, label: &str) {
        let token_dir = self.dir.join("tokens");
        let before: Vec<PathBuf> = dirs(&token_dir);
        softhsm2_util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ]);
        let made = dirs(&token_dir)
            .into_iter()
            .find(|d| !before.contains(d))
            .expect("softhsm2-util made no token directory");
        self.tokens.lock().unwrap().insert(label.into(), made);
    }

    /// `SOFTHSM2_CONF`'s value.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("softhsm2.conf")
    }

    /// `pkcs11:token=TOKEN;object=LABEL` (no module, no PIN).
    pub fn uri(&self, token: &str, label: &str) -> String {
        format!("pkcs11:token={token};object={label}")
    }

    /// Put the key of `key_file` (maybe encrypted with `passin`) in `token` as `label`,
    /// CKA_ID `id`.
    pub fn import(&self, token: &str, key_file: &Path, passin: &str, label: &str, id: &[u8]) {
        let plain = self.dir.join(format!("{label}.plain.pem"));
        openssl(
            &self.dir,
            &[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                p(key_file),
                "-passin",
                passin,
                "-out",
                p(&plain),
            ],
        );
        softhsm2_util(&[
            "--import",
            p(&plain),
            "--token",
            token,
            "--label",
            label,
            "--id",
            &hex::encode(id),
            "--pin",
            PIN,
        ]);
        let _ = std::fs::remove_file(&plain);
    }

    /// Make a key pair of `alg` inside `token` as `label`, CKA_ID `id`: the private half
    /// sensitive and not extractable. `always_authenticate` sets CKA_ALWAYS_AUTHENTICATE.
    pub fn generate(
        &self,
        token: &str,
        alg: KeyAlg,
        label: &str,
        id: &[u8],
        always_authenticate: bool,
    ) {
        let m = ocsp_signer::pkcs11::module::open(&self.module).unwrap();
        let _in = m.enter();
        let (ctx, _) = m.context().unwrap();
        let uri = ocsp_signer::pkcs11::Pkcs11Uri::parse(&self.uri(token, label)).unwrap();
        let slot = ocsp_signer::pkcs11::token::find_slot(&ctx, &uri).unwrap();
        let session = ctx.open_rw_session(slot).unwrap();
        match session.login(UserType::User, Some(&AuthPin::new(PIN.into()))) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::UserAlreadyLoggedIn,
                _,
            )) => {}
            Err(e) => panic!("login to token {token}: {e}"),
        }
        let common = |private: bool| {
            let mut v = vec![
                Attribute::Token(true),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.to_vec()),
            ];
            if private {
                v.extend([
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Sign(true),
                ]);
                if always_authenticate {
                    v.push(Attribute::AlwaysAuthenticate(true));
                }
            } else {
                v.push(Attribute::Verify(true));
            }
            v
        };
        let mut public = common(false);
        let mechanism = match alg {
            KeyAlg::Rsa(bits) => {
                public.push(Attribute::ModulusBits(u64::from(bits).into()));
                public.push(Attribute::PublicExponent(vec![1, 0, 1]));
                Mechanism::RsaPkcsKeyPairGen
            }
            KeyAlg::P256 => {
                // OID 1.2.840.10045.3.1.7
                public.push(Attribute::EcParams(vec![
                    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
                ]));
                Mechanism::EccKeyPairGen
            }
            KeyAlg::P384 => {
                // OID 1.3.132.0.34
                public.push(Attribute::EcParams(vec![
                    0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22,
                ]));
                Mechanism::EccKeyPairGen
            }
            KeyAlg::Ed25519 => {
                // OID 1.3.101.112
                public.push(Attribute::EcParams(vec![0x06, 0x03, 0x2b, 0x65, 0x70]));
                Mechanism::EccEdwardsKeyPairGen
            }
        };
        session
            .generate_key_pair(&mechanism, &public, &common(true))
            .unwrap_or_else(|e| panic!("generating {alg:?} in token {token}: {e}"));
    }

    /// A delegated responder certificate (`v3_OCSP`, issued by `pki`'s CA) for the key
    /// `label` in `token`, whose public key is read through the signer itself. The
    /// returned [`SignerFiles`] has the URI (with this store's module) as its key.
    pub fn certify(&self, pki: &Pki, token: &str, label: &str) -> SignerFiles {
        let uri = format!("{}?module-path={}", self.uri(token, label), MODULE);
        let spec = ocsp_signer::KeySpec::for_rkey(
            Path::new(&uri),
            Some(ocsp_signer::Passin::new(format!("pass:{PIN}"))),
            &ocsp_signer::Pkcs11Settings::default(),
        )
        .unwrap();
        let signer = ocsp_signer::load(
            &spec,
            ocsp_signer::SignOptions::default(),
            &mut ocsp_signer::no_prompt,
        )
        .unwrap_or_else(|e| panic!("opening {uri}: {e}"));
        let pub_pem = self.dir.join(format!("{token}-{label}.pub.pem"));
        std::fs::write(
            &pub_pem,
            pem::encode(&pem::Pem::new(
                "PUBLIC KEY",
                signer.public_key_der().to_vec(),
            )),
        )
        .unwrap();
        // A throwaway key signs the request; -force_pubkey puts the token's key in.
        let tmp_key = self.dir.join(format!("{token}-{label}.csr.key"));
        let csr = self.dir.join(format!("{token}-{label}.csr"));
        let crt = pki.dir.join(format!("{token}-{label}.crt"));
        openssl(
            &self.dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                p(&tmp_key),
            ],
        );
        openssl(
            &self.dir,
            &[
                "req",
                "-new",
                "-key",
                p(&tmp_key),
                "-subj",
                &format!("/CN={label} in {token}/O=ocsp tests"),
                "-out",
                p(&csr),
            ],
        );
        let serial = format!(
            "0x{:x}",
            crate::files::unix_now() * 1000 + u64::from(rand_u16())
        );
        openssl(
            &pki.dir,
            &[
                "x509",
                "-req",
                "-in",
                p(&csr),
                "-CA",
                p(&pki.cacert),
                "-CAkey",
                p(&pki.cakey),
                "-passin",
                &pki.passin(),
                "-force_pubkey",
                p(&pub_pem),
                "-extfile",
                p(&pki.cnf),
                "-extensions",
                "v3_OCSP",
                "-set_serial",
                &serial,
                "-days",
                "365",
                "-out",
                p(&crt),
            ],
        );
        SignerFiles {
            cert: crt,
            key: PathBuf::from(uri),
        }
    }

    /// Change `token`'s user PIN from `old` to `new` (C_SetPIN), behind the back of any
    /// signer logged in with `old`.
    pub fn set_pin(&self, token: &str, old: &str, new: &str) {
        let m = ocsp_signer::pkcs11::module::open(&self.module).unwrap();
        let _in = m.enter();
        let (ctx, _) = m.context().unwrap();
        let uri = ocsp_signer::pkcs11::Pkcs11Uri::parse(&format!("pkcs11:token={token}")).unwrap();
        let slot = ocsp_signer::pkcs11::token::find_slot(&ctx, &uri).unwrap();
        let session = ctx.open_rw_session(slot).unwrap();
        match session.login(UserType::User, Some(&AuthPin::new(old.into()))) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::UserAlreadyLoggedIn,
                _,
            )) => {}
            Err(e) => panic!("login to token {token}: {e}"),
        }
        session
            .set_pin(&AuthPin::new(old.into()), &AuthPin::new(new.into()))
            .unwrap_or_else(|e| panic!("C_SetPIN on token {token}: {e}"));
    }

    /// The directory of `token`.
    pub fn token_dir(&self, token: &str) -> PathBuf {
        self.tokens.lock().unwrap()[token].clone()
    }

    /// Move `token`'s directory out of the token directory (the token is pulled out).
    pub fn pull(&self, token: &str) {
        std::fs::rename(self.token_dir(token), self.pulled(token)).unwrap();
    }

    /// Move `token`'s directory back.
    pub fn restore(&self, token: &str) {
        std::fs::rename(self.pulled(token), self.token_dir(token)).unwrap();
    }

    fn pulled(&self, token: &str) -> PathBuf {
        self.dir.join(format!("pulled-{token}"))
    }
}

fn rand_u16() -> u16 {
    let mut b = [0u8; 2];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    u16::from_be_bytes(b)
}

fn dirs(d: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(d)
        .map(|it| {
            it.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

fn softhsm2_util(args: &[&str]) {
    let out = std::process::Command::new("softhsm2-util")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run softhsm2-util: {e} (apt-get install -y softhsm2)"));
    assert!(
        out.status.success(),
        "softhsm2-util {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
