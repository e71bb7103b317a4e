//! Software keys from PEM files, signing with aws-lc-rs.
//!
//! [`load_key_file`] reads every PEM private key form openssl writes:
//!
//! | PEM label | written by |
//! |---|---|
//! | `PRIVATE KEY` (PKCS#8) | `openssl genpkey`, `openssl pkcs8 -topk8 -nocrypt` |
//! | `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2) | `openssl genpkey -aes256`, `openssl pkcs8 -topk8` |
//! | `RSA PRIVATE KEY` (PKCS#1) | `openssl genrsa -traditional`, `openssl rsa -traditional` |
//! | `EC PRIVATE KEY` (SEC1) | `openssl ecparam -genkey`, `openssl ec` |
//! | the two above with `Proc-Type: 4,ENCRYPTED` | `openssl rsa -aes128 -traditional`, `openssl ec -aes256` |
//!
//! Other PEM blocks in the file (a certificate, `EC PARAMETERS`) are skipped, so a key and its
//! certificate may share one file (`--rkey` defaults to the `--rsigner` file). A file with no
//! PEM block at all is tried as DER (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1).
//!
//! Key types: RSA of 2048 to 8192 bits, ECDSA on P-256, P-384 and P-521, Ed25519.

use std::io::Read;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaEncoding, RsaKeyPair};
use aws_lc_rs::{digest, error::KeyRejected};
use const_oid::db::{rfc5912, rfc8410};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use ocsp_proto::sigalg;
use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::HashAlg;
use spki::AlgorithmIdentifierOwned;

/// How to sign: the digest (`--rmd`) and, for RSA keys, PSS padding (`--rsigopt rsa_padding_mode:pss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignOptions {
    /// Digest for RSA and ECDSA signatures (ignored by Ed25519). Default SHA-256.
    /// SHA-1 is refused for RSA and ECDSA keys.
    pub digest: HashAlg,
    /// RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys only; refused for other keys).
    pub rsa_pss: bool,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            digest: HashAlg::Sha256,
            rsa_pss: false,
        }
    }
}

/// A key file that could not be used, with the file named and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct KeyError {
    /// The key file.
    pub path: PathBuf,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// The `--passin` forms, for messages that tell the operator how to give a passphrase.
pub const PASSIN_HINT: &str = "give --passin pass:…|env:VAR|file:PATH|fd:N|stdin";

/// A passphrase callback for callers that have no passphrase to offer: an encrypted key then
/// fails with `encrypted key and no passphrase: give --passin …`.
pub fn no_passphrase() -> Result<Vec<u8>, String> {
    Err(String::new())
}

/// Key files larger than this are refused before reading (a key is a few KiB).
const MAX_KEY_FILE: u64 = 1 << 20;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits (aws-lc's limit).
pub const MAX_RSA_BITS: usize = 8192;

/// A private key held in memory.
///
/// Signing takes `&self` and the key is `Send + Sync`: one signer serves many threads at once.
pub struct SoftwareSigner {
    spki_der: Vec<u8>,
    key: Key,
    algorithm: AlgorithmIdentifierOwned,
    description: String,
    rng: SystemRandom,
}

enum Key {
    Rsa {
        pair: RsaKeyPair,
        encoding: &'static dyn RsaEncoding,
    },
    Ecdsa {
        pair: EcdsaKeyPair,
        prehash: Prehash,
    },
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field("key", &self.description)
            .finish_non_exhaustive()
    }
}

