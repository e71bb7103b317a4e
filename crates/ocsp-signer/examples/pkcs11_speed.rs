//! The raw signing rate of a key in a PKCS#11 token, for `bench/hsm.sh` to set the
//! responder's nonce rate against: THREADS threads, each with its own logged-in session,
//! sign for SECONDS with what `ocsp serve` would use on that token (RSA: CKM_SHA256_RSA_PKCS
//! over a response-sized message if the token has it, else CKM_RSA_PKCS over a DigestInfo;
//! ECDSA: CKM_ECDSA_SHA256 if the token has it, else SHA-256 in software + CKM_ECDSA).
//! Nothing else is measured: no verification, no OCSP.
//!
//! ```text
//! cargo run --release -p ocsp-signer --features pkcs11 --example pkcs11_speed -- \
//!     MODULE TOKEN KEY-LABEL PIN THREADS SECONDS
//! ```
//! prints `signatures_per_second N`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use ocsp_signer::pkcs11::{module, token, Pkcs11Uri};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        a.len() == 6,
        "usage: pkcs11_speed MODULE TOKEN KEY-LABEL PIN THREADS SECONDS"
    );
    let (threads, secs): (usize, u64) = (a[4].parse().unwrap(), a[5].parse().unwrap());
    let m = module::open(std::path::Path::new(&a[0])).unwrap();
    let (ctx, _) = m.context().unwrap();
    let uri = Pkcs11Uri::parse(&format!("pkcs11:token={};object={}", a[1], a[2])).unwrap();
    let slot = token::find_slot(&ctx, &uri).unwrap();
    let mechs = ctx.get_mechanism_list(slot).unwrap();
    let pin = a[3].clone();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let (ctx, uri, pin, mechs) = (ctx.clone(), uri.clone(), pin.clone(), mechs.clone());
            std::thread::spawn(move || {
                let s = ctx.open_ro_session(slot).unwrap();
                // The login is the application's: the first succeeds, the others are told
                // CKR_USER_ALREADY_LOGGED_IN.
                let _ = (i, s.login(UserType::User, Some(&AuthPin::new(pin.into()))));
                let key = s
                    .find_objects(&[
                        Attribute::Class(ObjectClass::PRIVATE_KEY),
                        Attribute::Label(uri.object.clone().unwrap().into_bytes()),
                    ])
                    .unwrap()[0];
                let kt = s.get_attributes(key, &[AttributeType::KeyType]).unwrap();
                let rsa = matches!(kt.first(), Some(Attribute::KeyType(KeyType::RSA)));
                let message = vec![0x5a_u8; 300];
                let digest = ocsp_proto::HashAlg::Sha256.digest(&message);
                let (mech, data) = match rsa {
                    true if mechs.contains(&MechanismType::SHA256_RSA_PKCS) => {
                        (Mechanism::Sha256RsaPkcs, message)
                    }
                    true => {
                        let mut di = vec![
                            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                            0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
                        ];
                        di.extend_from_slice(&digest);
                        (Mechanism::RsaPkcs, di)
                    }
                    false if mechs.contains(&MechanismType::ECDSA_SHA256) => {
                        (Mechanism::EcdsaSha256, message)
                    }
                    false => (Mechanism::Ecdsa, digest),
                };
                let mut n = 0u64;
                while Instant::now() < deadline {
                    s.sign(&mech, key, &data).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let started = Instant::now();
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let elapsed = started.elapsed().as_secs_f64().max(0.001);
    println!("signatures_per_second {:.0}", total as f64 / elapsed);
}