/// Load a PEM private key. `passphrase` is called only when the key is encrypted, at most once.
///
/// If `passphrase` returns `Err(msg)`, loading fails with `encrypted key and no passphrase: msg`
/// (with an empty `msg`: `... : give --passin pass:…|env:VAR|file:PATH|fd:N|stdin`, see
/// [`no_passphrase`]).
pub fn load_key_file(
    path: &Path,
    passphrase: &mut dyn FnMut() -> Result<Vec<u8>, String>,
    opts: SignOptions,
) -> Result<SoftwareSigner, KeyError> {
    let fail = |reason: String| KeyError {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(io_reason(&e)))?;
    // Sized up front so that reading does not reallocate and leave unwiped copies behind.
    let size = file.metadata().map_or(0, |m| m.len()).min(MAX_KEY_FILE) + 1;
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut data)
        .map_err(|e| fail(io_reason(&e)))?;
    if data.len() as u64 > MAX_KEY_FILE {
        wipe(&mut data);
        return Err(fail(format!(
            "larger than {MAX_KEY_FILE} bytes: this is not a key file (check --rkey)"
        )));
    }
    let result = load_key_bytes(path, &data, passphrase, opts);
    wipe(&mut data);
    result
}

/// Load a private key from the bytes of a key file (PEM, or DER when there is no PEM block).
/// `name` is used in errors only. See [`load_key_file`].
pub fn load_key_bytes(
    name: &Path,
    data: &[u8],
    passphrase: &mut dyn FnMut() -> Result<Vec<u8>, String>,
    opts: SignOptions,
) -> Result<SoftwareSigner, KeyError> {
    let fail = |reason: String| KeyError {
        path: name.to_path_buf(),
        reason,
    };
    let key = read_key(data, passphrase).map_err(fail)?;
    build_signer(&key, opts).map_err(fail)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("cannot read: {e} (check --rkey)"),
        std::io::ErrorKind::PermissionDenied => {
            format!("cannot read: {e} (check the file's owner and mode)")
        }
        _ => format!("cannot read: {e}"),
    }
}

/// Overwrite key material before freeing it (best effort: without `unsafe` or a zeroize
/// dependency, `black_box` is what keeps the writes from being optimised away).
fn wipe(buf: &mut Vec<u8>) {
    buf.fill(0);
    std::hint::black_box(&mut *buf);
}

/// Decrypted key material that is wiped when dropped.
struct KeyDer(Vec<u8>);

impl Drop for KeyDer {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// A private key in one of the DER encodings, before it is handed to aws-lc-rs.
enum PlainKey {
    /// PKCS#8 `PrivateKeyInfo`.
    Pkcs8(KeyDer),
    /// PKCS#1 `RSAPrivateKey`.
    Pkcs1(KeyDer),
    /// SEC1 `ECPrivateKey`.
    Sec1(KeyDer),
}

// PEM labels.
const PKCS8: &str = "PRIVATE KEY";
const PKCS8_ENCRYPTED: &str = "ENCRYPTED PRIVATE KEY";
const PKCS1: &str = "RSA PRIVATE KEY";
const SEC1: &str = "EC PRIVATE KEY";

/// Find the one private key in `data` and decrypt it if needed.
fn read_key(
    data: &[u8],
    passphrase: &mut dyn FnMut() -> Result<Vec<u8>, String>,
) -> Result<PlainKey, String> {
    let has_pem = data.windows(11).any(|w| w == b"-----BEGIN ");
    if !has_pem {
        return read_der_key(data, passphrase);
    }
    let mut blocks = pem::parse_many(data).map_err(|e| format!("malformed PEM: {e}"))?;
    let mut keys = Vec::new();
    let mut others: Vec<&str> = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        match block.tag() {
            PKCS8 | PKCS8_ENCRYPTED | PKCS1 | SEC1 => keys.push(i),
            "DSA PRIVATE KEY" => {
                return Err("DSA keys are not supported; use RSA (at least 2048 bits), \
                            ECDSA P-256/P-384/P-521 or Ed25519"
                    .into())
            }
            "OPENSSH PRIVATE KEY" => {
                return Err("an OpenSSH-format key; convert it with \
                            `ssh-keygen -p -m PKCS8 -f FILE` or make one with `openssl genpkey`"
                    .into())
            }
            tag if tag.ends_with("PRIVATE KEY") => {
                return Err(format!("unsupported private key format `{tag}`"))
            }
            tag => {
                if !others.contains(&tag) {
                    others.push(tag)
                }
            }
        }
    }
    let index = match keys.as_slice() {
        [one] => *one,
        [] => {
            return Err(if others.is_empty() {
                "no private key found (no PEM blocks)".into()
            } else {
                format!("no private key found (found: {})", others.join(", "))
            })
        }
        many => {
            let tags: Vec<&str> = many
                .iter()
                .filter_map(|&i| blocks.get(i).map(|b| b.tag()))
                .collect();
            return Err(format!(
                "{} private keys in one file ({}): keep only the responder's key",
                many.len(),
                tags.join(", ")
            ));
        }
    };
    let block = blocks.swap_remove(index);
    drop(blocks);
    let tag = block.tag().to_string();
    let proc_type = block.headers().get("Proc-Type").map(str::to_string);
    let dek_info = block.headers().get("DEK-Info").map(str::to_string);
    // Owned, so that it is wiped when dropped.
    let der = KeyDer(block.into_contents());
    match (tag.as_str(), proc_type) {
        (PKCS8_ENCRYPTED, _) => decrypt_pkcs8(&der.0, passphrase),
        (tag, Some(proc_type)) => {
            if !proc_type
                .replace(' ', "")
                .eq_ignore_ascii_case("4,ENCRYPTED")
            {
                return Err(format!("unsupported PEM header Proc-Type: {proc_type}"));
            }
            let dek_info =
                dek_info.ok_or("PEM block with Proc-Type: 4,ENCRYPTED but no DEK-Info header")?;
            decrypt_legacy(tag, &dek_info, &der.0, passphrase)
        }
        (tag, None) => parse_plain(tag, der).map_err(|e| format!("malformed {tag}: {e}")),
    }
}

/// A file without PEM: try the DER forms openssl writes with `-outform DER`.
fn read_der_key(
    data: &[u8],
    passphrase: &mut dyn FnMut() -> Result<Vec<u8>, String>,
) -> Result<PlainKey, String> {
    if pkcs8::PrivateKeyInfo::from_der(data).is_ok() {
        return Ok(PlainKey::Pkcs8(KeyDer(data.to_vec())));
    }
    if pkcs8::EncryptedPrivateKeyInfo::from_der(data).is_ok() {
        return decrypt_pkcs8(data, passphrase);
    }
    if pkcs1::RsaPrivateKey::from_der(data).is_ok() {
        return Ok(PlainKey::Pkcs1(KeyDer(data.to_vec())));
    }
    if sec1::EcPrivateKey::from_der(data).is_ok() {
        return Ok(PlainKey::Sec1(KeyDer(data.to_vec())));
    }
    Err("no private key found (not PEM, and not a DER private key either)".into())
}

/// Check that `der` is what its PEM label says.
fn parse_plain(tag: &str, der: KeyDer) -> Result<PlainKey, String> {
    match tag {
        PKCS8 => {
            pkcs8::PrivateKeyInfo::from_der(&der.0).map_err(|e| e.to_string())?;
            Ok(PlainKey::Pkcs8(der))
        }
        PKCS1 => {
            pkcs1::RsaPrivateKey::from_der(&der.0).map_err(|e| e.to_string())?;
            Ok(PlainKey::Pkcs1(der))
        }
        SEC1 => {
            sec1::EcPrivateKey::from_der(&der.0).map_err(|e| e.to_string())?;
            Ok(PlainKey::Sec1(der))
        }
        other => Err(format!("unexpected label {other}")),
    }
}

fn ask(passphrase: &mut dyn FnMut() -> Result<Vec<u8>, String>) -> Result<KeyDer, String> {
    match passphrase() {
        Ok(p) => Ok(KeyDer(p)),
        Err(msg) if msg.is_empty() => {
            Err(format!("encrypted key and no passphrase: {PASSIN_HINT}"))
        }
        Err(msg) => Err(format!("encrypted key and no passphrase: {msg}")),
    }
}

const WRONG_PASSPHRASE: &str = "wrong passphrase (check --passin)";

fn decrypt_pkcs8(
    der: &[u8],
    passphrase: &mut dyn FnMut() -> Result<Vec<u8>, String>,
) -> Result<PlainKey, String> {
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(der).map_err(|e| {
        format!(
            "encrypted PKCS#8 key in a form not supported ({e}); supported: PBES2 with \
             PBKDF2-HMAC-SHA-2 or scrypt and AES-CBC; re-encrypt it with \
             `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW`"
        )
    })?;
    let pass = ask(passphrase)?;
    let doc = info.decrypt(&pass.0).map_err(|e| match e {
        // pkcs5 0.7 reports a bad padding after decryption as `EncryptFailed`.
        pkcs8::Error::EncryptedPrivateKey(
            pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
        ) => WRONG_PASSPHRASE.into(),
        pkcs8::Error::EncryptedPrivateKey(
            e @ (pkcs8::pkcs5::Error::UnsupportedAlgorithm { .. }
            | pkcs8::pkcs5::Error::NoPbes1CryptSupport),
        ) => format!(
            "encrypted PKCS#8 key: {e}; re-encrypt it with \
             `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW`"
        ),
        pkcs8::Error::EncryptedPrivateKey(e) => format!("encrypted PKCS#8 key: {e}"),
        // Decrypted, padding fine, but not DER: a wrong passphrase that got past the padding.
        _ => WRONG_PASSPHRASE.into(),
    })?;
    parse_plain(PKCS8, KeyDer(doc.as_bytes().to_vec())).map_err(|_| WRONG_PASSPHRASE.into())
}

/// The ciphers (all in CBC mode) openssl's legacy `DEK-Info:` PEM encryption uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegacyCipher {
    Aes128,
    Aes192,
    Aes256,
    DesEde3,
    Des,
}

impl LegacyCipher {
    fn from_name(name: &str) -> Option<LegacyCipher> {
        Some(match name.to_ascii_uppercase().as_str() {
            "AES-128-CBC" => LegacyCipher::Aes128,
            "AES-192-CBC" => LegacyCipher::Aes192,
            "AES-256-CBC" => LegacyCipher::Aes256,
            "DES-EDE3-CBC" => LegacyCipher::DesEde3,
            "DES-CBC" => LegacyCipher::Des,
            _ => return None,
        })
    }

    fn key_len(self) -> usize {
        match self {
            LegacyCipher::Aes128 => 16,
            LegacyCipher::Aes192 | LegacyCipher::DesEde3 => 24,
            LegacyCipher::Aes256 => 32,
            LegacyCipher::Des => 8,
        }
    }

    fn iv_len(self) -> usize {
        match self {
            LegacyCipher::Aes128 | LegacyCipher::Aes192 | LegacyCipher::Aes256 => 16,
            LegacyCipher::DesEde3 | LegacyCipher::Des => 8,
        }
    }

    /// CBC-decrypt and strip the PKCS#7 padding; `None` when the padding is wrong.
    fn decrypt(self, key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
        fn run<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>>
        where
            cbc::Decryptor<C>: KeyIvInit + BlockDecryptMut,
            C: cbc::cipher::BlockDecryptMut + cbc::cipher::BlockCipher,
        {
            let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
            dec.decrypt_padded_vec_mut::<Pkcs7>(data).ok()
        }
        match self {
            LegacyCipher::Aes128 => run::<aes::Aes128>(key, iv, data),
            LegacyCipher::Aes192 => run::<aes::Aes192>(key, iv, data),
            LegacyCipher::Aes256 => run::<aes::Aes256>(key, iv, data),
            LegacyCipher::DesEde3 => run::<des::TdesEde3>(key, iv, data),
            LegacyCipher::Des => run::<des::Des>(key, iv, data),
        }
    }
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one iteration, as legacy PEM encryption uses it:
/// `D_1 = MD5(pass || salt)`, `D_i = MD5(D_{i-1} || pass || salt)`, key = first `len` octets.
fn evp_bytes_to_key_md5(pass: &[u8], salt: &[u8], len: usize) -> KeyDer {
    use md5::{Digest, Md5};
    let mut out = KeyDer(Vec::with_capacity(len + 16));
    let mut prev: Option<[u8; 16]> = None;
    while out.0.len() < len {
        let mut h = Md5::new();
        if let Some(p) = prev {
            h.update(p);
        }
        h.update(pass);
        h.update(salt);
        let d: [u8; 16] = h.finalize().into();
        out.0.extend_from_slice(&d);
        prev = Some(d);
    }
    out.0.truncate(len);
    out
}

fn decrypt_legacy(
    tag: &str,
    dek_info: &str,
    data: &[u8],
    passphrase: &mut dyn FnMut() -> Result<Vec<u8>, String>,
) -> Result<PlainKey, String> {
    let convert = "convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW`";
    let (cipher_name, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| format!("malformed DEK-Info header `{dek_info}`"))?;
    let cipher = LegacyCipher::from_name(cipher_name.trim()).ok_or_else(|| {
        format!(
            "legacy PEM encryption with {} is not supported (AES-128/192/256-CBC, \
             DES-EDE3-CBC and DES-CBC are); {convert}",
            cipher_name.trim()
        )
    })?;
    let iv = hex::decode(iv_hex.trim())
        .ok()
        .filter(|iv| iv.len() == cipher.iv_len())
        .ok_or_else(|| format!("malformed DEK-Info IV `{}`", iv_hex.trim()))?;
    let pass = ask(passphrase)?;
    let key = evp_bytes_to_key_md5(&pass.0, &iv[..8], cipher.key_len());
    let plain = KeyDer(cipher.decrypt(&key.0, &iv, data).ok_or(WRONG_PASSPHRASE)?);
    // The padding check passes 1 time in 256 with a wrong passphrase: the key must parse too.
    parse_plain(tag, plain).map_err(|_| WRONG_PASSPHRASE.into())
}

const SUPPORTED: &str = "use RSA (2048 to 8192 bits), ECDSA P-256/P-384/P-521 or Ed25519";

fn oid_name(oid: &ObjectIdentifier) -> String {
    match *oid {
        rfc8410::ID_ED_448 => "Ed448".into(),
        rfc8410::ID_X_25519 => "X25519".into(),
        rfc8410::ID_X_448 => "X448".into(),
        rfc5912::ID_DSA => "DSA".into(),
        rfc5912::DHPUBLICNUMBER => "DH".into(),
        o => const_oid::db::DB
            .by_oid(&o)
            .map_or_else(|| o.to_string(), str::to_string),
    }
}

fn rsa_bits(pkcs1_der: &[u8]) -> Result<usize, String> {
    let key = pkcs1::RsaPrivateKey::from_der(pkcs1_der)
        .map_err(|e| format!("malformed RSA private key: {e}"))?;
    let n = key.modulus.as_bytes();
    Ok(match n.first() {
        Some(&top) => (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    })
}

fn rsa_pair(pkcs1_der: &[u8], pkcs8_der: Option<&[u8]>) -> Result<(RsaKeyPair, usize), String> {
    let bits = rsa_bits(pkcs1_der)?;
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA key of {bits} bits; at least {MIN_RSA_BITS} required \
             (make one with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`)"
        ));
    }
    if bits > MAX_RSA_BITS {
        return Err(format!(
            "RSA key of {bits} bits; at most {MAX_RSA_BITS} supported"
        ));
    }
    let pair = match pkcs8_der {
        Some(p8) => RsaKeyPair::from_pkcs8(p8),
        None => RsaKeyPair::from_der(pkcs1_der),
    }
    .map_err(|e| rejected("RSA", &e))?;
    Ok((pair, bits))
}

fn rejected(kind: &str, e: &KeyRejected) -> String {
    format!("{kind} private key rejected: {e}")
}

/// For ECDSA with a digest aws-lc-rs does not pair with the curve: the digest to hash with,
/// and the curve's native digest whose length the hash is fitted to (see [`fit_digest`]).
type Prehash = Option<(HashAlg, &'static digest::Algorithm)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    fn from_oid(oid: &ObjectIdentifier) -> Result<Curve, String> {
        match *oid {
            rfc5912::SECP_256_R_1 => Ok(Curve::P256),
            rfc5912::SECP_384_R_1 => Ok(Curve::P384),
            rfc5912::SECP_521_R_1 => Ok(Curve::P521),
            o => Err(format!("EC key on curve {}; {SUPPORTED}", oid_name(&o))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// The aws-lc-rs signing algorithm for this curve and digest, and, when aws-lc-rs has no
    /// such pairing, the prehash to apply before signing with the curve's native pairing.
    fn signing(self, digest: HashAlg) -> (&'static signature::EcdsaSigningAlgorithm, Prehash) {
        use signature as s;
        match (self, digest) {
            (Curve::P256, HashAlg::Sha256) => (&s::ECDSA_P256_SHA256_ASN1_SIGNING, None),
            (Curve::P256, d) => (
                &s::ECDSA_P256_SHA256_ASN1_SIGNING,
                Some((d, &digest::SHA256)),
            ),
            (Curve::P384, HashAlg::Sha384) => (&s::ECDSA_P384_SHA384_ASN1_SIGNING, None),
            (Curve::P384, d) => (
                &s::ECDSA_P384_SHA384_ASN1_SIGNING,
                Some((d, &digest::SHA384)),
            ),
            (Curve::P521, HashAlg::Sha256) => (&s::ECDSA_P521_SHA256_ASN1_SIGNING, None),
            (Curve::P521, HashAlg::Sha384) => (&s::ECDSA_P521_SHA384_ASN1_SIGNING, None),
            (Curve::P521, HashAlg::Sha512) => (&s::ECDSA_P521_SHA512_ASN1_SIGNING, None),
            // SHA-1 is refused before this point; should it arrive, it is prehashed.
            (Curve::P521, d) => (
                &s::ECDSA_P521_SHA512_ASN1_SIGNING,
                Some((d, &digest::SHA512)),
            ),
        }
    }
}

/// ECDSA signs the leftmost bits of the hash, as many as the curve order has, read as an
/// integer (FIPS 186-4 §6.4). aws-lc-rs pairs each curve with one digest, so a hash of
/// another length is fitted to that digest's length without changing the integer ECDSA
/// uses: a longer hash keeps its leftmost octets (P-256 with SHA-384 uses the first 256
/// bits either way); a shorter one gets leading zero octets (P-384 with SHA-256: the same
/// integer). Orders of P-256 and P-384 are whole octets, so no bit shift is involved;
/// P-521 with SHA-512 is native (the 512-bit hash is shorter than the 521-bit order).
fn fit_digest(hash: &[u8], len: usize) -> Vec<u8> {
    if hash.len() >= len {
        hash[..len].to_vec()
    } else {
        let mut out = vec![0u8; len - hash.len()];
        out.extend_from_slice(hash);
        out
    }
}

fn build_signer(key: &PlainKey, opts: SignOptions) -> Result<SoftwareSigner, String> {
    let (kind, pkcs8_der, inner_der, curve_hint) = match key {
        PlainKey::Pkcs8(der) => {
            let info = pkcs8::PrivateKeyInfo::from_der(&der.0)
                .map_err(|e| format!("malformed PKCS#8 private key: {e}"))?;
            let curve = match info.algorithm.parameters {
                Some(p) if info.algorithm.oid == rfc5912::ID_EC_PUBLIC_KEY => {
                    Some(p.decode_as::<ObjectIdentifier>().map_err(|_| {
                        "EC key with explicit curve parameters; rewrite it with a named curve: \
                         `openssl pkey -in KEY -out NEW -ec_param_enc named_curve`"
                            .to_string()
                    })?)
                }
                _ => None,
            };
            (
                info.algorithm.oid,
                Some(&der.0[..]),
                info.private_key,
                curve,
            )
        }
        PlainKey::Pkcs1(der) => (rfc5912::RSA_ENCRYPTION, None, &der.0[..], None),
        PlainKey::Sec1(der) => (rfc5912::ID_EC_PUBLIC_KEY, None, &der.0[..], None),
    };

    let key_digest = || -> Result<HashAlg, String> {
        if opts.digest == HashAlg::Sha1 {
            return Err(
                "--rmd sha1: SHA-1 is not used for signing; use sha256, sha384 or sha512".into(),
            );
        }
        Ok(opts.digest)
    };

    let (key, name, spki) = match kind {
        rfc5912::RSA_ENCRYPTION => {
            let (pair, bits) = rsa_pair(inner_der, pkcs8_der)?;
            let spki = pair.public_key().as_der().map(|d| d.as_ref().to_vec());
            let encoding: &'static dyn RsaEncoding = match (key_digest()?, opts.rsa_pss) {
                (HashAlg::Sha384, false) => &signature::RSA_PKCS1_SHA384,
                (HashAlg::Sha512, false) => &signature::RSA_PKCS1_SHA512,
                (HashAlg::Sha384, true) => &signature::RSA_PSS_SHA384,
                (HashAlg::Sha512, true) => &signature::RSA_PSS_SHA512,
                (_, false) => &signature::RSA_PKCS1_SHA256,
                (_, true) => &signature::RSA_PSS_SHA256,
            };
            (Key::Rsa { pair, encoding }, format!("RSA-{bits}"), spki)
        }
        rfc5912::ID_RSASSA_PSS => {
            return Err(
                "an RSA-PSS-restricted key (openssl genpkey -algorithm RSA-PSS) is not \
                        supported; use an ordinary RSA key (`openssl genpkey -algorithm RSA`) \
                        with --rsigopt rsa_padding_mode:pss"
                    .into(),
            )
        }
        rfc5912::ID_EC_PUBLIC_KEY => {
            if opts.rsa_pss {
                return Err(
                    "--rsigopt rsa_padding_mode:pss applies to RSA keys; this is an EC key".into(),
                );
            }
            let sec1_key = sec1::EcPrivateKey::from_der(inner_der)
                .map_err(|e| format!("malformed EC private key: {e}"))?;
            let curve_oid = match (curve_hint, sec1_key.parameters) {
                (Some(c), _) => c,
                (None, Some(p)) => p.named_curve().ok_or("EC key without a named curve")?,
                (None, None) => return Err("EC private key that does not name its curve".into()),
            };
            let curve = Curve::from_oid(&curve_oid)?;
            let (alg, prehash) = curve.signing(key_digest()?);
            let pair = match pkcs8_der {
                Some(p8) => EcdsaKeyPair::from_pkcs8(alg, p8),
                None => EcdsaKeyPair::from_private_key_der(alg, inner_der),
            }
            .map_err(|e| rejected("EC", &e))?;
            let spki = pair.public_key().as_der().map(|d| d.as_ref().to_vec());
            (
                Key::Ecdsa { pair, prehash },
                format!("ECDSA {}", curve.name()),
                spki,
            )
        }
        rfc8410::ID_ED_25519 => {
            if opts.rsa_pss {
                return Err(
                    "--rsigopt rsa_padding_mode:pss applies to RSA keys; this is an Ed25519 key"
                        .into(),
                );
            }
            let p8 = pkcs8_der.ok_or("Ed25519 key outside PKCS#8")?;
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(p8)
                .map_err(|e| rejected("Ed25519", &e))?;
            let spki = pair.public_key().as_der().map(|d| d.as_ref().to_vec());
            (Key::Ed25519(pair), "Ed25519".to_string(), spki)
        }
        other => {
            return Err(format!(
                "{} keys are not supported; {SUPPORTED}",
                oid_name(&other)
            ))
        }
    };
    let spki_der = spki.map_err(|_| "could not encode the public key".to_string())?;
    let algorithm = match &key {
        Key::Rsa { .. } if opts.rsa_pss => sigalg::pss_algorithm_identifier(opts.digest)
            .map_err(|e| format!("could not encode the RSASSA-PSS parameters: {e}"))?,
        Key::Rsa { .. } => AlgorithmIdentifierOwned {
            oid: match opts.digest {
                HashAlg::Sha384 => rfc5912::SHA_384_WITH_RSA_ENCRYPTION,
                HashAlg::Sha512 => rfc5912::SHA_512_WITH_RSA_ENCRYPTION,
                _ => rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            },
            parameters: Some(der::asn1::Null.into()),
        },
        Key::Ecdsa { .. } => AlgorithmIdentifierOwned {
            oid: match opts.digest {
                HashAlg::Sha384 => rfc5912::ECDSA_WITH_SHA_384,
                HashAlg::Sha512 => rfc5912::ECDSA_WITH_SHA_512,
                _ => rfc5912::ECDSA_WITH_SHA_256,
            },
            parameters: None,
        },
        Key::Ed25519(_) => AlgorithmIdentifierOwned {
            oid: rfc8410::ID_ED_25519,
            parameters: None,
        },
    };
    // The SPKI must be exactly what a certificate for this key carries; re-encoding it
    // through the x509 types checks it is canonical DER.
    let reencoded = spki::SubjectPublicKeyInfoOwned::from_der(&spki_der)
        .and_then(|s| s.to_der())
        .map_err(|e| format!("could not encode the public key: {e}"))?;
    if reencoded != spki_der {
        return Err("public key encoding is not canonical DER".into());
    }
    let description = match key {
        Key::Ed25519(_) => name,
        _ => format!("{name} {}", sigalg::algorithm_name(&algorithm)),
    };
    Ok(SoftwareSigner {
        spki_der,
        key,
        algorithm,
        description,
        rng: SystemRandom::new(),
    })
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        self.algorithm.clone()
    }

    fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.key {
            Key::Rsa { pair, encoding } => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(*encoding, &self.rng, tbs, &mut sig)
                    .map_err(|_| SignError(format!("{}: RSA signing failed", self.description)))?;
                Ok(sig)
            }
            Key::Ecdsa {
                pair,
                prehash: None,
            } => pair
                .sign(&self.rng, tbs)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError(format!("{}: ECDSA signing failed", self.description))),
            Key::Ecdsa {
                pair,
                prehash: Some((hash, native)),
            } => {
                let fitted = fit_digest(&hash.digest(tbs), native.output_len());
                digest::Digest::import_less_safe(&fitted, native)
                    .and_then(|d| pair.sign_digest(&d))
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| SignError(format!("{}: ECDSA signing failed", self.description)))
            }
            Key::Ed25519(pair) => Ok(pair.sign(tbs).as_ref().to_vec()),
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -md md5 -pass pass:secret -S 0102030405060708 -P`
        let key = evp_bytes_to_key_md5(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        assert_eq!(
            hex::encode_upper(&key.0),
            "C9E5A1BD216DBE1317E230CEF48F38EE7F0E17AD64022144BCCEC4A1AA2879AB"
        );
        let key = evp_bytes_to_key_md5(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 24);
        assert_eq!(
            hex::encode_upper(&key.0),
            "C9E5A1BD216DBE1317E230CEF48F38EE7F0E17AD64022144"
        );
    }

    #[test]
    fn fit_digest_truncates_and_pads() {
        assert_eq!(fit_digest(&[1, 2, 3, 4], 2), vec![1, 2]);
        assert_eq!(fit_digest(&[1, 2], 4), vec![0, 0, 1, 2]);
        assert_eq!(fit_digest(&[1, 2], 2), vec![1, 2]);
    }

    #[test]
    fn legacy_cipher_names() {
        assert_eq!(
            LegacyCipher::from_name("aes-128-cbc"),
            Some(LegacyCipher::Aes128)
        );
        assert_eq!(
            LegacyCipher::from_name("DES-EDE3-CBC"),
            Some(LegacyCipher::DesEde3)
        );
        assert_eq!(LegacyCipher::from_name("CAMELLIA-256-CBC"), None);
    }

    #[test]
    fn no_key_names_what_was_found() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = load_key_bytes(
            Path::new("x.pem"),
            pem.as_bytes(),
            &mut no_passphrase,
            SignOptions::default(),
        )
        .map(|_| ())
        .map_err(|e| e.to_string());
        assert_eq!(
            e,
            Err("x.pem: no private key found (found: CERTIFICATE)".to_string())
        );
    }

    #[test]
    fn signer_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SoftwareSigner>();
    }
}
